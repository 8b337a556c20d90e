/*
 * hvctl tenant add|list|show|set|rm: tenants as objects, kept by hvd in
 * its state directory (docs/policy.md "Tenants as objects"). Here
 * --socket is the tenant's own socket; hvd's is given before the
 * subcommand (hvctl --socket PATH tenant ...) or by $HVD_SOCKET.
 */
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "hvp.h"
#include "ipc.h"
#include "out.h"

/* The policy's quota keys, in TenantQuota's field order (bit i of
 * quota_set is field i + 1). */
static const struct {
	const char *opt;      /* the option, without -- */
	const char *key;      /* the policy's key, and the JSON's */
	bool bytes;           /* takes K, M, G, T suffixes */
	uint64_t max;
} quotas[] = {
	{ "max-vms", "max_vms", false, UINT32_MAX },
	{ "max-vcpus-per-vm", "max_vcpus_per_vm", false, UINT32_MAX },
	{ "max-vcpus", "max_vcpus", false, UINT32_MAX },
	{ "max-memory", "max_memory", true, UINT64_MAX },
	{ "max-mappings", "max_mappings", false, UINT32_MAX },
	{ "max-rpc-rate", "max_rpc_rate", false, UINT32_MAX },
	{ "max-cpu-percent", "max_cpu_percent", false, HVP_MAX_CPU_PERCENT },
};
#define NQ (sizeof(quotas) / sizeof(quotas[0]))

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

/* Bytes, or with a K, M, G or T suffix (powers of 1024), as the policy
 * file reads them. */
static bool parse_size(const char *s, uint64_t *out)
{
	size_t l = strlen(s);
	unsigned shift = 0;
	char num[32];

	if (l == 0 || l >= sizeof(num))
		return false;
	memcpy(num, s, l + 1);
	switch (num[l - 1]) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: break;
	}
	if (shift)
		num[l - 1] = '\0';
	uint64_t v;
	if (!hvctl_parse_u64(num, UINT64_MAX >> shift, &v))
		return false;
	*out = v << shift;
	return true;
}

static bool parse_id(const char *s, bool group, uint32_t *out)
{
	uint64_t v;
	if (hvctl_parse_u64(s, UINT32_MAX - 1, &v)) {
		*out = (uint32_t)v;
		return true;
	}
	if (group) {
		struct group *g = getgrnam(s);
		if (g)
			*out = g->gr_gid;
		return g != NULL;
	}
	struct passwd *pw = getpwnam(s);
	if (pw)
		*out = pw->pw_uid;
	return pw != NULL;
}

/* ---- output ---- */

static json_object *tenant_json(const Hvdp__TenantInfo *ti)
{
	const Hvdp__TenantSpec *sp = ti->spec;
	json_object *o = json_object_new_object();
	json_object *uids = json_object_new_array(), *gids = json_object_new_array();
	json_object *q = json_object_new_object(), *given = json_object_new_array();
	json_object *use = json_object_new_object();
	char mode[8];

	if (!o || !uids || !gids || !q || !given || !use || !sp) {
		json_object_put(o);
		json_object_put(uids);
		json_object_put(gids);
		json_object_put(q);
		json_object_put(given);
		json_object_put(use);
		return NULL;
	}
	hvctl_json_str(o, "name", sp->name);
	if (sp->socket && sp->socket[0]) {
		hvctl_json_str(o, "socket", sp->socket);
		snprintf(mode, sizeof(mode), "%04o", sp->socket_mode);
		hvctl_json_str(o, "socket_mode", mode);
	} else {
		json_object_object_add(o, "socket", NULL);
		json_object_object_add(o, "socket_mode", NULL);
	}
	hvctl_json_bool(o, "listening", ti->listening);
	for (size_t i = 0; i < sp->n_uids; i++)
		json_object_array_add(uids, json_object_new_int64(sp->uids[i]));
	for (size_t i = 0; i < sp->n_gids; i++)
		json_object_array_add(gids, json_object_new_int64(sp->gids[i]));
	json_object_object_add(o, "uids", uids);
	json_object_object_add(o, "gids", gids);
	json_object_object_add(o, "entitlements",
			       hvctl_json_strv(sp->entitlements, sp->n_entitlements));
	for (unsigned i = 0; i < NQ; i++) {
		hvctl_json_u64(q, quotas[i].key, ti->effective ? pq_get(ti->effective, i) : 0);
		if (sp->quota_set & (1u << i))
			json_object_array_add(given, json_object_new_string(quotas[i].key));
	}
	json_object_object_add(o, "quota", q);
	json_object_object_add(o, "quota_given", given);
	hvctl_json_u64(use, "vms", ti->vms);
	hvctl_json_u64(use, "vcpus", ti->vcpus);
	hvctl_json_u64(use, "memory", ti->memory);
	hvctl_json_u64(use, "mappings", ti->mappings);
	hvctl_json_u64(use, "clients", ti->clients);
	json_object_object_add(o, "usage", use);
	return o;
}

