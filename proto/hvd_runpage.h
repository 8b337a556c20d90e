/*
 * The run-page hand-off (hvd_runpage_*): both sides of hv_vcpu_run on the
 * page that hvd_protocol.h lays out, in one place. The client (libhvclient)
 * hands the page over and waits for the exit; the server (hvd's vCPU
 * thread) waits for a request, serves it and hands the page back. Only the
 * futex words and the CPU hints are touched here: what is in `state` and
 * how it is checked is each side's business (docs/protocol.md).
 *
 * No side trusts the other: every wait is bounded, and a side that finds
 * garbage in the words at worst waits for its own next timeout.
 */
#ifndef HVD_RUNPAGE_H
#define HVD_RUNPAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvd_protocol.h"

/* The bytes each side maps: the page rounded up to whole pages. */
static inline size_t hvd_runpage_size(void)
{
	return (sizeof(struct hvd_run_page) + 4095) & ~(size_t)4095;
}

/* A futex word shared between processes (never FUTEX_PRIVATE): sleep
 * while it holds `val`, at most `timeout_ns` (0: no limit). Returns on a
 * wake-up, a timeout, a signal or a changed word alike. */
void hvd_runpage_futex_wait(_Atomic uint32_t *word, uint32_t val, long timeout_ns);
/* Wake every sleeper on a shared futex word. */
void hvd_runpage_futex_wake(_Atomic uint32_t *word);

/* ---- the client ---- */

/* Whether `p` is a run page (its magic); *seq is the last request the
 * server answered on it, from which the client numbers its runs. */
bool hvd_runpage_client_attach(const struct hvd_run_page *p, uint32_t *seq);

/*
 * One run: hand the page over as request `seq` (one past the last) and
 * wait for the server's answer. Polls for up to `spin_ns`, not at all when
 * the server last ran on this CPU (polling there only delays it), then
 * sleeps on done_seq in stretches of at most `sleep_ns`; after a stretch
 * that ends without the answer, alive(ctx) says whether to go on. Returns
 * 0 with the server's *result, or -ECONNRESET when alive() said no.
 */
int hvd_runpage_client_run(struct hvd_run_page *p, uint32_t seq, uint64_t spin_ns,
			   long sleep_ns, bool (*alive)(void *ctx), void *ctx, int32_t *result);

/* ---- the server ---- */

/* A new page, before it is shared: magic and version. */
void hvd_runpage_server_init(struct hvd_run_page *p);

/* The client's latest request: it has asked for a run when this is not
 * the last one answered. The page's `state` is complete once this is
 * read (acquire). */
uint32_t hvd_runpage_server_request(const struct hvd_run_page *p);

/* Before a run: note the server's CPU, for the client's polling. */
void hvd_runpage_server_begin(struct hvd_run_page *p);

/* After a run, `state` written back: answer request `seq` with `result`
 * and wake the client if it sleeps. */
void hvd_runpage_server_reply(struct hvd_run_page *p, uint32_t seq, int32_t result);

/*
 * Wait for the client's next request (the page's request leaves `done`)
 * or a wake-up of the server's own (`*wake` leaves `wake_seen`, which the
 * caller read before it last looked for other work): poll for up to
 * `spin_ns` (0: not at all; never when the client last ran on this CPU),
 * then sleep on both words at once, at most `sleep_ns`, so that neither
 * wake-up is lost. Does not sleep once `*stop` is set.
 */
void hvd_runpage_server_wait(struct hvd_run_page *p, uint32_t done, _Atomic uint32_t *wake,
			     uint32_t wake_seen, uint64_t spin_ns, const _Atomic bool *stop,
			     long sleep_ns);

/* Wake the server out of hvd_runpage_server_wait through its own word
 * (private to the server's process). Any thread. */
void hvd_runpage_server_wake(_Atomic uint32_t *wake);

#endif
