/*
 * Request dispatch: every RPC has one row in `handlers`, indexed by its
 * field number in hvd.proto, checked at compile time to cover them all.
 * A row says whether the request needs a VM and whether it runs on the
 * loop thread or is forwarded to the vCPU's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "hvd.h"
#include "hvd_admin.h"
#include "hvd_audit.h"
#include "hvd_dispatch.h"
#include "hvd_gic.h"
#include "hvd_log.h"
#include "hvd_memop.h"
#include "hvd_ops.h"
#include "hvd_rpc.h"
#include "hvd_session.h"
#include "hvd_tenant.h"
#include "hvd_time.h"
#include "hvd_vcpu.h"
#include "hvd_vcpuop.h"
#include "hvd_worker.h"

/* ---- the table ---- */

typedef int (*handler_fn)(struct hvd_session *, Hvdp__Request *, Hvdp__Response *, int);

/*
 * Each row names what the policy must decide before the request runs
 * (enum hvp_act, in hvp.h); ROW() has no default, so a row without a
 * decision does not compile.
 */
struct handler {
	const char *name;
	handler_fn loop;     /* runs on the loop thread; NULL: forwarded to the vCPU */
	bool needs_vm;
	enum hvp_act act;
};

#define OP_FIRST HVDP__REQUEST__OP_HELLO
#define OP_LAST HVD_OP_LAST
#define ROW(op, n, fn, vm, act) [HVDP__REQUEST__OP_##op - OP_FIRST] = { n, fn, vm, act }

