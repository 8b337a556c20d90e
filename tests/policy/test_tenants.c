/*
 * Tenants as objects (issue 14), against a real hvd started as root (so
 * it drops to its own uid and runs under its seccomp filters, as in
 * production): `hvctl tenant add/list/show/set/rm --json`, tenant sockets
 * whose clients are that tenant whatever their uid (root included, and
 * never an administrator there), quotas set at run time, a restart, and a
 * state file that is partly bad. Every test with two tenants checks that
 * the one it did not act on is as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "hvd_stop.h"
#include "pol.h"

static struct pol_hvd H;
static char tdir[80];   /* where the tenant sockets go: sticky, like /tmp */

static const char conf[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[rule root]\n"
	"uid = 0\n"
	"entitlements = com.apple.security.hypervisor\n"
	"\n"
	"[rule users]\n"
	"group = 60000\n"
	"entitlements = com.apple.security.hypervisor\n";

static void setup(void)
{
	pol_init(&H);
	pol_write_conf(&H, conf);
	snprintf(tdir, sizeof(tdir), "%s/t", H.dir);
	cr_assert_eq(mkdir(tdir, 0777), 0);
	cr_assert_eq(chmod(tdir, 01777), 0);
	pol_start(&H);
}

static void teardown(void)
{
	pol_done();
}

TestSuite(tenants, .init = setup, .fini = teardown, .timeout = 90);

/* H, but speaking to another socket (a tenant's). */
static struct pol_hvd at(const char *sock)
{
	struct pol_hvd h = H;
	snprintf(h.sock, sizeof(h.sock), "%s", sock);
	return h;
}

static void tsock(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%.70s/%.8s.sock", tdir, name);
}

static bool is_socket(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* `hvctl tenant show NAME --json` as root on the main socket. */
static json_object *show(const char *name)
{
	return pol_hvctl_json(&H, 0, "tenant", "show", name, "--json", NULL);
}

static long long quota_of(json_object *t, const char *key)
{
	return pol_int(pol_get(t, "quota"), key);
}

static long long usage_of(json_object *t, const char *key)
{
	return pol_int(pol_get(t, "usage"), key);
}

/* A tenant "b" with a socket and a VM that runs a guest, for the tests
 * that check it is left alone. */
static void other_tenant(struct pol_proc *b, char *bsock, size_t len)
{
	char line[64];
	tsock(bsock, len, "b");
	json_object *t = pol_hvctl_json(&H, 0, "tenant", "add", "b", "--socket", bsock,
					"--max-vms", "3", "--json", NULL);
	json_object_put(t);
	struct pol_hvd hb = at(bsock);
	pol_client_start(&hb, b, 0, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(b, "create"), ST_SUCCESS);
	pol_client_line(b, line, sizeof(line));
	cr_assert_str_eq(line, "ready");
}

/* b as other_tenant made it: socket, quota, its VM. */
static void other_tenant_untouched(const char *bsock)
{
	cr_assert(is_socket(bsock), "tenant b's socket %s is gone", bsock);
	json_object *t = show("b");
	cr_assert_eq(quota_of(t, "max_vms"), 3);
	cr_assert_eq(usage_of(t, "vms"), 1, "%s", json_object_to_json_string(t));
	cr_assert(pol_bool(t, "listening"));
	json_object_put(t);
}

Test(tenants, add_list_show_set_rm_with_json)
{
	char asock[100];
	tsock(asock, sizeof(asock), "a");

	json_object *t = pol_hvctl_json(&H, 0, "tenant", "add", "a", "--socket", asock,
					"--uid", "60001", "--gid", "60010", "--max-vms", "2",
					"--max-memory", "64M", "--json", NULL);
	cr_assert_str_eq(pol_str(t, "name"), "a");
	cr_assert_str_eq(pol_str(t, "socket"), asock);
	cr_assert_str_eq(pol_str(t, "socket_mode"), "0600");
	cr_assert(pol_bool(t, "listening"));
	cr_assert_eq(json_object_array_length(pol_get(t, "uids")), 1);
	cr_assert_eq(json_object_get_int64(json_object_array_get_idx(pol_get(t, "uids"), 0)), 60001);
	cr_assert_eq(json_object_get_int64(json_object_array_get_idx(pol_get(t, "gids"), 0)), 60010);
	cr_assert(pol_strv_has(pol_get(t, "entitlements"), "com.apple.security.hypervisor"));
	cr_assert_eq(quota_of(t, "max_vms"), 2);
	cr_assert_eq(quota_of(t, "max_memory"), 64ll << 20);
	/* Left out: the built-in quota (no [defaults] in this file). */
	cr_assert_eq(quota_of(t, "max_vcpus"), 64);
	cr_assert(pol_strv_has(pol_get(t, "quota_given"), "max_vms"));
	cr_assert(!pol_strv_has(pol_get(t, "quota_given"), "max_vcpus"));
	json_object_put(t);
	struct stat st;
	cr_assert_eq(lstat(asock, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);

	/* A second one, without a socket: members by uid only. */
	t = pol_hvctl_json(&H, 0, "tenant", "add", "c", "--uid", "60003", "--entitlements", "none",
			   "--json", NULL);
	cr_assert(json_object_is_type(pol_get(t, "socket"), json_type_null) ||
		  pol_get(t, "socket") == NULL);
	cr_assert_eq(json_object_array_length(pol_get(t, "entitlements")), 0);
	json_object_put(t);

	json_object *l = pol_hvctl_json(&H, 0, "tenant", "list", "--json", NULL);
	json_object *arr = pol_get(l, "tenants");
	cr_assert_eq(json_object_array_length(arr), 2);
	cr_assert_str_eq(pol_str(json_object_array_get_idx(arr, 0), "name"), "a");
	cr_assert_str_eq(pol_str(json_object_array_get_idx(arr, 1), "name"), "c");
	json_object_put(l);

	/* set: a quota changed, one back to its default, the uids replaced;
	 * c untouched. */
	t = pol_hvctl_json(&H, 0, "tenant", "set", "a", "--max-vms", "5", "--max-memory",
			   "default", "--uid", "60002", "--json", NULL);
	cr_assert_eq(quota_of(t, "max_vms"), 5);
	cr_assert_eq(quota_of(t, "max_memory"), 64ll << 30);
	cr_assert(!pol_strv_has(pol_get(t, "quota_given"), "max_memory"));
	cr_assert_eq(json_object_array_length(pol_get(t, "uids")), 1);
	cr_assert_eq(json_object_get_int64(json_object_array_get_idx(pol_get(t, "uids"), 0)), 60002);
	json_object_put(t);
	t = show("c");
	cr_assert_eq(json_object_get_int64(json_object_array_get_idx(pol_get(t, "uids"), 0)), 60003);
	cr_assert_eq(quota_of(t, "max_vms"), 8);
	json_object_put(t);

	/* The socket cannot change by set. */
	char *err = NULL;
	cr_assert_eq(pol_hvctl(&H, 0, NULL, &err, "tenant", "set", "a", "--socket", "/tmp/x",
			       NULL), 2);
	free(err);

	/* The state file says what is in force. */
	char path[256];
	snprintf(path, sizeof(path), "%s/tenants.json", H.state);
	char *text = pol_read_file(path, NULL);
	cr_assert_not_null(text);
	json_object *f = json_tokener_parse(text);
	cr_assert_not_null(f, "%s", text);
	cr_assert_eq(json_object_array_length(pol_get(f, "tenants")), 2);
	json_object_put(f);
	free(text);
	cr_assert_eq(stat(H.state, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);

	t = pol_hvctl_json(&H, 0, "tenant", "rm", "a", "--json", NULL);
	cr_assert(pol_bool(t, "removed"));
	json_object_put(t);
	cr_assert(!is_socket(asock), "rm left %s behind", asock);
	l = pol_hvctl_json(&H, 0, "tenant", "list", "--json", NULL);
	cr_assert_eq(json_object_array_length(pol_get(l, "tenants")), 1);
	cr_assert_str_eq(pol_str(json_object_array_get_idx(pol_get(l, "tenants"), 0), "name"), "c");
	json_object_put(l);
	cr_assert_neq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "show", "a", NULL), 0);
}

Test(tenants, root_on_a_tenant_socket_is_that_tenant_and_no_administrator)
{
	char asock[100], bsock[100], line[64];
	struct pol_proc a, b, m;
	tsock(asock, sizeof(asock), "a");
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "a", "--socket", asock, "--json",
				       NULL));
	other_tenant(&b, bsock, sizeof(bsock));
	struct pol_hvd ha = at(asock);

	/* Root on the main socket: an administrator with a VM of its own. */
	pol_client_start(&H, &m, 0, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&m, "create"), ST_SUCCESS);
	pol_client_line(&m, line, sizeof(line));
	/* Root on a's socket: tenant a's VM. */
	pol_client_start(&ha, &a, 0, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&a, "create"), ST_SUCCESS);
	pol_client_line(&a, line, sizeof(line));

	/* Every admin call from a's socket: refused, though hvctl is root. */
	static const char *const admin_calls[][4] = {
		{ "tenant", "list", NULL }, { "tenant", "show", "b" },
		{ "tenant", "rm", "b" }, { "tenant", "add", "x" },
		{ "policy", "reload", NULL },
	};
	for (size_t i = 0; i < sizeof(admin_calls) / sizeof(admin_calls[0]); i++) {
		char *err = NULL;
		int r = pol_hvctl(&ha, 0, NULL, &err, admin_calls[i][0], admin_calls[i][1],
				  admin_calls[i][2], NULL);
		cr_assert_eq(r, 1, "%s %s: exit %d", admin_calls[i][0], admin_calls[i][1], r);
		cr_assert_not_null(strstr(err, "HV_DENIED"), "%s", err);
		free(err);
	}
	/* Nor does its uid 0 let it look at root's processes. */
	char mpid[16];
	snprintf(mpid, sizeof(mpid), "%d", (int)m.pid);
	char *err = NULL;
	cr_assert_eq(pol_hvctl(&ha, 0, NULL, &err, "policy", "explain", "--pid", mpid, NULL), 1);
	cr_assert_not_null(strstr(err, "HV_DENIED"), "%s", err);
	free(err);
	/* Listings show a's own and nothing else; the other VMs cannot be
	 * killed from there. */
	json_object *l = pol_hvctl_json(&ha, 0, "list", "--json", NULL);
	cr_assert_eq(json_object_array_length(pol_get(l, "vms")), 1, "%s",
		     json_object_to_json_string(l));
	cr_assert_not_null(pol_find(pol_get(l, "vms"), "pid", a.pid));
	json_object_put(l);
	l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *bvm = pol_find(pol_get(l, "vms"), "pid", b.pid);
	json_object *mvm = pol_find(pol_get(l, "vms"), "pid", m.pid);
	cr_assert(bvm && mvm);
	cr_assert_str_eq(pol_str(bvm, "tenant"), "b");
	char bid[32], mid[32];
	snprintf(bid, sizeof(bid), "%lld", pol_int(bvm, "id"));
	snprintf(mid, sizeof(mid), "%lld", pol_int(mvm, "id"));
	json_object_put(l);
	cr_assert_eq(pol_hvctl(&ha, 0, NULL, NULL, "kill", bid, NULL), 1);
	cr_assert_eq(pol_hvctl(&ha, 0, NULL, NULL, "kill", mid, NULL), 1);

	/* hvctl clients (an administrator's) counts a's client as a's, not
	 * as an administrator, though its uid is 0. */
	l = pol_hvctl_json(&H, 0, "clients", "--json", NULL);
	json_object *ca = pol_find(pol_get(l, "clients"), "pid", a.pid);
	json_object *cm = pol_find(pol_get(l, "clients"), "pid", m.pid);
	cr_assert(ca && cm, "%s", json_object_to_json_string(l));
	cr_assert_eq(pol_int(ca, "uid"), 0);
	cr_assert_str_eq(pol_str(ca, "tenant"), "a");
	cr_assert(!pol_bool(ca, "admin"));
	cr_assert(pol_bool(cm, "admin"));
	cr_assert_str_neq(pol_str(cm, "tenant"), "a");
	json_object_put(l);
	json_object *t = show("a");
	cr_assert_eq(usage_of(t, "vms"), 1);
	cr_assert_eq(usage_of(t, "clients"), 1);
	json_object_put(t);
	cr_assert_gt(pol_audit_count(&H, "deny", "admin_tenant_list", 0, -1, NULL, 0), 0);

	other_tenant_untouched(bsock);
	cr_assert_eq(pol_client_cmd(&m, "cap", "cap"), ST_SUCCESS);
	pol_client_finish(&a);
	pol_client_finish(&b);
	pol_client_finish(&m);
}

