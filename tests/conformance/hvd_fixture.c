/*
 * Linked only into the suite that runs through hvd: every test process
 * (Criterion starts one per test) gets its own hvd on a private socket,
 * started before main() and gone with the process. HVD_TEST_DAEMON names
 * the hvd binary.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hvd_stop.h"

static pid_t hvd_pid = -1;
static char hvd_dir[64];

__attribute__((constructor)) static void hvd_fixture_start(void)
{
	const char *bin = getenv("HVD_TEST_DAEMON");
	char sock[128];
	struct stat st;

	/* Only in Criterion's per-test workers, not in the runner. */
	if (!bin || !getenv("BXFI_MAP"))
		return;
	strcpy(hvd_dir, "/tmp/hvd-test.XXXXXX");
	if (!mkdtemp(hvd_dir)) {
		perror("hvd fixture: mkdtemp");
		exit(1);
	}
	snprintf(sock, sizeof(sock), "%s/hvd.sock", hvd_dir);
	pid_t parent = getpid();
	hvd_pid = fork();
	if (hvd_pid < 0) {
		perror("hvd fixture: fork");
		exit(1);
	}
	if (hvd_pid == 0) {
		/* hvd goes when the test process goes, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		char state[160];
		snprintf(state, sizeof(state), "%s/state", hvd_dir);
		execl(bin, bin, "--socket", sock, "--state-dir", state, "--log-level", "warn",
		      (char *)NULL);
		perror("hvd fixture: exec");
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
			setenv("HVD_SOCKET", sock, 1);
			return;
		}
		struct timespec ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
	fprintf(stderr, "hvd fixture: hvd did not create %s\n", sock);
	exit(1);
}

__attribute__((destructor)) static void hvd_fixture_stop(void)
{
	char sock[128];
	if (hvd_pid <= 0 || getpid() == hvd_pid)
		return;
	snprintf(sock, sizeof(sock), "%s/hvd.sock", hvd_dir);
	hvd_stop_signal_wait(hvd_pid, SIGTERM, sock, -1, NULL);
	unlink(sock);
	snprintf(sock, sizeof(sock), "%s/state", hvd_dir);
	rmdir(sock);
	rmdir(hvd_dir);
}
