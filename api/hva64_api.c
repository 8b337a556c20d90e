/*
 * Apple's arm64 API (hv_vm_*, hv_vcpu_*, configuration objects) over a
 * transport (api/hva64.h): in-process (direct/hv_direct64.c) or through
 * hvd (client/hvc_remote64.c). The GIC and SME calls are in
 * api/hva64_gic.c.
 *
 * Registers live in the vCPU's struct ha64_state: a read of a valid
 * register is a load, of another one a SYNC through the transport (after
 * which the backend keeps it fresh at every exit, as it does any register
 * the client wrote); a write is a store and
 * a dirty bit, written by the backend before the next run, except system
 * registers, written through at once so that a value KVM refuses is
 * refused by hv_vcpu_set_sys_reg itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hva64.h"
#include "hva64_priv.h"

#define API __attribute__((visibility("default")))

struct hv_vm_config_s { uint32_t magic, refs; uint32_t ipa_bits; bool el2; uint32_t granule; };
struct hv_vcpu_config_s { uint32_t magic, refs; };
#define VM_CONFIG_MAGIC 0x68766d63u
#define VCPU_CONFIG_MAGIC 0x68767063u

struct vcpu_slot {
	struct hva64_vcpu *t;
	struct ha64_state *st;
	pthread_t owner;
	hv_vcpu_exit_t exit;   /* the client's copy, stable between runs */
	bool used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hva64_vm *the_vm;
static struct vcpu_slot slots[HVA64_MAX_VCPUS];
static struct hva64_host host;
static bool have_host;
static __thread int my_vcpu = -1;

static const struct hva64_transport *T = &hva64_transport;

static hv_return_t host_info(void)
{
	if (have_host)
		return HV_SUCCESS;
	hv_return_t r = T->host_info(&host);
	if (r == HV_SUCCESS)
		have_host = true;
	return r;
}

/* ---- os objects ---- */

API void *os_retain(void *object)
{
	uint32_t *o = object;
	if (o && (o[0] == VM_CONFIG_MAGIC || o[0] == VCPU_CONFIG_MAGIC || hva64__gic_object(o[0])))
		__atomic_add_fetch(&o[1], 1, __ATOMIC_RELAXED);
	return object;
}

API void os_release(void *object)
{
	uint32_t *o = object;
	if (o && (o[0] == VM_CONFIG_MAGIC || o[0] == VCPU_CONFIG_MAGIC || hva64__gic_object(o[0])) &&
	    __atomic_sub_fetch(&o[1], 1, __ATOMIC_ACQ_REL) == 0) {
		o[0] = 0;
		free(o);
	}
}

static bool vm_config_ok(hv_vm_config_t c)
{
	return c && c->magic == VM_CONFIG_MAGIC;
}

API hv_vm_config_t hv_vm_config_create(void)
{
	hv_vm_config_t c = calloc(1, sizeof(*c));
	if (c) {
		c->magic = VM_CONFIG_MAGIC;
		c->refs = 1;
	}
	return c;
}

API hv_return_t hv_vm_config_get_max_ipa_size(uint32_t *bits)
{
	hv_return_t r = bits ? host_info() : HV_BAD_ARGUMENT;
	if (r == HV_SUCCESS)
		*bits = host.ipa_max;
	return r;
}

API hv_return_t hv_vm_config_get_default_ipa_size(uint32_t *bits)
{
	hv_return_t r = bits ? host_info() : HV_BAD_ARGUMENT;
	if (r == HV_SUCCESS)
		*bits = host.ipa_default;
	return r;
}

API hv_return_t hv_vm_config_set_ipa_size(hv_vm_config_t c, uint32_t bits)
{
	if (!vm_config_ok(c))
		return HV_BAD_ARGUMENT;
	hv_return_t r = host_info();
	if (r != HV_SUCCESS)
		return r;
	if (bits < 32 || bits > host.ipa_max)
		return HV_BAD_ARGUMENT;
	c->ipa_bits = bits;
	return HV_SUCCESS;
}

