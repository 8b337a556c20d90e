/*
 * What libhvclient says when a call fails because of hvd (hvc.h, "errors
 * for people"). Apple's API has only codes; a port run against hvd meets
 * causes macOS never has (no daemon, a socket it may not open, a policy),
 * so the first time each cause happens the library writes one line on
 * stderr naming it and its fix, in hvctl's words (proto/hvd_hint.c), and
 * keeps the text for hvd_last_error (client/include/hvd/hvclient.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvc.h"
#include <hvd/hvclient.h>

#define PREFIX "libhvclient: "

/* The calling thread's last failure. */
static _Thread_local char last[HVC_ERR_MAX];
/* Causes already said, one bit each. */
static unsigned said;

_Static_assert(HVC_CAUSE_COUNT <= 32, "one bit per cause in `said`");

/* Set to 1 (or any value but 0 and ""), read at each failure: a test, or
 * a program that sets it at run time, is heard at once. */
static bool env_on(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

void hvc_err(enum hvc_cause cause, const char *fmt, ...)
{
	char line[sizeof(PREFIX) + HVC_ERR_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last, sizeof(last), fmt, ap);
	va_end(ap);
	if (env_on("HVD_QUIET"))
		return;
	bool first = cause != HVC_CAUSE_CALL &&
		     !(__atomic_fetch_or(&said, 1u << cause, __ATOMIC_RELAXED) & (1u << cause));
	if (!first && !env_on("HVD_DEBUG"))
		return;
	/* One write, so that lines of several threads do not interleave;
	 * `line` holds all of `last` and the newline. */
	int n = snprintf(line, sizeof(line), "%s%s\n", PREFIX, last);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
		return; /* nowhere left to report a failed report */
}

const char *hvd_last_error(void)
{
	return last;
}
