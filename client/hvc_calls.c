/*
 * The calls both architectures' transports make to hvd the same way
 * (hvc_remote.c for Intel, hvc_remote64.c for arm64): the VM, its memory,
 * a vCPU's creation with its run page, its destruction, kicks, and the
 * run-page hand-off. Errors become hv_return_t in one place, hvc_status.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvc.h"
#include "hvd_hint.h"
#include "hvd_runpage.h"

/* How long a run polls for the exit before sleeping: a round trip is
 * 5-10 us and a cross-CPU wake-up ~60 us (kvm-notes.md §12). */
#define SPIN_NS 100000ull
/* While asleep, how often to check that hvd is still there. */
#define LIVENESS_NS 100000000l

hv_return_t hvc_status(int err)
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

/* The call a request serves, in the words of its user: Apple's name where
 * one request is one function, else the request's (docs/protocol.md). */
static const char *op_name(pb_size_t op)
{
	switch (op) {
	case hvdp_Request_hello_tag: return "connect";
	case hvdp_Request_vm_create_tag: return "hv_vm_create";
	case hvdp_Request_vm_destroy_tag: return "hv_vm_destroy";
	case hvdp_Request_vm_map_tag: return "hv_vm_map";
	case hvdp_Request_vm_unmap_tag: return "hv_vm_unmap";
	case hvdp_Request_vm_protect_tag: return "hv_vm_protect";
	case hvdp_Request_capability_tag: return "hv_capability";
	case hvdp_Request_vcpu_create_tag: return "hv_vcpu_create";
	case hvdp_Request_vcpu_destroy_tag: return "hv_vcpu_destroy";
	case hvdp_Request_vcpu_interrupt_tag: return "hv_vcpu_interrupt";
	case hvdp_Request_vcpu_reg_tag: return "vcpu_reg";
	case hvdp_Request_vcpu_msr_tag: return "vcpu_msr";
	case hvdp_Request_gic_create_tag: return "hv_gic_create";
	default: return "hvd request";
	}
}

/* A status other than HV_SUCCESS from hvd, said: denials and quotas once
 * with their fix, the rest only with HVD_DEBUG. */
static void refused(const hvdp_Request *req, const hvdp_Response *resp)
{
	const char *name = hvd_hint_status_name(resp->status);
	const char *why = hvc_resp_error(resp);
	const char *fix = hvd_hint_status_fix(resp->status, HVD_HINT_CLIENT);
	enum hvc_cause c = HVC_CAUSE_CALL;
	char num[16];

	if (!name) {
		snprintf(num, sizeof(num), "0x%08x", (unsigned)resp->status);
		name = num;
	}
	if (resp->status == HV_DENIED)
		c = HVC_CAUSE_DENIED;
	else if (resp->status == HV_NO_RESOURCES && *why)
		c = HVC_CAUSE_QUOTA; /* hvd names the limit; plain ENOMEM has no reason */
	hvc_err(c, "%s: %s: %s%s%s", op_name(req->which_op), name,
		*why ? why : hvd_hint_status_why(resp->status),
		fix && c != HVC_CAUSE_CALL ? " — " : "", fix && c != HVC_CAUSE_CALL ? fix : "");
}

hv_return_t hvc_call(hvdp_Request *req, int send_fd, uint64_t *value, int *recv_fd)
{
	hvdp_Response resp;
	int r = hvc_rpc(req, send_fd, &resp, recv_fd);
	if (r < 0)
		return hvc_status(r);
	if (resp.status != HV_SUCCESS)
		refused(req, &resp);
	else if (value)
		*value = resp.value;
	return resp.status;
}

hv_return_t hvc_open(void)
{
	int r = hvc_connect();
	if (r < 0)
		return r == -ENOSPC ? HV_NO_RESOURCES : HV_NO_DEVICE;
	return HV_SUCCESS;
}

hv_return_t hvc_vm_create(uint64_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vm_create_tag;
	req.op.vm_create.flags = flags;
	req.op.vm_create.session_nonce = hvc_session_nonce();
	return hvc_call(&req, -1, NULL, NULL);
}

hv_return_t hvc_vm_destroy(void)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vm_destroy_tag;
	return hvc_call(&req, -1, NULL, NULL);
}

