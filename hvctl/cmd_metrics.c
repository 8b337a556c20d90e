/*
 * hvctl metrics: hvd's state in the Prometheus text exposition format
 * (version 0.0.4), for node_exporter's textfile collector or a scrape
 * through a wrapper:
 *
 *   hvctl metrics [--output FILE | --listen [ADDR:]PORT]
 *
 * Made from what hvctl status, list and tenant list say (the listings an
 * administrator sees: everything; anyone else: their tenant's). With
 * --output the file is written next to itself and renamed into place, so
 * a collector never reads half of it. With --listen hvctl stays up and
 * answers each HTTP GET of /metrics with a fresh exposition (a scrape
 * target for Prometheus; loopback unless an address is given, and then
 * with a warning: the numbers name tenants and executables). Names follow Prometheus's
 * conventions: an `hvd_` prefix, base units (bytes, seconds), `_total`
 * for counters, labels for the VM and tenant.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "out.h"

/* A label value as the format wants it: backslash, quote and newline
 * escaped. */
static void label(FILE *f, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static Hvdp__Response *ask(struct hvctl *ctx, const char *cmd, Hvdp__Request *req, int *r)
{
	Hvdp__Response *resp = NULL;
	*r = hvctl_admin(ctx, cmd, req, NULL, &resp);
	return *r == HVCTL_EXIT_OK ? resp : NULL;
}

/* One gauge or counter per VM, labelled. */
#define PER_VM(f, l, name, type, help, fmt, expr)                                      \
	do {                                                                           \
		head(f, name, type, help);                                             \
		for (size_t i = 0; i < (l)->n_vms; i++) {                              \
			const Hvdp__VmInfo *vi = (l)->vms[i];                          \
			fprintf(f, name "{vm=\"%" PRIu64 "\",tenant=\"", vi->id);      \
			label(f, vi->tenant);                                          \
			fprintf(f, "\"} " fmt "\n", expr);                             \
		}                                                                      \
	} while (0)

#define PER_TENANT(f, tl, mname, help, expr)                                           \
	do {                                                                           \
		head(f, mname, "gauge", help);                                          \
		for (size_t i = 0; i < (tl)->n_tenants; i++) {                         \
			const Hvdp__TenantInfo *ti = (tl)->tenants[i];                 \
			fprintf(f, mname "{tenant=\"");                                 \
			label(f, ti->spec ? ti->spec->name : "");                      \
			fprintf(f, "\"} %" PRIu64 "\n", (uint64_t)(expr));             \
		}                                                                      \
	} while (0)

/* hvd's own counters, which it gives administrators only (rpc_buckets
 * present). */
/* A histogram from hvd's non-cumulative counts: `n` bounds, n + 1 counts
 * (the last above every bound). _count is the sum of the buckets, so
 * that it always equals the +Inf bucket. */
static void histogram(FILE *f, const char *name, const char *help, const double *le,
		      const uint64_t *counts, size_t n, uint64_t sum_ns)
{
	head(f, name, "histogram", help);
	uint64_t cum = 0;
	for (size_t i = 0; i <= n; i++) {
		cum += counts[i];
		if (i < n)
			fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, le[i], cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	}
	fprintf(f, "%s_sum %.9f\n%s_count %" PRIu64 "\n", name, (double)sum_ns / 1e9, name, cum);
}

static void write_hvd_counters(FILE *f, const Hvdp__StatusReply *st)
{
	if (st->n_rpc_buckets != st->n_rpc_bucket_le + 1)
		return;
	head(f, "hvd_refusals_total", "counter",
	     "Requests the policy refused since hvd started, by kind: not entitled (deny), over "
	     "a quota or host limit (quota), over a request rate (rate).");
	fprintf(f, "hvd_refusals_total{kind=\"deny\"} %" PRIu64 "\n", st->refused_deny);
	fprintf(f, "hvd_refusals_total{kind=\"quota\"} %" PRIu64 "\n", st->refused_quota);
	fprintf(f, "hvd_refusals_total{kind=\"rate\"} %" PRIu64 "\n", st->refused_rate);
	histogram(f, "hvd_rpc_duration_seconds",
		  "Time from a request's arrival at hvd to hvd's answer (the worker's part included).",
		  st->rpc_bucket_le, st->rpc_buckets, st->n_rpc_bucket_le, st->rpc_sum_ns);
	if (st->n_exit_buckets != st->n_exit_bucket_le + 1)
		return;
	histogram(f, "hvd_exit_handling_seconds",
		  "Per run of a vCPU, the wall time spent outside the guest (the run less the guest's "
		  "time: the client's state taken in, the exit, the answer), the live vCPUs of all VMs.",
		  st->exit_bucket_le, st->exit_buckets, st->n_exit_bucket_le, st->exit_handling_ns);
}

/* Exits by reason, summed over each VM's vCPUs: one `show` per VM (the
 * worker counts them). A VM gone meanwhile is left out. */
static void write_exits_by_reason(FILE *f, struct hvctl *ctx, const Hvdp__VmList *l)
{
	head(f, "hvd_vm_exits_by_reason_total", "counter",
	     "Exits of the VM's vCPUs to hvd, by exit reason (x86: the VMX basic exit reason; "
	     "arm64: the exception class, or Apple's other exit reasons).");
	struct hvctl_conn conn;
	if (!l->n_vms || hvctl_open(ctx, "metrics", &conn, 0) != HVCTL_EXIT_OK)
		return;
	for (size_t i = 0; i < l->n_vms; i++) {
		Hvdp__Request req = HVDP__REQUEST__INIT;
		Hvdp__AdminShowVm op = HVDP__ADMIN_SHOW_VM__INIT;
		Hvdp__Response *resp = NULL;
		op.vm = l->vms[i]->id;
		req.op_case = HVDP__REQUEST__OP_ADMIN_SHOW_VM;
		req.admin_show_vm = &op;
		if (hvctl_call(&conn, &req, &resp) != HVCTL_EXIT_OK)
			break;
		const Hvdp__VmInfo *vi = resp->status == 0 ? resp->vm_info : NULL;
		/* The reasons are small numbers (VMX reasons, exception
		 * classes, Apple's few): summed in a table. */
		uint64_t sum[256] = { 0 };
		for (size_t c = 0; vi && c < vi->n_vcpu; c++)
			for (size_t k = 0; k < vi->vcpu[c]->n_exits; k++) {
				const Hvdp__ExitCount *e = vi->vcpu[c]->exits[k];
				sum[e->reason < 255 ? e->reason : 255] += e->count;
			}
		for (unsigned r = 0; vi && r < 256; r++) {
			if (!sum[r])
				continue;
			const char *n = r < 255 ? hvctl_exit_name(r) : "OTHER";
			fprintf(f, "hvd_vm_exits_by_reason_total{vm=\"%" PRIu64 "\",tenant=\"", vi->id);
			label(f, vi->tenant);
			if (n)
				fprintf(f, "\",reason=\"%s\"} %" PRIu64 "\n", n, sum[r]);
			else
				fprintf(f, "\",reason=\"REASON_%u\"} %" PRIu64 "\n", r, sum[r]);
		}
		hvdp__response__free_unpacked(resp, NULL);
	}
	hvctl_close(&conn);
}

static void write_metrics(FILE *f, struct hvctl *ctx, const Hvdp__StatusReply *st,
			  const Hvdp__VmList *l, const Hvdp__TenantList *tl)
{
	head(f, "hvd_up", "gauge", "1 when hvd answered.");
	fprintf(f, "hvd_up 1\n");
	head(f, "hvd_info", "gauge", "hvd's version and protocol, as labels.");
	fprintf(f, "hvd_info{version=\"");
	label(f, st->version);
	fprintf(f, "\",protocol=\"%u\"} 1\n", st->protocol);
	head(f, "hvd_uptime_seconds", "gauge", "Seconds since hvd started.");
	fprintf(f, "hvd_uptime_seconds %.3f\n", (double)st->uptime_ms / 1000.0);
	head(f, "hvd_clients", "gauge", "Connected clients.");
	fprintf(f, "hvd_clients %u\n", st->clients);
	head(f, "hvd_vms", "gauge", "VMs.");
	fprintf(f, "hvd_vms %u\n", st->vms);
	head(f, "hvd_vcpus", "gauge", "vCPUs of all VMs.");
	fprintf(f, "hvd_vcpus %u\n", st->vcpus);
	head(f, "hvd_guest_memory_bytes", "gauge", "Guest memory mapped by all VMs.");
	fprintf(f, "hvd_guest_memory_bytes %" PRIu64 "\n", st->guest_memory);
	head(f, "hvd_grants", "gauge", "Signed grants loaded, by result.");
	fprintf(f, "hvd_grants{result=\"loaded\"} %u\nhvd_grants{result=\"rejected\"} %u\n",
		st->grants_loaded, st->grants_rejected);
	head(f, "hvd_host_max_vcpus", "gauge", "vCPUs per VM the host allows.");
	fprintf(f, "hvd_host_max_vcpus %u\n", st->max_vcpus);

	PER_VM(f, l, "hvd_vm_vcpus", "gauge", "vCPUs of the VM.", "%u", vi->vcpus);
	PER_VM(f, l, "hvd_vm_memory_bytes", "gauge", "Guest memory the VM maps.", "%" PRIu64,
	       vi->memory);
	PER_VM(f, l, "hvd_vm_exits_total", "counter", "Exits of the VM's vCPUs to hvd.",
	       "%" PRIu64, vi->exits);
	PER_VM(f, l, "hvd_vm_exit_rate", "gauge", "Exits per second, over about the last second.",
	       "%" PRIu64, vi->exit_rate);
	PER_VM(f, l, "hvd_vm_cpu_seconds_total", "counter",
	       "CPU time of the VM's vCPU threads (their clocks: user + system, guest time included).",
	       "%.6f", (double)vi->cpu_ns / 1e9);
	PER_VM(f, l, "hvd_vm_age_seconds", "gauge", "Seconds since the VM was created.", "%.3f",
	       (double)vi->age_ms / 1000.0);
	write_exits_by_reason(f, ctx, l);
	write_hvd_counters(f, st);

	if (!tl)
		return;
	PER_TENANT(f, tl, "hvd_tenant_vms", "VMs of the tenant.", ti->vms);
	PER_TENANT(f, tl, "hvd_tenant_vcpus", "vCPUs of the tenant's VMs.", ti->vcpus);
	PER_TENANT(f, tl, "hvd_tenant_memory_bytes", "Guest memory of the tenant's VMs.", ti->memory);
	PER_TENANT(f, tl, "hvd_tenant_clients", "Connected clients of the tenant.", ti->clients);
	PER_TENANT(f, tl, "hvd_tenant_quota_vms", "The tenant's max_vms (0: unlimited).",
		   ti->effective ? ti->effective->max_vms : 0);
	PER_TENANT(f, tl, "hvd_tenant_quota_vcpus", "The tenant's max_vcpus (0: unlimited).",
		   ti->effective ? ti->effective->max_vcpus : 0);
	PER_TENANT(f, tl, "hvd_tenant_quota_memory_bytes", "The tenant's max_memory (0: unlimited).",
		   ti->effective ? ti->effective->max_memory : 0);
	PER_TENANT(f, tl, "hvd_tenant_quota_cpu_percent",
		   "The tenant's max_cpu_percent (0: unlimited).",
		   ti->effective ? ti->effective->max_cpu_percent : 0);
}

/* The exposition into `f`, from hvd's answers now. */
static int collect(FILE *f, struct hvctl *ctx, const char *cmd)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminStatus sop = HVDP__ADMIN_STATUS__INIT;
	Hvdp__AdminListVms lop = HVDP__ADMIN_LIST_VMS__INIT;
	Hvdp__AdminTenantList top = HVDP__ADMIN_TENANT_LIST__INIT;
	int r;
	req.op_case = HVDP__REQUEST__OP_ADMIN_STATUS;
	req.admin_status = &sop;
	Hvdp__Response *st = ask(ctx, cmd, &req, &r);
	if (!st)
		return r;
	req.op_case = HVDP__REQUEST__OP_ADMIN_LIST_VMS;
	req.admin_list_vms = &lop;
	Hvdp__Response *vl = ask(ctx, cmd, &req, &r);
	if (!vl) {
		hvdp__response__free_unpacked(st, NULL);
		return r;
	}
	/* Tenant objects are an administrator's to list: without the right,
	 * the metrics leave them out rather than fail. */
	Hvdp__Response *tl = NULL;
	req.op_case = HVDP__REQUEST__OP_ADMIN_TENANT_LIST;
	req.admin_tenant_list = &top;
	struct hvctl_conn conn;
	if (hvctl_open(ctx, cmd, &conn, 0) == HVCTL_EXIT_OK) {
		if (hvctl_call(&conn, &req, &tl) != HVCTL_EXIT_OK)
			tl = NULL;
		hvctl_close(&conn);
	}
	if (tl && tl->status != 0 /* HV_SUCCESS */) {
		hvdp__response__free_unpacked(tl, NULL);
		tl = NULL;
	}

	Hvdp__StatusReply empty_st = HVDP__STATUS_REPLY__INIT;
	Hvdp__VmList empty_l = HVDP__VM_LIST__INIT;
	Hvdp__TenantList empty_t = HVDP__TENANT_LIST__INIT;
	write_metrics(f, ctx, st->status_reply ? st->status_reply : &empty_st,
		      vl->vm_list ? vl->vm_list : &empty_l,
		      tl ? (tl->tenant_list ? tl->tenant_list : &empty_t) : NULL);
	hvdp__response__free_unpacked(st, NULL);
	hvdp__response__free_unpacked(vl, NULL);
	if (tl)
		hvdp__response__free_unpacked(tl, NULL);
	return HVCTL_EXIT_OK;
}

