/*
 * Tenants do not see each other: run as tenant B's uid, hvctl lists only
 * B's VM, cannot show A's and cannot kill it (A's VM keeps working); root
 * sees both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pol.h"

static struct pol_hvd H;
static struct pol_proc A, B;
static char a_id[32], b_id[32];

static const char conf[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[tenant ta]\n"
	"max_vms = 4\n"
	"\n"
	"[tenant tb]\n"
	"max_vms = 4\n"
	"\n"
	"[rule a]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = ta\n"
	"\n"
	"[rule b]\n"
	"uid = 60002\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = tb\n";

static void hold(struct pol_proc *p, uid_t uid)
{
	char line[64];
	pol_client_start(&H, p, uid, 0, "--map", "0x10000", "--hold", NULL);
	cr_assert_eq(pol_client_result(p, "create"), ST_SUCCESS);
	cr_assert_eq(pol_client_result(p, "map"), ST_SUCCESS);
	pol_client_line(p, line, sizeof(line));
	cr_assert_str_eq(line, "ready");
}

static void vm_id(pid_t pid, char *id)
{
	json_object *l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *vm = pol_find(pol_get(l, "vms"), "pid", pid);
	cr_assert_not_null(vm, "root's list has no VM of pid %d: %s", (int)pid,
			   json_object_to_json_string(l));
	snprintf(id, 32, "%lld", pol_int(vm, "id"));
	json_object_put(l);
}

static void setup(void)
{
	pol_init(&H);
	pol_write_conf(&H, conf);
	pol_start(&H);
	hold(&A, UID_A);
	hold(&B, UID_B);
	vm_id(A.pid, a_id);
	vm_id(B.pid, b_id);
}

TestSuite(isolation, .init = setup, .fini = pol_cleanup);

Test(isolation, list_shows_only_the_own_tenant)
{
	json_object *l = pol_hvctl_json(&H, UID_B, "list", "--json", NULL);
	json_object *vms = pol_get(l, "vms");
	cr_expect_eq(json_object_array_length(vms), 1, "B sees exactly its own VM: %s",
		     json_object_to_json_string(l));
	json_object *mine = pol_find(vms, "pid", B.pid);
	cr_expect_not_null(mine, "B's list has B's VM: %s", json_object_to_json_string(l));
	if (mine)
		cr_expect_str_eq(pol_str(mine, "tenant"), "tb");
	cr_expect_null(pol_find(vms, "pid", A.pid), "B's list shows A's VM: %s",
		       json_object_to_json_string(l));
	json_object_put(l);

	l = pol_hvctl_json(&H, UID_A, "list", "--json", NULL);
	vms = pol_get(l, "vms");
	cr_expect_eq(json_object_array_length(vms), 1, "%s", json_object_to_json_string(l));
	cr_expect_not_null(pol_find(vms, "pid", A.pid));
	json_object_put(l);

	/* Root sees both, with their tenants. */
	l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	vms = pol_get(l, "vms");
	cr_expect_eq(json_object_array_length(vms), 2, "%s", json_object_to_json_string(l));
	json_object *a = pol_find(vms, "pid", A.pid), *b = pol_find(vms, "pid", B.pid);
	cr_assert(a && b, "%s", json_object_to_json_string(l));
	cr_expect_str_eq(pol_str(a, "tenant"), "ta");
	cr_expect_eq(pol_int(a, "uid"), UID_A);
	cr_expect_str_eq(pol_str(b, "tenant"), "tb");
	cr_expect_eq(pol_int(b, "uid"), UID_B);
	json_object_put(l);
	pol_done();
}

