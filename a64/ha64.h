/*
 * ha64: Apple's arm64 vCPU state as plain memory, shared by the arm64
 * front end (api/hva64*.c), its transports and the arm64 backend
 * (backend/arm64). In-process the backend owns the struct; through hvd it
 * is the `state` of the run page (proto/hvd_protocol.h), copied by hvd
 * into private memory before the backend reads any of it.
 *
 * Registers. Every register Apple's API names has a dense index (the
 * table in ha64_regs.c): hv_reg_t 0..34 first, then Q0..Q31, then the
 * HV_SYS_REG_* in table order. Each has 16 bytes of value (Q registers use
 * both words, the rest the first) and three bits:
 *
 *   want   the client reads it: the backend refreshes it after every run
 *          (set by the client on its first read; never cleared)
 *   valid  the value in `val` is the vCPU's current one
 *   dirty  the client wrote it: the backend writes it into KVM before the
 *          next run (or sync)
 *
 * A read of a valid register is a plain load; a read of another sets its
 * want bit and asks for one HA64_OP_SYNC, after which it stays valid after
 * every run. So between runs, register access makes no system call once a
 * program's working set has been seen.
 *
 * Values only, no Apple header: the front end maps hv_* names onto these
 * numbers (they are Apple's own values) and the backend maps them onto
 * KVM's. Nothing here may be trusted by the backend without ha64_check().
 */
#ifndef HA64_H
#define HA64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* hv_reg_t values (HV_REG_X0 = 0 ... HV_REG_CPSR = 34). */
#define HA64_REG_X0 0u
#define HA64_REG_X30 30u
#define HA64_REG_PC 31u
#define HA64_REG_FPCR 32u
#define HA64_REG_FPSR 33u
#define HA64_REG_CPSR 34u
#define HA64_NGPR 35u

#define HA64_NSIMD 32u
#define HA64_SIMD_BASE HA64_NGPR
#define HA64_SYS_BASE (HA64_NGPR + HA64_NSIMD)
/* 84 named system registers and 64 debug registers. */
#define HA64_NSYS 148u
#define HA64_NREGS (HA64_SYS_BASE + HA64_NSYS)
#define HA64_WORDS ((HA64_NREGS + 63u) / 64u)

/* What a register is and what reaching it needs. */
enum ha64_kind { HA64_GPR = 1, HA64_SIMD = 2, HA64_SYS = 3 };

enum ha64_reg_flags {
	HA64_RF_EL2 = 1u << 0,     /* only with EL2 enabled (Apple "15.0e") */
	HA64_RF_GIC = 1u << 1,     /* only with a GIC (Apple "15.0g") */
	HA64_RF_NOKVM = 1u << 2,   /* KVM has no way to reach it (SME, SCXTNUM) */
	HA64_RF_DERIVED = 1u << 3, /* computed by the backend, not one ONE_REG */
	HA64_RF_U32 = 1u << 4,     /* KVM holds 32 bits (FPCR, FPSR) */
};

struct ha64_reg {
	const char *name;  /* "X0", "PC", "Q3", "SCTLR_EL1" (Apple's suffix) */
	uint16_t apple;    /* hv_reg_t, hv_simd_fp_reg_t or hv_sys_reg_t value */
	uint8_t kind;      /* enum ha64_kind */
	uint8_t flags;     /* enum ha64_reg_flags */
	uint64_t kvm_id;   /* KVM_{GET,SET}_ONE_REG id; 0 when DERIVED/NOKVM */
};

/* The table, indexed by dense index (HA64_NREGS rows). */
extern const struct ha64_reg ha64_regs[HA64_NREGS];

/* Dense index of Apple's register, or -1 when the API has no such one. */
int ha64_gpr_index(uint32_t hv_reg);
int ha64_simd_index(uint32_t hv_simd_reg);
int ha64_sys_index(uint32_t hv_sys_reg);

/* Exit reasons (hv_exit_reason_t values). */
#define HA64_EXIT_CANCELED 0u
#define HA64_EXIT_EXCEPTION 1u
#define HA64_EXIT_VTIMER 2u
#define HA64_EXIT_UNKNOWN 3u

/* The exit record, laid out as hv_vcpu_exit_t (32 bytes). */
struct ha64_exit {
	uint32_t reason;
	uint32_t pad;
	uint64_t syndrome;         /* ESR_EL2 as Apple reports it */
	uint64_t virtual_address;  /* FAR */
	uint64_t physical_address; /* faulting IPA */
};

/* hv_vm_create's configuration, as the backend's uint64_t VM options. */
#define HA64_VMOPT_IPA_MASK 0xffu      /* IPA bits; 0: the default */
#define HA64_VMOPT_EL2 (1ull << 8)     /* EL2 enabled */
#define HA64_VMOPT_GRANULE_16K (1ull << 9)
#define HA64_VMOPT_KNOWN (HA64_VMOPT_IPA_MASK | HA64_VMOPT_EL2 | HA64_VMOPT_GRANULE_16K)

/* What the client asks of one hand-over (op). */
enum ha64_op {
	HA64_OP_RUN = 1,  /* write dirty, run until an exit for the client, refresh wanted */
	HA64_OP_SYNC = 2, /* write dirty, refresh wanted registers that are not valid */
};

/* Controls (ctl): set by the client; the backend reports its own changes. */
enum ha64_ctl {
	HA64_CTL_IRQ = 1u << 0,          /* IRQ pending for the next run; cleared after it */
	HA64_CTL_FIQ = 1u << 1,          /* FIQ, likewise */
	HA64_CTL_VTIMER_MASK = 1u << 2,  /* Apple's vtimer mask; the backend sets it at a vtimer exit */
	HA64_CTL_TRAP_DEBUG = 1u << 3,   /* hv_vcpu_set_trap_debug_exceptions */
	HA64_CTL_OFFSET_DIRTY = 1u << 4, /* vtimer_offset was set by the client */
	HA64_CTL_KNOWN = 0x1fu,
};

struct ha64_state {
	uint32_t op;               /* enum ha64_op: client -> backend */
	uint32_t ctl;              /* enum ha64_ctl */
	uint64_t vtimer_offset;    /* Apple's: CNTVCT = host counter - offset */
	uint64_t exec_ns;          /* backend -> client: hv_vcpu_get_exec_time */
	int32_t error;             /* backend -> client: errno of the last failed register write */
	uint32_t error_reg;        /* ... and the dense index it failed on */
	uint64_t want[HA64_WORDS];
	uint64_t valid[HA64_WORDS];
	uint64_t dirty[HA64_WORDS];
	uint64_t val[HA64_NREGS][2];
	struct ha64_exit exit;
};

static inline bool ha64_bit(const uint64_t *set, unsigned i)
{
	return (set[i / 64u] >> (i % 64u)) & 1u;
}

static inline void ha64_set_bit(uint64_t *set, unsigned i)
{
	set[i / 64u] |= 1ull << (i % 64u);
}

static inline void ha64_clear_bit(uint64_t *set, unsigned i)
{
	set[i / 64u] &= ~(1ull << (i % 64u));
}

/*
 * Make a state that came from outside (the run page) safe to act on: op and
 * ctl to known values, bits beyond the table cleared. Returns false when op
 * is not one the backend knows (the call is refused).
 */
bool ha64_check(struct ha64_state *st);

#endif
