/*
 * libhvclient: Apple's Hypervisor.framework API, served by hvd.
 *
 * VM-wide calls and the rare vCPU calls are RPCs. Registers and VMCS
 * fields live in each vCPU's run page, shared with hvd: reading and
 * writing them is plain memory access through the backend's pure state
 * accessors (the same code hvd runs), and hv_vcpu_run is one hand-off in
 * each direction through futex words in that page. Errors are mapped to
 * hv_return_t in one place, hvc_status.
 */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

#include "hvs_errmap.h"
#include "hvc.h"

#define MAX_VCPUS 64

/* How long hv_vcpu_run polls for the exit before sleeping: a round trip
 * is 5-10 us and a cross-CPU wake-up ~60 us (kvm-notes.md §12). */
#define SPIN_NS 100000ull
/* While asleep, how often to check that hvd is still there. */
#define LIVENESS_NS 100000000l

struct vcpu_slot {
	struct hvd_run_page *page;
	size_t page_size;
	pthread_t owner;
	uint32_t seq;
};

static struct {
	pthread_mutex_t lock;
	bool vm;
	struct vcpu_slot vcpus[MAX_VCPUS];
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The one place libhvclient turns errors into hv_return_t: a negative
 * errno from this library, or the lost connection to hvd. */
static hv_return_t hvc_status(int err)
{
	switch (-err) {
	case ECONNRESET: case EPIPE: case ENOTCONN: case EPROTO:
		return HV_ERROR;
	case ECONNREFUSED: case EPROTONOSUPPORT:
		return HV_NO_DEVICE;
	default:
		return hvs_errno_to_hv(err);
	}
}

/* An RPC whose only result is its status. */
static hv_return_t call(hvdp_Request *req, int send_fd)
{
	hvdp_Response resp;
	int r = hvc_rpc(req, send_fd, &resp, NULL);
	return r < 0 ? hvc_status(r) : (hv_return_t)resp.status;
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&g.lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&g.lock);
}

/* A forked child has no VM (Apple models a VM as its process). */
static void fork_child(void)
{
	for (unsigned i = 0; i < MAX_VCPUS; i++)
		if (g.vcpus[i].page)
			munmap(g.vcpus[i].page, g.vcpus[i].page_size);
	memset(g.vcpus, 0, sizeof(g.vcpus));
	g.vm = false;
	hvc_mem_fork_child();
	hvc_conn_forget();
	pthread_mutex_init(&g.lock, NULL);
}

static void fork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static hv_return_t have_vm(void)
{
	pthread_mutex_lock(&g.lock);
	bool vm = g.vm;
	pthread_mutex_unlock(&g.lock);
	return vm ? HV_SUCCESS : HV_NO_DEVICE;
}

/* The calling thread's vCPU `id`, or an error. */
static hv_return_t own_vcpu(hv_vcpuid_t id, struct vcpu_slot **out)
{
	hv_return_t ret = HV_SUCCESS;
	pthread_mutex_lock(&g.lock);
	if (!g.vm)
		ret = HV_NO_DEVICE;
	else if (id >= MAX_VCPUS || !g.vcpus[id].page ||
		 !pthread_equal(g.vcpus[id].owner, pthread_self()))
		ret = HV_BAD_ARGUMENT;
	else
		*out = &g.vcpus[id];
	pthread_mutex_unlock(&g.lock);
	return ret;
}

#define WITH_VCPU(id, v)                              \
	struct vcpu_slot *v = NULL;                   \
	do {                                          \
		hv_return_t wr_ = own_vcpu((id), &v); \
		if (wr_ != HV_SUCCESS)                \
			return wr_;                   \
	} while (0)

/* ---- VM ---- */

hv_return_t hv_capability(hv_capability_t capability, uint64_t *value)
{
	if (!value)
		return HV_BAD_ARGUMENT;
	hv_return_t ret = have_vm();
	if (ret != HV_SUCCESS)
		return ret;
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	req.which_op = hvdp_Request_capability_tag;
	req.op.capability.which = capability;
	int r = hvc_rpc(&req, -1, &resp, NULL);
	if (r < 0)
		return hvc_status(r);
	if (resp.status == HV_SUCCESS)
		*value = resp.value;
	return resp.status;
}

