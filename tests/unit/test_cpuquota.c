/*
 * The CPU quota's token bucket (daemon/hvd_cpuquota.c) on its own: no
 * daemon, no vCPU, no clocks but the ones each test passes in.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "hvd_cpuquota.h"

#define MS 1000000ll

/* A bucket at `pct` percent, last refilled at `at`, holding `tokens`. */
static struct hvd_cpu_budget bucket(uint32_t pct, uint64_t at, int64_t tokens)
{
	struct hvd_cpu_budget b = { .percent = pct, .tokens_ns = tokens, .refill_ns = at };
	pthread_mutex_init(&b.lock, NULL);
	return b;
}

static void charge(struct hvd_cpu_budget *b, uint64_t now, uint64_t used, int64_t *slice,
		   int64_t *wait)
{
	pthread_mutex_lock(&b->lock);
	hvd_cpu_budget_charge(b, now, used, slice, wait);
	pthread_mutex_unlock(&b->lock);
}

Test(cpuquota, a_new_rate_starts_from_a_full_bucket)
{
	struct hvd_cpu_budget b = bucket(0, 0, 0);

	hvd_cpu_budget_set(&b, 50);
	cr_assert_eq(b.percent, 50);
	cr_assert_eq(b.tokens_ns, 50 * MS, "100 ms at 50 %% is 50 ms");
	cr_assert_gt(b.refill_ns, 0, "the refill clock starts now");
	/* The same rate again changes nothing, not even a spent bucket. */
	b.tokens_ns = -3 * MS;
	hvd_cpu_budget_set(&b, 50);
	cr_assert_eq(b.tokens_ns, -3 * MS);
	hvd_cpu_budget_set(&b, 0);
	cr_assert_eq(b.percent, 0);
	cr_assert_eq(b.tokens_ns, 0);
}

/* The bucket fills at the tenant's rate: 10 ms of wall time at 20 % is
 * 2 ms of CPU time. */
Test(cpuquota, it_refills_at_the_rate)
{
	struct hvd_cpu_budget b = bucket(20, 1000 * MS, 0);
	int64_t slice, wait;

	charge(&b, 1010 * MS, 0, &slice, &wait);
	cr_assert_eq(b.tokens_ns, 2 * MS);
	cr_assert_eq(b.refill_ns, 1010 * MS);
	cr_assert_eq(slice, 2 * MS, "the vCPU may use what is there");
	cr_assert_eq(wait, 0);
}

/* Never above 100 ms at the rate, however long the tenant was idle. */
Test(cpuquota, an_idle_tenant_banks_at_most_one_period)
{
	struct hvd_cpu_budget b = bucket(30, 0, 29 * MS);
	int64_t slice, wait;

	charge(&b, 50 * MS, 0, &slice, &wait);
	cr_assert_eq(b.tokens_ns, 30 * MS, "capped at 100 ms x 30 %%");
	cr_assert_eq(slice, HVD_CPU_SLICE_NS, "no slice is longer than the longest");
}

/* What the vCPU used comes out after the refill. */
Test(cpuquota, spending_takes_the_cpu_time_used)
{
	struct hvd_cpu_budget b = bucket(50, 0, 10 * MS);
	int64_t slice, wait;

	charge(&b, 2 * MS, 4 * MS, &slice, &wait);
	cr_assert_eq(b.tokens_ns, 10 * MS + 1 * MS - 4 * MS);
	cr_assert_eq(slice, HVD_CPU_SLICE_NS);
	/* A little left: at least a minimum slice, for the cost of waking. */
	b = bucket(50, 0, 100000);
	charge(&b, 0, 0, &slice, &wait);
	cr_assert_eq(slice, HVD_CPU_MIN_SLICE_NS);
	cr_assert_eq(wait, 0);
	/* Between the two: exactly what is left. */
	b = bucket(50, 0, 3 * MS);
	charge(&b, 0, 0, &slice, &wait);
	cr_assert_eq(slice, 3 * MS);
}

/* Exhausted: a debt, and a wait until a whole minimum slice has come in
 * at the rate. */
Test(cpuquota, an_exhausted_bucket_makes_the_vcpu_wait)
{
	struct hvd_cpu_budget b = bucket(10, 0, 1 * MS);
	int64_t slice, wait;

	charge(&b, 0, 3 * MS, &slice, &wait);
	cr_assert_eq(b.tokens_ns, -2 * MS, "the overdraft is kept as a debt");
	cr_assert_eq(slice, 0);
	/* (2 ms debt + 0.5 ms) of CPU at 10 % of one CPU: 25 ms of waiting. */
	cr_assert_eq(wait, 25 * MS);
	/* Having waited that long, it gets its minimum slice. */
	charge(&b, (uint64_t)wait, 0, &slice, &wait);
	cr_assert_eq(b.tokens_ns, HVD_CPU_MIN_SLICE_NS);
	cr_assert_eq(slice, HVD_CPU_MIN_SLICE_NS);
	cr_assert_eq(wait, 0);
	/* An empty bucket (exactly 0) is exhausted too. */
	b = bucket(10, 0, 0);
	charge(&b, 0, 0, &slice, &wait);
	cr_assert_eq(slice, 0);
	cr_assert_eq(wait, 5 * MS);
}

/* Over many rounds a vCPU that always uses its slice gets the rate, not
 * more: the quota holds. */
Test(cpuquota, a_busy_vcpu_gets_its_rate)
{
	struct hvd_cpu_budget b = bucket(25, 0, 25 * MS);
	uint64_t now = 0, used = 0, cpu = 0;
	int64_t slice = 0, wait = 0;

	while (now < 10000 * MS) {
		charge(&b, now, used, &slice, &wait);
		used = 0;
		if (slice) {
			/* Runs its slice: CPU time and wall time alike. */
			used = (uint64_t)slice;
			cpu += used;
			now += used;
		} else {
			now += (uint64_t)wait;
		}
	}
	/* 10 s at 25 %: 2.5 s, plus at most the first bucket and a slice. */
	cr_assert_geq(cpu, 2450 * MS, "got %lld ms", (long long)(cpu / MS));
	cr_assert_leq(cpu, 2500 * MS + 25 * MS + HVD_CPU_SLICE_NS, "got %lld ms",
	    (long long)(cpu / MS));
}

/* A clock far ahead (a suspended host, a vCPU idle for hours) refills one
 * period's worth, not an overflowing product; a clock behind the last
 * refill (CLOCK_MONOTONIC never is) counts as a whole period too and
 * never leaves more than the bucket holds. */
Test(cpuquota, clock_jumps_refill_at_most_one_period)
{
	struct hvd_cpu_budget b = bucket(100, 0, -50 * MS);
	int64_t slice, wait;

	charge(&b, UINT64_MAX / 2, 0, &slice, &wait);
	cr_assert_eq(b.tokens_ns, 50 * MS, "a debt of 50 ms + one period at 100 %%");
	cr_assert_eq(b.refill_ns, UINT64_MAX / 2);

	b = bucket(40, 1000 * MS, -100 * MS);
	charge(&b, 10 * MS, 0, &slice, &wait);
	cr_assert_eq(b.tokens_ns, -60 * MS);
	cr_assert_eq(b.refill_ns, 10 * MS, "the refill clock follows the clock");
	charge(&b, 5 * MS, 0, &slice, &wait);
	cr_assert_leq(b.tokens_ns, 40 * MS, "never above the bucket's size");
}
