/*
 * Guest-memory changes run off hvd's loop thread. KVM_SET_USER_MEMORY_REGION
 * waits for an SRCU grace period of the VM, which took 1-4 s on a loaded
 * 2-CPU host (found by chaos.restart): on the loop thread that stalled
 * every client of every tenant. hv_vm_map, hv_vm_unmap and hv_vm_protect
 * make their KVM change on a thread of their own; the session is not read
 * until the change is done and answered, so its requests stay in order,
 * while other sessions go on. Everything else (checks, mmap of the memfd,
 * backings, accounting, the reply) stays on the loop thread.
 * hv_vm_destroy goes the same way: KVM's teardown of the VM waits for a
 * grace period too. A worker process (one VM, hvd's only session) makes
 * the change on its own loop thread: nothing else waits for that loop but
 * an admin's `hvctl show` of this VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>


#include "hvd.h"
#include "hvd_log.h"
#include "hvd_memop.h"
#include "hvd_session.h"
#include "hvd_vcpu.h"

#define PAGE 4096ull

/* Release host mappings of guest RAM that no mapping uses any more. */
static void backings_release_unused(struct hvd_session *s)
{
	struct hvd_backing **pp = &s->backings;
	while (*pp) {
		struct hvd_backing *b = *pp;
		if (s->vm && s->d->be->vm_hva_in_use(s->vm, b->addr, b->size)) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		munmap(b->addr, b->size);
		close(b->fd);
		free(b);
	}
}

/* Re-read the session's guest memory use and move the difference into
 * its tenant's account. */
static void usage_refresh(struct hvd_session *s)
{
	uint64_t bytes = 0;
	uint32_t maps = 0;
	if (s->vm)
		s->d->be->vm_usage(s->vm, &bytes, &maps);
	if (s->tenant) {
		s->tenant->usage.memory += bytes - s->mem_bytes;
		s->tenant->usage.mappings += maps - s->mappings;
	}
	s->mem_bytes = bytes;
	s->mappings = maps;
}

struct hvd_memop {
	pthread_t thread;
	struct hvd_session *s;
	struct hvb_vm *vm;
	Hvdp__Request *req;
	void *addr;                    /* vm_map: hvd's mapping of the memfd */
	int fd;                        /* vm_map: the memfd */
	int r;                         /* the backend's answer */
	bool here;                     /* made on the loop thread: no thread to join */
	struct hvd_vcpu *ahead;        /* vm_destroy: the thread started ahead, to end first */
	_Atomic bool finished;
};

/* For the tests only (hvd_testhooks.c): a memory change or an
 * hv_vm_destroy that takes longer, as a slow KVM call would. */