hv_return_t hv_vm_create(hv_vm_options_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	int r;

	pthread_once(&fork_once, fork_register);
	if ((r = hvc_connect()) < 0)
		return r == -ENOSPC ? HV_NO_RESOURCES : HV_NO_DEVICE;
	pthread_mutex_lock(&g.lock);
	if (g.vm) {
		pthread_mutex_unlock(&g.lock);
		return HV_BUSY;
	}
	req.which_op = hvdp_Request_vm_create_tag;
	req.op.vm_create.flags = flags;
	req.op.vm_create.session_nonce = hvc_session_nonce();
	hv_return_t ret = call(&req, -1);
	if (ret == HV_SUCCESS)
		g.vm = true;
	pthread_mutex_unlock(&g.lock);
	return ret;
}

hv_return_t hv_vm_destroy(void)
{
	hvdp_Request req = hvdp_Request_init_zero;
	pthread_mutex_lock(&g.lock);
	if (!g.vm) {
		pthread_mutex_unlock(&g.lock);
		return HV_NO_DEVICE;
	}
	req.which_op = hvdp_Request_vm_destroy_tag;
	hv_return_t ret = call(&req, -1);
	if (ret == HV_SUCCESS)
		g.vm = false;
	pthread_mutex_unlock(&g.lock);
	return ret;
}

hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size,
		      hv_memory_flags_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	uint64_t offset;
	int fd, r;

	hv_return_t ret = have_vm();
	if (ret != HV_SUCCESS)
		return ret;
	if (flags & ~(hv_memory_flags_t)(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC))
		return HV_BAD_ARGUMENT;
	if ((gpa & 4095) || gpa + size < gpa)
		return HV_BAD_ARGUMENT;
	if ((r = hvc_mem_share((void *)(uintptr_t)uva, size, &fd, &offset)) < 0)
		return r == -EFAULT ? HV_BAD_ARGUMENT : hvc_status(r);
	req.which_op = hvdp_Request_vm_map_tag;
	req.op.vm_map.gpa = gpa;
	req.op.vm_map.size = size;
	req.op.vm_map.flags = flags;
	req.op.vm_map.offset = offset;
	return call(&req, fd);
}

hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hv_return_t ret = have_vm();
	if (ret != HV_SUCCESS)
		return ret;
	req.which_op = hvdp_Request_vm_unmap_tag;
	req.op.vm_unmap.gpa = gpa;
	req.op.vm_unmap.size = size;
	return call(&req, -1);
}

hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hv_return_t ret = have_vm();
	if (ret != HV_SUCCESS)
		return ret;
	req.which_op = hvdp_Request_vm_protect_tag;
	req.op.vm_protect.gpa = gpa;
	req.op.vm_protect.size = size;
	req.op.vm_protect.flags = flags;
	return call(&req, -1);
}

hv_return_t hv_vm_sync_tsc(uint64_t tsc)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hv_return_t ret = have_vm();
	if (ret != HV_SUCCESS)
		return ret;
	req.which_op = hvdp_Request_vm_sync_tsc_tag;
	req.op.vm_sync_tsc.tsc = tsc;
	return call(&req, -1);
}

hv_return_t hv_vm_allocate(void **uvap, size_t size, hv_allocate_flags_t flags)
{
	if (flags != HV_ALLOCATE_DEFAULT)
		return HV_BAD_ARGUMENT;
	return hvc_status(hvc_mem_allocate(uvap, size));
}

hv_return_t hv_vm_deallocate(void *uva, size_t size)
{
	return hvc_status(hvc_mem_deallocate(uva, size));
}

/* ---- vCPU lifecycle ---- */

hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	int fd = -1, r;

	if (!vcpu)
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&g.lock);
	hv_return_t ret = HV_SUCCESS;
	if (!g.vm) {
		ret = HV_NO_DEVICE;
		goto out;
	}
	for (unsigned i = 0; i < MAX_VCPUS; i++) {
		if (g.vcpus[i].page && pthread_equal(g.vcpus[i].owner, pthread_self())) {
			ret = HV_BUSY; /* one vCPU per thread */
			goto out;
		}
	}
	req.which_op = hvdp_Request_vcpu_create_tag;
	req.op.vcpu_create.flags = flags;
	if ((r = hvc_rpc(&req, -1, &resp, &fd)) < 0) {
		ret = hvc_status(r);
		goto out;
	}
	ret = resp.status;
	if (ret != HV_SUCCESS)
		goto out;
	size_t size = (sizeof(struct hvd_run_page) + 4095) & ~(size_t)4095;
	void *page = fd >= 0 && resp.vcpu < MAX_VCPUS ?
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (fd >= 0)
		close(fd);
	if (page == MAP_FAILED || ((struct hvd_run_page *)page)->magic != HVD_RUN_PAGE_MAGIC) {
		if (page != MAP_FAILED)
			munmap(page, size);
		ret = HV_ERROR;
		goto out;
	}
	struct vcpu_slot *v = &g.vcpus[resp.vcpu];
	v->page = page;
	v->page_size = size;
	v->owner = pthread_self();
	v->seq = atomic_load(&v->page->done_seq);
	*vcpu = resp.vcpu;
out:
	pthread_mutex_unlock(&g.lock);
	return ret;
}

hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu)
{
	hvdp_Request req = hvdp_Request_init_zero;
	WITH_VCPU(vcpu, v);
	req.which_op = hvdp_Request_vcpu_destroy_tag;
	req.op.vcpu_destroy.vcpu = vcpu;
	hv_return_t ret = call(&req, -1);
	if (ret == HV_SUCCESS || !hvc_daemon_alive()) {
		pthread_mutex_lock(&g.lock);
		munmap(v->page, v->page_size);
		memset(v, 0, sizeof(*v));
		pthread_mutex_unlock(&g.lock);
	}
	return ret;
}

hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid)
{
	WITH_VCPU(vcpu, v);
	(void)v;
	return asid == HV_VM_SPACE_DEFAULT ? HV_SUCCESS : HV_UNSUPPORTED;
}

/* ---- registers and VMCS: the run page ---- */

/* A field that lives only in KVM (debug registers, XCR0): ask hvd. */
static hv_return_t slow_reg(hv_vcpuid_t vcpu, unsigned reg, uint64_t *value, bool write)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	req.which_op = hvdp_Request_vcpu_reg_tag;
	req.op.vcpu_reg.vcpu = vcpu;
	req.op.vcpu_reg.reg = reg;
	req.op.vcpu_reg.value = write ? *value : 0;
	req.op.vcpu_reg.write = write;
	int r = hvc_rpc(&req, -1, &resp, NULL);
	if (r < 0)
		return hvc_status(r);
	if (!write && resp.status == HV_SUCCESS)
		*value = resp.value;
	return resp.status;
}

static hv_return_t slow_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value, bool write)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	req.which_op = hvdp_Request_vcpu_vmcs_tag;
	req.op.vcpu_vmcs.vcpu = vcpu;
	req.op.vcpu_vmcs.field = field;
	req.op.vcpu_vmcs.value = write ? *value : 0;
	req.op.vcpu_vmcs.write = write;
	int r = hvc_rpc(&req, -1, &resp, NULL);
	if (r < 0)
		return hvc_status(r);
	if (!write && resp.status == HV_SUCCESS)
		*value = resp.value;
	return resp.status;
}

hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	int r = hvs_read_reg(&v->page->state, (unsigned)reg, value);
	if (r == -EAGAIN)
		return slow_reg(vcpu, (unsigned)reg, value, false);
	return hvc_status(r);
}

hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	int r = hvs_write_reg(&v->page->state, (unsigned)reg, value);
	if (r == -EAGAIN)
		return slow_reg(vcpu, (unsigned)reg, &value, true);
	return hvc_status(r);
}

hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	int r = hvs_read_vmcs(&v->page->state, field, value);
	if (r == -EAGAIN)
		return slow_vmcs(vcpu, field, value, false);
	return hvc_status(r);
}

hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	int r = hvs_write_vmcs(&v->page->state, field, value);
	if (r == -EAGAIN)
		return slow_vmcs(vcpu, field, &value, true);
	return hvc_status(r);
}

hv_return_t hv_vmx_vcpu_get_cap_write_vmcs(hv_vcpuid_t vcpu, uint32_t field,
					   uint64_t *allowed_0, uint64_t *allowed_1)
{
	WITH_VCPU(vcpu, v);
	if (!allowed_0 || !allowed_1)
		return HV_BAD_ARGUMENT;
	return hvc_status(hvs_cap_write_vmcs(&v->page->state, field, allowed_0, allowed_1));
}

hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value)
{
	if (!value)
		return HV_BAD_ARGUMENT;
	int r = hvc_vmx_capability((unsigned)field, value);
	return r == -ECONNREFUSED || r == -ENOENT ? HV_NO_DEVICE : hvc_status(r);
}

/* ---- vCPU calls served by hvd's vCPU thread ---- */

static hv_return_t vcpu_value_call(hvdp_Request *req, uint64_t *value)
{
	hvdp_Response resp;
	int r = hvc_rpc(req, -1, &resp, NULL);
	if (r < 0)
		return hvc_status(r);
	if (value && resp.status == HV_SUCCESS)
		*value = resp.value;
	return resp.status;
}

hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t *value)
{
	hvdp_Request req = hvdp_Request_init_zero;
	WITH_VCPU(vcpu, v);
	(void)v;
	if (!value)
		return HV_BAD_ARGUMENT;
	req.which_op = hvdp_Request_vcpu_msr_tag;
	req.op.vcpu_msr.vcpu = vcpu;
	req.op.vcpu_msr.msr = msr;
	return vcpu_value_call(&req, value);
}

hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t value)
{
	hvdp_Request req = hvdp_Request_init_zero;
	WITH_VCPU(vcpu, v);
	(void)v;
	req.which_op = hvdp_Request_vcpu_msr_tag;
	req.op.vcpu_msr.vcpu = vcpu;
	req.op.vcpu_msr.msr = msr;
	req.op.vcpu_msr.value = value;
	req.op.vcpu_msr.write = true;
	return vcpu_value_call(&req, NULL);
}

hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable)
{
	hvdp_Request req = hvdp_Request_init_zero;
	WITH_VCPU(vcpu, v);
	(void)v;
	req.which_op = hvdp_Request_vcpu_native_msr_tag;
	req.op.vcpu_native_msr.vcpu = vcpu;
	req.op.vcpu_native_msr.msr = msr;
	req.op.vcpu_native_msr.enable = enable;
	return vcpu_value_call(&req, NULL);
}

hv_return_t hv_vcpu_enable_managed_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)msr; (void)enable;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_set_msr_access(hv_vcpuid_t vcpu, uint32_t msr, hv_msr_flags_t flags)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)msr; (void)flags;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	WITH_VCPU(vcpu, v);
	(void)v;
	if (!buffer || size < 512)
		return HV_BAD_ARGUMENT;
	req.which_op = hvdp_Request_vcpu_fpstate_tag;
	req.op.vcpu_fpstate.vcpu = vcpu;
	req.op.vcpu_fpstate.size = (uint32_t)(size > 4096 ? 4096 : size);
	int r = hvc_rpc(&req, -1, &resp, NULL);
	if (r < 0)
		return hvc_status(r);
	if (resp.status == HV_SUCCESS) {
		memset(buffer, 0, size);
		memcpy(buffer, resp.data.bytes, resp.data.size < size ? resp.data.size : size);
	}
	return resp.status;
}

hv_return_t hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	WITH_VCPU(vcpu, v);
	(void)v;
	if (!buffer || size < 512)
		return HV_BAD_ARGUMENT;
	size_t n = size > 4096 ? 4096 : size;
	req.which_op = hvdp_Request_vcpu_fpstate_tag;
	req.op.vcpu_fpstate.vcpu = vcpu;
	req.op.vcpu_fpstate.write = true;
	req.op.vcpu_fpstate.data.size = (pb_size_t)n;
	memcpy(req.op.vcpu_fpstate.data.bytes, buffer, n);
	return vcpu_value_call(&req, NULL);
}

hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu)
{
	/* Deprecated in macOS 11; Apple's returns HV_UNSUPPORTED. */
	WITH_VCPU(vcpu, v);
	(void)v;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu)
{
	hvdp_Request req = hvdp_Request_init_zero;
	WITH_VCPU(vcpu, v);
	(void)v;
	req.which_op = hvdp_Request_vcpu_invalidate_tlb_tag;
	req.op.vcpu_invalidate_tlb.vcpu = vcpu;
	return vcpu_value_call(&req, NULL);
}

hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time)
{
	hvdp_Request req = hvdp_Request_init_zero;
	WITH_VCPU(vcpu, v);
	(void)v;
	if (!time)
		return HV_BAD_ARGUMENT;
	req.which_op = hvdp_Request_vcpu_exec_time_tag;
	req.op.vcpu_exec_time.vcpu = vcpu;
	return vcpu_value_call(&req, time);
}

hv_return_t hv_vcpu_get_idle_time(hv_vcpuid_t vcpu, uint64_t *time)
{
	WITH_VCPU(vcpu, v);
	(void)v;
	if (!time)
		return HV_BAD_ARGUMENT;
	/* HLT always exits to the client here. */
	*time = 0;
	return HV_SUCCESS;
}

/* ---- running ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, long timeout_ns)
{
	struct timespec ts = { timeout_ns / 1000000000l, timeout_ns % 1000000000l };
	syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Hand the run page to hvd's vCPU thread and wait for the exit: spin
 * briefly, then sleep on the futex, checking that hvd is still alive. */
static hv_return_t run(struct vcpu_slot *v)
{
	struct hvd_run_page *page = v->page;
	if (!hvc_connected())
		return HV_ERROR; /* an earlier call found hvd gone */
	uint32_t seq = ++v->seq;

	int cpu = sched_getcpu();
	atomic_store(&page->client_cpu, (uint32_t)cpu);
	atomic_store_explicit(&page->req_seq, seq, memory_order_release);
	if (atomic_load(&page->daemon_sleeping))
		futex_wake(&page->req_seq);
	/* Spinning on the CPU hvd's vCPU thread runs on would only delay the
	 * exit we wait for (kvm-notes.md §12): sleep at once then. */
	uint64_t until = cpu == (int)atomic_load(&page->daemon_cpu) ? 0 : now_ns() + SPIN_NS;
	while (atomic_load_explicit(&page->done_seq, memory_order_acquire) != seq) {
		if (now_ns() < until) {
			__builtin_ia32_pause();
			continue;
		}
		atomic_store(&page->client_sleeping, 1);
		uint32_t cur = atomic_load(&page->done_seq);
		if (cur != seq)
			futex_wait(&page->done_seq, cur, LIVENESS_NS);
		atomic_store(&page->client_sleeping, 0);
		if (atomic_load(&page->done_seq) != seq && !hvc_daemon_alive())
			return HV_ERROR;
	}
	return page->result;
}

hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu)
{
	WITH_VCPU(vcpu, v);
	return run(v);
}

hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline)
{
	WITH_VCPU(vcpu, v);
	/* No VMX preemption timer here (HV_VMX_CAP_PREEMPTION_TIMER is 0). */
	if (deadline != HV_DEADLINE_FOREVER)
		return HV_UNSUPPORTED;
	return run(v);
}

hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count)
{
	hvdp_Request req = hvdp_Request_init_zero;
	if (!vcpus || vcpu_count == 0 || vcpu_count > MAX_VCPUS)
		return HV_BAD_ARGUMENT;
	hv_return_t ret = have_vm();
	if (ret != HV_SUCCESS)
		return ret;
	req.which_op = hvdp_Request_vcpu_interrupt_tag;
	req.op.vcpu_interrupt.vcpus_count = (pb_size_t)vcpu_count;
	memcpy(req.op.vcpu_interrupt.vcpus, vcpus, vcpu_count * sizeof(uint32_t));
	return call(&req, -1);
}

hv_return_t hv_vcpu_set_tsc_relative(hv_vcpuid_t vcpu, int64_t offset)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)offset;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_vmx_status(hv_vcpuid_t vcpu, uint32_t *status)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)status;
	return HV_UNSUPPORTED;
}

/* ---- unsupported VMX extras (see docs/differences.md) ---- */

hv_return_t hv_vmx_vcpu_read_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)field; (void)value;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_vcpu_write_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)field; (void)value;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_vcpu_set_shadow_access(hv_vcpuid_t vcpu, uint32_t field,
					  hv_shadow_flags_t flags)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)field; (void)flags;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_vcpu_set_apic_address(hv_vcpuid_t vcpu, hv_gpaddr_t gpa)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)gpa;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_vcpu_set_apic_address_space(hv_vcpuid_t vcpu, hv_vm_space_t asid,
					       hv_gpaddr_t gpa)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)asid; (void)gpa;
	return HV_UNSUPPORTED;
}
