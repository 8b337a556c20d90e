/*
 * Quotas with real clients: a tenant limited to one VM gets HV_NO_RESOURCES
 * (and a "quota" audit line) for a second one while the first lives, and
 * gets it again once the first client has gone. A tenant limited in guest
 * memory can map up to its limit, not beyond, and a refused mapping
 * changes nothing the guest could see (checked with `hvctl show --json`).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pol.h"

static struct pol_hvd H;

static const char conf[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[tenant one]\n"
	"max_vms = 1\n"
	"\n"
	"[tenant small]\n"
	"max_memory = 1M\n"
	"\n"
	"[rule alice]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = one\n"
	"\n"
	"[rule bob]\n"
	"uid = 60002\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = small\n"
	"\n"
	"[rule carol]\n"
	"uid = 60003\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = shut\n"
	"\n"
	"[tenant shut]\n"
	"max_vms = 0\n"
	"\n"
	"[rule dave]\n"
	"uid = 60004\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = few\n"
	"\n"
	"[tenant few]\n"
	"max_mappings = 2\n"
	"max_vcpus_per_vm = 1\n";

static void setup(void)
{
	pol_init(&H);
	pol_write_conf(&H, conf);
	pol_start(&H);
}

TestSuite(quota, .init = setup, .fini = pol_cleanup);

Test(quota, max_vms_is_exhausted_and_released)
{
	struct pol_proc first, second;
	char line[64], reason[512] = "";

	pol_client_start(&H, &first, UID_A, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&first, "create"), ST_SUCCESS);
	pol_client_line(&first, line, sizeof(line));
	cr_assert_str_eq(line, "ready");

	pol_client_start(&H, &second, UID_A, 0, NULL);
	unsigned st = pol_client_result(&second, "create");
	cr_expect_eq(st, ST_NO_RESOURCES, "a second VM in a tenant with max_vms = 1: got %#x, "
		     "expected HV_NO_RESOURCES", st);
	pol_client_finish(&second);
	cr_expect_eq(pol_audit_count(&H, "quota", "vm_create", UID_A, second.pid, reason,
				     sizeof(reason)), 1, "a quota line for pid %d", (int)second.pid);
	cr_expect(strstr(reason, "max_vms"), "the quota line names the limit: %s", reason);

	/* Another tenant is not affected by tenant one's use. */
	cr_expect_eq(pol_client_once(&H, UID_B, 0, NULL), ST_SUCCESS);

	/* The first client goes; once hvd has seen it go, the VM it held is
	 * the tenant's again. */
	cr_expect_eq(pol_client_finish(&first), 0);
	pol_wait_vms(&H, 0);
	cr_expect_eq(pol_audit_count(&H, "closed", "session", UID_A, first.pid, NULL, 0), 1,
		     "the first client's session was audited as closed");
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS,
		     "after the first client exited, its tenant may create a VM again");
	pol_done();
}

Test(quota, a_killed_vm_gives_its_quota_back)
{
	struct pol_proc first;
	char line[64], id[32];

	pol_client_start(&H, &first, UID_A, 0, "--map", "0x10000", "--vcpu", "--hold", NULL);
	cr_assert_eq(pol_client_result(&first, "create"), ST_SUCCESS);
	cr_assert_eq(pol_client_result(&first, "map"), ST_SUCCESS);
	cr_assert_eq(pol_client_result(&first, "vcpu"), ST_SUCCESS);
	pol_client_line(&first, line, sizeof(line));
	cr_assert_str_eq(line, "ready");
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_NO_RESOURCES);

	json_object *l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *vm = pol_find(pol_get(l, "vms"), "pid", first.pid);
	cr_assert_not_null(vm, "%s", json_object_to_json_string(l));
	snprintf(id, sizeof(id), "%lld", pol_int(vm, "id"));
	json_object_put(l);
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, 0, &out, &err, "kill", id, NULL);
	cr_expect_eq(r, 0, "kill exited %d: %s %s", r, out, err);
	free(out);
	free(err);

	/* The owner still runs, but its VM is gone and so is its charge. */
	pol_wait_vms(&H, 0);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS,
		     "the killed VM still counts against its tenant's max_vms");
	cr_expect_neq(pol_client_cmd(&first, "map", "map 0x1000 0x100000"), ST_SUCCESS);
	pol_client_finish(&first);
	pol_done();
}

static void expect_maps(json_object *vm, unsigned n, const unsigned long long (*maps)[2],
			unsigned long long memory)
{
	json_object *a = pol_get(vm, "maps");
	cr_expect_eq(pol_int(vm, "memory"), (long long)memory, "memory: %s",
		     json_object_to_json_string(vm));
	cr_assert_eq(json_object_array_length(a), n, "maps: %s", json_object_to_json_string(a));
	for (unsigned i = 0; i < n; i++) {
		json_object *m = pol_find(a, "gpa", (long long)maps[i][0]);
		cr_assert_not_null(m, "no mapping at %#llx: %s", maps[i][0],
				   json_object_to_json_string(a));
		cr_expect_eq(pol_int(m, "size"), (long long)maps[i][1], "%s",
			     json_object_to_json_string(m));
	}
}

