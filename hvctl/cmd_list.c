/*
 * hvctl list: the VMs hvd holds (for a non-administrator: its tenant's).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>

#include "ipc.h"
#include "out.h"

/* Oldest first, by id: the order hvd keeps is not part of the protocol. */
static int cmp_id(const void *a, const void *b)
{
	uint64_t x = (*(Hvdp__VmInfo *const *)a)->id, y = (*(Hvdp__VmInfo *const *)b)->id;

	return x < y ? -1 : x > y;
}

static int print_json(const Hvdp__VmList *l)
{
	json_object *o = json_object_new_object();
	json_object *a = json_object_new_array();

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return hvctl_json_print(NULL);
	}
	for (size_t i = 0; i < l->n_vms; i++)
		json_object_array_add(a, hvctl_vm_json(l->vms[i]));
	json_object_object_add(o, "vms", a);
	return hvctl_json_print(o);
}

static void print_human(const Hvdp__VmList *l)
{
	static const struct hvctl_col cols[] = {
		{ "ID", true }, { "TENANT", false }, { "PID", true }, { "VCPUS", true },
		{ "MEMORY", true }, { "AGE", true }, { "EXITS", true }, { "EXECUTABLE", false },
	};
	struct hvctl_table *t;
	char buf[64];

	if (l->n_vms == 0) {
		hvctl_err(NULL, "no VMs (hvd lists only your tenant's unless you are an "
			  "administrator)");
		return;
	}
	t = hvctl_table_create(cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < l->n_vms; i++) {
		const Hvdp__VmInfo *vi = l->vms[i];
		hvctl_table_cell(t, "%" PRIu64, vi->id);
		hvctl_table_cell(t, "%s", vi->tenant);
		hvctl_table_cell(t, "%d", vi->pid);
		hvctl_table_cell(t, "%u", vi->vcpus);
		hvctl_table_cell(t, "%s", hvctl_fmt_bytes(buf, sizeof(buf), vi->memory));
		hvctl_table_cell(t, "%s", hvctl_fmt_ms(buf, sizeof(buf), vi->age_ms));
		hvctl_table_cell(t, "%" PRIu64, vi->exits);
		hvctl_table_cell(t, "%s", vi->exe);
	}
	hvctl_table_print(t, stdout);
	hvctl_table_destroy(t);
}

int hvctl_cmd_list(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminListVms op = HVDP__ADMIN_LIST_VMS__INIT;
	Hvdp__VmList empty = HVDP__VM_LIST__INIT;
	Hvdp__Response *resp;
	bool json = false;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, &json, argv[0])) >= 0)
		return r;
	if (optind < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	req.op_case = HVDP__REQUEST__OP_ADMIN_LIST_VMS;
	req.admin_list_vms = &op;
	if ((r = hvctl_admin(ctx, argv[0], &req, NULL, &resp)) != HVCTL_EXIT_OK)
		return r;
	/* proto3 leaves an empty list out of the reply altogether. */
	Hvdp__VmList *l = resp->vm_list ? resp->vm_list : &empty;
	if (l->n_vms)
		qsort(l->vms, l->n_vms, sizeof(*l->vms), cmp_id);
	if (json)
		r = print_json(l);
	else
		print_human(l);
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}
