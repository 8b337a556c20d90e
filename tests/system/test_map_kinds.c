/*
 * hv_vm_map through hvd changes no host memory behind the client's back
 * (client/hvc_mem.c): memory that moving onto hvd's memfd would change (a
 * MAP_SHARED file mapping, a read-only range, memory shared with another
 * process, a range partly of those) is refused with HV_BAD_ARGUMENT and a
 * line on stderr, and is left exactly as it was: the file is still
 * reached, the other process still sees the writes. Private anonymous
 * memory is still moved, and the guest sees its contents.
 *
 * Each case is a forked client (its stderr into a file) in a VM of its
 * own on the test's hvd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <Hypervisor/hv.h>
#include <hvd/hvclient.h>

#include "sys_client.h"
#include "sys_hvd.h"

#define PAGE 4096u
#define RWX (HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)

static struct sys_hvd hvd;
static char errpath[160];

static void setup(void)
{
	sys_hvd_start(&hvd);
	snprintf(errpath, sizeof(errpath), "%s/client.err", hvd.dir);
}

static void teardown(void)
{
	sys_hvd_stop(&hvd);
}

TestSuite(map_kinds, .init = setup, .fini = teardown);

/* The perms column of /proc/self/maps for `addr` ("" if unmapped). */
static void perms_of(const void *addr, char out[8])
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, p) == 3 && lo <= (unsigned long)addr &&
		    (unsigned long)addr < hi) {
			strcpy(out, p);
			break;
		}
	}
	if (f)
		fclose(f);
}

/* hv_vm_map of [p, p+size) in a new VM must give HV_BAD_ARGUMENT and say
 * so with `why` on stderr and in hvd_last_error(). Returns 0 or a step
 * code (after printing why). */
static int expect_refused(void *p, size_t size, const char *why)
{
	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS)
		return sys_fail(10, "hv_vm_create failed");
	hv_return_t r = hv_vm_map(p, 0, size, RWX);
	if (r != HV_BAD_ARGUMENT)
		return sys_fail(11, "hv_vm_map gave %#x, not HV_BAD_ARGUMENT", (unsigned)r);
	if (!strstr(hvd_last_error(), why))
		return sys_fail(12, "hvd_last_error() does not say '%s': %s", why,
				hvd_last_error());
	/* The guest has nothing at 0: the refusal mapped nothing. */
	if (hv_vm_unmap(0, size) == HV_SUCCESS)
		return sys_fail(13, "the refused range was mapped into the guest after all");
	return 0;
}

static int file_shared(void *arg)
{
	const char *path = arg;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * PAGE) < 0)
		return sys_fail(2, "cannot make %s", path);
	uint8_t *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return sys_fail(3, "mmap");
	p[0] = 'A';
	int r = expect_refused(p, 2 * PAGE, "is a MAP_SHARED mapping of");
	if (r)
		return r;
	/* Still the file: a write through the mapping reaches it. */
	p[PAGE] = 'B';
	char c[2] = { 0, 0 };
	if (msync(p, 2 * PAGE, MS_SYNC) < 0 || pread(fd, &c[0], 1, 0) != 1 ||
	    pread(fd, &c[1], 1, PAGE) != 1)
		return sys_fail(4, "msync/pread");
	if (c[0] != 'A' || c[1] != 'B')
		return sys_fail(5, "the file no longer sees the mapping: %c %c", c[0], c[1]);
	return 0;
}

static int read_only(void *arg)
{
	(void)arg;
	uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	char perms[8];
	if (p == MAP_FAILED)
		return sys_fail(2, "mmap");
	p[0] = 0x5a;
	if (mprotect(p, 4 * PAGE, PROT_READ) < 0)
		return sys_fail(3, "mprotect");
	int r = expect_refused(p, 4 * PAGE, "is not writable (r--p)");
	if (r)
		return r;
	perms_of(p, perms);
	if (strcmp(perms, "r--p") != 0 || p[0] != 0x5a)
		return sys_fail(4, "the range changed: %s, %#x", perms, p[0]);
	return 0;
}

