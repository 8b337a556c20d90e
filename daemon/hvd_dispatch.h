/* Request dispatch (hvd_dispatch.c). Loop thread. */
#ifndef HVD_DISPATCH_H
#define HVD_DISPATCH_H

#include "hvd.h"

/* Handle one decoded request; `fd` is the descriptor that came with it
 * (or -1), owned by the handler. */
void hvd_dispatch(struct hvd_session *s, Hvdp__Request *req, int fd);
/* NULL if every row of the dispatch table names a policy decision, else
 * the name of a row that does not (checked at start-up and by a test). */
const char *hvd_dispatch_check_table(void);

#endif
