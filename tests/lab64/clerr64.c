/*
 * libhvclient on arm64 says why it fails and refuses the memory hv_vm_map
 * would change, with the same code as on x86 (client/hvc_conn.c,
 * hvc_calls.c, hvc_mem.c; tested there by system.client_errors and
 * system.map_kinds). Run in the arm64 lab through hvd (HVD_SOCKET set).
 * Plain C: `ok`/`FAIL` lines, non-zero exit on failures.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Hypervisor/Hypervisor.h>
#include <hvd/hvclient.h>

#include "check64.h"

#define RWX (HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)

static char dir[64] = "/tmp/clerr64.XXXXXX";

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* No hvd at the path: two failing calls, one line, the text kept. */
static void no_socket(void)
{
	char errp[128], err[4096] = "", sock[128];
	snprintf(errp, sizeof(errp), "%s/err", dir);
	snprintf(sock, sizeof(sock), "%s/none.sock", dir);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (e < 0 || dup2(e, 2) < 0)
			_exit(98);
		setenv("HVD_SOCKET", sock, 1);
		hv_return_t a = hv_vm_create(NULL), b = hv_vm_create(NULL);
		_exit(a == HV_SUCCESS || b == HV_SUCCESS ? 2 :
		      strstr(hvd_last_error(), "cannot reach hvd at ") ? 0 : 3);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	int fd = open(errp, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, err, sizeof(err) - 1) : -1;
	err[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "without hvd both calls fail and "
	      "hvd_last_error says why (%#x)", st);
	CHECK(count(err, "libhvclient: cannot reach hvd at ") == 1 &&
	      count(err, "libhvclient: ") == 1, "one line on stderr: %s", err);
}

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

int main(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), size = 4 * page;
	char path[128], perms[8], c = 0;

	if (!mkdtemp(dir))
		return 2;
	no_socket();
	CHECK(hv_vm_create(NULL) == HV_SUCCESS, "hv_vm_create through hvd");

	snprintf(path, sizeof(path), "%s/backing", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint8_t *f = fd >= 0 && ftruncate(fd, (off_t)size) == 0 ?
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	CHECK(f != MAP_FAILED, "a MAP_SHARED file mapping");
	if (f != MAP_FAILED) {
		CHECK(hv_vm_map(f, 0, size, RWX) == HV_BAD_ARGUMENT &&
		      strstr(hvd_last_error(), "is a MAP_SHARED mapping of"),
		      "is refused: %s", hvd_last_error());
		f[page] = 'B';
		CHECK(msync(f, size, MS_SYNC) == 0 && pread(fd, &c, 1, (off_t)page) == 1 &&
		      c == 'B', "and still reaches its file");
	}

	uint8_t *ro = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hv_vm_map(ro, 0, size, HV_MEMORY_READ) == HV_BAD_ARGUMENT &&
	      strstr(hvd_last_error(), "is not writable"), "a read-only range is refused: %s",
	      hvd_last_error());
	perms_of(ro, perms);
	CHECK(strcmp(perms, "r--p") == 0, "and stays read-only (%s)", perms);

	uint8_t *sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(hv_vm_map(sh, 0, size, RWX) == HV_BAD_ARGUMENT &&
	      strstr(hvd_last_error(), "shared memory (MAP_SHARED | MAP_ANONYMOUS)"),
	      "shared anonymous memory is refused: %s", hvd_last_error());
	perms_of(sh, perms);
	CHECK(strcmp(perms, "rw-s") == 0, "and stays shared (%s)", perms);

	uint8_t *priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	priv[0] = 0x42;
	CHECK(hv_vm_map(priv, 0, size, RWX) == HV_SUCCESS && priv[0] == 0x42,
	      "private anonymous memory is mapped, its contents kept");
	CHECK(hv_vm_unmap(0, size) == HV_SUCCESS, "and unmapped");
	CHECK(hv_vm_destroy() == HV_SUCCESS, "hv_vm_destroy");

	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", dir);
	return check64_done("clerr64");
}
