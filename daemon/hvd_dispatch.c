/*
 * Request dispatch: every RPC has one row in `handlers`, indexed by its
 * field number in hvd.proto, checked at compile time to cover them all.
 * A row says whether the request needs a VM and whether it runs on the
 * loop thread or is forwarded to the vCPU's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

#include "hvs_errmap.h"
#include "hvd.h"
#include "hvd_ident.h"
#include "hvd_ops.h"

int32_t hvd_status_from_errno(int err)
{
	return hvs_errno_to_hv(err);
}

#define PAGE 4096ull

static struct hvd_vcpu *find_vcpu(struct hvd_session *s, uint32_t id)
{
	if (id >= HVB_MAX_VCPUS)
		return NULL;
	struct hvd_vcpu *v = s->vcpus[id];
	return v && !atomic_load(&v->exited) ? v : NULL;
}

static unsigned live_vcpus(struct hvd_session *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		n += s->vcpus[i] != NULL;
	return n;
}

/* Release host mappings of guest RAM that no mapping uses any more. */
static void backings_release_unused(struct hvd_session *s)
{
	struct hvd_backing **pp = &s->backings;
	while (*pp) {
		struct hvd_backing *b = *pp;
		if (s->vm && hvb_vm_hva_in_use(s->vm, b->addr, b->size)) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		munmap(b->addr, b->size);
		close(b->fd);
		free(b);
	}
}

/* Re-read the session's guest memory use and move the difference into
 * its tenant's account. */
static void usage_refresh(struct hvd_session *s)
{
	uint64_t bytes = 0;
	uint32_t maps = 0;
	if (s->vm)
		hvb_vm_usage(s->vm, &bytes, &maps);
	if (s->tenant) {
		s->tenant->usage.memory += bytes - s->mem_bytes;
		s->tenant->usage.mappings += maps - s->mappings;
	}
	s->mem_bytes = bytes;
	s->mappings = maps;
}

/* ---- loop-thread handlers: fill `resp`, return the fd to send or -1 ---- */

static int h_hello(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	static Hvd__HelloReply hello;
	static uint64_t caps[33];
	static uint32_t caps_status[33];
	(void)fd;

	hvd__hello_reply__init(&hello);
	hello.version = HVD_PROTOCOL_VERSION;
	hello.run_page_size = (uint32_t)sizeof(struct hvd_run_page);
	hello.run_page_version = HVD_RUN_PAGE_VERSION;
	hello.max_vcpus = hvb_host_info(s->d->host)->max_vcpus;
	for (unsigned i = 0; i < 33; i++) {
		int r = hvb_vmx_read_capability(s->d->host, i, &caps[i]);
		caps_status[i] = r < 0 ? (uint32_t)-r : 0;
		if (r < 0)
			caps[i] = 0;
	}
	hello.n_vmx_caps = 33;
	hello.vmx_caps = caps;
	hello.n_vmx_caps_status = 33;
	hello.vmx_caps_status = caps_status;
	hello.session_nonce = s->nonce;
	resp->hello = &hello;
	const struct hvp_limits *lim = hvp_limits(s->d->policy);
	unsigned clients = 0;
	for (struct hvd_session *o = s->d->sessions; o; o = o->next)
		clients += !o->closing && o->hello_done;
	/* The host-wide limit holds for everyone; under it, each uid but the
	 * administrators' has a share. */
	if (lim->max_clients && clients >= lim->max_clients) {
		resp->status = HV_NO_RESOURCES;
		resp->error = "hvd has as many clients as it allows (max_clients)";
		hvd_audit(s, "hello", "quota", resp->error);
		return -1;
	}
	if (!s->admin && lim->max_clients_per_uid &&
	    hvd_sessions_of_uid(s->d, s->uid, true) >= lim->max_clients_per_uid) {
		resp->status = HV_NO_RESOURCES;
		resp->error = "this uid has as many connections to hvd as it may (max_clients_per_uid)";
		hvd_audit(s, "hello", "quota", resp->error);
		return -1;
	}
	if (req->hello->version != HVD_PROTOCOL_VERSION) {
		hvd_warn("session %llu speaks protocol %u, hvd speaks %u",
			 (unsigned long long)s->id, req->hello->version, HVD_PROTOCOL_VERSION);
		resp->status = HV_UNSUPPORTED;
		return -1;
	}
	s->hello_done = true;
	return -1;
}

