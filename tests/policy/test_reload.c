/*
 * A broken file never replaces a working policy: `hvctl policy reload`
 * reports the precise "FILE:LINE: problem" and exits 1, SIGHUP does the
 * same silently, and clients allowed before are still allowed. A fixed
 * file then reloads, and the uid it adds is allowed (also on a connection
 * opened before the reload).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pol.h"

static struct pol_hvd H;

static const char good[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[rule alice]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n";

/* Line 5 is wrong: max_vm is not a key. */
static const char broken[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[tenant x]\n"
	"max_vm = 3\n"
	"\n"
	"[rule alice]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n"
	"\n"
	"[rule carol]\n"
	"uid = 60003\n"
	"entitlements = com.apple.security.hypervisor\n";

static const char fixed[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[tenant x]\n"
	"max_vms = 3\n"
	"\n"
	"[rule alice]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n"
	"\n"
	"[rule carol]\n"
	"uid = 60003\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = x\n";

static void setup(void)
{
	pol_init(&H);
	pol_write_conf(&H, good);
	pol_start(&H);
}

TestSuite(reload, .init = setup, .fini = pol_cleanup);

Test(reload, broken_file_keeps_the_old_policy_then_a_fixed_one_applies)
{
	char where[192], *out = NULL, *err = NULL;
	snprintf(where, sizeof(where), "%s:5:", H.conf);

	cr_assert_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	cr_assert_eq(pol_client_once(&H, UID_C, 0, NULL), ST_DENIED);
	/* A connection of the new uid, open across the reloads. */
	struct pol_proc early;
	char line[64];
	pol_client_start(&H, &early, UID_C, 0, "--no-create", "--hold", NULL);
	cr_assert_eq(pol_client_result(&early, "cap"), ST_SUCCESS);
	pol_client_line(&early, line, sizeof(line));
	cr_assert_str_eq(line, "ready");

	/* The broken file, by request. */
	pol_write_conf(&H, broken);
	int r = pol_hvctl(&H, 0, &out, &err, "policy", "reload", NULL);
	cr_expect_eq(r, 1, "reload of a broken file exited %d (stdout '%s', stderr '%s')", r, out,
		     err);
	cr_expect(strstr(err, where), "hvctl names the file and line '%s': %s", where, err);
	cr_expect(strstr(err, "max_vm"), "hvctl names the problem: %s", err);
	free(out);
	free(err);
	char reason[512] = "";
	cr_expect_eq(pol_audit_count(&H, "rejected", "admin_policy_reload", 0, -1, reason,
				     sizeof(reason)), 1);
	cr_expect(strstr(reason, where), "the audit line has the error: %s", reason);

	/* The old policy is in force: the file's new rule is not. */
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS,
		     "a uid allowed before a failed reload is still allowed");
	cr_expect_eq(pol_client_once(&H, UID_C, 0, NULL), ST_DENIED,
		     "the broken file's rule was applied");
	json_object *st = pol_hvctl_json(&H, 0, "status", "--json", NULL);
	cr_expect_str_eq(pol_str(st, "policy_source"), H.conf);
	json_object_put(st);

	/* The broken file, by SIGHUP: hvd logs the same error (its only
	 * sign of having read the file) and keeps the old policy. */
	int before = pol_log_count(&H, where);
	cr_expect_geq(before, 1, "hvd logged the failed reload");
	cr_assert_eq(kill(H.pid, SIGHUP), 0);
	long long end = pol_now_ms() + POL_WAIT_MS;
	while (pol_log_count(&H, where) == before && pol_now_ms() < end)
		pol_sleep_ms(5);
	cr_expect_gt(pol_log_count(&H, where), before, "hvd did not log the SIGHUP reload");
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS,
		     "a uid allowed before a failed SIGHUP reload is still allowed");
	cr_expect_eq(pol_client_once(&H, UID_C, 0, NULL), ST_DENIED);
	cr_expect(kill(H.pid, 0) == 0, "hvd survived");
	cr_expect_eq(pol_client_cmd(&early, "create", "create"), ST_DENIED);

	/* The fixed file. */
	pol_write_conf(&H, fixed);
	out = err = NULL;
	r = pol_hvctl(&H, 0, &out, &err, "policy", "reload", NULL);
	cr_expect_eq(r, 0, "reload of the fixed file exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	cr_expect_eq(pol_client_once(&H, UID_C, 0, NULL), ST_SUCCESS,
		     "the uid the fixed file adds is allowed");
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	/* A session opened before the reload is evaluated again. */
	cr_expect_eq(pol_client_cmd(&early, "create", "create"), ST_SUCCESS,
		     "the reload applies to connections already open");
	pol_client_finish(&early);

	char pid[32];
	pol_client_start(&H, &early, UID_C, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&early, "create"), ST_SUCCESS);
	snprintf(pid, sizeof(pid), "%d", (int)early.pid);
	json_object *e = pol_hvctl_json(&H, 0, "policy", "explain", "--pid", pid, "--json", NULL);
	cr_expect_str_eq(pol_str(e, "tenant"), "x");
	cr_expect_eq(pol_int(pol_get(e, "quota"), "max_vms"), 3);
	json_object_put(e);
	pol_client_finish(&early);
	pol_done();
}

