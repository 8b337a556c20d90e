/*
 * Inside the VMCS model: the capability masks the controls are checked
 * against, and the field table (hvs_fields.c) that says, for every VMCS
 * field, where it lives in struct hvs_state and how a write is checked.
 * Not installed; the unit test walks the table through it.
 */
#ifndef HVS_PRIV_H
#define HVS_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <Hypervisor/hv_vmx.h>

#include "hvs.h"

#define CR0_NE (1ull << 5)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_VMXE (1ull << 13)

/*
 * Controls: allowed-0 (must be 1) and allowed-1 (may be 1) bits.
 * A bit is "must be 1" when the backend always behaves that way (every HLT,
 * port access and MSR access outside the native set exits, EPT and
 * unrestricted guest are always on), "may be 1" only when the backend
 * honours both settings, and otherwise it must be 0.
 */
#define PIN_MUST (PIN_BASED_INTR | PIN_BASED_NMI)
#define PIN_MAY PIN_MUST
#define CPU_MUST (CPU_BASED_HLT | CPU_BASED_UNCOND_IO | CPU_BASED_MSR_BITMAPS | \
		  CPU_BASED_SECONDARY_CTLS)
#define CPU_MAY (CPU_MUST | CPU_BASED_IRQ_WND)
#define CPU2_MUST (CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED | CPU_BASED2_RDTSCP | \
		   CPU_BASED2_INVPCID | CPU_BASED2_XSAVES_XRSTORS)
#define CPU2_MAY (CPU2_MUST | CPU_BASED2_VPID)
#define ENTRY_MUST 0u
#define ENTRY_MAY (VMENTRY_LOAD_DBG_CONTROLS | VMENTRY_GUEST_IA32E | \
		   VMENTRY_LOAD_IA32_PAT | VMENTRY_LOAD_EFER)
#define EXIT_MUST 0u
#define EXIT_MAY (VMEXIT_SAVE_DBG_CONTROLS | VMEXIT_HOST_IA32E | VMEXIT_ACK_INTR | \
		  VMEXIT_SAVE_IA32_PAT | VMEXIT_LOAD_IA32_PAT | VMEXIT_SAVE_EFER | \
		  VMEXIT_LOAD_EFER)

/* CR4 bits a guest may set: what KVM accepts on x86-64 hosts of this kind,
 * plus VMXE which VMX requires and the backend hides from KVM. */
#define CR4_MAY 0x3727ffull

/* What a write marks for the backend to hand to KVM: a KVM_SYNC_X86_*
 * group in hvs_state.dirty, or the field's bit in msr_dirty. */
#define HVS__DIRTY_NONE 0u
#define HVS__DIRTY_MSR 0x80u

/* Write masks (hv_vmx_vcpu_read_cap_write_vmcs) other than the field's
 * width: index into hvs__caps. */
enum hvs__cap {
	HVS__CAP_WIDTH,
	HVS__CAP_PIN,
	HVS__CAP_CPU,
	HVS__CAP_CPU2,
	HVS__CAP_ENTRY,
	HVS__CAP_EXIT,
	HVS__CAP_CR0,
	HVS__CAP_CR4,
	HVS__CAP_ACTIVITY,
	HVS__CAP_INTR,
	HVS__CAP_COUNT
};

struct hvs_field;

/* Fields whose value is computed rather than stored as it is. `set`
 * returns 0 when the value is to reach KVM (the row's dirty group is
 * marked), HVS__KEPT when it stays in the client's view, or -errno. */
struct hvs__access {
	int (*get)(const struct hvs_state *st, const struct hvs_field *f, uint64_t *value);
	int (*set)(struct hvs_state *st, const struct hvs_field *f, uint64_t value);
};
#define HVS__KEPT 1

/* One VMCS field: one row of the table. */
struct hvs_field {
	uint32_t enc;                 /* Apple's (Intel's) field encoding */
	uint16_t off;                 /* offsetof(struct hvs_state, home) */
	uint8_t size;                 /* bytes stored at off; 0: `fn` */
	const struct hvs__access *fn; /* NULL: plain bytes at off */
	uint8_t writable;             /* 0: read-only to the client */
	uint8_t dirty;                /* KVM_SYNC_X86_*, HVS__DIRTY_* */
	uint8_t cap;                  /* enum hvs__cap */
	/* Refuse (-EINVAL) a value the width allows but the field does not;
	 * NULL: any value of the field's width. */
	int (*check)(const struct hvs_field *f, uint64_t value);
};

/* The table, sorted by encoding, and its lookup (NULL: no such field). */
extern const struct hvs_field hvs__fields[];
extern const size_t hvs__nfields;
const struct hvs_field *hvs__field_find(uint32_t enc);

/* allowed-0 and allowed-1 masks, by enum hvs__cap (HVS__CAP_WIDTH has
 * none: the field's width decides). */
struct hvs__mask {
	uint64_t must, may;
};
extern const struct hvs__mask hvs__caps[HVS__CAP_COUNT];

#endif