API hv_return_t hv_vm_config_get_ipa_size(hv_vm_config_t c, uint32_t *bits)
{
	if (!vm_config_ok(c) || !bits)
		return HV_BAD_ARGUMENT;
	if (c->ipa_bits) {
		*bits = c->ipa_bits;
		return HV_SUCCESS;
	}
	return hv_vm_config_get_default_ipa_size(bits);
}

API hv_return_t hv_vm_config_get_el2_supported(bool *supported)
{
	hv_return_t r = supported ? host_info() : HV_BAD_ARGUMENT;
	if (r == HV_SUCCESS)
		*supported = host.el2;
	return r;
}

API hv_return_t hv_vm_config_get_el2_enabled(hv_vm_config_t c, bool *enabled)
{
	if (!vm_config_ok(c) || !enabled)
		return HV_BAD_ARGUMENT;
	*enabled = c->el2;
	return HV_SUCCESS;
}

API hv_return_t hv_vm_config_set_el2_enabled(hv_vm_config_t c, bool enabled)
{
	if (!vm_config_ok(c))
		return HV_BAD_ARGUMENT;
	hv_return_t r = host_info();
	if (r != HV_SUCCESS)
		return r;
	if (enabled && !host.el2)
		return HV_UNSUPPORTED;
	c->el2 = enabled;
	return HV_SUCCESS;
}

static uint32_t host_granule(void)
{
	return sysconf(_SC_PAGESIZE) == 16384 ? HV_IPA_GRANULE_16KB : HV_IPA_GRANULE_4KB;
}

API hv_return_t hv_vm_config_get_default_ipa_granule(hv_ipa_granule_t *g)
{
	if (!g)
		return HV_BAD_ARGUMENT;
	*g = host_granule();
	return HV_SUCCESS;
}

API hv_return_t hv_vm_config_get_ipa_granule(hv_vm_config_t c, hv_ipa_granule_t *g)
{
	if (!vm_config_ok(c) || !g)
		return HV_BAD_ARGUMENT;
	*g = host_granule();
	return HV_SUCCESS;
}

API hv_return_t hv_vm_config_set_ipa_granule(hv_vm_config_t c, hv_ipa_granule_t g)
{
	if (!vm_config_ok(c) || (g != HV_IPA_GRANULE_4KB && g != HV_IPA_GRANULE_16KB))
		return HV_BAD_ARGUMENT;
	/* KVM's stage 2 uses the host's page size, nothing else. */
	return g == host_granule() ? HV_SUCCESS : HV_UNSUPPORTED;
}

API hv_vcpu_config_t hv_vcpu_config_create(void)
{
	hv_vcpu_config_t c = calloc(1, sizeof(*c));
	if (c) {
		c->magic = VCPU_CONFIG_MAGIC;
		c->refs = 1;
	}
	return c;
}

API hv_return_t hv_vcpu_config_get_feature_reg(hv_vcpu_config_t c, hv_feature_reg_t reg,
					       uint64_t *value)
{
	if (!c || c->magic != VCPU_CONFIG_MAGIC || !value || reg > 13)
		return HV_BAD_ARGUMENT;
	hv_return_t r = host_info();
	if (r == HV_SUCCESS)
		*value = host.feature[reg];
	return r;
}

API hv_return_t hv_vcpu_config_get_ccsidr_el1_sys_reg_values(hv_vcpu_config_t c,
							     hv_cache_type_t type,
							     uint64_t values[8])
{
	if (!c || c->magic != VCPU_CONFIG_MAGIC || !values || type > 1)
		return HV_BAD_ARGUMENT;
	hv_return_t r = host_info();
	if (r == HV_SUCCESS)
		memcpy(values, host.ccsidr[type], sizeof(host.ccsidr[type]));
	return r;
}

/* ---- the VM ---- */

