/*
 * Tenant cgroups: the layout of the host's cgroups, hvd's subtree in it,
 * one cgroup per tenant with the tenant's limits, and workers placed in
 * them (docs/operations.md, "Tenant cgroups").
 *
 *   v2:  <hvd's cgroup>/NAME/            cgroup.subtree_control +cpu +memory
 *                         hvd/           hvd and hvd-zygote (only if they had to move)
 *                         tenant-T/      cpu.max, memory.max, the workers
 *   v1:  <cpu mount><hvd's cpu cgroup>/NAME/tenant-T/        cpu.cfs_*
 *        <memory mount><hvd's memory cgroup>/NAME/tenant-T/  memory.limit_in_bytes
 *
 * Every error names the file and the errno: whoever reads hvd's log must
 * be able to fix the host from it.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvd_cgroup.h"
#include "hvd_log.h"

/* At or above this, max_memory is no limit the kernel needs to hold. */
#define MEMORY_UNLIMITED (1ull << 62)

/* ---- the layout (pure) ---- */

/* Does the comma-separated list hold `word`? */
static bool has_word(const char *list, size_t len, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list, *end = list + len; p < end;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t n = c ? (size_t)(c - p) : (size_t)(end - p);
		if (n == wl && memcmp(p, word, n) == 0)
			return true;
		p += n + 1;
	}
	return false;
}

/* The path of hvd's cgroup in the hierarchy with controller `ctl` ("" for
 * v2's "0::" line), from /proc/self/cgroup. */