/* --output: written next to the file, then renamed over it. */
static int to_file(struct hvctl *ctx, const char *cmd, const char *out)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", out, (int)getpid()) >= (int)sizeof(tmp))
		return hvctl_usage(cmd, "--output path too long");
	FILE *f = fopen(tmp, "wx");
	if (!f) {
		hvctl_err(cmd, "%s: %s", tmp, strerror(errno));
		return HVCTL_EXIT_FAILED;
	}
	int r = collect(f, ctx, cmd);
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok &= fclose(f) == 0;
	if (r == HVCTL_EXIT_OK && (!ok || rename(tmp, out) < 0)) {
		hvctl_err(cmd, "%s: %s", out, strerror(errno));
		r = HVCTL_EXIT_FAILED;
	}
	if (r != HVCTL_EXIT_OK)
		unlink(tmp);
	return r;
}

/* ---- --listen: a scrape target ---- */

/* A scraper gets this long to send its request and read the answer: one
 * connection is served at a time, so a stalled one must not hold the
 * others up for longer. */
#define HTTP_TIMEOUT_MS 2000
#define HTTP_MAX_REQUEST 8192

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		if (poll(&pf, 1, HTTP_TIMEOUT_MS) != 1)
			return;
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void http_reply(int fd, const char *status, const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, type, len);
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