API hv_return_t hv_vm_get_max_vcpu_count(uint32_t *count)
{
	hv_return_t r = count ? host_info() : HV_BAD_ARGUMENT;
	if (r == HV_SUCCESS)
		*count = host.max_vcpus < HVA64_MAX_VCPUS ? host.max_vcpus : HVA64_MAX_VCPUS;
	return r;
}

API hv_return_t hv_vm_create(hv_vm_config_t config)
{
	uint64_t options = 0;
	if (config) {
		if (!vm_config_ok(config))
			return HV_BAD_ARGUMENT;
		options = config->ipa_bits | (config->el2 ? HA64_VMOPT_EL2 : 0);
	}
	if (T->vm_open) {
		hv_return_t r = T->vm_open();
		if (r != HV_SUCCESS)
			return r;
	}
	pthread_mutex_lock(&lock);
	hv_return_t r = the_vm ? HV_BUSY : T->vm_create(options, &the_vm);
	pthread_mutex_unlock(&lock);
	return r;
}

API hv_return_t hv_vm_destroy(void)
{
	pthread_mutex_lock(&lock);
	hv_return_t r = HV_BAD_ARGUMENT;
	if (the_vm) {
		r = HV_SUCCESS;
		for (unsigned i = 0; i < HVA64_MAX_VCPUS; i++)
			if (slots[i].used)
				r = HV_BUSY;
		if (r == HV_SUCCESS && (r = T->vm_destroy(the_vm)) == HV_SUCCESS) {
			the_vm = NULL;
			hva64__gic_vm_gone();
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

static bool aligned(uint64_t v)
{
	return (v & ((uint64_t)sysconf(_SC_PAGESIZE) - 1u)) == 0;
}

#define MEM_FLAGS (HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)

API hv_return_t hv_vm_map(void *addr, hv_ipa_t ipa, size_t size, hv_memory_flags_t flags)
{
	if (!addr || !size || !aligned((uintptr_t)addr) || !aligned(ipa) || !aligned(size) ||
	    (flags & ~(hv_memory_flags_t)MEM_FLAGS) || ipa + size < ipa)
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&lock);
	hv_return_t r = the_vm ? T->vm_map(the_vm, addr, ipa, size, flags) : HV_BAD_ARGUMENT;
	pthread_mutex_unlock(&lock);
	return r;
}

API hv_return_t hv_vm_unmap(hv_ipa_t ipa, size_t size)
{
	if (!size || !aligned(ipa) || !aligned(size) || ipa + size < ipa)
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&lock);
	hv_return_t r = the_vm ? T->vm_unmap(the_vm, ipa, size) : HV_BAD_ARGUMENT;
	pthread_mutex_unlock(&lock);
	return r;
}

API hv_return_t hv_vm_protect(hv_ipa_t ipa, size_t size, hv_memory_flags_t flags)
{
	if (!size || !aligned(ipa) || !aligned(size) || ipa + size < ipa ||
	    (flags & ~(hv_memory_flags_t)MEM_FLAGS))
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&lock);
	hv_return_t r = the_vm ? T->vm_protect(the_vm, ipa, size, flags) : HV_BAD_ARGUMENT;
	pthread_mutex_unlock(&lock);
	return r;
}

API hv_return_t hv_vm_allocate(void **uvap, size_t size, hv_allocate_flags_t flags)
{
	if (!uvap || !size || !aligned(size) || flags != HV_ALLOCATE_DEFAULT)
		return HV_BAD_ARGUMENT;
	return T->vm_allocate(uvap, size);
}

API hv_return_t hv_vm_deallocate(void *uva, size_t size)
{
	if (!uva || !size || !aligned((uintptr_t)uva) || !aligned(size))
		return HV_BAD_ARGUMENT;
	return T->vm_deallocate(uva, size);
}

/* ---- vCPUs ---- */

