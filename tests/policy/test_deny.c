/*
 * Without com.apple.security.hypervisor there is no VM: a uid no rule
 * names gets HV_DENIED from hv_vm_create, and the audit log says so in a
 * "deny" line naming it. Rules by uid and by (supplementary) group give
 * the entitlement; root gets nothing from a configuration that does not
 * say so.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pol.h"

static struct pol_hvd H;

static const char conf[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[rule alice]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n"
	"\n"
	"[rule lab]\n"
	"group = 60010\n"
	"entitlements = com.apple.security.hypervisor\n";

static void setup(void)
{
	pol_init(&H);
	pol_write_conf(&H, conf);
	pol_start(&H);
}

TestSuite(deny, .init = setup, .fini = pol_cleanup);

Test(deny, no_rule_gets_hv_denied_and_a_deny_audit_line)
{
	struct pol_proc p;
	char reason[512] = "";

	pol_client_start(&H, &p, UID_B, 0, NULL);
	unsigned st = pol_client_result(&p, "create");
	cr_expect_eq(st, ST_DENIED, "uid %d without a rule: hv_vm_create gave %#x, expected "
		     "HV_DENIED %#x", UID_B, st, ST_DENIED);
	cr_expect_eq(pol_client_finish(&p), 1, "the client saw its call fail");

	cr_assert_eq(pol_audit_count(&H, "deny", "vm_create", UID_B, p.pid, reason,
				     sizeof(reason)), 1,
		     "one deny line for uid %d pid %d in %s", UID_B, (int)p.pid, H.audit);
	cr_expect(strstr(reason, "com.apple.security.hypervisor"),
		  "the reason names the missing entitlement: %s", reason);
	cr_expect(strstr(reason, "no rule or grant applies"),
		  "the reason says nothing applies: %s", reason);
	cr_expect_eq(pol_audit_count(&H, "allow", "vm_create", UID_B, -1, NULL, 0), 0);

	/* The line carries the identity the kernel reported, field by field. */
	char *text = pol_read_file(H.audit, NULL);
	char *save = NULL;
	json_object *line = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(l);
		json_object *d, *pid;
		if (o && json_object_object_get_ex(o, "decision", &d) &&
		    strcmp(json_object_get_string(d), "deny") == 0 &&
		    json_object_object_get_ex(o, "pid", &pid) && json_object_get_int(pid) == p.pid) {
			line = o;
			break;
		}
		json_object_put(o);
	}
	free(text);
	cr_assert_not_null(line);
	char exe[PATH_MAX];
	cr_assert_not_null(realpath(pol_client_path(), exe));
	cr_expect_eq(pol_int(line, "uid"), UID_B);
	cr_expect_eq(pol_int(line, "gid"), GID_USERS);
	cr_expect_str_eq(pol_str(line, "exe"), exe);
	cr_expect_eq(strlen(pol_str(line, "exe_blake2b")), 64);
	cr_expect_str_eq(pol_str(line, "tenant"), "uid:60002");
	cr_expect_str_eq(pol_str(line, "request"), "vm_create");
	cr_expect_gt(pol_int(line, "session"), 0);
	cr_expect_gt(strlen(pol_str(line, "time")), 0);
	json_object_put(line);
	pol_done();
}

Test(deny, uid_rule_allows)
{
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	cr_expect_eq(pol_audit_count(&H, "allow", "vm_create", UID_A, -1, NULL, 0), 1);
	cr_expect_eq(pol_audit_count(&H, "deny", NULL, UID_A, -1, NULL, 0), 0);
	pol_done();
}

Test(deny, group_rule_matches_a_supplementary_group)
{
	cr_expect_eq(pol_client_once(&H, UID_C, GID_EXTRA, NULL), ST_SUCCESS,
		     "uid %d in group %d: the group rule applies", UID_C, GID_EXTRA);
	cr_expect_eq(pol_client_once(&H, UID_C, 0, NULL), ST_DENIED,
		     "uid %d without group %d: nothing applies", UID_C, GID_EXTRA);
	cr_expect_eq(pol_audit_count(&H, "deny", "vm_create", UID_C, -1, NULL, 0), 1);
	pol_done();
}

Test(deny, root_gets_nothing_the_file_does_not_give)
{
	/* "root is always an administrator, but gets no entitlement unless a
	 * rule gives it one" (docs/policy.md). */
	cr_expect_eq(pol_client_once(&H, 0, 0, NULL), ST_DENIED);
	cr_expect_eq(pol_audit_count(&H, "deny", "vm_create", 0, -1, NULL, 0), 1);
	pol_done();
}

Test(deny, connecting_without_a_vm_is_not_denied)
{
	/* Handshake and capabilities need no entitlement. */
	cr_expect_eq(pol_client_once(&H, UID_B, 0, "--no-create", NULL), ST_SUCCESS);
	cr_expect_eq(pol_audit_count(&H, "deny", NULL, UID_B, -1, NULL, 0), 0);
	pol_done();
}
