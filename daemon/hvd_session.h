/* The listening socket and the sessions on it (hvd_session.c). Loop thread. */
#ifndef HVD_SESSION_H
#define HVD_SESSION_H

#include "hvd.h"

/*
 * What the sessions hand upward. This file receives and sends messages
 * and owns sessions' lives; what a request means is the caller's
 * (hvd_dispatch.c, hvd_memop.c), given here so that sessions depend on
 * neither.
 */
struct hvd_session_calls {
	/* A request passed the session's checks (its sender, size and
	 * descriptors, Hello first): answer it. `fd` is the descriptor that
	 * came with it (or -1), now the callee's. */
	void (*request)(struct hvd_session *s, Hvdp__Request *req, int fd);
	/* The session's async fired: a thread may have finished work for it
	 * (called before the vCPU threads' answers are sent). */
	void (*woken)(struct hvd_session *s);
};

/* Start listening (socket activation, else `path`); requests go to
 * `calls`, which must outlive the server. */
int hvd_server_init(struct hvd_daemon *d, const char *path,
		    const struct hvd_session_calls *calls);
/* A uid's share record, counted (hvd_session.c); with `tenant_socket`
 * nonzero, the share of that tenant socket's connections, whatever
 * their uid. */
struct hvd_uid_share *hvd_share_get(struct hvd_daemon *d, uid_t uid, uint64_t tenant_socket);
void hvd_share_put(struct hvd_daemon *d, struct hvd_uid_share *u);
/* Open sessions on share `u` that have (or have not) completed Hello. */
unsigned hvd_sessions_of_share(struct hvd_daemon *d, const struct hvd_uid_share *u,
			       bool hello_done);
/* Make a session of a connection accepted on a tenant's socket
 * (hvd_tenant.c): as on the main socket, with `bound` its tenant. Takes
 * `fd`, closing it on failure. */
void hvd_session_open(struct hvd_daemon *d, int fd, uint64_t bound);
void hvd_server_stop(struct hvd_daemon *d);
/* In a worker (hvd_worker.c): the one session, with hvd (`broker`) on `fd`. */
int hvd_session_open_trusted(struct hvd_daemon *d, int fd, pid_t broker);
/* Started as root, hvd will not be allowed to remove its socket file once
 * it is another uid: fork hvd-janitor (before hvd_server_init), which
 * removes `path` when hvd ends, if it is still the socket hvd made. */
int hvd_server_janitor(struct hvd_daemon *d, const char *path);
/* Reply to a request; `fd` >= 0 travels with it (SCM_RIGHTS). */
int hvd_session_reply(struct hvd_session *s, Hvdp__Response *resp, int fd);
void hvd_session_close(struct hvd_session *s, const char *why);
/* Read the session's socket again (after a memory change), unless it is
 * closing or waiting out its request rate. */
void hvd_session_resume(struct hvd_session *s);
/* Stop reading a session's requests for `ms`: a client over its request
 * rate waits in its own socket instead of costing the loop thread. */
void hvd_session_pause(struct hvd_session *s, uint64_t ms);
/* pthread_create for hvd's helper threads (reaper, memory changes): the
 * new thread blocks every signal, which belong to the loop thread. Any
 * thread. */
int hvd_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* Tear down a closed session's vCPUs and VM off the loop thread. */
void hvd_session_reap(struct hvd_session *s);
/* The session's vCPU `id` if its thread still runs, else NULL. */
struct hvd_vcpu *hvd_session_vcpu(struct hvd_session *s, uint32_t id);
/* vCPU slots the session holds, counting vCPUs whose thread has ended
 * but not been reaped yet. */
unsigned hvd_session_vcpu_slots(const struct hvd_session *s);

#endif
