/*
 * The run page (proto/hvd_protocol.h): each vCPU's state lives in memory
 * shared between hvd and its client, and the client may write anything
 * there. Before a run or a vCPU-thread request, hvd copies the page's
 * `struct hvs_state` once and takes it with hvb_vcpu_import (which forces
 * the controls into the capability masks with hvs_clamp_ctls); after
 * that, register and VMCS access goes through the pure accessors of
 * vmcs/hvs_state.c. libhvclient runs the same accessors on the page
 * directly (between runs the client owns it, so a hostile daemon could
 * have written anything there too).
 *
 * Input: the first sizeof(struct hvs_state) bytes are the page's state
 * (zero-padded when shorter); the rest is a stream of values for writes
 * and of extra field encodings. For both views (hvd's imported copy and
 * the raw page with clamped controls) the harness reads every VMCS field
 * in Apple's header, asks for its write capability, writes an
 * input-derived value and the value read back, and reads and writes
 * registers 0..60.
 */
#include "fuzz_common.h"

#include <errno.h>

#include <Hypervisor/hv_arch_vmx.h>
#include <Hypervisor/hv_arch_x86.h>

#include "hvb.h"
#include "hvb_priv.h"
#include "hvs.h"

#define F(x) (uint32_t)(x)
static const uint32_t fields[] = {
	F(VMCS_VPID),
	F(VMCS_CTRL_POSTED_INT_N_VECTOR),
	F(VMCS_CTRL_EPTP_INDEX),
	F(VMCS_GUEST_ES),
	F(VMCS_GUEST_CS),
	F(VMCS_GUEST_SS),
	F(VMCS_GUEST_DS),
	F(VMCS_GUEST_FS),
	F(VMCS_GUEST_GS),
	F(VMCS_GUEST_LDTR),
	F(VMCS_GUEST_TR),
	F(VMCS_GUEST_INT_STATUS),
	F(VMCS_GUESTPML_INDEX),
	F(VMCS_HOST_ES),
	F(VMCS_HOST_CS),
	F(VMCS_HOST_SS),
	F(VMCS_HOST_DS),
	F(VMCS_HOST_FS),
	F(VMCS_HOST_GS),
	F(VMCS_HOST_TR),
	F(VMCS_CTRL_IO_BITMAP_A),
	F(VMCS_CTRL_IO_BITMAP_B),
	F(VMCS_CTRL_MSR_BITMAPS),
	F(VMCS_CTRL_VMEXIT_MSR_STORE_ADDR),
	F(VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR),
	F(VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR),
	F(VMCS_CTRL_EXECUTIVE_VMCS_PTR),
	F(VMCS_CTRL_PML_ADDR),
	F(VMCS_CTRL_TSC_OFFSET),
	F(VMCS_CTRL_VIRTUAL_APIC),
	F(VMCS_CTRL_APIC_ACCESS),
	F(VMCS_CTRL_POSTED_INT_DESC_ADDR),
	F(VMCS_CTRL_VMFUNC_CTRL),
	F(VMCS_CTRL_EPTP),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_0),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_1),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_2),
	F(VMCS_CTRL_EOI_EXIT_BITMAP_3),
	F(VMCS_CTRL_EPTP_LIST_ADDR),
	F(VMCS_CTRL_VMREAD_BITMAP_ADDR),
	F(VMCS_CTRL_VMWRITE_BITMAP_ADDR),
	F(VMCS_CTRL_VIRT_EXC_INFO_ADDR),
	F(VMCS_CTRL_XSS_EXITING_BITMAP),
	F(VMCS_CTRL_ENCLS_EXITING_BITMAP),
	F(VMCS_CTRL_SPP_TABLE),
	F(VMCS_CTRL_TSC_MULTIPLIER),
	F(VMCS_CTRL_ENCLV_EXITING_BITMAP),
	F(VMCS_GUEST_PHYSICAL_ADDRESS),
	F(VMCS_GUEST_LINK_POINTER),
	F(VMCS_GUEST_IA32_DEBUGCTL),
	F(VMCS_GUEST_IA32_PAT),
	F(VMCS_GUEST_IA32_EFER),
	F(VMCS_GUEST_IA32_PERF_GLOBAL_CTRL),
	F(VMCS_GUEST_PDPTE0),
	F(VMCS_GUEST_PDPTE1),
	F(VMCS_GUEST_PDPTE2),
	F(VMCS_GUEST_PDPTE3),
	F(VMCS_GUEST_IA32_BNDCFGS),
	F(VMCS_GUEST_IA32_RTIT_CTL),
	F(VMCS_GUEST_IA32_PKRS),
	F(VMCS_HOST_IA32_PAT),
	F(VMCS_HOST_IA32_EFER),
	F(VMCS_HOST_IA32_PERF_GLOBAL_CTRL),
	F(VMCS_HOST_IA32_PKRS),
	F(VMCS_CTRL_PIN_BASED),
	F(VMCS_CTRL_CPU_BASED),
	F(VMCS_CTRL_EXC_BITMAP),
	F(VMCS_CTRL_PF_ERROR_MASK),
	F(VMCS_CTRL_PF_ERROR_MATCH),
	F(VMCS_CTRL_CR3_COUNT),
	F(VMCS_CTRL_VMEXIT_CONTROLS),
	F(VMCS_CTRL_VMEXIT_MSR_STORE_COUNT),
	F(VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT),
	F(VMCS_CTRL_VMENTRY_CONTROLS),
	F(VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT),
	F(VMCS_CTRL_VMENTRY_IRQ_INFO),
	F(VMCS_CTRL_VMENTRY_EXC_ERROR),
	F(VMCS_CTRL_VMENTRY_INSTR_LEN),
	F(VMCS_CTRL_TPR_THRESHOLD),
	F(VMCS_CTRL_CPU_BASED2),
	F(VMCS_CTRL_PLE_GAP),
	F(VMCS_CTRL_PLE_WINDOW),
	F(VMCS_RO_INSTR_ERROR),
	F(VMCS_RO_EXIT_REASON),
	F(VMCS_RO_VMEXIT_IRQ_INFO),
	F(VMCS_RO_VMEXIT_IRQ_ERROR),
	F(VMCS_RO_IDT_VECTOR_INFO),
	F(VMCS_RO_IDT_VECTOR_ERROR),
	F(VMCS_RO_VMEXIT_INSTR_LEN),
	F(VMCS_RO_VMX_INSTR_INFO),
	F(VMCS_GUEST_ES_LIMIT),
	F(VMCS_GUEST_CS_LIMIT),
	F(VMCS_GUEST_SS_LIMIT),
	F(VMCS_GUEST_DS_LIMIT),
	F(VMCS_GUEST_FS_LIMIT),
	F(VMCS_GUEST_GS_LIMIT),
	F(VMCS_GUEST_LDTR_LIMIT),
	F(VMCS_GUEST_TR_LIMIT),
	F(VMCS_GUEST_GDTR_LIMIT),
	F(VMCS_GUEST_IDTR_LIMIT),
	F(VMCS_GUEST_ES_AR),
	F(VMCS_GUEST_CS_AR),
	F(VMCS_GUEST_SS_AR),
	F(VMCS_GUEST_DS_AR),
	F(VMCS_GUEST_FS_AR),
	F(VMCS_GUEST_GS_AR),
	F(VMCS_GUEST_LDTR_AR),
	F(VMCS_GUEST_TR_AR),
	F(VMCS_GUEST_INTERRUPTIBILITY),
	F(VMCS_GUEST_IGNORE_IRQ),
	F(VMCS_GUEST_ACTIVITY_STATE),
	F(VMCS_GUEST_SMBASE),
	F(VMCS_GUEST_IA32_SYSENTER_CS),
	F(VMCS_GUEST_VMX_TIMER_VALUE),
	F(VMCS_HOST_IA32_SYSENTER_CS),
	F(VMCS_CTRL_CR0_MASK),
	F(VMCS_CTRL_CR4_MASK),
	F(VMCS_CTRL_CR0_SHADOW),
	F(VMCS_CTRL_CR4_SHADOW),
	F(VMCS_CTRL_CR3_VALUE0),
	F(VMCS_CTRL_CR3_VALUE1),
	F(VMCS_CTRL_CR3_VALUE2),
	F(VMCS_CTRL_CR3_VALUE3),
	F(VMCS_RO_EXIT_QUALIFIC),
	F(VMCS_RO_IO_RCX),
	F(VMCS_RO_IO_RSI),
	F(VMCS_RO_IO_RDI),
	F(VMCS_RO_IO_RIP),
	F(VMCS_RO_GUEST_LIN_ADDR),
	F(VMCS_GUEST_CR0),
	F(VMCS_GUEST_CR3),
	F(VMCS_GUEST_CR4),
	F(VMCS_GUEST_ES_BASE),
	F(VMCS_GUEST_CS_BASE),
	F(VMCS_GUEST_SS_BASE),
	F(VMCS_GUEST_DS_BASE),
	F(VMCS_GUEST_FS_BASE),
	F(VMCS_GUEST_GS_BASE),
	F(VMCS_GUEST_LDTR_BASE),
	F(VMCS_GUEST_TR_BASE),
	F(VMCS_GUEST_GDTR_BASE),
	F(VMCS_GUEST_IDTR_BASE),
	F(VMCS_GUEST_DR7),
	F(VMCS_GUEST_RSP),
	F(VMCS_GUEST_RIP),
	F(VMCS_GUEST_RFLAGS),
	F(VMCS_GUEST_DEBUG_EXC),
	F(VMCS_GUEST_SYSENTER_ESP),
	F(VMCS_GUEST_SYSENTER_EIP),
	F(VMCS_GUEST_IA32_S_CET),
	F(VMCS_GUEST_SSP),
	F(VMCS_GUEST_IA32_INTR_SSP_TABLE_ADDR),
	F(VMCS_HOST_CR0),
	F(VMCS_HOST_CR3),
	F(VMCS_HOST_CR4),
	F(VMCS_HOST_FS_BASE),
	F(VMCS_HOST_GS_BASE),
	F(VMCS_HOST_TR_BASE),
	F(VMCS_HOST_GDTR_BASE),
	F(VMCS_HOST_IDTR_BASE),
	F(VMCS_HOST_IA32_SYSENTER_ESP),
	F(VMCS_HOST_IA32_SYSENTER_EIP),
	F(VMCS_HOST_RSP),
	F(VMCS_HOST_RIP),
	F(VMCS_HOST_IA32_S_CET),
	F(VMCS_HOST_SSP),
	F(VMCS_HOST_IA32_INTR_SSP_TABLE_ADDR),
};
#undef F

