/*
 * The client RPCs answered on the loop thread: the handshake, VM creation
 * (with the re-check of a grant's process), capabilities, vCPU creation
 * and kicks. Guest-memory changes are in hvd_memop.c, admin requests in
 * hvd_admin.c, the vCPU calls in hvd_vcpuop.c. Each handler fills `resp`
 * and returns the descriptor to send with it, -1 for none, or
 * HVD_REPLY_LATER.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#if !defined(__aarch64__)
#include <Hypervisor/hv.h>
#endif

#include "hvd.h"
#include "hvd_audit.h"
#include "hvd_ident.h"
#include "hvd_log.h"
#include "hvd_policy.h"
#include "hvd_rpc.h"
#include "hvd_session.h"
#include "hvd_time.h"
#include "hvd_vcpu.h"
#include "hvd_worker.h"

/* What the architecture's API asks of the host: the VMX capabilities
 * (x86), or what hv_vm_config_get_* and the vCPU's ID registers report
 * (arm64). */
static void hello_host(struct hvd_session *s, Hvdp__HelloReply *hello)
{
	const struct hvb_ops *be = s->d->be;

	if (be->x86) {
		static uint64_t caps[33];
		static uint32_t caps_status[33];
		for (unsigned i = 0; i < 33; i++) {
			int r = be->x86->read_capability(s->d->host, i, &caps[i]);
			caps_status[i] = r < 0 ? (uint32_t)-r : 0;
			if (r < 0)
				caps[i] = 0;
		}
		hello->n_vmx_caps = 33;
		hello->vmx_caps = caps;
		hello->n_vmx_caps_status = 33;
		hello->vmx_caps_status = caps_status;
	}
	if (be->arm64) {
		static Hvdp__Arm64Host a;
		static struct hvb_a64_host h;
		hvdp__arm64_host__init(&a);
		if (be->arm64->host_query(s->d->host, &h) < 0)
			return; /* no arm64_host: the client reports no device */
		a.ipa_max = h.ipa_max;
		a.ipa_default = h.ipa_default;
		a.el2 = h.el2;
		a.smccc_filter = h.smccc_filter;
		a.counter_offset = h.counter_offset;
		a.n_feature = sizeof(h.feature) / sizeof(h.feature[0]);
		a.feature = h.feature;
		a.n_ccsidr = sizeof(h.ccsidr) / sizeof(h.ccsidr[0][0]);
		a.ccsidr = &h.ccsidr[0][0];
		hello->arm64_host = &a;
	}
}

int hvd_rpc_hello(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	static Hvdp__HelloReply hello;
	(void)fd;

	hvdp__hello_reply__init(&hello);
	hello.version = HVD_PROTOCOL_VERSION;
	hello.run_page_size = (uint32_t)sizeof(struct hvd_run_page);
	hello.run_page_version = HVD_RUN_PAGE_VERSION;
	hello.arch = HVD_ARCH;
	hello.max_vcpus = s->d->be->host_info(s->d->host)->max_vcpus;
	hello_host(s, &hello);
	hello.session_nonce = s->nonce;
	resp->hello = &hello;
	const struct hvp_limits *lim = hvp_limits(s->d->policy);
	unsigned clients = 0;
	for (struct hvd_session *o = s->d->sessions; o; o = o->next)
		clients += !o->closing && o->hello_done;
	/* The host-wide limit holds for everyone; under it, each uid but the
	 * administrators' has a share. */
	if (lim->max_clients && clients >= lim->max_clients) {
		resp->status = HV_NO_RESOURCES;
		resp->error = "hvd has as many clients as it allows (max_clients)";
		hvd_audit(s, "hello", "quota", resp->error);
		hvd_metrics_refused(&s->d->metrics, HVP_QUOTA, HVP_RATE_NONE);
		return -1;
	}
	if (!s->admin && lim->max_clients_per_uid &&
	    hvd_sessions_of_share(s->d, s->share, true) >= lim->max_clients_per_uid) {
		resp->status = HV_NO_RESOURCES;
		resp->error = "this uid has as many connections to hvd as it may (max_clients_per_uid)";
		hvd_audit(s, "hello", "quota", resp->error);
		hvd_metrics_refused(&s->d->metrics, HVP_QUOTA, HVP_RATE_NONE);
		return -1;
	}
	if (req->hello->version != HVD_PROTOCOL_VERSION) {
		hvd_warn("session %llu speaks protocol %u, hvd speaks %u",
			 (unsigned long long)s->id, req->hello->version, HVD_PROTOCOL_VERSION);
		resp->status = HV_UNSUPPORTED;
		return -1;
	}
	s->hello_done = true;
	return -1;
}