static void test_delay(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000l };
	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The thread of one change: the KVM part only, then a wake-up of the loop
 * (the session's async, as for vCPU ops). A thread per change rather than
 * libuv's pool: it is gone when the change is answered, so hvd's threads
 * are its vCPU threads and the loop, as the tests and operators count. */
static void memop_run(struct hvd_memop *m)
{
	Hvdp__Request *req = m->req;
	const struct hvd_testhooks *test = &m->s->d->test;

	test_delay(req->op_case == HVDP__REQUEST__OP_VM_DESTROY ? test->destroy_delay_ms :
		   test->memop_delay_ms);
	switch (req->op_case) {
	case HVDP__REQUEST__OP_VM_MAP:
		m->r = m->s->d->be->vm_map(m->vm, m->addr, req->vm_map->gpa, req->vm_map->size,
				  (uint32_t)req->vm_map->flags);
		break;
	case HVDP__REQUEST__OP_VM_UNMAP:
		m->r = m->s->d->be->vm_unmap(m->vm, req->vm_unmap->gpa, req->vm_unmap->size);
		break;
	case HVDP__REQUEST__OP_VM_PROTECT:
		m->r = m->s->d->be->vm_protect(m->vm, req->vm_protect->gpa, req->vm_protect->size,
				      (uint32_t)req->vm_protect->flags);
		break;
	case HVDP__REQUEST__OP_VM_DESTROY:
		if (m->ahead) {
			hvd_vcpu_stop(m->ahead);
			hvd_vcpu_free(m->ahead);
		}
		m->r = m->s->d->be->vm_destroy(m->vm);
		break;
	default:
		m->r = -EINVAL;
	}
}

static void *memop_thread(void *arg)
{
	struct hvd_memop *m = arg;
	memop_run(m);
	atomic_store(&m->finished, true);
	uv_async_send(&m->s->async);
	return NULL;
}

void hvd_memop_poll(struct hvd_session *s)
{
	struct hvd_memop *m = s->memop;
	Hvdp__Response resp = HVDP__RESPONSE__INIT;

	if (!m || !atomic_load(&m->finished))
		return;
	/* It has nothing left to do but return. */
	if (!m->here)
		pthread_join(m->thread, NULL);
	resp.id = m->req->id;
	resp.status = hvd_status_from_errno(m->r);
	if (m->req->op_case == HVDP__REQUEST__OP_VM_MAP) {
		struct hvd_backing *b = m->r == 0 ? calloc(1, sizeof(*b)) : NULL;
		if (m->r == 0 && !b) {
			m->s->d->be->vm_unmap(m->vm, m->req->vm_map->gpa, m->req->vm_map->size);
			resp.status = HV_NO_RESOURCES;
		}
		if (b) {
			b->addr = m->addr;
			b->size = m->req->vm_map->size;
			b->fd = m->fd;
			b->next = s->backings;
			s->backings = b;
		} else {
			munmap(m->addr, m->req->vm_map->size);
			close(m->fd);
		}
	} else if (m->req->op_case == HVDP__REQUEST__OP_VM_UNMAP) {
		backings_release_unused(s);
	} else if (m->req->op_case == HVDP__REQUEST__OP_VM_DESTROY && m->r == 0) {
		/* The VM is gone (a session closed meanwhile has nothing
		 * left for its reaper to destroy). */
		s->vm = NULL;
		backings_release_unused(s);
		if (s->tenant)
			s->tenant->usage.vms--;
	}
	s->memop = NULL;
	/* What the VM holds now, whatever was charged ahead. (A closed
	 * session has left its tenant: only its own counters change.) */
	usage_refresh(s);
	hvdp__request__free_unpacked(m->req, NULL);
	free(m);
	if (s->closing) {
		if (s->reap_after_memop)
			hvd_session_reap(s);
		return;
	}
	if (s->d->worker) {
		/* For hvd's accounts (hvd_worker.c). */
		resp.mem_bytes = s->mem_bytes;
		resp.mappings = s->mappings;
	}
	hvd_session_reply(s, &resp, -1);
	hvd_session_resume(s);
}

static int memop_start(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp,
		       void *addr, int fd, struct hvd_vcpu *ahead)
{
	struct hvd_memop *m = calloc(1, sizeof(*m));
	int r = m ? 0 : ENOMEM;

	if (m) {
		m->s = s;
		m->vm = s->vm;
		m->req = req;
		m->addr = addr;
		m->fd = fd;
		m->ahead = ahead;
		/* A worker's loop serves this one VM, whose client waits for
		 * the answer and whose next request hvd holds meanwhile; hvd's
		 * own loop goes on. There the change is made at once, without
		 * a thread and its wake-up of the loop (~40 us per change). */
		m->here = s->d->worker;
		if (!m->here)
			r = hvd_thread_start(&m->thread, memop_thread, m);
	}
	if (r) {
		free(m);
		if (addr) {
			munmap(addr, req->vm_map->size);
			close(fd);
		}
		resp->status = HV_NO_RESOURCES;
		resp->error = "no thread for the memory change";
		return -1;
	}
	s->memop = m;
	if (m->here) {
		memop_run(m);
		atomic_store(&m->finished, true);
		hvd_memop_poll(s);
		return HVD_REPLY_LATER;
	}
	uv_poll_stop(&s->poll);
	return HVD_REPLY_LATER;
}

int hvd_memop_vm_destroy(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)req; (void)fd;
	if (hvd_session_vcpu_slots(s)) {
		resp->status = HV_BUSY;
		return -1;
	}
	/* Closing a VM's descriptor waits for KVM to tear it down, which
	 * waits for an SRCU grace period (seen with ftrace): off the loop
	 * thread, as memory changes are. */
	resp->status = HV_SUCCESS;
	struct hvd_vcpu *ahead = s->ahead;
	s->ahead = NULL;
	int r = memop_start(s, req, resp, NULL, -1, ahead);
	if (r != HVD_REPLY_LATER)
		s->ahead = ahead;
	return r;
}

