/*
 * hvctl policy: `check FILE` validates a configuration offline with the
 * same library hvd uses (no hvd needed); `reload` asks hvd to load its
 * file again (a broken file leaves the old policy in force); `explain
 * --pid PID` shows what hvd would grant a process, and why, and `explain
 * --uid N --exe PATH` what it would grant one that does not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "hvp.h"
#include "ipc.h"
#include "out.h"

static const char usage_policy[] =
	"policy check [--strict] [--user USER] FILE | reload |\n"
	"       explain (--pid PID | --uid N [--gid G] [--exe PATH]) [--json]";

/* ---- check ---- */

struct check {
	const char *path;
	unsigned warnings;
};

static void check_warn(void *arg, int line, const char *msg)
{
	struct check *c = arg;

	c->warnings++;
	if (line > 0)
		fprintf(stderr, "%s:%d: warning: %s\n", c->path, line, msg);
	else
		fprintf(stderr, "%s: warning: %s\n", c->path, msg);
}

static void check_warnf(struct check *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check_warnf(struct check *c, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	check_warn(c, line, msg);
}

/* Whom hvd opens its audit log as: the uid it starts as (it opens the log
 * before dropping privileges), which is user hvd under the systemd unit
 * (User=hvd) and root when started by hand. */
struct as_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[HVP_MAX_GROUPS];
	int ngroups;
	char name[64];
};

static int as_user_resolve(const char *spec, struct as_user *u)
{
	struct passwd *pw = NULL;
	uint64_t v;

	memset(u, 0, sizeof(*u));
	if (spec && hvctl_parse_u64(spec, (uid_t)-2, &v))
		pw = getpwuid((uid_t)v);
	else if (spec)
		pw = getpwnam(spec);
	else if (!(pw = getpwnam("hvd")))
		pw = getpwuid(geteuid());
	if (!pw) {
		if (!spec || !hvctl_parse_u64(spec, (uid_t)-2, &v))
			return -ENOENT;
		/* A bare uid with no passwd entry: its own group, no others. */
		u->uid = (uid_t)v;
		u->gid = (gid_t)v;
		snprintf(u->name, sizeof(u->name), "uid %u", u->uid);
		return 0;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof(u->name), "user %s (uid %u)", pw->pw_name, pw->pw_uid);
	u->ngroups = HVP_MAX_GROUPS;
	if (getgrouplist(pw->pw_name, pw->pw_gid, u->groups, &u->ngroups) < 0)
		u->ngroups = HVP_MAX_GROUPS;
	return 0;
}

/* May `u` do `mode` (W_OK, X_OK...) to `st`? By the mode bits, as the
 * kernel decides without ACLs; root may do anything but execute a file
 * nobody may. */
static bool may(const struct as_user *u, const struct stat *st, unsigned mode)
{
	unsigned bits;

	if (u->uid == 0)
		return true;
	if (st->st_uid == u->uid) {
		bits = (st->st_mode >> 6) & 7;
	} else {
		bool in = st->st_gid == u->gid;
		for (int i = 0; !in && i < u->ngroups; i++)
			in = st->st_gid == u->groups[i];
		bits = in ? (st->st_mode >> 3) & 7 : st->st_mode & 7;
	}
	return (bits & mode) == mode;
}

/* What hvd does with the audit path at start (hvd_policy.c): fopen(path,
 * "a") as the uid it starts as. Each way that fails, or blocks, is a
 * warning: the file is valid, and hvd would still not start. */
