/*
 * Writes the seed inputs of corpus/<harness>/ (valid messages, files and
 * states, one per file, named seed-*). Run after a change to the protocol,
 * the run page or the formats:
 *     build-fuzz/tests/fuzz/fuzz_seeds tests/fuzz/corpus
 * Regression inputs (crash-*, named by what they found) are kept by hand.
 */
#include <errno.h>
#include <plist/plist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pb_encode.h>

#include <Hypervisor/hv_arch_vmx.h>
#include <Hypervisor/hv_arch_x86.h>

#include "fuzz_keys.h"
#include "hvb_state.h"
#include "hvd.pb-c.h"
#include "hvd.pb.h"
#include "hvd_protocol.h"

static const char *root;

static void put(const char *harness, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, harness);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%s", root, harness, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void put_str(const char *harness, const char *name, const char *s)
{
	put(harness, name, s, strlen(s));
}

/* ---- request (protobuf-c, as libhvclient's messages arrive at hvd) ---- */

static void put_req(const char *name, Hvd__Request *req)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	size_t n = hvd__request__get_packed_size(req);
	if (n > sizeof(buf))
		abort();
	hvd__request__pack(req, buf);
	put("request", name, buf, n);
}

#define REQ(NAME, OP, op, TYPE, INIT, ...) do { \
	Hvd__Request r = HVD__REQUEST__INIT; \
	TYPE m = INIT; \
	__VA_ARGS__; \
	r.id = ++id; \
	r.op_case = HVD__REQUEST__OP_##OP; \
	r.op = &m; \
	put_req(NAME, &r); \
} while (0)