/*
 * Why a descriptor cannot be guest memory, or NULL if it can. Only plain
 * shmem memfds sealed against shrinking and growing: hvd maps them and
 * reads and writes guest memory through the mapping, so nothing the
 * client does may make a page of it fault. Refused: anything not a
 * regular file on tmpfs/shmem (hugetlbfs, whose pages may not exist even
 * after a successful MAP_NORESERVE mapping, so the first touch raises
 * SIGBUS; secretmem; any other file system), and memfds the client could
 * still truncate or grow. (The backend's own accesses are fault-safe as
 * well; this keeps KVM and hvd from being handed such memory at all.)
 */
static const char *guest_memory_refusal(int fd, const Hvdp__VmMap *m)
{
	struct statfs sfs;
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "not a regular file";
	if (fstatfs(fd, &sfs) < 0)
		return "fstatfs failed";
	if (sfs.f_type == HUGETLBFS_MAGIC)
		return "on hugetlbfs (its pages may not exist: SIGBUS on first touch)";
	if (sfs.f_type != TMPFS_MAGIC)
		return "not on tmpfs/shmem";
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return "not a memfd that takes seals";
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return "not sealed with F_SEAL_SHRINK and F_SEAL_GROW";
	if ((m->offset & (PAGE - 1)) || (m->size & (PAGE - 1)) || m->size == 0)
		return "offset or size not page-aligned, or size zero";
	if (m->offset + m->size < m->offset || (uint64_t)st.st_size < m->offset + m->size)
		return "range beyond the end of the memfd";
	return NULL;
}

int hvd_memop_vm_map(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	Hvdp__VmMap *m = req->vm_map;

	resp->status = HV_BAD_ARGUMENT;
	if (fd < 0)
		return -1;
	const char *why = guest_memory_refusal(fd, m);
	if (why) {
		/* Debug level: a client could otherwise fill the log. */
		hvd_debug("session %llu: vm_map refused: guest memory fd %s",
			  (unsigned long long)s->id, why);
		resp->error = "guest memory must be a shmem memfd sealed with "
			      "F_SEAL_SHRINK and F_SEAL_GROW";
		close(fd);
		return -1;
	}
	void *addr = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			  fd, (off_t)m->offset);
	if (addr == MAP_FAILED) {
		resp->status = hvd_status_from_errno(-errno);
		close(fd);
		return -1;
	}
	/* Charged now, so that the tenant's other sessions see it while the
	 * change runs; usage_refresh puts the truth back when it is done. */
	s->mem_bytes += m->size;
	s->mappings++;
	if (s->tenant) {
		s->tenant->usage.memory += m->size;
		s->tenant->usage.mappings++;
	}
	resp->status = HV_SUCCESS;
	int r = memop_start(s, req, resp, addr, fd, NULL);
	if (r != HVD_REPLY_LATER)
		usage_refresh(s);
	return r;
}

int hvd_memop_vm_unmap(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)fd;
	return memop_start(s, req, resp, NULL, -1, NULL);
}

int hvd_memop_vm_protect(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)fd;
	Hvdp__VmProtect *p = req->vm_protect;
	if (p->flags & ~(uint64_t)(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
	return memop_start(s, req, resp, NULL, -1, NULL);
}
