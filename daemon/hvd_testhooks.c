/*
 * The test hooks, read from the environment in one place at start-up, so
 * that what a test can change in hvd's behaviour is listed here and
 * nowhere else (tests/system, tests/sandbox set them).
 */
#include <stdlib.h>
#include <string.h>

#include "hvd_testhooks.h"

static long env_ms(const char *name)
{
	const char *e = getenv(name);
	return e ? atol(e) : 0;
}

void hvd_testhooks_read(struct hvd_testhooks *out)
{
	const char *selftest = getenv("HVD_SANDBOX_SELFTEST");

	memset(out, 0, sizeof(*out));
	out->memop_delay_ms = env_ms("HVD_TEST_MEMOP_DELAY_MS");
	out->destroy_delay_ms = env_ms("HVD_TEST_DESTROY_DELAY_MS");
	out->sandbox_selftest = selftest != NULL;
	out->sandbox_selftest_kill = selftest && strcmp(selftest, "kill") == 0;
}
