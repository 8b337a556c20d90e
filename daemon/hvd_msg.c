/* SCM_RIGHTS: one descriptor travelling with a message. */
#include <string.h>
#include <sys/socket.h>

#include "hvd_msg.h"

void hvd_msg_attach_fd(struct msghdr *msg, union hvd_fd_cmsg *ctl, int fd)
{
	if (fd < 0)
		return;
	memset(ctl, 0, sizeof(*ctl));
	msg->msg_control = ctl->buf;
	msg->msg_controllen = sizeof(ctl->buf);
	struct cmsghdr *c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
}
