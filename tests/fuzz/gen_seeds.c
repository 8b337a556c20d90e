/*
 * Writes the seed inputs of corpus/<harness>/ (valid messages, files,
 * states and instruction encodings, one per file, named seed-*). Run after
 * a change to the protocol, the run page, the formats or the decoder:
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
#include "hvb_decode.h"
#include "hvs.h"
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

static void put_req(const char *name, Hvdp__Request *req)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	size_t n = hvdp__request__get_packed_size(req);
	if (n > sizeof(buf))
		abort();
	hvdp__request__pack(req, buf);
	put("request", name, buf, n);
}

#define REQ(NAME, OP, op, TYPE, INIT, ...) do { \
	Hvdp__Request r = HVDP__REQUEST__INIT; \
	TYPE m = INIT; \
	__VA_ARGS__; \
	r.id = ++id; \
	r.op_case = HVDP__REQUEST__OP_##OP; \
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

	REQ("hello", HELLO, hello, Hvdp__Hello, HVDP__HELLO__INIT, m.version = HVD_PROTOCOL_VERSION);
	REQ("vm_create", VM_CREATE, vm_create, Hvdp__VmCreate, HVDP__VM_CREATE__INIT, m.flags = 0);
	REQ("vm_destroy", VM_DESTROY, vm_destroy, Hvdp__VmDestroy, HVDP__VM_DESTROY__INIT, (void)0);
	REQ("vm_map", VM_MAP, vm_map, Hvdp__VmMap, HVDP__VM_MAP__INIT,
	    m.gpa = 0x100000; m.size = 0x200000; m.flags = 7; m.offset = 0x1000);
	REQ("vm_unmap", VM_UNMAP, vm_unmap, Hvdp__VmUnmap, HVDP__VM_UNMAP__INIT,
	    m.gpa = 0x100000; m.size = 0x1000);
	REQ("vm_protect", VM_PROTECT, vm_protect, Hvdp__VmProtect, HVDP__VM_PROTECT__INIT,
	    m.gpa = 0x100000; m.size = 0x1000; m.flags = 5);
	REQ("vm_sync_tsc", VM_SYNC_TSC, vm_sync_tsc, Hvdp__VmSyncTsc, HVDP__VM_SYNC_TSC__INIT,
	    m.tsc = 123456789);
	REQ("capability", CAPABILITY, capability, Hvdp__Capability, HVDP__CAPABILITY__INIT,
	    m.which = 0);
	REQ("vcpu_create", VCPU_CREATE, vcpu_create, Hvdp__VcpuCreate, HVDP__VCPU_CREATE__INIT,
	    m.flags = 0);
	REQ("vcpu_destroy", VCPU_DESTROY, vcpu_destroy, Hvdp__VcpuDestroy,
	    HVDP__VCPU_DESTROY__INIT, m.vcpu = 1);
	REQ("vcpu_reg_read", VCPU_REG, vcpu_reg, Hvdp__VcpuReg, HVDP__VCPU_REG__INIT,
	    m.vcpu = 0; m.reg = HV_X86_DR7);
	REQ("vcpu_reg_write", VCPU_REG, vcpu_reg, Hvdp__VcpuReg, HVDP__VCPU_REG__INIT,
	    m.vcpu = 0; m.reg = HV_X86_XCR0; m.value = 7; m.write = 1);
	REQ("vcpu_vmcs_write", VCPU_VMCS, vcpu_vmcs, Hvdp__VcpuVmcs, HVDP__VCPU_VMCS__INIT,
	    m.vcpu = 0; m.field = VMCS_GUEST_DR7; m.value = 0x400; m.write = 1);
	REQ("vcpu_msr_read", VCPU_MSR, vcpu_msr, Hvdp__VcpuMsr, HVDP__VCPU_MSR__INIT,
	    m.vcpu = 0; m.msr = 0xc0000080);
	REQ("vcpu_msr_write", VCPU_MSR, vcpu_msr, Hvdp__VcpuMsr, HVDP__VCPU_MSR__INIT,
	    m.vcpu = 2; m.msr = 0x10; m.value = 0xffffffffffffull; m.write = 1);
	REQ("vcpu_native_msr", VCPU_NATIVE_MSR, vcpu_native_msr, Hvdp__VcpuNativeMsr,
	    HVDP__VCPU_NATIVE_MSR__INIT, m.vcpu = 0; m.msr = 0xc0000102; m.enable = 1);
	REQ("vcpu_fpstate_read", VCPU_FPSTATE, vcpu_fpstate, Hvdp__VcpuFpstate,
	    HVDP__VCPU_FPSTATE__INIT, m.vcpu = 0; m.size = 4096);
	REQ("vcpu_fpstate_write", VCPU_FPSTATE, vcpu_fpstate, Hvdp__VcpuFpstate,
	    HVDP__VCPU_FPSTATE__INIT,
	    m.vcpu = 0; m.write = 1; m.data.data = fpu; m.data.len = sizeof(fpu));
	REQ("vcpu_invalidate_tlb", VCPU_INVALIDATE_TLB, vcpu_invalidate_tlb,
	    Hvdp__VcpuInvalidateTlb, HVDP__VCPU_INVALIDATE_TLB__INIT, m.vcpu = 0);
	REQ("vcpu_exec_time", VCPU_EXEC_TIME, vcpu_exec_time, Hvdp__VcpuExecTime,
	    HVDP__VCPU_EXEC_TIME__INIT, m.vcpu = 0);
	REQ("vcpu_interrupt", VCPU_INTERRUPT, vcpu_interrupt, Hvdp__VcpuInterrupt,
	    HVDP__VCPU_INTERRUPT__INIT, m.n_vcpus = 3; m.vcpus = vcpus);
	REQ("admin_status", ADMIN_STATUS, admin_status, Hvdp__AdminStatus,
	    HVDP__ADMIN_STATUS__INIT, (void)0);
	REQ("admin_list_vms", ADMIN_LIST_VMS, admin_list_vms, Hvdp__AdminListVms,
	    HVDP__ADMIN_LIST_VMS__INIT, (void)0);
	REQ("admin_show_vm", ADMIN_SHOW_VM, admin_show_vm, Hvdp__AdminShowVm,
	    HVDP__ADMIN_SHOW_VM__INIT, m.vm = 3);
	REQ("admin_kill_vm", ADMIN_KILL_VM, admin_kill_vm, Hvdp__AdminKillVm,
	    HVDP__ADMIN_KILL_VM__INIT, m.vm = 3);
	REQ("admin_clients", ADMIN_CLIENTS, admin_clients, Hvdp__AdminClients,
	    HVDP__ADMIN_CLIENTS__INIT, (void)0);
	REQ("admin_policy_reload", ADMIN_POLICY_RELOAD, admin_policy_reload,
	    Hvdp__AdminPolicyReload, HVDP__ADMIN_POLICY_RELOAD__INIT, (void)0);
	REQ("admin_policy_explain", ADMIN_POLICY_EXPLAIN, admin_policy_explain,
	    Hvdp__AdminPolicyExplain, HVDP__ADMIN_POLICY_EXPLAIN__INIT, m.pid = 4242);
	REQ("gic_create", GIC_CREATE, gic_create, Hvdp__GicCreate, HVDP__GIC_CREATE__INIT,
	    (m.dist_base = 0x8000000, m.redist_base = 0x80a0000, m.msi_base = 0x8020000,
	     m.msi_intid_base = 64, m.msi_count = 32));
	REQ("gic_spi", GIC_SPI, gic_spi, Hvdp__GicSpi, HVDP__GIC_SPI__INIT, (m.intid = 40, m.level = 1));
	REQ("gic_msi", GIC_MSI, gic_msi, Hvdp__GicMsi, HVDP__GIC_MSI__INIT,
	    (m.addr = 0x8020040, m.intid = 70));
	REQ("gic_reg", GIC_REG, gic_reg, Hvdp__GicReg, HVDP__GIC_REG__INIT,
	    (m.space = 3, m.reg = 0xc664, m.write = 1, m.value = 0xf0, m.vcpu = 1));
	REQ("gic_state", GIC_STATE, gic_state, Hvdp__GicState, HVDP__GIC_STATE__INIT,
	    (m.write = 1, m.size = 4096));
	REQ("gic_reset", GIC_RESET, gic_reset, Hvdp__GicReset, HVDP__GIC_RESET__INIT, (void)0);
}

/* ---- response (nanopb, as hvd's replies arrive at libhvclient) ---- */

