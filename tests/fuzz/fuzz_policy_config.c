/*
 * hvd's policy file (policy/hvp_config.c: INI through inih, then grants
 * from the directory it names). The file is the administrator's, so not
 * hostile as such, but hvd parses it as root, on SIGHUP and on request,
 * and must refuse nonsense cleanly. The input is written to hvd.conf in a
 * private temporary directory (created once per process, rewritten each
 * iteration) next to grants/ holding a valid grant signed with the fixed
 * key and a forged one, so that "trusted_key = <fixed key>" and
 * "grants = grants" in an input reach grant loading; a policy that loads
 * is evaluated for fixed identities and its quotas checked.
 */
#include "fuzz_common.h"
#include "fuzz_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char conf[96];
static int conf_fd = -1;

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static void cleanup(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/grants/good.grant", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/grants/forged.grant", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/grants", dir);
	rmdir(path);
	unlink(conf);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	uint8_t pk[32], sk[64], hash[HVP_HASH_BYTES];
	char path[128];
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/hvd-fuzz-policy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	snprintf(conf, sizeof(conf), "%s/hvd.conf", dir);
	snprintf(path, sizeof(path), "%s/grants", dir);
	FUZZ_CHECK(mkdir(path, 0700) == 0);

	/* A grant for the fixed identity's executable. */
	fuzz_keypair(pk, sk);
	fuzz_exe_hash(hash);
	static const char ents[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<plist version=\"1.0\"><dict>"
		"<key>com.apple.vm.networking</key><true/>"
		"<key>com.example.unknown</key><true/>"
		"</dict></plist>\n";
	char *plist = NULL, *grant = NULL;
	FUZZ_CHECK(hvp_grant_plist(hash, ents, sizeof(ents) - 1, -1, NULL, 0, &plist) == 0);
	FUZZ_CHECK(hvp_grant_sign(sk, plist, strlen(plist), &grant) == 0);
	snprintf(path, sizeof(path), "%s/grants/good.grant", dir);
	write_file(path, grant, strlen(grant));
	/* The same grant with its body changed after signing. */
	char *body = strstr(grant, "networking");
	FUZZ_CHECK(body != NULL);
	body[0] = 'N';
	snprintf(path, sizeof(path), "%s/grants/forged.grant", dir);
	write_file(path, grant, strlen(grant));
	free(grant);
	free(plist);

	conf_fd = open(conf, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(conf_fd >= 0);
	atexit(cleanup);
	return 0;
}

static void identity(struct hvp_identity *id, uid_t uid, gid_t gid, bool hashed)
{
	memset(id, 0, sizeof(*id));
	id->pid = 4242;
	id->uid = uid;
	id->gid = gid;
	id->groups[0] = gid;
	id->groups[1] = 27;     /* sudo */
	id->groups[2] = 100;    /* users */
	id->ngroups = 3;
	snprintf(id->exe, sizeof(id->exe), "/usr/bin/qemu-system-x86_64");
	fuzz_exe_hash(id->exe_hash);
	id->exe_hash_valid = hashed;
}

static void evaluate(const struct hvp_policy *p, const struct hvp_identity *id)
{
	struct hvp_grant_result g;
	char why[256];

	memset(&g, 0xa5, sizeof(g));
	hvp_evaluate(p, id, 1700000000, &g);
	FUZZ_CHECK(g.nunknown <= sizeof(g.unknown) / sizeof(g.unknown[0]));
	FUZZ_CHECK(memchr(g.tenant, 0, sizeof(g.tenant)) != NULL);
	FUZZ_CHECK(memchr(g.reason, 0, sizeof(g.reason)) != NULL);
	for (unsigned i = 0; i < g.nunknown; i++)
		FUZZ_CHECK(memchr(g.unknown[i], 0, sizeof(g.unknown[i])) != NULL);
	fuzz_use(g.ents);
	fuzz_use(hvp_is_admin(p, id));

	struct hvp_usage u = { .vms = 1, .vcpus = 3, .memory = 1ull << 30, .mappings = 7 };
	fuzz_use((uint64_t)hvp_check_vm(&g.quota, &u, why, sizeof(why)));
	fuzz_use((uint64_t)hvp_check_vcpu(&g.quota, &u, 2, why, sizeof(why)));
	fuzz_use((uint64_t)hvp_check_map(&g.quota, &u, 1ull << 40, why, sizeof(why)));
	struct hvp_rate rate = { 0 };
	fuzz_use(hvp_rate_take(&rate, g.quota.max_rpc_rate, 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hvp_policy *p = NULL;
	char err[512];

	if (size > 64 * 1024)
		return -1;
	FUZZ_CHECK(ftruncate(conf_fd, 0) == 0);
	FUZZ_CHECK(pwrite(conf_fd, data, size, 0) == (ssize_t)size);

	int r = hvp_policy_load(conf, 1000, &p, err, sizeof(err));
	FUZZ_CHECK(memchr(err, 0, sizeof(err)) != NULL);
	if (r < 0) {
		FUZZ_CHECK(p == NULL);
		/* "FILE:LINE: problem" */
		FUZZ_CHECK(r != -EINVAL || strncmp(err, conf, strlen(conf)) == 0);
		return 0;
	}
	FUZZ_CHECK(p != NULL);

	struct hvp_identity id;
	identity(&id, 1000, 1000, true);
	evaluate(p, &id);
	identity(&id, 0, 0, false);
	evaluate(p, &id);
	identity(&id, 65534, 65534, true);
	evaluate(p, &id);

	fuzz_use_str(hvp_audit_path(p));
	unsigned loaded = 0, rejected = 0;
	hvp_grant_counts(p, &loaded, &rejected);
	for (unsigned i = 0; i < rejected; i++)
		FUZZ_CHECK(hvp_grant_rejected(p, i) != NULL);
	FUZZ_CHECK(hvp_grant_rejected(p, rejected) == NULL);
	fuzz_use(loaded);
	hvp_policy_free(p);
	return 0;
}