static void vm_create_now(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp)
{
	resp->status = hvd_status_from_errno(hvb_vm_create(s->d->host, req->vm_create->flags,
							   &s->vm));
	if (resp->status == HV_SUCCESS) {
		hvd_info("session %llu: VM created", (unsigned long long)s->id);
		s->vm_created_ms = hvd_now_ms();
		if (s->tenant)
			s->tenant->usage.vms++;
	} else {
		s->vm = NULL;
	}
}

/* hvd-ident has looked at the process again: is it still the one, running
 * the code, that the grant was decided for? */
static void vm_create_checked(struct hvd_session *s, int err, const struct hvp_identity *now,
			      void *arg)
{
	Hvd__Request *req = s->deferred;
	Hvd__Response resp = HVD__RESPONSE__INIT;
	char msg[300];

	(void)arg;
	s->deferred = NULL;
	s->waiting = false;
	resp.id = req->id;
	const char *why = hvd_policy_same_process(s, err, now);
	if (why || s->vm) {
		resp.status = s->vm ? HV_BUSY : HV_DENIED;
		if (why) {
			snprintf(msg, sizeof(msg), "grant not honoured: %s", why);
			resp.error = msg;
			hvd_warn("session %llu (pid %d): vm_create refused: %s",
				 (unsigned long long)s->id, (int)s->pid, msg);
			hvd_audit(s, "vm_create", "deny", msg);
		}
	} else {
		vm_create_now(s, req, &resp);
	}
	hvd_session_reply(s, &resp, -1);
	hvd__request__free_unpacked(req, NULL);
	hvd_session_resume(s);
}

static int h_vm_create(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	const uint64_t known = HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE |
		HV_VM_MITIGATION_B_ENABLE | HV_VM_MITIGATION_C_ENABLE |
		HV_VM_MITIGATION_D_ENABLE | HV_VM_MITIGATION_E_ENABLE;
	uint64_t flags = req->vm_create->flags;
	(void)fd;

	if (s->vm)
		resp->status = HV_BUSY;
	else if (flags & HV_VM_ACCEL_APIC)
		resp->status = HV_UNSUPPORTED;
	else if (flags & ~known)
		resp->status = HV_BAD_ARGUMENT;
	if (resp->status != HV_SUCCESS)
		return -1;
	if (!s->exe_bound) {
		vm_create_now(s, req, resp);
		return -1;
	}
	/* Rights from a grant: the request must come from a process that
	 * read this connection's Hello reply, and the process must still be
	 * the one, running the same code, that was identified. */
	if (req->vm_create->session_nonce != s->nonce) {
		resp->status = HV_DENIED;
		resp->error = "grant not honoured: vm_create without this connection's nonce "
			      "(written before hvd identified the process?)";
		hvd_audit(s, "vm_create", "deny", resp->error);
		return -1;
	}
	s->deferred = req;
	s->waiting = true;
	uv_poll_stop(&s->poll);
	if (hvd_ident_submit(s, s->pid, s->pidfd, vm_create_checked, NULL) < 0)
		vm_create_checked(s, -EIO, NULL, NULL);
	return HVD_REPLY_LATER;
}

/*
 * Guest-memory changes run off the loop thread. KVM_SET_USER_MEMORY_REGION
 * waits for an SRCU grace period of the VM, which took 1-4 s on a loaded
 * 2-CPU host (found by chaos.restart): on the loop thread that stalled
 * every client of every tenant. hv_vm_map, hv_vm_unmap and hv_vm_protect
 * make their KVM change on a thread of their own; the session is not read
 * until the change is done and answered, so its requests stay in order,
 * while other sessions go on. Everything else (checks, mmap of the memfd,
 * backings, accounting, the reply) stays on the loop thread.
 * hv_vm_destroy goes the same way: KVM's teardown of the VM waits for a
 * grace period too.
 */

struct hvd_memop {
	pthread_t thread;
	struct hvd_session *s;
	struct hvb_vm *vm;
	Hvd__Request *req;
	void *addr;                    /* vm_map: hvd's mapping of the memfd */
	int fd;                        /* vm_map: the memfd */
	int r;                         /* the backend's answer */
	_Atomic bool finished;
};

/* The thread of one change: the KVM part only, then a wake-up of the loop
 * (the session's async, as for vCPU ops). A thread per change rather than
 * libuv's pool: it is gone when the change is answered, so hvd's threads
 * are its vCPU threads and the loop, as the tests and operators count. */
/* For the tests only: HVD_TEST_MEMOP_DELAY_MS makes every memory change,
 * HVD_TEST_DESTROY_DELAY_MS every hv_vm_destroy, take that much longer,
 * as a slow KVM call would. Read once, before the first change. */
