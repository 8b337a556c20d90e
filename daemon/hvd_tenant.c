/*
 * Tenants as objects. The configuration's rules make tenants out of uids
 * and groups; an administrator can also make them at run time
 * (`hvctl tenant add`), and give one a listening socket of its own: a
 * connection on it belongs to that tenant whatever its uid, with the
 * tenant's entitlements and quota and nothing else (no rule, no grant,
 * never an administrator). That is what lets root in a container with the
 * socket mounted be an ordinary tenant.
 *
 * The objects live in one file, STATE_DIR/tenants.json, replaced whole at
 * every change (a temporary file, fsync, rename, fsync of the directory),
 * so a crash leaves the old file or the new one. hvd reads it back at
 * start like input from outside: bounded in size and count, every tenant
 * checked as an `add` would check it; one that fails is logged and left
 * out (the file is kept as tenants.json.bad), and hvd starts anyway.
 *
 * A tenant socket's path is an administrator's, but where it lands must
 * not be an attacker's: hvd binds at the path itself (bind never follows
 * a symlink, nor replaces anything there), only in a directory chain of
 * real directories owned by root or hvd and writable by nobody else
 * (sticky ones excepted, where others cannot remove what hvd made), with
 * its mode set by the umask at bind (no chmod of a path afterwards, which
 * would follow a symlink put there meanwhile). hvd removes the paths when
 * it stops; hvd-tenant-janitor, a child that holds nothing but a pipe,
 * removes them if hvd dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "hvd.h"
#include "hvd_audit.h"
#include "hvd_log.h"
#include "hvd_policy.h"
#include "hvd_sandbox.h"
#include "hvd_session.h"
#include "hvd_tenant.h"
#include "hvd_tspec.h"

#define STATE_FILE "tenants.json"
#define STATE_TMP "tenants.json.tmp"
#define STATE_BAD "tenants.json.bad"
#define SOCK_PATH_MAX HVD_TSPEC_PATH_MAX

struct tobj {
	struct tobj *next;                  /* sorted by name */
	uint64_t key;                       /* sessions and shares name it by this */
	struct hvd_tspec spec;
	int fd;                             /* listening, -1: none */
	uv_poll_t poll;
	bool paused;                        /* out of descriptors: accept later */
	dev_t dev;                          /* the socket file hvd made */
	ino_t ino;
	struct hvd_daemon *d;
};

struct hvd_tenants {
	int dirfd;                          /* the state directory, -1: none */
	char dir[200];
	char unusable[300];                 /* why not, when dirfd is -1 */
	uid_t uid;                          /* hvd's uid once dropped */
	struct hvd_identity_drop drop;      /* who hvd becomes (started as root) */
	struct tobj *list;
	unsigned n, nsockets;
	uint64_t next_key;
	int janitor_fd;                     /* to hvd-tenant-janitor, -1: none */
	uv_timer_t retry;
	bool started;
};

/* Messages for the reply's `error`, which is sent after the handler
 * returns (loop thread only). */
static char errbuf[512];

/* ---- quotas: the policy's keys, by index ---- */

static uint64_t pq_get(const Hvdp__TenantQuota *q, unsigned i)
{
	switch (i) {
	case 0: return q->max_vms;
	case 1: return q->max_vcpus_per_vm;
	case 2: return q->max_vcpus;
	case 3: return q->max_memory;
	case 4: return q->max_mappings;
	case 5: return q->max_rpc_rate;
	default: return q->max_cpu_percent;
	}
}

static void pq_put(Hvdp__TenantQuota *q, unsigned i, uint64_t v)
{
	switch (i) {
	case 0: q->max_vms = (uint32_t)v; break;
	case 1: q->max_vcpus_per_vm = (uint32_t)v; break;
	case 2: q->max_vcpus = (uint32_t)v; break;
	case 3: q->max_memory = v; break;
	case 4: q->max_mappings = (uint32_t)v; break;
	case 5: q->max_rpc_rate = (uint32_t)v; break;
	default: q->max_cpu_percent = (uint32_t)v; break;
	}
}

/* The quota in force: the given fields over the policy's [defaults]. */
static struct hvp_quota effective(const struct hvd_daemon *d, const struct hvd_tspec *t)
{
	struct hvp_quota q = *hvp_default_quota(d->policy);
	for (unsigned i = 0; i < HVD_TSPEC_NQ; i++)
		if (t->quota_set & (1u << i))
			hvd_tspec_qput(&q, i, hvd_tspec_qget(&t->quota, i));
	return q;
}

/* ---- the registry ---- */

static struct tobj *find(struct hvd_tenants *T, const char *name)
{
	for (struct tobj *o = T->list; o; o = o->next)
		if (strcmp(o->spec.name, name) == 0)
			return o;
	return NULL;
}

static struct tobj *find_key(struct hvd_tenants *T, uint64_t key)
{
	for (struct tobj *o = T ? T->list : NULL; o; o = o->next)
		if (o->key == key)
			return o;
	return NULL;
}

static void insert(struct hvd_tenants *T, struct tobj *o)
{
	struct tobj **pp = &T->list;
	while (*pp && strcmp((*pp)->spec.name, o->spec.name) < 0)
		pp = &(*pp)->next;
	o->next = *pp;
	*pp = o;
	T->n++;
}

