/*
 * Every hvctl subcommand against a live hvd, its --json output parsed with
 * json-c and checked field by field against what the test created: a
 * client A holding a VM with one vCPU and 64 KiB of guest memory, and a
 * client B connected without a VM.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hvp.h"
#include "pol.h"

static struct pol_hvd H;
static struct pol_proc A, B;
static char a_id[32], a_pid[32], exe[PATH_MAX];

static const char conf[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[tenant lab]\n"
	"max_vms = 3\n"
	"max_memory = 256M\n"
	"max_vcpus_per_vm = 2\n"
	"\n"
	"[rule alice]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor, com.example.not-a-right\n"
	"tenant = lab\n";

static void setup(void)
{
	char line[64];

	cr_assert_not_null(realpath(pol_client_path(), exe));
	pol_init(&H);
	pol_write_conf(&H, conf);
	pol_start(&H);
	pol_client_start(&H, &A, UID_A, 0, "--map", "0x10000", "--vcpu", "--hold", NULL);
	cr_assert_eq(pol_client_result(&A, "create"), ST_SUCCESS);
	cr_assert_eq(pol_client_result(&A, "map"), ST_SUCCESS);
	cr_assert_eq(pol_client_result(&A, "vcpu"), ST_SUCCESS);
	pol_client_line(&A, line, sizeof(line));
	cr_assert_str_eq(line, "ready");
	pol_client_start(&H, &B, UID_A, 0, "--no-create", "--hold", NULL);
	cr_assert_eq(pol_client_result(&B, "cap"), ST_SUCCESS);
	pol_client_line(&B, line, sizeof(line));
	cr_assert_str_eq(line, "ready");

	json_object *l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *vm = pol_find(pol_get(l, "vms"), "pid", A.pid);
	cr_assert_not_null(vm, "%s", json_object_to_json_string(l));
	snprintf(a_id, sizeof(a_id), "%lld", pol_int(vm, "id"));
	snprintf(a_pid, sizeof(a_pid), "%d", (int)A.pid);
	json_object_put(l);
}

TestSuite(hvctl, .init = setup, .fini = pol_cleanup);

Test(hvctl, support_prints_1)
{
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(NULL, 0, &out, &err, "support", NULL);
	cr_expect_eq(r, 0, "hvctl support exited %d: %s", r, err);
	cr_expect_str_eq(out, "1\n");
	free(out);
	free(err);
	pol_done();
}

Test(hvctl, status_counts_what_the_test_created)
{
	json_object *st = pol_hvctl_json(&H, 0, "status", "--json", NULL);
	const char *js = json_object_to_json_string(st);
	/* A, B and hvctl's own connection. */
	cr_expect_eq(pol_int(st, "clients"), 3, "%s", js);
	cr_expect_eq(pol_int(st, "vms"), 1, "%s", js);
	cr_expect_eq(pol_int(st, "vcpus"), 1, "%s", js);
	cr_expect_eq(pol_int(st, "guest_memory"), 0x10000, "%s", js);
	cr_expect_str_eq(pol_str(st, "policy_source"), H.conf);
	cr_expect_eq(pol_int(st, "grants_loaded"), 0, "%s", js);
	cr_expect_eq(pol_int(st, "grants_rejected"), 0, "%s", js);
	cr_expect_eq(pol_int(st, "protocol"), 1, "%s", js);
	cr_expect_str_eq(pol_str(st, "version"), "0.1.0");
	cr_expect_gt(pol_int(st, "max_vcpus"), 0, "%s", js);
	cr_expect_gt(pol_int(st, "kvm_api"), 0, "%s", js);
	cr_expect_geq(pol_int(st, "uptime_ms"), 0, "%s", js);
	pol_bool(st, "out_rip_after");
	pol_bool(st, "tsc_writable");
	json_object_put(st);
	pol_done();
}

static void expect_vm_fields(json_object *vm)
{
	const char *js = json_object_to_json_string(vm);
	cr_expect_eq(pol_int(vm, "id"), strtoll(a_id, NULL, 10), "%s", js);
	cr_expect_eq(pol_int(vm, "pid"), A.pid, "%s", js);
	cr_expect_eq(pol_int(vm, "uid"), UID_A, "%s", js);
	cr_expect_str_eq(pol_str(vm, "tenant"), "lab");
	cr_expect_str_eq(pol_str(vm, "exe"), exe);
	cr_expect_eq(pol_int(vm, "vcpus"), 1, "%s", js);
	cr_expect_eq(pol_int(vm, "memory"), 0x10000, "%s", js);
	cr_expect_geq(pol_int(vm, "age_ms"), 0, "%s", js);
	cr_expect_geq(pol_int(vm, "exits"), 0, "%s", js);
}