/* Memory shared with a second process: refused, and still shared (the
 * other process sees a write made after the refusal). With `mixed`, the
 * range is private memory with the shared pages in its middle. */
static int shared_with_other(bool mixed)
{
	size_t size = 4 * PAGE;
	uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	if (base == MAP_FAILED)
		return sys_fail(2, "mmap");
	uint8_t *sh = mixed ? base + PAGE : base;
	size_t shsize = mixed ? 2 * PAGE : size;
	if (mmap(sh, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) == MAP_FAILED)
		return sys_fail(3, "mmap shared");
	base[0] = 0x11;
	int go[2];
	if (pipe(go) < 0)
		return sys_fail(4, "pipe");
	pid_t other = fork();
	if (other == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(20);
		_exit(sh[shsize - 1] == 0x77 ? 0 : 21);
	}
	close(go[0]);
	int r = expect_refused(base, size, "shared memory (MAP_SHARED | MAP_ANONYMOUS)");
	if (r)
		return r;
	sh[shsize - 1] = 0x77;
	if (write(go[1], "g", 1) != 1)
		return sys_fail(5, "write");
	int st;
	if (waitpid(other, &st, 0) != other || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return sys_fail(6, "the other process no longer shares the memory (%#x)", st);
	char perms[8];
	perms_of(base, perms);
	if (mixed && (strcmp(perms, "rw-p") != 0 || base[0] != 0x11))
		return sys_fail(7, "the private part changed: %s %#x", perms, base[0]);
	return 0;
}

static int anon_shared(void *arg)
{
	(void)arg;
	return shared_with_other(false);
}

static int private_and_shared(void *arg)
{
	(void)arg;
	return shared_with_other(true);
}

/* Runs a case in a child; it must succeed and say its reason once, on a
 * line of its own. */
static void expect_case(int (*fn)(void *), void *arg, const char *why)
{
	fflush(stderr);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (e < 0 || dup2(e, 2) < 0)
			_exit(98);
		_exit(fn(arg));
	}
	int st = sys_wait_child(pid);
	char err[4096] = "";
	int fd = open(errpath, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, err, sizeof(err) - 1) : -1;
	err[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the client failed (%#x): %s", st, err);
	const char *line = strstr(err, "libhvclient: hv_vm_map: HV_BAD_ARGUMENT: [");
	cr_expect(line && strstr(line, why) && strstr(line, "private anonymous memory"),
		  "stderr names the kind '%s': %s", why, err);
	cr_expect(line && !strstr(line + 1, "libhvclient: "), "one line only: %s", err);
	cr_assert(sys_hvd_alive(&hvd));
}

Test(map_kinds, a_shared_file_mapping_is_refused_and_still_reaches_its_file)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/backing", hvd.dir);
	expect_case(file_shared, path, "is a MAP_SHARED mapping of ");
}

Test(map_kinds, a_read_only_range_is_refused_and_stays_read_only)
{
	expect_case(read_only, NULL, "is not writable (r--p)");
}

Test(map_kinds, shared_anonymous_memory_is_refused_and_stays_shared)
{
	expect_case(anon_shared, NULL, "shared memory (MAP_SHARED | MAP_ANONYMOUS)");
}

Test(map_kinds, a_range_of_private_and_shared_memory_is_refused_whole)
{
	expect_case(private_and_shared, NULL, "shared memory (MAP_SHARED | MAP_ANONYMOUS)");
}

/* Private anonymous memory (what most ports use) still works: the guest
 * reads what the client wrote before hv_vm_map, and nothing is said. */
static int private_anonymous(void *arg)
{
	(void)arg;
	struct sys_vm vm;
	uint32_t seen = 0;
	uint8_t *ram = mmap(NULL, SYS_RAM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return sys_fail(2, "mmap");
	const uint32_t magic = 0xfeedbeefu;
	memcpy(ram + SYS_DATA, &magic, sizeof(magic));
	int r = sys_vm_start_on(&vm, ram, SYS_GUEST(sys_peek));
	if (r)
		return r;
	if ((r = sys_peek_run(&vm, &seen)))
		return r;
	if (seen != magic)
		return sys_fail(3, "the guest read %#x, not %#x", seen, magic);
	if (hvd_last_error()[0])
		return sys_fail(4, "a failure was recorded: %s", hvd_last_error());
	return sys_vm_end(&vm);
}

Test(map_kinds, private_anonymous_memory_is_still_moved_and_seen_by_the_guest)
{
	pid_t pid = sys_spawn(private_anonymous, NULL);
	sys_expect_child_ok(pid, "the private anonymous client");
}

/* Executable private memory (a JIT's) stays executable after the move. */
static int private_executable(void *arg)
{
	(void)arg;
	char perms[8];
	uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return sys_fail(2, "mmap rwx");
	p[PAGE] = 0xc3;
	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS)
		return sys_fail(3, "hv_vm_create");
	hv_return_t r = hv_vm_map(p, 0, 4 * PAGE, RWX);
	if (r != HV_SUCCESS)
		return sys_fail(4, "hv_vm_map gave %#x: %s", (unsigned)r, hvd_last_error());
	perms_of(p, perms);
	if (strcmp(perms, "rwxs") != 0 || p[PAGE] != 0xc3)
		return sys_fail(5, "after the move: %s %#x", perms, p[PAGE]);
	return 0;
}

Test(map_kinds, executable_private_memory_stays_executable)
{
	pid_t pid = sys_spawn(private_executable, NULL);
	sys_expect_child_ok(pid, "the executable-memory client");
}

/* The descriptor of /proc/self/maps that libhvclient keeps open between
 * hv_vm_map calls (client/hvc_mem.c), or -1. */
static int kept_maps_fd(void)
{
	char link[64], want[64], got[128];
	snprintf(want, sizeof(want), "/proc/%d/maps", (int)getpid());
	for (int fd = 3; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, got, sizeof(got) - 1);
		if (n <= 0)
			continue;
		got[n] = '\0';
		if (strcmp(got, want) == 0)
			return fd;
	}
	return -1;
}

