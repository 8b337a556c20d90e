/*
 * hv_intr.h: saved state of the emulated local APIC, 8259 pair (ATPIC) and
 * IOAPIC, as read and written by the *_get_state / *_put_state calls.
 *
 * Field order and types follow Apple's header exactly, because the structs
 * are the wire format of those calls. Each state is wrapped with a version
 * that the caller sets to the matching HV_*_STATE_EXT_VER before a get.
 */
#ifndef __HYPERVISOR_HV_INTR__
#define __HYPERVISOR_HV_INTR__

#include <Hypervisor/hv_base.h>

HV_DECLS_BEGIN

/* Boot state of a vCPU's local APIC (waiting for INIT, for SIPI, running).
 * Apple fixes the underlying type to uint32_t; C before C23 cannot say so,
 * but the x86-64 ABI makes an enum of these values 4 bytes all the same. */
#if (defined(__cplusplus) && __cplusplus >= 201103L) || \
    (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 202311L)
enum hv_boot_state : uint32_t {
#else
enum hv_boot_state {
#endif
	HV_BS_INIT = 0,
	HV_BS_SIPI = 1,
	HV_BS_RUNNING = 2
};

/* Local APIC registers and emulation state of one vCPU. */
struct hv_apic_state {
	uint64_t apic_gpa;
	uint64_t apic_controls;
	uint64_t tsc_deadline;
	uint32_t apic_id;
	uint32_t ver;
	uint32_t tpr;
	uint32_t apr;
	uint32_t ldr;
	uint32_t dfr;
	uint32_t svr;
	uint32_t isr[8];
	uint32_t tmr[8];
	uint32_t irr[8];
	uint32_t esr;
	uint32_t lvt[7];
	uint32_t icr[2];
	uint32_t icr_timer;
	uint32_t dcr_timer;
	uint32_t ccr_timer;
	uint32_t esr_pending;
	enum hv_boot_state boot_state;
	uint32_t aeoi[8];
};

#define HV_APIC_STATE_EXT_VER (100)

/* Versioned local APIC state for hv_vcpu_apic_get_state/put_state. */
typedef struct {
	uint32_t version;
	struct hv_apic_state state;
} hv_apic_state_ext_t;

/* State of one 8259 PIC of the primary/secondary pair. */
struct hv_atpic_state {
	bool ready;
	uint8_t icw_num;
	uint8_t rd_cmd_reg;
	bool aeoi;
	bool poll;
	bool rotate;
	bool sfn;
	uint8_t irq_base;
	uint8_t request;
	uint8_t service;
	uint8_t mask;
	bool smm;
	uint8_t last_request;
	uint8_t lowprio;
	bool intr_raised;
	uint8_t elc;
};

#define HV_ATPIC_STATE_EXT_VER (100)

/* Versioned 8259 state for hv_vm_atpic_get_state/put_state. */
typedef struct {
	uint32_t version;
	struct hv_atpic_state state;
} hv_atpic_state_ext_t;

/* IOAPIC redirection table and registers. */
struct hv_ioapic_state {
	uint64_t rtbl[32];
	uint32_t irr;
	uint32_t ioa_id;
	uint32_t ioregsel;
};

#define HV_IOAPIC_STATE_EXT_VER (100)

/* Versioned IOAPIC state for hv_vm_ioapic_get_state/put_state. */
typedef struct {
	uint32_t version;
	struct hv_ioapic_state state;
} hv_ioapic_state_ext_t;

HV_DECLS_END

#endif /* __HYPERVISOR_HV_INTR__ */