static bool cgroup_path(const char *text, const char *ctl, char *out, size_t len)
{
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		/* ID:CONTROLLERS:PATH */
		const char *c1 = memchr(line, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(line + n - c1 - 1)) : NULL;
		if (c2) {
			size_t cl = (size_t)(c2 - c1 - 1);
			bool match = *ctl ? has_word(c1 + 1, cl, ctl) :
				(cl == 0 && c1 - line == 1 && line[0] == '0');
			size_t pl = (size_t)(line + n - c2 - 1);
			if (match && pl < len) {
				memcpy(out, c2 + 1, pl);
				out[pl] = 0;
				return true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* The mount of the hierarchy with controller `ctl` (NULL: the cgroup2
 * one): its mount point and the root of the hierarchy it shows. */
static bool cgroup_mount(const char *text, const char *ctl, char *point, char *root, size_t len)
{
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096];
		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = 0;
			/* ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER */
			char r[PATH_MAX], p[PATH_MAX], type[32], super[1024];
			const char *dash = strstr(buf, " - ");
			if (dash && sscanf(buf, "%*s %*s %*s %4095s %4095s", r, p) == 2 &&
			    sscanf(dash + 3, "%31s %*s %1023s", type, super) == 2) {
				bool match = ctl ? strcmp(type, "cgroup") == 0 &&
					has_word(super, strlen(super), ctl) :
					strcmp(type, "cgroup2") == 0;
				if (match && strlen(p) < len && strlen(r) < len) {
					strcpy(point, p);
					strcpy(root, r);
					return true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* The directory of hvd's cgroup `path` under a mount showing `root`. */
static bool join(char *out, size_t len, const char *point, const char *root, const char *path)
{
	size_t rl = strlen(root);
	const char *rel = path;
	/* In a cgroup namespace the path is already relative to the root. */
	if (strcmp(root, "/") != 0 && strncmp(path, root, rl) == 0 &&
	    (path[rl] == '/' || !path[rl]))
		rel = path + rl;
	if (strcmp(rel, "/") == 0)
		rel = "";
	return (size_t)snprintf(out, len, "%s%s", point, rel) < len;
}

int hvd_cgroup_parse(const char *proc_cgroup, const char *mountinfo, struct hvd_cg_layout *out,
		     char *err, size_t errlen)
{
	char cpath[PATH_MAX], mpath[PATH_MAX], cpoint[PATH_MAX], croot[PATH_MAX];
	char mpoint[PATH_MAX], mroot[PATH_MAX];

	memset(out, 0, sizeof(*out));
	if (cgroup_path(proc_cgroup, "cpu", cpath, sizeof(cpath)) &&
	    cgroup_path(proc_cgroup, "memory", mpath, sizeof(mpath)) &&
	    cgroup_mount(mountinfo, "cpu", cpoint, croot, sizeof(cpoint)) &&
	    cgroup_mount(mountinfo, "memory", mpoint, mroot, sizeof(mpoint))) {
		if (!join(out->cpu, sizeof(out->cpu), cpoint, croot, cpath) ||
		    !join(out->memory, sizeof(out->memory), mpoint, mroot, mpath)) {
			snprintf(err, errlen, "the cgroup paths are too long");
			return -ENAMETOOLONG;
		}
		out->kind = HVD_CG_V1;
		return 0;
	}
	if (cgroup_path(proc_cgroup, "", cpath, sizeof(cpath)) &&
	    cgroup_mount(mountinfo, NULL, cpoint, croot, sizeof(cpoint))) {
		if (!join(out->cpu, sizeof(out->cpu), cpoint, croot, cpath)) {
			snprintf(err, errlen, "the cgroup path is too long");
			return -ENAMETOOLONG;
		}
		strcpy(out->memory, out->cpu);
		strcpy(out->mount, cpoint);
		out->root = strcmp(out->cpu, cpoint) == 0;
		out->kind = HVD_CG_V2;
		return 0;
	}
	snprintf(err, errlen, "neither v1 cpu and memory hierarchies nor the unified (v2) "
		 "hierarchy is mounted for this process (/proc/self/cgroup, /proc/self/mountinfo)");
	return -ENOENT;
}

static char *slurp(const char *path, int *e)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		*e = errno;
		return NULL;
	}
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
		if (n + 1 == cap) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf) {
		*e = ENOMEM;
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* Does the space-separated cgroup file `dir/name` list `word`? */
static bool file_lists(const char *dir, const char *name, const char *word)
{
	char path[PATH_MAX + 64];
	int e;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *text = slurp(path, &e);
	bool found = false;
	size_t wl = strlen(word);
	for (char *p = text; p && *p && !found;) {
		p += strspn(p, " \n");
		size_t n = strcspn(p, " \n");
		found = n == wl && memcmp(p, word, n) == 0;
		p += n;
	}
	free(text);
	return found;
}

int hvd_cgroup_detect(struct hvd_cg_layout *out, char *err, size_t errlen)
{
	int e = 0;
	char *cg = slurp("/proc/self/cgroup", &e);
	char *mi = cg ? slurp("/proc/self/mountinfo", &e) : NULL;
	if (!mi) {
		snprintf(err, errlen, "cannot read %s: %s", cg ? "/proc/self/mountinfo" :
			 "/proc/self/cgroup", strerror(e));
		free(cg);
		return -e;
	}
	int r = hvd_cgroup_parse(cg, mi, out, err, errlen);
	free(cg);
	free(mi);
	if (r < 0)
		return r;
	if (out->kind == HVD_CG_V2 && (!file_lists(out->cpu, "cgroup.controllers", "cpu") ||
				      !file_lists(out->cpu, "cgroup.controllers", "memory"))) {
		snprintf(err, errlen, "%s/cgroup.controllers lacks cpu or memory (the cgroup hvd "
			 "runs in was given neither; systemd: Delegate=yes)", out->cpu);
		return -ENOTSUP;
	}
	return 0;
}

bool hvd_cgroup_name_ok(const char *tenant)
{
	size_t n = strlen(tenant);
	if (n == 0 || n > 200 || tenant[0] == '.')
		return false;
	for (const char *p = tenant; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
		      *p == ':' || *p == '@'))
			return false;
	return true;
}

/* ---- the files ---- */

static int put(const char *dir, const char *name, const char *value, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = n < 0 ? errno : 0;
	close(fd);
	if (n != (ssize_t)len) {
		snprintf(err, errlen, "cannot write '%s' to %s: %s", value, path,
			 strerror(e ? e : EIO));
		return -(e ? e : EIO);
	}
	return 0;
}

static int make(const char *dir, bool *made, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) == 0) {
		if (made)
			*made = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	int e = errno;
	snprintf(err, errlen, "cannot create the cgroup %s: %s", dir, strerror(e));
	return -e;
}

void hvd_cgroup_cpu_max(uint32_t pct, char *out, size_t len)
{
	if (pct)
		snprintf(out, len, "%llu %u", (unsigned long long)pct * 1000, HVD_CGROUP_PERIOD_US);
	else
		snprintf(out, len, "max %u", HVD_CGROUP_PERIOD_US);
}

void hvd_cgroup_cfs_quota(uint32_t pct, char *out, size_t len)
{
	if (pct)
		snprintf(out, len, "%llu", (unsigned long long)pct * 1000);
	else
		snprintf(out, len, "-1");
}

void hvd_cgroup_memory_max(uint64_t mem, char *out, size_t len)
{
	if (mem >= MEMORY_UNLIMITED)
		snprintf(out, len, "max");
	else
		snprintf(out, len, "%llu", (unsigned long long)(mem + HVD_CGROUP_WORKER_ALLOWANCE));
}

void hvd_cgroup_limit_in_bytes(uint64_t mem, char *out, size_t len)
{
	if (mem >= MEMORY_UNLIMITED)
		snprintf(out, len, "-1");
	else
		snprintf(out, len, "%llu", (unsigned long long)(mem + HVD_CGROUP_WORKER_ALLOWANCE));
}

/* ---- hvd's subtree ---- */

static int pid_put(const char *dir, pid_t pid, char *err, size_t errlen)
{
	char v[24];
	snprintf(v, sizeof(v), "%d", (int)pid);
	return put(dir, "cgroup.procs", v, err, errlen);
}

/* The parent of `pid` (0 if it cannot be read). */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so from the
	 * last ')'. */
	const char *p = strrchr(buf, ')');
	int ppid = 0;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

/* Whether `broker` is an ancestor of `pid` (a few generations up). */
static bool descends_from(pid_t pid, pid_t broker)
{
	for (int i = 0; i < 8 && pid > 1; i++) {
		pid = parent_of(pid);
		if (pid == broker)
			return true;
	}
	return false;
}

/* hvd's other processes (hvd-ident, the janitors and what they start),
 * started before this and still in hvd's cgroup: into `self` with hvd,
 * or the cgroup keeps processes and cannot give its children
 * controllers. Anything else in it is not hvd's to move. */
static int move_helpers(const char *from, const char *self, pid_t broker, char *err,
			size_t errlen)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", from);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int pid, r = 0;
	while (r == 0 && fscanf(f, "%d", &pid) == 1)
		if (pid != broker && pid != getpid() && descends_from(pid, broker))
			r = pid_put(self, pid, err, errlen);
	fclose(f);
	return r == -ESRCH ? 0 : r; /* one that ended meanwhile */
}

int hvd_cgroup_setup(struct hvd_cgroup *cg, const char *name, pid_t broker, char *err,
		     size_t errlen)
{
	struct hvd_cg_layout l;
	memset(cg, 0, sizeof(*cg));
	if (!hvd_cgroup_name_ok(name) || strchr(name, ':')) {
		snprintf(err, errlen, "--cgroup-root '%s' is not a safe directory name", name);
		return -EINVAL;
	}
	int r = hvd_cgroup_detect(&l, err, errlen);
	if (r < 0)
		return r;
	if ((size_t)snprintf(cg->cpu, sizeof(cg->cpu), "%s/%s", l.cpu, name) >= sizeof(cg->cpu) ||
	    (size_t)snprintf(cg->memory, sizeof(cg->memory), "%s/%s", l.memory, name) >=
	    sizeof(cg->memory)) {
		snprintf(err, errlen, "the cgroup path is too long");
		return -ENAMETOOLONG;
	}
	if (l.kind == HVD_CG_V1) {
		if ((r = make(cg->cpu, &cg->made_cpu, err, errlen)) < 0 ||
		    (r = make(cg->memory, &cg->made_memory, err, errlen)) < 0)
			return r;
		cg->kind = HVD_CG_V1;
		return 0;
	}
	if ((r = make(cg->cpu, &cg->made_cpu, err, errlen)) < 0)
		return r;
	/* The no-internal-processes rule: a cgroup that gives its children
	 * controllers holds no processes (the root excepted). */
	if (l.root) {
		r = put(l.cpu, "cgroup.subtree_control", "+cpu +memory", err, errlen);
		if (r < 0)
			return r;
	} else if (!file_lists(l.cpu, "cgroup.subtree_control", "cpu") ||
		   !file_lists(l.cpu, "cgroup.subtree_control", "memory")) {
		char self[PATH_MAX + 8];
		snprintf(self, sizeof(self), "%s/hvd", cg->cpu);
		if ((r = make(self, NULL, err, errlen)) < 0 ||
		    (r = pid_put(self, broker, err, errlen)) < 0 ||
		    (r = pid_put(self, getpid(), err, errlen)) < 0 ||
		    (r = move_helpers(l.cpu, self, broker, err, errlen)) < 0)
			return r;
		r = put(l.cpu, "cgroup.subtree_control", "+cpu +memory", err, errlen);
		/* A VM that hvd's start probed the host with has a KVM kernel
		 * thread (kvm-nx-lpage-recovery) in the cgroup its creator was
		 * in, until the VM is freed: give it a moment. */
		for (int i = 0; r == -EBUSY && i < 40; i++) {
			usleep(50000);
			r = put(l.cpu, "cgroup.subtree_control", "+cpu +memory", err, errlen);
		}
		if (r == -EBUSY) {
			/* Say which: the administrator has to move them. */
			char others[160] = "", path[PATH_MAX + 16];
			snprintf(path, sizeof(path), "%s/cgroup.procs", l.cpu);
			FILE *f = fopen(path, "re");
			int pid;
			while (f && fscanf(f, "%d", &pid) == 1 && strlen(others) < sizeof(others) - 24) {
				char comm[64] = "?", cp[64];
				snprintf(cp, sizeof(cp), "/proc/%d/comm", pid);
				FILE *c = fopen(cp, "re");
				if (c && fgets(comm, sizeof(comm), c))
					comm[strcspn(comm, "\n")] = '\0';
				if (c)
					fclose(c);
				snprintf(others + strlen(others), sizeof(others) - strlen(others),
					 " %d (%.16s, parent %d)", pid, comm, (int)parent_of(pid));
			}
			if (f)
				fclose(f);
			snprintf(err + strlen(err), errlen - strlen(err),
				 " (the cgroup holds processes other than hvd's:%s; run hvd in a "
				 "cgroup of its own, e.g. systemd's Delegate=yes)", others);
		}
		if (r < 0)
			return r;
	}
	if ((r = put(cg->cpu, "cgroup.subtree_control", "+cpu +memory", err, errlen)) < 0)
		return r;
	cg->kind = HVD_CG_V2;
	return 0;
}

static int tenant_dir(const struct hvd_cgroup *cg, const char *base, const char *tenant,
		      char *out, size_t len, char *err, size_t errlen)
{
	if (cg->kind == HVD_CG_NONE) {
		snprintf(err, errlen, "no tenant cgroups on this host");
		return -ENODEV;
	}
	if (!hvd_cgroup_name_ok(tenant)) {
		snprintf(err, errlen, "tenant '%s': not a name a cgroup can have", tenant);
		return -EINVAL;
	}
	if ((size_t)snprintf(out, len, "%s/tenant-%s", base, tenant) >= len) {
		snprintf(err, errlen, "the cgroup path is too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

int hvd_cgroup_limit(struct hvd_cgroup *cg, const char *tenant, uint32_t pct, uint64_t mem,
		     char *err, size_t errlen)
{
	char cdir[PATH_MAX + 80], mdir[PATH_MAX + 80], v[32];
	int r;
	if ((r = tenant_dir(cg, cg->cpu, tenant, cdir, sizeof(cdir), err, errlen)) < 0 ||
	    (r = tenant_dir(cg, cg->memory, tenant, mdir, sizeof(mdir), err, errlen)) < 0 ||
	    (r = make(cdir, NULL, err, errlen)) < 0 ||
	    (r = make(mdir, NULL, err, errlen)) < 0)
		return r;
	if (cg->kind == HVD_CG_V2) {
		hvd_cgroup_cpu_max(pct, v, sizeof(v));
		if ((r = put(cdir, "cpu.max", v, err, errlen)) < 0)
			return r;
		hvd_cgroup_memory_max(mem, v, sizeof(v));
		return put(mdir, "memory.max", v, err, errlen);
	}
	snprintf(v, sizeof(v), "%u", HVD_CGROUP_PERIOD_US);
	if ((r = put(cdir, "cpu.cfs_period_us", v, err, errlen)) < 0)
		return r;
	hvd_cgroup_cfs_quota(pct, v, sizeof(v));
	if ((r = put(cdir, "cpu.cfs_quota_us", v, err, errlen)) < 0)
		return r;
	hvd_cgroup_limit_in_bytes(mem, v, sizeof(v));
	return put(mdir, "memory.limit_in_bytes", v, err, errlen);
}

int hvd_cgroup_place(struct hvd_cgroup *cg, const char *tenant, pid_t pid, char *err,
		     size_t errlen)
{
	char cdir[PATH_MAX + 80], mdir[PATH_MAX + 80];
	int r;
	if ((r = tenant_dir(cg, cg->cpu, tenant, cdir, sizeof(cdir), err, errlen)) < 0 ||
	    (r = tenant_dir(cg, cg->memory, tenant, mdir, sizeof(mdir), err, errlen)) < 0 ||
	    (r = pid_put(cdir, pid, err, errlen)) < 0)
		return r;
	if (cg->kind == HVD_CG_V1)
		return pid_put(mdir, pid, err, errlen);
	return 0;
}

uint64_t hvd_cgroup_oom_kills(const struct hvd_cgroup *cg, const char *tenant)
{
	char dir[PATH_MAX + 80], path[PATH_MAX + 100], err[64];
	if (tenant_dir(cg, cg->memory, tenant, dir, sizeof(dir), err, sizeof(err)) < 0)
		return 0;
	/* v1: memory.oom_control's "oom_kill N" (Linux 4.13 on); v2:
	 * memory.events' (Linux 4.19 on). */
	snprintf(path, sizeof(path), "%s/%s", dir,
		 cg->kind == HVD_CG_V1 ? "memory.oom_control" : "memory.events");
	int e;
	char *text = slurp(path, &e);
	if (!text)
		return 0;
	uint64_t n = 0;
	for (const char *l = text; *l; l += strcspn(l, "\n"), l += *l == '\n')
		if (strncmp(l, "oom_kill ", 9) == 0)
			n = strtoull(l + 9, NULL, 10);
	free(text);
	return n;
}

static void remove_dir(const char *dir)
{
	if (rmdir(dir) == 0 || errno == ENOENT)
		return;
	/* Busy: a process is still in it (v2: hvd itself, in NAME/hvd), and
	 * the cgroup goes with its service. Denied: a root made in a v1
	 * hierarchy's top directory (mode 0555) needs the privileges the
	 * zygote gave up; it stays empty, and the next hvd reuses it. */
	int e = errno;
	hvd_log(e == EBUSY ? HVD_LOG_DEBUG : HVD_LOG_INFO, "cgroups: %s stays%s: %s", dir,
		e == EACCES || e == EPERM ? " (empty; the next start reuses it)" : "",
		strerror(e));
}

static void remove_tenants(const char *root)
{
	DIR *d = opendir(root);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (strncmp(e->d_name, "tenant-", 7) != 0)
			continue;
		char path[PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		remove_dir(path);
	}
	closedir(d);
}

void hvd_cgroup_teardown(struct hvd_cgroup *cg)
{
	if (cg->kind == HVD_CG_NONE)
		return;
	remove_tenants(cg->cpu);
	if (cg->kind == HVD_CG_V1)
		remove_tenants(cg->memory);
	if (cg->made_cpu)
		remove_dir(cg->cpu);
	if (cg->kind == HVD_CG_V1 && cg->made_memory)
		remove_dir(cg->memory);
	cg->kind = HVD_CG_NONE;
}