hv_return_t hvc_vm_map(void *uva, uint64_t gpa, size_t size, uint64_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	uint64_t offset;
	int fd, r;

	/* hvc_mem_share said why it refused. */
	if ((r = hvc_mem_share(uva, size, &fd, &offset)) < 0)
		return r == -EFAULT || r == -EINVAL ? HV_BAD_ARGUMENT : hvc_status(r);
	req.which_op = hvdp_Request_vm_map_tag;
	req.op.vm_map.gpa = gpa;
	req.op.vm_map.size = size;
	req.op.vm_map.flags = flags;
	req.op.vm_map.offset = offset;
	return hvc_call(&req, fd, NULL, NULL);
}

hv_return_t hvc_vm_unmap(uint64_t gpa, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vm_unmap_tag;
	req.op.vm_unmap.gpa = gpa;
	req.op.vm_unmap.size = size;
	return hvc_call(&req, -1, NULL, NULL);
}

/* hvd checks the flags. */
hv_return_t hvc_vm_protect(uint64_t gpa, size_t size, uint64_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vm_protect_tag;
	req.op.vm_protect.gpa = gpa;
	req.op.vm_protect.size = size;
	req.op.vm_protect.flags = flags;
	return hvc_call(&req, -1, NULL, NULL);
}

hv_return_t hvc_vcpu_create(uint64_t flags, struct hvc_vcpu *v)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	int fd = -1, r;

	req.which_op = hvdp_Request_vcpu_create_tag;
	req.op.vcpu_create.flags = flags;
	if ((r = hvc_rpc(&req, -1, &resp, &fd)) < 0)
		return hvc_status(r);
	if (resp.status != HV_SUCCESS) {
		if (fd >= 0)
			close(fd);
		refused(&req, &resp);
		return resp.status;
	}
	size_t size = hvd_runpage_size();
	void *page = fd >= 0 && resp.vcpu < HVC_MAX_VCPUS ?
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	uint32_t seq;
	if (fd >= 0)
		close(fd);
	if (page == MAP_FAILED || !hvd_runpage_client_attach(page, &seq)) {
		if (page != MAP_FAILED)
			munmap(page, size);
		return HV_ERROR;
	}
	*v = (struct hvc_vcpu){ .id = resp.vcpu, .page = page, .page_size = size, .seq = seq };
	return HV_SUCCESS;
}

/* The run page goes with the vCPU, or when hvd is gone (then the vCPU is
 * gone with it). */
hv_return_t hvc_vcpu_destroy(struct hvc_vcpu *v, bool *gone)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_destroy_tag;
	req.op.vcpu_destroy.vcpu = v->id;
	hv_return_t ret = hvc_call(&req, -1, NULL, NULL);
	*gone = ret == HV_SUCCESS || !hvc_daemon_alive();
	if (*gone) {
		munmap(v->page, v->page_size);
		memset(v, 0, sizeof(*v));
	}
	return ret;
}

/* hvd checks the ids: it knows the same ones (and that of a vCPU whose
 * run page could not be mapped here). */
hv_return_t hvc_vcpus_interrupt(const uint32_t *ids, unsigned n)
{
	hvdp_Request req = hvdp_Request_init_zero;
	if (n > HVC_MAX_VCPUS)
		return HV_BAD_ARGUMENT;
	req.which_op = hvdp_Request_vcpu_interrupt_tag;
	req.op.vcpu_interrupt.vcpus_count = (pb_size_t)n;
	memcpy(req.op.vcpu_interrupt.vcpus, ids, n * sizeof(uint32_t));
	return hvc_call(&req, -1, NULL, NULL);
}

static bool daemon_alive(void *ctx)
{
	(void)ctx;
	return hvc_daemon_alive();
}

hv_return_t hvc_vcpu_enter(struct hvc_vcpu *v)
{
	int32_t result;
	if (!hvc_connected()) {
		/* an earlier call found hvd gone */
		hvc_conn_check_gone(); /* says why, for this thread */
		return HV_ERROR;
	}
	if (hvd_runpage_client_run(v->page, ++v->seq, SPIN_NS, LIVENESS_NS, daemon_alive, NULL,
				   &result) < 0) {
		/* hvd ended the session under the run (an administrator's
		 * kill): its last word is in the socket. */
		hvc_conn_check_gone();
		return HV_ERROR;
	}
	if (result != HV_SUCCESS)
		hvc_conn_check_gone(); /* a run hvd failed as it ended the session */
	return result;
}

void hvc_vcpu_forget(struct hvc_vcpu *v)
{
	if (v->page)
		munmap(v->page, v->page_size);
	memset(v, 0, sizeof(*v));
}

/* The child's copies of the guest memory and the connection are the
 * parent's session: let go of them. */
void hvc_fork_child(void)
{
	hvc_mem_fork_child();
	hvc_conn_forget();
}
