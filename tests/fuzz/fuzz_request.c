/*
 * hvd's decoder for client messages: one SOCK_SEQPACKET packet is one
 * Request, decoded with protobuf-c (hvd_session.c) and handed to
 * hvd_dispatch, which reads the fields of the chosen op without further
 * checks. The harness decodes as hvd does, walks what a handler would
 * read, checks that a decoded message encodes and decodes again, and
 * frees it.
 */
#include <stdbool.h>

#include "fuzz_common.h"

#include "hvd.pb-c.h"
#include "hvd_protocol.h"

/* Every op has its submessage: hvd's handlers dereference it unchecked. */
#define SUB(m) ({ FUZZ_CHECK((m) != NULL); (m); })

static void walk(const Hvdp__Request *req)
{
	fuzz_use(req->id);
	switch (req->op_case) {
	case HVDP__REQUEST__OP__NOT_SET:
		break;
	case HVDP__REQUEST__OP_HELLO:
		fuzz_use(SUB(req->hello)->version);
		break;
	case HVDP__REQUEST__OP_VM_CREATE:
		fuzz_use(SUB(req->vm_create)->flags);
		break;
	case HVDP__REQUEST__OP_VM_DESTROY:
		(void)SUB(req->vm_destroy);
		break;
	case HVDP__REQUEST__OP_VM_MAP: {
		const Hvdp__VmMap *m = SUB(req->vm_map);
		fuzz_use(m->gpa + m->size + m->flags + m->offset);
		break;
	}
	case HVDP__REQUEST__OP_VM_UNMAP:
		fuzz_use(SUB(req->vm_unmap)->gpa + req->vm_unmap->size);
		break;
	case HVDP__REQUEST__OP_VM_PROTECT: {
		const Hvdp__VmProtect *p = SUB(req->vm_protect);
		fuzz_use(p->gpa + p->size + p->flags);
		break;
	}
	case HVDP__REQUEST__OP_VM_SYNC_TSC:
		fuzz_use(SUB(req->vm_sync_tsc)->tsc);
		break;
	case HVDP__REQUEST__OP_CAPABILITY:
		fuzz_use(SUB(req->capability)->which);
		break;
	case HVDP__REQUEST__OP_VCPU_CREATE:
		fuzz_use(SUB(req->vcpu_create)->flags);
		break;
	case HVDP__REQUEST__OP_VCPU_DESTROY:
		fuzz_use(SUB(req->vcpu_destroy)->vcpu);
		break;
	case HVDP__REQUEST__OP_VCPU_REG: {
		const Hvdp__VcpuReg *r = SUB(req->vcpu_reg);
		fuzz_use(r->vcpu + r->reg + r->value + (uint64_t)r->write);
		break;
	}
	case HVDP__REQUEST__OP_VCPU_VMCS: {
		const Hvdp__VcpuVmcs *r = SUB(req->vcpu_vmcs);
		fuzz_use(r->vcpu + r->field + r->value + (uint64_t)r->write);
		break;
	}
	case HVDP__REQUEST__OP_VCPU_MSR: {
		const Hvdp__VcpuMsr *r = SUB(req->vcpu_msr);
		fuzz_use(r->vcpu + r->msr + r->value + (uint64_t)r->write);
		break;
	}
	case HVDP__REQUEST__OP_VCPU_NATIVE_MSR: {
		const Hvdp__VcpuNativeMsr *r = SUB(req->vcpu_native_msr);
		fuzz_use(r->vcpu + r->msr + (uint64_t)r->enable);
		break;
	}
	case HVDP__REQUEST__OP_VCPU_FPSTATE: {
		/* Written: hvb_vcpu_write_fpstate(vc, data.data, data.len). */
		const Hvdp__VcpuFpstate *f = SUB(req->vcpu_fpstate);
		fuzz_use(f->vcpu + f->size + (uint64_t)f->write);
		FUZZ_CHECK(f->data.len == 0 || f->data.data != NULL);
		fuzz_use_bytes(f->data.data, f->data.len);
		break;
	}
	case HVDP__REQUEST__OP_VCPU_INVALIDATE_TLB:
		fuzz_use(SUB(req->vcpu_invalidate_tlb)->vcpu);
		break;
	case HVDP__REQUEST__OP_VCPU_EXEC_TIME:
		fuzz_use(SUB(req->vcpu_exec_time)->vcpu);
		break;
	case HVDP__REQUEST__OP_VCPU_INTERRUPT: {
		/* h_vcpu_interrupt: for i < n_vcpus, vcpus[i]. */
		const Hvdp__VcpuInterrupt *k = SUB(req->vcpu_interrupt);
		FUZZ_CHECK(k->n_vcpus == 0 || k->vcpus != NULL);
		for (size_t i = 0; i < k->n_vcpus; i++)
			fuzz_use(k->vcpus[i]);
		break;
	}
	case HVDP__REQUEST__OP_ADMIN_STATUS:
		(void)SUB(req->admin_status);
		break;
	case HVDP__REQUEST__OP_ADMIN_LIST_VMS:
		(void)SUB(req->admin_list_vms);
		break;
	case HVDP__REQUEST__OP_ADMIN_SHOW_VM:
		fuzz_use(SUB(req->admin_show_vm)->vm);
		break;
	case HVDP__REQUEST__OP_ADMIN_KILL_VM:
		fuzz_use(SUB(req->admin_kill_vm)->vm);
		break;
	case HVDP__REQUEST__OP_ADMIN_CLIENTS:
		(void)SUB(req->admin_clients);
		break;
	case HVDP__REQUEST__OP_ADMIN_POLICY_RELOAD:
		(void)SUB(req->admin_policy_reload);
		break;
	case HVDP__REQUEST__OP_ADMIN_POLICY_EXPLAIN:
		fuzz_use((uint64_t)(int64_t)SUB(req->admin_policy_explain)->pid);
		break;
	case HVDP__REQUEST__OP_GIC_CREATE: {
		const Hvdp__GicCreate *g = SUB(req->gic_create);
		fuzz_use(g->dist_base ^ g->redist_base ^ g->msi_base ^ g->msi_intid_base ^ g->msi_count);
		break;
	}
	case HVDP__REQUEST__OP_GIC_SPI:
		fuzz_use(SUB(req->gic_spi)->intid ^ SUB(req->gic_spi)->level);
		break;
	case HVDP__REQUEST__OP_GIC_MSI:
		fuzz_use(SUB(req->gic_msi)->addr ^ SUB(req->gic_msi)->intid);
		break;
	case HVDP__REQUEST__OP_GIC_REG: {
		const Hvdp__GicReg *g = SUB(req->gic_reg);
		fuzz_use(g->space ^ g->reg ^ g->write ^ g->value ^ g->vcpu);
		break;
	}
	case HVDP__REQUEST__OP_GIC_STATE:
		fuzz_use(SUB(req->gic_state)->write ^ SUB(req->gic_state)->size);
		break;
	case HVDP__REQUEST__OP_GIC_RESET:
		(void)SUB(req->gic_reset);
		break;
	case HVDP__REQUEST__OP_ADMIN_TENANT_ADD:
		if (SUB(req->admin_tenant_add)->spec)
			fuzz_use(strlen(req->admin_tenant_add->spec->name) ^
				 req->admin_tenant_add->spec->n_uids);
		break;
	case HVDP__REQUEST__OP_ADMIN_TENANT_LIST:
		(void)SUB(req->admin_tenant_list);
		break;
	case HVDP__REQUEST__OP_ADMIN_TENANT_SHOW:
		fuzz_use(strlen(SUB(req->admin_tenant_show)->name));
		break;
	case HVDP__REQUEST__OP_ADMIN_TENANT_SET:
		fuzz_use(SUB(req->admin_tenant_set)->quota_clear ^ req->admin_tenant_set->set_uids);
		break;
	case HVDP__REQUEST__OP_ADMIN_TENANT_REMOVE:
		fuzz_use(strlen(SUB(req->admin_tenant_remove)->name) ^
			 req->admin_tenant_remove->force);
		break;
	case HVDP__REQUEST__OP_ADMIN_LOG_LEVEL:
		fuzz_use(strlen(SUB(req->admin_log_level)->level));
		break;
	case HVDP__REQUEST__OP_WORKER_HELLO:
		fuzz_use(SUB(req->worker_hello)->session ^ req->worker_hello->max_cpu_percent ^
			 req->worker_hello->log_level);
		break;
	default:
		/* hvd answers HV_UNSUPPORTED; protobuf-c never sets another case. */
		FUZZ_CHECK(!"op_case outside the oneof");
	}
}