static long memop_delay_ms = -1, destroy_delay_ms = -1;

static void test_delay(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000l };
	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *memop_thread(void *arg)
{
	struct hvd_memop *m = arg;
	Hvd__Request *req = m->req;

	test_delay(req->op_case == HVD__REQUEST__OP_VM_DESTROY ? destroy_delay_ms : memop_delay_ms);
	switch (req->op_case) {
	case HVD__REQUEST__OP_VM_MAP:
		m->r = hvb_vm_map(m->vm, m->addr, req->vm_map->gpa, req->vm_map->size,
				  (uint32_t)req->vm_map->flags);
		break;
	case HVD__REQUEST__OP_VM_UNMAP:
		m->r = hvb_vm_unmap(m->vm, req->vm_unmap->gpa, req->vm_unmap->size);
		break;
	case HVD__REQUEST__OP_VM_PROTECT:
		m->r = hvb_vm_protect(m->vm, req->vm_protect->gpa, req->vm_protect->size,
				      (uint32_t)req->vm_protect->flags);
		break;
	case HVD__REQUEST__OP_VM_DESTROY:
		m->r = hvb_vm_destroy(m->vm);
		break;
	default:
		m->r = -EINVAL;
	}
	atomic_store(&m->finished, true);
	uv_async_send(&m->s->async);
	return NULL;
}

void hvd_memop_poll(struct hvd_session *s)
{
	struct hvd_memop *m = s->memop;
	Hvd__Response resp = HVD__RESPONSE__INIT;

	if (!m || !atomic_load(&m->finished))
		return;
	/* It has nothing left to do but return. */
	pthread_join(m->thread, NULL);
	resp.id = m->req->id;
	resp.status = hvd_status_from_errno(m->r);
	if (m->req->op_case == HVD__REQUEST__OP_VM_MAP) {
		struct hvd_backing *b = m->r == 0 ? calloc(1, sizeof(*b)) : NULL;
		if (m->r == 0 && !b) {
			hvb_vm_unmap(m->vm, m->req->vm_map->gpa, m->req->vm_map->size);
			resp.status = HV_NO_RESOURCES;
		}
		if (b) {
			b->addr = m->addr;
			b->size = m->req->vm_map->size;
			b->fd = m->fd;
			b->next = s->backings;
			s->backings = b;
		} else {
			munmap(m->addr, m->req->vm_map->size);
			close(m->fd);
		}
	} else if (m->req->op_case == HVD__REQUEST__OP_VM_UNMAP) {
		backings_release_unused(s);
	} else if (m->req->op_case == HVD__REQUEST__OP_VM_DESTROY && m->r == 0) {
		/* The VM is gone (a session closed meanwhile has nothing
		 * left for its reaper to destroy). */
		s->vm = NULL;
		backings_release_unused(s);
		if (s->tenant)
			s->tenant->usage.vms--;
	}
	s->memop = NULL;
	/* What the VM holds now, whatever was charged ahead. (A closed
	 * session has left its tenant: only its own counters change.) */
	usage_refresh(s);
	hvd__request__free_unpacked(m->req, NULL);
	free(m);
	if (s->closing) {
		if (s->reap_after_memop)
			hvd_session_reap(s);
		return;
	}
	hvd_session_reply(s, &resp, -1);
	hvd_session_resume(s);
}

static int memop_start(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp,
		       void *addr, int fd)
{
	struct hvd_memop *m = calloc(1, sizeof(*m));
	int r = m ? 0 : ENOMEM;

	if (memop_delay_ms < 0) {
		const char *e = getenv("HVD_TEST_MEMOP_DELAY_MS");
		memop_delay_ms = e ? atol(e) : 0;
		e = getenv("HVD_TEST_DESTROY_DELAY_MS");
		destroy_delay_ms = e ? atol(e) : 0;
	}
	if (m) {
		m->s = s;
		m->vm = s->vm;
		m->req = req;
		m->addr = addr;
		m->fd = fd;
		r = hvd_thread_start(&m->thread, memop_thread, m);
	}
	if (r) {
		free(m);
		if (addr) {
			munmap(addr, req->vm_map->size);
			close(fd);
		}
		resp->status = HV_NO_RESOURCES;
		resp->error = "no thread for the memory change";
		return -1;
	}
	s->memop = m;
	uv_poll_stop(&s->poll);
	return HVD_REPLY_LATER;
}

