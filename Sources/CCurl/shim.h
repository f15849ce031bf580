#ifndef KEYRELAY_CCURL_SHIM_H
#define KEYRELAY_CCURL_SHIM_H
#include <curl/curl.h>

/* Swift cannot call C variadic functions, so every curl_easy_setopt, curl_easy_getinfo and
   curl_multi_setopt use goes through one typed wrapper per argument type (STACK.md pitfall 1).
   Composite macros (CURLPAUSE_CONT, CURL_GLOBAL_DEFAULT) are exposed as functions because the
   importer does not turn them into constants. */

#pragma clang assume_nonnull begin

static inline CURLcode keyrelay_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

static inline CURLcode keyrelay_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode keyrelay_curl_easy_setopt_string(CURL *handle, CURLoption option,
                                                        const char *_Nullable value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode keyrelay_curl_easy_setopt_pointer(CURL *handle, CURLoption option,
                                                         void *_Nullable value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode keyrelay_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/* CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION share this prototype. */
static inline CURLcode keyrelay_curl_easy_setopt_write_callback(CURL *handle, CURLoption option,
                                                                curl_write_callback _Nullable callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode keyrelay_curl_easy_setopt_prereq_callback(CURL *handle,
                                                                 curl_prereq_callback _Nullable callback) {
    return curl_easy_setopt(handle, CURLOPT_PREREQFUNCTION, callback);
}

static inline CURLcode keyrelay_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode keyrelay_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info,
                                                          void *_Nullable *_Nonnull value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode keyrelay_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode keyrelay_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

static inline int keyrelay_curl_pause_cont(void) { return CURLPAUSE_CONT; }

static inline size_t keyrelay_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }

static inline int keyrelay_curl_prereqfunc_ok(void) { return CURL_PREREQFUNC_OK; }

#pragma clang assume_nonnull end

#endif
