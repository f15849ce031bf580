#ifndef KEYRELAY_CPOSTGRES_SHIM_H
#define KEYRELAY_CPOSTGRES_SHIM_H
#include <libpq-fe.h>

/// PG_DIAG_SQLSTATE is a character macro ('C'); exposed as a function so Swift sees its type.
static inline int keyrelay_pq_diag_sqlstate(void) {
    return PG_DIAG_SQLSTATE;
}

static void keyrelay_pq_discard_notice(void *argument, const char *message) {
    (void)argument;
    (void)message;
}

/// libpq prints server notices to stderr by default; KeyRelay logs through its own logger and
/// server text may quote values, so notices are dropped.
static inline void keyrelay_pq_discard_notices(PGconn *_Nonnull connection) {
    PQsetNoticeProcessor(connection, keyrelay_pq_discard_notice, NULL);
}
#endif