/* One connection: its request line (the headers are read and ignored),
 * then one answer. */
static void serve(int fd, struct hvctl *ctx, const char *cmd)
{
	char req[HTTP_MAX_REQUEST + 1];
	size_t got = 0;
	while (got < HTTP_MAX_REQUEST && !memmem(req, got, "\r\n\r\n", 4) &&
	       !memmem(req, got, "\n\n", 2)) {
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, HTTP_TIMEOUT_MS) != 1)
			return;
		ssize_t k = recv(fd, req + got, HTTP_MAX_REQUEST - got, MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return;
		got += (size_t)k;
	}
	req[got] = '\0';
	static const char text[] = "text/plain; charset=utf-8";
	if (strncmp(req, "GET ", 4) != 0 && strncmp(req, "HEAD ", 5) != 0) {
		http_reply(fd, "405 Method Not Allowed", text, "GET /metrics\n", 13);
		return;
	}
	const char *path = req + (req[0] == 'G' ? 4 : 5);
	if (strncmp(path, "/metrics ", 9) != 0 && strncmp(path, "/metrics?", 9) != 0 &&
	    strncmp(path, "/ ", 2) != 0) {
		http_reply(fd, "404 Not Found", text, "GET /metrics\n", 13);
		return;
	}
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	int r = f ? collect(f, ctx, cmd) : HVCTL_EXIT_FAILED;
	if (f)
		fclose(f);
	if (r == HVCTL_EXIT_OK)
		http_reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body,
			   req[0] == 'G' ? len : 0);
	else
		http_reply(fd, "503 Service Unavailable", text, "hvd did not answer\n", 19);
	free(body);
}