static const struct handler handlers[] = {
	ROW(HELLO, "hello", hvd_rpc_hello, false, HVP_ACT_OPEN),
	ROW(VM_CREATE, "vm_create", hvd_rpc_vm_create, false, HVP_ACT_VM_CREATE),
	ROW(VM_DESTROY, "vm_destroy", hvd_memop_vm_destroy, true, HVP_ACT_VM),
	ROW(VM_MAP, "vm_map", hvd_memop_vm_map, true, HVP_ACT_MAP),
	ROW(VM_UNMAP, "vm_unmap", hvd_memop_vm_unmap, true, HVP_ACT_VM),
	ROW(VM_PROTECT, "vm_protect", hvd_memop_vm_protect, true, HVP_ACT_VM),
	ROW(VM_SYNC_TSC, "vm_sync_tsc", hvd_rpc_vm_sync_tsc, true, HVP_ACT_VM),
	ROW(CAPABILITY, "capability", hvd_rpc_capability, false, HVP_ACT_OPEN),
	ROW(VCPU_CREATE, "vcpu_create", hvd_rpc_vcpu_create, true, HVP_ACT_VCPU_CREATE),
	ROW(VCPU_DESTROY, "vcpu_destroy", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_REG, "vcpu_reg", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_VMCS, "vcpu_vmcs", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_MSR, "vcpu_msr", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_NATIVE_MSR, "vcpu_native_msr", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_FPSTATE, "vcpu_fpstate", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_INVALIDATE_TLB, "vcpu_invalidate_tlb", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_EXEC_TIME, "vcpu_exec_time", NULL, true, HVP_ACT_VCPU),
	ROW(VCPU_INTERRUPT, "vcpu_interrupt", hvd_rpc_vcpu_interrupt, true, HVP_ACT_VCPU),
	ROW(ADMIN_STATUS, "admin_status", hvd_admin_status, false, HVP_ACT_ADMIN_READ),
	ROW(ADMIN_LIST_VMS, "admin_list_vms", hvd_admin_list_vms, false, HVP_ACT_ADMIN_READ),
	ROW(ADMIN_SHOW_VM, "admin_show_vm", hvd_admin_show_vm, false, HVP_ACT_ADMIN_READ),
	ROW(ADMIN_KILL_VM, "admin_kill_vm", hvd_admin_kill_vm, false, HVP_ACT_ADMIN_OWN),
	ROW(ADMIN_CLIENTS, "admin_clients", hvd_admin_clients, false, HVP_ACT_ADMIN_READ),
	ROW(ADMIN_POLICY_RELOAD, "admin_policy_reload", hvd_admin_policy_reload, false, HVP_ACT_ADMIN),
	ROW(ADMIN_POLICY_EXPLAIN, "admin_policy_explain", hvd_admin_policy_explain, false, HVP_ACT_EXPLAIN),
	ROW(GIC_CREATE, "gic_create", hvd_gic_create, true, HVP_ACT_VM),
	ROW(GIC_SPI, "gic_spi", hvd_gic_spi, true, HVP_ACT_VM),
	ROW(GIC_MSI, "gic_msi", hvd_gic_msi, true, HVP_ACT_VM),
	ROW(GIC_REG, "gic_reg", hvd_gic_reg, true, HVP_ACT_VM),
	ROW(GIC_STATE, "gic_state", hvd_gic_state, true, HVP_ACT_VM),
	ROW(GIC_RESET, "gic_reset", hvd_gic_reset, true, HVP_ACT_VM),
	ROW(ADMIN_LOG_LEVEL, "admin_log_level", hvd_admin_log_level, false, HVP_ACT_ADMIN),
	/* Tenant objects (hvd_tenant.c): administrators only. ADMIN, not
	 * ADMIN_READ or ADMIN_OWN: a tenant must not even list the others,
	 * and a tenant-socket peer is never an administrator, whatever its
	 * uid (hvd_policy_evaluate). */
	ROW(ADMIN_TENANT_ADD, "admin_tenant_add", hvd_tenant_add, false, HVP_ACT_ADMIN),
	ROW(ADMIN_TENANT_LIST, "admin_tenant_list", hvd_tenant_list, false, HVP_ACT_ADMIN),
	ROW(ADMIN_TENANT_SHOW, "admin_tenant_show", hvd_tenant_show, false, HVP_ACT_ADMIN),
	ROW(ADMIN_TENANT_SET, "admin_tenant_set", hvd_tenant_set, false, HVP_ACT_ADMIN),
	ROW(ADMIN_TENANT_REMOVE, "admin_tenant_remove", hvd_tenant_remove, false, HVP_ACT_ADMIN),
	ROW(WORKER_HELLO, "worker_hello", hvd_worker_rpc_hello, false, HVP_ACT_INTERNAL),
};

/* A new last RPC in hvd.proto without a row here fails the build, and
 * any other RPC without one stops hvd at start (hvd_dispatch_check_table):
 * the numbers come from the .proto itself (hvd_ops.h). Numbers the .proto
 * leaves unused have no row and answer HV_UNSUPPORTED. */
_Static_assert(OP_FIRST == HVD_OP_FIRST, "Hello is the first RPC");
_Static_assert(sizeof(handlers) / sizeof(handlers[0]) == HVD_OP_LAST - HVD_OP_FIRST + 1,
	       "every RPC in hvd.proto needs a row in handlers[]");

const char *hvd_dispatch_check_table(void)
{
	static const unsigned numbers[] = { HVD_OP_NUMBERS };
	_Static_assert(sizeof(numbers) / sizeof(numbers[0]) == HVD_OP_COUNT, "hvd_ops.h");
	for (size_t i = 0; i < HVD_OP_COUNT; i++) {
		const struct handler *h = &handlers[numbers[i] - OP_FIRST];
		if (!h->name || !h->act)
			return h->name ? h->name : "(unnamed row)";
	}
	return NULL;
}

