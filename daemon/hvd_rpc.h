/* The client RPCs answered on the loop thread (hvd_rpc.c): handlers for
 * hvd_dispatch.c's table. Loop thread. */
#ifndef HVD_RPC_H
#define HVD_RPC_H

#include "hvd.h"

int hvd_rpc_hello(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_rpc_vm_create(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
/* After the answer to `req` went out with `status` (hvd_dispatch). */
void hvd_rpc_replied(struct hvd_session *s, const Hvdp__Request *req, int32_t status);
int hvd_rpc_vm_sync_tsc(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_rpc_capability(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_rpc_vcpu_create(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_rpc_vcpu_interrupt(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);

#endif