static void requests(void)
{
	uint32_t id = 0;
	uint8_t fpu[512];
	uint32_t vcpus[] = { 0, 1, 3 };
	for (unsigned i = 0; i < sizeof(fpu); i++)
		fpu[i] = (uint8_t)i;

	REQ("hello", HELLO, hello, Hvd__Hello, HVD__HELLO__INIT, m.version = HVD_PROTOCOL_VERSION);
	REQ("vm_create", VM_CREATE, vm_create, Hvd__VmCreate, HVD__VM_CREATE__INIT, m.flags = 0);
	REQ("vm_destroy", VM_DESTROY, vm_destroy, Hvd__VmDestroy, HVD__VM_DESTROY__INIT, (void)0);
	REQ("vm_map", VM_MAP, vm_map, Hvd__VmMap, HVD__VM_MAP__INIT,
	    m.gpa = 0x100000; m.size = 0x200000; m.flags = 7; m.offset = 0x1000);
	REQ("vm_unmap", VM_UNMAP, vm_unmap, Hvd__VmUnmap, HVD__VM_UNMAP__INIT,
	    m.gpa = 0x100000; m.size = 0x1000);
	REQ("vm_protect", VM_PROTECT, vm_protect, Hvd__VmProtect, HVD__VM_PROTECT__INIT,
	    m.gpa = 0x100000; m.size = 0x1000; m.flags = 5);
	REQ("vm_sync_tsc", VM_SYNC_TSC, vm_sync_tsc, Hvd__VmSyncTsc, HVD__VM_SYNC_TSC__INIT,
	    m.tsc = 123456789);
	REQ("capability", CAPABILITY, capability, Hvd__Capability, HVD__CAPABILITY__INIT,
	    m.which = 0);
	REQ("vcpu_create", VCPU_CREATE, vcpu_create, Hvd__VcpuCreate, HVD__VCPU_CREATE__INIT,
	    m.flags = 0);
	REQ("vcpu_destroy", VCPU_DESTROY, vcpu_destroy, Hvd__VcpuDestroy,
	    HVD__VCPU_DESTROY__INIT, m.vcpu = 1);
	REQ("vcpu_reg_read", VCPU_REG, vcpu_reg, Hvd__VcpuReg, HVD__VCPU_REG__INIT,
	    m.vcpu = 0; m.reg = HV_X86_DR7);
	REQ("vcpu_reg_write", VCPU_REG, vcpu_reg, Hvd__VcpuReg, HVD__VCPU_REG__INIT,
	    m.vcpu = 0; m.reg = HV_X86_XCR0; m.value = 7; m.write = 1);
	REQ("vcpu_vmcs_write", VCPU_VMCS, vcpu_vmcs, Hvd__VcpuVmcs, HVD__VCPU_VMCS__INIT,
	    m.vcpu = 0; m.field = VMCS_GUEST_DR7; m.value = 0x400; m.write = 1);
	REQ("vcpu_msr_read", VCPU_MSR, vcpu_msr, Hvd__VcpuMsr, HVD__VCPU_MSR__INIT,
	    m.vcpu = 0; m.msr = 0xc0000080);
	REQ("vcpu_msr_write", VCPU_MSR, vcpu_msr, Hvd__VcpuMsr, HVD__VCPU_MSR__INIT,
	    m.vcpu = 2; m.msr = 0x10; m.value = 0xffffffffffffull; m.write = 1);
	REQ("vcpu_native_msr", VCPU_NATIVE_MSR, vcpu_native_msr, Hvd__VcpuNativeMsr,
	    HVD__VCPU_NATIVE_MSR__INIT, m.vcpu = 0; m.msr = 0xc0000102; m.enable = 1);
	REQ("vcpu_fpstate_read", VCPU_FPSTATE, vcpu_fpstate, Hvd__VcpuFpstate,
	    HVD__VCPU_FPSTATE__INIT, m.vcpu = 0; m.size = 4096);
	REQ("vcpu_fpstate_write", VCPU_FPSTATE, vcpu_fpstate, Hvd__VcpuFpstate,
	    HVD__VCPU_FPSTATE__INIT,
	    m.vcpu = 0; m.write = 1; m.data.data = fpu; m.data.len = sizeof(fpu));
	REQ("vcpu_invalidate_tlb", VCPU_INVALIDATE_TLB, vcpu_invalidate_tlb,
	    Hvd__VcpuInvalidateTlb, HVD__VCPU_INVALIDATE_TLB__INIT, m.vcpu = 0);
	REQ("vcpu_exec_time", VCPU_EXEC_TIME, vcpu_exec_time, Hvd__VcpuExecTime,
	    HVD__VCPU_EXEC_TIME__INIT, m.vcpu = 0);
	REQ("vcpu_interrupt", VCPU_INTERRUPT, vcpu_interrupt, Hvd__VcpuInterrupt,
	    HVD__VCPU_INTERRUPT__INIT, m.n_vcpus = 3; m.vcpus = vcpus);
	REQ("admin_status", ADMIN_STATUS, admin_status, Hvd__AdminStatus,
	    HVD__ADMIN_STATUS__INIT, (void)0);
	REQ("admin_list_vms", ADMIN_LIST_VMS, admin_list_vms, Hvd__AdminListVms,
	    HVD__ADMIN_LIST_VMS__INIT, (void)0);
	REQ("admin_show_vm", ADMIN_SHOW_VM, admin_show_vm, Hvd__AdminShowVm,
	    HVD__ADMIN_SHOW_VM__INIT, m.vm = 3);
	REQ("admin_kill_vm", ADMIN_KILL_VM, admin_kill_vm, Hvd__AdminKillVm,
	    HVD__ADMIN_KILL_VM__INIT, m.vm = 3);
	REQ("admin_clients", ADMIN_CLIENTS, admin_clients, Hvd__AdminClients,
	    HVD__ADMIN_CLIENTS__INIT, (void)0);
	REQ("admin_policy_reload", ADMIN_POLICY_RELOAD, admin_policy_reload,
	    Hvd__AdminPolicyReload, HVD__ADMIN_POLICY_RELOAD__INIT, (void)0);
	REQ("admin_policy_explain", ADMIN_POLICY_EXPLAIN, admin_policy_explain,
	    Hvd__AdminPolicyExplain, HVD__ADMIN_POLICY_EXPLAIN__INIT, m.pid = 4242);
}

/* ---- response (nanopb, as hvd's replies arrive at libhvclient) ---- */

static void put_resp(const char *name, const hvd_Response *resp)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	if (!pb_encode(&os, hvd_Response_fields, resp))
		abort();
	put("response_nanopb", name, buf, os.bytes_written);
}