Test(quota, max_memory_refuses_a_mapping_beyond_it_and_changes_nothing)
{
	struct pol_proc p;
	char line[64];

	pol_client_start(&H, &p, UID_B, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&p, "create"), ST_SUCCESS);
	pol_client_line(&p, line, sizeof(line));
	cr_assert_str_eq(line, "ready");

	cr_assert_eq(pol_client_cmd(&p, "map", "map 0x80000 0"), ST_SUCCESS);
	static const unsigned long long one[][2] = { { 0, 0x80000 } };
	json_object *vm = pol_show_vm(&H, p.pid);
	expect_maps(vm, 1, one, 0x80000);
	json_object_put(vm);

	/* 512K + 1M > 1M: refused, audited, and nothing changes. */
	unsigned st = pol_client_cmd(&p, "map", "map 0x100000 0x100000");
	cr_expect_eq(st, ST_NO_RESOURCES, "mapping beyond max_memory: got %#x", st);
	char reason[512] = "";
	cr_expect_eq(pol_audit_count(&H, "quota", "vm_map", UID_B, p.pid, reason,
				     sizeof(reason)), 1);
	cr_expect(strstr(reason, "max_memory"), "the quota line names the limit: %s", reason);
	vm = pol_show_vm(&H, p.pid);
	expect_maps(vm, 1, one, 0x80000);
	json_object_put(vm);
	json_object *status = pol_hvctl_json(&H, 0, "status", "--json", NULL);
	cr_expect_eq(pol_int(status, "guest_memory"), 0x80000);
	json_object_put(status);

	/* Up to the limit exactly is fine ("usage plus the request stays at
	 * or below the limit")... */
	cr_expect_eq(pol_client_cmd(&p, "map", "map 0x80000 0x100000"), ST_SUCCESS);
	static const unsigned long long two[][2] = { { 0, 0x80000 }, { 0x100000, 0x80000 } };
	vm = pol_show_vm(&H, p.pid);
	expect_maps(vm, 2, two, 0x100000);
	json_object_put(vm);
	/* ...one page more is not. */
	cr_expect_eq(pol_client_cmd(&p, "map", "map 0x1000 0x200000"), ST_NO_RESOURCES);
	vm = pol_show_vm(&H, p.pid);
	expect_maps(vm, 2, two, 0x100000);
	json_object_put(vm);

	/* The refusals did not break the session: the VM still works. */
	cr_expect_eq(pol_client_cmd(&p, "vcpu", "vcpu"), ST_SUCCESS);
	pol_client_finish(&p);
	pol_wait_vms(&H, 0);
	/* And the memory went back with the VM. */
	pol_client_start(&H, &p, UID_B, 0, "--map", "0x100000", NULL);
	cr_expect_eq(pol_client_result(&p, "create"), ST_SUCCESS);
	cr_expect_eq(pol_client_result(&p, "map"), ST_SUCCESS,
		     "the tenant's memory was released with the previous client's VM");
	cr_expect_eq(pol_client_finish(&p), 0);
	pol_done();
}

Test(quota, max_vms_0_shuts_a_tenant_out)
{
	/* Entitled, but the quota allows nothing: HV_NO_RESOURCES, not
	 * HV_DENIED. */
	cr_expect_eq(pol_client_once(&H, UID_C, 0, NULL), ST_NO_RESOURCES);
	char reason[512] = "";
	cr_expect_eq(pol_audit_count(&H, "quota", "vm_create", UID_C, -1, reason, sizeof(reason)),
		     1);
	cr_expect(strstr(reason, "max_vms 0"), "%s", reason);
	pol_done();
}

Test(quota, max_mappings_and_max_vcpus_per_vm)
{
	struct pol_proc p;
	char line[64], reason[512] = "";

	pol_client_start(&H, &p, UID_D, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&p, "create"), ST_SUCCESS);
	pol_client_line(&p, line, sizeof(line));
	cr_assert_str_eq(line, "ready");

	cr_expect_eq(pol_client_cmd(&p, "map", "map 0x1000 0"), ST_SUCCESS);
	cr_expect_eq(pol_client_cmd(&p, "map", "map 0x1000 0x1000"), ST_SUCCESS);
	cr_expect_eq(pol_client_cmd(&p, "map", "map 0x1000 0x2000"), ST_NO_RESOURCES,
		     "a third mapping with max_mappings = 2");
	cr_expect_eq(pol_audit_count(&H, "quota", "vm_map", UID_D, p.pid, reason, sizeof(reason)),
		     1);
	cr_expect(strstr(reason, "max_mappings"), "%s", reason);

	cr_expect_eq(pol_client_cmd(&p, "vcpu", "vcpu"), ST_SUCCESS);
	cr_expect_eq(pol_client_cmd(&p, "vcpu", "vcpu"), ST_NO_RESOURCES,
		     "a second vCPU with max_vcpus_per_vm = 1");
	reason[0] = 0;
	cr_expect_eq(pol_audit_count(&H, "quota", "vcpu_create", UID_D, p.pid, reason,
				     sizeof(reason)), 1);
	cr_expect(strstr(reason, "max_vcpus_per_vm"), "%s", reason);

	json_object *st = pol_hvctl_json(&H, 0, "status", "--json", NULL);
	cr_expect_eq(pol_int(st, "vcpus"), 1, "%s", json_object_to_json_string(st));
	cr_expect_eq(pol_int(st, "guest_memory"), 0x2000, "%s", json_object_to_json_string(st));
	json_object_put(st);
	pol_client_finish(&p);
	pol_done();
}
