/*
 * hv.h: the Hypervisor.framework Intel API other than raw VMX access.
 *
 * VMs, address spaces, guest memory, vCPUs, registers, MSRs, and the
 * in-kernel APIC/IOAPIC/8259 emulation. VMCS access and the VMX names live
 * in hv_vmx.h, which this header deliberately does not include (clients
 * include both and then define same-named macros of their own).
 *
 * Threading: "owner" below means the call must come from the thread that
 * created the vCPU; other vCPU calls and all VM-wide calls may come from any
 * thread. Every hv_return_t function returns HV_SUCCESS (0) or an HV_* code.
 */
#ifndef __HYPERVISOR_HV__
#define __HYPERVISOR_HV__

#include <Hypervisor/hv_arch_x86.h>
#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_intr.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_vm_allocate.h>

HV_DECLS_BEGIN

/* ---- VM, address spaces, guest memory ---- */

/* Stores in *value the limit named by `capability` (HV_CAP_VCPUMAX: vCPUs
 * per VM, HV_CAP_ADDRSPACEMAX: address spaces per VM). */
HV_EXPORT hv_return_t hv_capability(hv_capability_t capability,
    uint64_t *value);

/* Creates the one VM of the calling process; flags are HV_VM_* options
 * (HV_VM_DEFAULT for none). */
HV_EXPORT hv_return_t hv_vm_create(hv_vm_options_t flags);

/* Destroys the calling process's VM; destroy its vCPUs first. */
HV_EXPORT hv_return_t hv_vm_destroy(void);

/* Creates an additional guest physical address space and stores its ID in
 * *asid. */
HV_EXPORT hv_return_t hv_vm_space_create(hv_vm_space_t *asid);

/* Destroys an address space made by hv_vm_space_create(). */
HV_EXPORT hv_return_t hv_vm_space_destroy(hv_vm_space_t asid);

/* Maps the page-aligned host range [uva, uva+size) at the page-aligned guest
 * address gpa of the default address space with HV_MEMORY_* permissions. */
HV_EXPORT hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa,
    size_t size, hv_memory_flags_t flags);

/* Unmaps [gpa, gpa+size) from the default address space. */
HV_EXPORT hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size);

/* Replaces the permissions of [gpa, gpa+size) in the default address
 * space. */
HV_EXPORT hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size,
    hv_memory_flags_t flags);

/* hv_vm_map() on the address space `asid`. */
HV_EXPORT hv_return_t hv_vm_map_space(hv_vm_space_t asid, hv_uvaddr_t uva,
    hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags);

/* hv_vm_unmap() on the address space `asid`. */
HV_EXPORT hv_return_t hv_vm_unmap_space(hv_vm_space_t asid, hv_gpaddr_t gpa,
    size_t size);

/* hv_vm_protect() on the address space `asid`. */
HV_EXPORT hv_return_t hv_vm_protect_space(hv_vm_space_t asid,
    hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags);

/* Sets the guest TSC of every vCPU to the same value `tsc`. */
HV_EXPORT hv_return_t hv_vm_sync_tsc(uint64_t tsc);

/* Makes matching guest port writes (addr, size 1/2/4, value, relaxed by
 * HV_ION_* flags) send an hv_ion_message_t to mach_port instead of
 * exiting; one notifier per port address. */
HV_EXPORT hv_return_t hv_vm_add_pio_notifier(uint16_t addr, size_t size,
    uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags);

/* Removes a notifier; the arguments must equal those of the add call. */
HV_EXPORT hv_return_t hv_vm_remove_pio_notifier(uint16_t addr, size_t size,
    uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags);

/* ---- vCPUs ---- */

/* Creates a vCPU owned by the calling thread and stores its ID in *vcpu;
 * flags are HV_VCPU_* options. */
HV_EXPORT hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu,
    hv_vcpu_options_t flags);

/* Destroys a vCPU (owner). */
HV_EXPORT hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu);

