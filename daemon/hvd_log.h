/* Leveled logging (hvd_log.c): to the journal under systemd, else to
 * stderr. Any thread. */
#ifndef HVD_LOG_H
#define HVD_LOG_H

#include <stdint.h>
#include <sys/types.h>

enum hvd_log_level { HVD_LOG_ERROR, HVD_LOG_WARN, HVD_LOG_INFO, HVD_LOG_DEBUG };

/* Whom a line is about, sent as the journal fields HVD_SESSION, HVD_PID,
 * HVD_TENANT and HVD_VM; 0 or NULL for what is not known. */
struct hvd_log_ctx {
	uint64_t session;
	pid_t pid;
	const char *tenant;
	uint64_t vm;
};

/* Chooses where lines go, from the environment systemd gives a service
 * (JOURNAL_STREAM, INVOCATION_ID). Once, in main(), before any thread. */
void hvd_log_init(void);
void hvd_log_set_level(enum hvd_log_level level);
enum hvd_log_level hvd_log_get_level(void);
int hvd_log_parse_level(const char *name, enum hvd_log_level *out);
const char *hvd_log_level_name(enum hvd_log_level level);
/* Where lines go, for the start-up line: "the journal", "stderr". */
const char *hvd_log_target(void);
void hvd_log(enum hvd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same, about a client (ctx may be NULL). */
void hvd_logc(enum hvd_log_level level, const struct hvd_log_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define hvd_err(...) hvd_log(HVD_LOG_ERROR, __VA_ARGS__)
#define hvd_warn(...) hvd_log(HVD_LOG_WARN, __VA_ARGS__)
#define hvd_info(...) hvd_log(HVD_LOG_INFO, __VA_ARGS__)
#define hvd_debug(...) hvd_log(HVD_LOG_DEBUG, __VA_ARGS__)

#endif
