/* Guest-memory changes and hv_vm_destroy, made off the loop thread
 * (hvd_memop.c). */
#ifndef HVD_MEMOP_H
#define HVD_MEMOP_H

#include "hvd.h"

/* Loop handlers (hvd_dispatch.c's table): check the request, charge it
 * ahead, and start the change on a thread of its own; HVD_REPLY_LATER
 * then, or -1 with `resp` filled when the change could not start. */
int hvd_memop_vm_map(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_memop_vm_unmap(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_memop_vm_protect(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_memop_vm_destroy(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
/* Answer the session's memory change if its thread has finished (from
 * the session's async). Loop thread. */
void hvd_memop_poll(struct hvd_session *s);

#endif
