/*
 * The policy on its own: configuration files (and every complaint about
 * them, with its line), rule matching, tenants and quotas, the token
 * bucket, signed grants from a directory, and executable hashing. All
 * files live in a temporary directory made for each test.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "hvp.h"

static char dir[64];
static char err[512];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_policy.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_geq(sodium_init(), 0);
	err[0] = '\0';
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(policy, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static const char *conf_path(void)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/hvd.conf", dir);
	return path;
}

static int load(const char *text, struct hvp_policy **p)
{
	write_file(conf_path(), text, strlen(text));
	*p = NULL;
	return hvp_policy_load(conf_path(), 4242, p, err, sizeof(err));
}

static struct hvp_policy *load_ok(const char *text)
{
	struct hvp_policy *p;
	int r = load(text, &p);
	cr_assert_eq(r, 0, "load failed: %d %s", r, err);
	cr_assert_not_null(p);
	return p;
}

static struct hvp_identity ident(uid_t uid, gid_t gid)
{
	struct hvp_identity id;
	memset(&id, 0, sizeof(id));
	id.pid = 1;
	id.uid = uid;
	id.gid = gid;
	return id;
}

static struct hvp_grant_result eval(const struct hvp_policy *p, const struct hvp_identity *id)
{
	struct hvp_grant_result g;
	hvp_evaluate(p, id, 1700000000, &g);
	return g;
}

/* ---- configuration ---- */

Test(policy, config_parses)
{
	struct hvp_policy *p = load_ok(
		"# hvd policy\n"
		"[hvd]\n"
		"admin_group = 0\n"
		"audit = /var/log/hvd/audit.log\n"
		"\n"
		"[defaults]\n"
		"max_vms = 4\n"
		"max_memory = 8G\n"
		"\n"
		"[tenant ci]\n"
		"max_vms = 32\n"
		"max_rpc_rate = 0\n"
		"max_cpu_percent = 150\n"
		"\n"
		"[rule dev]\n"
		"uid = 1000\n"
		"entitlements = com.apple.security.hypervisor, com.apple.vm.networking\n"
		"tenant = ci\n");
	cr_assert_str_eq(hvp_audit_path(p), "/var/log/hvd/audit.log");
	unsigned loaded = 9, rejected = 9;
	hvp_grant_counts(p, &loaded, &rejected);
	cr_assert_eq(loaded, 0);
	cr_assert_eq(rejected, 0);
	cr_assert_null(hvp_grant_rejected(p, 0));

	struct hvp_identity id = ident(1000, 1000);
	struct hvp_grant_result g = eval(p, &id);
	cr_assert_eq(g.ents, HVP_HYPERVISOR | HVP_NETWORKING);
	cr_assert_str_eq(g.tenant, "ci");
	cr_assert_eq(g.quota.max_vms, 32);
	cr_assert_eq(g.quota.max_memory, 8ull << 30, "tenant inherits [defaults]");
	cr_assert_eq(g.quota.max_rpc_rate, 0);
	cr_assert_eq(g.quota.max_cpu_percent, 150);
	cr_assert_eq(g.quota.max_vcpus, 64, "and the built-in for what neither says");
	cr_assert(strstr(g.reason, "rule dev"), "%s", g.reason);
	hvp_policy_free(p);
}

struct bad_case {
	const char *text;
	const char *msg;        /* after "FILE:" */
};

