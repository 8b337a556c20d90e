/*
 * hvctl policy: `check FILE` validates a configuration offline with the
 * same library hvd uses (no hvd needed); `reload` asks hvd to load its
 * file again (a broken file leaves the old policy in force); `explain
 * --pid PID` shows what hvd would grant a process, and why.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvp.h"
#include "ipc.h"
#include "out.h"

static const char usage_policy[] = "policy check FILE | reload | explain --pid PID [--json]";

/* ---- check ---- */

static int policy_check(int argc, char *argv[], struct hvctl *ctx)
{
	struct hvp_policy *p = NULL;
	char err[1024];
	unsigned loaded = 0, rejected = 0;
	const char *why;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, NULL, "policy check")) >= 0)
		return r;
	if (optind >= argc)
		return hvctl_usage("policy check", "which file? e.g. /etc/hvd/hvd.conf");
	if (optind + 1 < argc)
		return hvctl_usage("policy check", "unexpected argument '%s'", argv[optind + 1]);

	const char *path = argv[optind];
	if (hvp_policy_load(path, getuid(), &p, err, sizeof(err)) < 0) {
		/* hvp's message is already "FILE:LINE: problem". */
		fprintf(stderr, "%s\n", err[0] ? err : path);
		return HVCTL_EXIT_FAILED;
	}
	hvp_grant_counts(p, &loaded, &rejected);
	printf("%s: OK (%u rules, %u grants loaded, %u rejected)\n", path,
	       hvp_rule_count(p), loaded, rejected);
	/* A rejected grant does not make the file wrong, but whoever wrote it
	 * wants to know. */
	for (unsigned i = 0; (why = hvp_grant_rejected(p, i)); i++)
		fprintf(stderr, "%s: grant rejected: %s\n", path, why);
	hvp_policy_free(p);
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
		hvctl_report_status("policy reload", resp,
				    "the old policy stays in force; fix the file "
				    "('hvctl policy check FILE' shows the problem) and reload again");
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
	json_object *o = json_object_new_object();
	json_object *q = json_object_new_object();

	if (!o || !q) {
		json_object_put(o);
		json_object_put(q);
		return hvctl_json_print(NULL);
	}
	hvctl_json_i64(o, "pid", pid);
	hvctl_json_str(o, "exe", e->exe);
	hvctl_json_str(o, "exe_blake2b", e->exe_blake2b);
	hvctl_json_u64(o, "uid", e->uid);
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

	hvctl_kv("pid", "%d", pid);
	hvctl_kv("executable", "%s", e->exe);
	hvctl_kv("BLAKE2b-256", "%s", *e->exe_blake2b ? e->exe_blake2b : "(not hashed)");
	hvctl_kv("uid", "%u", e->uid);
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

static int policy_explain(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminPolicyExplain op = HVDP__ADMIN_POLICY_EXPLAIN__INIT;
	Hvdp__Response *resp;
	bool json = false, have_pid = false;
	uint64_t pid;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!hvctl_parse_u64(optarg, INT32_MAX, &pid) || pid == 0)
				return hvctl_usage("policy explain", "'%s' is not a process id",
						   optarg);
			have_pid = true;
			break;
		case 'j':
			json = true;
			break;
		case 's':
			ctx->socket = optarg;
			break;
		case 'h':
			printf("Usage: hvctl policy explain --pid PID [--json]\n");
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("policy explain", "%s needs an argument",
					   argv[optind - 1]);
		default:
			return hvctl_usage("policy explain", "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (!have_pid)
		return hvctl_usage("policy explain", "which process? Give --pid PID");
	if (optind < argc)
		return hvctl_usage("policy explain", "unexpected argument '%s'", argv[optind]);
	op.pid = (int32_t)pid;
	req.op_case = HVDP__REQUEST__OP_ADMIN_POLICY_EXPLAIN;
	req.admin_policy_explain = &op;
	if ((r = hvctl_admin(ctx, "policy explain", &req,
			     "check the pid (ps -p PID); hvd must be able to read /proc/PID/exe",
			     &resp)) != HVCTL_EXIT_OK)
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
