/* The audit log (hvd_audit.c). Loop thread. */
#ifndef HVD_AUDIT_H
#define HVD_AUDIT_H

#include "hvd.h"
#include "hvd_log.h"

/* One JSON line per decision. */
void hvd_audit(struct hvd_session *s, const char *request, const char *decision,
	       const char *reason);

/* A log line about session `s`: its session, pid, tenant and VM go with
 * it as journal fields (hvd_log.c). */
void hvd_slog(enum hvd_log_level level, const struct hvd_session *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
