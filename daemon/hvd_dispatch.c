/*
 * Request dispatch: every RPC has one row in `handlers`, indexed by its
 * field number in hvd.proto, checked at compile time to cover them all.
 * A row says whether the request needs a VM and whether it runs on the
 * loop thread or is forwarded to the vCPU's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <Hypervisor/hv.h>

#include "hvd.h"
#include "hvd_admin.h"
#include "hvd_audit.h"
#include "hvd_dispatch.h"
#include "hvd_log.h"
#include "hvd_memop.h"
#include "hvd_ops.h"
#include "hvd_rpc.h"
#include "hvd_session.h"
#include "hvd_time.h"
#include "hvd_vcpu.h"
#include "hvd_vcpuop.h"

/* ---- the table ---- */

typedef int (*handler_fn)(struct hvd_session *, Hvd__Request *, Hvd__Response *, int);

/*
 * What the policy must decide before a request runs. Every row names one;
 * ROW() has no default, so a row without a decision does not compile.
 */
enum act {
	ACT_OPEN = 1,    /* handshake and capabilities: any connected peer */
	ACT_VM_CREATE,   /* com.apple.security.hypervisor + the VM quota */
	ACT_VM,          /* on the session's own VM */
	ACT_MAP,         /* + the memory and mapping quotas */
	ACT_VCPU_CREATE, /* + the vCPU quotas */
	ACT_VCPU,        /* on the session's own vCPU */
	ACT_ADMIN_READ,  /* listings: admins see all, others their tenant */
	ACT_ADMIN_OWN,   /* kill: admin, or the VM's own tenant */
	ACT_ADMIN,       /* policy reload: admin only */
	ACT_EXPLAIN,     /* admin, or a process of the caller's own uid */
};

struct handler {
	const char *name;
	handler_fn loop;     /* runs on the loop thread; NULL: forwarded to the vCPU */
	bool needs_vm;
	enum act act;
};

#define OP_FIRST HVD__REQUEST__OP_HELLO
#define OP_LAST (HVD_OP_FIRST + HVD_OP_COUNT - 1)
#define ROW(op, n, fn, vm, act) [HVD__REQUEST__OP_##op - OP_FIRST] = { n, fn, vm, act }

static const struct handler handlers[] = {
	ROW(HELLO, "hello", hvd_rpc_hello, false, ACT_OPEN),
	ROW(VM_CREATE, "vm_create", hvd_rpc_vm_create, false, ACT_VM_CREATE),
	ROW(VM_DESTROY, "vm_destroy", hvd_memop_vm_destroy, true, ACT_VM),
	ROW(VM_MAP, "vm_map", hvd_memop_vm_map, true, ACT_MAP),
	ROW(VM_UNMAP, "vm_unmap", hvd_memop_vm_unmap, true, ACT_VM),
	ROW(VM_PROTECT, "vm_protect", hvd_memop_vm_protect, true, ACT_VM),
	ROW(VM_SYNC_TSC, "vm_sync_tsc", hvd_rpc_vm_sync_tsc, true, ACT_VM),
	ROW(CAPABILITY, "capability", hvd_rpc_capability, false, ACT_OPEN),
	ROW(VCPU_CREATE, "vcpu_create", hvd_rpc_vcpu_create, true, ACT_VCPU_CREATE),
	ROW(VCPU_DESTROY, "vcpu_destroy", NULL, true, ACT_VCPU),
	ROW(VCPU_REG, "vcpu_reg", NULL, true, ACT_VCPU),
	ROW(VCPU_VMCS, "vcpu_vmcs", NULL, true, ACT_VCPU),
	ROW(VCPU_MSR, "vcpu_msr", NULL, true, ACT_VCPU),
	ROW(VCPU_NATIVE_MSR, "vcpu_native_msr", NULL, true, ACT_VCPU),
	ROW(VCPU_FPSTATE, "vcpu_fpstate", NULL, true, ACT_VCPU),
	ROW(VCPU_INVALIDATE_TLB, "vcpu_invalidate_tlb", NULL, true, ACT_VCPU),
	ROW(VCPU_EXEC_TIME, "vcpu_exec_time", NULL, true, ACT_VCPU),
	ROW(VCPU_INTERRUPT, "vcpu_interrupt", hvd_rpc_vcpu_interrupt, true, ACT_VCPU),
	ROW(ADMIN_STATUS, "admin_status", hvd_admin_status, false, ACT_ADMIN_READ),
	ROW(ADMIN_LIST_VMS, "admin_list_vms", hvd_admin_list_vms, false, ACT_ADMIN_READ),
	ROW(ADMIN_SHOW_VM, "admin_show_vm", hvd_admin_show_vm, false, ACT_ADMIN_READ),
	ROW(ADMIN_KILL_VM, "admin_kill_vm", hvd_admin_kill_vm, false, ACT_ADMIN_OWN),
	ROW(ADMIN_CLIENTS, "admin_clients", hvd_admin_clients, false, ACT_ADMIN_READ),
	ROW(ADMIN_POLICY_RELOAD, "admin_policy_reload", hvd_admin_policy_reload, false, ACT_ADMIN),
	ROW(ADMIN_POLICY_EXPLAIN, "admin_policy_explain", hvd_admin_policy_explain, false, ACT_EXPLAIN),
};