Test(tenants, rm_of_one_tenant_leaves_the_other_computing)
{
	char asock[100], bsock[100], line[64];
	struct pol_proc a, b;
	tsock(asock, sizeof(asock), "a");
	tsock(bsock, sizeof(bsock), "b");
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "a", "--socket", asock, "--json",
				       NULL));
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "b", "--socket", bsock,
				       "--max-vms", "3", "--json", NULL));
	struct pol_hvd ha = at(asock), hb = at(bsock);
	pol_client_start(&ha, &a, 0, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&a, "create"), ST_SUCCESS);
	pol_client_line(&a, line, sizeof(line));
	/* b's guest makes OUT exits for 3 s, through the removal of a. */
	pol_client_start(&hb, &b, 0, 0, "--outloop", "3000", NULL);
	cr_assert_eq(pol_client_result(&b, "create"), ST_SUCCESS);
	pol_wait_vms(&H, 2);

	/* a has a VM: rm refuses unless forced. */
	char *err = NULL;
	cr_assert_eq(pol_hvctl(&H, 0, NULL, &err, "tenant", "rm", "a", NULL), 1);
	cr_assert_not_null(strstr(err, "HV_BUSY"), "%s", err);
	free(err);
	cr_assert(is_socket(asock));
	json_object *t = pol_hvctl_json(&H, 0, "tenant", "rm", "a", "--force", "--json", NULL);
	json_object_put(t);
	cr_assert(!is_socket(asock));
	/* a's client lost its connection: its next call fails. */
	unsigned r = pol_client_cmd(&a, "map", "map 4096 0x100000");
	cr_assert_neq(r, ST_SUCCESS);
	pol_client_finish(&a);

	/* b: still there, still computing, and finishes its run. */
	cr_assert(is_socket(bsock));
	t = show("b");
	cr_assert_eq(quota_of(t, "max_vms"), 3);
	cr_assert_eq(usage_of(t, "vms"), 1, "%s", json_object_to_json_string(t));
	json_object_put(t);
	pol_client_line(&b, line, sizeof(line));
	cr_assert(strncmp(line, "outloop=0", 9) == 0, "b's guest: %s", line);
	unsigned long long runs = 0;
	const char *p = strstr(line, "runs=");
	cr_assert_not_null(p, "%s", line);
	runs = strtoull(p + 5, NULL, 10);
	cr_assert_gt(runs, 100, "%s", line);
	cr_assert_eq(pol_client_finish(&b), 0);
	json_object *l = pol_hvctl_json(&H, 0, "tenant", "list", "--json", NULL);
	cr_assert_eq(json_object_array_length(pol_get(l, "tenants")), 1);
	json_object_put(l);
}

