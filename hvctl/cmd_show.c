/*
 * hvctl show VM: one VM in detail: its vCPUs with their exit counts by
 * Apple's VMX_REASON_* names, and its guest memory map.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "out.h"

/* "IO", or "REASON_77" for a number Apple does not name. */
static const char *exit_label(uint32_t reason, char *buf, size_t len)
{
	const char *n = hvctl_exit_name(reason);

	if (n)
		return n;
	snprintf(buf, len, "REASON_%u", reason);
	return buf;
}

static int cmp_count(const void *a, const void *b)
{
	const Hvdp__ExitCount *x = *(Hvdp__ExitCount *const *)a, *y = *(Hvdp__ExitCount *const *)b;

	/* Most frequent first, then by reason, so the order is stable. */
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->reason < y->reason ? -1 : x->reason > y->reason;
}

static json_object *vcpu_json(const Hvdp__VcpuInfo *ci)
{
	json_object *o = json_object_new_object();
	json_object *a = json_object_new_array();
	char buf[32];

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	hvctl_json_u64(o, "id", ci->id);
	hvctl_json_u64(o, "runs", ci->runs);
	hvctl_json_u64(o, "exec_ns", ci->exec_ns);
	hvctl_json_u64(o, "throttled_ns", ci->throttled_ns);
	hvctl_json_i64(o, "tid", ci->tid);
	hvctl_json_u64(o, "cpu_ns", ci->cpu_ns);
	/* A vCPU that never ran has no last exit (0 would read as EXC_NMI). */
	if (ci->runs) {
		hvctl_json_u64(o, "last_exit", ci->last_exit);
		hvctl_json_str(o, "last_exit_name", exit_label(ci->last_exit, buf, sizeof(buf)));
	} else {
		json_object_object_add(o, "last_exit", NULL);
		json_object_object_add(o, "last_exit_name", NULL);
	}
	for (size_t k = 0; k < ci->n_exits; k++) {
		json_object *e = json_object_new_object();
		if (!e)
			continue;
		hvctl_json_u64(e, "reason", ci->exits[k]->reason);
		hvctl_json_str(e, "name", exit_label(ci->exits[k]->reason, buf, sizeof(buf)));
		hvctl_json_u64(e, "count", ci->exits[k]->count);
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "exits_by_reason", a);
	return o;
}

static int print_json(const Hvdp__VmInfo *vi)
{
	json_object *o = hvctl_vm_json(vi);
	json_object *vcpus = json_object_new_array();
	json_object *maps = json_object_new_array();
	char buf[8];

	if (!o || !vcpus || !maps) {
		json_object_put(o);
		json_object_put(vcpus);
		json_object_put(maps);
		return hvctl_json_print(NULL);
	}
	for (size_t i = 0; i < vi->n_vcpu; i++)
		json_object_array_add(vcpus, vcpu_json(vi->vcpu[i]));
	for (size_t i = 0; i < vi->n_maps; i++) {
		json_object *m = json_object_new_object();
		if (!m)
			continue;
		hvctl_json_u64(m, "gpa", vi->maps[i]->gpa);
		hvctl_json_u64(m, "size", vi->maps[i]->size);
		hvctl_json_u64(m, "flags", vi->maps[i]->flags);
		hvctl_json_str(m, "prot", hvctl_fmt_prot(buf, sizeof(buf), vi->maps[i]->flags));
		json_object_array_add(maps, m);
	}
	json_object_object_add(o, "vcpu", vcpus);
	json_object_object_add(o, "maps", maps);
	json_object_object_add(o, "maps_changing", json_object_new_boolean(vi->maps_changing));
	return hvctl_json_print(o);
}

