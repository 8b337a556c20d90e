/*
 * Grants: Apple-format entitlements bound to an executable's hash, signed
 * with an Ed25519 key the administrator trusts. The file is one header line
 * "hvd-grant-v1 <key-id> <signature>" and then the XML plist exactly as
 * signed, so a grant can be read (and diffed) without tools and checked
 * without re-serialising anything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <plist/plist.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvp_grant.h"
#include "hvp_names.h"
#include "hvp_priv.h"

#define MAGIC "hvd-grant-v1 "
#define KEY_ID_BYTES 8
#define GRANT_VERSION 1
/* Far above any real grant; stops a stray large file from being read. */
#define GRANT_MAX_BYTES (64 * 1024)

#define K_VERSION "hvd-grant-version"
#define K_HASH "executable-blake2b"
#define K_UID "uid"
#define K_GROUP "group"
#define K_EXPIRES "expires"
#define K_ENTS "entitlements"

int hvp_keygen(uint8_t pk[32], uint8_t sk[64])
{
	if (sodium_init() < 0)
		return -EIO;
	if (crypto_sign_keypair(pk, sk) != 0)
		return -EIO;
	return 0;
}

/* ---- the signed content ---- */


/*
 * libplist (2.2) asserts, and so would abort hvd, on strings and keys with
 * an embedded NUL. XML plists are text: refuse NUL bytes and character
 * references to U+0000 before parsing, so no such string can arise.
 */
static bool plist_text_safe(const char *buf, size_t len)
{
	if (memchr(buf, 0, len))
		return false;
	for (size_t i = 0; i + 2 < len; i++) {
		if (buf[i] != '&' || buf[i + 1] != '#')
			continue;
		size_t j = i + 2;
		if (j < len && (buf[j] == 'x' || buf[j] == 'X'))
			j++;
		size_t zeros = 0;
		while (j < len && buf[j] == '0') {
			j++;
			zeros++;
		}
		if (zeros && j < len && buf[j] == ';')
			return false;
	}
	return true;
}

static bool is_type(plist_t node, plist_type type)
{
	return node && plist_get_node_type(node) == type;
}

/* An entitlements dict in Apple's format: name -> boolean. */
static int parse_ents(plist_t dict, struct hvp__ents *e, char *why, size_t whylen)
{
	plist_dict_iter it = NULL;
	char *key = NULL;
	plist_t val = NULL;
	int r = 0;

	plist_dict_new_iter(dict, &it);
	if (!it) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		plist_dict_next_item(dict, it, &key, &val);
		if (!key)
			break;
		if (!is_type(val, PLIST_BOOLEAN)) {
			snprintf(why, whylen, "malformed: entitlement %s is not a boolean", key);
			r = -EBADMSG;
		} else {
			uint8_t b = 0;
			plist_get_bool_val(val, &b);
			if (b) {
				r = e ? hvp__ents_add(e, key) : 0;
				if (r == -ENAMETOOLONG)
					snprintf(why, whylen, "malformed: entitlement name too long");
				else if (r == -E2BIG)
					snprintf(why, whylen, "malformed: more than %d unknown "
						 "entitlements", HVP__MAX_UNKNOWN);
				if (r < 0)
					r = -EBADMSG;
			}
		}
		free(key);
		key = NULL;
		if (r < 0)
			break;
	}
	free(it);
	return r;
}

/* Check the signed plist of a grant and fill `g` from it (if not NULL).
 * Unknown keys are refused: a later version may add a restriction, and a
 * grant read as if the restriction were not there would give too much. */