static void check_err(int r)
{
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EINVAL || r == -EAGAIN);
}

static void access_field(struct hvs_state *st, uint32_t field, struct fuzz_in *in)
{
	uint64_t v = 0, a0 = 0, a1 = 0;
	int r = hvs_read_vmcs(st, field, &v);
	check_err(r);
	fuzz_use(v);
	int c = hvs_cap_write_vmcs(st, field, &a0, &a1);
	check_err(c);
	if (r == -ENOENT)
		FUZZ_CHECK(c == -ENOENT);
	fuzz_use(a0 ^ a1);

	int w = hvs_write_vmcs(st, field, fuzz_take(in, 8));
	check_err(w);
	if (r == -ENOENT)
		FUZZ_CHECK(w == -ENOENT);
	/* A value just read, written back. */
	if (r == 0) {
		w = hvs_write_vmcs(st, field, v);
		check_err(w);
	}
	/* Inside the write capability: a0 set, nothing outside a1. */
	if (c == 0 && a1) {
		uint64_t x = (fuzz_take(in, 8) | a0) & a1;
		check_err(hvs_write_vmcs(st, field, x));
	}
	check_err(hvs_read_vmcs(st, field, &v));
	fuzz_use(v);
}

static void access_all(struct hvs_state *st, struct fuzz_in *in)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		access_field(st, fields[i], in);
	/* Encodings from the input: fields the header does not name. */
	for (int i = 0; i < 4; i++)
		access_field(st, (uint32_t)fuzz_take(in, 4), in);

	for (unsigned reg = 0; reg <= 60; reg++) {
		uint64_t v = 0;
		int r = hvs_read_reg(st, reg, &v);
		check_err(r);
		fuzz_use(v);
		check_err(hvs_write_reg(st, reg, fuzz_take(in, 8)));
		if (r == 0)
			check_err(hvs_write_reg(st, reg, v));
	}
	hvs_clamp_ctls(&st->c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The page as hvd's vCPU thread copies it (memcpy from shared memory
	 * into a local struct). */
	struct hvs_state page;
	size_t n = size < sizeof(page) ? size : sizeof(page);
	memset(&page, 0, sizeof(page));
	memcpy(&page, data, n);
	struct fuzz_in in = { data + n, size - n };

	/* hvd: hvb_vcpu_import into the vCPU's own state. Whether the hidden
	 * real-mode IVT is installed is hvd's, not the page's. */
	struct hvb_vcpu *vcpu = calloc(1, sizeof(*vcpu));
	FUZZ_CHECK(vcpu != NULL);
	vcpu->st.idt_hidden = fuzz_take(&in, 1) & 1;
	hvs_init_ctls(&vcpu->st.c);
	hvb_vcpu_import(vcpu, &page);
	access_all(&vcpu->st, &in);
	free(vcpu);

	/* libhvclient: the accessors on the page itself. */
	struct hvs_state *raw = malloc(sizeof(*raw));
	FUZZ_CHECK(raw != NULL);
	memcpy(raw, &page, sizeof(*raw));
	hvs_clamp_ctls(&raw->c);
	access_all(raw, &in);
	free(raw);
	return 0;
}