/* Switches the vCPU to the guest physical address space `asid` (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid);

/* Stores the value of the x86 register `reg` in *value (owner). */
HV_EXPORT hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu,
    hv_x86_reg_t reg, uint64_t *value);

/* Sets the x86 register `reg` to value (owner). */
HV_EXPORT hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu,
    hv_x86_reg_t reg, uint64_t value);

/* Copies the FPU/SIMD state, in the host's XSAVE layout, into the `size`
 * bytes at buffer (owner). */
HV_EXPORT hv_return_t hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer,
    size_t size);

/* Loads the FPU/SIMD state from `size` bytes of XSAVE layout at buffer
 * (owner; the buffer is not modified despite the non-const type). */
HV_EXPORT hv_return_t hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer,
    size_t size);

/* Lets the guest access the MSR natively, without exits, or stops it
 * (owner). */
HV_EXPORT hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu,
    uint32_t msr, bool enable);

/* Enables or disables guest use of a framework-managed MSR, one of the
 * HV_MSR_* IDs of hv_arch_vmx.h (owner). */
HV_EXPORT hv_return_t hv_vcpu_enable_managed_msr(hv_vcpuid_t vcpu,
    uint32_t msr, bool enable);

/* Sets which directions (HV_MSR_READ, HV_MSR_WRITE) of a managed MSR the
 * guest may access without an exit (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_msr_access(hv_vcpuid_t vcpu, uint32_t msr,
    hv_msr_flags_t flags);

/* Stores the guest value of the MSR in *value (owner). */
HV_EXPORT hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr,
    uint64_t *value);

/* Sets the guest value of the MSR (owner). */
HV_EXPORT hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr,
    uint64_t value);

/* Deprecated by Apple in macOS 11: has no effect and always returns
 * HV_UNSUPPORTED. */
HV_EXPORT hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu);

/* Invalidates the vCPU's guest TLB (owner). */
HV_EXPORT hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu);

/* Runs the guest until the next VM exit, including exits the framework
 * handled itself, so a return may carry nothing to do (owner). */
HV_EXPORT hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu);

/* The deadline of hv_vcpu_run_until() that never expires. */
enum {
	HV_DEADLINE_FOREVER = (~0ull)
};

/* Runs the guest until an exit the framework did not handle or until
 * `deadline` (mach absolute time) passes; any deadline but
 * HV_DEADLINE_FOREVER needs the VMX preemption timer, else HV_UNSUPPORTED
 * (owner). */
HV_EXPORT hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline);

/* Forces an immediate VM exit of each of the vcpu_count listed vCPUs; may
 * be called from any thread. */
HV_EXPORT hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus,
    unsigned int vcpu_count);

/* Stores the vCPU's cumulative guest execution time, in nanoseconds, in
 * *time (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time);

/* Stores the cumulative nanoseconds spent emulating idle instructions such
 * as HLT in *time (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_idle_time(hv_vcpuid_t vcpu, uint64_t *time);

/* Returns a monotonic clock that ticks at the host TSC rate (plus a
 * constant); valid only once the VM exists. */
HV_EXPORT uint64_t hv_tsc_clock(void);

/* Makes the guest TSC read hv_tsc_clock() + offset. */
HV_EXPORT hv_return_t hv_vcpu_set_tsc_relative(hv_vcpuid_t vcpu,
    int64_t offset);

/* Stores the host RFLAGS ZF/CF left by the last failed VM entry in *status;
 * HV_ERROR if the vCPU never ran or another setup problem was found
 * (owner). */
HV_EXPORT hv_return_t hv_vcpu_vmx_status(hv_vcpuid_t vcpu, uint32_t *status);

/* ---- APIC, IOAPIC and 8259 emulation (VM-wide, any thread) ---- */

/* Raises interrupt `vector` on the vCPU's local APIC with trigger mode
 * trig; need not be called by the owner. */