Test(isolation, status_and_clients_count_only_the_own_tenant)
{
	json_object *st = pol_hvctl_json(&H, UID_B, "status", "--json", NULL);
	cr_expect_eq(pol_int(st, "vms"), 1, "%s", json_object_to_json_string(st));
	cr_expect_eq(pol_int(st, "guest_memory"), 0x10000, "%s", json_object_to_json_string(st));
	json_object_put(st);

	json_object *c = pol_hvctl_json(&H, UID_B, "clients", "--json", NULL);
	json_object *cl = pol_get(c, "clients");
	cr_expect_null(pol_find(cl, "pid", A.pid), "B's clients show A: %s",
		       json_object_to_json_string(c));
	cr_expect_not_null(pol_find(cl, "pid", B.pid), "%s", json_object_to_json_string(c));
	for (size_t i = 0; i < json_object_array_length(cl); i++) {
		json_object *e = json_object_array_get_idx(cl, i);
		cr_expect_eq(pol_int(e, "uid"), UID_B, "B sees a client of another uid: %s",
			     json_object_to_json_string(e));
	}
	json_object_put(c);

	st = pol_hvctl_json(&H, 0, "status", "--json", NULL);
	cr_expect_eq(pol_int(st, "vms"), 2, "%s", json_object_to_json_string(st));
	cr_expect_eq(pol_int(st, "guest_memory"), 0x20000, "%s", json_object_to_json_string(st));
	json_object_put(st);
	pol_done();
}

Test(isolation, show_of_another_tenants_vm_fails)
{
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, UID_B, &out, &err, "show", a_id, "--json", NULL);
	cr_expect_eq(r, 1, "B: hvctl show %s (A's VM) exited %d: %s %s", a_id, r, out, err);
	cr_expect_null(strstr(out, "\"pid\""), "B was shown A's VM: %s", out);
	free(out);
	free(err);

	/* B's own VM it may see; root sees A's. */
	json_object *vm = pol_hvctl_json(&H, UID_B, "show", b_id, "--json", NULL);
	cr_expect_eq(pol_int(vm, "pid"), B.pid);
	json_object_put(vm);
	vm = pol_hvctl_json(&H, 0, "show", a_id, "--json", NULL);
	cr_expect_eq(pol_int(vm, "pid"), A.pid);
	cr_expect_str_eq(pol_str(vm, "tenant"), "ta");
	json_object_put(vm);
	pol_done();
}

Test(isolation, kill_of_another_tenants_vm_fails_and_it_keeps_running)
{
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, UID_B, &out, &err, "kill", a_id, NULL);
	cr_expect_eq(r, 1, "B: hvctl kill %s (A's VM) exited %d: %s %s", a_id, r, out, err);
	free(out);
	free(err);
	cr_expect_eq(pol_audit_count(&H, "deny", "admin_kill_vm", UID_B, -1, NULL, 0), 1);

	/* A's VM is still there and still A's to use. */
	cr_expect_eq(pol_client_cmd(&A, "map", "map 0x1000 0x100000"), ST_SUCCESS,
		     "A's VM keeps working after B's kill attempt");
	json_object *vm = pol_hvctl_json(&H, 0, "show", a_id, "--json", NULL);
	cr_expect_eq(pol_int(vm, "pid"), A.pid);
	cr_expect_eq(json_object_array_length(pol_get(vm, "maps")), 2);
	json_object_put(vm);
	cr_expect_eq(pol_client_finish(&A), 0, "every call of A succeeded");
	cr_expect_eq(pol_client_finish(&B), 0);
	pol_done();
}

Test(isolation, explain_of_another_users_process_is_denied)
{
	char pid[32], *out = NULL, *err = NULL;
	snprintf(pid, sizeof(pid), "%d", (int)A.pid);
	int r = pol_hvctl(&H, UID_B, &out, &err, "policy", "explain", "--pid", pid, "--json",
			  NULL);
	cr_expect_eq(r, 1, "B: explain of A's process exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	/* Its own process, a user may explain. */
	snprintf(pid, sizeof(pid), "%d", (int)B.pid);
	json_object *e = pol_hvctl_json(&H, UID_B, "policy", "explain", "--pid", pid, "--json",
					NULL);
	cr_expect_str_eq(pol_str(e, "tenant"), "tb");
	json_object_put(e);
	pol_done();
}

Test(isolation, non_admins_cannot_reload)
{
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, UID_B, &out, &err, "policy", "reload", NULL);
	cr_expect_eq(r, 1, "B: policy reload exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	cr_expect_eq(pol_audit_count(&H, "deny", "admin_policy_reload", UID_B, -1, NULL, 0), 1);
	pol_done();
}
