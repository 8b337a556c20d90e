/*
 * The CPU quota's token bucket (hvd_cpuquota.c): a tenant's
 * max_cpu_percent as nanoseconds of vCPU-thread CPU time. Pure arithmetic
 * on the bucket and the clock readings the caller passes; the vCPU
 * threads' throttle hook (hvd_vcpu.c) reads the clocks, charges and
 * waits. Any thread, under the bucket's lock where said.
 */
#ifndef HVD_CPUQUOTA_H
#define HVD_CPUQUOTA_H

#include <pthread.h>
#include <stdint.h>

/* The bucket holds 100 ms at the tenant's rate: a tenant may burst that
 * much, and an idle one banks no more. */
#define HVD_CPU_PERIOD_NS 100000000ll
/* The longest a quota-bound vCPU stays in the guest before it is charged
 * again (the CPU-time timer kicks it out), and the shortest stretch it is
 * given (a throttled wait and wake-up cost ~20 us of the thread's CPU
 * here; much shorter slices would spend the budget on them). Overdraft is
 * at most one slice per vCPU, and is paid back by waiting. */
#define HVD_CPU_SLICE_NS 5000000ll
#define HVD_CPU_MIN_SLICE_NS 500000ll

/*
 * A tenant's CPU budget: a token bucket of nanoseconds of vCPU-thread CPU
 * time, filled at `percent` of one CPU and holding at most
 * HVD_CPU_PERIOD_NS worth. Its vCPU threads charge what they used before
 * each guest entry and wait while it is empty.
 */
struct hvd_cpu_budget {
	pthread_mutex_t lock;
	uint32_t percent;              /* 0: unlimited */
	int64_t tokens_ns;             /* may go negative: a debt to wait off */
	uint64_t refill_ns;            /* CLOCK_MONOTONIC of the last refill */
};

/* Set a budget's rate (percent of one CPU, 0 = unlimited). A new rate
 * starts from a full bucket at that rate. */
void hvd_cpu_budget_set(struct hvd_cpu_budget *b, uint32_t percent);

/*
 * With b->lock held and a rate set: refill the bucket for the time since
 * its last refill (`now_ns`, CLOCK_MONOTONIC; at most a period's worth,
 * never above the bucket's size), take `used_ns` of CPU time out, and say
 * what the vCPU may do: enter the guest for *slice_ns (> 0, between the
 * minimum and the maximum slice), or, with *slice_ns 0, wait *wait_ns
 * until a minimum slice's worth is in the bucket again.
 */
void hvd_cpu_budget_charge(struct hvd_cpu_budget *b, uint64_t now_ns, uint64_t used_ns,
			   int64_t *slice_ns, int64_t *wait_ns);

#endif