/* A new RPC in hvd.proto without a row here fails the build: the count
 * comes from the .proto itself (hvd_ops.h). */
_Static_assert(OP_FIRST == HVD_OP_FIRST, "Hello is the first RPC");
_Static_assert(sizeof(handlers) / sizeof(handlers[0]) == HVD_OP_COUNT,
	       "every RPC in hvd.proto needs a row in handlers[]");

const char *hvd_dispatch_check_table(void)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (!handlers[i].name || !handlers[i].act)
			return handlers[i].name ? handlers[i].name : "(unnamed row)";
	return NULL;
}

static unsigned host_vms(struct hvd_daemon *d)
{
	unsigned n = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		n += !o->closing && o->vm;
	return n;
}

static unsigned host_vcpus(struct hvd_daemon *d)
{
	unsigned n = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		if (!o->closing)
			n += hvd_session_vcpu_slots(o);
	return n;
}

/*
 * The one policy check every request passes. Returns HV_SUCCESS or the
 * status to answer with; decisions with consequences are audited.
 */
static int32_t authorize(struct hvd_session *s, const struct handler *h,
			 const Hvd__Request *req, char *why, size_t len)
{
	const struct hvp_quota *q = &s->grant.quota;
	struct hvp_usage none = { 0 };
	const struct hvp_usage *u = s->tenant ? &s->tenant->usage : &none;

	why[0] = 0;
	if (q->max_rpc_rate && s->tenant &&
	    !hvp_rate_take(&s->tenant->rate, q->max_rpc_rate, hvd_now_ms() * 1000000ull)) {
		snprintf(why, len, "rate of requests above %u/s", q->max_rpc_rate);
		/* One audit line a second per client, with the count, so a
		 * flood cannot fill the disk. */
		uint64_t now = hvd_now_ms();
		s->rate_refused++;
		if (now - s->rate_audit_ms >= 1000) {
			char line[640];
			snprintf(line, sizeof(line), "%s (%llu refused since the last line)", why,
				 (unsigned long long)s->rate_refused);
			hvd_audit(s, h->name, "quota", line);
			s->rate_audit_ms = now;
			s->rate_refused = 0;
		}
		/* Make the flooder wait for its next token before hvd reads
		 * from it again. */
		hvd_session_pause(s, 1000 / q->max_rpc_rate + 1);
		return HV_NO_RESOURCES;
	}
	/* Admin calls cost hvd more than they cost the caller (listings,
	 * probes of a process): a rate per uid, for all but administrators. */
	uint32_t admin_rate = hvp_limits(s->d->policy)->max_admin_rate;
	if (h->act >= ACT_ADMIN_READ && !s->admin && admin_rate &&
	    !hvp_rate_take(&s->share->admin_rate, admin_rate, hvd_now_ms() * 1000000ull)) {
		snprintf(why, len, "admin requests above %u/s from this uid (max_admin_rate)",
			 admin_rate);
		uint64_t now = hvd_now_ms();
		if (now - s->share->admin_audit_ms >= 1000) {
			hvd_audit(s, h->name, "quota", why);
			s->share->admin_audit_ms = now;
		}
		hvd_session_pause(s, 1000 / admin_rate + 1);
		return HV_NO_RESOURCES;
	}
	switch (h->act) {
	case ACT_OPEN:
	case ACT_VM:
	case ACT_VCPU:
	case ACT_ADMIN_READ:
		return HV_SUCCESS;
	case ACT_VM_CREATE:
		if (!(s->grant.ents & HVP_HYPERVISOR)) {
			snprintf(why, len, "no %s entitlement (%.400s)", HVP_ENT_HYPERVISOR,
				 s->grant.reason);
			hvd_audit(s, h->name, "deny", why);
			return HV_DENIED;
		}
		if (s->vm)
			return HV_SUCCESS; /* HV_BUSY from the handler */
		if (host_vms(s->d) >= hvp_limits(s->d->policy)->host_max_vms &&
		    hvp_limits(s->d->policy)->host_max_vms) {
			snprintf(why, len, "the host has as many VMs as it allows (host_max_vms %u)",
				 hvp_limits(s->d->policy)->host_max_vms);
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		if (hvp_check_vm(q, u, why, len) < 0) {
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		hvd_audit(s, h->name, "allow", "");
		return HV_SUCCESS;
	case ACT_MAP:
		if (hvp_check_map(q, u, req->vm_map->size, why, len) < 0) {
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		return HV_SUCCESS;
	case ACT_VCPU_CREATE: {
		uint32_t in_vm = 0;
		for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
			in_vm += s->vcpus[i] && !atomic_load(&s->vcpus[i]->exited);
		uint32_t host_max = hvp_limits(s->d->policy)->host_max_vcpus;
		if (host_max && host_vcpus(s->d) >= host_max) {
			snprintf(why, len, "the host has as many vCPUs as it allows "
				 "(host_max_vcpus %u)", host_max);
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		if (hvp_check_vcpu(q, u, in_vm, why, len) < 0) {
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		return HV_SUCCESS;
	}
	case ACT_ADMIN_OWN:
		return HV_SUCCESS; /* the handler checks ownership of the VM */
	case ACT_ADMIN:
		if (!s->admin) {
			snprintf(why, len, "administrators only (root or the admin group)");
			hvd_audit(s, h->name, "deny", why);
			return HV_DENIED;
		}
		hvd_audit(s, h->name, "allow", "");
		return HV_SUCCESS;
	case ACT_EXPLAIN:
		return HV_SUCCESS; /* the handler checks whose process it is */
	}
	snprintf(why, len, "no policy decision for %s", h->name);
	return HV_DENIED;
}

void hvd_dispatch(struct hvd_session *s, Hvd__Request *req, int fd)
{
	Hvd__Response resp = HVD__RESPONSE__INIT;
	const struct handler *h = NULL;
	int out_fd = -1;

	resp.id = req->id;
	resp.status = HV_SUCCESS;
	if (req->op_case >= OP_FIRST && req->op_case <= OP_LAST)
		h = &handlers[req->op_case - OP_FIRST];
	if (!h || !h->name) {
		resp.status = HV_UNSUPPORTED;
		goto reply;
	}
	/* A descriptor only travels with vm_map. */
	if (fd >= 0 && req->op_case != HVD__REQUEST__OP_VM_MAP) {
		close(fd);
		fd = -1;
		resp.status = HV_BAD_ARGUMENT;
		goto reply;
	}
	if (h->needs_vm && !s->vm) {
		resp.status = HV_NO_DEVICE;
		goto reply;
	}
	char why[512];
	resp.status = authorize(s, h, req, why, sizeof(why));
	if (resp.status != HV_SUCCESS) {
		resp.error = why;
		goto reply;
	}
	hvd_debug("session %llu: %s", (unsigned long long)s->id, h->name);
	if (h->loop) {
		out_fd = h->loop(s, req, &resp, fd);
		fd = -1;
		if (out_fd == HVD_REPLY_LATER)
			return; /* hvd_memop_poll answers, and frees req */
		goto reply;
	}
	struct hvd_vcpu *v = hvd_session_vcpu(s, hvd_vcpuop_target(req));
	if (!v) {
		resp.status = HV_BAD_ARGUMENT;
		goto reply;
	}
	unsigned max_inflight = hvp_limits(s->d->policy)->max_inflight;
	if (max_inflight && s->inflight >= max_inflight) {
		resp.status = HV_BUSY;
		resp.error = "too many vCPU requests waiting for an answer (max_inflight)";
		goto reply;
	}
	struct hvd_op *op = calloc(1, sizeof(*op));
	if (!op) {
		resp.status = HV_NO_RESOURCES;
		goto reply;
	}
	s->inflight++;
	op->session = s;
	op->request_id = req->id;
	op->req = req;
	op->destroy = req->op_case == HVD__REQUEST__OP_VCPU_DESTROY;
	op->value = op->destroy ? v->id : 0;
	hvd_vcpu_post(v, op);
	return; /* the vCPU thread replies */

reply:
	if (fd >= 0)
		close(fd);
	hvd_session_reply(s, &resp, out_fd);
	hvd_admin_reply_free(&resp);
	/* A refused handshake (version, max_clients) ends the connection
	 * once the client has the reason. */
	bool refused = req->op_case == HVD__REQUEST__OP_HELLO && resp.status != HV_SUCCESS;
	hvd__request__free_unpacked(req, NULL);
	if (refused)
		hvd_session_close(s, "handshake refused");
}
