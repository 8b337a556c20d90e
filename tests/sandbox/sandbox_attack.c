/*
 * What a compromised hvd loop thread can do, tried for real: this program
 * is started as root, as hvd is in the documented by-hand and container
 * modes, applies hvd's own privilege drop and loop-thread seccomp filter
 * (daemon/hvd_sandbox.c, compiled in), and then does what an intruder
 * with code execution on that thread would try first:
 *
 *   - read /etc/shadow;
 *   - write, truncate or create root-owned files;
 *   - write another root process's memory through /proc/PID/mem, or
 *     (with a second argument "pvm") process_vm_writev, which the filter
 *     answers by killing the process (the wrapper checks SIGSYS);
 *   - regain root (setuid, capabilities).
 *
 * Each attempt must fail; the program prints one line per attempt and
 * "sandbox attack: all refused" at the end, or exits 1 naming the first
 * that succeeded. Usage: sandbox_attack DIR [pvm] (a scratch directory;
 * run as root).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvd.h"
#include "hvd_ident.h"
#include "hvd_sandbox.h"

static int failures;

static void expect_refused(const char *what, int r)
{
	if (r >= 0) {
		printf("ALLOWED: %s\n", what);
		failures++;
		return;
	}
	printf("refused: %s: %s\n", what, strerror(errno));
}

static int try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || geteuid() != 0) {
		fprintf(stderr, "usage (as root): sandbox_attack DIR [pvm]\n");
		return 2;
	}
	const char *dir = argv[1];
	char victim_file[512], new_file[512], mem[64];
	snprintf(victim_file, sizeof(victim_file), "%s/root-owned", dir);
	snprintf(new_file, sizeof(new_file), "%s/created-by-hvd", dir);
	FILE *f = fopen(victim_file, "w");
	if (!f || fputs("root's data\n", f) < 0 || fclose(f) != 0) {
		perror(victim_file);
		return 2;
	}
	chmod(victim_file, 0644);
	/* Another root process, with memory worth writing. */
	int alive[2];
	if (pipe2(alive, O_CLOEXEC) < 0) {
		perror("pipe");
		return 2;
	}
	pid_t victim = fork();
	if (victim == 0) {
		/* Lives until we end (EOF): a signal from us would be refused
		 * once we are another uid. */
		char c;
		close(alive[1]);
		close(STDOUT_FILENO);
		while (read(alive[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(alive[0]);
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)victim);

	/* What hvd does before it serves (hvd_main.c). */
	struct hvd_identity_drop drop;
	int r = hvd_sandbox_choose_uid(&drop);
	if (r < 0 || !drop.drop) {
		fprintf(stderr, "no uid to drop to: %s\n", strerror(-r));
		return 2;
	}
	if ((r = hvd_sandbox_drop_all(&drop)) < 0 || (r = hvd_sandbox_loop_thread()) < 0) {
		fprintf(stderr, "hvd's sandbox could not be applied: %s\n", strerror(-r));
		return 2;
	}
	printf("as uid %u with hvd's loop filter\n", (unsigned)geteuid());
	fflush(stdout);
	char buf[8] = "intrude";
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)0x400000, sizeof(buf) };
	if (argc == 3) {
		/* Killed here (SIGSYS), or it returns and says so. */
		int n = (int)process_vm_writev(victim, &local, 1, &remote, 1, 0);
		printf("process_vm_writev into another process returned %d (%s)\n", n,
		       n < 0 ? strerror(errno) : "written");
		return 1;
	}

	expect_refused("read /etc/shadow", try_open("/etc/shadow", O_RDONLY));
	expect_refused("append to a root-owned file",
		       try_open(victim_file, O_WRONLY | O_APPEND | O_CREAT));
	expect_refused("open a root-owned file read-write", try_open(victim_file, O_RDWR));
	expect_refused("truncate a root-owned file", try_open(victim_file, O_WRONLY | O_TRUNC));
	expect_refused("create a file in a root-owned directory",
		       try_open(new_file, O_WRONLY | O_CREAT | O_APPEND));
	expect_refused("open another root process's memory for writing", try_open(mem, O_RDWR));
	expect_refused("open another root process's memory for appending",
		       try_open(mem, O_WRONLY | O_APPEND | O_CREAT));
	expect_refused("open another root process's memory for reading", try_open(mem, O_RDONLY));
	expect_refused("setuid(0)", setuid(0));
	expect_refused("prctl(PR_CAP_AMBIENT_RAISE, CAP_SYS_PTRACE)",
		       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 19 /* CAP_SYS_PTRACE */, 0, 0));

	struct stat st;
	if (stat(new_file, &st) == 0) {
		printf("ALLOWED: a file appeared in the root-owned directory\n");
		failures++;
	}
	/* The victim ends with us (EOF on its pipe). */
	if (failures) {
		printf("sandbox attack: %d attempts succeeded\n", failures);
		return 1;
	}
	printf("sandbox attack: all refused\n");
	return 0;
}
