/*
 * hvctl support: `sysctl kern.hv_support` for this host. 1 if KVM is
 * usable here (the /dev/kvm API hvd needs), or if a running hvd answers
 * (hvd may reach /dev/kvm where the caller may not); else 0, with the
 * reason and its fix on stderr. Needs no hvd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>


#include "hvs_errmap.h"
#include "ipc.h"
#include "out.h"

#define KVM_DEV "/dev/kvm"

/* 0 if /dev/kvm offers what hvd needs, else a negative errno with the
 * reason in `why`. Mirrors hvb_host_create's checks. */
static int probe_kvm(char *why, size_t len)
{
	int fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	int err, api;

	if (fd < 0) {
		err = errno;
		const char *fix;
		switch (err) {
		case ENOENT:
			fix = "load the kvm module (modprobe kvm_intel), or pass /dev/kvm "
			      "into this container";
			break;
		case ENXIO:
		case ENODEV:
			fix = "enable VT-x in the firmware, and load kvm_intel";
			break;
		case EACCES:
		case EPERM:
			fix = "join the kvm group, or start hvd (which opens it for its clients)";
			break;
		default:
			fix = "check that KVM works on this host";
			break;
		}
		snprintf(why, len, "%s: %s — %s", KVM_DEV, strerror(err), fix);
		return -err;
	}
	api = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (api < 0) {
		err = errno;
		snprintf(why, len, "%s: KVM_GET_API_VERSION: %s — %s is not the KVM device",
			 KVM_DEV, strerror(err), KVM_DEV);
		close(fd);
		return -err;
	}
	if (api != KVM_API_VERSION) {
		snprintf(why, len, "%s: KVM API version %d, hvd needs %d — use a mainline "
			 "Linux kernel", KVM_DEV, api, KVM_API_VERSION);
		close(fd);
		return -ENODEV;
	}
	static const struct {
		long cap;
		int want;
		const char *name;
	} caps[] = {
		{ KVM_CAP_SYNC_REGS, 7, "KVM_CAP_SYNC_REGS" },
		{ KVM_CAP_IMMEDIATE_EXIT, 1, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_READONLY_MEM, 1, "KVM_CAP_READONLY_MEM" },
		{ KVM_CAP_VCPU_EVENTS, 1, "KVM_CAP_VCPU_EVENTS" },
		{ KVM_CAP_SET_GUEST_DEBUG, 1, "KVM_CAP_SET_GUEST_DEBUG" },
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		int v = ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap);
		if (v < 0 || (v & caps[i].want) != caps[i].want) {
			snprintf(why, len, "%s: KVM lacks %s — use a newer Linux kernel",
				 KVM_DEV, caps[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	close(fd);
	return 0;
}

/* True if hvd answers admin_status with a usable KVM behind it. */
static bool hvd_answers(const struct hvctl *ctx, const char *cmd)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminStatus op = HVDP__ADMIN_STATUS__INIT;
	Hvdp__Response *resp;
	struct hvctl_conn c;
	bool ok;

	if (hvctl_open(ctx, cmd, &c, 1) != HVCTL_EXIT_OK)
		return false;
	req.op_case = HVDP__REQUEST__OP_ADMIN_STATUS;
	req.admin_status = &op;
	if (hvctl_call(&c, &req, &resp) != HVCTL_EXIT_OK) {
		hvctl_close(&c);
		return false;
	}
	ok = resp->status == HV_SUCCESS && resp->status_reply &&
	     resp->status_reply->kvm_api == KVM_API_VERSION;
	hvdp__response__free_unpacked(resp, NULL);
	hvctl_close(&c);
	return ok;
}

int hvctl_cmd_support(int argc, char *argv[], struct hvctl *ctx)
{
	char why[512];
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, NULL, argv[0])) >= 0)
		return r;
	if (optind < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	if (probe_kvm(why, sizeof(why)) == 0 || hvd_answers(ctx, argv[0])) {
		puts("1");
		return HVCTL_EXIT_OK;
	}
	/* Like sysctl, the answer is the output; the exit status says only
	 * that there was one. */
	puts("0");
	fflush(stdout);
	fprintf(stderr, "%s\n", why);
	return HVCTL_EXIT_OK;
}
