/*
 * hvd's authorization decision (policy/hvp_authz.c) on its own: no
 * daemon, no KVM, no files. Each test builds the facts hvd would gather
 * for a request and checks the verdict, whether it is audited, and the
 * reason the client and the audit log get.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hvp.h"

static struct hvp_grant_result grant;
static struct hvp_limits limits;
static struct hvp_rate rpc_rate, admin_rate;

/* A tenant's session entitled to create VMs, far from every limit. */
static struct hvp_authz_input input(enum hvp_act act)
{
	struct hvp_authz_input in;

	memset(&grant, 0, sizeof(grant));
	grant.ents = HVP_HYPERVISOR;
	snprintf(grant.tenant, sizeof(grant.tenant), "uid:1000");
	snprintf(grant.reason, sizeof(grant.reason), "rule dev: uid 1000");
	grant.quota = (struct hvp_quota){
		.max_vms = 4,
		.max_vcpus_per_vm = 8,
		.max_vcpus = 16,
		.max_memory = 1ull << 30,
		.max_mappings = 64,
	};
	memset(&limits, 0, sizeof(limits));
	memset(&rpc_rate, 0, sizeof(rpc_rate));
	memset(&admin_rate, 0, sizeof(admin_rate));
	memset(&in, 0, sizeof(in));
	in.act = act;
	in.request = "some_request";
	in.grant = &grant;
	in.limits = &limits;
	in.has_vm = act != HVP_ACT_VM_CREATE;
	in.rpc_rate = &rpc_rate;
	in.admin_rate = &admin_rate;
	in.now_ns = 5000000000ull;
	return in;
}

static void assert_allowed(const struct hvp_authz *a, bool audit)
{
	cr_assert_eq(a->verdict, HVP_ALLOW, "refused: %s", a->reason);
	cr_assert_eq(a->audit, audit);
	cr_assert_eq(a->rate, HVP_RATE_NONE);
	cr_assert_str_empty(a->reason);
}

static void assert_refused(const struct hvp_authz *a, enum hvp_verdict v, const char *why)
{
	cr_assert_eq(a->verdict, v, "verdict %s (%s)", hvp_verdict_name(a->verdict), a->reason);
	cr_assert(a->audit, "a refusal is audited");
	cr_assert_str_eq(a->reason, why);
}

Test(authz, plain_requests_allowed_without_audit)
{
	static const enum hvp_act acts[] = {
		HVP_ACT_OPEN, HVP_ACT_VM, HVP_ACT_VCPU, HVP_ACT_ADMIN_READ,
		HVP_ACT_ADMIN_OWN, HVP_ACT_EXPLAIN,
	};
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		struct hvp_authz_input in = input(acts[i]);
		struct hvp_authz a;
		/* Not even an entitlement is needed for these. */
		grant.ents = 0;
		cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW, "act %d", acts[i]);
		assert_allowed(&a, false);
	}
}

Test(authz, vm_create_allowed_and_audited)
{
	struct hvp_authz_input in = input(HVP_ACT_VM_CREATE);
	struct hvp_authz a;

	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	assert_allowed(&a, true);
}

Test(authz, vm_create_denied_without_the_entitlement)
{
	struct hvp_authz_input in = input(HVP_ACT_VM_CREATE);
	struct hvp_authz a;

	grant.ents = HVP_NETWORKING | HVP_DEVICE_ACCESS;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_DENY);
	assert_refused(&a, HVP_DENY,
		       "no com.apple.security.hypervisor entitlement (rule dev: uid 1000)");
	cr_assert_str_eq(hvp_verdict_name(a.verdict), "deny");
}

Test(authz, vm_create_denial_keeps_a_long_reason_short)
{
	struct hvp_authz_input in = input(HVP_ACT_VM_CREATE);
	struct hvp_authz a;

	grant.ents = 0;
	memset(grant.reason, 'r', sizeof(grant.reason) - 1);
	grant.reason[sizeof(grant.reason) - 1] = 0;
	hvp_authorize(&in, &a);
	cr_assert_eq(a.verdict, HVP_DENY);
	/* The grant's reason is cut at 400 characters, inside the brackets. */
	cr_assert_eq(strlen(a.reason), strlen("no com.apple.security.hypervisor entitlement ()") + 400);
	cr_assert_eq(a.reason[strlen(a.reason) - 1], ')');
}

Test(authz, vm_create_with_a_vm_left_to_the_handler)
{
	struct hvp_authz_input in = input(HVP_ACT_VM_CREATE);
	struct hvp_authz a;

	/* The handler answers HV_BUSY; quotas do not matter then, and
	 * nothing is audited. */
	in.has_vm = true;
	grant.quota.max_vms = 0;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	assert_allowed(&a, false);
}

Test(authz, vm_create_refused_at_the_host_limit)
{
	struct hvp_authz_input in = input(HVP_ACT_VM_CREATE);
	struct hvp_authz a;

	limits.host_max_vms = 3;
	in.host_vms = 2;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	in.host_vms = 3;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA, "the host has as many VMs as it allows (host_max_vms 3)");
	cr_assert_str_eq(hvp_verdict_name(a.verdict), "quota");
	/* 0 is no limit. */
	limits.host_max_vms = 0;
	in.host_vms = 1000;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
}

