/* vCPU threads (hvd_vcpu.c): one per vCPU, owning every KVM call on it. */
#ifndef HVD_VCPU_H
#define HVD_VCPU_H

#include "hvd.h"

/* A vCPU call forwarded from the loop thread to the vCPU's own thread, so
 * the loop never waits for KVM. */
struct hvd_op {
	struct hvd_op *next;
	struct hvd_session *session;
	uint32_t request_id;
	Hvd__Request *req;             /* owned; freed after the reply */
	int32_t status;                /* hv_return_t */
	uint64_t value;
	uint8_t *data;                 /* fpstate read */
	size_t data_len;
	bool destroy;                  /* the op ends the vCPU thread */
};

struct hvd_vcpu {
	struct hvd_session *session;
	struct hvb_vcpu *vcpu;
	unsigned id;
	pthread_t thread;
	int page_fd;
	struct hvd_run_page *page;
	size_t page_size;
	pthread_mutex_t lock;          /* ops, stop */
	struct hvd_op *ops, **ops_tail;
	_Atomic bool stop;
	_Atomic bool exited;
	_Atomic uint32_t wake;         /* bumped by posts and stops: a futex word */
	_Atomic uint64_t runs;
	_Atomic uint32_t last_exit;
	_Atomic uint64_t exits[72];    /* by basic exit reason; [71] = other */
	/* The CPU quota. `budget` is the tenant's, under `lock` (a reload
	 * may move the session to another tenant); the rest is the vCPU
	 * thread's own. */
	struct hvd_cpu_budget *budget;
	_Atomic bool metered;          /* budget with a rate: the throttle's fast path */
	bool charging;                 /* cpu_seen is valid */
	uint64_t cpu_seen;             /* thread CPU time already charged */
	bool has_timer, timer_armed;
	timer_t timer;                 /* thread CPU-time timer: kicks a guest that overstays */
	uint64_t wait_start;           /* a throttling wait began (0: none) */
	_Atomic uint64_t throttled_ns; /* for hvctl show */
};

int hvd_vcpu_start(struct hvd_session *s, struct hvd_vcpu **out);
/* Queue a vCPU call; the reply goes out through the session's async. */
void hvd_vcpu_post(struct hvd_vcpu *v, struct hvd_op *op);
/* hv_vcpu_interrupt: force the vCPU out of the guest. Any thread. */
void hvd_vcpu_kick(struct hvd_vcpu *v);
/* Ask the thread to end (session teardown) without a reply. */
void hvd_vcpu_stop(struct hvd_vcpu *v);
/* Charge the vCPU's CPU time to budget `b` from now on (NULL: nobody). */
void hvd_vcpu_set_budget(struct hvd_vcpu *v, struct hvd_cpu_budget *b);
/* Set a budget's rate (percent of one CPU, 0 = unlimited). */
void hvd_cpu_budget_set(struct hvd_cpu_budget *b, uint32_t percent);
void hvd_vcpu_free(struct hvd_vcpu *v);

#endif
