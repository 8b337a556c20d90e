/*
 * The vCPU calls the loop thread forwards (hvd_dispatch.c) and the vCPU's
 * own thread executes (hvd_vcpu.c): registers, VMCS fields, MSRs, FPU
 * state, TLB, execution time. The backend state is the run page's, taken
 * in before and given back after by the caller.
 */
#include <errno.h>
#include <stdlib.h>

#include "hvd.h"
#include "hvd_vcpuop.h"

uint32_t hvd_vcpuop_target(const Hvdp__Request *req)
{
	switch (req->op_case) {
	case HVDP__REQUEST__OP_VCPU_DESTROY: return req->vcpu_destroy->vcpu;
	case HVDP__REQUEST__OP_VCPU_REG: return req->vcpu_reg->vcpu;
	case HVDP__REQUEST__OP_VCPU_VMCS: return req->vcpu_vmcs->vcpu;
	case HVDP__REQUEST__OP_VCPU_MSR: return req->vcpu_msr->vcpu;
	case HVDP__REQUEST__OP_VCPU_NATIVE_MSR: return req->vcpu_native_msr->vcpu;
	case HVDP__REQUEST__OP_VCPU_FPSTATE: return req->vcpu_fpstate->vcpu;
	case HVDP__REQUEST__OP_VCPU_INVALIDATE_TLB: return req->vcpu_invalidate_tlb->vcpu;
	case HVDP__REQUEST__OP_VCPU_EXEC_TIME: return req->vcpu_exec_time->vcpu;
	default: return UINT32_MAX;
	}
}

void hvd_vcpuop_run(struct hvd_vcpu *v, struct hvd_op *op)
{
	Hvdp__Request *req = op->req;
	struct hvb_vcpu *vc = v->vcpu;
	int r = 0;

	/* Every call here but exec time is x86's: an arm64 hvd refuses them
	 * (its vCPU state is all on the run page). */
	if (!v->session->d->be->x86 && req->op_case != HVDP__REQUEST__OP_VCPU_EXEC_TIME) {
		op->status = HV_UNSUPPORTED;
		return;
	}
	switch (req->op_case) {
	case HVDP__REQUEST__OP_VCPU_REG:
		if (req->vcpu_reg->write)
			r = v->session->d->be->x86->write_reg(vc, req->vcpu_reg->reg, req->vcpu_reg->value);
		else
			r = v->session->d->be->x86->read_reg(vc, req->vcpu_reg->reg, &op->value);
		break;
	case HVDP__REQUEST__OP_VCPU_VMCS:
		if (req->vcpu_vmcs->write)
			r = v->session->d->be->x86->write_vmcs(vc, req->vcpu_vmcs->field, req->vcpu_vmcs->value);
		else
			r = v->session->d->be->x86->read_vmcs(vc, req->vcpu_vmcs->field, &op->value);
		break;
	case HVDP__REQUEST__OP_VCPU_MSR:
		if (req->vcpu_msr->write)
			r = v->session->d->be->x86->write_msr(vc, req->vcpu_msr->msr, req->vcpu_msr->value);
		else
			r = v->session->d->be->x86->read_msr(vc, req->vcpu_msr->msr, &op->value);
		break;
	case HVDP__REQUEST__OP_VCPU_NATIVE_MSR:
		r = v->session->d->be->x86->enable_native_msr(vc, req->vcpu_native_msr->msr,
					       req->vcpu_native_msr->enable);
		break;
	case HVDP__REQUEST__OP_VCPU_FPSTATE: {
		Hvdp__VcpuFpstate *f = req->vcpu_fpstate;
		if (f->write) {
			r = v->session->d->be->x86->write_fpstate(vc, f->data.data, f->data.len);
		} else {
			size_t n = f->size > 4096 ? 4096 : f->size;
			op->data = calloc(1, n ? n : 1);
			if (!op->data) {
				r = -ENOMEM;
				break;
			}
			r = v->session->d->be->x86->read_fpstate(vc, op->data, n);
			op->data_len = r == 0 ? n : 0;
		}
		break;
	}
	case HVDP__REQUEST__OP_VCPU_INVALIDATE_TLB:
		r = v->session->d->be->x86->invalidate_tlb(vc);
		break;
	case HVDP__REQUEST__OP_VCPU_EXEC_TIME:
		r = v->session->d->be->vcpu_exec_time(vc, &op->value);
		break;
	default:
		r = -EINVAL;
	}
	op->status = hvd_status_from_errno(r);
}