Test(policy, config_errors_name_the_line)
{
	static const struct bad_case cases[] = {
		{ "[hvd]\naudit = -\nbogus = 1\n", "3: unknown key bogus in [hvd]" },
		{ "[rule a]\nuid = 1\nmax_vms = 3\n", "3: unknown key max_vms in [rule a]" },
		{ "\n[frobnicate]\nx = 1\n", "2: unknown section [frobnicate]" },
		{ "[defaults]\nmax_vms = 12x\n", "2: max_vms: bad number '12x'" },
		{ "[defaults]\nmax_vms = -1\n", "2: max_vms: bad number '-1'" },
		{ "[defaults]\nmax_vcpus = 4294967296\n", "2: max_vcpus: 4294967296 is out of range" },
		{ "[defaults]\nmax_cpu_percent = 409601\n", "2: max_cpu_percent: 409601 is out of range" },
		{ "[defaults]\nmax_memory = 4X\n", "2: max_memory: bad number '4X'" },
		{ "[defaults]\nmax_memory = 99999999999T\n", "2: max_memory: 99999999999T is out of range" },
		{ "[rule a]\nuid = 1\ntenant = nope\n", "3: unknown tenant nope" },
		{ "[hvd]\ntrusted_key = abcd\n", "2: trusted_key: expected 64 hex digits" },
		{ "[hvd]\ntrusted_key = "
		  "zz00000000000000000000000000000000000000000000000000000000000000\n",
		  "2: trusted_key: expected 64 hex digits" },
		{ "[rule a]\nuid = 1\n\n[rule a]\nuid = 2\n", "4: duplicate rule a (first at line 1)" },
		{ "[tenant t]\nmax_vms = 1\n[tenant t]\nmax_vms = 2\n",
		  "3: duplicate tenant t (first at line 1)" },
		{ "[hvd]\naudit = -\n[hvd]\naudit = x\n", "3: duplicate section [hvd]" },
		{ "[rule a]\nuid = 1\n\n[rule lonely]\nentitlements = com.apple.security.hypervisor\n",
		  "4: rule lonely has no uid, user or group: it would match nobody" },
		{ "audit = -\n", "1: key audit outside any section" },
		{ "[rule a]\nuid = 1\nuser = root\n", "3: rule a: uid and user both given" },
		{ "[rule a]\nuid = 1\nuid = 2\n", "3: uid given twice in [rule a]" },
		{ "[rule a]\nuid = one\n", "2: uid: bad number 'one'" },
		{ "[rule a]\nuser = no-such-user-hvp\n", "2: user: unknown user no-such-user-hvp" },
		{ "[rule a]\ngroup = no-such-group-hvp\n", "2: group: unknown group no-such-group-hvp" },
		{ "[hvd]\nadmin_group = no-such-group-hvp\n",
		  "2: admin_group: unknown group no-such-group-hvp" },
		{ "[rule]\nuid = 1\n", "1: section [rule] needs a name: [rule NAME]" },
		{ "[rule a b]\nuid = 1\n", "1: bad rule name 'a b'" },
		{ "[defaults]\n[hvd]\naudit = -\n", "1: section has no keys" },
		{ "[hvd]\naudit = -\n[rule a]\n", "3: section has no keys" },
		{ "[hvd]\naudit = -\nthis line has no equals sign\n", "3: syntax error" },
		{ "[hvd]\naudit = -\n  [rule a]\n", "3: indented section header" },
		{ "[hvd]\naudit = -\n[rule a\nuid = 1\n", "3: section header without ]" },
		{ "[rule abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij]\nuid = 1\n",
		  "1: section name longer than 49 characters" },
		{ "[hvd]\naudit =\n", "2: audit: empty value" },
		{ "[hvd]\ngrants = does-not-exist\n", "2: grants: " },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hvp_policy *p;
		char want[256];
		err[0] = '\0';
		int r = load(cases[i].text, &p);
		cr_expect_eq(r, -EINVAL, "case %zu: %d", i, r);
		cr_expect_null(p, "case %zu", i);
		snprintf(want, sizeof(want), "%s:%s", conf_path(), cases[i].msg);
		cr_expect(strncmp(err, want, strlen(want)) == 0, "case %zu:\n got  %s\n want %s", i,
			  err, want);
		hvp_policy_free(p);
	}
}