static int parse_body(const char *body, size_t len, struct hvp__grant *g, char *why,
		      size_t whylen)
{
	struct hvp__grant tmp;
	plist_t root = NULL;
	plist_dict_iter it = NULL;
	char *key = NULL;
	plist_t val = NULL;
	bool have_version = false, have_hash = false, have_ents = false;
	int r = -EBADMSG;

	memset(&tmp, 0, sizeof(tmp));
	if (len == 0 || len > GRANT_MAX_BYTES) {
		snprintf(why, whylen, "malformed: no plist or too large");
		return -EBADMSG;
	}
	if (plist_text_safe(body, len))
		plist_from_xml(body, (uint32_t)len, &root);
	if (!is_type(root, PLIST_DICT)) {
		snprintf(why, whylen, "malformed: not an XML plist with a dict");
		goto out_free;
	}
	plist_dict_new_iter(root, &it);
	if (!it) {
		snprintf(why, whylen, "out of memory");
		r = -ENOMEM;
		goto out_free;
	}
	for (;;) {
		uint64_t u = 0;
		plist_dict_next_item(root, it, &key, &val);
		if (!key)
			break;
		if (strcmp(key, K_VERSION) == 0) {
			if (is_type(val, PLIST_UINT))
				plist_get_uint_val(val, &u);
			if (u != GRANT_VERSION) {
				snprintf(why, whylen, "malformed: %s is not %d", K_VERSION,
					 GRANT_VERSION);
				goto out_free;
			}
			have_version = true;
		} else if (strcmp(key, K_HASH) == 0) {
			char *hex = NULL;
			size_t n = 0;
			const char *end = NULL;
			if (is_type(val, PLIST_STRING))
				plist_get_string_val(val, &hex);
			bool ok = hex && strlen(hex) == 2 * HVP_HASH_BYTES &&
				  sodium_hex2bin(tmp.hash, sizeof(tmp.hash), hex, strlen(hex),
						 NULL, &n, &end) == 0 &&
				  n == HVP_HASH_BYTES && !*end;
			free(hex);
			if (!ok) {
				snprintf(why, whylen, "malformed: %s is not %d hex digits", K_HASH,
					 2 * HVP_HASH_BYTES);
				goto out_free;
			}
			have_hash = true;
		} else if (strcmp(key, K_UID) == 0) {
			if (!is_type(val, PLIST_UINT)) {
				snprintf(why, whylen, "malformed: %s is not an integer", K_UID);
				goto out_free;
			}
			plist_get_uint_val(val, &u);
			if (u > (uid_t)-2) {
				snprintf(why, whylen, "malformed: %s out of range", K_UID);
				goto out_free;
			}
			tmp.has_uid = true;
			tmp.uid = (uid_t)u;
		} else if (strcmp(key, K_GROUP) == 0) {
			char *s = NULL;
			if (is_type(val, PLIST_STRING))
				plist_get_string_val(val, &s);
			bool ok = s && *s && strlen(s) < sizeof(tmp.group);
			if (ok)
				snprintf(tmp.group, sizeof(tmp.group), "%s", s);
			free(s);
			if (!ok) {
				snprintf(why, whylen, "malformed: %s is not a group name", K_GROUP);
				goto out_free;
			}
			tmp.has_group = true;
		} else if (strcmp(key, K_EXPIRES) == 0) {
			if (!is_type(val, PLIST_UINT)) {
				snprintf(why, whylen, "malformed: %s is not an integer", K_EXPIRES);
				goto out_free;
			}
			/* libplist keeps negative integers as their two's
			 * complement, which lands here as out of range. */
			plist_get_uint_val(val, &u);
			if (u > INT64_MAX) {
				snprintf(why, whylen, "malformed: %s out of range", K_EXPIRES);
				goto out_free;
			}
			tmp.expires = (int64_t)u;
		} else if (strcmp(key, K_ENTS) == 0) {
			if (!is_type(val, PLIST_DICT)) {
				snprintf(why, whylen, "malformed: %s is not a dict", K_ENTS);
				goto out_free;
			}
			r = parse_ents(val, &tmp.ents, why, whylen);
			if (r < 0)
				goto out_free;
			r = -EBADMSG;
			have_ents = true;
		} else {
			snprintf(why, whylen, "malformed: unknown key %s", key);
			goto out_free;
		}
		free(key);
		key = NULL;
	}
	if (!have_version || !have_hash || !have_ents) {
		snprintf(why, whylen, "malformed: missing %s", !have_version ? K_VERSION :
			 !have_hash ? K_HASH : K_ENTS);
		goto out_free;
	}
	if (g) {
		char *file = g->file;
		*g = tmp;
		g->file = file;
	}
	r = 0;

out_free:
	free(key);
	free(it);
	plist_free(root);
	return r;
}

