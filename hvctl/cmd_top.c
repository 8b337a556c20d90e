/*
 * hvctl top: the VMs hvd holds, busiest first, refreshed. CPU use is the
 * change in each VM's vCPU threads' CPU time (their thread clocks: user +
 * system, guest time included) between two listings, over the time
 * between them; 100% is one CPU.
 *
 *   hvctl top [-n COUNT] [-d SECONDS] [--json]
 *
 * On a terminal each frame replaces the last; otherwise (or with -n) the
 * frames follow each other, so that scripts can read them. --json prints
 * one object per frame, on a line of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "out.h"

struct sample {
	uint64_t id;
	uint64_t cpu_ns;
};

struct row {
	const Hvdp__VmInfo *vi;
	double cpu_percent;            /* < 0: first sight, no rate yet */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int by_cpu(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->cpu_percent != y->cpu_percent)
		return x->cpu_percent < y->cpu_percent ? 1 : -1;
	return x->vi->id < y->vi->id ? -1 : x->vi->id > y->vi->id;
}

static Hvdp__Response *list(struct hvctl *ctx, const char *cmd, int *r)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminListVms op = HVDP__ADMIN_LIST_VMS__INIT;
	Hvdp__Response *resp = NULL;
	req.op_case = HVDP__REQUEST__OP_ADMIN_LIST_VMS;
	req.admin_list_vms = &op;
	*r = hvctl_admin(ctx, cmd, &req, NULL, &resp);
	return *r == HVCTL_EXIT_OK ? resp : NULL;
}

static void print_frame(struct row *rows, size_t n, bool json, bool screen)
{
	char buf[64], cpu[32];
	if (json) {
		json_object *o = json_object_new_object(), *a = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *v = hvctl_vm_json(rows[i].vi);
			json_object_object_add(v, "cpu_percent", rows[i].cpu_percent < 0 ? NULL :
					       json_object_new_double(rows[i].cpu_percent));
			json_object_array_add(a, v);
		}
		json_object_object_add(o, "vms", a);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		fflush(stdout);
		return;
	}
	static const struct hvctl_col cols[] = {
		{ "ID", true }, { "TENANT", false }, { "PID", true }, { "WORKER", true },
		{ "VCPUS", true }, { "CPU%", true }, { "CPU TIME", true }, { "EXITS/S", true },
		{ "EXITS", true }, { "MEMORY", true }, { "EXECUTABLE", false },
	};
	if (screen)
		fputs("\033[H\033[2J", stdout);
	struct hvctl_table *t = hvctl_table_create(cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < n; i++) {
		const Hvdp__VmInfo *vi = rows[i].vi;
		if (rows[i].cpu_percent < 0)
			snprintf(cpu, sizeof(cpu), "-");
		else
			snprintf(cpu, sizeof(cpu), "%.1f", rows[i].cpu_percent);
		hvctl_table_cell(t, "%" PRIu64, vi->id);
		hvctl_table_cell(t, "%s", vi->tenant);
		hvctl_table_cell(t, "%d", vi->pid);
		hvctl_table_cell(t, "%d", vi->worker_pid);
		hvctl_table_cell(t, "%u", vi->vcpus);
		hvctl_table_cell(t, "%s", cpu);
		hvctl_table_cell(t, "%s", hvctl_fmt_ns(buf, sizeof(buf), vi->cpu_ns));
		hvctl_table_cell(t, "%" PRIu64, vi->exit_rate);
		hvctl_table_cell(t, "%" PRIu64, vi->exits);
		hvctl_table_cell(t, "%s", hvctl_fmt_bytes(buf, sizeof(buf), vi->memory));
		hvctl_table_cell(t, "%s", vi->exe);
	}
	printf("%zu VM%s\n", n, n == 1 ? "" : "s");
	hvctl_table_print(t, stdout);
	hvctl_table_destroy(t);
	if (!screen)
		putchar('\n');
	fflush(stdout);
}

int hvctl_cmd_top(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t count = 0;            /* 0: until interrupted */
	double delay = 1.0;
	bool json = false;
	char *end;
	int c, r = HVCTL_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":n:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'n':
			if (!hvctl_parse_u64(optarg, 1000000, &count) || count == 0)
				return hvctl_usage(argv[0], "-n takes a count of frames, not '%s'", optarg);
			break;
		case 'd':
			errno = 0;
			delay = strtod(optarg, &end);
			if (errno || *end || !(delay >= 0.1 && delay <= 3600))
				return hvctl_usage(argv[0], "-d takes seconds from 0.1 to 3600, not '%s'",
						   optarg);
			break;
		case 's':
			ctx->socket = optarg;
			break;
		case 'h':
			printf("usage: hvctl %s\n", hvctl_usage_of(argv[0]));
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage(argv[0], "-%c needs a value", optopt);
		default:
			return hvctl_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	bool screen = !json && !count && isatty(STDOUT_FILENO);

	struct sample *prev = NULL;
	size_t nprev = 0;
	uint64_t prev_at = 0;
	for (uint64_t frame = 0; !count || frame < count; frame++) {
		if (frame) {
			struct timespec ts = { (time_t)delay,
					       (long)((delay - (double)(time_t)delay) * 1e9) };
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		Hvdp__Response *resp = list(ctx, argv[0], &r);
		uint64_t at = now_ns();
		if (!resp)
			break;
		Hvdp__VmList empty = HVDP__VM_LIST__INIT;
		Hvdp__VmList *l = resp->vm_list ? resp->vm_list : &empty;
		struct row *rows = calloc(l->n_vms ? l->n_vms : 1, sizeof(*rows));
		struct sample *next = calloc(l->n_vms ? l->n_vms : 1, sizeof(*next));
		if (!rows || !next) {
			free(rows);
			free(next);
			hvdp__response__free_unpacked(resp, NULL);
			hvctl_err(argv[0], "out of memory");
			r = HVCTL_EXIT_FAILED;
			break;
		}
		for (size_t i = 0; i < l->n_vms; i++) {
			const Hvdp__VmInfo *vi = l->vms[i];
			rows[i].vi = vi;
			rows[i].cpu_percent = -1;
			next[i] = (struct sample){ vi->id, vi->cpu_ns };
			for (size_t k = 0; k < nprev; k++)
				if (prev[k].id == vi->id && vi->cpu_ns >= prev[k].cpu_ns &&
				    at > prev_at)
					rows[i].cpu_percent = 100.0 * (double)(vi->cpu_ns - prev[k].cpu_ns) /
							      (double)(at - prev_at);
		}
		qsort(rows, l->n_vms, sizeof(*rows), by_cpu);
		print_frame(rows, l->n_vms, json, screen);
		free(rows);
		free(prev);
		prev = next;
		nprev = l->n_vms;
		prev_at = at;
		hvdp__response__free_unpacked(resp, NULL);
	}
	free(prev);
	return r;
}