static void show_human(const Hvdp__TenantInfo *ti)
{
	const Hvdp__TenantSpec *sp = ti->spec;
	char buf[64], line[256];
	size_t o;

	hvctl_kv("name", "%s", sp->name);
	if (sp->socket && sp->socket[0])
		hvctl_kv("socket", "%s (mode %04o, %s)", sp->socket, sp->socket_mode,
			 ti->listening ? "listening" : "NOT listening: see hvd's log");
	else
		hvctl_kv("socket", "none (members by uid and group on hvd's socket)");
	o = 0;
	line[0] = '\0';
	for (size_t i = 0; i < sp->n_uids; i++)
		o += (size_t)snprintf(line + o, o < sizeof(line) ? sizeof(line) - o : 0, "%s%u",
				      i ? " " : "", sp->uids[i]);
	hvctl_kv("uids", "%s", line[0] ? line : "-");
	o = 0;
	line[0] = '\0';
	for (size_t i = 0; i < sp->n_gids; i++)
		o += (size_t)snprintf(line + o, o < sizeof(line) ? sizeof(line) - o : 0, "%s%u",
				      i ? " " : "", sp->gids[i]);
	hvctl_kv("gids", "%s", line[0] ? line : "-");
	o = 0;
	line[0] = '\0';
	for (size_t i = 0; i < sp->n_entitlements; i++)
		o += (size_t)snprintf(line + o, o < sizeof(line) ? sizeof(line) - o : 0, "%s%s",
				      i ? ", " : "", sp->entitlements[i]);
	hvctl_kv("entitlements", "%s", line[0] ? line : "none");
	for (unsigned i = 0; i < NQ && ti->effective; i++) {
		uint64_t v = pq_get(ti->effective, i);
		const char *from = sp->quota_set & (1u << i) ? "" : " (default)";
		if (quotas[i].bytes)
			hvctl_kv(quotas[i].key, "%s%s", hvctl_fmt_bytes(buf, sizeof(buf), v), from);
		else
			hvctl_kv(quotas[i].key, "%" PRIu64 "%s", v, from);
	}
	hvctl_kv("in use", "%u VMs, %u vCPUs, %s in %u mappings, %u clients", ti->vms, ti->vcpus,
		 hvctl_fmt_bytes(buf, sizeof(buf), ti->memory), ti->mappings, ti->clients);
}

static int print_one(const Hvdp__TenantInfo *ti, bool json)
{
	if (!ti || !ti->spec) {
		hvctl_err("tenant", "hvd's reply carries no tenant");
		return HVCTL_EXIT_FAILED;
	}
	if (json)
		return hvctl_json_print(tenant_json(ti));
	show_human(ti);
	return HVCTL_EXIT_OK;
}

/* ---- add and set ---- */

enum {
	OPT_SOCKET = 256, OPT_MODE, OPT_UID, OPT_GID, OPT_NO_UIDS, OPT_NO_GIDS, OPT_ENTS,
	OPT_JSON, OPT_HELP, OPT_FORCE, OPT_QUOTA /* + index */
};

