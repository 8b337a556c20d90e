/*
 * Grants (policy/hvp_grant.c). hvd reads every *.grant in the configured
 * directory: untrusted text until the signature checks, then an XML plist
 * parsed with libplist. hvctl builds grants from a developer's
 * entitlements plist (XML or binary). Each input is used three ways:
 *
 *   1. as a grant file, verified against two trusted keys (one of them the
 *      fuzzers' fixed key, so a committed seed signed with it gets through);
 *   2. as the body of a grant signed here with the fixed key, so the plist
 *      parsing behind a valid signature is reached with any content;
 *   3. as the entitlements plist of hvp_grant_plist, and whatever that
 *      builds is signed and verified as a grant again.
 */
#include "fuzz_common.h"
#include "fuzz_keys.h"

#include <errno.h>

static uint8_t keys[2][32];
static uint8_t sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	fuzz_keypair(keys[0], sk);
	fuzz_other_key(keys[1]);
	return 0;
}

static int verify(const char *text, size_t len)
{
	char why[256];
	int r = hvp_grant_verify((const uint8_t (*)[32])keys, 2, text, len, why, sizeof(why));
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOKEY || r == -ENOMEM);
	FUZZ_CHECK(memchr(why, 0, sizeof(why)) != NULL);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* GRANT_MAX_BYTES: hvd reads no larger grant file. */
	if (size > 64 * 1024)
		return -1;

	/* 1. The input as a grant file. hvd reads it NUL-terminated. */
	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	verify(text, size);
	free(text);

	/* 2. The input as the signed body (regression: grant-nul-string in
	 * README.md, a NUL inside a plist string). */
	int r;
	size_t glen;
	char *grant = fuzz_sign(sk, data, size, &glen);
	r = verify(grant, glen);
	FUZZ_CHECK(r != -ENOKEY);
	free(grant);

	/* 3. The input as a developer's entitlements plist (regression:
	 * grant-plist-nul-key in README.md, a NUL inside a dict key). */
	uint8_t hash[HVP_HASH_BYTES];
	fuzz_exe_hash(hash);
	char *ents = malloc(size ? size : 1);
	FUZZ_CHECK(ents != NULL);
	memcpy(ents, data, size);
	char *plist = NULL;
	r = hvp_grant_plist(hash, ents, size, 1000, "fuzz", 4102444800, &plist);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	free(ents);
	if (r == 0) {
		FUZZ_CHECK(plist != NULL);
		/* hvp_grant_sign refuses (-EINVAL) what hvd would not load,
		 * e.g. more unknown entitlements than hvd keeps; what it
		 * signs, hvd must accept. */
		char *signed_text = NULL;
		r = hvp_grant_sign(sk, plist, strlen(plist), &signed_text);
		FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
		if (r == 0) {
			FUZZ_CHECK(verify(signed_text, strlen(signed_text)) == 0);
			free(signed_text);
		}
		free(plist);
	}
	return 0;
}
