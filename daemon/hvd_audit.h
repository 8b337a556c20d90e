/* The audit log (hvd_audit.c). Loop thread. */
#ifndef HVD_AUDIT_H
#define HVD_AUDIT_H

#include "hvd.h"

/* One JSON line per decision. */
void hvd_audit(struct hvd_session *s, const char *request, const char *decision,
	       const char *reason);

#endif