struct edit {
	Hvdp__TenantSpec spec;
	Hvdp__TenantQuota quota;
	uint32_t uids[HVP_MAX_GROUPS], gids[HVP_MAX_GROUPS];
	char *ents[8];
	bool set_uids, set_gids, set_ents;
	uint32_t quota_clear;
	bool json, force;
};

/* The options of add (`add` true) and set. Returns -1 to go on, or an
 * exit code. */
static int parse_edit(int argc, char *argv[], const char *cmd, bool add, struct edit *e)
{
	struct option opts[NQ + 12];
	unsigned n = 0;
	int c;

	opts[n++] = (struct option){ "json", no_argument, NULL, OPT_JSON };
	opts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	opts[n++] = (struct option){ "uid", required_argument, NULL, OPT_UID };
	opts[n++] = (struct option){ "gid", required_argument, NULL, OPT_GID };
	opts[n++] = (struct option){ "entitlements", required_argument, NULL, OPT_ENTS };
	if (add) {
		opts[n++] = (struct option){ "socket", required_argument, NULL, OPT_SOCKET };
		opts[n++] = (struct option){ "socket-mode", required_argument, NULL, OPT_MODE };
	} else {
		opts[n++] = (struct option){ "no-uids", no_argument, NULL, OPT_NO_UIDS };
		opts[n++] = (struct option){ "no-gids", no_argument, NULL, OPT_NO_GIDS };
	}
	for (unsigned i = 0; i < NQ; i++)
		opts[n++] = (struct option){ quotas[i].opt, required_argument, NULL,
					     OPT_QUOTA + (int)i };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };

	hvdp__tenant_spec__init(&e->spec);
	hvdp__tenant_quota__init(&e->quota);
	e->spec.quota = &e->quota;
	e->spec.uids = e->uids;
	e->spec.gids = e->gids;
	e->spec.entitlements = e->ents;
	e->spec.socket = (char *)"";
	/* What a tenant gets unless told otherwise: the right to make VMs. */
	if (add) {
		e->ents[e->spec.n_entitlements++] = (char *)HVP_ENT_HYPERVISOR;
		e->set_ents = true;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case OPT_JSON:
			e->json = true;
			break;
		case 'h':
		case OPT_HELP:
			printf("Usage: hvctl %s\n", hvctl_usage_of("tenant"));
			return HVCTL_EXIT_OK;
		case OPT_SOCKET:
			e->spec.socket = optarg;
			break;
		case OPT_MODE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);
			if (!*optarg || *end || m > 0777)
				return hvctl_usage(cmd, "--socket-mode %s: an octal mode such as 0600 "
						   "or 0660", optarg);
			e->spec.socket_mode = (uint32_t)m;
			break;
		}
		case OPT_UID:
		case OPT_GID: {
			bool g = c == OPT_GID;
			size_t *cnt = g ? &e->spec.n_gids : &e->spec.n_uids;
			uint32_t id;
			if (!parse_id(optarg, g, &id))
				return hvctl_usage(cmd, "--%s %s: not a %s", g ? "gid" : "uid", optarg,
						   g ? "group" : "user");
			if (*cnt >= HVP_MAX_GROUPS)
				return hvctl_usage(cmd, "too many --%s", g ? "gid" : "uid");
			(g ? e->gids : e->uids)[(*cnt)++] = id;
			if (g)
				e->set_gids = true;
			else
				e->set_uids = true;
			break;
		}
		case OPT_NO_UIDS:
			e->spec.n_uids = 0;
			e->set_uids = true;
			break;
		case OPT_NO_GIDS:
			e->spec.n_gids = 0;
			e->set_gids = true;
			break;
		case OPT_ENTS: {
			/* Comma- or space-separated; "none" for none. */
			static char buf[512];
			snprintf(buf, sizeof(buf), "%s", optarg);
			e->spec.n_entitlements = 0;
			e->set_ents = true;
			for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
			     t = strtok_r(NULL, ", ", &save)) {
				if (strcmp(t, "none") == 0)
					continue;
				if (e->spec.n_entitlements >= 8)
					return hvctl_usage(cmd, "too many entitlements");
				e->ents[e->spec.n_entitlements++] = t;
			}
			break;
		}
		case ':':
			return hvctl_usage(cmd, "%s needs an argument", argv[optind - 1]);
		default:
			if (c >= OPT_QUOTA && c < OPT_QUOTA + (int)NQ) {
				unsigned i = (unsigned)(c - OPT_QUOTA);
				if (!add && strcmp(optarg, "default") == 0) {
					e->quota_clear |= 1u << i;
					e->spec.quota_set &= ~(1u << i);
					break;
				}
				bool ok = quotas[i].bytes ? parse_size(optarg, &v) :
					  hvctl_parse_u64(optarg, quotas[i].max, &v);
				if (!ok || v > quotas[i].max)
					return hvctl_usage(cmd, "--%s %s: a number%s%s", quotas[i].opt,
							   optarg,
							   quotas[i].bytes ? " of bytes (K, M, G, T suffixes)" : "",
							   add ? "" : ", or default");
				pq_put(&e->quota, i, v);
				e->spec.quota_set |= 1u << i;
				e->quota_clear &= ~(1u << i);
				break;
			}
			return hvctl_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return hvctl_usage(cmd, "which tenant?");
	if (optind + 1 != argc)
		return hvctl_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
	e->spec.name = argv[optind];
	return -1;
}

