/*
 * hvd: owns every VM and vCPU on the machine (through KVM) on behalf of
 * sandboxed clients that link libhvclient.
 *
 *   hvd [--socket PATH] [--socket-mode MODE] [--socket-group GROUP]
 *       [--config FILE] [--state-dir DIR] [--log-level error|warn|info|debug]
 *       [--audit-stderr]
 *
 * Runs in the foreground, logs to the journal under systemd and to stderr
 * otherwise (hvd_log.c), stops cleanly on SIGTERM/SIGINT
 * (every VM torn down, socket removed), reloads its policy on SIGHUP. Once
 * listening it drops its capabilities and runs under seccomp filters
 * (hvd_sandbox.c).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "hvd.h"
#include "hvd_cgroup.h"
#include "hvd_dispatch.h"
#include "hvd_ident.h"
#include "hvd_log.h"
#include "hvd_memop.h"
#include "hvd_paths.h"
#include "hvd_policy.h"
#include "hvd_sandbox.h"
#include "hvd_session.h"
#include "hvd_tenant.h"
#include "hvd_time.h"
#include "hvd_worker.h"

/* Requests go to the dispatch table; a session's wake-up answers its
 * finished memory change. */
static const struct hvd_session_calls session_calls = {
	.request = hvd_dispatch,
	.woken = hvd_memop_poll,
};

/* Every long option in main()'s table appears here (tests/system checks
 * it against `hvd --help`). */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: hvd [--socket PATH] [--socket-mode MODE] [--socket-group GROUP]\n"
		"           [--config FILE] [--state-dir DIR] [--log-level LEVEL] [--audit-stderr]\n"
		"  --socket PATH        listen on PATH (default " HVD_DEFAULT_SOCKET "); ignored\n"
		"                       when systemd passes the socket (hvd.socket)\n"
		"  --socket-mode MODE   the socket file's mode, octal (default 0660, as\n"
		"                       hvd.socket); 0666 lets every local user connect\n"
		"  --socket-group GROUP the socket file's group, a name or number (default\n"
		"                       hvd when started as root, as hvd.socket; if there is\n"
		"                       no such group, root's, with a warning)\n"
		"  --config FILE        policy file (default " HVD_DEFAULT_CONFIG " if it\n"
		"                       exists, else the built-in policy: root and hvd's\n"
		"                       own uid may create VMs)\n"
		"  --state-dir DIR      where tenant objects are kept (default\n"
		"                       " HVD_DEFAULT_STATE_DIR ", made 0700)\n"
		"  --log-level LEVEL    error, warn, info (default) or debug; at run time:\n"
		"                       hvctl log-level LEVEL\n"
		"  --audit-stderr       write audit lines to stderr when the policy names no\n"
		"                       audit file (debugging; by default they go nowhere)\n"
		"  --no-sandbox         keep capabilities and run without the seccomp\n"
		"                       filters (debugging only)\n"
		"  --worker-pool N      worker processes kept started for new VMs (default 2)\n"
		"  --in-process         run VMs in hvd itself, not in worker processes\n"
		"                       (one process for every tenant: debugging only)\n"
		"  --cgroups            each tenant's worker processes in a cgroup of their\n"
		"                       own, where the kernel holds max_cpu_percent and\n"
		"                       max_memory (cgroup v2, or v1 cpu and memory)\n"
		"  --cgroup-root NAME   the directory of hvd's cgroups, under hvd's own\n"
		"                       cgroup (default hvd)\n"
		"  --version            print hvd's version and exit\n"
		"  --help               print this and exit\n");
}

/* The socket's group as asked (a name or a number). */
static int parse_group(const char *name, gid_t *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(name, &end, 10);
	if (*name && !*end && errno == 0 && n < (gid_t)-1) {
		*out = (gid_t)n;
		return 0;
	}
	struct group *g = getgrnam(name);
	if (!g)
		return -ENOENT;
	*out = g->gr_gid;
	return 0;
}