/* Stop hvd (SIGTERM) and start it again on the same directory. */
static void restart(void)
{
	int status = 0;
	cr_assert(hvd_stop_signal_wait(H.pid, SIGTERM, H.sock, POL_WAIT_MS, &status));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	H.pid = -1;
	pol_start(&H);
}

Test(tenants, a_restart_keeps_the_tenants_and_their_sockets)
{
	char asock[100], bsock[100], line[64];
	struct pol_proc a;
	tsock(asock, sizeof(asock), "a");
	tsock(bsock, sizeof(bsock), "b");
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "a", "--socket", asock,
				       "--socket-mode", "0666", "--max-vms", "1", "--json", NULL));
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "b", "--socket", bsock,
				       "--max-vcpus", "7", "--uid", "60002", "--json", NULL));
	restart();
	/* hvd removed the sockets when it stopped and made them again. */
	cr_assert(is_socket(asock) && is_socket(bsock));
	struct stat st;
	cr_assert_eq(lstat(asock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0666);
	json_object *t = show("a");
	cr_assert_eq(quota_of(t, "max_vms"), 1);
	cr_assert(pol_bool(t, "listening"));
	json_object_put(t);
	t = show("b");
	cr_assert_eq(quota_of(t, "max_vcpus"), 7);
	cr_assert_eq(json_object_get_int64(json_object_array_get_idx(pol_get(t, "uids"), 0)), 60002);
	json_object_put(t);

	/* The socket works: an unprivileged uid (mode 0666) on it is a. */
	struct pol_hvd ha = at(asock);
	pol_client_start(&ha, &a, UID_A, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&a, "create"), ST_SUCCESS);
	pol_client_line(&a, line, sizeof(line));
	json_object *l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *vm = pol_find(pol_get(l, "vms"), "pid", a.pid);
	cr_assert_not_null(vm);
	cr_assert_str_eq(pol_str(vm, "tenant"), "a");
	json_object_put(l);
	pol_client_finish(&a);

	/* hvd killed outright: its janitor removes the sockets. */
	kill(H.pid, SIGKILL);
	waitpid(H.pid, NULL, 0);
	H.pid = -1;
	for (long long end = pol_now_ms() + POL_WAIT_MS;
	     (is_socket(asock) || is_socket(bsock)) && pol_now_ms() < end;)
		pol_sleep_ms(5);
	cr_assert(!is_socket(asock) && !is_socket(bsock), "a killed hvd left its tenant sockets");
	unlink(H.sock); /* hvd-janitor's, not ours to test here */
	pol_start(&H);
	cr_assert(is_socket(asock) && is_socket(bsock));
}