static void check_audit(struct check *c, const struct hvp_policy *p, const struct as_user *u)
{
	const char *a = hvp_audit_path(p);
	int line = hvp_audit_line(p);
	struct stat st, dst;
	struct statvfs vfs;

	if (!a || !*a || strcmp(a, "-") == 0)
		return;
	if (a[0] != '/') {
		check_warnf(c, line, "audit log %s is a relative path: hvd opens it relative "
			    "to the directory it is started in (/ under systemd); give an "
			    "absolute path", a);
		return;
	}
	if (stat(a, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			check_warnf(c, line, "audit log %s is a directory: hvd cannot open it "
				    "and would not start; name a file in it, e.g. %s/audit.jsonl",
				    a, a);
			return;
		}
		if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
			check_warnf(c, line, "audit log %s is not a regular file (%s): hvd %s",
				    a, S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ?
				    "a socket" : "a block device", S_ISFIFO(st.st_mode) ?
				    "would block at start until something reads it" :
				    "cannot append to it");
			return;
		}
		if (!may(u, &st, 2))
			check_warnf(c, line, "audit log %s is not writable by %s, whom hvd opens "
				    "it as: hvd would not start (chown it, or check as another "
				    "uid with --user)", a, u->name);
		else if (S_ISREG(st.st_mode) && statvfs(a, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
			check_warnf(c, line, "audit log %s is on a read-only file system: hvd "
				    "would not start", a);
		return;
	}
	if (errno != ENOENT) {
		check_warnf(c, line, "audit log %s cannot be checked: %s", a, strerror(errno));
		return;
	}
	/* hvd creates it: its directory must exist and let the uid in. */
	char dir[4096];
	const char *slash = strrchr(a, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash == a ? 1 : (int)(slash - a), a);
	if (stat(dir, &dst) < 0) {
		check_warnf(c, line, "audit log %s: its directory %s %s: hvd cannot create the "
			    "log and would not start", a, dir, errno == ENOENT ? "does not exist" :
			    strerror(errno));
		return;
	}
	if (!S_ISDIR(dst.st_mode)) {
		check_warnf(c, line, "audit log %s: %s is not a directory: hvd would not start",
			    a, dir);
		return;
	}
	if (!may(u, &dst, 3))
		check_warnf(c, line, "audit log %s does not exist and %s, whom hvd opens it as, "
			    "may not create it in %s: hvd would not start (create the file "
			    "for it, or check as another uid with --user)", a, u->name, dir);
	else if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
		check_warnf(c, line, "audit log %s: %s is on a read-only file system: hvd would "
			    "not start", a, dir);
}

static const char usage_check[] = "policy check [--strict] [--user USER] FILE";

static int policy_check(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "strict", no_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hvp_policy *p = NULL;
	struct check chk = { 0 };
	struct as_user u;
	const char *user = NULL;
	char err[1024];
	unsigned loaded = 0, rejected = 0;
	bool strict = false;
	const char *why;
	int c;

	(void)ctx;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			strict = true;
			break;
		case 'u':
			user = optarg;
			break;
		case 'h':
			printf("Usage: hvctl %s\n", usage_check);
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("policy check", "%s needs an argument", argv[optind - 1]);
		default:
			return hvctl_usage("policy check", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return hvctl_usage("policy check", "which file? e.g. /etc/hvd/hvd.conf");
	if (optind + 1 < argc)
		return hvctl_usage("policy check", "unexpected argument '%s'", argv[optind + 1]);
	if (as_user_resolve(user, &u) < 0)
		return hvctl_usage("policy check", "--user %s: no such user", user ? user : "");

	const char *path = argv[optind];
	chk.path = path;
	if (hvp_policy_load_warn(path, getuid(), check_warn, &chk, &p, err, sizeof(err)) < 0) {
		/* hvp's message is already "FILE:LINE: problem". */
		fprintf(stderr, "%s\n", err[0] ? err : path);
		return HVCTL_EXIT_FAILED;
	}
	check_audit(&chk, p, &u);
	hvp_grant_counts(p, &loaded, &rejected);
	unsigned rules = hvp_rule_count(p);
	/* A rejected grant does not make the file wrong, but whoever wrote it
	 * wants to know: it is a warning like the others. */
	for (unsigned i = 0; (why = hvp_grant_rejected(p, i)); i++)
		check_warnf(&chk, 0, "grant rejected: %s", why);
	hvp_policy_free(p);
	if (chk.warnings && strict) {
		fprintf(stderr, "%s: %u warning%s, failing (--strict)\n", path, chk.warnings,
			chk.warnings == 1 ? "" : "s");
		return HVCTL_EXIT_FAILED;
	}
	printf("%s: OK (%u rules, %u grants loaded, %u rejected", path, rules, loaded, rejected);
	if (chk.warnings)
		printf(", %u warning%s", chk.warnings, chk.warnings == 1 ? "" : "s");
	printf(")\n");
	return HVCTL_EXIT_OK;
}

/* ---- reload ---- */

static int policy_reload(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminPolicyReload op = HVDP__ADMIN_POLICY_RELOAD__INIT;
	Hvdp__AdminStatus st = HVDP__ADMIN_STATUS__INIT;
	Hvdp__Response *resp;
	struct hvctl_conn c;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, NULL, "policy reload")) >= 0)
		return r;
	if (optind < argc)
		return hvctl_usage("policy reload", "unexpected argument '%s'", argv[optind]);
	if ((r = hvctl_open(ctx, "policy reload", &c, 0)) != HVCTL_EXIT_OK)
		return r;
	req.op_case = HVDP__REQUEST__OP_ADMIN_POLICY_RELOAD;
	req.admin_policy_reload = &op;
	if ((r = hvctl_call(&c, &req, &resp)) != HVCTL_EXIT_OK)
		goto out_conn;
	if (resp->status != 0) {
		/* hvd's words name the cause (a line of the file, a file or
		 * an audit log it cannot open as the uid it runs as): they
		 * are printed as they are, without guessing at a fix. */
		hvctl_report_status("policy reload", resp, "the old policy stays in force");
		hvdp__response__free_unpacked(resp, NULL);
		r = HVCTL_EXIT_FAILED;
		goto out_conn;
	}
	hvdp__response__free_unpacked(resp, NULL);

	/* Say what is in force now; the reload has happened either way. */
	req.op_case = HVDP__REQUEST__OP_ADMIN_STATUS;
	req.admin_status = &st;
	if (hvctl_call(&c, &req, &resp) == HVCTL_EXIT_OK && resp->status == 0 &&
	    resp->status_reply)
		printf("policy reloaded from %s (%u grants loaded, %u rejected)\n",
		       resp->status_reply->policy_source, resp->status_reply->grants_loaded,
		       resp->status_reply->grants_rejected);
	else
		printf("policy reloaded\n");
	if (resp)
		hvdp__response__free_unpacked(resp, NULL);
	r = HVCTL_EXIT_OK;
