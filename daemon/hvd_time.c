/* The clock hvd measures its own intervals with. */
#include <time.h>

#include "hvd_time.h"

uint64_t hvd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
