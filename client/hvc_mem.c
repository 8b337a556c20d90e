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
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvc.h"

#define PAGE 4096ul

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
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	uintptr_t at = (uintptr_t)addr, end = (uintptr_t)addr + size;

	if (!f)
		return false;
	while (at < end && fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		unsigned long long off, inode;
		char perms[8];
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %*s %llu", &lo, &hi,
			   perms, &off, &inode) != 5)
			continue;
		if (hi <= at || lo > at)
			continue;
		if (inode != (unsigned long long)ino || perms[3] != 's' ||
		    off + (at - lo) != at - (uintptr_t)base)
			break;
		at = hi;
	}
	fclose(f);
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

/* Move [uva, uva+size) onto a new memfd in place. */
static int convert(uint8_t *uva, size_t size, struct shared **out)
{
	size_t pages = size / PAGE;
	unsigned char *resident = NULL;
	uint8_t *tmp = MAP_FAILED;
	struct shared *s;
	int r;

	s = calloc(1, sizeof(*s));
	resident = malloc(pages);
	if (!s || !resident) {
		r = -ENOMEM;
		goto err;
	}
	/* Also tells whether the range is mapped at all. */
	if (mincore(uva, size, resident) < 0) {
		r = errno == ENOMEM ? -EFAULT : -errno;
		goto err;
	}
	if ((r = new_memfd(size, &s->fd, &s->ino)) < 0)
		goto err;
	tmp = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (tmp == MAP_FAILED) {
		r = -errno;
		goto err_fd;
	}
	/* Pages never touched read as zero, as the new memfd does: copying
	 * only resident pages keeps a 1 GiB map of fresh memory cheap. */
	for (size_t i = 0; i < pages; i++)
		if (resident[i] & 1)
			memcpy(tmp + i * PAGE, uva + i * PAGE, PAGE);
	if (mmap(uva, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, s->fd, 0) == MAP_FAILED) {
		r = -errno;
		goto err_fd;
	}
	munmap(tmp, size);
	free(resident);
	s->base = uva;
	s->size = size;
	*out = s;
	return 0;

err_fd:
	if (tmp != MAP_FAILED)
		munmap(tmp, size);
	close(s->fd);
err:
	free(resident);
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