out_conn:
	hvctl_close(&c);
	return r;
}

/* ---- explain ---- */

static int explain_json(int32_t pid, const Hvdp__ExplainReply *e)
{
	json_object *groups = NULL;
	json_object *o = json_object_new_object();
	json_object *q = json_object_new_object();

	if (!o || !q) {
		json_object_put(o);
		json_object_put(q);
		return hvctl_json_print(NULL);
	}
	if (e->by_identity)
		json_object_object_add(o, "pid", NULL);
	else
		hvctl_json_i64(o, "pid", pid);
	hvctl_json_str(o, "exe", e->exe);
	hvctl_json_str(o, "exe_blake2b", e->exe_blake2b);
	hvctl_json_str(o, "exe_refused", e->exe_refused);
	hvctl_json_u64(o, "uid", e->uid);
	if (e->by_identity) {
		hvctl_json_u64(o, "gid", e->gid);
		groups = json_object_new_array();
		for (size_t i = 0; groups && i < e->n_groups; i++)
			json_object_array_add(groups, json_object_new_int64(e->groups[i]));
		json_object_object_add(o, "groups", groups);
	}
	hvctl_json_bool(o, "admin", e->admin);
	hvctl_json_str(o, "tenant", e->tenant);
	json_object_object_add(o, "entitlements",
			       hvctl_json_strv(e->entitlements, e->n_entitlements));
	json_object_object_add(o, "unknown_entitlements",
			       hvctl_json_strv(e->unknown_entitlements, e->n_unknown_entitlements));
	hvctl_json_u64(q, "max_vms", e->max_vms);
	hvctl_json_u64(q, "max_vcpus_per_vm", e->max_vcpus_per_vm);
	hvctl_json_u64(q, "max_vcpus", e->max_vcpus);
	hvctl_json_u64(q, "max_memory", e->max_memory);
	hvctl_json_u64(q, "max_mappings", e->max_mappings);
	hvctl_json_u64(q, "max_rpc_rate", e->max_rpc_rate);
	hvctl_json_u64(q, "max_cpu_percent", e->max_cpu_percent);
	json_object_object_add(o, "quota", q);
	hvctl_json_str(o, "reason", e->reason);
	return hvctl_json_print(o);
}