static void responses(void)
{
	hvd_Response r;

	memset(&r, 0, sizeof(r));
	r.id = 1;
	r.has_hello = true;
	r.hello.version = HVD_PROTOCOL_VERSION;
	r.hello.run_page_size = sizeof(struct hvd_run_page);
	r.hello.run_page_version = HVD_RUN_PAGE_VERSION;
	r.hello.max_vcpus = 64;
	r.hello.vmx_caps_count = 33;
	r.hello.vmx_caps_status_count = 33;
	for (unsigned i = 0; i < 33; i++) {
		r.hello.vmx_caps[i] = i < 5 ? 0x0000001600000016ull << (i % 3) : 0;
		r.hello.vmx_caps_status[i] = i < 5 ? 0 : 22;
	}
	put_resp("hello", &r);

	memset(&r, 0, sizeof(r));
	r.id = 2;
	r.status = (int32_t)0xfae94006; /* HV_UNSUPPORTED */
	r.has_hello = true;
	r.hello.version = 2;
	put_resp("hello_wrong_version", &r);

	memset(&r, 0, sizeof(r));
	r.id = 3;
	r.vcpu = 5;
	put_resp("vcpu_create", &r);

	memset(&r, 0, sizeof(r));
	r.id = 4;
	r.value = 0xfedcba9876543210ull;
	put_resp("value", &r);

	memset(&r, 0, sizeof(r));
	r.id = 5;
	r.data.size = 4096;
	for (unsigned i = 0; i < r.data.size; i++)
		r.data.bytes[i] = (uint8_t)(i * 7);
	put_resp("fpstate", &r);

	memset(&r, 0, sizeof(r));
	r.id = 6;
	r.status = (int32_t)0xfae94001; /* HV_ERROR */
	put_resp("error", &r);

	/* An admin reply as hvd sends it to hvctl: fields libhvclient ignores
	 * (FT_IGNORE), which its decoder must skip. */
	Hvd__Response a = HVD__RESPONSE__INIT;
	Hvd__StatusReply st = HVD__STATUS_REPLY__INIT;
	a.id = 7;
	a.error = "administrators only";
	st.version = "0.1.0";
	st.protocol = 1;
	st.policy_source = "/etc/hvd/hvd.conf";
	st.clients = 3;
	a.status_reply = &st;
	uint8_t buf[HVD_MAX_MESSAGE];
	size_t n = hvd__response__get_packed_size(&a);
	if (n > sizeof(buf))
		abort();
	hvd__response__pack(&a, buf);
	put("response_nanopb", "admin_status", buf, n);
}

/* ---- policy configuration ---- */

static void policies(const char *pkhex)
{
	char text[4096];

	put_str("policy_config", "docs_example",
		"# /etc/hvd/hvd.conf\n\n[hvd]\nadmin_group = hvd-admin\n"
		"audit = /var/log/hvd/audit.log\n"
		"trusted_key = 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29\n"
		"grants = /etc/hvd/grants\n\n[defaults]\nmax_vms = 4\nmax_memory = 16G\n\n"
		"[tenant ci]\nmax_vms = 32\nmax_vcpus = 256\nmax_memory = 512G\nmax_rpc_rate = 0\n\n"
		"[rule root]\nuid = 0\nentitlements = com.apple.security.hypervisor\n\n"
		"[rule developers]\ngroup = kvm\nentitlements = com.apple.security.hypervisor\n\n"
		"[rule ci-runners]\nuser = gitlab-runner\n"
		"entitlements = com.apple.security.hypervisor, com.apple.vm.networking\ntenant = ci\n");
	snprintf(text, sizeof(text),
		 "[hvd]\nadmin_group = 0\naudit = -\ntrusted_key = %s\n"
		 "trusted_key = a5a4a7a6a1a0a3a2adacafaea9a8abaab5b4b7b6b1b0b3b2bdbcbfbeb9b8bbba\n"
		 "grants = grants\n\n"
		 "[defaults]\nmax_vms = 4\nmax_vcpus_per_vm = 8\nmax_vcpus = 32\n"
		 "max_memory = 16G\nmax_mappings = 128\nmax_rpc_rate = 1000\nmax_cpu_percent = 150\n\n"
		 "[tenant dev]\nmax_vms = 2\nmax_memory = 512M\n\n"
		 "[rule me]\nuid = 1000\n"
		 "entitlements = com.apple.security.hypervisor\n"
		 "  com.apple.vm.device-access, com.example.other\n"
		 "tenant = dev\n\n"
		 "[rule sudoers]\ngroup = 27 ; the sudo group\n"
		 "entitlements = com.apple.vm.networking\n\n"
		 "[rule root]\nuser = root\nentitlements = com.apple.security.hypervisor\n",
		 pkhex);
	put_str("policy_config", "full_with_grants", text);
	put_str("policy_config", "rules_only",
		"; rules only\n[rule a]\nuid = 1000\nentitlements = com.apple.security.hypervisor\n"
		"[rule b]\ngroup = 100\ntenant = t\n[tenant t]\nmax_vcpus = 1\nmax_memory = 1T\n");
	put_str("policy_config", "empty", "");
	put_str("policy_config", "error_unknown_key",
		"[tenant ci]\nmax_vm = 3\n");
	put_str("policy_config", "error_no_match", "[rule x]\nentitlements = a b c\n");
	put_str("policy_config", "error_bad_size", "[defaults]\nmax_memory = 16Q\n");
	put_str("policy_config", "bom_and_comments",
		"\xEF\xBB\xBF# comment\n[hvd]\naudit = /dev/null\n[defaults]\nmax_vms = 0\n");
}