Test(hvctl, list_shows_the_live_clients_vm)
{
	json_object *l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *vms = pol_get(l, "vms");
	cr_assert_eq(json_object_array_length(vms), 1, "only A has a VM: %s",
		     json_object_to_json_string(l));
	expect_vm_fields(json_object_array_get_idx(vms, 0));
	json_object_put(l);
	pol_done();
}

Test(hvctl, show_details_the_vm)
{
	json_object *vm = pol_hvctl_json(&H, 0, "show", a_id, "--json", NULL);
	expect_vm_fields(vm);
	json_object *v = pol_get(vm, "vcpu");
	cr_assert_eq(json_object_array_length(v), 1, "%s", json_object_to_json_string(vm));
	json_object *c = json_object_array_get_idx(v, 0);
	cr_expect_eq(pol_int(c, "id"), 0);
	cr_expect_geq(pol_int(c, "runs"), 0);
	pol_get(c, "exits_by_reason");
	json_object *m = pol_get(vm, "maps");
	cr_assert_eq(json_object_array_length(m), 1, "%s", json_object_to_json_string(vm));
	json_object *m0 = json_object_array_get_idx(m, 0);
	cr_expect_eq(pol_int(m0, "gpa"), 0);
	cr_expect_eq(pol_int(m0, "size"), 0x10000);
	cr_expect_eq(pol_int(m0, "flags"), 7, "read, write, exec");
	cr_expect_str_eq(pol_str(m0, "prot"), "rwx");
	json_object_put(vm);

	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, 0, &out, &err, "show", "999999", NULL);
	cr_expect_eq(r, 1, "show of no VM exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	pol_done();
}

Test(hvctl, clients_lists_the_connections)
{
	json_object *o = pol_hvctl_json(&H, 0, "clients", "--json", NULL);
	json_object *cl = pol_get(o, "clients");
	const char *js = json_object_to_json_string(o);
	cr_expect_eq(json_object_array_length(cl), 3, "A, B and hvctl: %s", js);

	json_object *a = pol_find(cl, "pid", A.pid);
	cr_assert_not_null(a, "%s", js);
	cr_expect_eq(pol_int(a, "uid"), UID_A);
	cr_expect_eq(pol_int(a, "gid"), GID_USERS);
	cr_expect_str_eq(pol_str(a, "exe"), exe);
	cr_expect_str_eq(pol_str(a, "tenant"), "lab");
	cr_expect(pol_bool(a, "has_vm"));
	cr_expect_not(pol_bool(a, "admin"));
	cr_expect(pol_strv_has(pol_get(a, "entitlements"), "com.apple.security.hypervisor"));
	cr_expect_eq(json_object_array_length(pol_get(a, "entitlements")), 1, "%s", js);
	cr_expect_gt(pol_int(a, "id"), 0);
	cr_expect_geq(pol_int(a, "age_ms"), 0);
	cr_expect_eq(pol_int(a, "id"), strtoll(a_id, NULL, 10), "a VM's id is its session's");

	json_object *b = pol_find(cl, "pid", B.pid);
	cr_assert_not_null(b, "%s", js);
	cr_expect_not(pol_bool(b, "has_vm"));
	cr_expect_str_eq(pol_str(b, "tenant"), "lab");

	json_object *me = pol_find(cl, "uid", 0);
	cr_assert_not_null(me, "hvctl's own connection (root): %s", js);
	cr_expect(pol_bool(me, "admin"), "root is an administrator");
	cr_expect_not(pol_bool(me, "has_vm"));
	cr_expect_eq(json_object_array_length(pol_get(me, "entitlements")), 0,
		     "root has no rule: no entitlement: %s", js);
	json_object_put(o);
	pol_done();
}

