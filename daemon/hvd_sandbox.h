/* The loop thread's seccomp filter (hvd_sandbox.c). The capability drop and
 * the vCPU threads' filter are declared in hvd.h. */
#ifndef HVD_SANDBOX_H
#define HVD_SANDBOX_H

/* Install the loop thread's filter on the calling (main) thread only; the
 * threads it starts later inherit it. 0, -ENOTSUP in a sanitizer build,
 * or a negative errno. */
int hvd_sandbox_loop_thread(void);
/* With HVD_SANDBOX_SELFTEST set (tests only, `hooks`): make a call the
 * filter refuses and log the result; with HVD_SANDBOX_SELFTEST=kill, also
 * one it answers by killing hvd (exits with status 1 if that call
 * returns). */
struct hvd_testhooks;
void hvd_sandbox_loop_selftest(const struct hvd_testhooks *hooks);

/* hvd-janitor's filter: it reads a pipe, removes one file, and ends. */
int hvd_sandbox_janitor(void);

#endif