Test(tenants, quotas_set_on_a_tenant_refuse_the_vm_over_them)
{
	char asock[100], bsock[100], line[64];
	struct pol_proc a1, a2, b;
	tsock(asock, sizeof(asock), "a");
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "a", "--socket", asock,
				       "--max-vms", "1", "--json", NULL));
	other_tenant(&b, bsock, sizeof(bsock));
	struct pol_hvd ha = at(asock);
	pol_client_start(&ha, &a1, 0, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&a1, "create"), ST_SUCCESS);
	pol_client_line(&a1, line, sizeof(line));
	/* The second VM of a: over max_vms 1. */
	pol_client_start(&ha, &a2, 0, 0, "--no-create", "--hold", NULL);
	cr_assert_eq(pol_client_result(&a2, "cap"), ST_SUCCESS);
	pol_client_line(&a2, line, sizeof(line));
	cr_assert_eq(pol_client_cmd(&a2, "create", "create"), ST_NO_RESOURCES);
	char reason[256] = "";
	cr_assert_gt(pol_audit_count(&H, "quota", "vm_create", 0, a2.pid, reason, sizeof(reason)), 0);
	cr_assert_not_null(strstr(reason, "max_vms 1"), "%s", reason);
	/* Raised while a2 is connected: its next request sees it. */
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "set", "a", "--max-vms", "2", "--json",
				       NULL));
	cr_assert_eq(pol_client_cmd(&a2, "create", "create"), ST_SUCCESS);
	json_object *t = show("a");
	cr_assert_eq(usage_of(t, "vms"), 2);
	json_object_put(t);
	/* Lowered: the VMs there stay, a new one is refused. */
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "set", "a", "--max-vms", "0", "--json",
				       NULL));
	struct pol_proc a3;
	pol_client_start(&ha, &a3, 0, 0, NULL);
	cr_assert_eq(pol_client_result(&a3, "create"), ST_NO_RESOURCES);
	pol_client_finish(&a3);
	other_tenant_untouched(bsock);
	/* b's own quota is b's: its second VM is allowed. */
	struct pol_proc b2;
	struct pol_hvd hb = at(bsock);
	pol_client_start(&hb, &b2, 0, 0, NULL);
	cr_assert_eq(pol_client_result(&b2, "create"), ST_SUCCESS);
	pol_client_finish(&b2);
	pol_client_finish(&a1);
	pol_client_finish(&a2);
	pol_client_finish(&b);
}