Test(policy, config_long_line_refused)
{
	char text[512];
	struct hvp_policy *p;
	char want[160];

	snprintf(text, sizeof(text), "[rule a]\nuid = 1\nentitlements = %0300d\n", 0);
	cr_assert_eq(load(text, &p), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: line longer than", conf_path());
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
}

Test(policy, config_missing_file)
{
	struct hvp_policy *p = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	cr_assert_eq(hvp_policy_load(path, 0, &p, err, sizeof(err)), -ENOENT);
	cr_assert_null(p);
	cr_assert(strstr(err, "nope.conf"), "%s", err);
}

Test(policy, memory_suffixes)
{
	static const struct {
		const char *v;
		uint64_t bytes;
	} cases[] = {
		{ "4096", 4096 }, { "4K", 4096 }, { "3M", 3ull << 20 }, { "64G", 64ull << 30 },
		{ "2T", 2ull << 40 }, { "1g", 1ull << 30 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[defaults]\nmax_memory = %s\n", cases[i].v);
		struct hvp_policy *p = load_ok(text);
		struct hvp_identity id = ident(5, 5);
		struct hvp_grant_result g = eval(p, &id);
		cr_expect_eq(g.quota.max_memory, cases[i].bytes, "%s", cases[i].v);
		hvp_policy_free(p);
	}
}

/* ---- rules ---- */

static const char rules_conf[] =
	"[rule by-uid]\n"
	"uid = 1000\n"
	"entitlements = com.apple.security.hypervisor\n"
	"[rule by-user]\n"
	"user = root\n"
	"entitlements = com.apple.vm.device-access\n"
	"[rule by-group]\n"
	"group = 2000\n"
	"entitlements = com.apple.vm.networking\n";

Test(policy, rule_matches_uid)
{
	struct hvp_policy *p = load_ok(rules_conf);
	struct hvp_identity id = ident(1000, 1000);
	cr_assert_eq(eval(p, &id).ents, HVP_HYPERVISOR);
	id = ident(1001, 1001);
	struct hvp_grant_result g = eval(p, &id);
	cr_assert_eq(g.ents, 0);
	cr_assert_str_eq(g.reason, "no rule or grant applies");
	hvp_policy_free(p);
}

Test(policy, rule_matches_user_name)
{
	struct hvp_policy *p = load_ok(rules_conf);
	struct hvp_identity id = ident(0, 0);
	cr_assert_eq(eval(p, &id).ents, HVP_DEVICE_ACCESS);
	hvp_policy_free(p);
}

Test(policy, rule_matches_primary_group)
{
	struct hvp_policy *p = load_ok(rules_conf);
	struct hvp_identity id = ident(3000, 2000);
	cr_assert_eq(eval(p, &id).ents, HVP_NETWORKING);
	hvp_policy_free(p);
}

Test(policy, rule_matches_supplementary_group)
{
	struct hvp_policy *p = load_ok(rules_conf);
	struct hvp_identity id = ident(3000, 3000);
	id.groups[0] = 10;
	id.groups[1] = 2000;
	id.ngroups = 2;
	cr_assert_eq(eval(p, &id).ents, HVP_NETWORKING);
	id.ngroups = 1;         /* only what the kernel reported counts */
	cr_assert_eq(eval(p, &id).ents, 0);
	hvp_policy_free(p);
}

Test(policy, rule_with_user_and_group_needs_both)
{
	struct hvp_policy *p = load_ok("[rule both]\nuid = 7\ngroup = 70\n"
				       "entitlements = com.apple.security.hypervisor\n");
	struct hvp_identity id = ident(7, 7);
	cr_assert_eq(eval(p, &id).ents, 0);
	id.gid = 70;
	cr_assert_eq(eval(p, &id).ents, HVP_HYPERVISOR);
	id = ident(8, 70);
	cr_assert_eq(eval(p, &id).ents, 0);
	hvp_policy_free(p);
}

Test(policy, entitlements_are_the_union_of_matching_rules)
{
	struct hvp_policy *p = load_ok(rules_conf);
	struct hvp_identity id = ident(1000, 1000);
	id.groups[0] = 2000;
	id.ngroups = 1;
	struct hvp_grant_result g = eval(p, &id);
	cr_assert_eq(g.ents, HVP_HYPERVISOR | HVP_NETWORKING);
	cr_assert(strstr(g.reason, "rule by-uid: com.apple.security.hypervisor"), "%s", g.reason);
	cr_assert(strstr(g.reason, "rule by-group: com.apple.vm.networking"), "%s", g.reason);
	cr_assert_null(strstr(g.reason, "by-user"), "%s", g.reason);
	hvp_policy_free(p);
}

Test(policy, unknown_entitlements_kept_not_granted)
{
	struct hvp_policy *p = load_ok(
		"[rule a]\nuid = 5\n"
		"entitlements = com.example.teleport com.apple.security.hypervisor,"
		"com.apple.security.app-sandbox\n"
		"  com.example.teleport\n"     /* a continuation line, and a repeat */
		"[rule b]\nuid = 5\nentitlements = com.example.teleport\n");
	struct hvp_identity id = ident(5, 5);
	struct hvp_grant_result g = eval(p, &id);
	cr_assert_eq(g.ents, HVP_HYPERVISOR, "only known names become bits");
	cr_assert_eq(g.nunknown, 2);
	cr_assert_str_eq(g.unknown[0], "com.example.teleport");
	cr_assert_str_eq(g.unknown[1], "com.apple.security.app-sandbox");
	cr_assert(strstr(g.reason, "com.example.teleport (unknown)"), "%s", g.reason);
	hvp_policy_free(p);
}

/* ---- tenants and quotas ---- */

Test(policy, tenant_and_quota_resolution)
{
	struct hvp_policy *p = load_ok(
		"[rule plain]\nuid = 1\nentitlements = com.apple.security.hypervisor\n"
		"[rule first]\ngroup = 100\ntenant = alpha\n"
		"[rule second]\ngroup = 101\ntenant = beta\n"
		"[tenant alpha]\nmax_vms = 2\n"
		"[tenant beta]\nmax_vms = 3\nmax_memory = 1G\n"
		"[defaults]\nmax_vms = 5\nmax_memory = 2G\n");
	struct hvp_identity id = ident(1, 1);
	struct hvp_grant_result g = eval(p, &id);
	cr_assert_str_eq(g.tenant, "uid:1");
	cr_assert_eq(g.quota.max_vms, 5, "[defaults] when there is no tenant");
	cr_assert_eq(g.quota.max_memory, 2ull << 30);
	cr_assert_eq(g.quota.max_mappings, 4096, "built-in where [defaults] is silent");

	id.groups[0] = 101;
	id.groups[1] = 100;
	id.ngroups = 2;
	g = eval(p, &id);
	cr_assert_str_eq(g.tenant, "alpha", "the first matching rule that names a tenant");
	cr_assert_eq(g.quota.max_vms, 2);
	cr_assert_eq(g.quota.max_memory, 2ull << 30, "[defaults] fills the rest");

	id.ngroups = 1;
	g = eval(p, &id);
	cr_assert_str_eq(g.tenant, "beta");
	cr_assert_eq(g.quota.max_vms, 3);
	cr_assert_eq(g.quota.max_memory, 1ull << 30);
	hvp_policy_free(p);
}

Test(policy, builtin_quota_without_defaults)
{
	struct hvp_policy *p = load_ok("[rule a]\nuid = 9\n");
	struct hvp_identity id = ident(9, 9);
	struct hvp_grant_result g = eval(p, &id);
	cr_assert_eq(g.quota.max_vms, 8);
	cr_assert_eq(g.quota.max_vcpus_per_vm, 16);
	cr_assert_eq(g.quota.max_vcpus, 64);
	cr_assert_eq(g.quota.max_memory, 64ull << 30);
	cr_assert_eq(g.quota.max_mappings, 4096);
	cr_assert_eq(g.quota.max_rpc_rate, 100000);
	cr_assert_eq(g.quota.max_cpu_percent, 0, "CPU is unlimited unless a quota says otherwise");
	cr_assert_eq(g.ents, 0);
	cr_assert(strstr(g.reason, "rule a: no entitlements"), "%s", g.reason);
	hvp_policy_free(p);
}

Test(policy, quota_vm_boundary)
{
	struct hvp_quota q = { .max_vms = 3 };
	struct hvp_usage u = { .vms = 2 };
	char why[128] = "";
	cr_assert_eq(hvp_check_vm(&q, &u, why, sizeof(why)), 0, "the third VM fits");
	u.vms = 3;
	cr_assert_eq(hvp_check_vm(&q, &u, why, sizeof(why)), -EDQUOT);
	cr_assert(strstr(why, "max_vms 3"), "%s", why);
}

Test(policy, quota_vcpu_boundary)
{
	struct hvp_quota q = { .max_vcpus_per_vm = 4, .max_vcpus = 6 };
	struct hvp_usage u = { .vcpus = 5 };
	char why[128] = "";
	cr_assert_eq(hvp_check_vcpu(&q, &u, 3, why, sizeof(why)), 0);
	cr_assert_eq(hvp_check_vcpu(&q, &u, 4, why, sizeof(why)), -EDQUOT);
	cr_assert(strstr(why, "max_vcpus_per_vm 4"), "%s", why);
	u.vcpus = 6;
	cr_assert_eq(hvp_check_vcpu(&q, &u, 0, why, sizeof(why)), -EDQUOT);
	cr_assert(strstr(why, "max_vcpus 6"), "%s", why);
}

Test(policy, quota_map_boundary)
{
	struct hvp_quota q = { .max_memory = 1 << 20, .max_mappings = 2 };
	struct hvp_usage u = { .memory = 512 << 10, .mappings = 1 };
	char why[128] = "";
	cr_assert_eq(hvp_check_map(&q, &u, 512 << 10, why, sizeof(why)), 0, "exactly at the limit");
	cr_assert_eq(hvp_check_map(&q, &u, (512 << 10) + 1, why, sizeof(why)), -EDQUOT);
	cr_assert(strstr(why, "max_memory 1048576"), "%s", why);
	cr_assert_eq(hvp_check_map(&q, &u, UINT64_MAX, why, sizeof(why)), -EDQUOT,
		     "no wrap-around");
	u.mappings = 2;
	cr_assert_eq(hvp_check_map(&q, &u, 1, why, sizeof(why)), -EDQUOT);
	cr_assert(strstr(why, "max_mappings 2"), "%s", why);
}

Test(policy, token_bucket)
{
	struct hvp_rate r = { 0 };
	const uint64_t t0 = 1000000000ull;
	int ok = 0;

	for (int i = 0; i < 20; i++)
		ok += hvp_rate_take(&r, 10, t0);
	cr_assert_eq(ok, 10, "a burst of one second's worth");
	cr_assert(!hvp_rate_take(&r, 10, t0 + 50000000), "half a token is not a token");
	cr_assert(hvp_rate_take(&r, 10, t0 + 100000000), "one token back after 100 ms");
	cr_assert(!hvp_rate_take(&r, 10, t0 + 100000000));
	ok = 0;
	for (int i = 0; i < 50; i++)
		ok += hvp_rate_take(&r, 10, t0 + 60ull * 1000000000);
	cr_assert_eq(ok, 10, "an idle minute banks one second, no more");
	cr_assert(hvp_rate_take(&r, 0, t0), "0 means unlimited");
}

/* ---- default policy and administrators ---- */

Test(policy, builtin_default)
{
	struct hvp_policy *p;
	cr_assert_eq(hvp_policy_default(1234, &p), 0);
	struct hvp_identity root = ident(0, 0), self = ident(1234, 1234), other = ident(99, 99);
	struct hvp_grant_result g = eval(p, &root);
	cr_assert_eq(g.ents, HVP_HYPERVISOR);
	cr_assert_str_eq(g.tenant, "uid:0");
	cr_assert_eq(g.quota.max_vms, 8);
	g = eval(p, &self);
	cr_assert_eq(g.ents, HVP_HYPERVISOR);
	cr_assert_str_eq(g.tenant, "uid:1234");
	cr_assert_eq(eval(p, &other).ents, 0);
	cr_assert(hvp_is_admin(p, &root));
	cr_assert(!hvp_is_admin(p, &self));
	cr_assert_str_eq(hvp_audit_path(p), "-");
	hvp_policy_free(p);
}

Test(policy, loaded_config_gives_only_what_it_says)
{
	struct hvp_policy *p = load_ok("[hvd]\nadmin_group = 50\n");
	struct hvp_identity root = ident(0, 0), self = ident(4242, 4242);
	cr_assert_eq(eval(p, &root).ents, 0);
	cr_assert_eq(eval(p, &self).ents, 0, "hvd's own uid gets nothing by default");
	cr_assert(hvp_is_admin(p, &root), "root is always an administrator");
	cr_assert(!hvp_is_admin(p, &self));
	struct hvp_identity op = ident(7, 7);
	op.groups[0] = 50;
	op.ngroups = 1;
	cr_assert(hvp_is_admin(p, &op));
	op = ident(7, 50);
	cr_assert(hvp_is_admin(p, &op));
	hvp_policy_free(p);
}

/* ---- grants ---- */

static const char ent_plist[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	"\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	"<plist version=\"1.0\"><dict>\n"
	"<key>com.apple.security.hypervisor</key><true/>\n"
	"<key>com.apple.vm.networking</key><true/>\n"
	"<key>com.apple.vm.device-access</key><false/>\n"
	"</dict></plist>\n";

static char *make_grant(const uint8_t sk[64], const uint8_t hash[32], int64_t uid,
			const char *group, int64_t expires)
{
	char *plist = NULL, *text = NULL;
	cr_assert_eq(hvp_grant_plist(hash, ent_plist, strlen(ent_plist), uid, group, expires,
				     &plist), 0);
	cr_assert_eq(hvp_grant_sign(sk, plist, strlen(plist), &text), 0);
	free(plist);
	return text;
}

Test(policy, grant_sign_verify_round_trip)
{
	uint8_t pk[32], sk[64], hash[32] = { 1, 2, 3 };
	char why[256] = "";

	cr_assert_eq(hvp_keygen(pk, sk), 0);
	char *text = make_grant(sk, hash, -1, NULL, 0);
	cr_assert(strncmp(text, "hvd-grant-v1 ", 13) == 0, "%s", text);
	cr_assert(strstr(text, "<key>executable-blake2b</key>"), "%s", text);
	cr_assert_eq(hvp_grant_verify((const uint8_t (*)[32])pk, 1, text, strlen(text), why,
				      sizeof(why)), 0, "%s", why);
	free(text);
}

Test(policy, grant_tampered_byte_rejected)
{
	uint8_t pk[32], sk[64], hash[32] = { 1 };
	char why[256] = "";

	cr_assert_eq(hvp_keygen(pk, sk), 0);
	char *text = make_grant(sk, hash, -1, NULL, 0);
	/* One hex digit of the executable's hash: still a well-formed grant,
	 * so only the signature can tell. */
	char *h = strstr(text, "<string>");
	cr_assert_not_null(h);
	h[8] = h[8] == '0' ? '1' : '0';
	cr_assert_eq(hvp_grant_verify((const uint8_t (*)[32])pk, 1, text, strlen(text), why,
				      sizeof(why)), -EBADMSG);
	cr_assert(strstr(why, "bad signature"), "%s", why);
	free(text);
}

Test(policy, grant_untrusted_key)
{
	uint8_t pk[32], sk[64], pk2[32], sk2[64], hash[32] = { 1 };
	char why[256] = "";

	cr_assert_eq(hvp_keygen(pk, sk), 0);
	cr_assert_eq(hvp_keygen(pk2, sk2), 0);
	char *text = make_grant(sk2, hash, -1, NULL, 0);
	cr_assert_eq(hvp_grant_verify((const uint8_t (*)[32])pk, 1, text, strlen(text), why,
				      sizeof(why)), -ENOKEY);
	cr_assert(strstr(why, "not trusted"), "%s", why);
	cr_assert_eq(hvp_grant_verify(NULL, 0, text, strlen(text), why, sizeof(why)), -ENOKEY);
	free(text);
}

Test(policy, grant_malformed)
{
	uint8_t pk[32], sk[64];
	char why[256] = "";
	static const char *bad[] = {
		"",
		"hello\n<plist/>",
		"hvd-grant-v1 zz 1234\n<plist/>",
		"hvd-grant-v1 0011223344556677 notbase64!\n<plist/>",
		"hvd-grant-v1 0011223344556677 AAAA\n<plist/>",
	};
	cr_assert_eq(hvp_keygen(pk, sk), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(hvp_grant_verify((const uint8_t (*)[32])pk, 1, bad[i], strlen(bad[i]),
					      why, sizeof(why)), -EBADMSG, "case %zu", i);

	/* Well signed, but not a grant: hvp_grant_sign refuses to make it. */
	char *text = NULL;
	const char *notgrant = "<plist version=\"1.0\"><dict><key>x</key><true/></dict></plist>";
	cr_assert_eq(hvp_grant_sign(sk, notgrant, strlen(notgrant), &text), -EINVAL);
	cr_assert_null(text);
}

Test(policy, grant_plist_from_entitlements)
{
	uint8_t hash[32];
	char *plist = NULL;
	static const char arr[] =
		"<plist version=\"1.0\"><dict><key>com.apple.security.application-groups</key>"
		"<array><string>x</string></array></dict></plist>";

	memset(hash, 0xab, sizeof(hash));
	cr_assert_eq(hvp_grant_plist(hash, ent_plist, strlen(ent_plist), 1000, "kvm",
				     1900000000, &plist), 0);
	cr_assert(strstr(plist, "<key>hvd-grant-version</key>"), "%s", plist);
	cr_assert(strstr(plist, "<string>abababab"), "%s", plist);
	cr_assert(strstr(plist, "<key>uid</key>"), "%s", plist);
	cr_assert(strstr(plist, "<string>kvm</string>"), "%s", plist);
	cr_assert(strstr(plist, "<integer>1900000000</integer>"), "%s", plist);
	free(plist);
	plist = NULL;
	cr_assert_eq(hvp_grant_plist(hash, arr, strlen(arr), -1, NULL, 0, &plist), -EINVAL,
		     "hvd's entitlements are booleans");
	cr_assert_eq(hvp_grant_plist(hash, "junk", 4, -1, NULL, 0, &plist), -EINVAL);
	cr_assert_null(plist);
}

/* A policy with one trusted key and a grants directory holding `n` files. */
struct grant_file {
	const char *name;
	char *text;
};

static struct hvp_policy *load_with_grants(const uint8_t pk[32], struct grant_file *g,
					   size_t n)
{
	char gdir[128], path[256], hex[65], conf[512];

	snprintf(gdir, sizeof(gdir), "%s/grants", dir);
	cr_assert_eq(mkdir(gdir, 0700), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", gdir, g[i].name);
		write_file(path, g[i].text, strlen(g[i].text));
		free(g[i].text);
	}
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	/* A relative directory: relative to the configuration file. */
	snprintf(conf, sizeof(conf), "[hvd]\ntrusted_key = %s\ngrants = grants\n", hex);
	return load_ok(conf);
}

Test(policy, grants_apply_to_their_executable_only)
{
	uint8_t pk[32], sk[64], h1[32], h2[32];
	cr_assert_eq(hvp_keygen(pk, sk), 0);
	crypto_generichash(h1, 32, (const uint8_t *)"one", 3, NULL, 0);
	crypto_generichash(h2, 32, (const uint8_t *)"two", 3, NULL, 0);
	struct grant_file files[] = {
		{ "one.grant", make_grant(sk, h1, -1, NULL, 0) },
		{ "ignored.txt", strdup("not a grant, not a .grant file") },
	};
	struct hvp_policy *p = load_with_grants(pk, files, 2);
	unsigned loaded, rejected;
	hvp_grant_counts(p, &loaded, &rejected);
	cr_assert_eq(loaded, 1);
	cr_assert_eq(rejected, 0);

	struct hvp_identity id = ident(1000, 1000);
	struct hvp_grant_result g = eval(p, &id);
	cr_assert_eq(g.ents, 0, "no hash, no grant");

	memcpy(id.exe_hash, h2, 32);
	id.exe_hash_valid = true;
	g = eval(p, &id);
	cr_assert_eq(g.ents, 0, "another executable");
	cr_assert_str_eq(g.reason, "no rule or grant applies");

	memcpy(id.exe_hash, h1, 32);
	g = eval(p, &id);
	cr_assert_eq(g.ents, HVP_HYPERVISOR | HVP_NETWORKING, "<false/> grants nothing");
	cr_assert(strstr(g.reason, "grant one.grant: com.apple.security.hypervisor "
			 "com.apple.vm.networking"), "%s", g.reason);

	id.exe_hash_valid = false;
	cr_assert_eq(eval(p, &id).ents, 0, "an unverified hash counts for nothing");
	hvp_policy_free(p);
}

Test(policy, grants_refused_with_reasons)
{
	uint8_t pk[32], sk[64], h[32];
	cr_assert_eq(hvp_keygen(pk, sk), 0);
	crypto_generichash(h, 32, (const uint8_t *)"bin", 3, NULL, 0);
	struct grant_file files[] = {
		{ "a-expired.grant", make_grant(sk, h, -1, NULL, 1600000000) },
		{ "b-uid5.grant", make_grant(sk, h, 5, NULL, 0) },
		{ "c-group.grant", make_grant(sk, h, -1, "0", 0) },
		{ "d-future.grant", make_grant(sk, h, 7, NULL, 1800000000) },
	};
	struct hvp_policy *p = load_with_grants(pk, files, 4);
	struct hvp_identity id = ident(7, 7);
	memcpy(id.exe_hash, h, 32);
	id.exe_hash_valid = true;

	struct hvp_grant_result g = eval(p, &id);   /* now = 1700000000 */
	cr_assert_eq(g.ents, HVP_HYPERVISOR | HVP_NETWORKING, "d-future applies");
	cr_assert(strstr(g.reason, "grant a-expired.grant: expired at 2020-09-13T12:26:40Z"),
		  "%s", g.reason);
	cr_assert(strstr(g.reason, "grant b-uid5.grant: for uid 5, not 7"), "%s", g.reason);
	cr_assert(strstr(g.reason, "grant c-group.grant: for group 0, not a member"), "%s",
		  g.reason);
	cr_assert(strstr(g.reason, "grant d-future.grant: com.apple"), "%s", g.reason);

	hvp_evaluate(p, &id, 1800000000, &g);
	cr_assert_eq(g.ents, 0, "expiry is inclusive");
	cr_assert(strstr(g.reason, "grant d-future.grant: expired at"), "%s", g.reason);

	id.groups[0] = 0;
	id.ngroups = 1;
	hvp_evaluate(p, &id, 1700000000, &g);
	cr_assert(strstr(g.reason, "grant c-group.grant: com.apple"), "%s", g.reason);
	hvp_policy_free(p);
}

Test(policy, bad_grants_rejected_at_load)
{
	uint8_t pk[32], sk[64], pk2[32], sk2[64], h[32] = { 9 };
	cr_assert_eq(hvp_keygen(pk, sk), 0);
	cr_assert_eq(hvp_keygen(pk2, sk2), 0);
	char *tampered = make_grant(sk, h, -1, NULL, 0);
	char *t = strstr(tampered, "<true/>");
	cr_assert_not_null(t);
	t[1] = 'T';     /* one byte of the signed plist */
	struct grant_file files[] = {
		{ "forged.grant", make_grant(sk2, h, -1, NULL, 0) },
		{ "good.grant", make_grant(sk, h, -1, NULL, 0) },
		{ "junk.grant", strdup("not a grant at all\n") },
		{ "tampered.grant", tampered },
		{ "unknown-group.grant", make_grant(sk, h, -1, "no-such-group-hvp", 0) },
	};
	struct hvp_policy *p = load_with_grants(pk, files, 5);
	unsigned loaded, rejected;
	hvp_grant_counts(p, &loaded, &rejected);
	cr_assert_eq(loaded, 1);
	cr_assert_eq(rejected, 4);
	cr_assert(strstr(hvp_grant_rejected(p, 0), "forged.grant: signed by key"),
		  "%s", hvp_grant_rejected(p, 0));
	cr_assert(strstr(hvp_grant_rejected(p, 1), "junk.grant: malformed"),
		  "%s", hvp_grant_rejected(p, 1));
	cr_assert(strstr(hvp_grant_rejected(p, 2), "tampered.grant: bad signature"),
		  "%s", hvp_grant_rejected(p, 2));
	cr_assert(strstr(hvp_grant_rejected(p, 3), "unknown-group.grant: group"),
		  "%s", hvp_grant_rejected(p, 3));
	cr_assert_null(hvp_grant_rejected(p, 4));
	hvp_policy_free(p);
}

/* ---- hashing ---- */

Test(policy, hash_file_matches_one_shot)
{
	char path[128];
	size_t len = 200000;    /* more than one read's worth */
	uint8_t *data = malloc(len), want[32], got[32];

	cr_assert_not_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	snprintf(path, sizeof(path), "%s/blob", dir);
	write_file(path, (const char *)data, len);
	crypto_generichash(want, sizeof(want), data, len, NULL, 0);
	cr_assert_eq(hvp_hash_file(path, got), 0);
	cr_assert_arr_eq(got, want, 32);
	free(data);

	snprintf(path, sizeof(path), "%s/none", dir);
	cr_assert_eq(hvp_hash_file(path, got), -ENOENT);
}

Test(policy, identity_exe_of_self)
{
	struct hvp_hash_cache *c;
	struct hvp_identity id;
	uint8_t want[32];
	char path[4096];
	uint64_t hits, misses;

	cr_assert_eq(hvp_hash_cache_create(&c), 0);
	memset(&id, 0, sizeof(id));
	cr_assert_eq(hvp_hash_file("/proc/self/exe", want), 0);
	cr_assert_eq(hvp_identity_exe(c, getpid(), &id), 0);
	cr_assert(id.exe_hash_valid);
	cr_assert_arr_eq(id.exe_hash, want, 32);
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	cr_assert_gt(n, 0);
	path[n] = '\0';
	cr_assert_str_eq(id.exe, path);

	hvp_hash_cache_stats(c, &hits, &misses);
	cr_assert_eq(hits, 0);
	cr_assert_eq(misses, 1);
	memset(id.exe_hash, 0, sizeof(id.exe_hash));
	cr_assert_eq(hvp_identity_exe(c, getpid(), &id), 0);
	cr_assert_arr_eq(id.exe_hash, want, 32);
	hvp_hash_cache_stats(c, &hits, &misses);
	cr_assert_eq(hits, 1, "the second look is served from the cache");
	cr_assert_eq(misses, 1);

	cr_assert_eq(hvp_identity_exe(NULL, getpid(), &id), 0, "works without a cache");
	cr_assert_arr_eq(id.exe_hash, want, 32);
	hvp_hash_cache_free(c);
}

Test(policy, identity_exe_of_missing_process)
{
	struct hvp_identity id;
	memset(&id, 0, sizeof(id));
	id.exe_hash_valid = true;
	cr_assert_lt(hvp_identity_exe(NULL, 0x7ffffff0, &id), 0);
	cr_assert(!id.exe_hash_valid);
}