HV_EXPORT hv_return_t hv_vm_lapic_set_intr(hv_vcpuid_t vcpu, uint8_t vector,
    hv_apic_intr_trigger_t trig);

/* Delivers the message-signalled interrupt (addr, data). */
HV_EXPORT hv_return_t hv_vm_lapic_msi(uint64_t addr, uint64_t data);

/* Asserts IOAPIC input pin `intin`. */
HV_EXPORT hv_return_t hv_vm_ioapic_assert_irq(int intin);

/* Deasserts IOAPIC input pin `intin`. */
HV_EXPORT hv_return_t hv_vm_ioapic_deassert_irq(int intin);

/* Asserts then deasserts IOAPIC input pin `intin`. */
HV_EXPORT hv_return_t hv_vm_ioapic_pulse_irq(int intin);

/* Performs a 32-bit guest read of the IOAPIC register at gpa into *datap. */
HV_EXPORT hv_return_t hv_vm_ioapic_read(hv_gpaddr_t gpa, uint32_t *datap);

/* Performs a 32-bit guest write of data to the IOAPIC register at gpa. */
HV_EXPORT hv_return_t hv_vm_ioapic_write(hv_gpaddr_t gpa, uint32_t data);

/* Copies the IOAPIC state into *state; set state->version to
 * HV_IOAPIC_STATE_EXT_VER first. */
HV_EXPORT hv_return_t hv_vm_ioapic_get_state(hv_ioapic_state_ext_t *state);

/* Loads the IOAPIC state from *state; only while the VM is quiescent. */
HV_EXPORT hv_return_t hv_vm_ioapic_put_state(const hv_ioapic_state_ext_t *state);

/* Delivers an interrupt described in IOAPIC redirection-entry format. */
HV_EXPORT hv_return_t hv_vm_send_ioapic_intr(uint64_t data);

/* Asserts input `irq` of the 8259 pair. */
HV_EXPORT hv_return_t hv_vm_atpic_assert_irq(int irq);

/* Deasserts input `irq` of the 8259 pair. */
HV_EXPORT hv_return_t hv_vm_atpic_deassert_irq(int irq);

/* Emulates a guest IN from 8259 I/O port `port` into *valuep. */
HV_EXPORT hv_return_t hv_vm_atpic_port_read(int port, uint8_t *valuep);

/* Emulates a guest OUT of value to 8259 I/O port `port`. */
HV_EXPORT hv_return_t hv_vm_atpic_port_write(int port, uint8_t value);

/* Copies the state of the primary (is_primary) or secondary 8259 into
 * *state; set state->version to HV_ATPIC_STATE_EXT_VER first. */
HV_EXPORT hv_return_t hv_vm_atpic_get_state(hv_atpic_state_ext_t *state,
    bool is_primary);

/* Loads the state of the primary or secondary 8259; only while the VM is
 * quiescent. */
HV_EXPORT hv_return_t hv_vm_atpic_put_state(const hv_atpic_state_ext_t *state,
    bool is_primary);

/* Sets the APIC bus (timer) frequency in Hz, 16 MHz to 2 GHz; only while
 * the VM has no vCPUs. */
HV_EXPORT hv_return_t hv_vm_set_apic_bus_freq(uint64_t freq);

/* ---- Local APIC of one vCPU (owner) ---- */

/* Queues one external interrupt (ExtINT) for injection through the VMCS. */
HV_EXPORT hv_return_t hv_vcpu_inject_extint(hv_vcpuid_t vcpu);

/* Reads the 32-bit local APIC register at `offset` into *data. */
HV_EXPORT hv_return_t hv_vcpu_apic_read(hv_vcpuid_t vcpu, uint32_t offset,
    uint32_t *data);

/* Writes the local APIC register at `offset`; *no_side_effect is set false
 * when the write left work for the caller (see hv_vcpu_exit_info()). */
HV_EXPORT hv_return_t hv_vcpu_apic_write(hv_vcpuid_t vcpu, uint32_t offset,
    uint32_t data, bool *no_side_effect);

