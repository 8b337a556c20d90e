/*
 * One thread per vCPU. It owns every backend call on its vCPU (through the
 * ops table, d->be): runs requested through the shared run page (the
 * server's side of proto/hvd_runpage.c), and vCPU calls the loop thread
 * forwards as ops. The loop thread therefore never blocks in KVM.
 *
 * The thread (vcpu_main) is set-up, a loop of explicit states, tear-down;
 * the throttle hook charges the tenant's CPU quota (the bucket is
 * hvd_cpuquota.c). Functions are the vCPU thread's unless said otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if !defined(__aarch64__)
#include <Hypervisor/hv_vmx.h>
#endif

#include "hvs_errmap.h"
#include "hvd.h"
#include "hvd_log.h"
#include "hvd_runpage.h"
#include "hvd_sandbox.h"
#include "hvd_vcpu.h"
#include "hvd_vcpuop.h"

/* How long the thread polls for the next run before it sleeps: an exit
 * round trip here is 5-10 us, and a cross-CPU wake-up costs ~60 us
 * (kvm-notes.md §12), so polling briefly keeps back-to-back runs fast. */
#define SPIN_NS 50000ull
/* The longest the thread sleeps without looking (a safety net: every
 * request and post wakes it). */
#define WAIT_NS 1000000000l

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake_thread(struct hvd_vcpu *v)
{
	hvd_runpage_server_wake(&v->wake);
}

static struct hvd_op *op_pop(struct hvd_vcpu *v)
{
	pthread_mutex_lock(&v->lock);
	struct hvd_op *op = v->ops;
	if (op) {
		v->ops = op->next;
		if (!v->ops)
			v->ops_tail = &v->ops;
	}
	pthread_mutex_unlock(&v->lock);
	return op;
}

static bool op_pending(struct hvd_vcpu *v)
{
	pthread_mutex_lock(&v->lock);
	bool any = v->ops != NULL;
	pthread_mutex_unlock(&v->lock);
	return any;
}

static void op_done(struct hvd_vcpu *v, struct hvd_op *op)
{
	struct hvd_session *s = v->session;
	pthread_mutex_lock(&s->done_lock);
	op->next = s->done;
	s->done = op;
	pthread_mutex_unlock(&s->done_lock);
	uv_async_send(&s->async);
}