static int listen_on(struct hvctl *ctx, const char *cmd, const char *spec)
{
	char addr[64] = "127.0.0.1";
	const char *colon = strrchr(spec, ':');
	const char *port_s = colon ? colon + 1 : spec;
	if (colon) {
		size_t n = (size_t)(colon - spec);
		if (n == 0 || n >= sizeof(addr))
			return hvctl_usage(cmd, "--listen: '%s' is not [ADDR:]PORT", spec);
		memcpy(addr, spec, n);
		addr[n] = '\0';
	}
	uint64_t port;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	if (!hvctl_parse_u64(port_s, 65535, &port) || port == 0)
		return hvctl_usage(cmd, "--listen: '%s' is not a port (1-65535)", port_s);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return hvctl_usage(cmd, "--listen: '%s' is not an IPv4 address", addr);
	sin.sin_port = htons((uint16_t)port);
	if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127)
		fprintf(stderr, "hvctl: %s: warning: listening on %s, not loopback: anyone who "
			"reaches it reads the tenants, executables and counts\n", cmd, addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 16) < 0) {
		hvctl_err(cmd, "--listen %s:%u: %s", addr, (unsigned)port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return HVCTL_EXIT_FAILED;
	}
	fprintf(stderr, "hvctl: %s: serving http://%s:%u/metrics\n", cmd, addr, (unsigned)port);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
				if (errno == EMFILE || errno == ENFILE)
					poll(NULL, 0, 100);
				continue;
			}
			hvctl_err(cmd, "accept: %s", strerror(errno));
			close(fd);
			return HVCTL_EXIT_FAILED;
		}
		serve(c, ctx, cmd);
		close(c);
	}
}

int hvctl_cmd_metrics(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *listen_spec = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'l':
			listen_spec = optarg;
			break;
		case 's':
			ctx->socket = optarg;
			break;
		case 'h':
			printf("usage: hvctl %s\n", hvctl_usage_of(argv[0]));
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage(argv[0], "%s needs a value", argv[optind - 1]);
		default:
			return hvctl_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	if (out && listen_spec)
		return hvctl_usage(argv[0], "--output or --listen, not both");
	if (listen_spec)
		return listen_on(ctx, argv[0], listen_spec);
	if (out)
		return to_file(ctx, argv[0], out);
	return collect(stdout, ctx, argv[0]);
}