static int h_vm_destroy(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	(void)req; (void)fd;
	if (live_vcpus(s)) {
		resp->status = HV_BUSY;
		return -1;
	}
	/* Closing a VM's descriptor waits for KVM to tear it down, which
	 * waits for an SRCU grace period (seen with ftrace): off the loop
	 * thread, as memory changes are. */
	resp->status = HV_SUCCESS;
	return memop_start(s, req, resp, NULL, -1);
}

/*
 * Why a descriptor cannot be guest memory, or NULL if it can. Only plain
 * shmem memfds sealed against shrinking and growing: hvd maps them and
 * reads and writes guest memory through the mapping, so nothing the
 * client does may make a page of it fault. Refused: anything not a
 * regular file on tmpfs/shmem (hugetlbfs, whose pages may not exist even
 * after a successful MAP_NORESERVE mapping, so the first touch raises
 * SIGBUS; secretmem; any other file system), and memfds the client could
 * still truncate or grow. (The backend's own accesses are fault-safe as
 * well; this keeps KVM and hvd from being handed such memory at all.)
 */
static const char *guest_memory_refusal(int fd, const Hvd__VmMap *m)
{
	struct statfs sfs;
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "not a regular file";
	if (fstatfs(fd, &sfs) < 0)
		return "fstatfs failed";
	if (sfs.f_type == HUGETLBFS_MAGIC)
		return "on hugetlbfs (its pages may not exist: SIGBUS on first touch)";
	if (sfs.f_type != TMPFS_MAGIC)
		return "not on tmpfs/shmem";
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return "not a memfd that takes seals";
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return "not sealed with F_SEAL_SHRINK and F_SEAL_GROW";
	if ((m->offset & (PAGE - 1)) || (m->size & (PAGE - 1)) || m->size == 0)
		return "offset or size not page-aligned, or size zero";
	if (m->offset + m->size < m->offset || (uint64_t)st.st_size < m->offset + m->size)
		return "range beyond the end of the memfd";
	return NULL;
}

static int h_vm_map(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	Hvd__VmMap *m = req->vm_map;

	resp->status = HV_BAD_ARGUMENT;
	if (fd < 0)
		return -1;
	const char *why = guest_memory_refusal(fd, m);
	if (why) {
		/* Debug level: a client could otherwise fill the log. */
		hvd_debug("session %llu: vm_map refused: guest memory fd %s",
			  (unsigned long long)s->id, why);
		resp->error = "guest memory must be a shmem memfd sealed with "
			      "F_SEAL_SHRINK and F_SEAL_GROW";
		close(fd);
		return -1;
	}
	void *addr = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			  fd, (off_t)m->offset);
	if (addr == MAP_FAILED) {
		resp->status = hvd_status_from_errno(-errno);
		close(fd);
		return -1;
	}
	/* Charged now, so that the tenant's other sessions see it while the
	 * change runs; usage_refresh puts the truth back when it is done. */
	s->mem_bytes += m->size;
	s->mappings++;
	if (s->tenant) {
		s->tenant->usage.memory += m->size;
		s->tenant->usage.mappings++;
	}
	resp->status = HV_SUCCESS;
	int r = memop_start(s, req, resp, addr, fd);
	if (r != HVD_REPLY_LATER)
		usage_refresh(s);
	return r;
}

static int h_vm_unmap(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	(void)fd;
	return memop_start(s, req, resp, NULL, -1);
}

