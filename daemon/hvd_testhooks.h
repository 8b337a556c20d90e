/* What the test suites may ask of hvd through its environment (hvd_testhooks.c). */
#ifndef HVD_TESTHOOKS_H
#define HVD_TESTHOOKS_H

#include <stdbool.h>

/* Read once by main() before any thread exists, then only read: no other
 * part of hvd looks at the environment. All off (zero) in production. */
struct hvd_testhooks {
	/* HVD_TEST_MEMOP_DELAY_MS: every hv_vm_map, hv_vm_unmap and
	 * hv_vm_protect takes this much longer, as a slow KVM call would
	 * (hvd_memop.c); HVD_TEST_DESTROY_DELAY_MS the same for
	 * hv_vm_destroy. */
	long memop_delay_ms;
	long destroy_delay_ms;
	/* HVD_SANDBOX_SELFTEST set: both thread roles try a call their
	 * seccomp filter refuses and log the answer; set to "kill", the loop
	 * thread also tries one the filter kills hvd for (hvd_sandbox.c,
	 * hvd_vcpu.c). */
	bool sandbox_selftest;
	bool sandbox_selftest_kill;
};

/* Fill `out` from the environment. */
void hvd_testhooks_read(struct hvd_testhooks *out);

#endif