/* ---- signing and verifying ---- */

int hvp_grant_sign(const uint8_t sk[64], const char *plist, size_t len, char **out)
{
	char why[128];
	uint8_t sig[crypto_sign_BYTES];
	char keyid[2 * KEY_ID_BYTES + 1];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char *text;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	/* Signing something hvd would refuse to load helps nobody. */
	r = parse_body(plist, len, NULL, why, sizeof(why));
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	if (crypto_sign_detached(sig, NULL, (const uint8_t *)plist, len, sk) != 0)
		return -EIO;
	/* libsodium's secret key ends with the public key. */
	sodium_bin2hex(keyid, sizeof(keyid), sk + 32, KEY_ID_BYTES);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);

	size_t head = strlen(MAGIC) + strlen(keyid) + 1 + strlen(b64) + 1;
	text = malloc(head + len + 1);
	if (!text)
		return -ENOMEM;
	snprintf(text, head + 1, "%s%s %s\n", MAGIC, keyid, b64);
	memcpy(text + head, plist, len);
	text[head + len] = '\0';
	*out = text;
	return 0;
}

/* The header line: key id and signature; the body is what follows. */
static int parse_header(const char *text, size_t len, uint8_t keyid[KEY_ID_BYTES],
			uint8_t sig[crypto_sign_BYTES], const char **body, size_t *blen,
			char *why, size_t whylen)
{
	size_t n = 0;
	const char *end = NULL;

	if (sodium_init() < 0) {
		snprintf(why, whylen, "libsodium failed to initialise");
		return -EIO;
	}
	const char *nl = memchr(text, '\n', len);
	size_t mlen = strlen(MAGIC);
	if (!nl || (size_t)(nl - text) < mlen || memcmp(text, MAGIC, mlen) != 0) {
		snprintf(why, whylen, "malformed: not an hvd-grant-v1 file");
		return -EBADMSG;
	}
	const char *p = text + mlen;
	if (sodium_hex2bin(keyid, KEY_ID_BYTES, p, (size_t)(nl - p), NULL, &n, &end) != 0 ||
	    n != KEY_ID_BYTES || *end != ' ') {
		snprintf(why, whylen, "malformed: bad key id");
		return -EBADMSG;
	}
	p = end + 1;
	if (sodium_base642bin(sig, crypto_sign_BYTES, p, (size_t)(nl - p), NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != crypto_sign_BYTES || end != nl) {
		snprintf(why, whylen, "malformed: bad signature encoding");
		return -EBADMSG;
	}
	*body = nl + 1;
	*blen = len - (size_t)(*body - text);
	return 0;
}

int hvp__grant_check(const uint8_t (*keys)[32], unsigned nkeys, const char *text,
		     size_t len, struct hvp__grant *g, char *why, size_t whylen)
{
	uint8_t keyid[KEY_ID_BYTES];
	uint8_t sig[crypto_sign_BYTES];
	const char *body;
	size_t blen;
	bool id_known = false;

	int r = parse_header(text, len, keyid, sig, &body, &blen, why, whylen);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < nkeys; i++) {
		if (memcmp(keys[i], keyid, sizeof(keyid)) != 0)
			continue;
		id_known = true;
		if (crypto_sign_verify_detached(sig, (const uint8_t *)body, blen, keys[i]) == 0)
			return parse_body(body, blen, g, why, whylen);
	}
	char hex[2 * KEY_ID_BYTES + 1];
	sodium_bin2hex(hex, sizeof(hex), keyid, sizeof(keyid));
	if (!id_known) {
		snprintf(why, whylen, "signed by key %s, which is not trusted", hex);
		return -ENOKEY;
	}
	snprintf(why, whylen, "bad signature (key %s)", hex);
	return -EBADMSG;
}

