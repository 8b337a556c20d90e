/*
 * hvctl status: what hvd is, what the host gives it, and how busy it is.
 * Non-administrators' counts cover their own tenant only.
 */
#include <inttypes.h>
#include <getopt.h>

#include "hvd_protocol.h"
#include "ipc.h"
#include "out.h"

static int print_json(const Hvdp__StatusReply *st)
{
	json_object *o = json_object_new_object();

	if (!o)
		return hvctl_json_print(NULL);
	hvctl_json_str(o, "version", st->version);
	hvctl_json_u64(o, "protocol", st->protocol);
	hvctl_json_u64(o, "uptime_ms", st->uptime_ms);
	hvctl_json_i64(o, "kvm_api", st->kvm_api);
	hvctl_json_str(o, "arch", st->arch == HVD_ARCH_ARM64 ? "arm64" : "x86_64");
	if (st->arch == HVD_ARCH_ARM64) {
		hvctl_json_u64(o, "ipa_max", st->ipa_max);
		hvctl_json_bool(o, "smccc_filter", st->smccc_filter);
		hvctl_json_bool(o, "counter_offset", st->counter_offset);
	} else {
		hvctl_json_bool(o, "out_rip_after", st->out_rip_after);
		hvctl_json_bool(o, "tsc_writable", st->tsc_writable);
		hvctl_json_bool(o, "hw_breakpoints", st->hw_breakpoints);
	}
	hvctl_json_u64(o, "max_vcpus", st->max_vcpus);
	hvctl_json_u64(o, "clients", st->clients);
	hvctl_json_u64(o, "vms", st->vms);
	hvctl_json_u64(o, "vcpus", st->vcpus);
	hvctl_json_u64(o, "guest_memory", st->guest_memory);
	hvctl_json_str(o, "policy_source", st->policy_source);
	hvctl_json_u64(o, "grants_loaded", st->grants_loaded);
	hvctl_json_u64(o, "grants_rejected", st->grants_rejected);
	json_object *lim = json_object_new_object();
	if (lim) {
		hvctl_json_u64(lim, "max_clients", st->max_clients);
		hvctl_json_u64(lim, "max_unauthenticated", st->max_unauthenticated);
		hvctl_json_u64(lim, "hello_timeout_ms", st->hello_timeout_ms);
		hvctl_json_u64(lim, "max_inflight", st->max_inflight);
		hvctl_json_u64(lim, "max_message", st->max_message);
		hvctl_json_u64(lim, "max_fds", st->max_fds);
		hvctl_json_u64(lim, "host_max_vms", st->host_max_vms);
		hvctl_json_u64(lim, "host_max_vcpus", st->host_max_vcpus);
		json_object_object_add(o, "limits", lim);
	}
	return hvctl_json_print(o);
}

static void print_human(const Hvdp__StatusReply *st)
{
	char buf[64];

	hvctl_kv("version", "%s", st->version);
	hvctl_kv("protocol", "%u", st->protocol);
	hvctl_kv("uptime", "%s", hvctl_fmt_ms(buf, sizeof(buf), st->uptime_ms));
	hvctl_kv("KVM API", "%d", st->kvm_api);
	if (st->arch == HVD_ARCH_ARM64) {
		hvctl_kv("API", "%s", "Apple Silicon (arm64)");
		hvctl_kv("IPA size", "up to %u bits", st->ipa_max);
		hvctl_kv("HVC/SMC exits", "%s", st->smccc_filter ? "yes (KVM's SMCCC filter)"
			 : "no (kernel before 6.4: HVC never exits)");
		hvctl_kv("counter offset", "%s", st->counter_offset ? "per VM" : "absent");
	} else {
		hvctl_kv("API", "%s", "Intel (VMX)");
		/* Older kernels report an OUT exit with RIP still at the OUT;
		 * hvd hides the difference, but it explains traces. */
		hvctl_kv("OUT exit", "%s", st->out_rip_after ? "RIP after the instruction"
							      : "RIP at the instruction");
		hvctl_kv("guest TSC settable", "%s", st->tsc_writable ? "yes" : "no");
		hvctl_kv("hardware breakpoints", "%s", st->hw_breakpoints ? "hit"
			 : "not delivered (real-mode guests with memory at 0x100F00 cannot run)");
	}
	hvctl_kv("max vCPUs", "%u", st->max_vcpus);
	hvctl_kv("clients", "%u", st->clients);
	hvctl_kv("VMs", "%u", st->vms);
	hvctl_kv("vCPUs", "%u", st->vcpus);
	hvctl_kv("guest memory", "%s", hvctl_fmt_bytes(buf, sizeof(buf), st->guest_memory));
	hvctl_kv("policy", "%s", st->policy_source);
	hvctl_kv("grants", "%u loaded, %u rejected", st->grants_loaded, st->grants_rejected);
	hvctl_kv("client limits", "%u clients (%u without Hello, %u ms to say it), "
		 "%u vCPU requests queued per client", st->max_clients,
		 st->max_unauthenticated, st->hello_timeout_ms, st->max_inflight);
	hvctl_kv("other limits", "messages %u bytes, %u fd; host %u VMs, %u vCPUs (0 = none)",
		 st->max_message, st->max_fds, st->host_max_vms, st->host_max_vcpus);
}

int hvctl_cmd_status(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminStatus op = HVDP__ADMIN_STATUS__INIT;
	Hvdp__Response *resp;
	bool json = false;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, &json, argv[0])) >= 0)
		return r;
	if (optind < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind]);
	req.op_case = HVDP__REQUEST__OP_ADMIN_STATUS;
	req.admin_status = &op;
	if ((r = hvctl_admin(ctx, argv[0], &req, NULL, &resp)) != HVCTL_EXIT_OK)
		return r;
	if (!resp->status_reply) {
		hvctl_err(argv[0], "hvd's reply has no status — use the hvctl that came with hvd");
		r = HVCTL_EXIT_FAILED;
	} else if (json) {
		r = print_json(resp->status_reply);
	} else {
		print_human(resp->status_reply);
	}
	hvdp__response__free_unpacked(resp, NULL);
	return r;
}
