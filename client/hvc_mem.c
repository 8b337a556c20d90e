/*
 * Guest RAM for libhvclient. Apple clients hand hv_vm_map arbitrary
 * page-aligned memory (valloc, mmap). hvd can only share memory that lives
 * in a memfd, so the library moves such a range onto a memfd in place: it
 * copies the resident pages into a new memfd and maps the memfd over the
 * same addresses (MAP_FIXED). The address and the contents stay; from then
 * on the client and hvd see the same pages. The memfd is sealed against
 * shrinking and growing (and further sealing): hvd accepts only shmem
 * memfds with both seals, so that it can never fault on them.
 *
 * Ranges already moved are remembered and reused (after checking in
 * /proc/self/maps that the address still maps that memfd, since the client
 * may have freed and reused it).
 *
 * Moving is faithful only for private anonymous writable memory (malloc,
 * valloc, mmap(MAP_PRIVATE | MAP_ANONYMOUS)): nobody else sees it, and it
 * stays private and writable on the memfd. Anything else would change
 * under the client's feet (a MAP_SHARED file mapping would stop reaching
 * its file, read-only memory would become writable, memory shared with
 * another process would stop being shared, a private file mapping would
 * lose the pages not yet read), so such a range is refused whole, before
 * anything is touched, with HV_BAD_ARGUMENT and a line saying why
 * (docs/porting.md). The check reads /proc/self/maps; a range that another
 * thread of the client remaps while hv_vm_map runs is the client's own
 * race (hvd only ever receives a sealed memfd of its own making), narrowed
 * by checking again just before the move.
 *
 * Both reads are on the path of every hv_vm_map of new memory, so they use
 * the kernel's direct queries where it has them: PROCMAP_QUERY (Linux
 * 6.11) asks /proc/self/maps for one mapping at a time instead of
 * formatting and parsing all of them, and PAGEMAP_SCAN (6.7) returns the
 * pages with data as ranges instead of 8 bytes per page from
 * /proc/self/pagemap (16 Ki entries for 64 MiB). Without them (an older
 * kernel, a seccomp filter that refuses the ioctl) the text and the
 * per-page entries are read, with the same answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvc.h"

#define PAGE 4096ul

/* The UAPI of linux/fs.h from 6.7 (PAGEMAP_SCAN) and 6.11 (PROCMAP_QUERY),
 * for builds against older headers; the kernel checks `size`. */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PROCMAP_QUERY
