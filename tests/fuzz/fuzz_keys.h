/*
 * The fuzzers' fixed Ed25519 key pair (from a fixed seed, so the committed
 * seeds in corpus/ can carry its public key and grants signed with it),
 * and the executable hash the fixed identity runs.
 */
#ifndef HVD_FUZZ_KEYS_H
#define HVD_FUZZ_KEYS_H

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hvp.h"

static inline void fuzz_keypair(uint8_t pk[32], uint8_t sk[64])
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, 0, sizeof(seed));
	memcpy(seed, "hvd fuzz key, never trusted", 27);
	if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0)
		abort();
}

/* A second trusted key nobody signs with: key ids that match neither. */
static inline void fuzz_other_key(uint8_t pk[32])
{
	for (int i = 0; i < 32; i++)
		pk[i] = (uint8_t)(0xa5 ^ i);
}

static inline void fuzz_exe_hash(uint8_t hash[HVP_HASH_BYTES])
{
	for (int i = 0; i < HVP_HASH_BYTES; i++)
		hash[i] = (uint8_t)(0x11 * (i % 16));
}

/* A grant text: "hvd-grant-v1 <key id> <signature>\n" + body, signed with
 * `sk` whatever the body is (hvp_grant_sign refuses bodies hvd would not
 * load; the fuzzers want those signed too). malloc'd, NUL-terminated. */
static inline char *fuzz_sign(const uint8_t sk[64], const void *body, size_t len,
			      size_t *out_len)
{
	uint8_t sig[crypto_sign_BYTES];
	char keyid[17];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];

	crypto_sign_detached(sig, NULL, body, len, sk);
	sodium_bin2hex(keyid, sizeof(keyid), sk + 32, 8);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	size_t head = strlen("hvd-grant-v1 ") + 16 + 1 + strlen(b64) + 1;
	char *text = malloc(head + len + 1);
	if (!text)
		abort();
	memcpy(text, "hvd-grant-v1 ", 13);
	memcpy(text + 13, keyid, 16);
	text[29] = ' ';
	memcpy(text + 30, b64, strlen(b64));
	text[head - 1] = '\n';
	memcpy(text + head, body, len);
	text[head + len] = '\0';
	*out_len = head + len;
	return text;
}

#endif
