#ifndef KEYRELAY_CCURL_SHIM_H
#define KEYRELAY_CCURL_SHIM_H
#include <curl/curl.h>
#endif
