/* Leveled logging to stderr (hvd_log.c). Any thread. */
#ifndef HVD_LOG_H
#define HVD_LOG_H

enum hvd_log_level { HVD_LOG_ERROR, HVD_LOG_WARN, HVD_LOG_INFO, HVD_LOG_DEBUG };

void hvd_log_set_level(enum hvd_log_level level);
int hvd_log_parse_level(const char *name, enum hvd_log_level *out);
void hvd_log(enum hvd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define hvd_err(...) hvd_log(HVD_LOG_ERROR, __VA_ARGS__)
#define hvd_warn(...) hvd_log(HVD_LOG_WARN, __VA_ARGS__)
#define hvd_info(...) hvd_log(HVD_LOG_INFO, __VA_ARGS__)
#define hvd_debug(...) hvd_log(HVD_LOG_DEBUG, __VA_ARGS__)

#endif
