/*
 * hvd's own counters for `hvctl metrics` (docs/operations.md, "Metrics"):
 * requests refused, by kind, and how long hvd took to answer a request,
 * as a histogram. Loop thread only: the broker counts what it decides and
 * the answers it sends or relays from a worker.
 */
#ifndef HVD_METRICS_H
#define HVD_METRICS_H

#include <stdint.h>

#include "hvp.h"

/* Upper bounds of the RPC histogram's buckets, in seconds; one more
 * bucket holds what is above the last. The same list goes out in each
 * StatusReply (rpc_bucket_le), so hvctl prints what hvd counted. */
#define HVD_RPC_BUCKETS 12
extern const double hvd_rpc_bucket_le[HVD_RPC_BUCKETS];

/* The exit-handling histogram: per run of a vCPU, the wall time hvd
 * spent on it outside the guest (the run's wall time less the guest time
 * the backend counted: taking the client's state, the exit, the answer).
 * Upper bounds in seconds; one more bucket above the last. */
#define HVD_EXIT_BUCKETS 10
extern const double hvd_exit_bucket_le[HVD_EXIT_BUCKETS];
unsigned hvd_exit_bucket(uint64_t ns);

enum hvd_refusal { HVD_REFUSED_DENY, HVD_REFUSED_QUOTA, HVD_REFUSED_RATE, HVD_REFUSED_KINDS };

struct hvd_metrics {
	uint64_t refused[HVD_REFUSED_KINDS];
	uint64_t rpc_bucket[HVD_RPC_BUCKETS + 1];
	uint64_t rpc_sum_ns, rpc_count;
};

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t hvd_now_ns(void);

/* One refusal by the policy: its verdict, and whether a rate refused. */
void hvd_metrics_refused(struct hvd_metrics *m, enum hvp_verdict v, enum hvp_rate_kind rate);

/* One answer, `start_ns` (hvd_now_ns) after its request arrived. */
void hvd_metrics_rpc(struct hvd_metrics *m, uint64_t start_ns);

#endif
