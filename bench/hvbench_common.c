/* hvbench: helpers shared by hvbench-raw, hvbench-direct and hvbench-client. */
#include "hvbench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t hvbench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hvbench_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hvbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

void hvbench_load_guest(void *ram)
{
	memcpy((char *)ram + HVBENCH_LOAD_ADDR, guest_outloop_start,
	       (size_t)(guest_outloop_end - guest_outloop_start));
}

void hvbench_marker(void)
{
	/* Not getpid(): the raw syscall is never cached or elided. */
	(void)syscall(SYS_getpid);
}

static void usage(const char *name)
{
	fprintf(stderr,
		"usage: %s exits N      time N exit round trips (after %u warm-up exits)\n"
		"       %s regs N [--marker]\n"
		"                       time N register read+write pairs between runs;\n"
		"                       --marker brackets the loop with getpid() for strace\n"
		"       %s exits N --hw-bp\n"
		"                       (hvbench-raw only) the same with a hardware\n"
		"                       breakpoint armed through KVM_SET_GUEST_DEBUG, as\n"
		"                       the backend does for real-mode guests (hidden IVT)\n"
		"       %s create N     time N x (VM create + map 64 MiB + vCPU create +\n"
		"                       setup + first exit), one line per iteration\n",
		name, HVBENCH_WARMUP, name, name, name);
	exit(2);
}

void hvbench_parse(int argc, char **argv, const char *name, struct hvbench_args *a)
{
	memset(a, 0, sizeof(*a));
	if (argc < 3)
		usage(name);
	if (!strcmp(argv[1], "exits"))
		a->mode = HVBENCH_EXITS;
	else if (!strcmp(argv[1], "regs"))
		a->mode = HVBENCH_REGS;
	else if (!strcmp(argv[1], "create"))
		a->mode = HVBENCH_CREATE;
	else
		usage(name);
	char *end;
	a->count = strtoul(argv[2], &end, 0);
	if (*end || a->count == 0)
		usage(name);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--marker"))
			a->marker = 1;
		else if (!strcmp(argv[i], "--hw-bp"))
			a->hw_bp = 1;
		else
			usage(name);
	}
	if ((a->marker && a->mode != HVBENCH_REGS) || (a->hw_bp && a->mode != HVBENCH_EXITS))
		usage(name);
}