Test(tenants, socket_paths_an_attacker_could_use_are_refused)
{
	char p[256], target[256], *err;
	struct stat before, after;

	/* An existing file, a symlink to one, a directory: all left as they
	 * were. */
	snprintf(target, sizeof(target), "%s/victim", H.dir);
	pol_write_file(&H, target, "keep\n", 5);
	cr_assert_eq(stat(target, &before), 0);
	snprintf(p, sizeof(p), "%s/file.sock", tdir);
	pol_write_file(&H, p, "x", 1);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "x", "--socket", p, NULL), 1);
	snprintf(p, sizeof(p), "%s/link.sock", tdir);
	cr_assert_eq(symlink(target, p), 0);
	err = NULL;
	cr_assert_eq(pol_hvctl(&H, 0, NULL, &err, "tenant", "add", "x", "--socket", p, NULL), 1);
	cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
	free(err);
	snprintf(p, sizeof(p), "%s/dir.sock", tdir);
	cr_assert_eq(mkdir(p, 0755), 0);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "x", "--socket", p, NULL), 1);
	cr_assert_eq(stat(target, &after), 0);
	cr_assert_eq(after.st_mode, before.st_mode);
	cr_assert_eq(after.st_size, before.st_size);
	cr_assert_eq(after.st_uid, before.st_uid);

	/* A directory others can write (not sticky), and one reached through
	 * a symlink. */
	snprintf(p, sizeof(p), "%s/open", H.dir);
	cr_assert_eq(mkdir(p, 0777), 0);
	cr_assert_eq(chmod(p, 0777), 0);
	snprintf(p, sizeof(p), "%s/open/x.sock", H.dir);
	err = NULL;
	cr_assert_eq(pol_hvctl(&H, 0, NULL, &err, "tenant", "add", "x", "--socket", p, NULL), 1);
	cr_assert_not_null(strstr(err, "writable by others"), "%s", err);
	free(err);
	cr_assert(!is_socket(p));
	char via[256];
	snprintf(via, sizeof(via), "%s/via", H.dir);
	cr_assert_eq(symlink(tdir, via), 0);
	snprintf(p, sizeof(p), "%s/via/x.sock", H.dir);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "x", "--socket", p, NULL), 1);
	/* In hvd's state directory. */
	snprintf(p, sizeof(p), "%s/x.sock", H.state);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "x", "--socket", p, NULL), 1);
	/* Relative, with .., too long. */
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "x", "--socket", "x.sock",
			       NULL), 1);
	snprintf(p, sizeof(p), "%s/../t/x.sock", tdir);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "x", "--socket", p, NULL), 1);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "x", "--socket", longp, NULL), 1);

	/* Names: a path, a huge one, the policy's own "uid:" form. */
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "../etc", NULL), 1);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "a/b", NULL), 1);
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "uid:0", NULL), 1);
	char huge[2000];
	memset(huge, 'n', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", huge, NULL), 1);
	/* Two tenants, one socket. */
	snprintf(p, sizeof(p), "%s/one.sock", tdir);
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "one", "--socket", p, "--json",
				       NULL));
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", "two", "--socket", p, NULL), 1);
	/* An unprivileged uid on the main socket: no tenant administration. */
	err = NULL;
	cr_assert_eq(pol_hvctl(&H, UID_A, NULL, &err, "tenant", "add", "mine", NULL), 1);
	cr_assert_not_null(strstr(err, "HV_DENIED"), "%s", err);
	free(err);

	json_object *l = pol_hvctl_json(&H, 0, "tenant", "list", "--json", NULL);
	cr_assert_eq(json_object_array_length(pol_get(l, "tenants")), 1, "%s",
		     json_object_to_json_string(l));
	json_object_put(l);
	cr_assert(is_socket(p));
}