/* Copies the local APIC state into *state; set state->version to
 * HV_APIC_STATE_EXT_VER first. */
HV_EXPORT hv_return_t hv_vcpu_apic_get_state(hv_vcpuid_t vcpu,
    hv_apic_state_ext_t *state);

/* Loads the local APIC state from *state. */
HV_EXPORT hv_return_t hv_vcpu_apic_put_state(hv_vcpuid_t vcpu,
    const hv_apic_state_ext_t *state);

/* Stores in *code which HV_VM_EXITINFO_* detail the last exit carries. */
HV_EXPORT hv_return_t hv_vcpu_exit_info(hv_vcpuid_t vcpu,
    hv_vm_exitinfo_t *code);

/* For HV_VM_EXITINFO_INIT_AP: marks in is_actv[0..count) the vCPUs the INIT
 * targets. */
HV_EXPORT hv_return_t hv_vcpu_exit_init_ap(hv_vcpuid_t vcpu, bool is_actv[],
    unsigned count);

/* For HV_VM_EXITINFO_STARTUP_AP: marks the vCPUs the SIPI targets and
 * stores their start RIP in *ap_rip. */
HV_EXPORT hv_return_t hv_vcpu_exit_startup_ap(hv_vcpuid_t vcpu,
    bool is_actv[], unsigned count, uint64_t *ap_rip);

/* For HV_VM_EXITINFO_IOAPIC_EOI: stores the vector of the EOI in *vec. */
HV_EXPORT hv_return_t hv_vcpu_exit_ioapic_eoi(hv_vcpuid_t vcpu, uint8_t *vec);

/* For HV_VM_EXITINFO_APIC_ACCESS_READ: stores the value the guest read in
 * *value. */
HV_EXPORT hv_return_t hv_vcpu_exit_apic_access_read(hv_vcpuid_t vcpu,
    uint32_t *value);

/* For HV_VM_EXITINFO_INJECT_EXCP: stores the exception vector, whether an
 * error code is valid, the error code, and whether to restart the
 * instruction. */
HV_EXPORT hv_return_t hv_vcpu_exit_inject_excp(hv_vcpuid_t vcpu, uint8_t *vec,
    bool *valid, uint32_t *code, bool *restart);

/* Caches a 32-bit register load (is_load) or store between `reg` and the
 * APIC page at rip/ilen/cs so it is emulated in the kernel; uva[0..count)
 * are up to two host pages holding the instruction bytes. */
HV_EXPORT hv_return_t hv_vcpu_apic_lsc_enter_r32(hv_vcpuid_t vcpu,
    bool is_load, uint64_t rip, unsigned ilen, uint16_t cs, hv_x86_reg_t reg,
    uint64_t uva[], unsigned count);

/* Caches a store of the immediate imm32 to the APIC page at rip/ilen/cs,
 * like hv_vcpu_apic_lsc_enter_r32(). */
HV_EXPORT hv_return_t hv_vcpu_apic_lsc_enter_imm32(hv_vcpuid_t vcpu,
    uint64_t rip, unsigned ilen, uint16_t cs, uint32_t imm32,
    uint64_t uva[], unsigned count);

/* Drops every cached APIC load/store of the vCPU. */
HV_EXPORT hv_return_t hv_vcpu_apic_lsc_invalidate(hv_vcpuid_t vcpu);

/* Sets the HV_APIC_CTRL_* emulation options of the vCPU's local APIC. */
HV_EXPORT hv_return_t hv_vcpu_apic_ctrl(hv_vcpuid_t vcpu, hv_apic_ctrl_t ctrls);

/* Fires the local vector table entry `flavor` (only the timer exists). */
HV_EXPORT hv_return_t hv_vcpu_apic_trigger_lvt(hv_vcpuid_t vcpu,
    hv_apic_lvt_flavor_t flavor);

HV_DECLS_END

#endif /* __HYPERVISOR_HV__ */