static int cmd_add(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminTenantAdd op = HVDP__ADMIN_TENANT_ADD__INIT;
	struct edit e;
	Hvdp__Response *resp;
	int r;

	memset(&e, 0, sizeof(e));
	if ((r = parse_edit(argc, argv, "tenant add", true, &e)) >= 0)
		return r;
	op.spec = &e.spec;
	req.op_case = HVDP__REQUEST__OP_ADMIN_TENANT_ADD;
	req.admin_tenant_add = &op;
	if ((r = hvctl_admin(ctx, "tenant add", &req, "see 'hvctl tenant add --help'", &resp)) !=
	    HVCTL_EXIT_OK)
		return r;
	r = print_one(resp->tenant_info, e.json);
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}

static int cmd_set(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminTenantSet op = HVDP__ADMIN_TENANT_SET__INIT;
	struct edit e;
	Hvdp__Response *resp;
	int r;

	memset(&e, 0, sizeof(e));
	if ((r = parse_edit(argc, argv, "tenant set", false, &e)) >= 0)
		return r;
	op.spec = &e.spec;
	op.set_uids = e.set_uids;
	op.set_gids = e.set_gids;
	op.set_entitlements = e.set_ents;
	op.quota_clear = e.quota_clear;
	req.op_case = HVDP__REQUEST__OP_ADMIN_TENANT_SET;
	req.admin_tenant_set = &op;
	if ((r = hvctl_admin(ctx, "tenant set", &req, "see 'hvctl tenant set --help'", &resp)) !=
	    HVCTL_EXIT_OK)
		return r;
	r = print_one(resp->tenant_info, e.json);
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}

/* ---- list, show, rm ---- */

