/*
 * hvctl's connection to hvd: the same protocol as libhvclient's (hello,
 * then one Request and one Response per SOCK_SEQPACKET packet), decoded
 * with protobuf-c. Every function here reports its own failures on stderr
 * in the form "hvctl: COMMAND: problem — fix" and returns an exit code.
 */
#ifndef HVCTL_IPC_H
#define HVCTL_IPC_H

#include <stdint.h>

#include "hvd.pb-c.h"
#include "subcommands.h"

struct hvctl_conn {
	int fd;
	uint32_t next_id;
	const char *path;            /* the socket, for messages */
	const char *cmd;             /* the subcommand, for messages */
	int quiet;                   /* no messages about the connection */
};

/* The socket hvctl uses: --socket, else $HVD_SOCKET, else the default. */
const char *hvctl_socket_path(const struct hvctl *ctx);

/* Connect to hvd and exchange hellos. HVCTL_EXIT_OK; or, after saying
 * why, HVCTL_EXIT_UNREACHABLE (no hvd, another protocol) or
 * HVCTL_EXIT_FAILED (hvd refused the hello). `quiet` suppresses the
 * messages (for `support`, which has its own). */
int hvctl_open(const struct hvctl *ctx, const char *cmd, struct hvctl_conn *c, int quiet);
void hvctl_close(struct hvctl_conn *c);

/* Send `req` (its id is filled in) and wait for the reply, which the
 * caller frees with hvdp__response__free_unpacked. HVCTL_EXIT_OK, or
 * HVCTL_EXIT_UNREACHABLE if the exchange itself failed. The reply's status
 * is not looked at. */
int hvctl_call(struct hvctl_conn *c, Hvdp__Request *req, Hvdp__Response **resp);
/* The same, sending descriptor `fd` along (SCM_RIGHTS; -1: none). */
int hvctl_call_fd(struct hvctl_conn *c, Hvdp__Request *req, int fd, Hvdp__Response **resp);

/* One admin request on a fresh connection: open, call, close. On
 * HVCTL_EXIT_OK *resp holds a successful reply; a failed status is
 * reported (with `hint` as the fix when hvd gave HV_BAD_ARGUMENT, NULL for
 * a generic one) and gives HVCTL_EXIT_FAILED. */
int hvctl_admin(const struct hvctl *ctx, const char *cmd, Hvdp__Request *req,
		const char *hint, Hvdp__Response **resp);
int hvctl_admin_fd(const struct hvctl *ctx, const char *cmd, Hvdp__Request *req, int fd,
		   const char *hint, Hvdp__Response **resp);

/* Report a reply's failed status: "hvctl: CMD: HV_NAME: hvd's error — fix". */
void hvctl_report_status(const char *cmd, const Hvdp__Response *resp, const char *hint);

#endif