Test(authz, vm_create_refused_over_the_tenant_quota)
{
	struct hvp_authz_input in = input(HVP_ACT_VM_CREATE);
	struct hvp_authz a;

	in.usage.vms = 4;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA, "max_vms 4 reached (4 VMs)");
	/* The entitlement is checked first. */
	grant.ents = 0;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_DENY);
}

Test(authz, map_within_quota_allowed_without_audit)
{
	struct hvp_authz_input in = input(HVP_ACT_MAP);
	struct hvp_authz a;

	in.map_bytes = 1ull << 29;
	in.usage.memory = 1ull << 29;
	in.usage.mappings = 63;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	assert_allowed(&a, false);
}

Test(authz, map_refused_over_memory_or_mappings)
{
	struct hvp_authz_input in = input(HVP_ACT_MAP);
	struct hvp_authz a;

	in.usage.memory = 1ull << 29;
	in.map_bytes = (1ull << 29) + 4096;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA,
		       "max_memory 1073741824 exceeded (536870912 mapped + 536875008 asked)");

	in.map_bytes = 4096;
	in.usage.mappings = 64;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA, "max_mappings 64 reached (64 mappings)");
}

Test(authz, vcpu_create_quotas)
{
	struct hvp_authz_input in = input(HVP_ACT_VCPU_CREATE);
	struct hvp_authz a;

	in.vcpus_in_vm = 7;
	in.usage.vcpus = 15;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	assert_allowed(&a, false);

	in.vcpus_in_vm = 8;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA, "max_vcpus_per_vm 8 reached (8 vCPUs in this VM)");

	in.vcpus_in_vm = 1;
	in.usage.vcpus = 16;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA, "max_vcpus 16 reached (16 vCPUs in the tenant)");

	/* The host's limit comes before the tenant's. */
	limits.host_max_vcpus = 10;
	in.host_vcpus = 10;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA,
		       "the host has as many vCPUs as it allows (host_max_vcpus 10)");
}

Test(authz, admin_requests_for_administrators_only)
{
	struct hvp_authz_input in = input(HVP_ACT_ADMIN);
	struct hvp_authz a;

	in.admin = false;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_DENY);
	assert_refused(&a, HVP_DENY, "administrators only (root or the admin group)");

	in.admin = true;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	assert_allowed(&a, true);
}

Test(authz, request_rate_refused_then_refilled)
{
	struct hvp_authz_input in = input(HVP_ACT_VCPU);
	struct hvp_authz a;

	grant.quota.max_rpc_rate = 2;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA, "rate of requests above 2/s");
	cr_assert_eq(a.rate, HVP_RATE_RPC);
	cr_assert_eq(a.retry_ms, 501);
	/* Half a second later, one token is back. */
	in.now_ns += 500000000ull;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	cr_assert_eq(a.rate, HVP_RATE_NONE);
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
}

Test(authz, request_rate_comes_before_everything)
{
	struct hvp_authz_input in = input(HVP_ACT_VM_CREATE);
	struct hvp_authz a;

	grant.quota.max_rpc_rate = 1;
	grant.ents = 0;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_DENY);
	/* A flood costs a token check, not a decision. */
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	cr_assert_eq(a.rate, HVP_RATE_RPC);
}

Test(authz, no_request_rate_without_a_tenant)
{
	struct hvp_authz_input in = input(HVP_ACT_VCPU);
	struct hvp_authz a;

	grant.quota.max_rpc_rate = 1;
	in.rpc_rate = NULL;
	for (int i = 0; i < 10; i++)
		cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
}

Test(authz, admin_rate_for_non_administrators)
{
	struct hvp_authz_input in = input(HVP_ACT_ADMIN_READ);
	struct hvp_authz a;

	limits.max_admin_rate = 1;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	assert_refused(&a, HVP_QUOTA, "admin requests above 1/s from this uid (max_admin_rate)");
	cr_assert_eq(a.rate, HVP_RATE_ADMIN);
	cr_assert_eq(a.retry_ms, 1001);
	/* Every admin request counts: the explain probe too. */
	in.act = HVP_ACT_EXPLAIN;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_QUOTA);
	/* Client requests do not take from it. */
	in.act = HVP_ACT_VCPU;
	cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
	/* Administrators are exempt. */
	in.act = HVP_ACT_ADMIN_READ;
	in.admin = true;
	for (int i = 0; i < 10; i++)
		cr_assert_eq(hvp_authorize(&in, &a), HVP_ALLOW);
}

Test(authz, a_request_without_a_decision_is_denied)
{
	struct hvp_authz_input in = input(HVP_ACT_OPEN);
	struct hvp_authz a;

	in.act = (enum hvp_act)0;
	in.request = "new_rpc";
	cr_assert_eq(hvp_authorize(&in, &a), HVP_DENY);
	cr_assert_str_eq(a.reason, "no policy decision for new_rpc");
	cr_assert_not(a.audit);
}
