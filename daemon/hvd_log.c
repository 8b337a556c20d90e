/* Leveled logging to stderr, one line per event, with a timestamp. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hvd_log.h"

static enum hvd_log_level log_level = HVD_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void hvd_log_set_level(enum hvd_log_level level)
{
	log_level = level;
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

void hvd_log(enum hvd_log_level level, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	va_list ap;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ldZ hvd[%s] ", stamp, ts.tv_nsec / 1000000, level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
