/* Descriptors attached to a message (hvd_msg.c): replies to clients and
 * requests to hvd-ident. Any thread. */
#ifndef HVD_MSG_H
#define HVD_MSG_H

#include <sys/socket.h>

/* Room for one descriptor in a message's control data. */
union hvd_fd_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};
/* Attach `fd` to `msg` (SCM_RIGHTS) in `ctl`; nothing if fd < 0. */
void hvd_msg_attach_fd(struct msghdr *msg, union hvd_fd_cmsg *ctl, int fd);

#endif