/* Unknown fields anywhere in the message, nested ones included (the
 * tenant requests nest two deep). */
static bool has_unknown(const ProtobufCMessage *m)
{
	if (!m)
		return false;
	if (m->n_unknown_fields)
		return true;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const char *base = (const char *)m;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
			if (which != f->id)
				continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < n; k++)
				if (has_unknown(v[k]))
					return true;
		} else if (has_unknown(*(const ProtobufCMessage *const *)(base + f->offset))) {
			return true;
		}
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* hvd's receive buffer: anything larger is cut (MSG_TRUNC) and refused
	 * before decoding. */
	if (size > HVD_MAX_MESSAGE)
		return -1;
	Hvdp__Request *req = hvdp__request__unpack(NULL, size, data);
	if (!req)
		return 0;
	walk(req);

	/* What decoded must encode, and decode again to the same op. Not
	 * with unknown fields: protobuf-c 1.4.1 keeps an overlong-encoded
	 * tag 0 (0x80 0x00) as an unknown field and packs it as 0x00, which
	 * it then refuses; hvd ignores unknown fields and never re-packs. */
	if (has_unknown(&req->base)) {
		hvdp__request__free_unpacked(req, NULL);
		return 0;
	}
	size_t len = hvdp__request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(hvdp__request__pack(req, buf) == len);
	Hvdp__Request *again = hvdp__request__unpack(NULL, len, buf);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(again->id == req->id && again->op_case == req->op_case);
	walk(again);
	hvdp__request__free_unpacked(again, NULL);
	free(buf);

	hvdp__request__free_unpacked(req, NULL);
	return 0;
}