Test(tenants, a_connection_flood_on_a_tenant_socket_is_that_tenants_share)
{
	char asock[100];
	int fds[40];
	tsock(asock, sizeof(asock), "a");
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "a", "--socket", asock, "--json",
				       NULL));
	/* Root connects 40 times to a's socket and never says Hello: past 32
	 * (max_unauthenticated_per_uid) they are closed... */
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", asock);
	for (int i = 0; i < 40; i++) {
		fds[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		cr_assert_geq(fds[i], 0);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&addr, sizeof(addr)), 0, "%s",
			     strerror(errno));
	}
	pol_sleep_ms(300);
	/* ... while root on the main socket, the same uid, is not held back
	 * by them: a's connections are a's share, not uid 0's; nor is root
	 * on b's socket. */
	for (int i = 0; i < 3; i++) {
		json_object *st = pol_hvctl_json(&H, 0, "status", "--json", NULL);
		json_object_put(st);
	}
	char bsock[100];
	struct pol_proc b;
	other_tenant(&b, bsock, sizeof(bsock));
	other_tenant_untouched(bsock);
	pol_client_finish(&b);
	int closed = 0;
	for (int i = 0; i < 40; i++) {
		char c;
		ssize_t n = recv(fds[i], &c, 1, MSG_DONTWAIT);
		closed += n == 0 || (n < 0 && errno != EAGAIN);
		close(fds[i]);
	}
	cr_assert_geq(closed, 8, "only %d of 40 connections were closed", closed);
	cr_assert_leq(closed, 8 + 2, "%d of 40 connections were closed", closed);
}