API hv_return_t hv_vcpu_create(hv_vcpu_t *vcpu, hv_vcpu_exit_t **exit, hv_vcpu_config_t config)
{
	if (!vcpu || !exit || (config && config->magic != VCPU_CONFIG_MAGIC))
		return HV_BAD_ARGUMENT;
	if (my_vcpu >= 0)
		return HV_BUSY; /* "each thread can only have one vCPU" */
	pthread_mutex_lock(&lock);
	hv_return_t r = HV_BAD_ARGUMENT;
	uint32_t id;
	struct ha64_state *st;
	struct hva64_vcpu *t;
	if (the_vm && (r = T->vcpu_create(the_vm, &id, &st, &t)) == HV_SUCCESS) {
		struct vcpu_slot *s = &slots[id];
		*s = (struct vcpu_slot){ .t = t, .st = st, .owner = pthread_self(), .used = true };
		my_vcpu = (int)id;
		*vcpu = id;
		*exit = &s->exit;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/* The calling thread's vCPU `vcpu`, or NULL (not its owner, or no such). */
static struct vcpu_slot *owned(hv_vcpu_t vcpu)
{
	if (vcpu >= HVA64_MAX_VCPUS || my_vcpu != (int)vcpu || !slots[vcpu].used)
		return NULL;
	return &slots[vcpu];
}

API hv_return_t hv_vcpu_destroy(hv_vcpu_t vcpu)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s)
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&lock);
	bool gone = false;
	hv_return_t r = T->vcpu_destroy(s->t, &gone);
	if (gone) {
		s->used = false;
		my_vcpu = -1;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

static hv_return_t vcpu_sync(struct vcpu_slot *s)
{
	s->st->op = HA64_OP_SYNC;
	return T->vcpu_enter(s->t);
}

/* Register `i` read through the state. */
static hv_return_t get(struct vcpu_slot *s, int i, uint64_t out[2])
{
	struct ha64_state *st = s->st;
	if (!ha64_bit(st->valid, (unsigned)i)) {
		ha64_set_bit(st->want, (unsigned)i);
		hv_return_t r = vcpu_sync(s);
		if (r != HV_SUCCESS)
			return r;
		if (!ha64_bit(st->valid, (unsigned)i))
			return HV_BAD_ARGUMENT; /* KVM would not give it */
	}
	out[0] = st->val[i][0];
	out[1] = st->val[i][1];
	return HV_SUCCESS;
}

/* Register `i` written through the state. Written once, it is wanted: a
 * client that sets PC or CPSR reads them back after the exits to come, and
 * that read must not cost a call to the hypervisor. */
static void put(struct vcpu_slot *s, int i, uint64_t lo, uint64_t hi)
{
	s->st->val[i][0] = lo;
	s->st->val[i][1] = hi;
	ha64_set_bit(s->st->dirty, (unsigned)i);
	ha64_set_bit(s->st->valid, (unsigned)i);
	ha64_set_bit(s->st->want, (unsigned)i);
}

API hv_return_t hv_vcpu_get_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t *value)
{
	struct vcpu_slot *s = owned(vcpu);
	int i = ha64_gpr_index(reg);
	uint64_t v[2];
	if (!s || i < 0 || !value)
		return HV_BAD_ARGUMENT;
	hv_return_t r = get(s, i, v);
	if (r == HV_SUCCESS)
		*value = v[0];
	return r;
}