static void unlink_obj(struct hvd_tenants *T, struct tobj *o)
{
	for (struct tobj **pp = &T->list; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			T->n--;
			return;
		}
	}
}

/* ---- rights ---- */

static void fill(const struct hvd_daemon *d, const struct hvd_tspec *t, struct hvp_grant_result *g)
{
	g->ents |= t->ents;
	snprintf(g->tenant, sizeof(g->tenant), "%s", t->name);
	g->quota = effective(d, t);
}

void hvd_tenants_bound(struct hvd_daemon *d, uint64_t key, struct hvp_grant_result *g)
{
	struct tobj *o = find_key(d->tobjs, key);
	char e[160];

	memset(g, 0, sizeof(*g));
	if (!o) {
		/* Removed: its sessions are being closed. */
		snprintf(g->tenant, sizeof(g->tenant), "-");
		snprintf(g->reason, sizeof(g->reason), "its tenant socket was removed: nothing");
		return;
	}
	fill(d, &o->spec, g);
	hvd_tspec_ents_str(g->ents, e, sizeof(e));
	snprintf(g->reason, sizeof(g->reason), "tenant socket %s: %s, tenant %s", o->spec.name, e,
		 o->spec.name);
}

static bool in_groups(const struct hvp_identity *id, gid_t gid)
{
	if (id->gid == gid)
		return true;
	for (unsigned i = 0; i < id->ngroups; i++)
		if (id->groups[i] == gid)
			return true;
	return false;
}

void hvd_tenants_member(struct hvd_daemon *d, const struct hvp_identity *id,
			struct hvp_grant_result *g)
{
	for (struct tobj *o = d->tobjs ? d->tobjs->list : NULL; o; o = o->next) {
		const struct hvd_tspec *t = &o->spec;
		char by[48] = "";
		for (unsigned i = 0; !by[0] && i < t->nuids; i++)
			if (t->uids[i] == id->uid)
				snprintf(by, sizeof(by), "uid %u", (unsigned)id->uid);
		for (unsigned i = 0; !by[0] && i < t->ngids; i++)
			if (in_groups(id, t->gids[i]))
				snprintf(by, sizeof(by), "group %u", (unsigned)t->gids[i]);
		if (!by[0])
			continue;
		char e[160];
		hvd_tspec_ents_str(t->ents, e, sizeof(e));
		fill(d, t, g);
		size_t l = strlen(g->reason);
		snprintf(g->reason + l, sizeof(g->reason) - l, "; tenant object %s (%s): %s",
			 t->name, by, e);
		return; /* the first, by name */
	}
}

/* Rights may have changed: every session's, at its next request. */
static void reevaluate(struct hvd_daemon *d)
{
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		if (!s->closing)
			hvd_policy_evaluate(s);
}

/* ---- hvd-tenant-janitor: the tenant sockets if hvd dies ---- */

/* One message, atomic in a pipe (< PIPE_BUF): add (1) or forget (0) a
 * socket file, by path and identity. */
struct jrec {
	uint32_t op;
	uint32_t pad;
	uint64_t dev, ino;
	char path[SOCK_PATH_MAX];
};

