/* Peer identification off the loop thread, in the hvd-ident helper
 * process (hvd_ident.c). hvd's side: loop thread. */
#ifndef HVD_IDENT_H
#define HVD_IDENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "hvp.h"

struct hvd_daemon;
struct hvd_session;
struct hvd_identity_drop;

/* Called on the loop thread when a probe is done: err 0 and `id` filled
 * (executable, hash, start time, code check), or a negative errno (-ESRCH:
 * the process went away meanwhile; -EIO: the helper is gone) with `id`
 * NULL or partial. Not called for a cancelled job. */
typedef void (*hvd_ident_done_fn)(struct hvd_session *s, int err,
				  const struct hvp_identity *id, void *arg);

/* Fork the helper (before hvd drops its privileges; it keeps only
 * CAP_SYS_PTRACE, as `drop` says). */
int hvd_ident_init(struct hvd_daemon *d, const struct hvd_identity_drop *drop);
void hvd_ident_fini(struct hvd_daemon *d);
/* The helper's pid, or -1 if it is gone. */
pid_t hvd_ident_pid(const struct hvd_daemon *d);
/* Probe process `pid` (with its pidfd, or -1) for session `s`; `done`
 * runs later on the loop thread, unless the session cancels first. */
int hvd_ident_submit(struct hvd_session *s, pid_t pid, int pidfd, hvd_ident_done_fn done,
		     void *arg);
/* Check and hash the file open at `fd` (hvp_identity_fd, under
 * max_exe_size) for session `s`, in the helper; `done` gets the hash, or
 * -EISDIR, -EINVAL (not a regular file), -EFBIG, -EAGAIN. `fd` stays the
 * caller's (a dup travels). */
int hvd_ident_submit_file(struct hvd_session *s, int fd, hvd_ident_done_fn done, void *arg);
/* The session is closing: its pending probes answer nobody. */
void hvd_ident_cancel(struct hvd_session *s);

#endif
