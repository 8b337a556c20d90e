/*
 * The subcommands of hvctl: one file each (cmd_<name>.c), listed once in
 * HVCTL_SUBCOMMANDS so that the dispatch table, the prototypes and the
 * --help summary cannot disagree.
 */
#ifndef HVCTL_SUBCOMMANDS_H
#define HVCTL_SUBCOMMANDS_H

#include <stdbool.h>

/* Exit codes, documented in hvctl(1) and `hvctl --help`. */
enum {
	HVCTL_EXIT_OK = 0,          /* done */
	HVCTL_EXIT_FAILED = 1,      /* the operation failed: hvd said no, a bad file or grant */
	HVCTL_EXIT_USAGE = 2,       /* the command line is wrong */
	HVCTL_EXIT_UNREACHABLE = 3, /* hvd cannot be reached or speaks another protocol */
};

/* Options that come before the subcommand (and --socket after it). */
struct hvctl {
	const char *prog;           /* "hvctl", for messages */
	const char *socket;         /* --socket, else NULL: $HVD_SOCKET, else the default */
};

/* X(name, usage, summary): `name` is the suffix of its handler
 * hvctl_cmd_<name>, defined in cmd_<name>.c; the word typed is the usage's
 * first word (`name` with - for _: log-level). */
#define HVCTL_SUBCOMMANDS(X)                                                          \
	X(status, "status [--json]", "hvd's version, host capabilities and counts")   \
	X(support, "support", "1 if this host can run VMs, else 0 (no hvd needed)")   \
	X(list, "list [--json]", "list the VMs")                                      \
	X(show, "show VM [--json]", "one VM: its vCPUs, exit counts and memory map")  \
	X(metrics, "metrics [--output FILE | --listen [ADDR:]PORT]",                  \
	  "hvd's state in Prometheus's text format (a textfile, or served by HTTP)")   \
	X(top, "top [-n COUNT] [-d SECONDS] [--json]",                                \
	  "VMs by CPU use, refreshing (-n: that many frames)")                        \
	X(kill, "kill VM", "destroy a VM (its owner's next call fails)")              \
	X(clients, "clients [--json]", "list the connected clients")                  \
	X(policy, "policy check [--strict] FILE | reload | explain ... [--json]",      \
	  "check a config file, reload it, explain rights")                           \
	X(log_level, "log-level [LEVEL]", "show hvd's log level, or set it (error ... debug)") \
	X(tenant, "tenant add NAME [--socket PATH] [--uid N]... [--gid N]... [quotas] | "  \
	  "list | show NAME | set NAME [...] | rm NAME [--force] [--json]",            \
	  "tenants as objects, with sockets of their own (admins)")                    \
	X(keygen, "keygen --out NAME", "make an Ed25519 key pair NAME.key, NAME.pub") \
	X(grant, "grant sign ... | verify --pub NAME.pub FILE | show FILE",           \
	  "sign, check or show a grant of entitlements")                                    \
	X(cdi, "cdi generate --tenant NAME [--socket PATH] [--lib PATH] [--output FILE]", \
	  "a CDI spec giving containers a tenant's socket (no hvd needed)")

/* Every handler gets the words from the subcommand's name on, argv[0]
 * being that name (getopt-ready, optind reset), and returns an exit code.
 * It may set ctx->socket from its own --socket. */
#define HVCTL_DECLARE(name, usage, summary)                                           \
	int hvctl_cmd_##name(int argc, char *argv[], struct hvctl *ctx);
HVCTL_SUBCOMMANDS(HVCTL_DECLARE)
#undef HVCTL_DECLARE

/* The usage line from the table for `cmd` ("show" gives "show VM
 * [--json]"; "policy check" gives policy's). */
const char *hvctl_usage_of(const char *cmd);

/* The options most subcommands share: --json (refused when `json` is
 * NULL), --socket PATH, --help. `cmd` names the subcommand in messages.
 * Leaves the other words at argv[optind...]. Returns -1 to go on, or the
 * exit code to return now. */
int hvctl_opts(int argc, char *argv[], struct hvctl *ctx, bool *json, const char *cmd);

#endif
