/*
 * hvctl grant sign | verify: grants bind Apple-format entitlements to one
 * executable (by BLAKE2b-256), signed with a key hvd trusts. Both work on
 * files only; hvd is not involved until it loads its grants directory.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hvp.h"
#include "out.h"
#include "subcommands.h"

#define KEY_FILE_MAX 4096
/* Entitlements files and grants are small; this stops a wrong file early. */
#define PLIST_MAX (64 * 1024)
#define MAX_PUB 16

/* Read a key file of hex digits (whitespace around them allowed) into
 * `out`, which must be exactly `len` bytes. */
static int read_key(const char *cmd, const char *path, uint8_t *out, size_t len)
{
	char *text;
	size_t n, got = 0;
	const char *end = NULL;
	int r;

	if ((r = hvctl_read_file(cmd, path, KEY_FILE_MAX, &text, &n)) != HVCTL_EXIT_OK)
		return r;
	char *p = text + strspn(text, " \t\r\n");
	n = strlen(p);
	while (n && strchr(" \t\r\n", p[n - 1]))
		p[--n] = '\0';
	if (sodium_hex2bin(out, len, p, n, NULL, &got, &end) != 0 || got != len || *end) {
		if (len == 64 && n == 64)
			hvctl_err(cmd, "%s is a public key — give the secret key (NAME.key) "
				  "from 'hvctl keygen'", path);
		else if (len == 32 && n == 128)
			hvctl_err(cmd, "%s is a secret key — give the public key (NAME.pub); "
				  "and keep the secret one private", path);
		else
			hvctl_err(cmd, "%s: expected %zu hex digits (a key from 'hvctl keygen')",
				  path, 2 * len);
		r = HVCTL_EXIT_FAILED;
	}
	sodium_memzero(text, strlen(text));
	free(text);
	return r;
}

static const char usage_sign[] =
	"grant sign --key NAME.key --exe PATH --entitlements ENT.plist\n"
	"                  [--uid N] [--group G] [--expires UNIXTIME] --out FILE";