/* Create the VM: here, or in a worker process (hvd_worker.c), which then
 * answers and has the request: returns true then. */
static bool vm_create_now(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp)
{
	if (s->d->workers) {
		int r = hvd_worker_vm_create(s, req);
		if (r == 0)
			return true;
		resp->status = hvd_status_from_errno(r);
		return false;
	}
	resp->status = hvd_status_from_errno(s->d->be->vm_create(s->d->host, req->vm_create->flags,
							   &s->vm));
	if (resp->status == HV_SUCCESS) {
		hvd_log(s->d->worker ? HVD_LOG_DEBUG : HVD_LOG_INFO, "session %llu: VM created",
			(unsigned long long)s->id);
		s->vm_created_ms = hvd_now_ms();
		if (s->tenant)
			s->tenant->usage.vms++;
	} else {
		s->vm = NULL;
	}
	return false;
}

/* hvd-ident has looked at the process again: is it still the one, running
 * the code, that the grant was decided for? */
static void vm_create_checked(struct hvd_session *s, int err, const struct hvp_identity *now,
			      void *arg)
{
	Hvdp__Request *req = s->deferred;
	Hvdp__Response resp = HVDP__RESPONSE__INIT;
	char msg[300];

	(void)arg;
	s->deferred = NULL;
	s->waiting = false;
	resp.id = req->id;
	const char *why = hvd_policy_same_process(s, err, now);
	if (why || hvd_session_has_vm(s)) {
		resp.status = hvd_session_has_vm(s) ? HV_BUSY : HV_DENIED;
		if (why) {
			snprintf(msg, sizeof(msg), "grant not honoured: %s", why);
			resp.error = msg;
			hvd_warn("session %llu (pid %d): vm_create refused: %s",
				 (unsigned long long)s->id, (int)s->pid, msg);
			hvd_audit(s, "vm_create", "deny", msg);
			hvd_metrics_refused(&s->d->metrics, HVP_DENY, HVP_RATE_NONE);
		}
	} else if (vm_create_now(s, req, &resp)) {
		hvd_session_resume(s);
		return; /* the worker answers */
	}
	hvd_session_reply(s, &resp, -1);
	hvdp__request__free_unpacked(req, NULL);
	hvd_session_resume(s);
}

int hvd_rpc_vm_create(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	uint64_t flags = req->vm_create->flags;
	(void)fd;

#if defined(__aarch64__)
	/* The HA64_VMOPT_* options: the backend checks each against the
	 * host (IPA size, EL2). */
	if (hvd_session_has_vm(s))
		resp->status = HV_BUSY;
	else if (flags & ~HA64_VMOPT_KNOWN)
		resp->status = HV_BAD_ARGUMENT;
#else
	const uint64_t known = HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE |
		HV_VM_MITIGATION_B_ENABLE | HV_VM_MITIGATION_C_ENABLE |
		HV_VM_MITIGATION_D_ENABLE | HV_VM_MITIGATION_E_ENABLE;

	if (hvd_session_has_vm(s))
		resp->status = HV_BUSY;
	else if (flags & HV_VM_ACCEL_APIC)
		resp->status = HV_UNSUPPORTED;
	else if (flags & ~known)
		resp->status = HV_BAD_ARGUMENT;
#endif
	if (resp->status != HV_SUCCESS)
		return -1;
	if (!s->exe_bound)
		return vm_create_now(s, req, resp) ? HVD_REPLY_LATER : -1;
	/* Rights from a grant: the request must come from a process that
	 * read this connection's Hello reply, and the process must still be
	 * the one, running the same code, that was identified. */
	if (req->vm_create->session_nonce != s->nonce) {
		resp->status = HV_DENIED;
		resp->error = "grant not honoured: vm_create without this connection's nonce "
			      "(written before hvd identified the process?)";
		hvd_audit(s, "vm_create", "deny", resp->error);
		hvd_metrics_refused(&s->d->metrics, HVP_DENY, HVP_RATE_NONE);
		return -1;
	}
	s->deferred = req;
	s->waiting = true;
	uv_poll_stop(&s->poll);
	if (hvd_ident_submit(s, s->pid, s->pidfd, vm_create_checked, NULL) < 0)
		vm_create_checked(s, -EIO, NULL, NULL);
	return HVD_REPLY_LATER;
}

