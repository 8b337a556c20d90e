/* arm64: the GIC RPCs (hvd_gic.c), answered on the loop thread. Each takes
 * the descriptor that came with the request (closing it) and returns the
 * one to send back, or -1. */
#ifndef HVD_GIC_H
#define HVD_GIC_H

#include "hvd.h"

int hvd_gic_create(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_gic_spi(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_gic_msi(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_gic_reg(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_gic_state(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_gic_reset(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);

#endif