static void janitor_main(const struct hvd_identity_drop *drop, int in)
{
	/* Static: no malloc under the filter. */
	static struct jrec recs[HVD_TENANT_SOCKETS_MAX];
	struct jrec r;
	struct stat st;

	prctl(PR_SET_NAME, "hvd-tenant-jan");
	/* Only hvd's end ends it (EOF), not signals to the process group. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	if (in > 3)
		close_range(3, (unsigned)in - 1, 0);
	close_range((unsigned)in + 1, ~0u, 0);
	/* hvd's own uid, not root: what it removes is what hvd could have
	 * removed itself, whatever a compromised hvd tells it. Then
	 * hvd-janitor's filter: read, lstat, unlink, and the end. */
	if (!hvd_sandbox_off && (hvd_sandbox_drop_all(drop) < 0 || hvd_sandbox_janitor() < 0))
		_exit(1);
	for (;;) {
		ssize_t n = read(in, &r, sizeof(r));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			break; /* EOF: hvd is gone */
		r.path[SOCK_PATH_MAX - 1] = '\0';
		unsigned free_slot = HVD_TENANT_SOCKETS_MAX;
		for (unsigned i = 0; i < HVD_TENANT_SOCKETS_MAX; i++) {
			if (recs[i].op && recs[i].dev == r.dev && recs[i].ino == r.ino)
				recs[i].op = 0;
			if (!recs[i].op && free_slot == HVD_TENANT_SOCKETS_MAX)
				free_slot = i;
		}
		if (r.op && free_slot < HVD_TENANT_SOCKETS_MAX)
			recs[free_slot] = r;
	}
	/* Each path only if it is still the socket hvd made. */
	for (unsigned i = 0; i < HVD_TENANT_SOCKETS_MAX; i++)
		if (recs[i].op && lstat(recs[i].path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    (uint64_t)st.st_dev == recs[i].dev && (uint64_t)st.st_ino == recs[i].ino)
			unlink(recs[i].path);
	_exit(0);
}

static void janitor_say(struct hvd_tenants *T, const struct tobj *o, uint32_t op)
{
	struct jrec r;
	if (T->janitor_fd < 0)
		return;
	memset(&r, 0, sizeof(r));
	r.op = op;
	r.dev = (uint64_t)o->dev;
	r.ino = (uint64_t)o->ino;
	snprintf(r.path, sizeof(r.path), "%s", o->spec.socket);
	if (write(T->janitor_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		hvd_warn("hvd-tenant-janitor does not listen: %s would stay behind if hvd died",
			 o->spec.socket);
}

static void janitor_start(struct hvd_tenants *T)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		hvd_warn("no hvd-tenant-janitor (pipe: %s): tenant sockets stay behind if hvd dies",
			 strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		hvd_warn("no hvd-tenant-janitor (fork: %s): tenant sockets stay behind if hvd dies",
			 strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0)
		janitor_main(&T->drop, p[0]);
	close(p[0]);
	T->janitor_fd = p[1];
}

/* ---- sockets ---- */

static void on_accept(uv_poll_t *h, int status, int events);

static void on_retry(uv_timer_t *t)
{
	struct hvd_daemon *d = t->data;
	for (struct tobj *o = d->tobjs->list; o; o = o->next) {
		if (o->paused && o->fd >= 0 && !d->stopping) {
			o->paused = false;
			uv_poll_start(&o->poll, UV_READABLE, on_accept);
		}
	}
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct tobj *o = h->data;
	struct hvd_daemon *d = o->d;
	int one = 1;
	(void)events;

	if (status < 0)
		return;
	int fd = accept4(o->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			hvd_warn("tenant %s: accept: %s; pausing its connections", o->spec.name,
				 strerror(errno));
			uv_poll_stop(&o->poll);
			o->paused = true;
			uv_timer_start(&d->tobjs->retry, on_retry, 200, 0);
		}
		return;
	}
	/* As on the main socket: every message carries its sender. */
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	hvd_session_open(d, fd, o->key);
}

/*
 * May hvd put a socket at `path`? Every directory above it must be a real
 * directory (a symlink could be repointed), owned by root or hvd, and not
 * writable by anyone else unless sticky: otherwise another user could move
 * the socket away and put its own in its place, and the tenant's clients
 * would talk to it.
 */
static int dir_chain_ok(const char *path, uid_t self, char *why, size_t len)
{
	char dir[SOCK_PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
		*slash = '\0';
		const char *d = dir[0] ? dir : "/";
		if (lstat(d, &st) < 0) {
			int e = errno;
			snprintf(why, len, "%s: %s", d, strerror(e));
			return -e;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, len, "%s is %s, not a directory", d,
				 S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
			return -ENOTDIR;
		}
		if (st.st_uid != 0 && st.st_uid != self) {
			snprintf(why, len, "%s belongs to uid %u, neither root nor hvd (uid %u)", d,
				 (unsigned)st.st_uid, (unsigned)self);
			return -EPERM;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			snprintf(why, len, "%s is writable by others than its owner (mode %o), and "
				 "not sticky", d, (unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		if (!dir[0])
			break;
	}
	return 0;
}

/* Bind and listen at o->spec.socket. `stale_ok` (at start, before the
 * sandbox): a socket left there by an hvd that died is replaced, if it is
 * hvd's own and nobody listens on it. */
static int sock_open(struct hvd_daemon *d, struct tobj *o, bool stale_ok, char *why, size_t len)
{
	struct hvd_tenants *T = d->tobjs;
	struct sockaddr_un addr;
	struct stat st;
	int one = 1, r;

	if (T->nsockets >= HVD_TENANT_SOCKETS_MAX) {
		snprintf(why, len, "already %d tenant sockets (the most hvd opens)",
			 HVD_TENANT_SOCKETS_MAX);
		return -ENOSPC;
	}
	/* Not among hvd's own files: the state file's temporary would go. */
	size_t dl = strlen(T->dir);
	if (T->dir[0] && strncmp(o->spec.socket, T->dir, dl) == 0 &&
	    (o->spec.socket[dl] == '/' || T->dir[dl - 1] == '/')) {
		snprintf(why, len, "%s is in hvd's state directory", o->spec.socket);
		return -EINVAL;
	}
	if ((r = dir_chain_ok(o->spec.socket, T->uid, why, len)) < 0)
		return r;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", o->spec.socket);
	if (lstat(o->spec.socket, &st) == 0) {
		bool ours = S_ISSOCK(st.st_mode) && st.st_uid == T->uid;
		bool live = false;
		if (ours && stale_ok) {
			int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
			if (probe >= 0) {
				live = connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
				close(probe);
			}
		}
		if (!ours || !stale_ok || live) {
			snprintf(why, len, "%s exists (%s): hvd replaces nothing", o->spec.socket,
				 S_ISLNK(st.st_mode) ? "a symbolic link" :
				 S_ISDIR(st.st_mode) ? "a directory" :
				 live ? "a socket something listens on" :
				 S_ISSOCK(st.st_mode) ? "a socket" : "a file");
			return -EEXIST;
		}
		unlink(o->spec.socket);
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(why, len, "socket: %s", strerror(-r));
		return r;
	}
	/* Before anyone can connect: a connection inherits it when made. */
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	/* The mode comes from the umask at bind: no chmod of the path, which
	 * would follow whatever is there by then. Loop thread: no other
	 * thread makes files. */
	mode_t old = umask(~(mode_t)o->spec.mode & 0777);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	int e = errno;
	umask(old);
	if (r < 0) {
		close(fd);
		snprintf(why, len, "%s: %s", o->spec.socket, strerror(e));
		return -e;
	}
	if (lstat(o->spec.socket, &st) < 0 || listen(fd, 128) < 0) {
		e = errno;
		unlink(o->spec.socket);
		close(fd);
		snprintf(why, len, "%s: %s", o->spec.socket, strerror(e));
		return -e;
	}
	/* Made by root (at start, before the drop): give it to the uid hvd
	 * becomes, so that hvd can remove it at run time. Not a symlink's
	 * target: in these directories nobody else can have replaced it. */
	if (geteuid() == 0 && T->drop.drop &&
	    fchownat(AT_FDCWD, o->spec.socket, T->drop.uid, T->drop.gid, AT_SYMLINK_NOFOLLOW) < 0) {
		e = errno;
		unlink(o->spec.socket);
		close(fd);
		snprintf(why, len, "%s: chown: %s", o->spec.socket, strerror(e));
		return -e;
	}
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->fd = fd;
	o->d = d;
	o->poll.data = o;
	uv_poll_init(d->loop, &o->poll, fd);
	uv_poll_start(&o->poll, UV_READABLE, on_accept);
	T->nsockets++;
	janitor_say(T, o, 1);
	return 0;
}

static void obj_free(uv_handle_t *h)
{
	free(h->data);
}

/* Close the socket and remove its path (if it is still the one hvd
 * made); then free `o` if `and_free`. */
static void sock_close(struct hvd_tenants *T, struct tobj *o, bool and_free)
{
	struct stat st;
	if (o->fd < 0) {
		if (and_free)
			free(o);
		return;
	}
	uv_poll_stop(&o->poll);
	close(o->fd);
	o->fd = -1;
	T->nsockets--;
	if (lstat(o->spec.socket, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == o->dev &&
	    st.st_ino == o->ino)
		unlink(o->spec.socket);
	janitor_say(T, o, 0);
	uv_close((uv_handle_t *)&o->poll, and_free ? obj_free : NULL);
}

/* ---- the state file ---- */

/* Write `n` specs as the state file, atomically: the old file or the new
 * one, never half of either. */
static int save(struct hvd_tenants *T, const struct hvd_tspec *const *v, unsigned n, char *why,
		size_t len)
{
	if (T->dirfd < 0) {
		snprintf(why, len, "tenants cannot be kept: %s", T->unusable);
		return -ENOENT;
	}
	json_object *top = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(top, "version", json_object_new_int(1));
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(a, hvd_tspec_to_json(v[i]));
	json_object_object_add(top, "tenants", a);
	const char *text = json_object_to_json_string_ext(top, JSON_C_TO_STRING_PRETTY);
	size_t tlen = strlen(text);
	int r = 0, fd = -1;

	if (tlen + 1 > HVD_TENANT_STATE_MAX) {
		r = -EFBIG;
		snprintf(why, len, "the state file would be larger than %d bytes",
			 HVD_TENANT_STATE_MAX);
		goto out;
	}
	/* A temporary file a crash left behind. */
	unlinkat(T->dirfd, STATE_TMP, 0);
	fd = openat(T->dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	for (size_t off = 0; off < tlen;) {
		ssize_t w = write(fd, text + off, tlen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			goto fail;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(T->dirfd, STATE_TMP, T->dirfd, STATE_FILE) < 0) {
		r = -errno;
		goto fail;
	}
	/* The rename itself must survive a crash. */
	if (fsync(T->dirfd) < 0)
		hvd_warn("%s: fsync: %s", T->dir, strerror(errno));
	goto out;
fail:
	snprintf(why, len, "%s/%s: %s (nothing changed)", T->dir, STATE_FILE, strerror(-r));
	if (fd >= 0)
		close(fd);
	unlinkat(T->dirfd, STATE_TMP, 0);
out:
	json_object_put(top);
	return r;
}

/* The specs in force, with `drop` left out and `extra` added. */
static int save_with(struct hvd_tenants *T, const struct tobj *drop, const struct tobj *swap,
		     const struct hvd_tspec *swapped, const struct hvd_tspec *extra, char *why, size_t len)
{
	const struct hvd_tspec *v[HVD_TENANT_MAX + 1];
	unsigned n = 0;
	for (struct tobj *o = T->list; o; o = o->next) {
		if (o == drop)
			continue;
		v[n++] = o == swap ? swapped : &o->spec;
	}
	if (extra)
		v[n++] = extra;
	return save(T, v, n, why, len);
}

/* Read the state file, if there is one. What is wrong with it is logged
 * and left out; the file is then kept as tenants.json.bad and replaced by
 * what was loaded. */
static void load(struct hvd_daemon *d)
{
	struct hvd_tenants *T = d->tobjs;
	char why[512];
	bool bad = false;
	struct stat st;
	char *buf = NULL;
	json_object *top = NULL;

	int fd = openat(T->dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		if (e != ENOENT) {
			hvd_err("%s/%s: %s; starting without tenant objects", T->dir, STATE_FILE,
				strerror(e));
			bad = e == ELOOP;
		}
		goto done;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > HVD_TENANT_STATE_MAX) {
		hvd_err("%s/%s: not a regular file of at most %d bytes; starting without tenant "
			"objects", T->dir, STATE_FILE, HVD_TENANT_STATE_MAX);
		bad = true;
		goto done;
	}
	buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size + 1) : -1;
	if (n < 0 || n > st.st_size) {
		hvd_err("%s/%s: cannot read it; starting without tenant objects", T->dir, STATE_FILE);
		bad = n > st.st_size;
		goto done;
	}
	buf[n] = '\0';
	json_object *list;
	top = hvd_tspec_parse_state(buf, (size_t)n, &list);
	if (!top) {
		hvd_err("%s/%s: not a version 1 tenants file; starting without tenant objects",
			T->dir, STATE_FILE);
		bad = true;
		goto done;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct hvd_tspec t;
		if (i >= HVD_TENANT_MAX) {
			hvd_err("%s/%s: more than %d tenants; the rest are left out", T->dir,
				STATE_FILE, HVD_TENANT_MAX);
			bad = true;
			break;
		}
		if (!hvd_tspec_from_json(json_object_array_get_idx(list, i), &t, why, sizeof(why))) {
			hvd_err("%s/%s: tenant #%zu (%s): %s; left out", T->dir, STATE_FILE, i + 1,
				t.name[0] ? t.name : "no name", why);
			bad = true;
			continue;
		}
		if (find(T, t.name) || hvp_has_tenant(d->policy, t.name)) {
			hvd_err("%s/%s: tenant %s: %s; left out", T->dir, STATE_FILE, t.name,
				find(T, t.name) ? "listed twice" :
				"the configuration has a [tenant] section of that name");
			bad = true;
			continue;
		}
		struct tobj *o = calloc(1, sizeof(*o));
		if (!o) {
			bad = true;
			break;
		}
		o->spec = t;
		o->fd = -1;
		o->key = ++T->next_key;
		o->d = d;
		insert(T, o);
	}
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	json_object_put(top);
	if (!bad)
		return;
	/* Keep what was there for the administrator, and make the file say
	 * what is in force. */
	if (renameat(T->dirfd, STATE_FILE, T->dirfd, STATE_BAD) == 0)
		hvd_err("%s/%s: kept as %s", T->dir, STATE_FILE, STATE_BAD);
	if (save_with(T, NULL, NULL, NULL, NULL, why, sizeof(why)) < 0)
		hvd_err("%s", why);
}

/* ---- life ---- */

void hvd_tenants_init(struct hvd_daemon *d, const char *dir, const struct hvd_identity_drop *drop)
{
	struct hvd_tenants *T = calloc(1, sizeof(*T));
	struct stat st;
	char why[512];

	if (!T) {
		hvd_err("no memory for tenant objects");
		return;
	}
	d->tobjs = T;
	T->dirfd = -1;
	T->janitor_fd = -1;
	T->uid = drop && drop->drop ? drop->uid : geteuid();
	if (drop)
		T->drop = *drop;
	uv_timer_init(d->loop, &T->retry);
	T->retry.data = d;
	T->started = true;
	if (strlen(dir) >= sizeof(T->dir)) {
		snprintf(T->unusable, sizeof(T->unusable), "the state directory's path is longer "
			 "than %zu bytes", sizeof(T->dir) - 1);
		goto unusable;
	}
	snprintf(T->dir, sizeof(T->dir), "%s", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(T->unusable, sizeof(T->unusable), "state directory %s: %s", dir,
			 strerror(errno));
		goto unusable;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(T->unusable, sizeof(T->unusable), "state directory %s: %s", dir,
			 strerror(errno));
		goto unusable;
	}
	/* hvd writes in it once it is its own uid. */
	if (drop && drop->drop && geteuid() == 0 && fchown(fd, drop->uid, drop->gid) < 0)
		hvd_warn("state directory %s: chown: %s", dir, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_uid != T->uid || (st.st_mode & 022)) {
		snprintf(T->unusable, sizeof(T->unusable),
			 "state directory %s must belong to hvd (uid %u) and be writable by it "
			 "alone", dir, (unsigned)T->uid);
		close(fd);
		goto unusable;
	}
	T->dirfd = fd;
	janitor_start(T);
	load(d);
	for (struct tobj *o = T->list; o; o = o->next) {
		if (o->spec.socket[0] && sock_open(d, o, true, why, sizeof(why)) < 0)
			hvd_err("tenant %s: no socket: %s (hvctl tenant rm and add it again)",
				o->spec.name, why);
	}
	if (T->n)
		hvd_info("%u tenant objects from %s/%s, %u with a socket", T->n, T->dir, STATE_FILE,
			 T->nsockets);
	return;
unusable:
	hvd_warn("%s: tenant objects cannot be added (--state-dir)", T->unusable);
}

void hvd_tenants_stop(struct hvd_daemon *d)
{
	struct hvd_tenants *T = d->tobjs;
	if (!T || !T->started)
		return;
	for (struct tobj *o = T->list; o; o = o->next)
		sock_close(T, o, false);
	uv_timer_stop(&T->retry);
	uv_close((uv_handle_t *)&T->retry, NULL);
	T->started = false;
	/* Nothing left for it: EOF ends it. */
	if (T->janitor_fd >= 0)
		close(T->janitor_fd);
	T->janitor_fd = -1;
}

void hvd_tenants_fini(struct hvd_daemon *d)
{
	struct hvd_tenants *T = d->tobjs;
	if (!T)
		return;
	while (T->list) {
		struct tobj *o = T->list;
		T->list = o->next;
		free(o);
	}
	if (T->dirfd >= 0)
		close(T->dirfd);
	free(T);
	d->tobjs = NULL;
}

/* ---- replies ---- */

static Hvdp__TenantQuota *pquota(const struct hvp_quota *q, uint32_t only)
{
	Hvdp__TenantQuota *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	hvdp__tenant_quota__init(p);
	for (unsigned i = 0; i < HVD_TSPEC_NQ; i++)
		if (only & (1u << i))
			pq_put(p, i, hvd_tspec_qget(q, i));
	return p;
}

static void pinfo_free(Hvdp__TenantInfo *ti)
{
	if (!ti)
		return;
	if (ti->spec) {
		free(ti->spec->name);
		free(ti->spec->socket);
		free(ti->spec->uids);
		free(ti->spec->gids);
		for (size_t i = 0; i < ti->spec->n_entitlements; i++)
			free(ti->spec->entitlements[i]);
		free(ti->spec->entitlements);
		free(ti->spec->quota);
		free(ti->spec);
	}
	free(ti->effective);
	free(ti);
}

static Hvdp__TenantInfo *pinfo(struct hvd_daemon *d, const struct tobj *o)
{
	Hvdp__TenantInfo *ti = calloc(1, sizeof(*ti));
	Hvdp__TenantSpec *sp = calloc(1, sizeof(*sp));
	const struct hvd_tspec *t = &o->spec;

	if (!ti || !sp) {
		free(ti);
		free(sp);
		return NULL;
	}
	hvdp__tenant_info__init(ti);
	hvdp__tenant_spec__init(sp);
	ti->spec = sp;
	sp->name = strdup(t->name);
	sp->socket = strdup(t->socket);
	sp->socket_mode = t->mode;
	sp->uids = calloc(t->nuids + 1, sizeof(*sp->uids));
	sp->gids = calloc(t->ngids + 1, sizeof(*sp->gids));
	sp->entitlements = calloc(HVD_TSPEC_NENTS, sizeof(*sp->entitlements));
	sp->quota = pquota(&t->quota, t->quota_set);
	sp->quota_set = t->quota_set;
	struct hvp_quota eff = effective(d, t);
	ti->effective = pquota(&eff, (1u << HVD_TSPEC_NQ) - 1);
	if (!sp->name || !sp->socket || !sp->uids || !sp->gids || !sp->entitlements ||
	    !sp->quota || !ti->effective) {
		pinfo_free(ti);
		return NULL;
	}
	for (unsigned i = 0; i < t->nuids; i++)
		sp->uids[sp->n_uids++] = t->uids[i];
	for (unsigned i = 0; i < t->ngids; i++)
		sp->gids[sp->n_gids++] = t->gids[i];
	for (unsigned i = 0; i < HVD_TSPEC_NENTS; i++) {
		uint32_t bit;
		const char *name = hvd_tspec_ent_name(i, &bit);
		if ((t->ents & bit) && (sp->entitlements[sp->n_entitlements] = strdup(name)))
			sp->n_entitlements++;
	}
	for (const struct hvd_tenant *u = d->tenants; u; u = u->next) {
		if (strcmp(u->name, t->name) == 0) {
			ti->vms = u->usage.vms;
			ti->vcpus = u->usage.vcpus;
			ti->memory = u->usage.memory;
			ti->mappings = u->usage.mappings;
		}
	}
	for (const struct hvd_session *s = d->sessions; s; s = s->next)
		ti->clients += !s->closing && strcmp(s->grant.tenant, t->name) == 0;
	ti->listening = o->fd >= 0;
	return ti;
}

void hvd_tenant_reply_free(Hvdp__Response *resp)
{
	if (resp->tenant_list) {
		for (size_t i = 0; i < resp->tenant_list->n_tenants; i++)
			pinfo_free(resp->tenant_list->tenants[i]);
		free(resp->tenant_list->tenants);
		free(resp->tenant_list);
	}
	pinfo_free(resp->tenant_info);
	resp->tenant_list = NULL;
	resp->tenant_info = NULL;
}

/* ---- the requests ---- */

static int fail(Hvdp__Response *resp, int32_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(Hvdp__Response *resp, int32_t status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->error = errbuf;
	return -1;
}

/* Defence in depth: the dispatch row (HVP_ACT_ADMIN) already refuses
 * non-administrators, and a tenant-socket session never is one. */
static bool refused(struct hvd_session *s, Hvdp__Response *resp)
{
	if (s->bound || !s->admin) {
		fail(resp, HV_DENIED, "tenant objects are for administrators on the main socket");
		return true;
	}
	if (!s->d->tobjs) {
		fail(resp, HV_ERROR, "tenant objects are not available (out of memory at start)");
		return true;
	}
	return false;
}

/* A request's spec into `t` (over what `t` holds, for set). */
/* `lists`: bit 0 the uids, bit 1 the gids. */
static bool spec_from_req(const Hvdp__TenantSpec *p, struct hvd_tspec *t, unsigned lists,
			  bool ents_too, Hvdp__Response *resp)
{
	if (p->n_uids > HVD_TSPEC_MAX_IDS || p->n_gids > HVD_TSPEC_MAX_IDS) {
		fail(resp, HV_BAD_ARGUMENT, "at most %d uids and %d gids", HVD_TSPEC_MAX_IDS,
		     HVD_TSPEC_MAX_IDS);
		return false;
	}
	if (lists & 1) {
		t->nuids = 0;
		for (size_t i = 0; i < p->n_uids; i++)
			t->uids[t->nuids++] = p->uids[i];
	}
	if (lists & 2) {
		t->ngids = 0;
		for (size_t i = 0; i < p->n_gids; i++)
			t->gids[t->ngids++] = p->gids[i];
	}
	if (ents_too) {
		t->ents = 0;
		for (size_t i = 0; i < p->n_entitlements; i++) {
			uint32_t bit;
			if (hvd_tspec_ent_bit(p->entitlements[i], &bit) < 0) {
				fail(resp, HV_BAD_ARGUMENT, "%.80s: not an entitlement hvd knows "
				     "(%s, %s, %s)", p->entitlements[i], HVP_ENT_HYPERVISOR,
				     HVP_ENT_NETWORKING, HVP_ENT_DEVICE_ACCESS);
				return false;
			}
			t->ents |= bit;
		}
	}
	if (p->quota_set & ~((1u << HVD_TSPEC_NQ) - 1)) {
		fail(resp, HV_BAD_ARGUMENT, "unknown quota field");
		return false;
	}
	for (unsigned i = 0; i < HVD_TSPEC_NQ; i++) {
		if (!(p->quota_set & (1u << i)))
			continue;
		hvd_tspec_qput(&t->quota, i, p->quota ? pq_get(p->quota, i) : 0);
		t->quota_set |= 1u << i;
	}
	return true;
}

static bool strfits(const char *s, size_t max)
{
	return s && strnlen(s, max) < max;
}

int hvd_tenant_add(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_daemon *d = s->d;
	struct hvd_tenants *T = d->tobjs;
	const Hvdp__TenantSpec *p = req->admin_tenant_add->spec;
	char why[512];
	struct hvd_tspec t;
	(void)fd;

	if (refused(s, resp))
		return -1;
	if (!p || !strfits(p->name, HVP_NAME_MAX) || !strfits(p->socket, SOCK_PATH_MAX))
		return fail(resp, HV_BAD_ARGUMENT, "a tenant needs a name (at most %d characters), "
			    "and a socket path of at most %d bytes", HVP_NAME_MAX - 1,
			    SOCK_PATH_MAX - 1);
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", p->name);
	snprintf(t.socket, sizeof(t.socket), "%s", p->socket);
	t.mode = p->socket_mode ? p->socket_mode : 0600;
	if (!spec_from_req(p, &t, 3, true, resp))
		return -1;
	if (!hvd_tspec_ok(&t, why, sizeof(why)))
		return fail(resp, HV_BAD_ARGUMENT, "%s", why);
	if (find(T, t.name))
		return fail(resp, HV_BAD_ARGUMENT, "tenant %s exists (hvctl tenant set changes it)",
			    t.name);
	if (hvp_has_tenant(d->policy, t.name))
		return fail(resp, HV_BAD_ARGUMENT, "the configuration has a [tenant %s] section: "
			    "choose another name", t.name);
	if (T->n >= HVD_TENANT_MAX)
		return fail(resp, HV_NO_RESOURCES, "already %d tenant objects (the most hvd keeps)",
			    HVD_TENANT_MAX);
	if (T->dirfd < 0)
		return fail(resp, HV_ERROR, "tenants cannot be kept: %s", T->unusable);
	for (struct tobj *o = T->list; t.socket[0] && o; o = o->next)
		if (strcmp(o->spec.socket, t.socket) == 0)
			return fail(resp, HV_BAD_ARGUMENT, "%s is tenant %s's socket", t.socket,
				    o->spec.name);
	struct tobj *o = calloc(1, sizeof(*o));
	if (!o)
		return fail(resp, HV_NO_RESOURCES, "out of memory");
	o->spec = t;
	o->fd = -1;
	o->d = d;
	int r;
	if (t.socket[0] && (r = sock_open(d, o, false, why, sizeof(why))) < 0) {
		free(o);
		return fail(resp, r == -ENOSPC ? HV_NO_RESOURCES : HV_BAD_ARGUMENT, "%s", why);
	}
	if (save_with(T, NULL, NULL, NULL, &o->spec, why, sizeof(why)) < 0) {
		sock_close(T, o, true);
		return fail(resp, HV_ERROR, "%s", why);
	}
	o->key = ++T->next_key;
	insert(T, o);
	hvd_audit(s, "admin_tenant_add", "done", t.name);
	hvd_info("tenant %s added%s%s", t.name, t.socket[0] ? ", listening on " : "", t.socket);
	reevaluate(d);
	resp->tenant_info = pinfo(d, o);
	return -1;
}

int hvd_tenant_list(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_daemon *d = s->d;
	(void)req;
	(void)fd;

	if (refused(s, resp))
		return -1;
	Hvdp__TenantList *l = calloc(1, sizeof(*l));
	if (!l)
		return fail(resp, HV_NO_RESOURCES, "out of memory");
	hvdp__tenant_list__init(l);
	l->tenants = calloc(d->tobjs->n + 1, sizeof(*l->tenants));
	resp->tenant_list = l;
	/* HVD_TENANT_MAX keeps a listing within one admin reply; should the
	 * tenants' lists all be at their longest, it ends short and says so
	 * rather than not answer. */
	size_t bytes = 0;
	for (struct tobj *o = d->tobjs->list; l->tenants && o; o = o->next) {
		Hvdp__TenantInfo *ti = pinfo(d, o);
		if (!ti)
			continue;
		bytes += hvdp__tenant_info__get_packed_size(ti) + 8;
		if (bytes > HVD_MAX_ADMIN_MESSAGE - 1024) {
			pinfo_free(ti);
			resp->error = "the listing ends here: it would not fit in one reply";
			break;
		}
		l->tenants[l->n_tenants++] = ti;
	}
	return -1;
}

int hvd_tenant_show(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	const char *name = req->admin_tenant_show->name;
	(void)fd;

	if (refused(s, resp))
		return -1;
	struct tobj *o = strfits(name, HVP_NAME_MAX) ? find(s->d->tobjs, name) : NULL;
	if (!o)
		return fail(resp, HV_BAD_ARGUMENT, "no tenant object %.64s", name ? name : "");
	resp->tenant_info = pinfo(s->d, o);
	return -1;
}

int hvd_tenant_set(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_daemon *d = s->d;
	const Hvdp__AdminTenantSet *q = req->admin_tenant_set;
	const Hvdp__TenantSpec *p = q->spec;
	char why[512];
	(void)fd;

	if (refused(s, resp))
		return -1;
	struct tobj *o = p && strfits(p->name, HVP_NAME_MAX) ? find(d->tobjs, p->name) : NULL;
	if (!o)
		return fail(resp, HV_BAD_ARGUMENT, "no tenant object %.64s",
			    p && p->name ? p->name : "");
	if ((p->socket && p->socket[0] && strcmp(p->socket, o->spec.socket) != 0) ||
	    (p->socket_mode && p->socket_mode != o->spec.mode))
		return fail(resp, HV_BAD_ARGUMENT, "a tenant's socket cannot change: remove the "
			    "tenant and add it again");
	struct hvd_tspec t = o->spec;
	if (q->quota_clear & ~((1u << HVD_TSPEC_NQ) - 1))
		return fail(resp, HV_BAD_ARGUMENT, "unknown quota field");
	t.quota_set &= ~q->quota_clear;
	for (unsigned i = 0; i < HVD_TSPEC_NQ; i++)
		if (q->quota_clear & (1u << i))
			hvd_tspec_qput(&t.quota, i, 0);
	if (!spec_from_req(p, &t, (q->set_uids ? 1 : 0) | (q->set_gids ? 2 : 0),
			   q->set_entitlements, resp))
		return -1;
	if (!hvd_tspec_ok(&t, why, sizeof(why)))
		return fail(resp, HV_BAD_ARGUMENT, "%s", why);
	if (save_with(d->tobjs, NULL, o, &t, NULL, why, sizeof(why)) < 0)
		return fail(resp, HV_ERROR, "%s", why);
	o->spec = t;
	hvd_audit(s, "admin_tenant_set", "done", t.name);
	hvd_info("tenant %s changed", t.name);
	/* New quotas apply to its sessions' next requests (and CPU budgets
	 * at their vCPUs' next entry). */
	reevaluate(d);
	resp->tenant_info = pinfo(d, o);
	return -1;
}

int hvd_tenant_remove(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_daemon *d = s->d;
	struct hvd_tenants *T = d->tobjs;
	const Hvdp__AdminTenantRemove *q = req->admin_tenant_remove;
	char why[512];
	(void)fd;

	if (refused(s, resp))
		return -1;
	struct tobj *o = strfits(q->name, HVP_NAME_MAX) ? find(T, q->name) : NULL;
	if (!o)
		return fail(resp, HV_BAD_ARGUMENT, "no tenant object %.64s", q->name ? q->name : "");
	unsigned vms = 0;
	for (struct hvd_session *x = d->sessions; x; x = x->next)
		vms += !x->closing && hvd_session_has_vm(x) && (x->bound == o->key ||
						 strcmp(x->grant.tenant, o->spec.name) == 0);
	if (vms && !q->force)
		return fail(resp, HV_BUSY, "tenant %s has %u VM%s running (--force destroys them)",
			    o->spec.name, vms, vms == 1 ? "" : "s");
	if (save_with(T, o, NULL, NULL, NULL, why, sizeof(why)) < 0)
		return fail(resp, HV_ERROR, "%s", why);
	char name[HVP_NAME_MAX];
	snprintf(name, sizeof(name), "%s", o->spec.name);
	uint64_t key = o->key;
	unlink_obj(T, o);
	sock_close(T, o, true);
	/* Its socket's sessions go with it; with --force, so do the VMs of
	 * the clients it held on the main socket. Closing only marks a
	 * session: the list stays walkable. */
	for (struct hvd_session *x = d->sessions; x; x = x->next) {
		if (x->closing)
			continue;
		if (x->bound == key || (q->force && hvd_session_has_vm(x) && strcmp(x->grant.tenant, name) == 0))
			hvd_session_close(x, "its tenant was removed");
	}
	hvd_audit(s, "admin_tenant_remove", "done", name);
	hvd_info("tenant %s removed%s", name, vms ? " with its VMs" : "");
	reevaluate(d);
	return -1;
}