/* The client puts another process's (its parent's) /proc/PID/maps where the library's
 * descriptor was: the library must notice (it would describe the wrong
 * address space) and leave the client's descriptor alone. */
static int reused_maps_number(void *arg)
{
	(void)arg;
	struct sys_vm vm;
	uint32_t seen = 0;
	const uint32_t magic = 0x5eed5eedu;

	int r = sys_vm_start(&vm, SYS_GUEST(sys_peek));
	if (r || (r = sys_vm_end(&vm)))
		return r;
	int kept = kept_maps_fd();
	if (kept < 0)
		return sys_fail(2, "no descriptor of /proc/self/maps kept after hv_vm_map");
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)getppid());
	int other = open(path, O_RDONLY | O_CLOEXEC);
	if (other < 0 || dup2(other, kept) < 0)
		return sys_fail(3, "dup2 %s: %s", path, strerror(errno));
	close(other);

	uint8_t *ram = mmap(NULL, SYS_RAM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return sys_fail(4, "mmap");
	memcpy(ram + SYS_DATA, &magic, sizeof(magic));
	if ((r = sys_vm_start_on(&vm, ram, SYS_GUEST(sys_peek))))
		return r;
	if ((r = sys_peek_run(&vm, &seen)))
		return r;
	if (seen != magic)
		return sys_fail(5, "the guest read %#x, not %#x", seen, magic);
	char link[64], got[64] = "";
	snprintf(link, sizeof(link), "/proc/self/fd/%d", kept);
	ssize_t n = readlink(link, got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	if (strcmp(got, path) != 0)
		return sys_fail(6, "the client's descriptor %d is now '%s'", kept, got);
	return sys_vm_end(&vm);
}

Test(map_kinds, a_kept_descriptor_number_the_client_reused_does_not_mislead_the_library)
{
	pid_t pid = sys_spawn(reused_maps_number, NULL);
	sys_expect_child_ok(pid, "the client reusing the library's descriptor number");
}
