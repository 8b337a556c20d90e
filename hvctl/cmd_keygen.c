/*
 * hvctl keygen --out NAME: an Ed25519 key pair for signing grants.
 * NAME.key holds the secret key (hex, mode 0600), NAME.pub the public key
 * (hex, the value of hvd.conf's trusted_key). Neither file is ever
 * overwritten: losing a key in use is worse than an error.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvp.h"
#include "out.h"
#include "subcommands.h"

int hvctl_cmd_keygen(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	uint8_t pk[32], sk[64];
	char sk_hex[2 * sizeof(sk) + 2], pk_hex[2 * sizeof(pk) + 2];
	char *key_path = NULL, *pub_path = NULL;
	int c, r;

	(void)ctx;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			name = optarg;
			break;
		case 'h':
			printf("Usage: hvctl %s\n", hvctl_usage_of("keygen"));
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("keygen", "%s needs an argument", argv[optind - 1]);
		default:
			return hvctl_usage("keygen", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!name || !*name)
		return hvctl_usage("keygen", "where to? Give --out NAME (writes NAME.key "
				   "and NAME.pub)");
	if (optind < argc)
		return hvctl_usage("keygen", "unexpected argument '%s'", argv[optind]);
	if (asprintf(&key_path, "%s.key", name) < 0)
		key_path = NULL;
	if (asprintf(&pub_path, "%s.pub", name) < 0)
		pub_path = NULL;
	if (!key_path || !pub_path) {
		hvctl_err("keygen", "out of memory");
		r = HVCTL_EXIT_FAILED;
		goto out_free;
	}
	if (hvp_keygen(pk, sk) < 0) {
		hvctl_err("keygen", "libsodium could not make a key — check that the "
			  "system's random source works");
		r = HVCTL_EXIT_FAILED;
		goto out_free;
	}
	sodium_bin2hex(sk_hex, sizeof(sk_hex) - 1, sk, sizeof(sk));
	sodium_bin2hex(pk_hex, sizeof(pk_hex) - 1, pk, sizeof(pk));
	strcat(sk_hex, "\n");
	strcat(pk_hex, "\n");

	r = hvctl_write_file("keygen", key_path, sk_hex, strlen(sk_hex), 0600, true);
	if (r != HVCTL_EXIT_OK)
		goto out_wipe;
	r = hvctl_write_file("keygen", pub_path, pk_hex, strlen(pk_hex), 0644, true);
	if (r != HVCTL_EXIT_OK) {
		/* Half a pair is no use: take the secret back. */
		unlink(key_path);
		goto out_wipe;
	}
	pk_hex[2 * sizeof(pk)] = '\0';
	printf("%s: secret key (mode 0600): it signs grants, keep it off shared hosts\n"
	       "%s: public key, id %.16s: put it under [hvd] in hvd.conf as\n"
	       "  trusted_key = %s\n", key_path, pub_path, pk_hex, pk_hex);
out_wipe:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(sk_hex, sizeof(sk_hex));
out_free:
	free(key_path);
	free(pub_path);
	return r;
}
