/*
 * hvd's side of the policy: who the peer is (from the kernel, never from
 * the client's words), which rules and grants apply (policy/ decides),
 * tenants' usage against their quotas, and where the audit log goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hvd.h"
#include "hvd_audit.h"
#include "hvd_log.h"
#include "hvd_policy.h"
#include "hvd_tenant.h"
#include "hvd_session.h"
#include "hvd_worker.h"
#include "hvd_vcpu.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* ---- audit ---- */

/* Grants rejected when the policy was loaded are decisions too. */
static void audit_rejected_grants(struct hvd_daemon *d)
{
	struct hvd_session none;
	const char *why;

	memset(&none, 0, sizeof(none));
	none.d = d;
	strcpy(none.grant.tenant, "-");
	for (unsigned i = 0; (why = hvp_grant_rejected(d->policy, i)); i++)
		hvd_audit(&none, "policy_load", "grant-rejected", why);
}

/* ---- loading ---- */

/*
 * Which audit file the policy at `apath` writes to. The file open now is
 * kept while the path still names it: hvd may have given up root since it
 * opened it (started by hand as root, it runs as hvd or a dynamic uid
 * without capabilities), and may be unable to open it again, or even to
 * enter its directory (`stat` failing with EACCES: nothing says it moved,
 * so it stays). A path that names another file now (logrotate moved the
 * old one away) or a new path is opened as hvd runs now; when that fails,
 * `err` names the path, the uid and the cause, and what would fix it.
 */
static int audit_choose(struct hvd_daemon *d, const char *apath, FILE **out, bool *keep,
			char *err, size_t len)
{
	bool same = d->audit_path && strcmp(d->audit_path, apath) == 0;
	struct stat now, open_st;

	*out = NULL;
	*keep = false;
	if (same) {
		int sr = stat(apath, &now) < 0 ? -errno : 0;
		if (sr == -EACCES || sr == -EPERM ||
		    (sr == 0 && fstat(fileno(d->audit), &open_st) == 0 &&
		     now.st_dev == open_st.st_dev && now.st_ino == open_st.st_ino)) {
			*keep = true;
			return 0;
		}
	}
	FILE *f = fopen(apath, "ae");
	if (f) {
		*out = f;
		return 0;
	}
	int r = -errno;
	unsigned uid = (unsigned)geteuid();
	bool dropped = geteuid() != d->started_euid;
	if (same)
		snprintf(err, len, "audit log %s: the file was moved away (rotated?) and hvd, "
			 "running as uid %u, cannot create it again: %s (make the directory "
			 "writable by uid %u, rotate with copytruncate, or restart hvd)", apath, uid,
			 strerror(-r), uid);
	else
		snprintf(err, len, "audit log %s: hvd, running as uid %u%s, cannot open it for "
			 "appending: %s (%s)", apath, uid,
			 dropped ? " without capabilities since start-up" : "", strerror(-r),
			 dropped ? "a new audit path must be writable by that uid; or restart hvd, "
				   "which opens it before giving up root" :
				   "check the path and its directory's permissions");
	return r;
}

int hvd_policy_load(struct hvd_daemon *d, const char *path, char *err, size_t len)
{
	struct hvp_policy *p = NULL;
	FILE *audit = NULL;
	int r;

	if (path)
		r = hvp_policy_load(path, d->started_uid, &p, err, len);
	else
		r = hvp_policy_default(d->started_uid, &p);
	if (r < 0) {
		if (!path)
			snprintf(err, len, "built-in policy: %s", strerror(-r));
		else if (r == -EACCES && geteuid() != d->started_euid)
			snprintf(err + strlen(err), len - strlen(err),
				 " (hvd runs as uid %u since start-up: the file must be readable "
				 "by it)", (unsigned)geteuid());
		return r;
	}
	const char *apath = hvp_audit_path(p);
	bool to_file = apath && *apath && strcmp(apath, "-") != 0;
	char *new_path = NULL;
	bool keep = false;
	if (to_file && (r = audit_choose(d, apath, &audit, &keep, err, len)) < 0) {
		hvp_policy_free(p);
		return r;
	}
	if (to_file && !keep && !(new_path = strdup(apath))) {
		fclose(audit);
		hvp_policy_free(p);
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	/* Commit: nothing above touched the policy in force. Without an
	 * audit path the lines go nowhere, unless --audit-stderr asked for
	 * them on standard error: they are not log lines, and under systemd
	 * the journal would hold every decision among them. */
	if (!keep) {
		if (d->audit && d->audit != stderr)
			fclose(d->audit);
		free(d->audit_path);
		d->audit = audit ? audit : d->audit_fallback;
		d->audit_path = new_path;
	}
	hvp_policy_free(d->policy);
	d->policy = p;
	if (path != d->config_path) {
		free(d->config_path);
		d->config_path = path ? strdup(path) : NULL;
	}
	audit_rejected_grants(d);
	return 0;
}

void hvd_policy_audit_check(const struct hvd_daemon *d, uid_t uid, gid_t gid)
{
	char dir[4096];
	struct stat st;

	if (!d->audit_path)
		return;
	snprintf(dir, sizeof(dir), "%s", d->audit_path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) < 0)
		return;
	/* The mode bits as they apply to that uid (it keeps no supplementary
	 * group: hvd_sandbox.c); ACLs are not looked at. */
	mode_t need = st.st_uid == uid ? S_IWUSR | S_IXUSR :
		      st.st_gid == gid ? S_IWGRP | S_IXGRP : S_IWOTH | S_IXOTH;
	if ((st.st_mode & need) != need)
		hvd_warn("the audit log's directory %s is not writable by uid %u, which hvd runs "
			 "as from now on: if logrotate moves %s away, a reload cannot create it "
			 "again (rotate with copytruncate, or give the directory to uid %u)", dir,
			 (unsigned)uid, d->audit_path, (unsigned)uid);
}

