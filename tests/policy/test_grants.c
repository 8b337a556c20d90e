/*
 * Signed grants, end to end with hvctl: `hvctl keygen` makes the trusted
 * key, `hvctl grant sign` binds com.apple.security.hypervisor to
 * policy_client's hash, hvd loads the grants directory, and a uid no rule
 * names can create a VM. Forged, tampered, expired, wrong-binary and
 * wrong-uid grants give nothing; the ones hvd refuses at load time appear
 * as "grant-rejected" audit lines, and `hvctl grant verify` calls the
 * forged and tampered ones bad.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "pol.h"

static struct pol_hvd H;
static char admin_key[300], admin_pub[300], rogue_key[300], rogue_pub[300];
static char ent_plist[256], grants_dir[128];

static const char entitlements[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	"\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	"<plist version=\"1.0\"><dict>\n"
	"\t<key>com.apple.security.hypervisor</key><true/>\n"
	"</dict></plist>\n";

static void keygen(const char *name, char *key, char *pub)
{
	char out[200], *err = NULL;
	snprintf(out, sizeof(out), "%.64s/%.64s", H.dir, name);
	int r = pol_hvctl(NULL, 0, NULL, &err, "keygen", "--out", out, NULL);
	cr_assert_eq(r, 0, "hvctl keygen --out %s exited %d: %s", out, r, err);
	free(err);
	snprintf(key, 300, "%s.key", out);
	snprintf(pub, 300, "%s.pub", out);
	struct stat st;
	cr_assert_eq(stat(key, &st), 0, "keygen wrote no %s", key);
	cr_expect_eq(st.st_mode & 0777, 0600, "the secret key is private");
}

/* The public key, without its newline. */
static void read_pub(const char *pub, char *hex)
{
	char *text = pol_read_file(pub, NULL);
	cr_assert_not_null(text);
	cr_assert_eq(strspn(text, "0123456789abcdef"), 64, "%s is not 64 hex digits: %s", pub,
		     text);
	memcpy(hex, text, 64);
	hex[64] = 0;
	free(text);
}

static void setup(void)
{
	pol_init(&H);
	keygen("admin", admin_key, admin_pub);
	keygen("rogue", rogue_key, rogue_pub);
	snprintf(ent_plist, sizeof(ent_plist), "%s/ent.plist", H.dir);
	pol_write_file(&H, ent_plist, entitlements, strlen(entitlements));
	snprintf(grants_dir, sizeof(grants_dir), "%s/grants", H.dir);
	cr_assert_eq(mkdir(grants_dir, 0755), 0);

	char hex[65], conf[1024];
	read_pub(admin_pub, hex);
	snprintf(conf, sizeof(conf),
		 "[hvd]\n"
		 "audit = @AUDIT@\n"
		 "trusted_key = %s\n"
		 "grants = @DIR@/grants\n", hex);
	pol_write_conf(&H, conf);
}

TestSuite(grants, .init = setup, .fini = pol_cleanup);

/* hvctl grant sign into grants/NAME.grant; extra options NULL-terminated
 * (at most four). */
static void sign(const char *name, const char *key, const char *exe, const char *o1,
		 const char *v1, const char *o2, const char *v2)
{
	char out[300], *err = NULL;
	snprintf(out, sizeof(out), "%s/%.64s.grant", grants_dir, name);
	int r = pol_hvctl(NULL, 0, NULL, &err, "grant", "sign", "--key", key, "--exe", exe,
			  "--entitlements", ent_plist, "--out", out, o1, v1, o2, v2, NULL);
	cr_assert_eq(r, 0, "hvctl grant sign (%s) exited %d: %s", name, r, err);
	free(err);
}

static int verify(const char *name, char **out, char **err)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%.64s.grant", grants_dir, name);
	return pol_hvctl(NULL, 0, out, err, "grant", "verify", "--pub", admin_pub, path, NULL);
}

static void status_counts(unsigned loaded, unsigned rejected)
{
	json_object *st = pol_hvctl_json(&H, 0, "status", "--json", NULL);
	cr_expect_eq(pol_int(st, "grants_loaded"), loaded, "%s", json_object_to_json_string(st));
	cr_expect_eq(pol_int(st, "grants_rejected"), rejected, "%s",
		     json_object_to_json_string(st));
	json_object_put(st);
}

Test(grants, signed_grant_gives_the_entitlement)
{
	sign("good", admin_key, pol_client_path(), NULL, NULL, NULL, NULL);
	char *out = NULL, *err = NULL;
	int r = verify("good", &out, &err);
	cr_expect_eq(r, 0, "hvctl grant verify of a good grant exited %d: %s %s", r, out, err);
	free(out);
	free(err);

	pol_start(&H);
	status_counts(1, 0);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS,
		     "the grant gives uid %d what no rule does", UID_A);
	cr_expect_eq(pol_audit_count(&H, "allow", "vm_create", UID_A, -1, NULL, 0), 1);
	cr_expect_eq(pol_audit_count(&H, "grant-rejected", NULL, -1, -1, NULL, 0), 0);
	/* It is the binary that holds the grant: hvctl (another executable)
	 * is not a client of it, and neither is a client nobody granted. */
	pol_done();
}

