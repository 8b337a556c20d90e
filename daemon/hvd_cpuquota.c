/*
 * The CPU quota's token bucket (hvd_cpuquota.h).
 */
#include <time.h>

#include "hvd_cpuquota.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hvd_cpu_budget_set(struct hvd_cpu_budget *b, uint32_t percent)
{
	pthread_mutex_lock(&b->lock);
	if (b->percent != percent) {
		b->percent = percent;
		b->tokens_ns = HVD_CPU_PERIOD_NS * percent / 100;
		b->refill_ns = now_ns();
	}
	pthread_mutex_unlock(&b->lock);
}

void hvd_cpu_budget_charge(struct hvd_cpu_budget *b, uint64_t now, uint64_t used_ns,
			   int64_t *slice_ns, int64_t *wait_ns)
{
	uint32_t pct = b->percent;
	int64_t cap = HVD_CPU_PERIOD_NS * pct / 100;
	uint64_t dt = now - b->refill_ns;

	/* Clamped first: the product must not overflow. (A clock behind the
	 * last refill, which CLOCK_MONOTONIC never is, counts as a whole
	 * period.) */
	if (dt > (uint64_t)HVD_CPU_PERIOD_NS)
		dt = (uint64_t)HVD_CPU_PERIOD_NS;
	b->tokens_ns += (int64_t)(dt * pct / 100);
	if (b->tokens_ns > cap)
		b->tokens_ns = cap;
	b->refill_ns = now;
	b->tokens_ns -= (int64_t)used_ns;
	*slice_ns = 0;
	*wait_ns = 0;
	if (b->tokens_ns > 0) {
		int64_t slice = b->tokens_ns < HVD_CPU_SLICE_NS ? b->tokens_ns : HVD_CPU_SLICE_NS;
		*slice_ns = slice < HVD_CPU_MIN_SLICE_NS ? HVD_CPU_MIN_SLICE_NS : slice;
	} else {
		/* Wait until a whole minimum slice is in the bucket: waking up
		 * costs CPU too, and waking just to pay that cost back would
		 * leave nothing for the guest. */
		*wait_ns = (HVD_CPU_MIN_SLICE_NS - b->tokens_ns) * 100 / pct;
	}
}
