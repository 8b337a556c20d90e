/*
 * Messages, tables, units, names and JSON for hvctl's subcommands.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__aarch64__)
#include <Hypervisor/hv_arch_vmx.h>
#endif

#include "hvd_hint.h"
#include "hvd_protocol.h"
#include "hvs_errmap.h"
#include "out.h"
#include "subcommands.h"

void hvctl_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (cmd)
		fprintf(stderr, "hvctl: %s: ", cmd);
	else
		fputs("hvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int hvctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "hvctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " — see 'hvctl --help'\n");
	return HVCTL_EXIT_USAGE;
}

/* ---- names ---- */

const char *hvctl_status_name(int32_t status)
{
	return hvd_hint_status_name(status);
}

#if defined(__aarch64__)
/* arm64 hvd counts exits by the syndrome's exception class (the ARM ARM's
 * EC values), then Apple's other reasons from HVD_A64_EXIT_BASE. */
#define EC(v, name) [v] = "EC_" #name
static const char *const exit_names[] = {
	EC(0x00, UNKNOWN), EC(0x01, WFX), EC(0x07, FP_ASIMD), EC(0x0e, ILLEGAL_STATE),
	EC(0x15, SVC64), EC(0x16, HVC64), EC(0x17, SMC64), EC(0x18, SYS64),
	EC(0x19, SVE), EC(0x20, IABT_LOWER), EC(0x21, IABT_CURRENT), EC(0x22, PC_ALIGN),
	EC(0x24, DABT_LOWER), EC(0x25, DABT_CURRENT), EC(0x26, SP_ALIGN),
	EC(0x2c, FP_EXC64), EC(0x2f, SERROR), EC(0x30, BREAKPOINT_LOWER),
	EC(0x32, SOFTWARE_STEP_LOWER), EC(0x34, WATCHPOINT_LOWER), EC(0x3c, BRK64),
	[HVD_A64_EXIT_BASE + 0] = "CANCELED",
	[HVD_A64_EXIT_BASE + 2] = "VTIMER_ACTIVATED",
	[HVD_A64_EXIT_BASE + 3] = "UNKNOWN",
};
#undef EC
#else
/* Indexed by Apple's own VMX_REASON_* constants, so only the spelling is
 * written here; the numbers come from hv_arch_vmx.h. */
#define R(name) [VMX_REASON_##name] = #name
static const char *const exit_names[] = {
	R(EXC_NMI), R(IRQ), R(TRIPLE_FAULT), R(INIT), R(SIPI), R(IO_SMI),
	R(OTHER_SMI), R(IRQ_WND), R(VIRTUAL_NMI_WND), R(TASK), R(CPUID),
	R(GETSEC), R(HLT), R(INVD), R(INVLPG), R(RDPMC), R(RDTSC), R(RSM),
	R(VMCALL), R(VMCLEAR), R(VMLAUNCH), R(VMPTRLD), R(VMPTRST), R(VMREAD),
	R(VMRESUME), R(VMWRITE), R(VMOFF), R(VMON), R(MOV_CR), R(MOV_DR), R(IO),
	R(RDMSR), R(WRMSR), R(VMENTRY_GUEST), R(VMENTRY_MSR), R(MWAIT), R(MTF),
	R(MONITOR), R(PAUSE), R(VMENTRY_MC), R(TPR_THRESHOLD), R(APIC_ACCESS),
	R(VIRTUALIZED_EOI), R(GDTR_IDTR), R(LDTR_TR), R(EPT_VIOLATION),
	R(EPT_MISCONFIG), R(EPT_INVEPT), R(RDTSCP), R(VMX_TIMER_EXPIRED),
	R(INVVPID), R(WBINVD), R(XSETBV), R(APIC_WRITE), R(RDRAND), R(INVPCID),
	R(VMFUNC), R(ENCLS), R(RDSEED), R(PML_FULL), R(XSAVES), R(XRSTORS),
	R(SPP_EVENT), R(UMWAIT), R(TPAUSE),
};
#undef R
#endif

const char *hvctl_exit_name(uint32_t reason)
{
	if (reason >= sizeof(exit_names) / sizeof(exit_names[0]))
		return NULL;
	return exit_names[reason];
}

/* ---- units ---- */

char *hvctl_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;
	uint64_t whole = bytes;

	while (whole >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		whole /= 1024;
		u++;
	}
	if (u == 0 || bytes % ((uint64_t)1 << (10 * u)) == 0)
		snprintf(buf, len, "%" PRIu64 " %s", whole, units[u]);
	else
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)((uint64_t)1 << (10 * u)),
			 units[u]);
	return buf;
}

char *hvctl_fmt_ms(char *buf, size_t len, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (s < 1)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
	return buf;
}

char *hvctl_fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.2fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else if (ns < UINT64_C(60000000000))
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
	else
		hvctl_fmt_ms(buf, len, ns / 1000000);
	return buf;
}

char *hvctl_fmt_prot(char *buf, size_t len, uint64_t flags)
{
	snprintf(buf, len, "%c%c%c", flags & HV_MEMORY_READ ? 'r' : '-',
		 flags & HV_MEMORY_WRITE ? 'w' : '-', flags & HV_MEMORY_EXEC ? 'x' : '-');
	return buf;
}

bool hvctl_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull alone would take signs, spaces and an empty string. */
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* ---- tables ---- */

