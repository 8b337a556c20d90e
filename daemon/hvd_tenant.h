/*
 * Tenants as objects (hvd_tenant.c): made, changed and removed at run time
 * by administrators, kept in hvd's state directory, each optionally with a
 * listening socket of its own whose connections belong to it whatever
 * their uid. Loop thread only.
 */
#ifndef HVD_TENANT_H
#define HVD_TENANT_H

#include "hvd.h"
#include "hvd_sandbox.h"

#define HVD_DEFAULT_STATE_DIR "/var/lib/hvd"
/* Bounds, so that an administrator's typo or a hostile state file costs
 * little: a listing of every tenant fits one admin reply
 * (HVD_MAX_ADMIN_MESSAGE), the sockets a few descriptors. */
#define HVD_TENANT_MAX 256
#define HVD_TENANT_SOCKETS_MAX 128
#define HVD_TENANT_STATE_MAX (256 * 1024) /* bytes of the state file */

/* Before the main socket appears and before the privilege drop: make
 * `dir` (0700) owned by the uid hvd is about to become and hold it open,
 * fork hvd-tenant-janitor (which becomes that uid too), load the state
 * file (a bad tenant is logged and left out) and open the tenants'
 * sockets, given to that uid. Never fatal: without a usable state
 * directory hvd runs and says why tenants cannot be added. */
void hvd_tenants_init(struct hvd_daemon *d, const char *dir, const struct hvd_identity_drop *drop);
/* Close every tenant socket and remove its path (hvd_server_stop). */
void hvd_tenants_stop(struct hvd_daemon *d);
/* Free what is left, after the loop has ended. */
void hvd_tenants_fini(struct hvd_daemon *d);

/* The rights of a session that came through tenant `key`'s socket: the
 * tenant object's entitlements and quota, nothing else. */
void hvd_tenants_bound(struct hvd_daemon *d, uint64_t key, struct hvp_grant_result *g);
/* On the main socket: if `id`'s uid or one of its groups is listed by a
 * tenant object, the client belongs to it (its quota, its entitlements
 * added to what the rules gave). */
void hvd_tenants_member(struct hvd_daemon *d, const struct hvp_identity *id,
			struct hvp_grant_result *g);

/* The admin requests (hvd_dispatch.c rows, HVP_ACT_ADMIN). */
int hvd_tenant_add(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_tenant_list(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_tenant_show(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_tenant_set(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_tenant_remove(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
/* Free what those put into `resp` (hvd_admin_reply_free calls it). */
void hvd_tenant_reply_free(Hvdp__Response *resp);

#endif
