/*
 * hvctl: the administrator's view of hvd. Global options, then a
 * subcommand from the table in subcommands.h, each in its own file
 * (cmd_<name>.c), the way wireguard-tools' wg dispatches.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hvd_protocol.h"
#include "out.h"
#include "subcommands.h"

#ifndef HVCTL_VERSION
#define HVCTL_VERSION "0.0.0"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[], struct hvctl *ctx);
	const char *usage;
	const char *summary;
} subcommands[] = {
#define HVCTL_ROW(name, usage, summary) { #name, hvctl_cmd_##name, usage, summary },
	HVCTL_SUBCOMMANDS(HVCTL_ROW)
#undef HVCTL_ROW
};

static void help(FILE *f)
{
	fprintf(f, "Usage: hvctl [--socket PATH] COMMAND [ARGS]\n"
		   "       hvctl --help | --version\n\n"
		   "Administer hvd, the Hypervisor.framework service.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		const char *u = subcommands[i].usage;
		/* A usage too long for the column gets a line of its own. */
		if (strlen(u) < 30)
			fprintf(f, "  %-30s %s\n", u, subcommands[i].summary);
		else
			fprintf(f, "  %s\n  %-30s %s\n", u, "", subcommands[i].summary);
	}
	fprintf(f, "\n"
		   "  grant sign --key NAME.key --exe PATH --entitlements ENT.plist\n"
		   "             [--uid N] [--group G] [--expires UNIXTIME] --out FILE\n"
		   "  grant show [--config hvd.conf] [--json] FILE\n"
		   "  policy check [--strict] [--user USER] FILE\n"
		   "  policy explain --pid PID | --uid N [--gid G] [--exe PATH]\n\n"
		   "  tenant add NAME [--socket PATH [--socket-mode 0600]] [--uid N]...\n"
		   "             [--gid N]... [--entitlements LIST|none] [--max-vms N]\n"
		   "             [--max-vcpus-per-vm N] [--max-vcpus N] [--max-memory SIZE]\n"
		   "             [--max-mappings N] [--max-rpc-rate N] [--max-cpu-percent N]\n"
		   "  tenant set NAME [the same but --socket; a quota 'default'; --no-uids]\n"
		   "             (hvd's socket: hvctl --socket PATH tenant ...)\n\n"
		   "Options:\n"
		   "  --socket PATH  hvd's socket (else $HVD_SOCKET, else %s)\n"
		   "  --json         machine-readable output of status, list, show, clients,\n"
		   "                 policy explain, grant show, tenant (stable keys, see hvctl(1))\n"
		   "  -h, --help     this text\n"
		   "  -V, --version  hvctl's version and protocol\n\n"
		   "Exit status:\n"
		   "  0  success\n"
		   "  1  the operation failed (hvd refused it, a bad file or grant)\n"
		   "  2  usage error\n"
		   "  3  hvd cannot be reached, or speaks another protocol\n\n"
		   "See hvctl(1).\n", HVD_DEFAULT_SOCKET);
}

/* Whether the first `len` bytes of `typed` are row i's word: its usage's
 * first word. */
static bool is_word(size_t i, const char *typed, size_t len)
{
	const char *u = subcommands[i].usage;
	return strcspn(u, " ") == len && strncmp(typed, u, len) == 0;
}

const char *hvctl_usage_of(const char *cmd)
{
	/* "policy check" is described by the row of "policy". */
	size_t len = strcspn(cmd, " ");

	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (is_word(i, cmd, len))
			return subcommands[i].usage;
	return cmd;
}

int hvctl_opts(int argc, char *argv[], struct hvctl *ctx, bool *json, const char *cmd)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (!json)
				return hvctl_usage(cmd, "this command has no --json mode");
			*json = true;
			break;
		case 's':
			ctx->socket = optarg;
			break;
		case 'h':
			printf("Usage: hvctl %s\n", hvctl_usage_of(cmd));
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage(cmd, "%s needs an argument", argv[optind - 1]);
		default:
			return hvctl_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct hvctl ctx = { .prog = "hvctl" };
	int c;

	/* '+': stop at the subcommand, whose options are its own. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			ctx.socket = optarg;
			break;
		case 'h':
			help(stdout);
			return HVCTL_EXIT_OK;
		case 'V':
			printf("hvctl %s (protocol %d)\n", HVCTL_VERSION, HVD_PROTOCOL_VERSION);
			return HVCTL_EXIT_OK;
		case ':':
			fprintf(stderr, "hvctl: %s needs an argument — see 'hvctl --help'\n",
				argv[optind - 1]);
			return HVCTL_EXIT_USAGE;
		default:
			fprintf(stderr, "hvctl: unknown option '%s' — see 'hvctl --help'\n",
				argv[optind - 1]);
			return HVCTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		help(stderr);
		return HVCTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (!is_word(i, argv[optind], strlen(argv[optind])))
			continue;
		int first = optind;
		/* The subcommand parses with getopt too: 0 starts it afresh,
		 * with the subcommand's name as its argv[0]. */
		optind = 0;
		return subcommands[i].fn(argc - first, argv + first, &ctx);
	}
	fprintf(stderr, "hvctl: unknown command '%s' — see 'hvctl --help'\n", argv[optind]);
	return HVCTL_EXIT_USAGE;
}