struct hvctl_table {
	const struct hvctl_col *cols;
	unsigned ncols;
	char **cells;                /* row-major, ncells of them */
	size_t ncells, cap;
};

struct hvctl_table *hvctl_table_create(const struct hvctl_col *cols, unsigned ncols)
{
	struct hvctl_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cols = cols;
	t->ncols = ncols;
	return t;
}

void hvctl_table_cell(struct hvctl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!t)
		return;
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **n = realloc(t->cells, cap * sizeof(*n));
		if (!n)
			return;
		t->cells = n;
		t->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	t->cells[t->ncells++] = s;
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; s && *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

void hvctl_table_print(const struct hvctl_table *t, FILE *f)
{
	size_t *w;

	if (!t)
		return;
	w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return;
	for (unsigned c = 0; c < t->ncols; c++)
		w[c] = width(t->cols[c].name);
	for (size_t i = 0; i < t->ncells; i++) {
		size_t cw = width(t->cells[i]);
		if (cw > w[i % t->ncols])
			w[i % t->ncols] = cw;
	}
	for (size_t i = 0; i < t->ncells + t->ncols; i++) {
		unsigned c = i % t->ncols;
		/* The header row first, then the cells. */
		const char *s = i < t->ncols ? t->cols[c].name : t->cells[i - t->ncols];
		bool last = c + 1 == t->ncols;
		size_t gap = w[c] - width(s);

		if (!s)
			s = "";
		if (t->cols[c].right)
			pad(f, gap);
		fputs(s, f);
		if (last)
			fputc('\n', f);
		else
			pad(f, (t->cols[c].right ? 0 : gap) + 2);
	}
	/* A row left short still ends its line. */
	if (t->ncells % t->ncols)
		fputc('\n', f);
	free(w);
}

void hvctl_table_destroy(struct hvctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void hvctl_kv(const char *key, const char *fmt, ...)
{
	va_list ap;

	/* An empty key continues the list above it: no colon of its own. */
	printf("%s%s", key, *key ? ":" : " ");
	pad(stdout, width(key) < 20 ? 20 - width(key) : 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ---- JSON ---- */

int hvctl_json_print(json_object *o)
{
	const char *s;

	if (!o) {
		hvctl_err(NULL, "out of memory building the JSON output");
		return HVCTL_EXIT_FAILED;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	puts(s ? s : "null");
	json_object_put(o);
	return HVCTL_EXIT_OK;
}

void hvctl_json_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v ? v : ""));
}

void hvctl_json_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

void hvctl_json_i64(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

void hvctl_json_bool(json_object *o, const char *key, bool v)
{
	json_object_object_add(o, key, json_object_new_boolean(v));
}

json_object *hvctl_json_strv(char **v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i] ? v[i] : ""));
	return a;
}

json_object *hvctl_vm_json(const Hvdp__VmInfo *vi)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	hvctl_json_u64(o, "id", vi->id);
	hvctl_json_str(o, "tenant", vi->tenant);
	hvctl_json_i64(o, "pid", vi->pid);
	hvctl_json_u64(o, "uid", vi->uid);
	hvctl_json_str(o, "exe", vi->exe);
	hvctl_json_u64(o, "vcpus", vi->vcpus);
	hvctl_json_u64(o, "memory", vi->memory);
	hvctl_json_u64(o, "age_ms", vi->age_ms);
	hvctl_json_u64(o, "exits", vi->exits);
	hvctl_json_i64(o, "worker_pid", vi->worker_pid);
	hvctl_json_u64(o, "cpu_ns", vi->cpu_ns);
	hvctl_json_u64(o, "exit_rate", vi->exit_rate);
	return o;
}

/* ---- files ---- */

int hvctl_write_file(const char *cmd, const char *path, const void *data, size_t len,
		     mode_t mode, bool excl)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC), mode);
	const char *p = data;
	int err;

	if (fd < 0) {
		err = errno;
		if (err == EEXIST)
			hvctl_err(cmd, "%s exists — remove it or choose another --out; hvctl "
				  "does not overwrite keys", path);
		else
			hvctl_err(cmd, "%s: %s — check the directory exists and is writable",
				  path, strerror(err));
		return HVCTL_EXIT_FAILED;
	}
	/* The umask may only narrow the mode; a secret must not be wider. */
	if (fchmod(fd, mode) < 0)
		goto err_write;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_write;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto err_write;
	}
	return HVCTL_EXIT_OK;

err_write:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	hvctl_err(cmd, "writing %s: %s — check free space and permissions", path, strerror(err));
	return HVCTL_EXIT_FAILED;
}

int hvctl_read_file(const char *cmd, const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int err;

	if (!f) {
		err = errno;
		hvctl_err(cmd, "%s: %s — check the path", path, strerror(err));
		return HVCTL_EXIT_FAILED;
	}
	for (;;) {
		if (n == cap) {
			char *b;
			cap = cap ? 2 * cap : 4096;
			if (cap > max + 1)
				cap = max + 1;
			if (n == cap || !(b = realloc(buf, cap + 1))) {
				hvctl_err(cmd, "%s: %s", path, n == cap ?
					  "too large — is it the right file?" : "out of memory");
				goto err_read;
			}
			buf = b;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		hvctl_err(cmd, "%s: read error", path);
		goto err_read;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return HVCTL_EXIT_OK;

err_read:
	fclose(f);
	free(buf);
	return HVCTL_EXIT_FAILED;
}