static int cmd_list(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminTenantList op = HVDP__ADMIN_TENANT_LIST__INIT;
	Hvdp__Response *resp;
	bool json = false;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, &json, "tenant list")) >= 0)
		return r;
	if (optind < argc)
		return hvctl_usage("tenant list", "unexpected argument '%s'", argv[optind]);
	req.op_case = HVDP__REQUEST__OP_ADMIN_TENANT_LIST;
	req.admin_tenant_list = &op;
	if ((r = hvctl_admin(ctx, "tenant list", &req, NULL, &resp)) != HVCTL_EXIT_OK)
		return r;
	size_t n = resp->tenant_list ? resp->tenant_list->n_tenants : 0;
	Hvdp__TenantInfo **v = n ? resp->tenant_list->tenants : NULL;
	if (json) {
		json_object *o = json_object_new_object(), *a = json_object_new_array();
		for (size_t i = 0; a && i < n; i++) {
			json_object *t = tenant_json(v[i]);
			if (t)
				json_object_array_add(a, t);
		}
		if (o)
			json_object_object_add(o, "tenants", a);
		else
			json_object_put(a);
		r = hvctl_json_print(o);
	} else if (n == 0) {
		hvctl_err(NULL, "no tenant objects");
	} else {
		static const struct hvctl_col cols[] = {
			{ "NAME", false }, { "SOCKET", false }, { "CLIENTS", true }, { "VMS", true },
			{ "MAX_VMS", true }, { "MEMORY", true }, { "MAX_MEMORY", true },
		};
		struct hvctl_table *t = hvctl_table_create(cols, sizeof(cols) / sizeof(cols[0]));
		char b1[32], b2[32];
		for (size_t i = 0; i < n; i++) {
			const Hvdp__TenantInfo *ti = v[i];
			const char *sock = ti->spec && ti->spec->socket && ti->spec->socket[0] ?
					   ti->spec->socket : "-";
			hvctl_table_cell(t, "%s", ti->spec ? ti->spec->name : "?");
			hvctl_table_cell(t, "%s%s", sock, ti->listening || sock[0] == '-' ? "" :
					 " (not listening)");
			hvctl_table_cell(t, "%u", ti->clients);
			hvctl_table_cell(t, "%u", ti->vms);
			hvctl_table_cell(t, "%u", ti->effective ? ti->effective->max_vms : 0);
			hvctl_table_cell(t, "%s", hvctl_fmt_bytes(b1, sizeof(b1), ti->memory));
			hvctl_table_cell(t, "%s", hvctl_fmt_bytes(b2, sizeof(b2), ti->effective ?
								  ti->effective->max_memory : 0));
		}
		hvctl_table_print(t, stdout);
		hvctl_table_destroy(t);
	}
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}

static int cmd_show(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminTenantShow op = HVDP__ADMIN_TENANT_SHOW__INIT;
	Hvdp__Response *resp;
	bool json = false;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, &json, "tenant show")) >= 0)
		return r;
	if (optind + 1 != argc)
		return hvctl_usage("tenant show", "which tenant?");
	op.name = argv[optind];
	req.op_case = HVDP__REQUEST__OP_ADMIN_TENANT_SHOW;
	req.admin_tenant_show = &op;
	if ((r = hvctl_admin(ctx, "tenant show", &req, "see 'hvctl tenant list'", &resp)) !=
	    HVCTL_EXIT_OK)
		return r;
	r = print_one(resp->tenant_info, json);
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}

static int cmd_rm(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminTenantRemove op = HVDP__ADMIN_TENANT_REMOVE__INIT;
	Hvdp__Response *resp;
	bool json = false;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FORCE:
			op.force = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			printf("Usage: hvctl %s\n", hvctl_usage_of("tenant"));
			return HVCTL_EXIT_OK;
		default:
			return hvctl_usage("tenant rm", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return hvctl_usage("tenant rm", "which tenant?");
	op.name = argv[optind];
	req.op_case = HVDP__REQUEST__OP_ADMIN_TENANT_REMOVE;
	req.admin_tenant_remove = &op;
	if ((r = hvctl_admin(ctx, "tenant rm", &req, "see 'hvctl tenant list'", &resp)) !=
	    HVCTL_EXIT_OK)
		return r;
	if (json) {
		json_object *o = json_object_new_object();
		if (o) {
			hvctl_json_str(o, "name", op.name);
			hvctl_json_bool(o, "removed", true);
		}
		r = hvctl_json_print(o);
	}
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}

int hvctl_cmd_tenant(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **, struct hvctl *);
	} sub[] = {
		{ "add", cmd_add }, { "list", cmd_list }, { "show", cmd_show },
		{ "set", cmd_set }, { "rm", cmd_rm },
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("Usage: hvctl %s\n", hvctl_usage_of("tenant"));
		return argc < 2 ? HVCTL_EXIT_USAGE : HVCTL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (strcmp(argv[1], sub[i].name) == 0) {
			optind = 0;
			return sub[i].fn(argc - 1, argv + 1, ctx);
		}
	}
	return hvctl_usage("tenant", "unknown subcommand '%s' (add, list, show, set, rm)", argv[1]);
}