static int h_vm_protect(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	(void)fd;
	Hvd__VmProtect *p = req->vm_protect;
	if (p->flags & ~(uint64_t)(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
	return memop_start(s, req, resp, NULL, -1);
}

static int h_vm_sync_tsc(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	(void)fd;
	resp->status = hvd_status_from_errno(hvb_vm_sync_tsc(s->vm, req->vm_sync_tsc->tsc));
	return -1;
}

static int h_capability(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	(void)fd;
	switch (req->capability->which) {
	case HV_CAP_VCPUMAX:
		resp->value = hvb_host_info(s->d->host)->max_vcpus;
		break;
	case HV_CAP_ADDRSPACEMAX:
		resp->value = 1;
		break;
	default:
		resp->status = HV_BAD_ARGUMENT;
	}
	return -1;
}

static int h_vcpu_create(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	struct hvd_vcpu *v;
	uint64_t flags = req->vcpu_create->flags;
	(void)fd;

	if (flags & HV_VCPU_TSC_RELATIVE) {
		resp->status = HV_UNSUPPORTED;
		return -1;
	}
	if (flags & ~(uint64_t)HV_VCPU_ACCEL_RDPMC) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
	int r = hvd_vcpu_start(s, &v);
	resp->status = hvd_status_from_errno(r);
	if (r < 0)
		return -1;
	if (s->vcpus[v->id]) {
		/* A destroyed vCPU whose thread has not been reaped yet. */
		hvd_vcpu_free(s->vcpus[v->id]);
	}
	s->vcpus[v->id] = v;
	resp->vcpu = v->id;
	if (s->tenant)
		s->tenant->usage.vcpus++;
	return v->page_fd;
}

static int h_vcpu_interrupt(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd)
{
	Hvd__VcpuInterrupt *k = req->vcpu_interrupt;
	(void)fd;
	if (k->n_vcpus == 0) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
	for (size_t i = 0; i < k->n_vcpus; i++) {
		if (!find_vcpu(s, k->vcpus[i])) {
			resp->status = HV_BAD_ARGUMENT;
			return -1;
		}
	}
	for (size_t i = 0; i < k->n_vcpus; i++)
		hvd_vcpu_kick(find_vcpu(s, k->vcpus[i]));
	return -1;
}

/* ---- vCPU-thread handlers ---- */

static uint32_t op_vcpu_id(const Hvd__Request *req)
{
	switch (req->op_case) {
	case HVD__REQUEST__OP_VCPU_DESTROY: return req->vcpu_destroy->vcpu;
	case HVD__REQUEST__OP_VCPU_REG: return req->vcpu_reg->vcpu;
	case HVD__REQUEST__OP_VCPU_VMCS: return req->vcpu_vmcs->vcpu;
	case HVD__REQUEST__OP_VCPU_MSR: return req->vcpu_msr->vcpu;
	case HVD__REQUEST__OP_VCPU_NATIVE_MSR: return req->vcpu_native_msr->vcpu;
	case HVD__REQUEST__OP_VCPU_FPSTATE: return req->vcpu_fpstate->vcpu;
	case HVD__REQUEST__OP_VCPU_INVALIDATE_TLB: return req->vcpu_invalidate_tlb->vcpu;
	case HVD__REQUEST__OP_VCPU_EXEC_TIME: return req->vcpu_exec_time->vcpu;
	default: return UINT32_MAX;
	}
}

void hvd_dispatch_vcpu_op(struct hvd_vcpu *v, struct hvd_op *op)
{
	Hvd__Request *req = op->req;
	struct hvb_vcpu *vc = v->vcpu;
	int r = 0;

	switch (req->op_case) {
	case HVD__REQUEST__OP_VCPU_REG:
		if (req->vcpu_reg->write)
			r = hvb_vcpu_write_reg(vc, req->vcpu_reg->reg, req->vcpu_reg->value);
		else
			r = hvb_vcpu_read_reg(vc, req->vcpu_reg->reg, &op->value);
		break;
	case HVD__REQUEST__OP_VCPU_VMCS:
		if (req->vcpu_vmcs->write)
			r = hvb_vcpu_write_vmcs(vc, req->vcpu_vmcs->field, req->vcpu_vmcs->value);
		else
			r = hvb_vcpu_read_vmcs(vc, req->vcpu_vmcs->field, &op->value);
		break;
	case HVD__REQUEST__OP_VCPU_MSR:
		if (req->vcpu_msr->write)
			r = hvb_vcpu_write_msr(vc, req->vcpu_msr->msr, req->vcpu_msr->value);
		else
			r = hvb_vcpu_read_msr(vc, req->vcpu_msr->msr, &op->value);
		break;
	case HVD__REQUEST__OP_VCPU_NATIVE_MSR:
		r = hvb_vcpu_enable_native_msr(vc, req->vcpu_native_msr->msr,
					       req->vcpu_native_msr->enable);
		break;
	case HVD__REQUEST__OP_VCPU_FPSTATE: {
		Hvd__VcpuFpstate *f = req->vcpu_fpstate;
		if (f->write) {
			r = hvb_vcpu_write_fpstate(vc, f->data.data, f->data.len);
		} else {
			size_t n = f->size > 4096 ? 4096 : f->size;
			op->data = calloc(1, n ? n : 1);
			if (!op->data) {
				r = -ENOMEM;
				break;
			}
			r = hvb_vcpu_read_fpstate(vc, op->data, n);
			op->data_len = r == 0 ? n : 0;
		}
		break;
	}
	case HVD__REQUEST__OP_VCPU_INVALIDATE_TLB:
		r = hvb_vcpu_invalidate_tlb(vc);
		break;
	case HVD__REQUEST__OP_VCPU_EXEC_TIME:
		r = hvb_vcpu_exec_time(vc, &op->value);
		break;
	default:
		r = -EINVAL;
	}
	op->status = hvd_status_from_errno(r);
}

/* ---- the table ---- */

typedef int (*handler_fn)(struct hvd_session *, Hvd__Request *, Hvd__Response *, int);

/*
 * What the policy must decide before a request runs. Every row names one;
 * ROW() has no default, so a row without a decision does not compile.
 */
enum act {
	ACT_OPEN = 1,    /* handshake and capabilities: any connected peer */
	ACT_VM_CREATE,   /* com.apple.security.hypervisor + the VM quota */
	ACT_VM,          /* on the session's own VM */
	ACT_MAP,         /* + the memory and mapping quotas */
	ACT_VCPU_CREATE, /* + the vCPU quotas */
	ACT_VCPU,        /* on the session's own vCPU */
	ACT_ADMIN_READ,  /* listings: admins see all, others their tenant */
	ACT_ADMIN_OWN,   /* kill: admin, or the VM's own tenant */
	ACT_ADMIN,       /* policy reload: admin only */
	ACT_EXPLAIN,     /* admin, or a process of the caller's own uid */
};

struct handler {
	const char *name;
	handler_fn loop;     /* runs on the loop thread; NULL: forwarded to the vCPU */
	bool needs_vm;
	enum act act;
};

#define OP_FIRST HVD__REQUEST__OP_HELLO
#define OP_LAST (HVD_OP_FIRST + HVD_OP_COUNT - 1)
#define ROW(op, n, fn, vm, act) [HVD__REQUEST__OP_##op - OP_FIRST] = { n, fn, vm, act }

static const struct handler handlers[] = {
	ROW(HELLO, "hello", h_hello, false, ACT_OPEN),
	ROW(VM_CREATE, "vm_create", h_vm_create, false, ACT_VM_CREATE),
	ROW(VM_DESTROY, "vm_destroy", h_vm_destroy, true, ACT_VM),
	ROW(VM_MAP, "vm_map", h_vm_map, true, ACT_MAP),
	ROW(VM_UNMAP, "vm_unmap", h_vm_unmap, true, ACT_VM),
	ROW(VM_PROTECT, "vm_protect", h_vm_protect, true, ACT_VM),
	ROW(VM_SYNC_TSC, "vm_sync_tsc", h_vm_sync_tsc, true, ACT_VM),
	ROW(CAPABILITY, "capability", h_capability, false, ACT_OPEN),
	ROW(VCPU_CREATE, "vcpu_create", h_vcpu_create, true, ACT_VCPU_CREATE),
	ROW(VCPU_DESTROY, "vcpu_destroy", NULL, true, ACT_VCPU),
	ROW(VCPU_REG, "vcpu_reg", NULL, true, ACT_VCPU),
	ROW(VCPU_VMCS, "vcpu_vmcs", NULL, true, ACT_VCPU),
	ROW(VCPU_MSR, "vcpu_msr", NULL, true, ACT_VCPU),
	ROW(VCPU_NATIVE_MSR, "vcpu_native_msr", NULL, true, ACT_VCPU),
	ROW(VCPU_FPSTATE, "vcpu_fpstate", NULL, true, ACT_VCPU),
	ROW(VCPU_INVALIDATE_TLB, "vcpu_invalidate_tlb", NULL, true, ACT_VCPU),
	ROW(VCPU_EXEC_TIME, "vcpu_exec_time", NULL, true, ACT_VCPU),
	ROW(VCPU_INTERRUPT, "vcpu_interrupt", h_vcpu_interrupt, true, ACT_VCPU),
	ROW(ADMIN_STATUS, "admin_status", hvd_admin_status, false, ACT_ADMIN_READ),
	ROW(ADMIN_LIST_VMS, "admin_list_vms", hvd_admin_list_vms, false, ACT_ADMIN_READ),
	ROW(ADMIN_SHOW_VM, "admin_show_vm", hvd_admin_show_vm, false, ACT_ADMIN_READ),
	ROW(ADMIN_KILL_VM, "admin_kill_vm", hvd_admin_kill_vm, false, ACT_ADMIN_OWN),
	ROW(ADMIN_CLIENTS, "admin_clients", hvd_admin_clients, false, ACT_ADMIN_READ),
	ROW(ADMIN_POLICY_RELOAD, "admin_policy_reload", hvd_admin_policy_reload, false, ACT_ADMIN),
	ROW(ADMIN_POLICY_EXPLAIN, "admin_policy_explain", hvd_admin_policy_explain, false, ACT_EXPLAIN),
};

/* A new RPC in hvd.proto without a row here fails the build: the count
 * comes from the .proto itself (hvd_ops.h). */
_Static_assert(OP_FIRST == HVD_OP_FIRST, "Hello is the first RPC");
_Static_assert(sizeof(handlers) / sizeof(handlers[0]) == HVD_OP_COUNT,
	       "every RPC in hvd.proto needs a row in handlers[]");

const char *hvd_dispatch_check_table(void)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (!handlers[i].name || !handlers[i].act)
			return handlers[i].name ? handlers[i].name : "(unnamed row)";
	return NULL;
}

static unsigned host_vms(struct hvd_daemon *d)
{
	unsigned n = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		n += !o->closing && o->vm;
	return n;
}

static unsigned host_vcpus(struct hvd_daemon *d)
{
	unsigned n = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		if (!o->closing)
			n += live_vcpus(o);
	return n;
}

/*
 * The one policy check every request passes. Returns HV_SUCCESS or the
 * status to answer with; decisions with consequences are audited.
 */
static int32_t authorize(struct hvd_session *s, const struct handler *h,
			 const Hvd__Request *req, char *why, size_t len)
{
	const struct hvp_quota *q = &s->grant.quota;
	struct hvp_usage none = { 0 };
	const struct hvp_usage *u = s->tenant ? &s->tenant->usage : &none;

	why[0] = 0;
	if (q->max_rpc_rate && s->tenant &&
	    !hvp_rate_take(&s->tenant->rate, q->max_rpc_rate, hvd_now_ms() * 1000000ull)) {
		snprintf(why, len, "rate of requests above %u/s", q->max_rpc_rate);
		/* One audit line a second per client, with the count, so a
		 * flood cannot fill the disk. */
		uint64_t now = hvd_now_ms();
		s->rate_refused++;
		if (now - s->rate_audit_ms >= 1000) {
			char line[640];
			snprintf(line, sizeof(line), "%s (%llu refused since the last line)", why,
				 (unsigned long long)s->rate_refused);
			hvd_audit(s, h->name, "quota", line);
			s->rate_audit_ms = now;
			s->rate_refused = 0;
		}
		/* Make the flooder wait for its next token before hvd reads
		 * from it again. */
		hvd_session_pause(s, 1000 / q->max_rpc_rate + 1);
		return HV_NO_RESOURCES;
	}
	/* Admin calls cost hvd more than they cost the caller (listings,
	 * probes of a process): a rate per uid, for all but administrators. */
	uint32_t admin_rate = hvp_limits(s->d->policy)->max_admin_rate;
	if (h->act >= ACT_ADMIN_READ && !s->admin && admin_rate &&
	    !hvp_rate_take(&s->share->admin_rate, admin_rate, hvd_now_ms() * 1000000ull)) {
		snprintf(why, len, "admin requests above %u/s from this uid (max_admin_rate)",
			 admin_rate);
		uint64_t now = hvd_now_ms();
		if (now - s->share->admin_audit_ms >= 1000) {
			hvd_audit(s, h->name, "quota", why);
			s->share->admin_audit_ms = now;
		}
		hvd_session_pause(s, 1000 / admin_rate + 1);
		return HV_NO_RESOURCES;
	}
	switch (h->act) {
	case ACT_OPEN:
	case ACT_VM:
	case ACT_VCPU:
	case ACT_ADMIN_READ:
		return HV_SUCCESS;
	case ACT_VM_CREATE:
		if (!(s->grant.ents & HVP_HYPERVISOR)) {
			snprintf(why, len, "no %s entitlement (%.400s)", HVP_ENT_HYPERVISOR,
				 s->grant.reason);
			hvd_audit(s, h->name, "deny", why);
			return HV_DENIED;
		}
		if (s->vm)
			return HV_SUCCESS; /* HV_BUSY from the handler */
		if (host_vms(s->d) >= hvp_limits(s->d->policy)->host_max_vms &&
		    hvp_limits(s->d->policy)->host_max_vms) {
			snprintf(why, len, "the host has as many VMs as it allows (host_max_vms %u)",
				 hvp_limits(s->d->policy)->host_max_vms);
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		if (hvp_check_vm(q, u, why, len) < 0) {
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		hvd_audit(s, h->name, "allow", "");
		return HV_SUCCESS;
	case ACT_MAP:
		if (hvp_check_map(q, u, req->vm_map->size, why, len) < 0) {
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		return HV_SUCCESS;
	case ACT_VCPU_CREATE: {
		uint32_t in_vm = 0;
		for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
			in_vm += s->vcpus[i] && !atomic_load(&s->vcpus[i]->exited);
		uint32_t host_max = hvp_limits(s->d->policy)->host_max_vcpus;
		if (host_max && host_vcpus(s->d) >= host_max) {
			snprintf(why, len, "the host has as many vCPUs as it allows "
				 "(host_max_vcpus %u)", host_max);
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		if (hvp_check_vcpu(q, u, in_vm, why, len) < 0) {
			hvd_audit(s, h->name, "quota", why);
			return HV_NO_RESOURCES;
		}
		return HV_SUCCESS;
	}
	case ACT_ADMIN_OWN:
		return HV_SUCCESS; /* the handler checks ownership of the VM */
	case ACT_ADMIN:
		if (!s->admin) {
			snprintf(why, len, "administrators only (root or the admin group)");
			hvd_audit(s, h->name, "deny", why);
			return HV_DENIED;
		}
		hvd_audit(s, h->name, "allow", "");
		return HV_SUCCESS;
	case ACT_EXPLAIN:
		return HV_SUCCESS; /* the handler checks whose process it is */
	}
	snprintf(why, len, "no policy decision for %s", h->name);
	return HV_DENIED;
}

void hvd_dispatch(struct hvd_session *s, Hvd__Request *req, int fd)
{
	Hvd__Response resp = HVD__RESPONSE__INIT;
	const struct handler *h = NULL;
	int out_fd = -1;

	resp.id = req->id;
	resp.status = HV_SUCCESS;
	if (req->op_case >= OP_FIRST && req->op_case <= OP_LAST)
		h = &handlers[req->op_case - OP_FIRST];
	if (!h || !h->name) {
		resp.status = HV_UNSUPPORTED;
		goto reply;
	}
	/* A descriptor only travels with vm_map. */
	if (fd >= 0 && req->op_case != HVD__REQUEST__OP_VM_MAP) {
		close(fd);
		fd = -1;
		resp.status = HV_BAD_ARGUMENT;
		goto reply;
	}
	if (h->needs_vm && !s->vm) {
		resp.status = HV_NO_DEVICE;
		goto reply;
	}
	char why[512];
	resp.status = authorize(s, h, req, why, sizeof(why));
	if (resp.status != HV_SUCCESS) {
		resp.error = why;
		goto reply;
	}
	hvd_debug("session %llu: %s", (unsigned long long)s->id, h->name);
	if (h->loop) {
		out_fd = h->loop(s, req, &resp, fd);
		fd = -1;
		if (out_fd == HVD_REPLY_LATER)
			return; /* hvd_memop_poll answers, and frees req */
		goto reply;
	}
	struct hvd_vcpu *v = find_vcpu(s, op_vcpu_id(req));
	if (!v) {
		resp.status = HV_BAD_ARGUMENT;
		goto reply;
	}
	unsigned max_inflight = hvp_limits(s->d->policy)->max_inflight;
	if (max_inflight && s->inflight >= max_inflight) {
		resp.status = HV_BUSY;
		resp.error = "too many vCPU requests waiting for an answer (max_inflight)";
		goto reply;
	}
	struct hvd_op *op = calloc(1, sizeof(*op));
	if (!op) {
		resp.status = HV_NO_RESOURCES;
		goto reply;
	}
	s->inflight++;
	op->session = s;
	op->request_id = req->id;
	op->req = req;
	op->destroy = req->op_case == HVD__REQUEST__OP_VCPU_DESTROY;
	op->value = op->destroy ? v->id : 0;
	hvd_vcpu_post(v, op);
	return; /* the vCPU thread replies */

reply:
	if (fd >= 0)
		close(fd);
	hvd_session_reply(s, &resp, out_fd);
	hvd_admin_reply_free(&resp);
	/* A refused handshake (version, max_clients) ends the connection
	 * once the client has the reason. */
	bool refused = req->op_case == HVD__REQUEST__OP_HELLO && resp.status != HV_SUCCESS;
	hvd__request__free_unpacked(req, NULL);
	if (refused)
		hvd_session_close(s, "handshake refused");
}