Test(grants, grant_bound_to_a_uid_is_for_that_uid_only)
{
	sign("b-only", admin_key, pol_client_path(), "--uid", "60002", NULL, NULL);
	pol_start(&H);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED,
		     "a grant for uid %d gives uid %d nothing", UID_B, UID_A);
	cr_expect_eq(pol_audit_count(&H, "deny", "vm_create", UID_A, -1, NULL, 0), 1);
	/* The grant itself is good: its own uid gets the entitlement. */
	cr_expect_eq(pol_client_once(&H, UID_B, 0, NULL), ST_SUCCESS);
	pol_done();
}

Test(grants, forged_grant_is_rejected)
{
	sign("forged", rogue_key, pol_client_path(), NULL, NULL, NULL, NULL);
	char *out = NULL, *err = NULL;
	int r = verify("forged", &out, &err);
	cr_expect_eq(r, 1, "grant verify with the trusted key calls a forged grant bad "
		     "(exit 1), got %d: %s %s", r, out, err);
	cr_expect(strstr(err, "not trusted"),
		  "verify says on stderr that the signer is not trusted: %s %s", out, err);
	cr_expect(!strstr(out, "not trusted"), "and not on stdout: %s", out);
	free(out);
	free(err);

	pol_start(&H);
	status_counts(0, 1);
	char reason[512] = "";
	cr_expect_eq(pol_audit_count(&H, "grant-rejected", NULL, -1, -1, reason, sizeof(reason)),
		     1, "one grant-rejected audit line");
	cr_expect(strstr(reason, "forged.grant"), "the line names the file: %s", reason);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED);
	pol_done();
}

Test(grants, tampered_grant_is_rejected)
{
	sign("tampered", admin_key, pol_client_path(), NULL, NULL, NULL, NULL);
	char path[300];
	snprintf(path, sizeof(path), "%s/tampered.grant", grants_dir);
	size_t len;
	char *text = pol_read_file(path, &len);
	cr_assert_not_null(text);
	/* One byte of the signed plist (after the header line). */
	char *plist = strchr(text, '\n');
	cr_assert_not_null(plist);
	char *at = strstr(plist, "com.apple.security.hypervisor");
	cr_assert_not_null(at, "the grant's plist names the entitlement: %s", text);
	at[0] = 'C';
	pol_write_file(&H, path, text, len);
	free(text);

	char *out = NULL, *err = NULL;
	int r = verify("tampered", &out, &err);
	cr_expect_eq(r, 1, "grant verify calls a tampered grant bad (exit 1), got %d: %s %s", r,
		     out, err);
	cr_expect(strstr(out, "bad signature") || strstr(err, "bad signature"),
		  "verify says the signature is bad: %s %s", out, err);
	free(out);
	free(err);

	pol_start(&H);
	status_counts(0, 1);
	char reason[512] = "";
	cr_expect_eq(pol_audit_count(&H, "grant-rejected", NULL, -1, -1, reason, sizeof(reason)),
		     1, "one grant-rejected audit line");
	cr_expect(strstr(reason, "tampered.grant"), "the line names the file: %s", reason);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED);
	pol_done();
}

Test(grants, expired_grant_gives_nothing)
{
	sign("expired", admin_key, pol_client_path(), "--expires", "1000000000", NULL, NULL);
	pol_start(&H);
	char reason[512] = "";
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED);
	cr_expect_eq(pol_audit_count(&H, "deny", "vm_create", UID_A, -1, reason, sizeof(reason)),
		     1);
	/* "A grant for this executable that does not apply is reported with
	 * the reason." */
	cr_expect(strstr(reason, "expired"), "the deny line says the grant expired: %s", reason);
	pol_done();
}

Test(grants, grant_for_another_binary_gives_nothing)
{
	sign("true", admin_key, "/bin/true", NULL, NULL, NULL, NULL);
	pol_start(&H);
	status_counts(1, 0);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED);
	cr_expect_eq(pol_audit_count(&H, "deny", "vm_create", UID_A, -1, NULL, 0), 1);
	pol_done();
}

