/*
 * hvctl clients: the processes connected to hvd (for a non-administrator:
 * its tenant's), with what the policy granted them.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "out.h"

/* Oldest first, by id: the order hvd keeps is not part of the protocol. */
static int cmp_id(const void *a, const void *b)
{
	uint64_t x = (*(Hvdp__ClientInfo *const *)a)->id, y = (*(Hvdp__ClientInfo *const *)b)->id;

	return x < y ? -1 : x > y;
}

static int print_json(const Hvdp__ClientList *l)
{
	json_object *o = json_object_new_object();
	json_object *a = json_object_new_array();

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return hvctl_json_print(NULL);
	}
	for (size_t i = 0; i < l->n_clients; i++) {
		const Hvdp__ClientInfo *ci = l->clients[i];
		json_object *c = json_object_new_object();
		if (!c)
			continue;
		hvctl_json_u64(c, "id", ci->id);
		hvctl_json_i64(c, "pid", ci->pid);
		hvctl_json_u64(c, "uid", ci->uid);
		hvctl_json_u64(c, "gid", ci->gid);
		hvctl_json_str(c, "exe", ci->exe);
		hvctl_json_str(c, "tenant", ci->tenant);
		hvctl_json_bool(c, "has_vm", ci->has_vm);
		hvctl_json_bool(c, "admin", ci->admin);
		json_object_object_add(c, "entitlements",
				       hvctl_json_strv(ci->entitlements, ci->n_entitlements));
		hvctl_json_u64(c, "age_ms", ci->age_ms);
		json_object_array_add(a, c);
	}
	json_object_object_add(o, "clients", a);
	return hvctl_json_print(o);
}

/* Apple's entitlement names share a long prefix; a table shows the rest. */
static const char *short_ent(const char *e)
{
	static const char *const prefixes[] = { "com.apple.security.", "com.apple." };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
			return e + strlen(prefixes[i]);
	return e;
}

static void print_human(const Hvdp__ClientList *l)
{
	static const struct hvctl_col cols[] = {
		{ "ID", true }, { "PID", true }, { "UID", true }, { "TENANT", false },
		{ "VM", false }, { "ADMIN", false }, { "AGE", true }, { "ENTITLEMENTS", false },
		{ "EXECUTABLE", false },
	};
	struct hvctl_table *t;
	char buf[64];

	if (l->n_clients == 0) {
		hvctl_err(NULL, "no clients");
		return;
	}
	t = hvctl_table_create(cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < l->n_clients; i++) {
		const Hvdp__ClientInfo *ci = l->clients[i];
		char *ents = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&ents, &len);

		for (size_t k = 0; f && k < ci->n_entitlements; k++)
			fprintf(f, "%s%s", k ? "," : "", short_ent(ci->entitlements[k]));
		if (f)
			fclose(f);
		hvctl_table_cell(t, "%" PRIu64, ci->id);
		hvctl_table_cell(t, "%d", ci->pid);
		hvctl_table_cell(t, "%u", ci->uid);
		hvctl_table_cell(t, "%s", ci->tenant);
		hvctl_table_cell(t, "%s", ci->has_vm ? "yes" : "no");
		hvctl_table_cell(t, "%s", ci->admin ? "yes" : "no");
		hvctl_table_cell(t, "%s", hvctl_fmt_ms(buf, sizeof(buf), ci->age_ms));
		hvctl_table_cell(t, "%s", ents && *ents ? ents : "-");
		hvctl_table_cell(t, "%s", ci->exe);
		free(ents);
	}
	hvctl_table_print(t, stdout);
	hvctl_table_destroy(t);
}

int hvctl_cmd_clients(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminClients op = HVDP__ADMIN_CLIENTS__INIT;
	Hvdp__ClientList empty = HVDP__CLIENT_LIST__INIT;
	Hvdp__Response *resp;
	bool json = false;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, &json, argv[0])) >= 0)
		return r;
	if (optind < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	req.op_case = HVDP__REQUEST__OP_ADMIN_CLIENTS;
	req.admin_clients = &op;
	if ((r = hvctl_admin(ctx, argv[0], &req, NULL, &resp)) != HVCTL_EXIT_OK)
		return r;
	Hvdp__ClientList *l = resp->client_list ? resp->client_list : &empty;
	if (l->n_clients)
		qsort(l->clients, l->n_clients, sizeof(*l->clients), cmp_id);
	if (json)
		r = print_json(l);
	else
		print_human(l);
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}