int hvp_grant_inspect(const char *text, size_t len, struct hvp_grant_info *out, char *why,
		      size_t whylen)
{
	uint8_t keyid[KEY_ID_BYTES];
	uint8_t sig[crypto_sign_BYTES];
	const char *body;
	size_t blen;
	struct hvp__grant g;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	if (len > GRANT_MAX_BYTES) {
		snprintf(why, whylen, "malformed: larger than %d bytes", GRANT_MAX_BYTES);
		return -EBADMSG;
	}
	int r = parse_header(text, len, keyid, sig, &body, &blen, why, whylen);
	if (r < 0)
		return r;
	r = parse_body(body, blen, &g, why, whylen);
	if (r < 0)
		return r;
	sodium_bin2hex(out->key_id, sizeof(out->key_id), keyid, sizeof(keyid));
	memcpy(out->hash, g.hash, sizeof(out->hash));
	out->has_uid = g.has_uid;
	out->uid = g.uid;
	out->has_group = g.has_group;
	snprintf(out->group, sizeof(out->group), "%s", g.group);
	out->expires = g.expires;
	static const struct { uint32_t bit; const char *name; } known[] = {
		{ HVP_HYPERVISOR, HVP_ENT_HYPERVISOR },
		{ HVP_NETWORKING, HVP_ENT_NETWORKING },
		{ HVP_DEVICE_ACCESS, HVP_ENT_DEVICE_ACCESS },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (g.ents.bits & known[i].bit)
			snprintf(out->ents[out->nents++], HVP_NAME_MAX, "%s", known[i].name);
	for (unsigned i = 0; i < g.ents.nunknown; i++)
		snprintf(out->unknown[out->nunknown++], HVP_NAME_MAX, "%s", g.ents.unknown[i]);
	return 0;
}

int hvp_policy_grant_verify(const struct hvp_policy *p, const char *text, size_t len,
			    char *why, size_t whylen)
{
	if (!p->nkeys) {
		snprintf(why, whylen, "the configuration trusts no key (no trusted_key)");
		return -ENOKEY;
	}
	return hvp__grant_check((const uint8_t (*)[32])p->keys, p->nkeys, text, len, NULL, why,
				whylen);
}

int hvp_grant_verify(const uint8_t (*keys)[32], unsigned nkeys, const char *text,
		     size_t len, char *why, size_t whylen)
{
	return hvp__grant_check(keys, nkeys, text, len, NULL, why, whylen);
}

/* ---- building ---- */

int hvp_grant_plist(const uint8_t hash[HVP_HASH_BYTES], const char *entitlements_plist,
		    size_t ent_len, int64_t uid, const char *group, int64_t expires,
		    char **out)
{
	char hex[2 * HVP_HASH_BYTES + 1];
	char why[128];
	plist_t ents = NULL, root = NULL;
	char *xml = NULL;
	uint32_t xlen = 0;
	int r = -EINVAL;

	if (uid < -1 || uid > (int64_t)(uid_t)-2 || expires < 0 ||
	    (group && (!*group || strlen(group) >= HVP_NAME_MAX)) || ent_len > UINT32_MAX)
		return -EINVAL;
	/* Entitlements files as developers write them for codesign: XML.
	 * (Binary plists are refused: see plist_text_safe.) */
	if (plist_text_safe(entitlements_plist, ent_len))
		plist_from_xml(entitlements_plist, (uint32_t)ent_len, &ents);
	if (!is_type(ents, PLIST_DICT))
		goto out_free;
	/* hvd's entitlements are all booleans: a value of another type means
	 * the file was written for something else. */
	r = parse_ents(ents, NULL, why, sizeof(why));
	if (r < 0) {
		r = r == -ENOMEM ? r : -EINVAL;
		goto out_free;
	}

	r = -ENOMEM;
	root = plist_new_dict();
	if (!root)
		goto out_free;
	sodium_bin2hex(hex, sizeof(hex), hash, HVP_HASH_BYTES);
	plist_dict_set_item(root, K_VERSION, plist_new_uint(GRANT_VERSION));
	plist_dict_set_item(root, K_HASH, plist_new_string(hex));
	if (uid >= 0)
		plist_dict_set_item(root, K_UID, plist_new_uint((uint64_t)uid));
	if (group)
		plist_dict_set_item(root, K_GROUP, plist_new_string(group));
	if (expires > 0)
		plist_dict_set_item(root, K_EXPIRES, plist_new_uint((uint64_t)expires));
	plist_dict_set_item(root, K_ENTS, ents);
	ents = NULL;    /* root owns it now */

	plist_to_xml(root, &xml, &xlen);
	if (!xml)
		goto out_free;
	/* Callers free() what we return, not libplist's buffer. */
	*out = malloc((size_t)xlen + 1);
	if (!*out)
		goto out_free;
	memcpy(*out, xml, xlen);
	(*out)[xlen] = '\0';
	r = 0;

out_free:
	if (xml)
		plist_to_xml_free(xml);
	plist_free(root);
	plist_free(ents);
	return r;
}

/* ---- loading a directory ---- */

static int is_grant_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 6 && strcmp(d->d_name + n - 6, ".grant") == 0;
}

