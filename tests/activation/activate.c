/*
 * activate SOCKET PROGRAM [ARGS...]: hand PROGRAM a listening SOCK_SEQPACKET
 * socket bound at SOCKET exactly the way systemd's socket activation does
 * (fd 3, LISTEN_FDS=1, LISTEN_PID=its pid), so hvd's sd_listen_fds() path
 * is tested without a running systemd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr;
	char pid[32];

	if (argc < 3) {
		fprintf(stderr, "usage: activate SOCKET PROGRAM [ARGS...]\n");
		return 2;
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 16) < 0) {
		perror("activate: socket");
		return 1;
	}
	if (fd != 3) {
		if (dup2(fd, 3) < 0) {
			perror("activate: dup2");
			return 1;
		}
		close(fd);
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	execv(argv[2], argv + 2);
	perror("activate: exec");
	return 127;
}
