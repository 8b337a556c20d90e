/*
 * Leveled logging, one line per event.
 *
 * Under systemd (stderr is the journal's stream, JOURNAL_STREAM naming
 * its device and inode, or INVOCATION_ID is set) lines go to the journal
 * through its native protocol (sd_journal_sendv, libsystemd): with a
 * PRIORITY, SYSLOG_IDENTIFIER=hvd and, for a line about a client, the
 * fields HVD_SESSION, HVD_PID, HVD_TENANT and HVD_VM, so that
 * `journalctl -u hvd -p warning` and `journalctl HVD_TENANT=x` work. A
 * line the journal does not take (no journal socket at start, a vCPU
 * thread, whose filter allows no sendmsg) goes to stderr instead.
 *
 * On stderr: under the journal's stream, "<N>text", the priority prefix
 * journald reads (sd-daemon.h), without a timestamp, which the journal
 * adds; otherwise (a terminal, a file) an ISO 8601 UTC timestamp and the
 * level name.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The journal's CODE_FILE/CODE_LINE would name this file, not the caller. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "hvd_log.h"

/* Where sd_journal_sendv sends (systemd's journal-send.c, fixed). */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static atomic_int log_level = HVD_LOG_INFO;
static bool to_journal;         /* send with the native protocol */
static bool on_stream;          /* stderr is journald's stream */
static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void hvd_log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
		on_stream = true;
	/* libsystemd reports success for a datagram to a socket that does
	 * not exist ("the journal is not available"): without the socket,
	 * lines would vanish, so they go to stderr. */
	to_journal = (on_stream || getenv("INVOCATION_ID")) &&
		     access(JOURNAL_SOCKET, F_OK) == 0;
}

void hvd_log_set_level(enum hvd_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum hvd_log_level hvd_log_get_level(void)
{
	return (enum hvd_log_level)atomic_load(&log_level);
}

const char *hvd_log_level_name(enum hvd_log_level level)
{
	return (unsigned)level < sizeof(level_names) / sizeof(level_names[0]) ?
	       level_names[level] : "?";
}

const char *hvd_log_target(void)
{
	return to_journal ? "the journal" : on_stream ? "the journal's stream" : "stderr";
}

int hvd_log_parse_level(const char *name, enum hvd_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum hvd_log_level)i;
			return 0;
		}
	}
	return -1;
}

/* One journal entry; false if the journal did not take it. */
static bool send_journal(enum hvd_log_level level, const struct hvd_log_ctx *ctx,
			 const char *msg)
{
	char prio[16], session[40], pid[32], vm[40], tenant[96];
	struct iovec iov[8];
	int n = 0;
	char *m = NULL;

	if (asprintf(&m, "MESSAGE=%s", msg) < 0)
		return false;
	iov[n++] = (struct iovec){ m, strlen(m) };
	snprintf(prio, sizeof(prio), "PRIORITY=%d", priorities[level]);
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=hvd", 21 };
	if (ctx && ctx->session) {
		snprintf(session, sizeof(session), "HVD_SESSION=%llu",
			 (unsigned long long)ctx->session);
		iov[n++] = (struct iovec){ session, strlen(session) };
	}
	if (ctx && ctx->pid > 0) {
		snprintf(pid, sizeof(pid), "HVD_PID=%d", (int)ctx->pid);
		iov[n++] = (struct iovec){ pid, strlen(pid) };
	}
	if (ctx && ctx->tenant && *ctx->tenant) {
		snprintf(tenant, sizeof(tenant), "HVD_TENANT=%s", ctx->tenant);
		iov[n++] = (struct iovec){ tenant, strlen(tenant) };
	}
	if (ctx && ctx->vm) {
		snprintf(vm, sizeof(vm), "HVD_VM=%llu", (unsigned long long)ctx->vm);
		iov[n++] = (struct iovec){ vm, strlen(vm) };
	}
	int r = sd_journal_sendv(iov, n);
	free(m);
	return r >= 0;
}

static void vlog(enum hvd_log_level level, const struct hvd_log_ctx *ctx, const char *fmt,
		 va_list ap)
{
	char msg[2048];

	if ((int)level > atomic_load(&log_level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (to_journal && send_journal(level, ctx, msg))
		return;
	if (on_stream) {
		fprintf(stderr, "<%d>%s\n", priorities[level], msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ hvd[%s] %s\n", stamp, ts.tv_nsec / 1000000, level_names[level],
		msg);
}

void hvd_log(enum hvd_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void hvd_logc(enum hvd_log_level level, const struct hvd_log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, ctx, fmt, ap);
	va_end(ap);
}
