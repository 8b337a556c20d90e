/* Least privilege (hvd_sandbox.c): the capability drop and the seccomp
 * filters of the loop thread, the vCPU threads and the helpers. Each
 * applies to the thread or process that calls it. */
#ifndef HVD_SANDBOX_H
#define HVD_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

/* Who hvd and its helper become when started as root (hvd_sandbox.c). */
struct hvd_identity_drop {
	bool drop;                     /* false: keep the uid hvd runs as */
	uid_t uid;
	gid_t gid;
};

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

/* The seccomp filter of a vCPU thread; applies to the calling thread. */
int hvd_sandbox_vcpu_thread(void);
/* Started as root: the uid (a configured `hvd` user, else a free one) hvd
 * and hvd-ident become. `out->drop` false when hvd runs as another uid. */
int hvd_sandbox_choose_uid(struct hvd_identity_drop *out);
/* Workers' uid (hvd_worker.c): a configured `hvd-worker` user, else a
 * free uid that is not hvd's; none when hvd is not root. */
int hvd_sandbox_choose_worker_uid(const struct hvd_identity_drop *hvd,
				  struct hvd_identity_drop *out);
/* hvd-zygote's: stays root with CAP_SETUID, CAP_SETGID and CAP_KILL only. */
int hvd_sandbox_zygote_process(void);
/* A worker's, in the zygote's child: to the workers' uid, no
 * capabilities, not dumpable, no_new_privs. */
int hvd_sandbox_worker_process(const struct hvd_identity_drop *drop);
/* hvd's own drop: to that uid, no capabilities left, no_new_privs. */
int hvd_sandbox_drop_all(const struct hvd_identity_drop *drop);
/* hvd-ident's: to that uid keeping CAP_SYS_PTRACE, under its own filter
 * (read-only opens). */
int hvd_sandbox_ident_process(const struct hvd_identity_drop *drop);
/* hvd's helper processes (hvd-zygote and so the workers, hvd-ident) end
 * when hvd tells them or when it is gone, not on a signal sent to hvd's
 * whole process group (a terminal's ^C, timeout(1), kill -TERM -PGID):
 * they ignore SIGINT, SIGTERM, SIGHUP and SIGQUIT, and hvd, which gets
 * the signal too, stops them in order (the zygote removes the tenants'
 * cgroups on the way). */
void hvd_ignore_group_signals(void);
/* The parent-death signal hvd was started with (PR_SET_PDEATHSIG, as a
 * test harness or a supervisor sets it before exec) and its parent: read
 * first thing in main(). The kernel clears the signal at a change of
 * credentials (the drop of root's), so that an hvd whose starter died
 * would otherwise live on. */
void hvd_sandbox_pdeath_save(void);
/* After a change of credentials: that signal set again. If the parent
 * died meanwhile (the signal missed), hvd sends it to itself, as the
 * kernel would have. */
void hvd_sandbox_pdeath_restore(void);
/* Set by --no-sandbox (for debugging with tools the filter would stop). */
extern bool hvd_sandbox_off;

#endif