static void kv_list(const char *key, char **v, size_t n)
{
	if (n == 0) {
		hvctl_kv(key, "none");
		return;
	}
	for (size_t i = 0; i < n; i++)
		hvctl_kv(i ? "" : key, "%s", v[i]);
}

static void explain_human(int32_t pid, const Hvdp__ExplainReply *e)
{
	char buf[64];

	if (e->by_identity)
		hvctl_kv("pid", "none (asked by identity)");
	else
		hvctl_kv("pid", "%d", pid);
	hvctl_kv("executable", "%s", *e->exe ? e->exe : "(none given)");
	hvctl_kv("BLAKE2b-256", "%s", *e->exe_blake2b ? e->exe_blake2b : "(not hashed)");
	if (*e->exe_refused)
		hvctl_kv("executable rights", "none: %s", e->exe_refused);
	hvctl_kv("uid", "%u", e->uid);
	if (e->by_identity) {
		hvctl_kv("gid", "%u", e->gid);
		if (!e->n_groups)
			hvctl_kv("groups", "none");
		for (size_t i = 0; i < e->n_groups; i++)
			hvctl_kv(i ? "" : "groups", "%u", e->groups[i]);
	}
	hvctl_kv("admin", "%s", e->admin ? "yes" : "no");
	hvctl_kv("tenant", "%s", e->tenant);
	kv_list("entitlements", e->entitlements, e->n_entitlements);
	if (e->n_unknown_entitlements)
		kv_list("unknown (ignored)", e->unknown_entitlements, e->n_unknown_entitlements);
	hvctl_kv("max VMs", "%u", e->max_vms);
	hvctl_kv("max vCPUs per VM", "%u", e->max_vcpus_per_vm);
	hvctl_kv("max vCPUs", "%u", e->max_vcpus);
	hvctl_kv("max memory", "%s", hvctl_fmt_bytes(buf, sizeof(buf), e->max_memory));
	hvctl_kv("max mappings", "%u", e->max_mappings);
	if (e->max_rpc_rate)
		hvctl_kv("max RPC rate", "%u/s", e->max_rpc_rate);
	else
		hvctl_kv("max RPC rate", "unlimited");
	if (e->max_cpu_percent)
		hvctl_kv("max CPU", "%u%% of one CPU", e->max_cpu_percent);
	else
		hvctl_kv("max CPU", "unlimited");
	hvctl_kv("reason", "%s", e->reason);
}

static const char usage_explain[] =
	"policy explain --pid PID [--json]\n"
	"       hvctl policy explain --uid N [--gid G] [--exe PATH] [--json]";

/* The groups a uid has from the passwd and group databases, as a login
 * would: its primary group (or `gid`) and the groups naming it. */
static int identity_of(uint32_t uid, bool have_gid, uint32_t gid, Hvdp__AdminPolicyExplain *op,
		       uint32_t *groups)
{
	struct passwd *pw = getpwuid((uid_t)uid);
	gid_t g[HVP_MAX_GROUPS];
	int n = HVP_MAX_GROUPS;

	op->uid = uid;
	if (!pw) {
		if (!have_gid)
			return hvctl_usage("policy explain", "uid %u has no passwd entry: give "
					   "its group with --gid", uid);
		op->gid = gid;
		return HVCTL_EXIT_OK;
	}
	op->gid = have_gid ? gid : pw->pw_gid;
	if (getgrouplist(pw->pw_name, (gid_t)op->gid, g, &n) < 0) {
		hvctl_err("policy explain", "user %s is in more than %d groups — hvd looks at "
			  "the first %d only", pw->pw_name, HVP_MAX_GROUPS, HVP_MAX_GROUPS);
		n = HVP_MAX_GROUPS;
	}
	op->groups = groups;
	for (int i = 0; i < n; i++)
		if (g[i] != (gid_t)op->gid)
			groups[op->n_groups++] = g[i];
	return HVCTL_EXIT_OK;
}