void hvd_rpc_replied(struct hvd_session *s, const Hvdp__Request *req, int32_t status)
{
	/* A worker's VM is this client's alone: once the client has its VM,
	 * the thread of its first vCPU is started and set up, and the VM's
	 * MSR filter set, while the client goes on to map memory
	 * (hvd_vcpu_ahead). After the answer, so as not to delay it. x86
	 * only (arm64 has no such set-up to save). */
	if (req->op_case == HVDP__REQUEST__OP_VM_CREATE && status == HV_SUCCESS &&
	    s->d->worker && s->d->be->x86 && s->vm && !s->ahead &&
	    hvd_vcpu_ahead(s, &s->ahead) < 0)
		s->ahead = NULL;
}

int hvd_rpc_vm_sync_tsc(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)fd;
	/* An x86 call: refused by an arm64 hvd (a client may send anything). */
	resp->status = s->d->be->x86 ?
		hvd_status_from_errno(s->d->be->x86->sync_tsc(s->vm, req->vm_sync_tsc->tsc)) :
		HV_UNSUPPORTED;
	return -1;
}

int hvd_rpc_capability(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)fd;
#if defined(__aarch64__)
	/* hv_capability is Intel's; arm64 clients ask the HelloReply. */
	(void)s, (void)req;
	resp->status = HV_UNSUPPORTED;
#else
	switch (req->capability->which) {
	case HV_CAP_VCPUMAX:
		resp->value = s->d->be->host_info(s->d->host)->max_vcpus;
		break;
	case HV_CAP_ADDRSPACEMAX:
		resp->value = 1;
		break;
	default:
		resp->status = HV_BAD_ARGUMENT;
	}
#endif
	return -1;
}

int hvd_rpc_vcpu_create(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_vcpu *v;
	uint64_t flags = req->vcpu_create->flags;
	(void)fd;

#if defined(__aarch64__)
	/* arm64's hv_vcpu_create has a config, not flags: nothing to ask. */
	if (flags) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
#else
	if (flags & HV_VCPU_TSC_RELATIVE) {
		resp->status = HV_UNSUPPORTED;
		return -1;
	}
	if (flags & ~(uint64_t)HV_VCPU_ACCEL_RDPMC) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
#endif
	int r;
	if (s->ahead && (r = hvd_vcpu_take(s->ahead)) == 0) {
		v = s->ahead;
		s->ahead = NULL;
	} else if (!s->ahead) {
		r = hvd_vcpu_start(s, &v);
	}
	resp->status = hvd_status_from_errno(r);
	if (r < 0)
		return -1;
	if (s->vcpus[v->id]) {
		/* A destroyed vCPU whose thread has not been reaped yet. */
		hvd_vcpu_free(s->vcpus[v->id]);
	}
	s->vcpus[v->id] = v;
	resp->vcpu = v->id;
	if (s->tenant)
		s->tenant->usage.vcpus++;
	return v->page_fd;
}

int hvd_rpc_vcpu_interrupt(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	Hvdp__VcpuInterrupt *k = req->vcpu_interrupt;
	(void)fd;
	if (k->n_vcpus == 0) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
	for (size_t i = 0; i < k->n_vcpus; i++) {
		if (!hvd_session_vcpu(s, k->vcpus[i])) {
			resp->status = HV_BAD_ARGUMENT;
			return -1;
		}
	}
	for (size_t i = 0; i < k->n_vcpus; i++)
		hvd_vcpu_kick(hvd_session_vcpu(s, k->vcpus[i]));
	return -1;
}