/* ---- grants and entitlements plists ---- */

static void grants(const uint8_t sk[64])
{
	uint8_t hash[HVP_HASH_BYTES];
	char *plist = NULL, *grant = NULL;
	static const char ents[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
		"\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
		"<plist version=\"1.0\">\n<dict>\n"
		"\t<key>com.apple.security.hypervisor</key>\n\t<true/>\n"
		"\t<key>com.apple.vm.networking</key>\n\t<false/>\n"
		"\t<key>com.example.custom</key>\n\t<true/>\n"
		"</dict>\n</plist>\n";

	fuzz_exe_hash(hash);
	put_str("grant", "entitlements_xml", ents);

	/* The same entitlements as a binary plist (hvctl accepts both). */
	plist_t p = NULL;
	char *bin = NULL;
	uint32_t blen = 0;
	plist_from_xml(ents, sizeof(ents) - 1, &p);
	plist_to_bin(p, &bin, &blen);
	if (!bin)
		abort();
	put("grant", "entitlements_binary", bin, blen);
	plist_to_bin_free(bin);
	plist_free(p);

	/* A grant body, and the whole grant signed with the fuzzers' key. */
	if (hvp_grant_plist(hash, ents, sizeof(ents) - 1, 1000, "kvm", 4102444800, &plist) != 0 ||
	    hvp_grant_sign(sk, plist, strlen(plist), &grant) != 0)
		abort();
	put_str("grant", "body", plist);
	put_str("grant", "signed", grant);
	free(grant);
	free(plist);
	if (hvp_grant_plist(hash, ents, sizeof(ents) - 1, -1, NULL, 0, &plist) != 0)
		abort();
	put_str("grant", "body_minimal", plist);
	free(plist);
}

/* ---- run page states ---- */

static void put_state(const char *name, const struct hvb_state *st, const void *tail,
		      size_t tlen)
{
	uint8_t buf[sizeof(*st) + 256];
	if (tlen > 256)
		abort();
	memcpy(buf, st, sizeof(*st));
	if (tlen)
		memcpy(buf + sizeof(*st), tail, tlen);
	put("run_page", name, buf, sizeof(*st) + tlen);
}

static void run_pages(void)
{
	struct hvb_state st;
	uint8_t tail[256];
	for (unsigned i = 0; i < sizeof(tail); i++)
		tail[i] = (uint8_t)(i * 37 + 11);

	memset(&st, 0, sizeof(st));
	put_state("zero", &st, NULL, 0);

	/* A real-mode vCPU after reset, as Apple's examples set it up. */
	memset(&st, 0, sizeof(st));
	hvb_state_init_ctls(&st.c);
	st.regs.rip = 0xfff0;
	st.regs.rflags = 2;
	st.sregs.cs.selector = 0xf000;
	st.sregs.cs.base = 0xffff0000;
	st.sregs.cs.limit = 0xffff;
	st.sregs.cs.present = 1;
	st.sregs.cs.type = 0xb;
	st.sregs.cs.s = 1;
	st.sregs.cr0 = 0x60000010;
	st.sregs.idt.limit = 0x3ff;
	st.cr4_vmxe = true;
	st.dirty = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	put_state("reset", &st, tail, 64);

	/* Long mode, events and cached MSRs dirty, an exit recorded. */
	st.sregs.cr0 = 0x80050033;
	st.sregs.cr4 = 0x20;
	st.sregs.efer = 0xd01;
	st.sregs.cs.l = 1;
	st.sregs.cs.selector = 0x8;
	st.regs.rip = 0xffffffff81000000ull;
	st.events.interrupt.shadow = 1;
	st.events.nmi.masked = 1;
	st.msr[HVB_MSRC_PAT] = 0x0007040600070406ull;
	st.msr_dirty = (1u << HVB_MSRC_COUNT) - 1;
	st.dirty = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
	st.exit.reason = 30;
	st.exit.qual = 0x3f80008;
	st.exit.instr_len = 1;
	st.idt_base = 0x1000;
	st.idt_limit = 0xfff;
	put_state("long_mode", &st, tail, sizeof(tail));

	/* Every control bit set: hvd must clamp them. */
	memset(&st.c, 0xff, sizeof(st.c));
	put_state("all_ctls", &st, tail, 16);
}

int main(int argc, char **argv)
{
	uint8_t pk[32], sk[64];
	char pkhex[65];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	root = argv[1];
	fuzz_keypair(pk, sk);
	sodium_bin2hex(pkhex, sizeof(pkhex), pk, sizeof(pk));
	requests();
	responses();
	policies(pkhex);
	grants(sk);
	run_pages();
	return 0;
}