static void print_vcpus(const Hvdp__VmInfo *vi)
{
	static const struct hvctl_col cols[] = {
		{ "VCPU", true }, { "TID", true }, { "RUNS", true }, { "EXEC TIME", true },
		{ "CPU TIME", true }, { "THROTTLED", true }, { "LAST EXIT", false }, { "EXITS BY REASON", false },
	};
	struct hvctl_table *t = hvctl_table_create(cols, sizeof(cols) / sizeof(cols[0]));
	char buf[64];

	for (size_t i = 0; i < vi->n_vcpu; i++) {
		Hvdp__VcpuInfo *ci = vi->vcpu[i];
		char *exits = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&exits, &len);

		qsort(ci->exits, ci->n_exits, sizeof(*ci->exits), cmp_count);
		for (size_t k = 0; f && k < ci->n_exits; k++)
			fprintf(f, "%s%s=%" PRIu64, k ? " " : "",
				exit_label(ci->exits[k]->reason, buf, sizeof(buf)),
				ci->exits[k]->count);
		if (f)
			fclose(f);
		hvctl_table_cell(t, "%u", ci->id);
		hvctl_table_cell(t, "%d", ci->tid);
		hvctl_table_cell(t, "%" PRIu64, ci->runs);
		hvctl_table_cell(t, "%s", hvctl_fmt_ns(buf, sizeof(buf), ci->exec_ns));
		hvctl_table_cell(t, "%s", hvctl_fmt_ns(buf, sizeof(buf), ci->cpu_ns));
		hvctl_table_cell(t, "%s", hvctl_fmt_ns(buf, sizeof(buf), ci->throttled_ns));
		hvctl_table_cell(t, "%s", ci->runs ? exit_label(ci->last_exit, buf, sizeof(buf)) : "-");
		hvctl_table_cell(t, "%s", exits && *exits ? exits : "-");
		free(exits);
	}
	hvctl_table_print(t, stdout);
	hvctl_table_destroy(t);
}

static void print_maps(const Hvdp__VmInfo *vi)
{
	static const struct hvctl_col cols[] = {
		{ "GPA", false }, { "END", false }, { "SIZE", true }, { "PROT", false },
	};
	struct hvctl_table *t = hvctl_table_create(cols, sizeof(cols) / sizeof(cols[0]));
	char buf[64];

	for (size_t i = 0; i < vi->n_maps; i++) {
		const Hvdp__MapInfo *m = vi->maps[i];
		hvctl_table_cell(t, "0x%09" PRIx64, m->gpa);
		hvctl_table_cell(t, "0x%09" PRIx64, m->gpa + m->size);
		hvctl_table_cell(t, "%s", hvctl_fmt_bytes(buf, sizeof(buf), m->size));
		hvctl_table_cell(t, "%s", hvctl_fmt_prot(buf, sizeof(buf), m->flags));
	}
	hvctl_table_print(t, stdout);
	hvctl_table_destroy(t);
}

static void print_human(const Hvdp__VmInfo *vi)
{
	char buf[64];

	hvctl_kv("VM", "%" PRIu64, vi->id);
	hvctl_kv("tenant", "%s", vi->tenant);
	hvctl_kv("pid", "%d", vi->pid);
	hvctl_kv("uid", "%u", vi->uid);
	hvctl_kv("executable", "%s", vi->exe);
	hvctl_kv("vCPUs", "%u", vi->vcpus);
	hvctl_kv("memory", "%s", hvctl_fmt_bytes(buf, sizeof(buf), vi->memory));
	hvctl_kv("age", "%s", hvctl_fmt_ms(buf, sizeof(buf), vi->age_ms));
	hvctl_kv("exits", "%" PRIu64, vi->exits);
	if (vi->worker_pid)
		hvctl_kv("worker", "pid %d", vi->worker_pid);
	else
		hvctl_kv("worker", "none (the VM runs in hvd: --in-process)");
	if (vi->n_vcpu) {
		putchar('\n');
		print_vcpus(vi);
	}
	if (vi->maps_changing) {
		hvctl_kv("mappings", "being changed (hv_vm_map/unmap/protect in progress)");
	} else if (vi->n_maps) {
		putchar('\n');
		print_maps(vi);
	}
}

int hvctl_cmd_show(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminShowVm op = HVDP__ADMIN_SHOW_VM__INIT;
	Hvdp__Response *resp;
	bool json = false;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, &json, argv[0])) >= 0)
		return r;
	if (optind >= argc)
		return hvctl_usage(argv[0], "which VM? Give its id from 'hvctl list'");
	if (optind + 1 < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind + 1]);
	if (!hvctl_parse_u64(argv[optind], UINT64_MAX, &op.vm))
		return hvctl_usage(argv[0], "'%s' is not a VM id (a number from 'hvctl list')",
				   argv[optind]);
	req.op_case = HVDP__REQUEST__OP_ADMIN_SHOW_VM;
	req.admin_show_vm = &op;
	if ((r = hvctl_admin(ctx, argv[0], &req, "'hvctl list' shows the VMs you can see",
			     &resp)) != HVCTL_EXIT_OK)
		return r;
	if (!resp->vm_info) {
		hvctl_err(argv[0], "hvd's reply has no VM — use the hvctl that came with hvd");
		r = HVCTL_EXIT_FAILED;
	} else if (json) {
		r = print_json(resp->vm_info);
	} else {
		print_human(resp->vm_info);
	}
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}
