/*
 * Authorization: the one decision every hvd request passes before its
 * handler runs (hvd_dispatch.c gathers the facts, calls this, and writes
 * the audit line). Entitlements, tenants' quotas, the host's limits and
 * the request rates, in that order of precedence: the rates first, so a
 * flood costs no more than a token check.
 */
#include <stdio.h>

#include "hvp.h"

const char *hvp_verdict_name(enum hvp_verdict v)
{
	switch (v) {
	case HVP_ALLOW: return "allow";
	case HVP_DENY: return "deny";
	case HVP_QUOTA: return "quota";
	}
	return "?";
}

static enum hvp_verdict decide(struct hvp_authz *out, enum hvp_verdict v, bool audit)
{
	out->verdict = v;
	out->audit = audit;
	return v;
}

enum hvp_verdict hvp_authorize(const struct hvp_authz_input *in, struct hvp_authz *out)
{
	const struct hvp_quota *q = &in->grant->quota;
	const struct hvp_limits *lim = in->limits;
	char *why = out->reason;
	size_t len = sizeof(out->reason);

	why[0] = 0;
	out->rate = HVP_RATE_NONE;
	out->retry_ms = 0;
	if (q->max_rpc_rate && in->rpc_rate &&
	    !hvp_rate_take(in->rpc_rate, q->max_rpc_rate, in->now_ns)) {
		snprintf(why, len, "rate of requests above %u/s", q->max_rpc_rate);
		out->rate = HVP_RATE_RPC;
		out->retry_ms = 1000 / q->max_rpc_rate + 1;
		return decide(out, HVP_QUOTA, true);
	}
	/* Admin calls cost hvd more than they cost the caller (listings,
	 * probes of a process): a rate per uid, for all but administrators. */
	if (in->act >= HVP_ACT_ADMIN_READ && !in->admin && lim->max_admin_rate &&
	    !hvp_rate_take(in->admin_rate, lim->max_admin_rate, in->now_ns)) {
		snprintf(why, len, "admin requests above %u/s from this uid (max_admin_rate)",
			 lim->max_admin_rate);
		out->rate = HVP_RATE_ADMIN;
		out->retry_ms = 1000 / lim->max_admin_rate + 1;
		return decide(out, HVP_QUOTA, true);
	}
	switch (in->act) {
	case HVP_ACT_OPEN:
	case HVP_ACT_VM:
	case HVP_ACT_VCPU:
	case HVP_ACT_ADMIN_READ:
		return decide(out, HVP_ALLOW, false);
	case HVP_ACT_VM_CREATE:
		if (!(in->grant->ents & HVP_HYPERVISOR)) {
			snprintf(why, len, "no %s entitlement (%.400s)", HVP_ENT_HYPERVISOR,
				 in->grant->reason);
			return decide(out, HVP_DENY, true);
		}
		if (in->has_vm)
			return decide(out, HVP_ALLOW, false); /* HV_BUSY from the handler */
		if (lim->host_max_vms && in->host_vms >= lim->host_max_vms) {
			snprintf(why, len, "the host has as many VMs as it allows (host_max_vms %u)",
				 lim->host_max_vms);
			return decide(out, HVP_QUOTA, true);
		}
		if (hvp_check_vm(q, &in->usage, why, len) < 0)
			return decide(out, HVP_QUOTA, true);
		return decide(out, HVP_ALLOW, true);
	case HVP_ACT_MAP:
		if (hvp_check_map(q, &in->usage, in->map_bytes, why, len) < 0)
			return decide(out, HVP_QUOTA, true);
		return decide(out, HVP_ALLOW, false);
	case HVP_ACT_VCPU_CREATE:
		if (lim->host_max_vcpus && in->host_vcpus >= lim->host_max_vcpus) {
			snprintf(why, len, "the host has as many vCPUs as it allows "
				 "(host_max_vcpus %u)", lim->host_max_vcpus);
			return decide(out, HVP_QUOTA, true);
		}
		if (hvp_check_vcpu(q, &in->usage, in->vcpus_in_vm, why, len) < 0)
			return decide(out, HVP_QUOTA, true);
		return decide(out, HVP_ALLOW, false);
	case HVP_ACT_ADMIN_OWN:
		return decide(out, HVP_ALLOW, false); /* the handler checks ownership of the VM */
	case HVP_ACT_ADMIN:
		if (!in->admin) {
			snprintf(why, len, "administrators only (root or the admin group)");
			return decide(out, HVP_DENY, true);
		}
		return decide(out, HVP_ALLOW, true);
	case HVP_ACT_EXPLAIN:
		return decide(out, HVP_ALLOW, false); /* the handler checks whose process it is */
	case HVP_ACT_INTERNAL:
		snprintf(why, len, "%s is hvd's message to its workers, not a client's",
			 in->request ? in->request : "?");
		return decide(out, HVP_DENY, true);
	}
	snprintf(why, len, "no policy decision for %s", in->request ? in->request : "?");
	return decide(out, HVP_DENY, false);
}
