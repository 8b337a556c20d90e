/* Admin requests for hvctl (hvd_admin.c). Loop thread. */
#ifndef HVD_ADMIN_H
#define HVD_ADMIN_H

#include "hvd.h"

int hvd_admin_status(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_admin_list_vms(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_admin_show_vm(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_admin_kill_vm(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_admin_clients(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_admin_policy_reload(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
/* Shows, and with a level given sets, hvd's log level (hvctl log-level). */
int hvd_admin_log_level(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
int hvd_admin_policy_explain(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);
/* Free what an admin handler allocated for its reply. */
void hvd_admin_reply_free(Hvdp__Response *resp);

#endif