int hvd_policy_reload(struct hvd_daemon *d, char *err, size_t len)
{
	int r = hvd_policy_load(d, d->config_path, err, len);
	if (r < 0) {
		hvd_err("policy reload failed, the previous policy stays: %s", err);
		return r;
	}
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		if (!s->closing)
			hvd_policy_evaluate(s);
	hvd_info("policy reloaded from %s", d->config_path ? d->config_path : "built-in default");
	return 0;
}

/* ---- identity ---- */

int hvd_policy_identify(struct hvd_session *s)
{
	struct hvp_identity *id = &s->ident;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(id, 0, sizeof(*id));
	s->pidfd = -1;
	if (getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	s->pid = id->pid = cred.pid;
	s->uid = id->uid = cred.uid;
	s->gid = id->gid = cred.gid;

	gid_t groups[HVP_MAX_GROUPS];
	len = sizeof(groups);
	if (getsockopt(s->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0 ||
	    errno == ERANGE) {
		id->ngroups = len / sizeof(gid_t);
		if (id->ngroups > HVP_MAX_GROUPS)
			id->ngroups = HVP_MAX_GROUPS;
		memcpy(id->groups, groups, id->ngroups * sizeof(gid_t));
	}

	/* The kernel's pidfd for the peer (or, on older kernels, one opened
	 * now) stays attached to this very process even if the pid is
	 * reused; hvd-ident checks it after reading the executable. */
	len = sizeof(s->pidfd);
	if (getsockopt(s->fd, SOL_SOCKET, SO_PEERPIDFD, &s->pidfd, &len) < 0)
		s->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	id->exe_hash_valid = false;
	snprintf(id->exe_refused, sizeof(id->exe_refused), "not identified yet");
	return 0;
}

void hvd_policy_set_exe(struct hvd_session *s, int err, const struct hvp_identity *got)
{
	struct hvp_identity *id = &s->ident;

	s->identified = true;
	if (got) {
		memcpy(id->exe, got->exe, sizeof(id->exe));
		memcpy(id->exe_hash, got->exe_hash, sizeof(id->exe_hash));
		id->exe_hash_valid = got->exe_hash_valid;
		id->exe_dev = got->exe_dev;
		id->exe_ino = got->exe_ino;
		id->start_time = got->start_time;
		id->tracer = got->tracer;
		memcpy(id->exe_refused, got->exe_refused, sizeof(id->exe_refused));
	}
	if (err < 0) {
		/* The process is gone, or its executable unreadable: no
		 * executable-bound rights. */
		id->exe_hash_valid = false;
		snprintf(id->exe_refused, sizeof(id->exe_refused), "%s",
			 err == -ESRCH ? "the process went away while it was identified" :
			 err == -EIO ? "hvd-ident, which identifies executables, is not running" :
			 "its executable cannot be read");
	}
}

const char *hvd_policy_same_process(const struct hvd_session *s, int err,
				    const struct hvp_identity *now)
{
	const struct hvp_identity *was = &s->ident;

	if (err < 0 || !now)
		return err == -ESRCH ? "the process that connected is gone" :
		       "the process could not be identified again";
	if (now->start_time != was->start_time)
		return "the pid now names another process than the one that connected";
	if (now->exe_dev != was->exe_dev || now->exe_ino != was->exe_ino)
		return "the process has executed another program since it connected";
	if (!now->exe_hash_valid ||
	    memcmp(now->exe_hash, was->exe_hash, sizeof(was->exe_hash)) != 0)
		return "the executable has changed since the process connected";
	if (now->exe_refused[0]) {
		static __thread char why[sizeof(now->exe_refused) + 32];
		snprintf(why, sizeof(why), "%s", now->exe_refused);
		return why;
	}
	return NULL;
}

/* ---- tenants ---- */

static struct hvd_tenant *tenant_get(struct hvd_daemon *d, const char *name)
{
	struct hvd_tenant *t;
	for (t = d->tenants; t; t = t->next) {
		if (strcmp(t->name, name) == 0) {
			t->refs++;
			return t;
		}
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	pthread_mutex_init(&t->cpu.lock, NULL);
	t->refs = 1;
	t->next = d->tenants;
	d->tenants = t;
	return t;
}

static void tenant_put(struct hvd_daemon *d, struct hvd_tenant *t)
{
	if (!t || --t->refs)
		return;
	for (struct hvd_tenant **pp = &d->tenants; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	pthread_mutex_destroy(&t->cpu.lock);
	free(t);
}

/* Move what a session holds between tenant accounts. */
static void charge(struct hvd_session *s, struct hvd_tenant *t, int sign)
{
	if (!t)
		return;
	unsigned vcpus = hvd_session_vcpu_slots(s);
	t->usage.vms += (uint32_t)(sign * (hvd_session_has_vm(s) ? 1 : 0));
	t->usage.vcpus += (uint32_t)(sign * (int)vcpus);
	t->usage.memory += (uint64_t)((int64_t)sign * (int64_t)s->mem_bytes);
	t->usage.mappings += (uint32_t)(sign * (int)s->mappings);
}

void hvd_policy_evaluate(struct hvd_session *s)
{
	struct hvd_daemon *d = s->d;
	char old[HVP_NAME_MAX];

	snprintf(old, sizeof(old), "%s", s->grant.tenant);
	/* A connection on a tenant's socket has that tenant's rights alone
	 * (hvd_tenant.c): no rule, no grant, never an administrator. */
	if (s->bound) {
		hvd_tenants_bound(d, s->bound, &s->grant);
		s->exe_bound = false;
		s->admin = false;
		goto decided;
	}
	hvp_evaluate(d->policy, &s->ident, (int64_t)time(NULL), &s->grant);
	hvd_tenants_member(d, &s->ident, &s->grant);
	/* Would the process have the same rights without its executable?
	 * If not, they come from a grant, which means "this code": the
	 * privileged decision (vm_create) checks again that it still runs
	 * the code it connected with. */
	s->exe_bound = false;
	if (s->ident.exe_hash_valid && !s->ident.exe_refused[0]) {
		struct hvp_identity anon = s->ident;
		struct hvp_grant_result g;
		anon.exe_hash_valid = false;
		hvp_evaluate(d->policy, &anon, (int64_t)time(NULL), &g);
		hvd_tenants_member(d, &anon, &g);
		s->exe_bound = g.ents != s->grant.ents || strcmp(g.tenant, s->grant.tenant) != 0 ||
			       memcmp(&g.quota, &s->grant.quota, sizeof(g.quota)) != 0;
	}
	s->admin = hvp_is_admin(d->policy, &s->ident);
decided:
	if (!s->tenant || strcmp(old, s->grant.tenant) != 0) {
		struct hvd_tenant *t = tenant_get(d, s->grant.tenant);
		if (t) {
			charge(s, s->tenant, -1);
			charge(s, t, +1);
			/* The vCPU threads leave the old tenant's budget
			 * before it can go. */
			for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
				if (s->vcpus[i])
					hvd_vcpu_set_budget(s->vcpus[i], &t->cpu);
			tenant_put(d, s->tenant);
			s->tenant = t;
		}
	}
	hvd_worker_update(s);
	if (s->tenant) {
		hvd_cpu_budget_set(&s->tenant->cpu, s->grant.quota.max_cpu_percent);
		/* And see a new rate at once. */
		for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
			if (s->vcpus[i])
				hvd_vcpu_set_budget(s->vcpus[i], &s->tenant->cpu);
	}
	/* Once the executable is known: the decision that counts. */
	if (s->identified)
		hvd_audit(s, "session", "evaluated", s->grant.reason);
}

void hvd_policy_release(struct hvd_session *s)
{
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		if (s->vcpus[i])
			hvd_vcpu_set_budget(s->vcpus[i], NULL);
	charge(s, s->tenant, -1);
	tenant_put(s->d, s->tenant);
	s->tenant = NULL;
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
}