Test(tenants, a_bad_state_file_leaves_out_that_tenant_and_hvd_starts)
{
	char path[256], bsock[100], line[64];
	struct pol_proc b;
	other_tenant(&b, bsock, sizeof(bsock));
	pol_client_finish(&b);
	int status;
	cr_assert(hvd_stop_signal_wait(H.pid, SIGTERM, H.sock, POL_WAIT_MS, &status));
	H.pid = -1;

	/* b as hvd wrote it, then three bad ones. */
	snprintf(path, sizeof(path), "%s/tenants.json", H.state);
	char *text = pol_read_file(path, NULL);
	cr_assert_not_null(text);
	json_object *f = json_tokener_parse(text);
	free(text);
	json_object *arr = pol_get(f, "tenants");
	json_object_array_add(arr, json_tokener_parse("{\"name\":\"../../etc\",\"uids\":[1]}"));
	json_object_array_add(arr, json_tokener_parse("{\"name\":\"c\",\"socket\":\"rel.sock\","
						      "\"socket_mode\":384}"));
	json_object_array_add(arr, json_tokener_parse("{\"name\":\"d\",\"quota\":{\"max_vm\":1}}"));
	json_object_array_add(arr, json_tokener_parse("{\"name\":\"e\",\"quota\":{\"max_vms\":-1}}"));
	json_object_array_add(arr, json_tokener_parse("{\"name\":\"ok\",\"uids\":[60003],"
						      "\"quota\":{\"max_vms\":4}}"));
	const char *s = json_object_to_json_string(f);
	pol_write_file(&H, path, s, strlen(s));
	json_object_put(f);
	pol_start(&H);

	cr_assert_eq(pol_log_count(&H, "left out"), 4, "hvd's log:\n%s", pol_read_file(H.log, NULL));
	cr_assert_eq(pol_log_count(&H, "tenant #2 (../../etc)"), 1);
	json_object *l = pol_hvctl_json(&H, 0, "tenant", "list", "--json", NULL);
	arr = pol_get(l, "tenants");
	cr_assert_eq(json_object_array_length(arr), 2, "%s", json_object_to_json_string(l));
	cr_assert_str_eq(pol_str(json_object_array_get_idx(arr, 0), "name"), "b");
	cr_assert_str_eq(pol_str(json_object_array_get_idx(arr, 1), "name"), "ok");
	json_object_put(l);
	/* b is whole: its socket works and its quota is its own. */
	cr_assert(is_socket(bsock));
	json_object *t = show("b");
	cr_assert_eq(quota_of(t, "max_vms"), 3);
	json_object_put(t);
	struct pol_hvd hb = at(bsock);
	pol_client_start(&hb, &b, 0, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&b, "create"), ST_SUCCESS);
	pol_client_line(&b, line, sizeof(line));
	pol_client_finish(&b);
	/* The original is kept for the administrator. */
	snprintf(path, sizeof(path), "%s/tenants.json.bad", H.state);
	cr_assert_eq(access(path, F_OK), 0);

	/* Not JSON at all: hvd still starts, with nothing. */
	cr_assert(hvd_stop_signal_wait(H.pid, SIGTERM, H.sock, POL_WAIT_MS, &status));
	H.pid = -1;
	snprintf(path, sizeof(path), "%s/tenants.json", H.state);
	pol_write_file(&H, path, "{\"version\":1,\"tenants\":[{\"na", 28);
	pol_start(&H);
	cr_assert_geq(pol_log_count(&H, "not a version 1 tenants file"), 1);
	l = pol_hvctl_json(&H, 0, "tenant", "list", "--json", NULL);
	cr_assert_eq(json_object_array_length(pol_get(l, "tenants")), 0);
	json_object_put(l);
}