#define PROCMAP_QUERY_VMA_READABLE 0x01
#define PROCMAP_QUERY_VMA_WRITABLE 0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_VMA_SHARED 0x08
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
struct procmap_query {
	uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size;
	uint64_t vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#endif

/* One line of /proc/self/maps. */
struct vma {
	uintptr_t lo, hi;
	unsigned long long off, inode;
	char perms[5];                 /* "rwxp" as the text has it */
	const char *path;              /* "" for none */
};

/* Reading the mappings in address order, from either source. */
struct maps {
	int fd;                        /* /proc/self/maps, for PROCMAP_QUERY */
	FILE *f;                       /* the text, once PROCMAP_QUERY is refused */
	bool text;
	char buf[4096 + 128];          /* a line, or a mapping's name */
};

/* /proc/self/maps and /proc/self/pagemap stay open between calls (under
 * mem.lock): opening them is a third of moving a range here. Each use
 * checks the descriptor is still the file opened (the client may have
 * closed the number, and reused it); a child after fork opens its own
 * (hvc_mem_fork_child). */
struct procfd {
	const char *path;
	int fd;
	dev_t dev;
	ino_t ino;
};
static struct procfd proc_maps = { "/proc/self/maps", -1, 0, 0 };
static struct procfd proc_pagemap = { "/proc/self/pagemap", -1, 0, 0 };

static int procfd_get(struct procfd *p)
{
	struct stat st;
	if (p->fd >= 0 && fstat(p->fd, &st) == 0 && st.st_dev == p->dev && st.st_ino == p->ino)
		return p->fd;
	p->fd = open(p->path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	if (fstat(p->fd, &st) < 0) {
		int e = -errno;
		close(p->fd);
		p->fd = -1;
		return e;
	}
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	return p->fd;
}

/* After fork (in the child's atfork handler, so the numbers are still
 * these files): they describe the parent's process. */
static void procfd_forget(struct procfd *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static int maps_open(struct maps *m)
{
	m->f = NULL;
	m->text = false;
	m->fd = procfd_get(&proc_maps);
	return m->fd < 0 ? m->fd : 0;
}

static void maps_close(struct maps *m)
{
	if (m->f)
		fclose(m->f);
}

static bool maps_next_text(struct maps *m, uintptr_t at, struct vma *v)
{
	if (!m->f && !(m->f = fopen("/proc/self/maps", "re")))
		return false;
	while (fgets(m->buf, sizeof(m->buf), m->f)) {
		int n = 0;
		if (sscanf(m->buf, "%" SCNxPTR "-%" SCNxPTR " %4s %llx %*x:%*x %llu %n", &v->lo,
			   &v->hi, v->perms, &v->off, &v->inode, &n) < 5)
			continue;
		if (v->hi <= at)
			continue;
		char *path = n ? m->buf + n : m->buf + strlen(m->buf);
		path[strcspn(path, "\n")] = '\0';
		v->path = path;
		return true;
	}
	return false;
}

/* The first mapping that ends above `at` (it covers `at`, or it is the
 * next one), or false when there is none. */
static bool maps_next(struct maps *m, uintptr_t at, struct vma *v)
{
	if (m->text)
		return maps_next_text(m, at, v);
	struct procmap_query q;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
	q.query_addr = at;
	q.vma_name_addr = (uintptr_t)m->buf;
	q.vma_name_size = sizeof(m->buf);
	if (ioctl(m->fd, PROCMAP_QUERY, &q) < 0) {
		if (errno == ENOENT)
			return false;
		/* Not this kernel, or refused: the text says the same (read
		 * from its start; the lines below `at` are skipped). */
		m->text = true;
		return maps_next_text(m, at, v);
	}
	v->lo = (uintptr_t)q.vma_start;
	v->hi = (uintptr_t)q.vma_end;
	v->off = q.vma_offset;
	v->inode = q.inode;
	v->perms[0] = q.vma_flags & PROCMAP_QUERY_VMA_READABLE ? 'r' : '-';
	v->perms[1] = q.vma_flags & PROCMAP_QUERY_VMA_WRITABLE ? 'w' : '-';
	v->perms[2] = q.vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE ? 'x' : '-';
	v->perms[3] = q.vma_flags & PROCMAP_QUERY_VMA_SHARED ? 's' : 'p';
	v->perms[4] = '\0';
	if (!q.vma_name_size)
		m->buf[0] = '\0';
	v->path = m->buf;
	return true;
}

struct shared {
	struct shared *next;
	uint8_t *base;
	size_t size;
	int fd;
	ino_t ino;
};

static struct {
	pthread_mutex_t lock;
	struct shared *list;
} mem = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Is every page of [addr, addr+size) mapped from inode `ino` at the
 * matching file offset (base `base` = offset 0)? */
static bool still_backed(const uint8_t *base, ino_t ino, const uint8_t *addr, size_t size)
{
	struct maps m;
	struct vma v;
	uintptr_t at = (uintptr_t)addr, end = (uintptr_t)addr + size;

	if (maps_open(&m) < 0)
		return false;
	while (at < end && maps_next(&m, at, &v)) {
		if (v.lo > at)
			break; /* a hole */
		if (v.inode != (unsigned long long)ino || v.perms[3] != 's' ||
		    v.off + (at - v.lo) != at - (uintptr_t)base)
			break;
		at = v.hi;
	}
	maps_close(&m);
	return at >= end;
}

static void shared_free(struct shared *s)
{
	close(s->fd);
	free(s);
}

static int new_memfd(size_t size, int *fd_out, ino_t *ino)
{
	struct stat st;
	int fd = memfd_create("hv-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*fd_out = fd;
	*ino = st.st_ino;
	return 0;
}

/* A mapping of the range that is executable too (moving keeps that). */
struct xpiece {
	uintptr_t lo, hi;
};

/* Why [lo, hi) (a line of /proc/self/maps: perms, inode, path) cannot be
 * moved onto a memfd faithfully, or NULL if it can. */
static const char *unfit(const char *perms, unsigned long long inode, const char *path,
			 char *buf, size_t len)
{
	if (perms[3] == 's') {
		if (strncmp(path, "/memfd:hv-guest-ram", 19) == 0)
			snprintf(buf, len, "partly memory already shared with hvd (mapped before, "
				 "or from hv_vm_allocate) and partly not; map the parts separately");
		else if (strncmp(path, "/memfd:", 7) == 0)
			snprintf(buf, len, "a memfd mapped MAP_SHARED (%s), which moving would "
				 "stop sharing", path + 1);
		else if (strncmp(path, "/dev/zero", 9) == 0 || strncmp(path, "/SYSV", 5) == 0 ||
			 strncmp(path, "/dev/shm/", 9) == 0 || inode == 0)
			snprintf(buf, len, "shared memory (%s), which moving would stop "
				 "sharing with the other processes",
				 strncmp(path, "/SYSV", 5) == 0 ? "SysV shm" :
				 strncmp(path, "/dev/shm/", 9) == 0 ? "POSIX shm" :
				 "MAP_SHARED | MAP_ANONYMOUS");
		else
			snprintf(buf, len, "a MAP_SHARED mapping of %s, which moving would stop "
				 "reaching its file", path);
		return buf;
	}
	if (perms[0] != 'r' || perms[1] != 'w') {
		snprintf(buf, len, "not writable (%.4s), and hvd's memfd would make it writable",
			 perms);
		return buf;
	}
	/* Private anonymous memory has no inode; the heap and the stacks are
	 * named in brackets, as is memory named with PR_SET_VMA_ANON_NAME. */
	if (inode != 0 || (path[0] && path[0] != '[')) {
		snprintf(buf, len, "a private mapping of %s, which hvd cannot share "
			 "(only anonymous memory can be moved)", path[0] ? path : "a file");
		return buf;
	}
	return NULL;
}

/* Can [uva, uva+size) be moved onto a memfd without changing what it is?
 * 0, or -EINVAL after saying why not (-EFAULT for a hole). The ranges of
 * it that are also executable go into *x (malloc'd, *nx of them). */
static int check_kind(const uint8_t *uva, size_t size, struct xpiece **x, size_t *nx)
{
	uintptr_t at = (uintptr_t)uva, end = (uintptr_t)uva + size;
	char why[512];
	const char *bad = NULL;
	int r = 0;
	struct maps m;
	struct vma v;

	*x = NULL;
	*nx = 0;
	if ((r = maps_open(&m)) < 0) {
		hvc_err(HVC_CAUSE_MEMORY, "hv_vm_map: cannot read /proc/self/maps (%s) to check "
			"that the memory can be shared with hvd — mount /proc", strerror(-r));
		return -EINVAL; /* unchecked is refused: never change it silently */
	}
	r = 0;
	while (at < end && maps_next(&m, at, &v)) {
		if (v.lo > at)
			break; /* a hole */
		if ((bad = unfit(v.perms, v.inode, v.path, why, sizeof(why))))
			break;
		if (v.perms[2] == 'x') {
			struct xpiece *p = realloc(*x, (*nx + 1) * sizeof(**x));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			*x = p;
			(*x)[(*nx)++] = (struct xpiece){ at, v.hi < end ? v.hi : end };
		}
		at = v.hi;
	}
	maps_close(&m);
	if (!r && bad) {
		hvc_err(HVC_CAUSE_MEMORY, "hv_vm_map: HV_BAD_ARGUMENT: [%#" PRIxPTR ", %#" PRIxPTR
			") is %s — through hvd, guest memory must be private anonymous memory: "
			"allocate it with hv_vm_allocate or mmap(MAP_PRIVATE | MAP_ANONYMOUS) "
			"(docs/porting.md)", at, end, bad);
		r = -EINVAL;
	} else if (!r && at < end) {
		hvc_err(HVC_CAUSE_MEMORY, "hv_vm_map: HV_BAD_ARGUMENT: %#" PRIxPTR " is not mapped "
			"(the range [%p, %#" PRIxPTR ") has a hole)", at, (const void *)uva, end);
		r = -EFAULT;
	}
	if (r) {
		free(*x);
		*x = NULL;
		*nx = 0;
	}
	return r;
}

/* PAGEMAP_SCAN: the ranges of present or swapped-out pages, marked in
 * vec (all clear first). False if the kernel does not answer it. */
static bool scan_pages(int fd, const uint8_t *uva, size_t pages, unsigned char *vec)
{
	struct page_region reg[64];
	uint64_t lo = (uintptr_t)uva, at = lo, end = lo + pages * PAGE;

	memset(vec, 0, pages);
	while (at < end) {
		struct pm_scan_arg a;
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.start = at;
		a.end = end;
		a.vec = (uintptr_t)reg;
		a.vec_len = sizeof(reg) / sizeof(reg[0]);
		a.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
		a.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
		int n = ioctl(fd, PAGEMAP_SCAN, &a);
		if (n < 0 || (size_t)n > a.vec_len || a.walk_end <= at || a.walk_end > end)
			return false;
		for (int i = 0; i < n; i++) {
			uint64_t s = reg[i].start < at ? at : reg[i].start;
			uint64_t e = reg[i].end > end ? end : reg[i].end;
			if (s < e)
				memset(vec + (s - lo) / PAGE, 1, (e - s + PAGE - 1) / PAGE);
		}
		at = a.walk_end;
	}
	return true;
}

/* Which pages of [uva, uva+size) hold data (present or swapped out),
 * from /proc/self/pagemap: mincore would miss the swapped-out ones, and a
 * page not copied reads as zero on the memfd. Without pagemap every page
 * is copied (slower, never wrong). */
static void pages_with_data(const uint8_t *uva, size_t pages, unsigned char *vec)
{
	uint64_t ent[512];
	int fd = procfd_get(&proc_pagemap);

	if (fd >= 0 && scan_pages(fd, uva, pages, vec))
		return;
	memset(vec, 1, pages);
	if (fd < 0)
		return;
	for (size_t i = 0; i < pages;) {
		size_t k = pages - i < 512 ? pages - i : 512;
		off_t at = (off_t)(((uintptr_t)uva / PAGE + i) * sizeof(uint64_t));
		ssize_t n = pread(fd, ent, k * sizeof(uint64_t), at);
		if (n <= 0)
			break; /* the rest stays "copy" */
		k = (size_t)n / sizeof(uint64_t);
		for (size_t j = 0; j < k; j++)
			vec[i + j] = (ent[j] >> 62) & 3 ? 1 : 0; /* bit 63 present, 62 swapped */
		i += k;
	}
}

/* pwrite all of [buf, buf+len) at `off`: 0 or -errno. */
static int write_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Move [uva, uva+size) onto a new memfd in place, if it is memory that
 * moving leaves as it is (check_kind). */
static int convert(uint8_t *uva, size_t size, struct shared **out)
{
	size_t pages = size / PAGE, nx = 0;
	unsigned char *data = NULL;
	struct xpiece *x = NULL;
	struct shared *s;
	int r;

	if ((r = check_kind(uva, size, &x, &nx)) < 0)
		return r;
	s = calloc(1, sizeof(*s));
	data = malloc(pages);
	if (!s || !data) {
		r = -ENOMEM;
		goto err;
	}
	pages_with_data(uva, pages, data);
	if ((r = new_memfd(size, &s->fd, &s->ino)) < 0)
		goto err;
	/* Pages never touched read as zero, as the new memfd does: copying
	 * only those with data keeps a 1 GiB map of fresh memory cheap. By
	 * write(), run by run: no mapping of the memfd to make, fault in
	 * and remove. */
	for (size_t i = 0; i < pages;) {
		if (!data[i]) {
			i++;
			continue;
		}
		size_t n = 1;
		while (i + n < pages && data[i + n])
			n++;
		if ((r = write_all(s->fd, uva + i * PAGE, n * PAGE, (off_t)(i * PAGE))) < 0)
			goto err_fd;
		i += n;
	}
	/* Once more, as close to the move as can be: another thread may have
	 * remapped part of the range meanwhile. */
	free(x);
	if ((r = check_kind(uva, size, &x, &nx)) < 0)
		goto err_fd;
	if (mmap(uva, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, s->fd, 0) == MAP_FAILED) {
		r = -errno;
		goto err_fd;
	}
	/* Adding PROT_EXEC to a shared mapping can fail under a policy
	 * (SELinux execmod) that the private memory escaped; the move cannot
	 * be undone then, but it is said, not silent. */
	for (size_t i = 0; i < nx; i++)
		if (mprotect((void *)x[i].lo, x[i].hi - x[i].lo,
			     PROT_READ | PROT_WRITE | PROT_EXEC) < 0)
			hvc_err(HVC_CAUSE_MEMORY, "hv_vm_map: [%#" PRIxPTR ", %#" PRIxPTR ") was "
				"executable and no longer is after the move onto hvd's memfd "
				"(mprotect: %s)", x[i].lo, x[i].hi, strerror(errno));
	free(data);
	free(x);
	s->base = uva;
	s->size = size;
	*out = s;
	return 0;

err_fd:
	close(s->fd);
err:
	free(data);
	free(x);
	free(s);
	return r;
}

int hvc_mem_share(void *uva, size_t size, int *fd, uint64_t *offset)
{
	uint8_t *p = uva;
	struct shared *s, **pp;
	int r = 0;

	if (!uva || ((uintptr_t)uva & (PAGE - 1)) || size == 0 || (size & (PAGE - 1)))
		return -EINVAL;
	pthread_mutex_lock(&mem.lock);
	for (pp = &mem.list; (s = *pp);) {
		if (p >= s->base && p + size <= s->base + s->size) {
			if (still_backed(s->base, s->ino, p, size))
				goto found;
			/* The client freed it and the address was reused. */
			*pp = s->next;
			shared_free(s);
			continue;
		}
		pp = &s->next;
	}
	if ((r = convert(p, size, &s)) < 0)
		goto out;
	s->next = mem.list;
	mem.list = s;
found:
	*fd = s->fd;
	*offset = (uint64_t)(p - s->base);
out:
	pthread_mutex_unlock(&mem.lock);
	return r;
}

int hvc_mem_allocate(void **uva, size_t size)
{
	struct shared *s;
	int r;

	if (!uva || size == 0 || (size & (PAGE - 1)))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if ((r = new_memfd(size, &s->fd, &s->ino)) < 0) {
		free(s);
		return r;
	}
	s->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->base == MAP_FAILED) {
		r = -errno;
		shared_free(s);
		return r;
	}
	s->size = size;
	pthread_mutex_lock(&mem.lock);
	s->next = mem.list;
	mem.list = s;
	pthread_mutex_unlock(&mem.lock);
	*uva = s->base;
	return 0;
}

int hvc_mem_deallocate(void *uva, size_t size)
{
	struct shared *s, **pp;
	int r = -EINVAL;

	pthread_mutex_lock(&mem.lock);
	for (pp = &mem.list; (s = *pp); pp = &s->next) {
		if (s->base == uva && s->size == size) {
			*pp = s->next;
			munmap(s->base, s->size);
			shared_free(s);
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&mem.lock);
	return r;
}

void hvc_mem_fork_child(void)
{
	procfd_forget(&proc_maps);
	procfd_forget(&proc_pagemap);
	for (struct shared *s = mem.list, *next; s; s = next) {
		next = s->next;
		/* Copy into private memory at the same place: what the parent's
		 * guest does from now on is not the child's business. */
		uint8_t *copy = mmap(NULL, s->size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned char *resident = malloc(s->size / PAGE);
		if (copy != MAP_FAILED && resident &&
		    mincore(s->base, s->size, resident) == 0) {
			/* Holes read as zero; touching them would allocate
			 * pages in the parent's memfd. */
			for (size_t i = 0; i < s->size / PAGE; i++)
				if (resident[i] & 1)
					memcpy(copy + i * PAGE, s->base + i * PAGE, PAGE);
			if (mremap(copy, s->size, s->size, MREMAP_MAYMOVE | MREMAP_FIXED,
				   s->base) == MAP_FAILED)
				munmap(copy, s->size);
		} else if (copy != MAP_FAILED) {
			munmap(copy, s->size);
		}
		free(resident);
		shared_free(s);
	}
	mem.list = NULL;
	pthread_mutex_init(&mem.lock, NULL);
}