Test(grants, all_bad_grants_together_give_nothing)
{
	sign("forged", rogue_key, pol_client_path(), NULL, NULL, NULL, NULL);
	sign("expired", admin_key, pol_client_path(), "--expires", "1000000000", NULL, NULL);
	sign("true", admin_key, "/bin/true", NULL, NULL, NULL, NULL);
	sign("c-only", admin_key, pol_client_path(), "--uid", "60003", NULL, NULL);
	/* A file that is not a grant at all. */
	pol_write_file(&H, "grants/junk.grant", "hello\n", 6);
	pol_start(&H);
	cr_expect_eq(pol_audit_count(&H, "grant-rejected", NULL, -1, -1, NULL, 0), 2,
		     "forged.grant and junk.grant are rejected at load time");
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED);
	cr_expect_eq(pol_client_once(&H, UID_B, 0, NULL), ST_DENIED);
	pol_done();
}

Test(grants, grant_bound_to_a_group_is_for_its_members_only)
{
	sign("lab", admin_key, pol_client_path(), "--group", "60010", NULL, NULL);
	pol_start(&H);
	status_counts(1, 0);
	cr_expect_eq(pol_client_once(&H, UID_A, GID_EXTRA, NULL), ST_SUCCESS,
		     "a member (supplementary group %d) gets the grant", GID_EXTRA);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED,
		     "a non-member does not");
	pol_done();
}

Test(grants, grant_for_a_group_the_host_lacks_is_rejected)
{
	sign("nogroup", admin_key, pol_client_path(), "--group", "no-such-group-hvd-test", NULL,
	     NULL);
	pol_start(&H);
	status_counts(0, 1);
	char reason[512] = "";
	cr_expect_eq(pol_audit_count(&H, "grant-rejected", NULL, -1, -1, reason, sizeof(reason)),
		     1);
	cr_expect(strstr(reason, "nogroup.grant"), "the line names the file: %s", reason);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED);
	pol_done();
}

Test(grants, grant_expiring_later_applies)
{
	char later[32];
	snprintf(later, sizeof(later), "%lld", (long long)time(NULL) + 24 * 3600);
	sign("later", admin_key, pol_client_path(), "--expires", later, NULL, NULL);
	pol_start(&H);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS,
		     "a grant expiring tomorrow applies today");
	pol_done();
}

Test(grants, reload_reads_the_grants_directory_again)
{
	pol_start(&H);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED);

	/* Install a grant, reload: it applies. */
	sign("good", admin_key, pol_client_path(), NULL, NULL, NULL, NULL);
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, 0, &out, &err, "policy", "reload", NULL);
	cr_expect_eq(r, 0, "reload exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	status_counts(1, 0);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);

	/* A client connected while the grant holds... */
	struct pol_proc p;
	char line[64];
	pol_client_start(&H, &p, UID_A, 0, "--no-create", "--hold", NULL);
	cr_assert_eq(pol_client_result(&p, "cap"), ST_SUCCESS);
	pol_client_line(&p, line, sizeof(line));

	/* ...loses it when the grant is removed and the policy reloaded. */
	char path[300];
	snprintf(path, sizeof(path), "%s/good.grant", grants_dir);
	cr_assert_eq(unlink(path), 0);
	out = err = NULL;
	r = pol_hvctl(&H, 0, &out, &err, "policy", "reload", NULL);
	cr_expect_eq(r, 0, "reload exited %d: %s %s", r, out, err);
	free(out);
	free(err);
	status_counts(0, 0);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED, "a revoked grant still applies");
	cr_expect_eq(pol_client_cmd(&p, "create", "create"), ST_DENIED,
		     "a revoked grant still applies to a connection opened before the reload");
	pol_client_finish(&p);
	pol_done();
}

/* Copies policy_client to `dst` (mode 0755). */
static void copy_client(const char *dst)
{
	size_t len;
	char *bin = pol_read_file(pol_client_path(), &len);
	cr_assert_not_null(bin);
	FILE *f = fopen(dst, "we");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(bin, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(dst, 0755), 0);
	free(bin);
}

Test(grants, grant_follows_the_content_not_the_path)
{
	sign("good", admin_key, pol_client_path(), NULL, NULL, NULL, NULL);
	pol_start(&H);

	/* The same bytes elsewhere hold the same grant. */
	char copy[192];
	snprintf(copy, sizeof(copy), "%s/copy", H.dir);
	copy_client(copy);
	setenv("HVD_TEST_POLICY_CLIENT_SAVED", pol_client_path(), 1);
	setenv("HVD_TEST_POLICY_CLIENT", copy, 1);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS,
		     "a copy of the granted binary is the granted binary");

	/* One byte more (ignored by the loader) makes it another binary. */
	FILE *f = fopen(copy, "ae");
	cr_assert_not_null(f);
	fputc(0, f);
	cr_assert_eq(fclose(f), 0);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_DENIED,
		     "a changed binary kept the grant of the original");
	setenv("HVD_TEST_POLICY_CLIENT", getenv("HVD_TEST_POLICY_CLIENT_SAVED"), 1);
	pol_done();
}