static int read_small_file(const char *path, char **out, size_t *len, char *why,
			   size_t whylen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int r;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "%s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, whylen, "%s", strerror(-r));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > GRANT_MAX_BYTES) {
		snprintf(why, whylen, "not a regular file of at most %d bytes", GRANT_MAX_BYTES);
		r = -EBADMSG;
		goto out_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(why, whylen, "out of memory");
		r = -ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(why, whylen, "%s", strerror(-r));
			goto out_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
	r = 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return r;
}

static int add_rejected(struct hvp_policy *p, const char *path, const char *why)
{
	char **n = realloc(p->rejected, (p->nrejected + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->rejected = n;
	if (asprintf(&p->rejected[p->nrejected], "%s: %s", path, why) < 0)
		return -ENOMEM;
	p->nrejected++;
	return 0;
}

/* One file: into p->grants if good, into p->rejected if not. Only running
 * out of memory is an error. */
static int load_one(struct hvp_policy *p, const char *path, const char *name)
{
	char why[256];
	char *text = NULL;
	size_t len = 0;
	struct hvp__grant g;
	int r;

	memset(&g, 0, sizeof(g));
	r = read_small_file(path, &text, &len, why, sizeof(why));
	if (r == 0)
		r = hvp__grant_check((const uint8_t (*)[32])p->keys, p->nkeys, text, len, &g,
				     why, sizeof(why));
	/* A group is a name on this host: resolve it now, as rules do, so a
	 * grant for a group that does not exist is seen at load time. */
	if (r == 0 && g.has_group && hvp__lookup_group(g.group, &g.gid) < 0) {
		snprintf(why, sizeof(why), "group %s does not exist on this host", g.group);
		r = -EINVAL;
	}
	if (r == -ENOMEM)
		goto out_free;
	if (r < 0) {
		r = add_rejected(p, path, why);
		goto out_free;
	}

	r = -ENOMEM;
	g.file = strdup(name);
	if (!g.file)
		goto out_free;
	struct hvp__grant *n = realloc(p->grants, (p->ngrants + 1) * sizeof(*n));
	if (!n) {
		free(g.file);
		goto out_free;
	}
	p->grants = n;
	p->grants[p->ngrants++] = g;
	r = 0;

out_free:
	free(text);
	return r;
}

int hvp__grants_load(struct hvp_policy *p, const char *dir, char *why, size_t whylen)
{
	struct dirent **names = NULL;
	int r = 0;

	/* Sorted, so reasons and reports list grants in a stable order. */
	int n = scandir(dir, &names, is_grant_file, alphasort);
	if (n < 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", dir, strerror(-r));
		return r;
	}
	for (int i = 0; i < n; i++) {
		char *path = NULL;
		if (r == 0) {
			if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0)
				r = -ENOMEM;
			else
				r = load_one(p, path, names[i]->d_name);
			free(path);
		}
		free(names[i]);
	}
	free(names);
	if (r < 0)
		snprintf(why, whylen, "%s: %s", dir, strerror(-r));
	return r;
}
