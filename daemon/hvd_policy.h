/* hvd's side of the policy: identities, tenants, loading (hvd_policy.c). Loop thread. */
#ifndef HVD_POLICY_H
#define HVD_POLICY_H

#include "hvd.h"

/* Load the configuration (or the built-in default when `path` is NULL)
 * and open the audit destination. On a broken file the old policy stays
 * and `err` says why. */
int hvd_policy_load(struct hvd_daemon *d, const char *path, char *err, size_t len);
/* Who is on the other end of a new connection, as far as the loop thread
 * finds out cheaply: credentials, groups, a pidfd bound to the process.
 * The executable comes later, from hvd-ident (hvd_policy_set_exe). */
int hvd_policy_identify(struct hvd_session *s);
/* Take hvd-ident's answer about the peer's executable (err < 0: none). */
void hvd_policy_set_exe(struct hvd_session *s, int err, const struct hvp_identity *id);
/* Does `now` (a fresh probe of the peer) still describe the process and
 * code the session was identified as? NULL if so, else why not. */
const char *hvd_policy_same_process(const struct hvd_session *s, int err,
				    const struct hvp_identity *now);
/* Apply the current policy to a session (at open and after a reload). */
void hvd_policy_evaluate(struct hvd_session *s);
void hvd_policy_release(struct hvd_session *s);
int hvd_policy_reload(struct hvd_daemon *d, char *err, size_t len);
/* Started as root, before becoming `uid`:`gid`: warns when that uid could
 * not create the audit log again after a rotation. */
void hvd_policy_audit_check(const struct hvd_daemon *d, uid_t uid, gid_t gid);

#endif