static int policy_explain(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "exe", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminPolicyExplain op = HVDP__ADMIN_POLICY_EXPLAIN__INIT;
	Hvdp__Response *resp;
	bool json = false, have_pid = false, have_uid = false, have_gid = false;
	uint64_t pid = 0, uid = 0, gid = 0;
	uint32_t groups[HVP_MAX_GROUPS];
	const char *exe = NULL;
	char exe_abs[4096];
	int c, r, fd = -1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!hvctl_parse_u64(optarg, INT32_MAX, &pid) || pid == 0)
				return hvctl_usage("policy explain", "'%s' is not a process id",
						   optarg);
			have_pid = true;
			break;
		case 'u':
			if (!hvctl_parse_u64(optarg, (uid_t)-2, &uid))
				return hvctl_usage("policy explain", "--uid %s: expected a numeric "
						   "uid", optarg);
			have_uid = true;
			break;
		case 'g':
			if (!hvctl_parse_u64(optarg, (gid_t)-2, &gid))
				return hvctl_usage("policy explain", "--gid %s: expected a numeric "
						   "gid", optarg);
			have_gid = true;
			break;
		case 'e':
			exe = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 's':
			ctx->socket = optarg;
			break;
		case 'h':
			printf("Usage: hvctl %s\n", usage_explain);
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("policy explain", "%s needs an argument",
					   argv[optind - 1]);
		default:
			return hvctl_usage("policy explain", "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (have_pid && (have_uid || have_gid || exe))
		return hvctl_usage("policy explain", "--pid asks about a running process; "
				   "--uid, --gid and --exe about one that is not: give one or the "
				   "other");
	if (!have_pid && !have_uid)
		return hvctl_usage("policy explain", "which process? Give --pid PID, or --uid N "
				   "[--exe PATH] for one that does not run");
	if ((have_gid || exe) && !have_uid)
		return hvctl_usage("policy explain", "--gid and --exe go with --uid");
	if (optind < argc)
		return hvctl_usage("policy explain", "unexpected argument '%s'", argv[optind]);
	if (have_uid) {
		op.by_identity = true;
		if ((r = identity_of((uint32_t)uid, have_gid, (uint32_t)gid, &op, groups)) !=
		    HVCTL_EXIT_OK)
			return r;
		if (exe) {
			/* hvd reads the file through this descriptor, opened
			 * with our rights, never by its path. Not blocking on
			 * a FIFO; what the file is, hvd checks. */
			fd = open(exe, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
			if (fd < 0) {
				hvctl_err("policy explain", "%s: %s — give the executable to "
					  "ask about", exe, strerror(errno));
				return HVCTL_EXIT_FAILED;
			}
			op.exe = realpath(exe, exe_abs) ? exe_abs : (char *)exe;
		}
	} else {
		op.pid = (int32_t)pid;
	}
	req.op_case = HVDP__REQUEST__OP_ADMIN_POLICY_EXPLAIN;
	req.admin_policy_explain = &op;
	r = hvctl_admin_fd(ctx, "policy explain", &req, fd,
			   have_uid ? "hvd reads the executable through the descriptor hvctl "
				      "sends: give a regular file of at most max_exe_size bytes" :
				      "check the pid (ps -p PID); hvd must be able to read "
				      "/proc/PID/exe",
			   &resp);
	if (fd >= 0)
		close(fd);
	if (r != HVCTL_EXIT_OK)
		return r;
	if (!resp->explain) {
		hvctl_err("policy explain", "hvd's reply has no explanation — use the hvctl "
			  "that came with hvd");
		r = HVCTL_EXIT_FAILED;
	} else if (json) {
		r = explain_json(op.pid, resp->explain);
	} else {
		explain_human(op.pid, resp->explain);
	}
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}

int hvctl_cmd_policy(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char *argv[], struct hvctl *ctx);
	} verbs[] = {
		{ "check", policy_check },
		{ "reload", policy_reload },
		{ "explain", policy_explain },
	};

	if (argc < 2)
		return hvctl_usage("policy", "expected check, reload or explain");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("Usage: hvctl %s\n", usage_policy);
		return HVCTL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) != 0)
			continue;
		optind = 0;
		return verbs[i].fn(argc - 1, argv + 1, ctx);
	}
	return hvctl_usage("policy", "unknown verb '%s'; expected check, reload or explain",
			   argv[1]);
}
