/* hvd's own counters (hvd_metrics.h). */
#include <time.h>

#include "hvd_metrics.h"

const double hvd_rpc_bucket_le[HVD_RPC_BUCKETS] = {
	0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
};

const double hvd_exit_bucket_le[HVD_EXIT_BUCKETS] = {
	0.000001, 0.000002, 0.000005, 0.00001, 0.00002, 0.00005, 0.0001, 0.001, 0.01, 0.1,
};

unsigned hvd_exit_bucket(uint64_t ns)
{
	/* The bounds in ns, for the vCPU thread's hot path (no doubles). */
	static const uint64_t le_ns[HVD_EXIT_BUCKETS] = {
		1000, 2000, 5000, 10000, 20000, 50000, 100000, 1000000, 10000000, 100000000,
	};
	unsigned b = 0;
	while (b < HVD_EXIT_BUCKETS && ns > le_ns[b])
		b++;
	return b;
}

uint64_t hvd_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hvd_metrics_refused(struct hvd_metrics *m, enum hvp_verdict v, enum hvp_rate_kind rate)
{
	if (v == HVP_ALLOW)
		return;
	m->refused[rate != HVP_RATE_NONE ? HVD_REFUSED_RATE :
		   v == HVP_QUOTA ? HVD_REFUSED_QUOTA : HVD_REFUSED_DENY]++;
}

void hvd_metrics_rpc(struct hvd_metrics *m, uint64_t start_ns)
{
	uint64_t now = hvd_now_ns(), ns = now > start_ns ? now - start_ns : 0;
	double s = (double)ns / 1e9;
	unsigned b = 0;
	while (b < HVD_RPC_BUCKETS && s > hvd_rpc_bucket_le[b])
		b++;
	m->rpc_bucket[b]++;
	m->rpc_sum_ns += ns;
	m->rpc_count++;
}
