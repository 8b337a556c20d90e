/*
 * hvctl grant sign | verify | show: grants bind Apple-format entitlements to one
 * executable (by BLAKE2b-256), signed with a key hvd trusts. Both work on
 * files only; hvd is not involved until it loads its grants directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* ---- show ---- */

/* A grant file as hvd would read it, refusing early what is not one: not
 * blocking on a FIFO, not reading a device or a huge file. */
static int read_grant(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		hvctl_err("grant show", "%s: %s — check the path", path, strerror(errno));
		return HVCTL_EXIT_FAILED;
	}
	if (fstat(fd, &st) < 0) {
		hvctl_err("grant show", "%s: %s", path, strerror(errno));
		close(fd);
		return HVCTL_EXIT_FAILED;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PLIST_MAX) {
		hvctl_err("grant show", "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" :
			  !S_ISREG(st.st_mode) ? "not a regular file — give a .grant file" :
			  "too large for a grant (at most 64 KiB) — is it the right file?");
		close(fd);
		return HVCTL_EXIT_FAILED;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		hvctl_err("grant show", "out of memory");
		close(fd);
		return HVCTL_EXIT_FAILED;
	}
	/* Up to the size fstat gave and no further: a file that grows
	 * meanwhile is read as it was. */
	while (n < (size_t)st.st_size) {
		ssize_t got = read(fd, buf + n, (size_t)st.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			hvctl_err("grant show", "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return HVCTL_EXIT_FAILED;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return HVCTL_EXIT_OK;
}

static const char usage_show[] = "grant show [--config FILE] [--json] FILE";

static int grant_show(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	bool json = false;
	struct hvp_grant_info gi;
	struct hvp_policy *p = NULL;
	char why[512], verr[512], hex[2 * HVP_HASH_BYTES + 1];
	char *text = NULL;
	size_t len;
	int c, r, vr = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'j': json = true; break;
		case 'h':
			printf("Usage: hvctl %s\n", usage_show);
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("grant show", "%s needs an argument", argv[optind - 1]);
		default:
			return hvctl_usage("grant show", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return hvctl_usage("grant show", "which grant? Give the FILE to show");
	if (optind + 1 < argc)
		return hvctl_usage("grant show", "unexpected argument '%s'", argv[optind + 1]);
	const char *path = argv[optind];
	if ((r = read_grant(path, &text, &len)) != HVCTL_EXIT_OK)
		return r;
	why[0] = '\0';
	if (hvp_grant_inspect(text, len, &gi, why, sizeof(why)) < 0) {
		hvctl_err("grant show", "%s: %s — not a grant 'hvctl grant sign' wrote, or "
			  "damaged (truncated?)", path, why[0] ? why : "malformed");
		free(text);
		return HVCTL_EXIT_FAILED;
	}
	if (config) {
		char err[1024];
		if (hvp_policy_load(config, getuid(), &p, err, sizeof(err)) < 0) {
			hvctl_err("grant show", "%s — 'hvctl policy check %s' says more", err,
				  config);
			free(text);
			return HVCTL_EXIT_FAILED;
		}
		verr[0] = '\0';
		vr = hvp_policy_grant_verify(p, text, len, verr, sizeof(verr));
		hvp_policy_free(p);
	}
	free(text);
	sodium_bin2hex(hex, sizeof(hex), gi.hash, sizeof(gi.hash));
	bool expired = gi.expires && gi.expires <= (int64_t)time(NULL);

	if (json) {
		json_object *o = json_object_new_object();
		json_object *ents = json_object_new_array();
		json_object *unk = json_object_new_array();
		if (!o || !ents || !unk) {
			json_object_put(o);
			json_object_put(ents);
			json_object_put(unk);
			return hvctl_json_print(NULL);
		}
		hvctl_json_str(o, "file", path);
		hvctl_json_str(o, "key_id", gi.key_id);
		hvctl_json_str(o, "executable_blake2b", hex);
		if (gi.has_uid)
			hvctl_json_u64(o, "uid", gi.uid);
		else
			json_object_object_add(o, "uid", NULL);
		if (gi.has_group)
			hvctl_json_str(o, "group", gi.group);
		else
			json_object_object_add(o, "group", NULL);
		if (gi.expires)
			hvctl_json_i64(o, "expires", gi.expires);
		else
			json_object_object_add(o, "expires", NULL);
		hvctl_json_bool(o, "expired", expired);
		for (unsigned i = 0; i < gi.nents; i++)
			json_object_array_add(ents, json_object_new_string(gi.ents[i]));
		for (unsigned i = 0; i < gi.nunknown; i++)
			json_object_array_add(unk, json_object_new_string(gi.unknown[i]));
		json_object_object_add(o, "entitlements", ents);
		json_object_object_add(o, "unknown_entitlements", unk);
		if (config) {
			hvctl_json_str(o, "config", config);
			hvctl_json_bool(o, "verified", vr == 0);
			if (vr < 0)
				hvctl_json_str(o, "verify_error", verr);
		} else {
			json_object_object_add(o, "verified", NULL);
		}
		r = hvctl_json_print(o);
	} else {
		char when[64] = "";
		struct tm tm;
		time_t t = (time_t)gi.expires;
		hvctl_kv("grant", "%s", path);
		hvctl_kv("executable", "BLAKE2b-256 %s", hex);
		if (gi.has_uid)
			hvctl_kv("uid", "%u", gi.uid);
		else
			hvctl_kv("uid", "any");
		hvctl_kv("group", "%s", gi.has_group ? gi.group : "any");
		if (gi.expires && gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		if (gi.expires)
			hvctl_kv("expires", "%s (%" PRId64 ")%s", when, gi.expires,
				 expired ? ", EXPIRED: hvd ignores it" : "");
		else
			hvctl_kv("expires", "never");
		if (!gi.nents)
			hvctl_kv("entitlements", "none");
		for (unsigned i = 0; i < gi.nents; i++)
			hvctl_kv(i ? "" : "entitlements", "%s", gi.ents[i]);
		for (unsigned i = 0; i < gi.nunknown; i++)
			hvctl_kv(i ? "" : "unknown (ignored)", "%s", gi.unknown[i]);
		hvctl_kv("signed by key", "%s", gi.key_id);
		if (!config)
			hvctl_kv("signature", "not checked (give --config hvd.conf to check it "
				 "against its trusted keys)");
		else if (vr == 0)
			hvctl_kv("signature", "good: key trusted by %s", config);
		else
			hvctl_kv("signature", "BAD against %s: %s", config, verr);
		r = HVCTL_EXIT_OK;
	}
	/* Asked whether it verifies, the answer is the exit status too. */
	if (r == HVCTL_EXIT_OK && config && vr < 0)
		r = HVCTL_EXIT_FAILED;
	return r;
}

int hvctl_cmd_grant(int argc, char *argv[], struct hvctl *ctx)
{
	(void)ctx;
	if (argc < 2)
		return hvctl_usage("grant", "expected sign, verify or show");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("Usage: hvctl %s\n       hvctl grant verify --pub NAME.pub FILE\n"
		       "       hvctl %s\n", usage_sign, usage_show);
		return HVCTL_EXIT_OK;
	}
	optind = 0;
	if (strcmp(argv[1], "sign") == 0)
		return grant_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return grant_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return grant_show(argc - 1, argv + 1);
	return hvctl_usage("grant", "unknown verb '%s'; expected sign, verify or show",
			   argv[1]);
}
