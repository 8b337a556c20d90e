/* The listening socket and the sessions on it (hvd_session.c). Loop thread. */
#ifndef HVD_SESSION_H
#define HVD_SESSION_H

#include "hvd.h"

int hvd_server_init(struct hvd_daemon *d, const char *path);
/* A uid's share record, counted (hvd_session.c). */
struct hvd_uid_share *hvd_share_get(struct hvd_daemon *d, uid_t uid);
void hvd_share_put(struct hvd_daemon *d, struct hvd_uid_share *u);
/* Open sessions of `uid` that have (or have not) completed Hello. */
unsigned hvd_sessions_of_uid(struct hvd_daemon *d, uid_t uid, bool hello_done);
void hvd_server_stop(struct hvd_daemon *d);
/* Started as root, hvd will not be allowed to remove its socket file once
 * it is another uid: fork hvd-janitor (before hvd_server_init), which
 * removes `path` when hvd ends, if it is still the socket hvd made. */
int hvd_server_janitor(struct hvd_daemon *d, const char *path);
/* Reply to a request; `fd` >= 0 travels with it (SCM_RIGHTS). */
int hvd_session_reply(struct hvd_session *s, Hvd__Response *resp, int fd);
void hvd_session_close(struct hvd_session *s, const char *why);
/* Read the session's socket again (after a memory change), unless it is
 * closing or waiting out its request rate. */
void hvd_session_resume(struct hvd_session *s);
/* Stop reading a session's requests for `ms`: a client over its request
 * rate waits in its own socket instead of costing the loop thread. */
void hvd_session_pause(struct hvd_session *s, uint64_t ms);
/* pthread_create for hvd's helper threads (reaper, memory changes): the
 * new thread blocks every signal, which belong to the loop thread. */
int hvd_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* Tear down a closed session's vCPUs and VM off the loop thread. */
void hvd_session_reap(struct hvd_session *s);
/* The session's vCPU `id` if its thread still runs, else NULL. */
struct hvd_vcpu *hvd_session_vcpu(struct hvd_session *s, uint32_t id);
/* vCPU slots the session holds, counting vCPUs whose thread has ended
 * but not been reaped yet. */
unsigned hvd_session_vcpu_slots(const struct hvd_session *s);

#endif