/* Anyone may connect to a Unix socket whose file others may write: say
 * so, since then the policy alone decides who does what. The path of an
 * activated socket is systemd's (hvd.socket), and only warned about. */
static void warn_world(const struct hvd_daemon *d, const char *path)
{
	struct sockaddr_un addr;
	socklen_t len = sizeof(addr);
	struct stat st;

	if (d->activated) {
		memset(&addr, 0, sizeof(addr));
		if (getsockname(d->listen_fd, (struct sockaddr *)&addr, &len) < 0 ||
		    addr.sun_family != AF_UNIX || !addr.sun_path[0])
			return;
		path = addr.sun_path;
	}
	if (stat(path, &st) == 0 && (st.st_mode & S_IWOTH))
		hvd_warn("the socket %s is world-connectable (mode %04o): any local user can "
			 "reach hvd, and only the policy decides what they may do%s", path,
			 (unsigned)(st.st_mode & 07777),
			 d->activated ? " (set SocketMode= in hvd.socket)" :
			 " (--socket-mode 0660 --socket-group GROUP limits it to a group)");
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/*
 * x86 KVM switches parts of itself on for the host's first VM and vCPU
 * and off again after the last: static keys (preempt notifiers, the local
 * APIC's), each change a patch of kernel text with IPIs to every CPU.
 * With no other VM on the host, every VM's creation and end paid it
 * (~250 us of a VM's create, map, vCPU and first run here; bench/README.md).
 * hvd holds one idle VM with one vCPU, never run and holding no memory,
 * for its lifetime, so that KVM stays on. After the zygote's fork: no
 * worker inherits it. Not essential: without it VMs only start slower.
 */
static void keep_kvm_warm(struct hvd_daemon *d)
{
	if (!d->be->x86)
		return; /* measured on x86 only */
	int r = d->be->vm_create(d->host, 0, &d->idle_vm);
	if (r == 0 && (r = d->be->vcpu_create(d->idle_vm, 0, &d->idle_vcpu)) < 0) {
		d->be->vm_destroy(d->idle_vm);
		d->idle_vm = NULL;
	}
	if (r < 0)
		hvd_warn("no idle VM to keep KVM's first-VM set-up (%s): each VM starts slower "
			 "when it is the host's only one", strerror(-r));
}

static void let_kvm_cool(struct hvd_daemon *d)
{
	if (d->idle_vcpu)
		d->be->vcpu_destroy(d->idle_vcpu);
	if (d->idle_vm)
		d->be->vm_destroy(d->idle_vm);
	d->idle_vcpu = NULL;
	d->idle_vm = NULL;
}

static void on_hup(uv_signal_t *h, int signum)
{
	struct hvd_daemon *d = h->data;
	char err[512];
	(void)signum;
	hvd_policy_reload(d, err, sizeof(err));
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct hvd_daemon *d = h->data;
	hvd_info("signal %d: shutting down", signum);
	sd_notify(0, "STOPPING=1");
	hvd_server_stop(d);
	uv_stop(d->loop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "audit-stderr", no_argument, NULL, 'a' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "no-sandbox", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "worker-pool", required_argument, NULL, 'w' },
		{ "in-process", no_argument, NULL, 'i' },
		{ "cgroups", no_argument, NULL, 'G' },
		{ "cgroup-root", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = HVD_DEFAULT_SOCKET;
	const char *config = NULL;
	const char *group = NULL;
	bool audit_stderr = false;
	unsigned long mode = 0660;
	char *end;
	const char *state_dir = HVD_DEFAULT_STATE_DIR;
	struct hvd_daemon d;
	uv_signal_t sigterm, sigint, sighup;
	char err[512];
	enum hvd_log_level level;
	struct hvd_worker_config workers = { .enabled = true, .pool = 2, .cgroup_root = "hvd" };
	int c, r;

	while ((c = getopt_long(argc, argv, "s:l:c:nhV", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			hvd_sandbox_off = true;
			break;
		case 'm':
			errno = 0;
			mode = strtoul(optarg, &end, 8);
			if (!*optarg || *end || errno || mode > 0777) {
				fprintf(stderr, "hvd: --socket-mode: '%s' is not an octal mode "
					"(0000..0777, e.g. 0660)\n", optarg);
				return 2;
			}
			break;
		case 'g':
			group = optarg;
			break;
		case 'a':
			audit_stderr = true;
			break;
		case 'w':
			errno = 0;
			workers.pool = (unsigned)strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || workers.pool > 64) {
				fprintf(stderr, "hvd: --worker-pool takes 0 to 64, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'i':
			workers.enabled = false;
			break;
		case 'G':
			workers.cgroups = true;
			break;
		case 'R':
			workers.cgroup_root = optarg;
			break;
		case 's':
			path = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 'l':
			if (hvd_log_parse_level(optarg, &level) < 0) {
				fprintf(stderr, "hvd: unknown log level '%s'\n", optarg);
				return 2;
			}
			hvd_log_set_level(level);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hvd %s (protocol %u)\n", HVD_VERSION, HVD_PROTOCOL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (workers.cgroups && !workers.enabled) {
		fprintf(stderr, "hvd: --cgroups places worker processes: not with --in-process\n");
		return 2;
	}
	if (!hvd_cgroup_name_ok(workers.cgroup_root) || strchr(workers.cgroup_root, ':')) {
		fprintf(stderr, "hvd: --cgroup-root: '%s' is not a directory name (letters, "
			"digits, '-', '_', '.', '@'; not starting with '.')\n", workers.cgroup_root);
		return 2;
	}

	hvd_log_init();
	/* Before any change of credentials clears it. */
	hvd_sandbox_pdeath_save();
	/* A client that vanishes must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	memset(&d, 0, sizeof(d));
	/* The backend of the architecture built for (backend/hvb_ops.h). */
#if defined(__aarch64__)
	d.be = &hvb_a64_ops;
#else
	d.be = &hvb_x86_ops;
#endif
	hvd_testhooks_read(&d.test);
	/* Who hvd and its workers become, when started as root. */
	struct hvd_identity_drop drop = { 0 };
	if (!hvd_sandbox_off && (r = hvd_sandbox_choose_uid(&drop)) < 0) {
		hvd_err("no uid to run as: %s", strerror(-r));
		return 1;
	}
	if (!hvd_sandbox_off && (r = hvd_sandbox_choose_worker_uid(&drop, &workers.drop)) < 0) {
		hvd_err("no uid to run workers as: %s", strerror(-r));
		return 1;
	}
	/* The zygote first, while hvd is one thread with nothing open: what
	 * a worker inherits is only what the zygote has (hvd_worker.c). */
	d.calls = &session_calls; /* workers serve with the same calls */
	if ((r = hvd_zygote_start(&d, &workers)) < 0) {
		hvd_err("cannot start hvd-zygote: %s", strerror(-r));
		return 1;
	}
	d.loop = uv_default_loop();
	d.listen_fd = -1;
	d.janitor_fd = d.janitor_ack = -1;
	d.start_ms = hvd_now_ms();
	d.started_uid = getuid();
	d.started_euid = geteuid();
	d.audit_fallback = audit_stderr ? stderr : NULL;
	/* The socket as hvd.socket makes it: 0660, group hvd. A group asked
	 * for by name must exist (a typo must not open the socket to another
	 * group); the default falls back to hvd's own group, which leaves
	 * the socket to root alone, with a warning saying how to widen it. */
	d.socket_mode = (mode_t)mode;
	d.socket_gid = (gid_t)-1;
	if (group && (r = parse_group(group, &d.socket_gid)) < 0) {
		fprintf(stderr, "hvd: --socket-group: no group '%s'\n", group);
		return 2;
	}
	if (!group && geteuid() == 0 && !getenv("LISTEN_FDS") &&
	    parse_group("hvd", &d.socket_gid) < 0)
		hvd_warn("no group hvd (packaging/systemd/hvd.sysusers creates it): the socket "
			 "gets group %u, so with mode %04o only root and that group can connect; "
			 "--socket-group GROUP or --socket-mode 0666 widens it",
			 (unsigned)getegid(), (unsigned)d.socket_mode);
	if (!config && access(HVD_DEFAULT_CONFIG, F_OK) == 0)
		config = HVD_DEFAULT_CONFIG;
	const char *bad = hvd_dispatch_check_table();
	if (bad) {
		hvd_err("dispatch row %s has no policy decision", bad);
		return 1;
	}
	if (hvd_policy_load(&d, config, err, sizeof(err)) < 0) {
		hvd_err("policy: %s", err);
		return 1;
	}
	hvd_info("policy from %s", config ? config : "the built-in default");
	/* A page of guest memory that cannot be faulted in must fail that
	 * vCPU's run, never hvd (hvb_guard.c). */
	if ((r = d.be->guard_install()) < 0) {
		hvd_err("cannot install the guest-memory guard: %s", strerror(-r));
		return 1;
	}
	r = d.be->host_create(NULL, &d.host);
	if (r < 0) {
		hvd_err("cannot use /dev/kvm: %s", strerror(-r));
		return 1;
	}
	const struct hvb_host_info *hi = d.be->host_info(d.host);
	struct hvb_a64_host a64;
	if (d.be->arm64 && d.be->arm64->host_query(d.host, &a64) == 0)
		hvd_info("KVM API %d (%s), IPA up to %u bits, HVC/SMC exits %s, counter offset %s, "
			 "up to %u vCPUs",
			 hi->api_version, d.be->name, a64.ipa_max,
			 a64.smccc_filter ? "through the SMCCC filter" : "absent (kernel before 6.4)",
			 a64.counter_offset ? "per VM" : "absent", a64.max_vcpus);
	else
		hvd_info("KVM API %d (%s), OUT exits %s the instruction, guest TSC %s, "
			 "hardware breakpoints %s",
			 hi->api_version, d.be->name, hi->out_rip_after ? "after" : "at",
			 hi->tsc_writable ? "settable" : "fixed",
			 hi->hw_breakpoints ? "hit" : "not delivered");
	/* Signals first: from the moment the socket exists, SIGTERM must
	 * mean a clean stop. */
	uv_signal_init(d.loop, &sigterm);
	uv_signal_init(d.loop, &sigint);
	uv_signal_init(d.loop, &sighup);
	sigterm.data = sigint.data = sighup.data = &d;
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sighup, on_hup, SIGHUP);
	/* The helpers first (hvd_ident.c, hvd_session.c), so that all is
	 * ready when the socket appears. */
	if (drop.drop)
		hvd_policy_audit_check(&d, drop.uid, drop.gid);
	if ((r = hvd_ident_init(&d, &drop)) < 0) {
		hvd_err("cannot start hvd-ident: %s", strerror(-r));
		return 1;
	}
	if (drop.drop && (r = hvd_server_janitor(&d, path)) < 0) {
		hvd_err("cannot start hvd-janitor: %s", strerror(-r));
		return 1;
	}
	/* Tenant objects and their sockets (hvd_tenant.c), while hvd may
	 * still make its state directory, and before the main socket
	 * appears: when it does, hvd is serving. */
	hvd_tenants_init(&d, state_dir, &drop);
	if ((r = hvd_workers_init(&d)) < 0) {
		hvd_err("cannot use hvd-zygote: %s", strerror(-r));
		return 1;
	}
	if (d.workers)
		hvd_info("VMs in worker processes (%s), %u kept started",
			 workers.drop.drop ? "their own uid" : "hvd's uid", workers.pool);
	else
		hvd_info("VMs in hvd's own process (--in-process)");
	keep_kvm_warm(&d);
	r = hvd_server_init(&d, path, &session_calls);
	if (r < 0) {
		hvd_err("cannot listen on %s: %s", path, strerror(-r));
		let_kvm_cool(&d);
		d.be->host_destroy(d.host);
		return 1;
	}
	hvd_info("listening on %s", d.activated ? "the socket systemd passed" : path);
	warn_world(&d, path);
	/* Setup is done: from here on hvd needs only KVM (open already) and
	 * the socket. Started as root, it becomes an unprivileged uid; what
	 * still needs privilege lives in helpers forked now, each able to do
	 * one thing: hvd-ident reads other users' executables
	 * (CAP_SYS_PTRACE), hvd-janitor (root, under a filter) removes the
	 * socket file when hvd ends. All before any thread exists, since
	 * credentials are per thread. */
	if (!hvd_sandbox_off && (r = hvd_sandbox_drop_all(&drop)) < 0) {
		hvd_err("cannot drop privileges: %s", strerror(-r));
		return 1;
	}
	/* The change of uid cleared the parent-death signal hvd was
	 * started with: an hvd whose starter (a test) died must not stay. */
	hvd_sandbox_pdeath_restore();
	if (drop.drop)
		hvd_info("running as uid %u, gid %u, with no capabilities", (unsigned)drop.uid,
			 (unsigned)drop.gid);
	/* The loop thread's seccomp filter, on this thread alone; every
	 * thread started from here on (vCPU threads, reapers) inherits it. */
	if (!hvd_sandbox_off) {
		r = hvd_sandbox_loop_thread();
		if (r == -ENOTSUP) {
			hvd_debug("no seccomp filter in a sanitizer build");
		} else if (r < 0) {
			hvd_err("cannot install the seccomp filter: %s (--no-sandbox runs "
				"without it)", strerror(-r));
			hvd_server_stop(&d);
			let_kvm_cool(&d);
			d.be->host_destroy(d.host);
			return 1;
		} else {
			hvd_sandbox_loop_selftest(&d.test);
		}
	}
	sd_notify(0, "READY=1");

	uv_run(d.loop, UV_RUN_DEFAULT);

	/* Let closing handles and session teardown finish. */
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_close((uv_handle_t *)&sighup, NULL);
	hvd_server_stop(&d);
	hvd_workers_stop(&d);
	/* Teardown is bounded: a tick keeps the loop from sleeping forever,
	 * and whatever is still closing after 10 s is named in the log. */
	uv_timer_t tick;
	uv_timer_init(d.loop, &tick);
	uv_timer_start(&tick, on_tick, 100, 100);
	uint64_t deadline = hvd_now_ms() + 10000;
	while (d.nsessions && hvd_now_ms() < deadline)
		uv_run(d.loop, UV_RUN_ONCE);
	int status = 0;
	if (d.nsessions) {
		for (struct hvd_session *s = d.sessions; s; s = s->next)
			hvd_err("shutdown: session %llu (pid %d) still closing (handles %u, "
				"closing %d)", (unsigned long long)s->id, (int)s->pid,
				s->handles, s->closing);
		status = 1;
	}
	uv_timer_stop(&tick);
	uv_close((uv_handle_t *)&tick, NULL);
	if (status) {
		hvd_workers_finish();
		hvd_err("stopped with sessions left behind");
		return status;
	}
	hvd_ident_fini(&d);
	uv_run(d.loop, UV_RUN_DEFAULT);
	/* The zygote's socket closed its handle in that run. */
	hvd_workers_finish();
	uv_loop_close(d.loop);
	hvd_tenants_fini(&d);
	let_kvm_cool(&d);
	d.be->host_destroy(d.host);
	free(d.audit_path);
	for (struct hvd_tenant *t = d.tenants, *next; t; t = next) {
		next = t->next;
		free(t);
	}
	hvp_policy_free(d.policy);
	free(d.config_path);
	if (d.audit && d.audit != stderr)
		fclose(d.audit);
	hvd_info("stopped");
	return 0;
}