static void put_resp(const char *name, const hvdp_Response *resp)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	if (!pb_encode(&os, hvdp_Response_fields, resp))
		abort();
	put("response_nanopb", name, buf, os.bytes_written);
}

static void responses(void)
{
	hvdp_Response r;

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
	Hvdp__Response a = HVDP__RESPONSE__INIT;
	Hvdp__StatusReply st = HVDP__STATUS_REPLY__INIT;
	a.id = 7;
	a.error = "administrators only";
	st.version = "0.1.0";
	st.protocol = 1;
	st.policy_source = "/etc/hvd/hvd.conf";
	st.clients = 3;
	a.status_reply = &st;
	uint8_t buf[HVD_MAX_MESSAGE];
	size_t n = hvdp__response__get_packed_size(&a);
	if (n > sizeof(buf))
		abort();
	hvdp__response__pack(&a, buf);
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

static void put_state(const char *name, const struct hvs_state *st, const void *tail,
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
	struct hvs_state st;
	uint8_t tail[256];
	for (unsigned i = 0; i < sizeof(tail); i++)
		tail[i] = (uint8_t)(i * 37 + 11);

	memset(&st, 0, sizeof(st));
	put_state("zero", &st, NULL, 0);

	/* A real-mode vCPU after reset, as Apple's examples set it up. */
	memset(&st, 0, sizeof(st));
	hvs_init_ctls(&st.c);
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
	st.msr[HVS_MSRC_PAT] = 0x0007040600070406ull;
	st.msr_dirty = (1u << HVS_MSRC_COUNT) - 1;
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

/* ---- instruction encodings (the x86 decoder, backend/hvb_decode.c) ---- */

/*
 * What hvd decodes on port I/O and MMIO exits: MOV forms with every
 * prefix, MOVZX/MOVSX, the string instructions with REP, XCHG, the ALU and
 * TEST r/m forms, SIB/disp8/disp32/RIP-relative and 16-bit addressing, then
 * prefix orderings, the 15-byte limit, encodings the decoder refuses and
 * truncated ones. Assembled with nasm (`bits 16/32/64`, `-f bin`); the
 * hand-built rows (prefix orders and limits) name what they test.
 */
#define I(s) (const uint8_t *)(s), sizeof(s) - 1
static const struct {
	enum hvb_cpu_mode mode;
	const char *text;
	const uint8_t *bytes;
	size_t len;
} insns[] = {
	{ HVB_MODE_REAL, "mov ax, [bx+si]", I("\x8b\x00") },
	{ HVB_MODE_REAL, "mov ax, [bx+di]", I("\x8b\x01") },
	{ HVB_MODE_REAL, "mov ax, [bp+si]", I("\x8b\x02") },
	{ HVB_MODE_REAL, "mov ax, [bp+di]", I("\x8b\x03") },
	{ HVB_MODE_REAL, "mov ax, [si]", I("\x8b\x04") },
	{ HVB_MODE_REAL, "mov ax, [di]", I("\x8b\x05") },
	{ HVB_MODE_REAL, "mov ax, [0x1234]", I("\xa1\x34\x12") },
	{ HVB_MODE_REAL, "mov ax, [bx]", I("\x8b\x07") },
	{ HVB_MODE_REAL, "mov [bx+si+0x10], ax", I("\x89\x40\x10") },
	{ HVB_MODE_REAL, "mov [bp-2], ax", I("\x89\x46\xfe") },
	{ HVB_MODE_REAL, "mov [bp+di+0x1234], al", I("\x88\x83\x34\x12") },
	{ HVB_MODE_REAL, "mov [si-0x7f], ax", I("\x89\x44\x81") },
	{ HVB_MODE_REAL, "mov word [di+0x8000], 0xbeef", I("\xc7\x85\x00\x80\xef\xbe") },
	{ HVB_MODE_REAL, "mov byte [0x30], 0x41", I("\xc6\x06\x30\x00\x41") },
	{ HVB_MODE_REAL, "mov word [es:0x30], 0xbeef", I("\x26\xc7\x06\x30\x00\xef\xbe") },
	{ HVB_MODE_REAL, "mov al, [fs:bx]", I("\x64\x8a\x07") },
	{ HVB_MODE_REAL, "mov ax, [ss:si]", I("\x36\x8b\x04") },
	{ HVB_MODE_REAL, "mov ax, [cs:di]", I("\x2e\x8b\x05") },
	{ HVB_MODE_REAL, "mov ax, [ds:bp]", I("\x3e\x8b\x46\x00") },
	{ HVB_MODE_REAL, "mov ax, [gs:bx+si]", I("\x65\x8b\x00") },
	{ HVB_MODE_REAL, "mov [0x1000], al", I("\xa2\x00\x10") },
	{ HVB_MODE_REAL, "mov ax, [0x1000]", I("\xa1\x00\x10") },
	{ HVB_MODE_REAL, "mov [0x2000], ax", I("\xa3\x00\x20") },
	{ HVB_MODE_REAL, "mov eax, [bx]", I("\x66\x8b\x07") },
	{ HVB_MODE_REAL, "mov [di], eax", I("\x66\x89\x05") },
	{ HVB_MODE_REAL, "mov eax, [ebx+ecx*4+0x10]", I("\x66\x67\x8b\x44\x8b\x10") },
	{ HVB_MODE_REAL, "mov dword [eax], 1", I("\x66\x67\xc7\x00\x01\x00\x00\x00") },
	{ HVB_MODE_REAL, "mov [esp+4], eax", I("\x66\x67\x89\x44\x24\x04") },
	{ HVB_MODE_REAL, "mov eax, [ebp]", I("\x66\x67\x8b\x45\x00") },
	{ HVB_MODE_REAL, "mov eax, [dword 0xb8000]", I("\x66\x67\xa1\x00\x80\x0b\x00") },
	{ HVB_MODE_REAL, "movzx ax, byte [si]", I("\x0f\xb6\x04") },
	{ HVB_MODE_REAL, "movzx eax, byte [bx]", I("\x66\x0f\xb6\x07") },
	{ HVB_MODE_REAL, "movzx eax, word [di]", I("\x66\x0f\xb7\x05") },
	{ HVB_MODE_REAL, "movsx ax, byte [bp+si]", I("\x0f\xbe\x02") },
	{ HVB_MODE_REAL, "movsx eax, word [bx]", I("\x66\x0f\xbf\x07") },
	{ HVB_MODE_REAL, "stosb", I("\xaa") },
	{ HVB_MODE_REAL, "stosw", I("\xab") },
	{ HVB_MODE_REAL, "rep stosb", I("\xf3\xaa") },
	{ HVB_MODE_REAL, "rep stosw", I("\xf3\xab") },
	{ HVB_MODE_REAL, "rep stosd", I("\xf3\x66\xab") },
	{ HVB_MODE_REAL, "a32 rep stosb", I("\xf3\x67\xaa") },
	{ HVB_MODE_REAL, "movsb", I("\xa4") },
	{ HVB_MODE_REAL, "rep movsw", I("\xf3\xa5") },
	{ HVB_MODE_REAL, "es rep movsb", I("\xf3\x26\xa4") },
	{ HVB_MODE_REAL, "rep insb", I("\xf3\x6c") },
	{ HVB_MODE_REAL, "rep insw", I("\xf3\x6d") },
	{ HVB_MODE_REAL, "rep outsb", I("\xf3\x6e") },
	{ HVB_MODE_REAL, "rep outsw", I("\xf3\x6f") },
	{ HVB_MODE_REAL, "cs rep outsb", I("\xf3\x2e\x6e") },
	{ HVB_MODE_REAL, "a32 rep outsd", I("\xf3\x66\x67\x6f") },
	{ HVB_MODE_REAL, "in al, 0x60", I("\xe4\x60") },
	{ HVB_MODE_REAL, "out 0x61, al", I("\xe6\x61") },
	{ HVB_MODE_REAL, "in ax, dx", I("\xed") },
	{ HVB_MODE_REAL, "out dx, al", I("\xee") },
	{ HVB_MODE_REAL, "in eax, dx", I("\x66\xed") },
	{ HVB_MODE_REAL, "xchg [bx], ax", I("\x87\x07") },
	{ HVB_MODE_REAL, "xchg [si], al", I("\x86\x04") },
	{ HVB_MODE_REAL, "or word [bx], 0x8000", I("\x81\x0f\x00\x80") },
	{ HVB_MODE_REAL, "or byte [di], 1", I("\x80\x0d\x01") },
	{ HVB_MODE_REAL, "and word [bx+si], 0xfffe", I("\x83\x20\xfe") },
	{ HVB_MODE_REAL, "xor [bx], ax", I("\x31\x07") },
	{ HVB_MODE_REAL, "add word [bx], 1", I("\x83\x07\x01") },
	{ HVB_MODE_REAL, "cmp word [si], 0", I("\x83\x3c\x00") },
	{ HVB_MODE_REAL, "cmp byte [bx], 0x20", I("\x80\x3f\x20") },
	{ HVB_MODE_REAL, "test word [di], 0x100", I("\xf7\x05\x00\x01") },
	{ HVB_MODE_REAL, "test byte [bx+si+0x10], 1", I("\xf6\x40\x10\x01") },
	{ HVB_MODE_REAL, "lock or word [bx], 0", I("\xf0\x83\x0f\x00") },
	{ HVB_MODE_REAL, "lock add dword [bx], 1", I("\xf0\x66\x83\x07\x01") },
	{ HVB_MODE_REAL, "repne scasb", I("\xf2\xae") },
	{ HVB_MODE_REAL, "repe cmpsb", I("\xf3\xa6") },
	{ HVB_MODE_REAL, "lodsb", I("\xac") },
	{ HVB_MODE_REAL, "int 0x21", I("\xcd\x21") },
	{ HVB_MODE_REAL, "iret", I("\xcf") },
	{ HVB_MODE_REAL, "enter 0x10, 0", I("\xc8\x10\x00\x00") },
	{ HVB_MODE_REAL, "retf 4", I("\xca\x04\x00") },
	{ HVB_MODE_REAL, "call far [bx]", I("\xff\x1f") },
	{ HVB_MODE_REAL, "jmp 0xf000:0xfff0", I("\xea\xf0\xff\x00\xf0") },
	{ HVB_MODE_REAL, "les ax, [bx]", I("\xc4\x07") },
	{ HVB_MODE_REAL, "lds si, [bp+4]", I("\xc5\x76\x04") },
	{ HVB_MODE_PROT32, "mov eax, [ebx]", I("\x8b\x03") },
	{ HVB_MODE_PROT32, "mov [edi], eax", I("\x89\x07") },
	{ HVB_MODE_PROT32, "mov [eax+ecx*4+0x10], edx", I("\x89\x54\x88\x10") },
	{ HVB_MODE_PROT32, "mov eax, [esp+8]", I("\x8b\x44\x24\x08") },
	{ HVB_MODE_PROT32, "mov eax, [ebp-4]", I("\x8b\x45\xfc") },
	{ HVB_MODE_PROT32, "mov dword [0xfee000b0], 0", I("\xc7\x05\xb0\x00\xe0\xfe\x00\x00\x00\x00") },
	{ HVB_MODE_PROT32, "mov eax, [0xfec00010]", I("\xa1\x10\x00\xc0\xfe") },
	{ HVB_MODE_PROT32, "mov ax, [esi]", I("\x66\x8b\x06") },
	{ HVB_MODE_PROT32, "mov [edi], ax", I("\x66\x89\x07") },
	{ HVB_MODE_PROT32, "mov [edi], al", I("\x88\x07") },
	{ HVB_MODE_PROT32, "mov byte [ebx+0x12345678], 0x5a", I("\xc6\x83\x78\x56\x34\x12\x5a") },
	{ HVB_MODE_PROT32, "mov word [edi], 0x1234", I("\x66\xc7\x07\x34\x12") },
	{ HVB_MODE_PROT32, "mov eax, [es:edi]", I("\x26\x8b\x07") },
	{ HVB_MODE_PROT32, "mov eax, [fs:0x30]", I("\x64\xa1\x30\x00\x00\x00") },
	{ HVB_MODE_PROT32, "mov eax, [cs:ebx]", I("\x2e\x8b\x03") },
	{ HVB_MODE_PROT32, "mov eax, [ss:eax]", I("\x36\x8b\x00") },
	{ HVB_MODE_PROT32, "mov eax, [gs:ecx+edx*8]", I("\x65\x8b\x04\xd1") },
	{ HVB_MODE_PROT32, "mov eax, [bx+si]", I("\x67\x8b\x00") },
	{ HVB_MODE_PROT32, "mov [bp+di+0x10], eax", I("\x67\x89\x43\x10") },
	{ HVB_MODE_PROT32, "mov eax, [0x12345678]", I("\xa1\x78\x56\x34\x12") },
	{ HVB_MODE_PROT32, "mov al, [0xfed00000]", I("\xa0\x00\x00\xd0\xfe") },
	{ HVB_MODE_PROT32, "mov [0xfed00004], eax", I("\xa3\x04\x00\xd0\xfe") },
	{ HVB_MODE_PROT32, "a16 mov [0x1234], ax", I("\x66\x67\xa3\x34\x12") },
	{ HVB_MODE_PROT32, "movzx eax, byte [esi]", I("\x0f\xb6\x06") },
	{ HVB_MODE_PROT32, "movzx eax, word [esi]", I("\x0f\xb7\x06") },
	{ HVB_MODE_PROT32, "movsx eax, byte [edi]", I("\x0f\xbe\x07") },
	{ HVB_MODE_PROT32, "movsx eax, word [ebx+4]", I("\x0f\xbf\x43\x04") },
	{ HVB_MODE_PROT32, "stosd", I("\xab") },
	{ HVB_MODE_PROT32, "rep stosd", I("\xf3\xab") },
	{ HVB_MODE_PROT32, "rep stosw", I("\xf3\x66\xab") },
	{ HVB_MODE_PROT32, "a16 rep stosb", I("\xf3\x67\xaa") },
	{ HVB_MODE_PROT32, "rep movsb", I("\xf3\xa4") },
	{ HVB_MODE_PROT32, "rep movsd", I("\xf3\xa5") },
	{ HVB_MODE_PROT32, "rep insb", I("\xf3\x6c") },
	{ HVB_MODE_PROT32, "rep insd", I("\xf3\x6d") },
	{ HVB_MODE_PROT32, "rep outsw", I("\xf3\x66\x6f") },
	{ HVB_MODE_PROT32, "rep outsd", I("\xf3\x6f") },
	{ HVB_MODE_PROT32, "es rep outsd", I("\xf3\x26\x6f") },
	{ HVB_MODE_PROT32, "in al, dx", I("\xec") },
	{ HVB_MODE_PROT32, "out dx, eax", I("\xef") },
	{ HVB_MODE_PROT32, "in ax, 0x71", I("\x66\xe5\x71") },
	{ HVB_MODE_PROT32, "out 0x70, al", I("\xe6\x70") },
	{ HVB_MODE_PROT32, "xchg [edi], eax", I("\x87\x07") },
	{ HVB_MODE_PROT32, "xchg [esi], bl", I("\x86\x1e") },
	{ HVB_MODE_PROT32, "or dword [edi], 0x100", I("\x81\x0f\x00\x01\x00\x00") },
	{ HVB_MODE_PROT32, "and byte [edi], 0xfe", I("\x80\x27\xfe") },
	{ HVB_MODE_PROT32, "xor [edi], ecx", I("\x31\x0f") },
	{ HVB_MODE_PROT32, "add dword [edi], 0x7fffffff", I("\x81\x07\xff\xff\xff\x7f") },
	{ HVB_MODE_PROT32, "cmp dword [edi+0x10], 0", I("\x83\x7f\x10\x00") },
	{ HVB_MODE_PROT32, "cmp byte [esi], 5", I("\x80\x3e\x05") },
	{ HVB_MODE_PROT32, "test dword [edi], 0x80000000", I("\xf7\x07\x00\x00\x00\x80") },
	{ HVB_MODE_PROT32, "test byte [esi], 1", I("\xf6\x06\x01") },
	{ HVB_MODE_PROT32, "lock or dword [esp], 0", I("\xf0\x83\x0c\x24\x00") },
	{ HVB_MODE_PROT32, "lock inc dword [edi]", I("\xf0\xff\x07") },
	{ HVB_MODE_PROT32, "lock bts dword [edi], 0", I("\xf0\x0f\xba\x2f\x00") },
	{ HVB_MODE_PROT32, "lds eax, [ebx]", I("\xc5\x03") },
	{ HVB_MODE_PROT32, "les eax, [esi]", I("\xc4\x06") },
	{ HVB_MODE_PROT32, "bound eax, [edi]", I("\x62\x07") },
	{ HVB_MODE_PROT32, "call far [ebx]", I("\xff\x1b") },
	{ HVB_MODE_PROT32, "jmp 0x08:0x12345678", I("\xea\x78\x56\x34\x12\x08\x00") },
	{ HVB_MODE_PROT32, "push dword [ebx]", I("\xff\x33") },
	{ HVB_MODE_PROT32, "pop dword [edi]", I("\x8f\x07") },
	{ HVB_MODE_PROT32, "mov cr0, eax", I("\x0f\x22\xc0") },
	{ HVB_MODE_PROT32, "inc eax", I("\x40") },
	{ HVB_MODE_PROT32, "dec ecx", I("\x49") },
	{ HVB_MODE_PROT32, "aaa", I("\x37") },
	{ HVB_MODE_PROT32, "pusha", I("\x60") },
	{ HVB_MODE_PROT32, "arpl [ebx], ax", I("\x63\x03") },
	{ HVB_MODE_LONG64, "mov eax, [rbx]", I("\x8b\x03") },
	{ HVB_MODE_LONG64, "mov [rdi], eax", I("\x89\x07") },
	{ HVB_MODE_LONG64, "mov rax, [rsi+8]", I("\x48\x8b\x46\x08") },
	{ HVB_MODE_LONG64, "mov [rax+rcx*4+0x10], edx", I("\x89\x54\x88\x10") },
	{ HVB_MODE_LONG64, "mov r8d, [r12]", I("\x45\x8b\x04\x24") },
	{ HVB_MODE_LONG64, "mov [r13], r9", I("\x4d\x89\x4d\x00") },
	{ HVB_MODE_LONG64, "mov r10, [r12+r13*8-0x80]", I("\x4f\x8b\x54\xec\x80") },
	{ HVB_MODE_LONG64, "mov eax, [eax]", I("\x67\x8b\x00") },
	{ HVB_MODE_LONG64, "mov ax, [rbx]", I("\x66\x8b\x03") },
	{ HVB_MODE_LONG64, "mov [rbx], ax", I("\x66\x89\x03") },
	{ HVB_MODE_LONG64, "mov byte [rdi], 0x5a", I("\xc6\x07\x5a") },
	{ HVB_MODE_LONG64, "mov [rsi], al", I("\x88\x06") },
	{ HVB_MODE_LONG64, "mov [rsi], sil", I("\x40\x88\x36") },
	{ HVB_MODE_LONG64, "mov al, [fs:rbx]", I("\x64\x8a\x03") },
	{ HVB_MODE_LONG64, "mov eax, [gs:0x28]", I("\x65\x8b\x04\x25\x28\x00\x00\x00") },
	{ HVB_MODE_LONG64, "mov qword [rdi+0x12345678], -1", I("\x48\xc7\x87\x78\x56\x34\x12\xff\xff\xff\xff") },
	{ HVB_MODE_LONG64, "mov word [rbp-4], 0xbeef", I("\x66\xc7\x45\xfc\xef\xbe") },
	{ HVB_MODE_LONG64, "mov eax, [rsp+0x40]", I("\x8b\x44\x24\x40") },
	{ HVB_MODE_LONG64, "mov [rbp+r14*2+0x7f], r15w", I("\x66\x46\x89\x7c\x75\x7f") },
	{ HVB_MODE_LONG64, "mov rax, [qword 0xfee00020]", I("\x48\xa1\x20\x00\xe0\xfe\x00\x00\x00\x00") },
	{ HVB_MODE_LONG64, "mov [qword 0xfee000b0], eax", I("\xa3\xb0\x00\xe0\xfe\x00\x00\x00\x00") },
	{ HVB_MODE_LONG64, "mov al, [qword 0xfed00000]", I("\xa0\x00\x00\xd0\xfe\x00\x00\x00\x00") },
	{ HVB_MODE_LONG64, "mov eax, [dword 0x12345678]", I("\x8b\x04\x25\x78\x56\x34\x12") },
	{ HVB_MODE_LONG64, "mov eax, [ebx+esi*2]", I("\x67\x8b\x04\x73") },
	{ HVB_MODE_LONG64, "mov dword [es:rdi], 1", I("\x26\xc7\x07\x01\x00\x00\x00") },
	{ HVB_MODE_LONG64, "movzx eax, byte [rsi]", I("\x0f\xb6\x06") },
	{ HVB_MODE_LONG64, "movzx eax, word [rsi+2]", I("\x0f\xb7\x46\x02") },
	{ HVB_MODE_LONG64, "movzx rax, word [r8]", I("\x49\x0f\xb7\x00") },
	{ HVB_MODE_LONG64, "movsx eax, byte [rdi]", I("\x0f\xbe\x07") },
	{ HVB_MODE_LONG64, "movsx rax, word [rbx+rcx]", I("\x48\x0f\xbf\x04\x0b") },
	{ HVB_MODE_LONG64, "movsxd rax, dword [rdx]", I("\x48\x63\x02") },
	{ HVB_MODE_LONG64, "movzx ax, byte [rbx]", I("\x66\x0f\xb6\x03") },
	{ HVB_MODE_LONG64, "stosb", I("\xaa") },
	{ HVB_MODE_LONG64, "stosd", I("\xab") },
	{ HVB_MODE_LONG64, "stosq", I("\x48\xab") },
	{ HVB_MODE_LONG64, "rep stosd", I("\xf3\xab") },
	{ HVB_MODE_LONG64, "rep stosq", I("\xf3\x48\xab") },
	{ HVB_MODE_LONG64, "rep stosb", I("\xf3\xaa") },
	{ HVB_MODE_LONG64, "a32 rep stosd", I("\xf3\x67\xab") },
	{ HVB_MODE_LONG64, "movsb", I("\xa4") },
	{ HVB_MODE_LONG64, "rep movsd", I("\xf3\xa5") },
	{ HVB_MODE_LONG64, "rep movsq", I("\xf3\x48\xa5") },
	{ HVB_MODE_LONG64, "a32 rep movsb", I("\xf3\x67\xa4") },
	{ HVB_MODE_LONG64, "o16 rep movsw", I("\xf3\x66\xa5") },
	{ HVB_MODE_LONG64, "rep insb", I("\xf3\x6c") },
	{ HVB_MODE_LONG64, "rep insw", I("\xf3\x66\x6d") },
	{ HVB_MODE_LONG64, "rep insd", I("\xf3\x6d") },
	{ HVB_MODE_LONG64, "rep outsb", I("\xf3\x6e") },
	{ HVB_MODE_LONG64, "rep outsd", I("\xf3\x6f") },
	{ HVB_MODE_LONG64, "fs rep outsb", I("\xf3\x64\x6e") },
	{ HVB_MODE_LONG64, "lodsd", I("\xad") },
	{ HVB_MODE_LONG64, "in al, 0x60", I("\xe4\x60") },
	{ HVB_MODE_LONG64, "out 0x80, al", I("\xe6\x80") },
	{ HVB_MODE_LONG64, "in eax, dx", I("\xed") },
	{ HVB_MODE_LONG64, "out dx, ax", I("\x66\xef") },
	{ HVB_MODE_LONG64, "xchg [rdi], eax", I("\x87\x07") },
	{ HVB_MODE_LONG64, "xchg [rbx+8], rcx", I("\x48\x87\x4b\x08") },
	{ HVB_MODE_LONG64, "xchg [rsi], cl", I("\x86\x0e") },
	{ HVB_MODE_LONG64, "lock xchg [rdi], eax", I("\xf0\x87\x07") },
	{ HVB_MODE_LONG64, "or dword [rdi], 0x80000000", I("\x81\x0f\x00\x00\x00\x80") },
	{ HVB_MODE_LONG64, "or byte [rbx+0x10], 1", I("\x80\x4b\x10\x01") },
	{ HVB_MODE_LONG64, "and dword [rdi+4], 0xfffffffe", I("\x83\x67\x04\xfe") },
	{ HVB_MODE_LONG64, "and qword [rax], ~7", I("\x48\x83\x20\xf8") },
	{ HVB_MODE_LONG64, "xor [rdi], eax", I("\x31\x07") },
	{ HVB_MODE_LONG64, "xor dword [rsi], 0x1", I("\x83\x36\x01") },
	{ HVB_MODE_LONG64, "add dword [rdi], 1", I("\x83\x07\x01") },
	{ HVB_MODE_LONG64, "add [rbx], al", I("\x00\x03") },
	{ HVB_MODE_LONG64, "lock add dword [rdi], 1", I("\xf0\x83\x07\x01") },
	{ HVB_MODE_LONG64, "lock or dword [rsp], 0", I("\xf0\x83\x0c\x24\x00") },
	{ HVB_MODE_LONG64, "cmp dword [rdi], 0", I("\x83\x3f\x00") },
	{ HVB_MODE_LONG64, "cmp byte [rsi], 0x7f", I("\x80\x3e\x7f") },
	{ HVB_MODE_LONG64, "cmp [rdi], eax", I("\x39\x07") },
	{ HVB_MODE_LONG64, "test dword [rdi], 0x100", I("\xf7\x07\x00\x01\x00\x00") },
	{ HVB_MODE_LONG64, "test byte [rsi+3], 0x80", I("\xf6\x46\x03\x80") },
	{ HVB_MODE_LONG64, "test [rbx], eax", I("\x85\x03") },
	{ HVB_MODE_LONG64, "inc dword [rdi]", I("\xff\x07") },
	{ HVB_MODE_LONG64, "dec byte [rsi]", I("\xfe\x0e") },
	{ HVB_MODE_LONG64, "not qword [rbx]", I("\x48\xf7\x13") },
	{ HVB_MODE_LONG64, "neg word [rcx]", I("\x66\xf7\x19") },
	{ HVB_MODE_LONG64, "shl dword [rdi], 4", I("\xc1\x27\x04") },
	{ HVB_MODE_LONG64, "sar byte [rsi], 1", I("\xd0\x3e") },
	{ HVB_MODE_LONG64, "shr dword [rdi], cl", I("\xd3\x2f") },
	{ HVB_MODE_LONG64, "lock cmpxchg [rdi], ecx", I("\xf0\x0f\xb1\x0f") },
	{ HVB_MODE_LONG64, "lock cmpxchg16b [rdi]", I("\xf0\x48\x0f\xc7\x0f") },
	{ HVB_MODE_LONG64, "lock xadd [rdi], eax", I("\xf0\x0f\xc1\x07") },
	{ HVB_MODE_LONG64, "bts dword [rdi], 3", I("\x0f\xba\x2f\x03") },
	{ HVB_MODE_LONG64, "btr [rdi], eax", I("\x0f\xb3\x07") },
	{ HVB_MODE_LONG64, "bt dword [rdi], 5", I("\x0f\xba\x27\x05") },
	{ HVB_MODE_LONG64, "sete byte [rdi]", I("\x0f\x94\x07") },
	{ HVB_MODE_LONG64, "movnti [rdi], eax", I("\x0f\xc3\x07") },
	{ HVB_MODE_LONG64, "movnti [rdi], rax", I("\x48\x0f\xc3\x07") },
	{ HVB_MODE_LONG64, "movbe [rdi], eax", I("\x0f\x38\xf1\x07") },
	{ HVB_MODE_LONG64, "movbe eax, [rsi]", I("\x0f\x38\xf0\x06") },
	{ HVB_MODE_LONG64, "movups [rdi], xmm0", I("\x0f\x11\x07") },
	{ HVB_MODE_LONG64, "movaps [rdi+16], xmm1", I("\x0f\x29\x4f\x10") },
	{ HVB_MODE_LONG64, "movdqa [rdi], xmm2", I("\x66\x0f\x7f\x17") },
	{ HVB_MODE_LONG64, "movdqu [rdi], xmm3", I("\xf3\x0f\x7f\x1f") },
	{ HVB_MODE_LONG64, "movq [rdi], xmm4", I("\x66\x0f\xd6\x27") },
	{ HVB_MODE_LONG64, "movd [rdi], xmm5", I("\x66\x0f\x7e\x2f") },
	{ HVB_MODE_LONG64, "movq [rdi], mm0", I("\x0f\x7f\x07") },
	{ HVB_MODE_LONG64, "movss [rdi], xmm0", I("\xf3\x0f\x11\x07") },
	{ HVB_MODE_LONG64, "movsd [rdi], xmm1", I("\xf2\x0f\x11\x0f") },
	{ HVB_MODE_LONG64, "movntdq [rdi], xmm0", I("\x66\x0f\xe7\x07") },
	{ HVB_MODE_LONG64, "pop qword [rdi]", I("\x8f\x07") },
	{ HVB_MODE_LONG64, "push qword [rsi]", I("\xff\x36") },
	{ HVB_MODE_LONG64, "mov [rdi], ds", I("\x8c\x1f") },
	{ HVB_MODE_LONG64, "mov ds, [rsi]", I("\x8e\x1e") },
	{ HVB_MODE_LONG64, "jmp qword [rax*8+0x1000]", I("\xff\x24\xc5\x00\x10\x00\x00") },
	{ HVB_MODE_LONG64, "mov rax, 0x123456789abcdef0", I("\x48\xb8\xf0\xde\xbc\x9a\x78\x56\x34\x12") },
	{ HVB_MODE_LONG64, "mov cr3, rax", I("\x0f\x22\xd8") },
	{ HVB_MODE_LONG64, "mov rax, cr0", I("\x0f\x20\xc0") },
	{ HVB_MODE_LONG64, "vmread [rdi], rax", I("\x0f\x78\x07") },
	{ HVB_MODE_LONG64, "vmwrite rax, [rsi]", I("\x0f\x79\x06") },
	{ HVB_MODE_LONG64, "cpuid", I("\x0f\xa2") },
	{ HVB_MODE_LONG64, "hlt", I("\xf4") },
	{ HVB_MODE_LONG64, "nop", I("\x90") },
	{ HVB_MODE_LONG64, "nop dword [rax+rax*1+0x0]", I("\x0f\x1f\x04\x00") },
	{ HVB_MODE_LONG64, "syscall", I("\x0f\x05") },
	{ HVB_MODE_LONG64, "wrmsr", I("\x0f\x30") },
	{ HVB_MODE_LONG64, "rdmsr", I("\x0f\x32") },
	{ HVB_MODE_LONG64, "mov dword [rel $+0x1000], 0x12345678", I("\xc7\x05\xf6\x0f\x00\x00\x78\x56\x34\x12") },
	{ HVB_MODE_LONG64, "mov eax, [rel $+0x20]", I("\x8b\x05\x1a\x00\x00\x00") },
	{ HVB_MODE_LONG64, "lea rax, [rel $+0x10]", I("\x48\x8d\x05\x09\x00\x00\x00") },
	{ HVB_MODE_LONG64, "call [rel $+0x100]", I("\xff\x15\xfa\x00\x00\x00") },
	{ HVB_MODE_LONG64, "a32 mov eax, [rel $+0x40]", I("\x67\x8b\x05\x39\x00\x00\x00") },
	{ HVB_MODE_LONG64, "mov byte [rel $+0x2000], 1", I("\xc6\x05\xf9\x1f\x00\x00\x01") },
	{ HVB_MODE_LONG64, "cmp dword [rel $+0x3000], 0", I("\x83\x3d\xf9\x2f\x00\x00\x00") },
	{ HVB_MODE_LONG64, "mov rax, [rel $+0x8]", I("\x48\x8b\x05\x01\x00\x00\x00") },
	{ HVB_MODE_LONG64, "o16 + rex.w: rex.w wins (mov [rdi], rax)", I("\x66\x48\x89\x07") },
	{ HVB_MODE_LONG64, "rex then 66: rex ignored (mov [rdi], ax)", I("\x48\x66\x89\x07") },
	{ HVB_MODE_LONG64, "rex then rex: last counts (mov [rdi], r8)", I("\x41\x4c\x89\x07") },
	{ HVB_MODE_LONG64, "rex then fs: rex ignored", I("\x48\x64\x89\x07") },
	{ HVB_MODE_LONG64, "f2 then f3: rep stosd", I("\xf2\xf3\xab") },
	{ HVB_MODE_LONG64, "f3 then f2: repne movsb", I("\xf3\xf2\xa4") },
	{ HVB_MODE_LONG64, "fs then cs: fs kept", I("\x64\x2e\x89\x07") },
	{ HVB_MODE_LONG64, "cs then fs", I("\x2e\x64\x89\x07") },
	{ HVB_MODE_LONG64, "ds then gs: gs", I("\x3e\x65\x8b\x03") },
	{ HVB_MODE_LONG64, "gs then es: gs kept", I("\x65\x26\x8b\x03") },
	{ HVB_MODE_LONG64, "all segment overrides", I("\x26\x2e\x36\x3e\x64\x65\x89\x07") },
	{ HVB_MODE_LONG64, "lock mov (decodes)", I("\xf0\x89\x07") },
	{ HVB_MODE_LONG64, "66 67 f3 rex.w stos", I("\x66\x67\xf3\x48\xab") },
	{ HVB_MODE_LONG64, "rep with 66 67 movs", I("\x66\x67\xf3\xa5") },
	{ HVB_MODE_LONG64, "a32 moffs", I("\x67\xa1\x78\x56\x34\x12") },
	{ HVB_MODE_LONG64, "a32 moffs store byte", I("\x67\xa2\x00\x00\xd0\xfe") },
	{ HVB_MODE_LONG64, "o16 moffs load", I("\x66\xa1\x20\x00\xe0\xfe\x00\x00\x00\x00") },
	{ HVB_MODE_LONG64, "a32 rip-relative (eip)", I("\x67\x8b\x05\x00\x10\x00\x00") },
	{ HVB_MODE_LONG64, "rex.b sib base r13 mod0 (disp32, no base)", I("\x41\x8b\x04\x25\x00\x10\x00\x00") },
	{ HVB_MODE_LONG64, "rex.x sib index r12", I("\x42\x8b\x04\xa0") },
	{ HVB_MODE_LONG64, "rex.b rm r13 mod0 = rip-relative", I("\x41\x8b\x05\x10\x00\x00\x00") },
	{ HVB_MODE_LONG64, "rex.b rm r12 = sib", I("\x41\x8b\x04\x24") },
	{ HVB_MODE_LONG64, "sib no index no base", I("\x8b\x04\x25\x78\x56\x34\x12") },
	{ HVB_MODE_LONG64, "sib scale 8 disp8", I("\x8b\x44\xc8\xf0") },
	{ HVB_MODE_LONG64, "sib index=rsp (none)", I("\x8b\x04\x20") },
	{ HVB_MODE_LONG64, "sib rbp base disp8", I("\x8b\x44\x0d\x00") },
	{ HVB_MODE_LONG64, "fifteen bytes: 13 prefixes + mov", I("\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x89\x07") },
	{ HVB_MODE_LONG64, "fifteen bytes: mov with prefixes and disp32 imm32", I("\x64\x66\x67\xf0\xc7\x84\x88\x78\x56\x34\x12\xef\xbe\xad\xde") },
	{ HVB_MODE_LONG64, "sixteen bytes: einval", I("\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x89\x07") },
	{ HVB_MODE_LONG64, "vex c5 (einval)", I("\xc5\xf8\x77") },
	{ HVB_MODE_LONG64, "vex c4 (einval)", I("\xc4\xe2\x79\x18\x07") },
	{ HVB_MODE_LONG64, "evex 62 (einval)", I("\x62\xf1\x7c\x48\x10\x07") },
	{ HVB_MODE_LONG64, "xop 8f (einval)", I("\x8f\xe8\x78\xc2\xc0\x01") },
	{ HVB_MODE_LONG64, "3dnow 0f 0f (einval)", I("\x0f\x0f\xc1\x9e") },
	{ HVB_MODE_LONG64, "0f38 undefined", I("\x0f\x38\xff\x07") },
	{ HVB_MODE_LONG64, "0f3a with imm8", I("\x66\x0f\x3a\x0f\xc1\x08") },
	{ HVB_MODE_LONG64, "extrq", I("\x66\x0f\x78\xc0\x04\x08") },
	{ HVB_MODE_LONG64, "insertq", I("\xf2\x0f\x79\xc1") },
	{ HVB_MODE_LONG64, "mov cr ignores mod", I("\x0f\x22\x18") },
	{ HVB_MODE_LONG64, "c6 f8 xabort", I("\xc6\xf8\x01") },
	{ HVB_MODE_LONG64, "c7 f8 xbegin", I("\xc7\xf8\x00\x01\x00\x00") },
	{ HVB_MODE_LONG64, "ff /7 invalid", I("\xff\x38") },
	{ HVB_MODE_LONG64, "ff /3 reg invalid", I("\xff\xd8") },
	{ HVB_MODE_LONG64, "fe /2 invalid", I("\xfe\x10") },
	{ HVB_MODE_LONG64, "les invalid in long mode", I("\xc4\x07") },
	{ HVB_MODE_LONG64, "push imm64-sized", I("\x68\x78\x56\x34\x12") },
	{ HVB_MODE_LONG64, "jcc rel32 with 66 (ignored)", I("\x66\x0f\x84\x00\x01\x00\x00") },
	{ HVB_MODE_LONG64, "enter", I("\xc8\x10\x00\x01") },
	{ HVB_MODE_LONG64, "cmpxchg8b", I("\x0f\xc7\x0f") },
	{ HVB_MODE_LONG64, "setcc reg (no mem)", I("\x0f\x94\xc0") },
	{ HVB_MODE_LONG64, "truncated", I("\xc7\x05\x00\x10") },
	{ HVB_MODE_PROT32, "lds (c5 mod!=3)", I("\xc5\x06") },
	{ HVB_MODE_PROT32, "vex in 32-bit (c5 mod=3)", I("\xc5\xf8\x77") },
	{ HVB_MODE_PROT32, "bound (62 mod!=3)", I("\x62\x07") },
	{ HVB_MODE_PROT32, "evex in 32-bit (62 mod=3)", I("\x62\xf1\x7c\x48\x10\x07") },
	{ HVB_MODE_PROT32, "o16 a16 mov", I("\x66\x67\x8b\x00") },
	{ HVB_MODE_PROT32, "a16 with disp16", I("\x67\x89\x87\x34\x12") },
	{ HVB_MODE_PROT32, "rep f2 f3 movs", I("\xf2\xf3\xa5") },
	{ HVB_MODE_PROT32, "segment overrides last wins", I("\x64\x26\x8b\x03") },
	{ HVB_MODE_PROT32, "far call ptr16:32", I("\x9a\x78\x56\x34\x12\x08\x00") },
	{ HVB_MODE_PROT32, "o16 far jmp ptr16:16", I("\x66\xea\x34\x12\x08\x00") },
	{ HVB_MODE_PROT32, "ss es cs ds fs gs override chain", I("\x36\x26\x2e\x3e\x64\x65\xa1\x00\x00\x00\x00") },
	{ HVB_MODE_PROT32, "truncated sib", I("\x8b\x04") },
	{ HVB_MODE_REAL, "a32 o32 mov sib", I("\x66\x67\x8b\x44\x8b\x10") },
	{ HVB_MODE_REAL, "16-bit [bp+si] disp8 wrap", I("\x8b\x42\xff") },
	{ HVB_MODE_REAL, "16-bit [bx+si+disp16]", I("\x8b\x80\xff\xff") },
	{ HVB_MODE_REAL, "disp16 only", I("\x8b\x0e\x00\x80") },
	{ HVB_MODE_REAL, "lock rep es outs (decodes)", I("\xf0\xf3\x26\x6e") },
	{ HVB_MODE_REAL, "o32 rep insd", I("\x66\xf3\x6d") },
	{ HVB_MODE_REAL, "o32 a32 rep stosd", I("\x66\x67\xf3\xab") },
	{ HVB_MODE_REAL, "a32 rep movsb", I("\x67\xf3\xa4") },
	{ HVB_MODE_REAL, "eleven prefixes, o32 a32 mov dword [esi], imm32: 17 bytes, einval", I("\x26\x2e\x36\x3e\x64\x65\x66\x67\xf2\xf3\xf0\xc7\x06\x30\x00") },
	{ HVB_MODE_REAL, "truncated imm", I("\xc7\x06\x30\x00\xef") },
};
#undef I

/* fuzz_decode's input: control byte (mode), instruction byte count, the
 * bytes, then registers and next_rip (big-endian, 8 bytes each) chosen to
 * make effective addresses wrap at 16, 32 and 64 bits. */
static void put_insn(const char *prefix, enum hvb_cpu_mode mode, const uint8_t *b,
		     size_t n, const char *text)
{
	static const uint64_t regs[17] = {
		0x1000, 2, 0x3f8, 0xfee00000, 0x7ff0, 0xfffe, 0xffff, 0xfffffffffffffffeull,
		0x100000000ull, 0x80000000, 0xffffffff, 0x12345678, 0x8000000000000000ull,
		0xfed00000, 1, 0x7fffffffffffffffull,
		0xfffff000, /* next_rip */
	};
	uint8_t buf[2 + 16 + sizeof(regs)];
	char name[128];
	size_t p = 0, k = 0;

	if (n > 16)
		abort();
	buf[p++] = (uint8_t)mode;
	buf[p++] = (uint8_t)n;
	memcpy(buf + p, b, n);
	p += n;
	for (unsigned i = 0; i < 17; i++)
		for (int s = 56; s >= 0; s -= 8)
			buf[p++] = (uint8_t)(regs[i] >> s);
	k = (size_t)snprintf(name, sizeof(name), "%s_", prefix);
	for (const char *t = text; *t && k < sizeof(name) - 1; t++) {
		char c = *t >= 'A' && *t <= 'Z' ? (char)(*t - 'A' + 'a') : *t;
		bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (keep)
			name[k++] = c;
		else if (name[k - 1] != '_')
			name[k++] = '_';
	}
	while (name[k - 1] == '_')
		k--;
	name[k] = 0;
	put("decode", name, buf, p);
}

static void insns_seeds(void)
{
	for (size_t i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		const char *bits = insns[i].mode == HVB_MODE_REAL ? "16" :
				   insns[i].mode == HVB_MODE_PROT32 ? "32" : "64";
		put_insn(bits, insns[i].mode, insns[i].bytes, insns[i].len, insns[i].text);
		/* The string and I/O forms again in 16-bit protected mode. */
		if (insns[i].mode == HVB_MODE_REAL && strncmp(insns[i].text, "rep ", 4) == 0)
			put_insn("p16", HVB_MODE_PROT16, insns[i].bytes, insns[i].len,
				 insns[i].text);
	}
	/* An instruction followed by more code, as hvd reads 15 bytes at RIP. */
	static const uint8_t stream[] = {
		0x26, 0xc7, 0x06, 0x30, 0x00, 0xef, 0xbe,  /* mov word [es:0x30], 0xbeef */
		0xf3, 0xab, 0xe6, 0x80, 0x90, 0x90, 0xf4, 0xeb,
	};
	put_insn("16", HVB_MODE_REAL, stream, sizeof(stream), "window of 15 bytes");

	/* No instruction bytes, and the helpers on a built struct (control bit
	 * 2): exit_io's `{ .addrsize = 2 }` when nothing decodes, with zero
	 * registers. The fields follow in fuzz_decode's order: len, opsize,
	 * addrsize, seg, flags (2), rex, map, opcode, modrm, sib, disp_len,
	 * disp (8), imm_len, imm (8). */
	uint8_t raw[2 + 17 * 8 + 30] = { HVB_MODE_REAL | 4, 0 };
	raw[2 + 17 * 8 + 2] = 2;
	raw[2 + 17 * 8 + 3] = HVB_SEG_NONE;
	put("decode", "raw_exit_io_initial", raw, sizeof(raw));
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
	insns_seeds();
	return 0;
}