static int grant_sign(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "exe", required_argument, NULL, 'e' },
		{ "entitlements", required_argument, NULL, 'E' },
		{ "uid", required_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' },
		{ "expires", required_argument, NULL, 'x' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *exe = NULL, *ents = NULL, *group = NULL, *out = NULL;
	int64_t uid = -1, expires = 0;
	uint64_t v;
	uint8_t sk[64], pk2[32], sk2[64], hash[HVP_HASH_BYTES];
	char *ent_text = NULL, *plist = NULL, *grant = NULL;
	char hex[2 * HVP_HASH_BYTES + 1], id[17];
	size_t ent_len;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'e': exe = optarg; break;
		case 'E': ents = optarg; break;
		case 'g': group = optarg; break;
		case 'o': out = optarg; break;
		case 'u':
			if (!hvctl_parse_u64(optarg, (uid_t)-2, &v))
				return hvctl_usage("grant sign", "--uid %s: expected a numeric uid",
						   optarg);
			uid = (int64_t)v;
			break;
		case 'x':
			if (!hvctl_parse_u64(optarg, INT64_MAX, &v) || v == 0)
				return hvctl_usage("grant sign", "--expires %s: expected seconds "
						   "since the epoch (date +%%s -d 2026-01-01)", optarg);
			expires = (int64_t)v;
			break;
		case 'h':
			printf("Usage: hvctl %s\n", usage_sign);
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("grant sign", "%s needs an argument", argv[optind - 1]);
		default:
			return hvctl_usage("grant sign", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hvctl_usage("grant sign", "unexpected argument '%s'", argv[optind]);
	if (!key || !exe || !ents || !out)
		return hvctl_usage("grant sign", "--%s is required",
				   !key ? "key" : !exe ? "exe" : !ents ? "entitlements" : "out");
	if (group && (!*group || strlen(group) >= HVP_NAME_MAX))
		return hvctl_usage("grant sign", "--group: a name of 1 to %d characters",
				   HVP_NAME_MAX - 1);

	sodium_memzero(sk2, sizeof(sk2));
	if ((r = read_key("grant sign", key, sk, sizeof(sk))) != HVCTL_EXIT_OK)
		return r;
	/* An Ed25519 secret key is seed and public key: check they agree, so
	 * a damaged key file is found now rather than by hvd rejecting the
	 * grant. */
	crypto_sign_seed_keypair(pk2, sk2, sk);
	if (sodium_memcmp(sk2, sk, sizeof(sk)) != 0) {
		hvctl_err("grant sign", "%s is damaged (its halves disagree) — use the "
			  "key from 'hvctl keygen' as written", key);
		r = HVCTL_EXIT_FAILED;
		goto out_wipe;
	}
	if ((r = hvp_hash_file(exe, hash)) < 0) {
		hvctl_err("grant sign", "%s: %s — give the executable the grant is for",
			  exe, strerror(-r));
		r = HVCTL_EXIT_FAILED;
		goto out_wipe;
	}
	if ((r = hvctl_read_file("grant sign", ents, PLIST_MAX, &ent_text, &ent_len)) !=
	    HVCTL_EXIT_OK)
		goto out_wipe;
	r = hvp_grant_plist(hash, ent_text, ent_len, uid, group, expires, &plist);
	if (r < 0) {
		if (r == -ENOMEM)
			hvctl_err("grant sign", "out of memory");
		else
			hvctl_err("grant sign", "%s: not an entitlements plist — it must be a "
				  "dict of boolean entitlements, e.g. <key>%s</key><true/>",
				  ents, HVP_ENT_HYPERVISOR);
		r = HVCTL_EXIT_FAILED;
		goto out_free;
	}
	if (hvp_grant_sign(sk, plist, strlen(plist), &grant) < 0) {
		hvctl_err("grant sign", "signing failed — check the key file %s", key);
		r = HVCTL_EXIT_FAILED;
		goto out_free;
	}
	if ((r = hvctl_write_file("grant sign", out, grant, strlen(grant), 0644, false)) !=
	    HVCTL_EXIT_OK)
		goto out_free;

	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	sodium_bin2hex(id, sizeof(id), sk + 32, 8);
	printf("%s: grant for %s (BLAKE2b-256 %s), signed by key %s\n", out, exe, hex, id);
	/* Not errors (the grant may be meant for another host, or be a test),
	 * but hvd will not honour it here. */
	if (group && !getgrnam(group) && !hvctl_parse_u64(group, UINT32_MAX, &v))
		hvctl_err("grant sign", "warning: no group %s on this host — hvd rejects "
			  "the grant where the group does not exist", group);
	if (expires && expires <= (int64_t)time(NULL))
		hvctl_err("grant sign", "warning: --expires %" PRId64 " is in the past — "
			  "the grant is void already", expires);
out_free:
	free(grant);
	free(plist);
	free(ent_text);
out_wipe:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(sk2, sizeof(sk2));
	return r;
}

static int grant_verify(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "pub", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t keys[MAX_PUB][32];
	unsigned nkeys = 0;
	char why[256];
	char *text;
	size_t len;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (nkeys == MAX_PUB)
				return hvctl_usage("grant verify", "at most %d --pub keys", MAX_PUB);
			if ((r = read_key("grant verify", optarg, keys[nkeys], 32)) !=
			    HVCTL_EXIT_OK)
				return r;
			nkeys++;
			break;
		case 'h':
			printf("Usage: hvctl grant verify --pub NAME.pub [--pub ...] FILE\n");
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("grant verify", "%s needs an argument", argv[optind - 1]);
		default:
			return hvctl_usage("grant verify", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!nkeys)
		return hvctl_usage("grant verify", "which key? Give --pub NAME.pub (the "
				   "trusted_key of hvd.conf)");
	if (optind >= argc)
		return hvctl_usage("grant verify", "which grant? Give the FILE to verify");
	if (optind + 1 < argc)
		return hvctl_usage("grant verify", "unexpected argument '%s'", argv[optind + 1]);

	const char *path = argv[optind];
	if ((r = hvctl_read_file("grant verify", path, PLIST_MAX, &text, &len)) != HVCTL_EXIT_OK)
		return r;
	why[0] = '\0';
	if (hvp_grant_verify((const uint8_t (*)[32])keys, nkeys, text, len, why, sizeof(why)) == 0) {
		printf("%s: OK\n", path);
		r = HVCTL_EXIT_OK;
	} else {
		/* The verdict goes where errors go, so a script that keeps
		 * stdout for good grants is not fooled. */
		fprintf(stderr, "%s: %s\n", path, why[0] ? why : "invalid");
		r = HVCTL_EXIT_FAILED;
	}
	free(text);
	return r;
}

int hvctl_cmd_grant(int argc, char *argv[], struct hvctl *ctx)
{
	(void)ctx;
	if (argc < 2)
		return hvctl_usage("grant", "expected sign or verify");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("Usage: hvctl %s\n       hvctl grant verify --pub NAME.pub FILE\n",
		       usage_sign);
		return HVCTL_EXIT_OK;
	}
	optind = 0;
	if (strcmp(argv[1], "sign") == 0)
		return grant_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return grant_verify(argc - 1, argv + 1);
	return hvctl_usage("grant", "unknown verb '%s'; expected sign or verify", argv[1]);
}