Test(reload, sighup_with_a_good_file_applies_it)
{
	cr_assert_eq(pol_client_once(&H, UID_C, 0, NULL), ST_DENIED);
	pol_write_conf(&H, fixed);
	cr_assert_eq(kill(H.pid, SIGHUP), 0);
	/* No reply to wait for: poll until the new rule is in force. */
	unsigned st = ST_DENIED;
	for (long long end = pol_now_ms() + POL_WAIT_MS; pol_now_ms() < end;) {
		st = pol_client_once(&H, UID_C, 0, NULL);
		if (st == ST_SUCCESS)
			break;
		pol_sleep_ms(20);
	}
	cr_expect_eq(st, ST_SUCCESS, "SIGHUP did not load the new rule");
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	pol_done();
}

Test(reload, a_live_vm_moves_with_its_client_to_the_new_tenant)
{
	static const char before[] =
		"[hvd]\n"
		"audit = @AUDIT@\n"
		"[tenant one]\n"
		"max_vms = 1\n"
		"[tenant two]\n"
		"max_vms = 1\n"
		"[rule alice]\n"
		"uid = 60001\n"
		"entitlements = com.apple.security.hypervisor\n"
		"tenant = one\n"
		"[rule bob]\n"
		"uid = 60002\n"
		"entitlements = com.apple.security.hypervisor\n"
		"tenant = two\n";
	static const char after[] =
		"[hvd]\n"
		"audit = @AUDIT@\n"
		"[tenant one]\n"
		"max_vms = 1\n"
		"[tenant two]\n"
		"max_vms = 1\n"
		"[rule alice]\n"
		"uid = 60001\n"
		"entitlements = com.apple.security.hypervisor\n"
		"tenant = two\n"
		"[rule bob]\n"
		"uid = 60002\n"
		"entitlements = com.apple.security.hypervisor\n"
		"tenant = one\n";
	struct pol_proc p;
	char line[64], *out = NULL, *err = NULL;

	pol_write_conf(&H, before);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "policy", "reload", NULL), 0);
	pol_client_start(&H, &p, UID_A, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&p, "create"), ST_SUCCESS);
	pol_client_line(&p, line, sizeof(line));
	cr_expect_eq(pol_client_once(&H, UID_B, 0, NULL), ST_SUCCESS, "tenant two is free");

	pol_write_conf(&H, after);
	int r = pol_hvctl(&H, 0, &out, &err, "policy", "reload", NULL);
	cr_expect_eq(r, 0, "reload exited %d: %s %s", r, out, err);
	free(out);
	free(err);

	/* Alice's VM now counts in tenant two: bob's new tenant one is free,
	 * alice's tenant two is full. */
	json_object *l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *vm = pol_find(pol_get(l, "vms"), "pid", p.pid);
	cr_assert_not_null(vm, "%s", json_object_to_json_string(l));
	cr_expect_str_eq(pol_str(vm, "tenant"), "two");
	json_object_put(l);
	cr_expect_eq(pol_client_once(&H, UID_B, 0, NULL), ST_SUCCESS,
		     "tenant one still counts the VM that moved to tenant two");
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_NO_RESOURCES,
		     "tenant two does not count the VM that moved into it");
	cr_expect_eq(pol_client_finish(&p), 0);

	/* Gone: both tenants are free again. */
	pol_wait_vms(&H, 0);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	pol_done();
}