Test(hvctl, policy_explain_of_a_client_process)
{
	json_object *e = pol_hvctl_json(&H, 0, "policy", "explain", "--pid", a_pid, "--json", NULL);
	const char *js = json_object_to_json_string(e);
	cr_expect_eq(pol_int(e, "pid"), A.pid, "%s", js);
	cr_expect_eq(pol_int(e, "uid"), UID_A, "%s", js);
	cr_expect_str_eq(pol_str(e, "tenant"), "lab");
	cr_expect_str_eq(pol_str(e, "exe"), exe);
	cr_expect_not(pol_bool(e, "admin"));
	json_object *ents = pol_get(e, "entitlements");
	cr_expect_eq(json_object_array_length(ents), 1, "%s", js);
	cr_expect(pol_strv_has(ents, "com.apple.security.hypervisor"), "%s", js);
	cr_expect(pol_strv_has(pol_get(e, "unknown_entitlements"), "com.example.not-a-right"),
		  "an unknown entitlement is kept and reported: %s", js);

	uint8_t hash[HVP_HASH_BYTES];
	char hex[2 * HVP_HASH_BYTES + 1];
	cr_assert_eq(hvp_hash_file(exe, hash), 0);
	for (int i = 0; i < HVP_HASH_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	cr_expect_str_eq(pol_str(e, "exe_blake2b"), hex);

	json_object *q = pol_get(e, "quota");
	cr_expect_eq(pol_int(q, "max_vms"), 3, "%s", js);
	cr_expect_eq(pol_int(q, "max_memory"), 256ll << 20, "%s", js);
	cr_expect_eq(pol_int(q, "max_vcpus_per_vm"), 2, "%s", js);
	/* Left out of [tenant lab] and there is no [defaults]: built-in. */
	cr_expect_eq(pol_int(q, "max_vcpus"), 64, "%s", js);
	cr_expect_eq(pol_int(q, "max_mappings"), 4096, "%s", js);
	cr_expect_eq(pol_int(q, "max_rpc_rate"), 100000, "%s", js);
	const char *reason = pol_str(e, "reason");
	cr_expect(strstr(reason, "rule alice"), "the reason names the rule: %s", reason);
	cr_expect(strstr(reason, "com.example.not-a-right"), "%s", reason);
	json_object_put(e);

	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, 0, &out, &err, "policy", "explain", "--pid", "999999999", NULL);
	cr_expect_eq(r, 1, "explain of no process exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	pol_done();
}

Test(hvctl, policy_check_good_and_broken_files)
{
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(NULL, 0, &out, &err, "policy", "check", H.conf, NULL);
	cr_expect_eq(r, 0, "policy check of hvd's own file exited %d: %s %s", r, out, err);
	cr_expect(strstr(out, "OK"), "%s", out);
	free(out);
	free(err);

	char bad[192], where[220];
	snprintf(bad, sizeof(bad), "%s/bad.conf", H.dir);
	static const char text[] =
		"[hvd]\n"
		"audit = -\n"
		"\n"
		"[defaults]\n"
		"max_vm = 3\n";
	pol_write_file(&H, bad, text, strlen(text));
	out = err = NULL;
	r = pol_hvctl(NULL, 0, &out, &err, "policy", "check", bad, NULL);
	cr_expect_eq(r, 1, "policy check of a broken file exited %d: %s %s", r, out, err);
	snprintf(where, sizeof(where), "%s:5: ", bad);
	cr_expect(strncmp(err, where, strlen(where)) == 0, "stderr starts with '%s': %s", where,
		  err);
	cr_expect(strstr(err, "max_vm"), "the message names the key: %s", err);
	free(out);
	free(err);

	out = err = NULL;
	snprintf(bad, sizeof(bad), "%s/missing.conf", H.dir);
	r = pol_hvctl(NULL, 0, &out, &err, "policy", "check", bad, NULL);
	cr_expect_eq(r, 1, "policy check of a missing file exited %d", r);
	free(out);
	free(err);
	pol_done();
}

Test(hvctl, kill_makes_the_victims_next_call_fail)
{
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, 0, &out, &err, "kill", a_id, NULL);
	cr_expect_eq(r, 0, "kill exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	char reason[512] = "";
	cr_expect_eq(pol_audit_count(&H, "allow", "admin_kill_vm", 0, -1, reason, sizeof(reason)),
		     1);

	unsigned st = pol_client_cmd(&A, "map", "map 0x1000 0x100000");
	cr_expect_neq(st, ST_SUCCESS, "the killed VM's owner could still map memory");
	cr_expect_eq(pol_client_finish(&A), 1, "the victim reports a failure");
	pol_wait_vms(&H, 0);
	/* B, the bystander, is untouched: its session still serves it. */
	cr_expect_eq(pol_client_cmd(&B, "create", "create"), ST_SUCCESS);
	cr_expect_eq(pol_client_finish(&B), 0);

	out = err = NULL;
	r = pol_hvctl(&H, 0, &out, &err, "kill", a_id, NULL);
	cr_expect_eq(r, 1, "kill of a VM already gone exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	pol_done();
}

Test(hvctl, keygen_and_grants_round_trip)
{
	char name[192], key[200], pub[200], plist[200], grant[200], *out = NULL, *err = NULL;
	snprintf(name, sizeof(name), "%s/k", H.dir);
	snprintf(key, sizeof(key), "%s.key", name);
	snprintf(pub, sizeof(pub), "%s.pub", name);
	snprintf(plist, sizeof(plist), "%s/ent.plist", H.dir);
	snprintf(grant, sizeof(grant), "%s/x.grant", H.dir);
	cr_assert_eq(pol_hvctl(NULL, 0, NULL, NULL, "keygen", "--out", name, NULL), 0);
	int r = pol_hvctl(NULL, 0, &out, &err, "keygen", "--out", name, NULL);
	cr_expect_eq(r, 1, "keygen refuses to overwrite a key, exited %d", r);
	free(out);
	free(err);

	static const char ents[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<plist version=\"1.0\"><dict>\n"
		"\t<key>com.apple.security.hypervisor</key><true/>\n"
		"</dict></plist>\n";
	pol_write_file(&H, plist, ents, strlen(ents));
	out = err = NULL;
	r = pol_hvctl(NULL, 0, &out, &err, "grant", "sign", "--key", key, "--exe", exe,
		      "--entitlements", plist, "--uid", "60001", "--out", grant, NULL);
	cr_expect_eq(r, 0, "grant sign exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	out = err = NULL;
	r = pol_hvctl(NULL, 0, &out, &err, "grant", "verify", "--pub", pub, grant, NULL);
	cr_expect_eq(r, 0, "grant verify exited %d: %s %s", r, out, err);
	free(out);
	free(err);

	/* Array-valued entitlements were written for something else. */
	static const char array_ents[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<plist version=\"1.0\"><dict>\n"
		"\t<key>com.apple.security.application-groups</key>"
		"<array><string>x</string></array>\n"
		"</dict></plist>\n";
	pol_write_file(&H, plist, array_ents, strlen(array_ents));
	snprintf(grant, sizeof(grant), "%s/y.grant", H.dir);
	out = err = NULL;
	r = pol_hvctl(NULL, 0, &out, &err, "grant", "sign", "--key", key, "--exe", exe,
		      "--entitlements", plist, "--out", grant, NULL);
	cr_expect_eq(r, 1, "grant sign of array-valued entitlements exited %d: %s %s", r, out,
		     err);
	free(out);
	free(err);
	pol_done();
}

Test(hvctl, exit_codes)
{
	char *out = NULL, *err = NULL, nosock[192];
	snprintf(nosock, sizeof(nosock), "%s/nothing.sock", H.dir);

	int r = pol_hvctl(NULL, 0, &out, &err, "--socket", nosock, "status", NULL);
	cr_expect_eq(r, 3, "status without hvd exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	out = err = NULL;
	r = pol_hvctl(&H, 0, &out, &err, "show", NULL);
	cr_expect_eq(r, 2, "show without a VM id exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	out = err = NULL;
	r = pol_hvctl(&H, 0, &out, &err, "frobnicate", NULL);
	cr_expect_eq(r, 2, "an unknown command exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	out = err = NULL;
	r = pol_hvctl(&H, 0, &out, &err, "kill", "--json", a_id, NULL);
	cr_expect_eq(r, 2, "kill has no --json, exited %d: %s %s", r, out, err);
	free(out);
	free(err);

	/* Human output works too (the tables are for people; just that it
	 * runs and names the VM). */
	out = err = NULL;
	r = pol_hvctl(&H, 0, &out, &err, "list", NULL);
	cr_expect_eq(r, 0, "list exited %d: %s", r, err);
	cr_expect(strstr(out, a_pid), "the human list names A's pid %s: %s", a_pid, out);
	free(out);
	free(err);
	pol_done();
}