API hv_return_t hv_vcpu_set_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t value)
{
	struct vcpu_slot *s = owned(vcpu);
	int i = ha64_gpr_index(reg);
	if (!s || i < 0)
		return HV_BAD_ARGUMENT;
	if (reg == HV_REG_FPCR || reg == HV_REG_FPSR)
		value = (uint32_t)value;
	put(s, i, value, 0);
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_get_simd_fp_reg(hv_vcpu_t vcpu, hv_simd_fp_reg_t reg,
					hv_simd_fp_uchar16_t *value)
{
	struct vcpu_slot *s = owned(vcpu);
	int i = ha64_simd_index(reg);
	uint64_t v[2];
	if (!s || i < 0 || !value)
		return HV_BAD_ARGUMENT;
	hv_return_t r = get(s, i, v);
	if (r == HV_SUCCESS)
		memcpy(value, v, 16);
	return r;
}

API hv_return_t hv_vcpu_set_simd_fp_reg(hv_vcpu_t vcpu, hv_simd_fp_reg_t reg,
					hv_simd_fp_uchar16_t value)
{
	struct vcpu_slot *s = owned(vcpu);
	int i = ha64_simd_index(reg);
	uint64_t v[2];
	if (!s || i < 0)
		return HV_BAD_ARGUMENT;
	memcpy(v, &value, 16);
	put(s, i, v[0], v[1]);
	return HV_SUCCESS;
}

/* A system register the vCPU may reach: Apple's rules (EL2, GIC) and
 * what KVM has. */
static int sys_index(struct vcpu_slot *s, hv_sys_reg_t reg)
{
	(void)s;
	int i = ha64_sys_index(reg);
	if (i < 0 || (ha64_regs[i].flags & (HA64_RF_EL2 | HA64_RF_NOKVM)) ||
	    ((ha64_regs[i].flags & HA64_RF_GIC) && !hva64__gic_exists()))
		return -1; /* no EL2 guests, CNTP_* only with a GIC, nothing KVM lacks */
	return i;
}

API hv_return_t hv_vcpu_get_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t *value)
{
	struct vcpu_slot *s = owned(vcpu);
	int i = s ? sys_index(s, reg) : -1;
	uint64_t v[2];
	if (i < 0 || !value)
		return HV_BAD_ARGUMENT;
	hv_return_t r = get(s, i, v);
	if (r == HV_SUCCESS)
		*value = v[0];
	return r;
}

API hv_return_t hv_vcpu_set_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t value)
{
	struct vcpu_slot *s = owned(vcpu);
	int i = s ? sys_index(s, reg) : -1;
	if (i < 0)
		return HV_BAD_ARGUMENT;
	put(s, i, value, 0);
	hv_return_t r = vcpu_sync(s);
	if (r == HV_SUCCESS && s->st->error)
		r = s->st->error == ENOTSUP ? HV_UNSUPPORTED : HV_BAD_ARGUMENT;
	return r;
}

API hv_return_t hv_vcpu_get_pending_interrupt(hv_vcpu_t vcpu, hv_interrupt_type_t type,
					      bool *pending)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s || !pending || type > HV_INTERRUPT_TYPE_FIQ)
		return HV_BAD_ARGUMENT;
	*pending = s->st->ctl & (type == HV_INTERRUPT_TYPE_IRQ ? HA64_CTL_IRQ : HA64_CTL_FIQ);
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_set_pending_interrupt(hv_vcpu_t vcpu, hv_interrupt_type_t type,
					      bool pending)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s || type > HV_INTERRUPT_TYPE_FIQ)
		return HV_BAD_ARGUMENT;
	if (pending && hva64__gic_exists())
		return HV_UNSUPPORTED; /* KVM takes no IRQ/FIQ line beside its vGIC */
	uint32_t bit = type == HV_INTERRUPT_TYPE_IRQ ? HA64_CTL_IRQ : HA64_CTL_FIQ;
	s->st->ctl = pending ? s->st->ctl | bit : s->st->ctl & ~bit;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_get_trap_debug_exceptions(hv_vcpu_t vcpu, bool *value)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s || !value)
		return HV_BAD_ARGUMENT;
	*value = s->st->ctl & HA64_CTL_TRAP_DEBUG;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_set_trap_debug_exceptions(hv_vcpu_t vcpu, bool value)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s)
		return HV_BAD_ARGUMENT;
	s->st->ctl = value ? s->st->ctl | HA64_CTL_TRAP_DEBUG : s->st->ctl & ~HA64_CTL_TRAP_DEBUG;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_get_trap_debug_reg_accesses(hv_vcpu_t vcpu, bool *value)
{
	if (!owned(vcpu) || !value)
		return HV_BAD_ARGUMENT;
	*value = false;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_set_trap_debug_reg_accesses(hv_vcpu_t vcpu, bool value)
{
	if (!owned(vcpu))
		return HV_BAD_ARGUMENT;
	/* KVM handles debug-register accesses itself, never in user space. */
	return value ? HV_UNSUPPORTED : HV_SUCCESS;
}

API hv_return_t hv_vcpu_run(hv_vcpu_t vcpu)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s)
		return HV_BAD_ARGUMENT;
	s->st->op = HA64_OP_RUN;
	hv_return_t r = T->vcpu_enter(s->t);
	s->exit.reason = s->st->exit.reason;
	s->exit.exception.syndrome = s->st->exit.syndrome;
	s->exit.exception.virtual_address = s->st->exit.virtual_address;
	s->exit.exception.physical_address = s->st->exit.physical_address;
	return r;
}