/* ---- the tenant's CPU quota (the bucket: hvd_cpuquota.c) ---- */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t hvd_vcpu_cpu_ns(struct hvd_vcpu *v)
{
	clockid_t c;
	struct timespec ts;
	if (pthread_getcpuclockid(v->thread, &c) != 0 || clock_gettime(c, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The budget and whether it meters, under the lock (held). */
static void budget_record(struct hvd_vcpu *v, struct hvd_cpu_budget *b)
{
	v->budget = b;
	bool metered = false;
	if (b) {
		pthread_mutex_lock(&b->lock);
		metered = b->percent != 0;
		pthread_mutex_unlock(&b->lock);
	}
	atomic_store(&v->metered, metered);
}

void hvd_vcpu_set_budget(struct hvd_vcpu *v, struct hvd_cpu_budget *b)
{
	pthread_mutex_lock(&v->lock);
	budget_record(v, b);
	/* A guest that never exits is charged only when its timer fires,
	 * and an unmetered vCPU has none armed: fire it soon, so that the
	 * vCPU passes through vcpu_throttle under the new budget. (The timer
	 * counts the vCPU thread's CPU time, so an idle vCPU is not woken.) */
	if (v->has_timer) {
		struct itimerspec its = { .it_value = { 0, 1000000l } };
		timer_settime(v->timer, 0, &its, NULL);
	}
	pthread_mutex_unlock(&v->lock);
}

static void arm_timer(struct hvd_vcpu *v, int64_t ns)
{
	struct itimerspec its = { .it_value = { (time_t)(ns / 1000000000ll), (long)(ns % 1000000000ll) } };
	if (!v->has_timer)
		return;
	if (timer_settime(v->timer, 0, &its, NULL) == 0) {
		v->timer_armed = ns > 0;
	} else {
		hvd_warn("vcpu %u: CPU-time timer: %s: a guest that never exits is "
			 "charged only at its exits", v->id, strerror(errno));
		pthread_mutex_lock(&v->lock);
		v->has_timer = false;
		pthread_mutex_unlock(&v->lock);
	}
}

/*
 * The backend asks before each entry into the guest. Charge the thread's
 * CPU time since the last call to the tenant, refill the tenant's bucket,
 * and either let the vCPU in for at most a slice (the timer kicks it out
 * after that much CPU time) or tell it how long to wait for the debt to
 * be paid. The thread's CPU time includes hvd's own work for this vCPU
 * (exit handling, the spin waiting for the next run): all of it is done
 * for the tenant.
 */
static uint64_t vcpu_throttle(void *ctx)
{
	struct hvd_vcpu *v = ctx;

	/* Every guest entry of every vCPU comes here: an unmetered one that
	 * has nothing to undo goes straight in, without locks or clocks. */
	if (!atomic_load_explicit(&v->metered, memory_order_relaxed) && !v->charging &&
	    !v->timer_armed)
		return 0;

	uint64_t now = now_ns();
	int64_t slice = 0, wait = 0;

	if (v->wait_start) {
		atomic_fetch_add(&v->throttled_ns, now - v->wait_start);
		v->wait_start = 0;
	}
	pthread_mutex_lock(&v->lock);
	struct hvd_cpu_budget *b = v->budget;
	if (b) {
		pthread_mutex_lock(&b->lock);
		if (!b->percent) {
			v->charging = false;
		} else {
			uint64_t cpu = thread_cpu_ns();
			hvd_cpu_budget_charge(b, now, v->charging ? cpu - v->cpu_seen : 0, &slice,
					      &wait);
			v->cpu_seen = cpu;
			v->charging = true;
		}
		pthread_mutex_unlock(&b->lock);
	} else {
		v->charging = false;
	}
	pthread_mutex_unlock(&v->lock);
	if (slice)
		arm_timer(v, slice);
	else if (v->timer_armed)
		arm_timer(v, 0);
	if (wait)
		v->wait_start = now;
	return (uint64_t)wait;
}

/* ---- the vCPU thread ---- */

/* The run page's state is the backend's architectural state (x86:
 * struct hvs_state; arm64: struct ha64_state): take the client's copy in,
 * give the backend's out. The import checks what it takes (a client may
 * have written anything there). */
static void state_in(struct hvd_vcpu *v, const hvd_run_state *st)
{
	v->session->d->be->vcpu_import(v->vcpu, (const struct hvb_arch_state *)st);
}

static void state_out(struct hvd_vcpu *v, hvd_run_state *st)
{
	v->session->d->be->vcpu_export(v->vcpu, (struct hvb_arch_state *)st);
}

/* The client's state, taken in once. x86's import reads some fields more
 * than once, so it gets a private copy first; arm64's reads each byte of
 * the client's state at most once (hvb_ops.h), so it reads the page itself
 * and an exit copies ~8 KiB less. */
static void state_take(struct hvd_vcpu *v)
{
#if defined(__aarch64__)
	state_in(v, (const hvd_run_state *)&v->page->state);
#else
	static __thread hvd_run_state copy;
	memcpy(&copy, (const void *)&v->page->state, sizeof(copy));
	state_in(v, &copy);
#endif
}

/* The backend's vCPU goes (under the lock: hvd_vcpu_kick may be using
 * it). */
static int backend_destroy(struct hvd_vcpu *v)
{
	pthread_mutex_lock(&v->lock);
	int r = v->session->d->be->vcpu_destroy(v->vcpu);
	v->vcpu = NULL;
	pthread_mutex_unlock(&v->lock);
	return r;
}

/* One hv_vcpu_run: copy the client's state once, run, hand the exit back. */
static void do_run(struct hvd_vcpu *v, uint32_t seq)
{
	const struct hvb_ops *be = v->session->d->be;
	struct hvd_run_page *page = v->page;
#if defined(__aarch64__)
	/* For the statistics only (a client changing it meanwhile only
	 * miscounts its own exits). */
	uint32_t op = page->state.op;
#endif
	int r;
	uint64_t t0 = now_ns(), g0 = 0, g1 = 0;
	be->vcpu_exec_time(v->vcpu, &g0);

	state_take(v);
	hvd_runpage_server_begin(page);
	r = be->vcpu_run(v->vcpu);
	if (v->wait_start) {
		/* The run ended (a kick) while waiting off a debt. */
		atomic_fetch_add(&v->throttled_ns, now_ns() - v->wait_start);
		v->wait_start = 0;
	}
	/* Debug level: a client breaking its own vCPU could otherwise fill
	 * the log at the rate of its runs. */
	if (r == -ENOMEM && !v->refused_said) {
		/* The host, not the client: said once per vCPU. */
		uint64_t gpa = 0;
#if !defined(__aarch64__)
		be->x86->read_vmcs(v->vcpu, VMCS_GUEST_PHYSICAL_ADDRESS, &gpa);
#endif
		v->refused_said = true;
		hvd_warn("session %llu vcpu %u: the kernel gave no page for the guest's "
			 "access to GPA %#llx, which is mapped: out of memory (with --cgroups, "
			 "the tenant's cgroup at its limit); hv_vcpu_run returns HV_NO_RESOURCES",
			 (unsigned long long)v->session->id, v->id, (unsigned long long)gpa);
	} else if (r < 0) {
		hvd_debug("session %llu vcpu %u: run failed: %s",
			 (unsigned long long)v->session->id, v->id, strerror(-r));
	}
	state_out(v, &page->state);
	int32_t result = hvs_errno_to_hv(r);
	/* A run cut short because the session is going away (hvd stopping,
	 * an admin's kill) must not look like an ordinary exit. */
	if (atomic_load(&v->stop))
		result = HV_ERROR;
	/* Statistics for hvctl show, from our own copy of the exit. */
	uint32_t full = 0, reason;
#if defined(__aarch64__)
	/* By exception class, then Apple's other reasons; a SYNC (register
	 * write-through between runs) is not a run. */
	uint32_t why, ec;
	if (op != HA64_OP_RUN) {
		hvd_runpage_server_reply(page, seq, result);
		return;
	}
	be->arm64->last_exit(v->vcpu, &why, &ec);
	full = why == HA64_EXIT_EXCEPTION ? ec : HVD_A64_EXIT_BASE + why;
	reason = full;
#else
	uint64_t field = 0;
	be->x86->read_vmcs(v->vcpu, VMCS_RO_EXIT_REASON, &field);
	full = (uint32_t)field;
	reason = full & 0xffff;
#endif
	atomic_fetch_add(&v->exits[reason < 71 ? reason : 71], 1);
	atomic_store(&v->last_exit, full);
	atomic_fetch_add(&v->runs, 1);
	hvd_runpage_server_reply(page, seq, result);
	/* After the answer: the client is on its way. Wall time less guest
	 * time (the backend's clock of the thread in the guest): what this
	 * run cost outside the guest, preemption included. */
	be->vcpu_exec_time(v->vcpu, &g1);
	uint64_t wall = now_ns() - t0, guest = g1 - g0;
	uint64_t out = wall > guest ? wall - guest : 0;
	atomic_fetch_add_explicit(&v->exit_hist[hvd_exit_bucket(out)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&v->exit_handling_ns, out, memory_order_relaxed);
}

/* The thread's signals, name, quota timer and seccomp filter. */
static void vcpu_setup(struct hvd_vcpu *v)
{
	int kick = v->session->d->be->kick_signal();

	atomic_store(&v->tid, (pid_t)gettid());

	/* Process-directed signals (SIGTERM, SIGHUP, ...) belong to the loop
	 * thread, where libuv turns them into events; only the kick reaches
	 * this thread. (A signal handled here would also run libuv's handler
	 * under this thread's seccomp filter, which refuses its read().) */
	sigset_t mask;
	sigfillset(&mask);
	sigdelset(&mask, kick);
	/* A fault in a guest-memory copy must reach the guard (hvb_guard.c):
	 * a blocked SIGBUS kills the process. */
	sigdelset(&mask, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	/* So that administrators (top -H, ps -L) and the CPU-quota tests
	 * can tell guest work from hvd's own. */
	prctl(PR_SET_NAME, "hvd-vcpu", 0, 0, 0);

	/* The quota's timer: fires after a slice of this thread's CPU time
	 * with the kick signal, which only this thread takes. */
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = kick };
	sev._sigev_un._tid = gettid(); /* sigev_notify_thread_id: glibc >= 2.41 */
	pthread_mutex_lock(&v->lock);  /* hvd_vcpu_set_budget arms it too */
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &v->timer) == 0)
		v->has_timer = true;
	pthread_mutex_unlock(&v->lock);
	if (!v->has_timer)
		hvd_warn("vcpu %u: no CPU-time timer (%s): a guest that never exits "
			 "is charged only at its exits", v->id, strerror(errno));

	if (!hvd_sandbox_off) {
		int r = hvd_sandbox_vcpu_thread();
		if (r == -ENOTSUP)
			hvd_debug("vcpu %u: no seccomp filter in a sanitizer build", v->id);
		else if (r < 0)
			hvd_warn("vcpu %u: no seccomp filter: %s", v->id, strerror(-r));
		else if (v->session->d->test.sandbox_selftest) {
			/* For the tests: a call outside the list must fail. */
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			hvd_warn("sandbox self-test: vCPU thread socket(): %s",
				 fd < 0 ? strerror(errno) : "allowed");
			if (fd >= 0)
				close(fd);
		}
	}
}

/*
 * The thread's loop as explicit states. It starts by looking for work and
 * comes back to looking after each piece; a stop wins over everything,
 * then forwarded calls (their client thread waits), then the run the
 * client asked for; with nothing to do it polls and sleeps.
 */
enum vcpu_state {
	VCPU_LOOK,                     /* find the next thing to do */
	VCPU_CALL,                     /* serve the forwarded call `op` */
	VCPU_RUN,                      /* serve the run `req` */
	VCPU_IDLE,                     /* nothing to do: wait for a run or a post */
	VCPU_STOPPED,                  /* end: hvd stops the session */
	VCPU_DESTROYED,                /* end: the client destroyed the vCPU */
};

struct vcpu_loop {
	struct hvd_vcpu *v;
	struct hvd_op *op;             /* VCPU_CALL's */
	uint32_t req;                  /* VCPU_RUN's */
	uint32_t done;                 /* the last run answered */
	uint32_t wake;                 /* v->wake before the last look at the queue */
};

static enum vcpu_state vcpu_look(struct vcpu_loop *l)
{
	struct hvd_vcpu *v = l->v;

	/* A run requested after the stop must not look served. */
	if (atomic_load(&v->stop))
		return VCPU_STOPPED;
	if ((l->op = op_pop(v)))
		return VCPU_CALL;
	if (atomic_load(&v->stop))
		return VCPU_STOPPED;
	l->req = hvd_runpage_server_request(v->page);
	if (l->req != l->done)
		return VCPU_RUN;
	/* Read before the last look at the queue: a post after it moves the
	 * word, and the wait does not sleep. */
	l->wake = atomic_load(&v->wake);
	if (op_pending(v))
		return VCPU_LOOK;
	return VCPU_IDLE;
}

static enum vcpu_state vcpu_call(struct vcpu_loop *l)
{
	struct hvd_vcpu *v = l->v;
	struct hvd_op *op = l->op;

	l->op = NULL;
	if (op->destroy) {
		op->status = hvs_errno_to_hv(backend_destroy(v));
		op_done(v, op);
		return VCPU_DESTROYED;
	}
	/* The owner thread waits for this reply, so the page is quiescent:
	 * take its state, act, give it back. */
	state_take(v);
	hvd_vcpuop_run(v, op);
	state_out(v, &v->page->state);
	op_done(v, op);
	return VCPU_LOOK;
}

static enum vcpu_state vcpu_serve_run(struct vcpu_loop *l)
{
	do_run(l->v, l->req);
	l->done = l->req;
	return VCPU_LOOK;
}

static enum vcpu_state vcpu_idle(struct vcpu_loop *l)
{
	struct hvd_vcpu *v = l->v;

	/* Poll briefly for the next run, unless the tenant's CPU is metered
	 * (then the spin would be charged to it and spend its budget on
	 * waiting rather than on its guest). */
	hvd_runpage_server_wait(v->page, l->done, &v->wake, l->wake, v->charging ? 0 : SPIN_NS,
				&v->stop, WAIT_NS);
	return VCPU_LOOK;
}

/* The vCPU (unless the client destroyed it), the timer, and an answer
 * for the calls that raced with the end, so no client thread waits
 * forever. */
static void vcpu_teardown(struct hvd_vcpu *v, enum vcpu_state end)
{
	if (end != VCPU_DESTROYED && v->vcpu) {
		int r = backend_destroy(v);
		if (r < 0)
			hvd_warn("vcpu %u: destroy failed: %s", v->id, strerror(-r));
	}
	pthread_mutex_lock(&v->lock);
	if (v->has_timer)
		timer_delete(v->timer);
	v->has_timer = false;
	pthread_mutex_unlock(&v->lock);
	atomic_store(&v->exited, true);
	for (struct hvd_op *op; (op = op_pop(v));) {
		op->status = HV_BAD_ARGUMENT;
		op->destroy = false;
		op_done(v, op);
	}
}

/*
 * A thread started ahead: it sets itself up (and the VM: the MSR filter's
 * grace period) while the client is still busy between hv_vm_create and
 * hv_vcpu_create, then waits until hv_vcpu_create gives it its vCPU
 * (hvd_vcpu_take) or the VM goes. True when given one.
 */
static bool vcpu_park(struct hvd_vcpu *v)
{
	struct hvd_session *s = v->session;
	const struct hvb_ops *be = s->d->be;

	/* On failure the first vCPU's creation sets it, as without this. */
	if (be->x86 && be->x86->vm_prepare)
		(void)be->x86->vm_prepare(s->vm);
	vcpu_setup(v);
	pthread_mutex_lock(&v->lock);
	v->parked = true;
	pthread_cond_broadcast(&v->cond);
	while (!v->taken && !atomic_load(&v->stop))
		pthread_cond_wait(&v->cond, &v->lock);
	bool taken = v->taken;
	pthread_mutex_unlock(&v->lock);
	if (!taken)
		vcpu_teardown(v, VCPU_STOPPED);
	return taken;
}

static void *vcpu_main(void *arg)
{
	struct vcpu_loop l = { .v = arg };
	enum vcpu_state st = VCPU_LOOK;

	if (!l.v->ahead)
		vcpu_setup(l.v);
	else if (!vcpu_park(l.v))
		return NULL;
	/* While the answer to hv_vcpu_create travels to the client. */
	const struct hvb_ops *be = l.v->session->d->be;
	if (be->vcpu_prepare)
		(void)be->vcpu_prepare(l.v->vcpu);
	while (st != VCPU_STOPPED && st != VCPU_DESTROYED) {
		switch (st) {
		case VCPU_LOOK:
			st = vcpu_look(&l);
			break;
		case VCPU_CALL:
			st = vcpu_call(&l);
			break;
		case VCPU_RUN:
			st = vcpu_serve_run(&l);
			break;
		case VCPU_IDLE:
			st = vcpu_idle(&l);
			break;
		case VCPU_STOPPED:
		case VCPU_DESTROYED:
			break;
		}
	}
	vcpu_teardown(l.v, st);
	return NULL;
}

/* ---- the loop thread's calls ---- */

static void vcpu_release(struct hvd_vcpu *v);

/* A vCPU's record and run page, no backend vCPU or thread yet. */
static struct hvd_vcpu *vcpu_alloc(struct hvd_session *s, int *err)
{
	struct hvd_vcpu *v = calloc(1, sizeof(*v));
	if (!v) {
		*err = -ENOMEM;
		return NULL;
	}
	v->session = s;
	v->page_fd = -1;
	v->page = MAP_FAILED;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->ops_tail = &v->ops;
	v->page_size = hvd_runpage_size();

	v->page_fd = memfd_create("hvd-run-page", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (v->page_fd < 0 ||
	    ftruncate(v->page_fd, (off_t)v->page_size) < 0 ||
	    fcntl(v->page_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (v->page = mmap(NULL, v->page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			    v->page_fd, 0)) == MAP_FAILED) {
		*err = -errno;
		vcpu_release(v);
		return NULL;
	}
	return v;
}

/* The record of a vCPU whose thread never ran or has been joined. */
static void vcpu_release(struct hvd_vcpu *v)
{
	if (v->page != MAP_FAILED)
		munmap(v->page, v->page_size);
	if (v->page_fd >= 0)
		close(v->page_fd);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* With the backend's vCPU made: its id, quota hook and budget, and its
 * state on the run page for the client. */
static void vcpu_finish(struct hvd_vcpu *v)
{
	struct hvd_session *s = v->session;
	const struct hvb_ops *be = s->d->be;

	v->id = be->vcpu_id(v->vcpu);
	be->vcpu_set_throttle(v->vcpu, vcpu_throttle, v);
	/* Recorded only: the thread's first entry looks at it anyway. */
	pthread_mutex_lock(&v->lock);
	budget_record(v, s->tenant ? &s->tenant->cpu : NULL);
	pthread_mutex_unlock(&v->lock);
	hvd_runpage_server_init(v->page);
	state_out(v, &v->page->state);
}

int hvd_vcpu_start(struct hvd_session *s, struct hvd_vcpu **out)
{
	const struct hvb_ops *be = s->d->be;
	int r;
	struct hvd_vcpu *v = vcpu_alloc(s, &r);

	if (!v)
		return r;
	r = be->vcpu_create(s->vm, 0, &v->vcpu);
	if (r < 0) {
		vcpu_release(v);
		return r;
	}
	vcpu_finish(v);
	r = pthread_create(&v->thread, NULL, vcpu_main, v);
	if (r) {
		be->vcpu_destroy(v->vcpu);
		vcpu_release(v);
		return -r;
	}
	*out = v;
	return 0;
}

int hvd_vcpu_ahead(struct hvd_session *s, struct hvd_vcpu **out)
{
	int r;
	struct hvd_vcpu *v = vcpu_alloc(s, &r);

	if (!v)
		return r;
	v->ahead = true;
	r = pthread_create(&v->thread, NULL, vcpu_main, v);
	if (r) {
		vcpu_release(v);
		return -r;
	}
	*out = v;
	return 0;
}

int hvd_vcpu_take(struct hvd_vcpu *v)
{
	struct hvd_session *s = v->session;
	struct hvb_vcpu *vcpu;

	/* Until it is set up: after that no vCPU creation can race with
	 * the VM's preparation. */
	pthread_mutex_lock(&v->lock);
	while (!v->parked)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	int r = s->d->be->vcpu_create(s->vm, 0, &vcpu);
	if (r < 0)
		return r;
	pthread_mutex_lock(&v->lock);  /* hvd_vcpu_kick reads it */
	v->vcpu = vcpu;
	pthread_mutex_unlock(&v->lock);
	/* The thread waits for `taken` and does not touch the vCPU meanwhile. */
	vcpu_finish(v);
	pthread_mutex_lock(&v->lock);
	v->taken = true;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void hvd_vcpu_post(struct hvd_vcpu *v, struct hvd_op *op)
{
	op->next = NULL;
	pthread_mutex_lock(&v->lock);
	*v->ops_tail = op;
	v->ops_tail = &op->next;
	pthread_mutex_unlock(&v->lock);
	/* Wake the thread if it sleeps waiting for a run. (If it is in the
	 * guest, only a raw client asking from another thread can cause that;
	 * the op then waits for the exit, and only that client waits.) */
	wake_thread(v);
}

void hvd_vcpu_kick(struct hvd_vcpu *v)
{
	/* Under the lock: the thread may be destroying the vCPU. */
	pthread_mutex_lock(&v->lock);
	if (v->vcpu)
		v->session->d->be->vcpu_kick(v->vcpu);
	pthread_mutex_unlock(&v->lock);
}

void hvd_vcpu_stop(struct hvd_vcpu *v)
{
	atomic_store(&v->stop, true);
	hvd_vcpu_kick(v);
	wake_thread(v);
	/* A thread started ahead waits on the condition until it is given
	 * its vCPU. */
	pthread_mutex_lock(&v->lock);
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

void hvd_vcpu_free(struct hvd_vcpu *v)
{
	pthread_join(v->thread, NULL);
	vcpu_release(v);
}