static unsigned host_vms(struct hvd_daemon *d)
{
	unsigned n = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		n += !o->closing && hvd_session_has_vm(o);
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

/* Everything the decision needs, from the session and the host. The
 * host-wide counts walk every session: only for the requests they limit. */
static void authz_input(struct hvd_session *s, const struct handler *h,
			const Hvdp__Request *req, uint64_t now_ms, struct hvp_authz_input *in)
{
	const struct hvp_limits *lim = hvp_limits(s->d->policy);

	memset(in, 0, sizeof(*in));
	in->act = h->act;
	in->request = h->name;
	in->grant = &s->grant;
	in->admin = s->admin;
	in->limits = lim;
	if (s->tenant)
		in->usage = s->tenant->usage;
	in->has_vm = hvd_session_has_vm(s);
	in->rpc_rate = s->tenant ? &s->tenant->rate : NULL;
	in->admin_rate = &s->share->admin_rate;
	in->now_ns = now_ms * 1000000ull;
	if (h->act == HVP_ACT_MAP)
		in->map_bytes = req->vm_map->size;
	if (h->act == HVP_ACT_VM_CREATE && lim->host_max_vms)
		in->host_vms = host_vms(s->d);
	if (h->act == HVP_ACT_VCPU_CREATE) {
		in->vcpus_in_vm = (uint32_t)__builtin_popcountll(s->remote_vcpus);
		for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
			in->vcpus_in_vm += hvd_session_vcpu(s, i) != NULL;
		if (lim->host_max_vcpus)
			in->host_vcpus = host_vcpus(s->d);
	}
}

/*
 * The one policy check every request passes: the decision is the
 * policy's (hvp_authorize), its audit line is written here and nowhere
 * else. Returns HV_SUCCESS or the status to answer with, `a->reason`
 * saying why.
 */
/* A denial or quota refusal is also a log line (warn), not only an audit
 * line: at most one a second per client, with the count of those left
 * out, so that a flood cannot fill the journal. */
static void log_refusal(struct hvd_session *s, const struct handler *h, enum hvp_verdict v,
			const struct hvp_authz *a, uint64_t now)
{
	if (now - s->refusal_log_ms < 1000) {
		s->refusals_unlogged++;
		return;
	}
	if (s->refusals_unlogged)
		hvd_slog(HVD_LOG_WARN, s, "session %llu (pid %d uid %u): %s %s: %s (and %llu "
			 "more refused since the last line)", (unsigned long long)s->id,
			 (int)s->pid, (unsigned)s->uid, h->name, hvp_verdict_name(v), a->reason,
			 (unsigned long long)s->refusals_unlogged);
	else
		hvd_slog(HVD_LOG_WARN, s, "session %llu (pid %d uid %u): %s %s: %s",
			 (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid, h->name,
			 hvp_verdict_name(v), a->reason);
	s->refusal_log_ms = now;
	s->refusals_unlogged = 0;
}

static int32_t authorize(struct hvd_session *s, const struct handler *h,
			 const Hvdp__Request *req, struct hvp_authz *a)
{
	struct hvp_authz_input in;
	uint64_t now = hvd_now_ms();

	authz_input(s, h, req, now, &in);
	enum hvp_verdict v = hvp_authorize(&in, a);
	if (a->rate == HVP_RATE_RPC) {
		/* One audit line a second per client, with the count, so a
		 * flood cannot fill the disk. */
		s->rate_refused++;
		if (now - s->rate_audit_ms >= 1000) {
			char line[640];
			snprintf(line, sizeof(line), "%s (%llu refused since the last line)",
				 a->reason, (unsigned long long)s->rate_refused);
			hvd_audit(s, h->name, hvp_verdict_name(v), line);
			s->rate_audit_ms = now;
			s->rate_refused = 0;
		}
	} else if (a->rate == HVP_RATE_ADMIN) {
		/* The same per uid, without the count. */
		if (now - s->share->admin_audit_ms >= 1000) {
			hvd_audit(s, h->name, hvp_verdict_name(v), a->reason);
			s->share->admin_audit_ms = now;
		}
	} else if (a->audit) {
		hvd_audit(s, h->name, hvp_verdict_name(v), a->reason);
	}
	if (v != HVP_ALLOW) {
		log_refusal(s, h, v, a, now);
		hvd_metrics_refused(&s->d->metrics, v, a->rate);
	}
	/* Make a flooder wait for its next token before hvd reads from it
	 * again. */
	if (a->rate)
		hvd_session_pause(s, a->retry_ms);
	switch (v) {
	case HVP_ALLOW:
		return HV_SUCCESS;
	case HVP_QUOTA:
		return HV_NO_RESOURCES;
	case HVP_DENY:
		break;
	}
	return HV_DENIED;
}

void hvd_dispatch(struct hvd_session *s, Hvdp__Request *req, int fd)
{
	Hvdp__Response resp = HVDP__RESPONSE__INIT;
	const struct handler *h = NULL;
	int out_fd = -1;
	uint64_t start_ns = hvd_now_ns();

	resp.id = req->id;
	resp.status = HV_SUCCESS;
	if (req->op_case >= OP_FIRST && req->op_case <= OP_LAST)
		h = &handlers[req->op_case - OP_FIRST];
	if (!h || !h->name) {
		resp.status = HV_UNSUPPORTED;
		goto reply;
	}
	/* A descriptor only travels with vm_map, a GIC state write and an
	 * explain by identity (the executable asked about). */
	if (fd >= 0 && req->op_case != HVDP__REQUEST__OP_VM_MAP &&
	    req->op_case != HVDP__REQUEST__OP_GIC_STATE &&
	    req->op_case != HVDP__REQUEST__OP_ADMIN_POLICY_EXPLAIN) {
		close(fd);
		fd = -1;
		resp.status = HV_BAD_ARGUMENT;
		goto reply;
	}
	if (h->needs_vm && !hvd_session_has_vm(s)) {
		resp.status = HV_NO_DEVICE;
		goto reply;
	}
	/* A worker serves hvd, which decided already. (`a` outlives the
	 * block: the reply below may carry its reason.) */
	struct hvp_authz a;
	if (!s->d->worker) {
		resp.status = authorize(s, h, req, &a);
		if (resp.status != HV_SUCCESS) {
			resp.error = a.reason;
			goto reply;
		}
	}
	/* (Not hvd's word to a worker: it may be the level changing.) */
	if (h->act != HVP_ACT_INTERNAL)
		hvd_slog(HVD_LOG_DEBUG, s, "session %llu: %s", (unsigned long long)s->id, h->name);
	/* The VM is in a worker process: it answers (hvd_worker.c). */
	if (s->worker && h->needs_vm) {
		hvd_worker_forward(s, req, fd, start_ns);
		return;
	}
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
	op->destroy = req->op_case == HVDP__REQUEST__OP_VCPU_DESTROY;
	op->value = op->destroy ? v->id : 0;
	hvd_vcpu_post(v, op);
	return; /* the vCPU thread replies */

reply:
	if (fd >= 0)
		close(fd);
	if (s->d->worker) {
		/* For hvd's accounts (hvd_worker.c). */
		resp.mem_bytes = s->mem_bytes;
		resp.mappings = s->mappings;
	}
	hvd_session_reply(s, &resp, out_fd);
	hvd_rpc_replied(s, req, resp.status);
	if (!s->d->worker)
		hvd_metrics_rpc(&s->d->metrics, start_ns);
	/* The other descriptors sent are hvd's own (a run page); a GIC state
	 * is the client's copy. */
	if (out_fd >= 0 && req->op_case == HVDP__REQUEST__OP_GIC_STATE)
		close(out_fd);
	hvd_admin_reply_free(&resp);
	/* A refused handshake (version, max_clients) ends the connection
	 * once the client has the reason. */
	bool refused = req->op_case == HVDP__REQUEST__OP_HELLO && resp.status != HV_SUCCESS;
	hvdp__request__free_unpacked(req, NULL);
	if (refused)
		hvd_session_close(s, "handshake refused");
}
