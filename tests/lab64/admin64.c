/*
 * hvctl against an arm64 hvd (run with hvd started: the lab's `hvd`
 * kind). A client runs its guest through 7 HVC exits and 3 MMIO stores;
 * `hvctl list --json` must show its VM and `hvctl show VM --json` count the
 * exits by exception class (EC_HVC64, EC_DABT_LOWER) with the last one
 * named, and `hvctl status` must answer. hvctl is $HVD_TEST_HVCTL. Plain
 * C: `ok`/`FAIL` lines, non-zero exit on failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Hypervisor/Hypervisor.h>

#include "check64.h"

#define RAM 0x10000ull

/* hvctl ARGS...'s output with every space and newline taken out, or NULL
 * if it failed. No shell: in the lab /bin/sh is the x86 machine's. */
static char *hvctl_out(const char *hvctl, const char *a1, const char *a2, const char *a3)
{
	static char buf[65536];
	int fds[2];
	if (pipe(fds) < 0)
		return NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(hvctl, hvctl, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	char c;
	while (read(fds[0], &c, 1) == 1)
		if (c != ' ' && c != '\n' && n + 1 < sizeof(buf))
			buf[n++] = c;
	buf[n] = 0;
	close(fds[0]);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return NULL;
	return buf;
}

int main(void)
{
	/* 7 x (hvc #0), then 3 x (str x1, [x2]), then b . */
	uint32_t code[11];
	for (int i = 0; i < 7; i++)
		code[i] = 0xd4000002;
	for (int i = 7; i < 10; i++)
		code[i] = 0xf9000041;
	code[10] = 0x14000000;
	const char *hvctl = getenv("HVD_TEST_HVCTL");
	void *ram;
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;

	CHECK(hvctl != NULL, "HVD_TEST_HVCTL names hvctl");
	if (!hvctl)
		return 1;
	CHECK(hv_vm_create(NULL) == HV_SUCCESS && hv_vm_allocate(&ram, 0x10000, HV_ALLOCATE_DEFAULT) == HV_SUCCESS,
	      "VM and memory");
	memcpy(ram, code, sizeof(code));
	CHECK(hv_vm_map(ram, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_EXEC) == HV_SUCCESS, "hv_vm_map");
	CHECK(hv_vcpu_create(&vcpu, &exit, NULL) == HV_SUCCESS, "hv_vcpu_create");
	hv_vcpu_set_reg(vcpu, HV_REG_PC, RAM);
	hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5);
	hv_vcpu_set_reg(vcpu, HV_REG_X2, 0x9000000);
	int hvc = 0, dabt = 0;
	for (int i = 0; i < 10; i++) {
		uint64_t pc;
		if (hv_vcpu_run(vcpu) != HV_SUCCESS || exit->reason != HV_EXIT_REASON_EXCEPTION)
			break;
		hvc += exit->exception.syndrome >> 26 == 0x16;
		dabt += exit->exception.syndrome >> 26 == 0x24;
		if (exit->exception.syndrome >> 26 == 0x24) {
			hv_vcpu_get_reg(vcpu, HV_REG_PC, &pc);
			hv_vcpu_set_reg(vcpu, HV_REG_PC, pc + 4);
		}
	}
	CHECK(hvc == 7 && dabt == 3, "the guest made 7 HVC and 3 MMIO exits (%d, %d)", hvc, dabt);

	char *out = hvctl_out(hvctl, "list", "--json", NULL);
	unsigned long id = 0;
	char *at = out ? strstr(out, "\"id\":") : NULL;
	CHECK(at && sscanf(at, "\"id\":%lu", &id) == 1, "hvctl list --json shows the VM (%s)", out ? out : "failed");
	char vm[32];
	snprintf(vm, sizeof(vm), "%lu", id);
	out = hvctl_out(hvctl, "show", vm, "--json");
	CHECK(out != NULL, "hvctl show %lu --json", id);
	if (out) {
		CHECK(strstr(out, "\"name\":\"EC_HVC64\",\"count\":7") != NULL, "7 exits counted as EC_HVC64");
		CHECK(strstr(out, "\"name\":\"EC_DABT_LOWER\",\"count\":3") != NULL,
		      "3 exits counted as EC_DABT_LOWER");
		CHECK(strstr(out, "\"last_exit_name\":\"EC_DABT_LOWER\"") != NULL, "the last exit named");
		CHECK(strstr(out, "\"runs\":10") != NULL, "10 runs (write-throughs are not runs)");
		if (failures)
			printf("hvctl show: %s\n", out);
	}
	out = hvctl_out(hvctl, "status", "--json", NULL);
	CHECK(out && strstr(out, "\"arch\":\"arm64\"") && strstr(out, "\"smccc_filter\":true") &&
	      !strstr(out, "out_rip_after"), "hvctl status --json: arm64, the SMCCC filter, no x86 fields (%s)",
	      out ? out : "failed");

	return check64_done("admin64");
}