API hv_return_t hv_vcpus_exit(hv_vcpu_t *vcpus, uint32_t count)
{
	if (!vcpus || !count || count > HVA64_MAX_VCPUS)
		return HV_BAD_ARGUMENT;
	uint32_t ids[HVA64_MAX_VCPUS];
	pthread_mutex_lock(&lock);
	hv_return_t r = the_vm ? HV_SUCCESS : HV_BAD_ARGUMENT;
	for (uint32_t i = 0; i < count && r == HV_SUCCESS; i++) {
		if (vcpus[i] >= HVA64_MAX_VCPUS || !slots[vcpus[i]].used)
			r = HV_BAD_ARGUMENT;
		else
			ids[i] = (uint32_t)vcpus[i];
	}
	if (r == HV_SUCCESS)
		r = T->vcpus_exit(the_vm, ids, count);
	pthread_mutex_unlock(&lock);
	return r;
}

API hv_return_t hv_vcpu_get_exec_time(hv_vcpu_t vcpu, uint64_t *time)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s || !time)
		return HV_BAD_ARGUMENT;
	*time = s->st->exec_ns;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_get_vtimer_mask(hv_vcpu_t vcpu, bool *masked)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s || !masked)
		return HV_BAD_ARGUMENT;
	*masked = s->st->ctl & HA64_CTL_VTIMER_MASK;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_set_vtimer_mask(hv_vcpu_t vcpu, bool masked)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s)
		return HV_BAD_ARGUMENT;
	s->st->ctl = masked ? s->st->ctl | HA64_CTL_VTIMER_MASK : s->st->ctl & ~HA64_CTL_VTIMER_MASK;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_get_vtimer_offset(hv_vcpu_t vcpu, uint64_t *offset)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s || !offset)
		return HV_BAD_ARGUMENT;
	*offset = s->st->vtimer_offset;
	return HV_SUCCESS;
}

API hv_return_t hv_vcpu_set_vtimer_offset(hv_vcpu_t vcpu, uint64_t offset)
{
	struct vcpu_slot *s = owned(vcpu);
	if (!s)
		return HV_BAD_ARGUMENT;
	s->st->vtimer_offset = offset;
	s->st->ctl |= HA64_CTL_OFFSET_DIRTY;
	return HV_SUCCESS;
}

/* ---- for api/hva64_gic.c (hva64_priv.h) ---- */

void hva64__lock(void)
{
	pthread_mutex_lock(&lock);
}

void hva64__unlock(void)
{
	pthread_mutex_unlock(&lock);
}

struct hva64_vm *hva64__vm(void)
{
	return the_vm;
}

bool hva64__any_vcpu(void)
{
	for (unsigned i = 0; i < HVA64_MAX_VCPUS; i++)
		if (slots[i].used)
			return true;
	return false;
}

struct hva64_vcpu *hva64__vcpu(hv_vcpu_t vcpu)
{
	return vcpu < HVA64_MAX_VCPUS && slots[vcpu].used ? slots[vcpu].t : NULL;
}

struct hva64_vcpu *hva64__owned(hv_vcpu_t vcpu)
{
	struct vcpu_slot *s = owned(vcpu);
	return s ? s->t : NULL;
}