Test(tenants, uids_and_groups_on_the_main_socket_are_members)
{
	char line[64];
	struct pol_proc a1, a2, c, d;
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "lab", "--uid", "60001", "--gid",
				       "60010", "--max-vms", "1", "--json", NULL));
	/* uid 60001: lab's, with lab's quota of one VM. */
	pol_client_start(&H, &a1, UID_A, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&a1, "create"), ST_SUCCESS);
	pol_client_line(&a1, line, sizeof(line));
	pol_client_start(&H, &a2, UID_A, 0, NULL);
	cr_assert_eq(pol_client_result(&a2, "create"), ST_NO_RESOURCES);
	pol_client_finish(&a2);
	/* uid 60003 in group 60010: lab's too, and over the same quota. */
	pol_client_start(&H, &c, UID_C, GID_EXTRA, NULL);
	cr_assert_eq(pol_client_result(&c, "create"), ST_NO_RESOURCES);
	pol_client_finish(&c);
	/* uid 60004, no member: its rules' tenant, untouched by lab's quota. */
	pol_client_start(&H, &d, UID_D, 0, "--hold", NULL);
	cr_assert_eq(pol_client_result(&d, "create"), ST_SUCCESS);
	pol_client_line(&d, line, sizeof(line));
	json_object *l = pol_hvctl_json(&H, 0, "clients", "--json", NULL);
	json_object *ca = pol_find(pol_get(l, "clients"), "pid", a1.pid);
	json_object *cd = pol_find(pol_get(l, "clients"), "pid", d.pid);
	cr_assert(ca && cd, "%s", json_object_to_json_string(l));
	cr_assert_str_eq(pol_str(ca, "tenant"), "lab");
	cr_assert_str_eq(pol_str(cd, "tenant"), "uid:60004");
	json_object_put(l);
	/* Removing lab (no VM of its own socket... but a member's): refused,
	 * then forced; the non-member keeps its VM. */
	cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "rm", "lab", NULL), 1);
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "rm", "lab", "--force", "--json", NULL));
	cr_assert_neq(pol_client_cmd(&a1, "map", "map 4096 0x100000"), ST_SUCCESS);
	cr_assert_eq(pol_client_cmd(&d, "map", "map 4096 0x100000"), ST_SUCCESS);
	pol_client_finish(&a1);
	pol_client_finish(&d);
}

Test(tenants, rm_removes_only_the_socket_hvd_made)
{
	char asock[100];
	tsock(asock, sizeof(asock), "a");
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "add", "a", "--socket", asock, "--json",
				       NULL));
	/* Someone replaced the socket with a file of their own. */
	cr_assert_eq(unlink(asock), 0);
	pol_write_file(&H, asock, "mine\n", 5);
	json_object_put(pol_hvctl_json(&H, 0, "tenant", "rm", "a", "--json", NULL));
	struct stat st;
	cr_assert_eq(lstat(asock, &st), 0, "rm removed a file hvd did not make");
	cr_assert(S_ISREG(st.st_mode));
}

Test(tenants, the_number_of_tenants_is_bounded_and_all_survive_a_restart)
{
	char name[16], uid[16];
	for (int i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "t%03d", i);
		snprintf(uid, sizeof(uid), "%d", 70000 + i);
		cr_assert_eq(pol_hvctl(&H, 0, NULL, NULL, "tenant", "add", name, "--uid", uid,
				       "--max-vms", "1", NULL), 0, "tenant %d", i);
	}
	char *err = NULL;
	cr_assert_eq(pol_hvctl(&H, 0, NULL, &err, "tenant", "add", "one-more", NULL), 1);
	cr_assert_not_null(strstr(err, "HV_NO_RESOURCES"), "%s", err);
	free(err);
	restart();
	json_object *l = pol_hvctl_json(&H, 0, "tenant", "list", "--json", NULL);
	json_object *arr = pol_get(l, "tenants");
	cr_assert_eq(json_object_array_length(arr), 256);
	cr_assert_str_eq(pol_str(json_object_array_get_idx(arr, 255), "name"), "t255");
	json_object_put(l);
}
