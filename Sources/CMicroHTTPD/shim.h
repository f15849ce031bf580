#ifndef KEYRELAY_CMICROHTTPD_SHIM_H
#define KEYRELAY_CMICROHTTPD_SHIM_H
#include <sys/types.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdint.h>
#include <microhttpd.h>

#pragma clang assume_nonnull begin

/// The signature of MHD_OPTION_URI_LOG_CALLBACK: its result becomes the request's `*con_cls`.
typedef void *_Nullable (*keyrelay_uri_log_callback)(void *_Nullable cls, const char *uri,
                                                       struct MHD_Connection *connection);

/// Starts a daemon bound to `address` (an IPv4 or IPv6 socket address; pass MHD_USE_IPv6 in
/// `flags` for the latter). Swift cannot call the variadic MHD_start_daemon, hence this wrapper.
/// A `thread_pool_size` of 0 or 1 runs one internal polling thread. Returns NULL on failure.
static inline struct MHD_Daemon *_Nullable keyrelay_start_daemon(
    unsigned int flags,
    const struct sockaddr *address,
    unsigned int thread_pool_size,
    unsigned int connection_timeout_s,
    unsigned int connection_limit,
    MHD_AccessHandlerCallback handler, void *_Nullable handler_cls,
    MHD_RequestCompletedCallback completed, void *_Nullable completed_cls,
    keyrelay_uri_log_callback uri_log, void *_Nullable uri_log_cls,
    MHD_LogCallback logger, void *_Nullable logger_cls)
{
    if (thread_pool_size > 1) {
        return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                                MHD_OPTION_EXTERNAL_LOGGER, logger, logger_cls,
                                MHD_OPTION_SOCK_ADDR, address,
                                MHD_OPTION_THREAD_POOL_SIZE, thread_pool_size,
                                MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout_s,
                                MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                                MHD_OPTION_URI_LOG_CALLBACK, uri_log, uri_log_cls,
                                MHD_OPTION_END);
    }
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_EXTERNAL_LOGGER, logger, logger_cls,
                            MHD_OPTION_SOCK_ADDR, address,
                            MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, uri_log_cls,
                            MHD_OPTION_END);
}

/// The port the daemon is bound to, or 0 when it cannot be read.
static inline uint16_t keyrelay_daemon_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

/// The connection's socket, or -1 when it cannot be read.
static inline int keyrelay_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

#pragma clang assume_nonnull end

#endif
