/*
 * Executables by content: BLAKE2b-256 of the file behind /proc/<pid>/exe,
 * which is the inode the process runs even if its path was replaced since.
 * Hashing a large binary on every connection would be slow, so results are
 * cached by the file's identity.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hvp_priv.h"

/* Distinct executables a busy host runs clients from: a handful. Past
 * this, the oldest entry is replaced. */
#define CACHE_SLOTS 64

/* What identifies one version of a file. ctime is in the key as well as
 * mtime because a file's owner can set mtime back (touch -d) but not
 * ctime. */
struct cache_key {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

struct hvp_hash_cache {
	pthread_mutex_t lock;   /* sessions may be identified on several threads */
	struct {
		struct cache_key key;
		uint8_t hash[HVP_HASH_BYTES];
	} slot[CACHE_SLOTS];
	unsigned used;
	unsigned next;          /* replaced next once full */
	uint64_t hits, misses;
};

int hvp_hash_cache_create(struct hvp_hash_cache **out)
{
	struct hvp_hash_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int r = pthread_mutex_init(&c->lock, NULL);
	if (r) {
		free(c);
		return -r;
	}
	*out = c;
	return 0;
}

void hvp_hash_cache_free(struct hvp_hash_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void hvp_hash_cache_stats(struct hvp_hash_cache *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->lock);
	if (hits)
		*hits = c->hits;
	if (misses)
		*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

static void key_of(const struct stat *st, struct cache_key *k)
{
	memset(k, 0, sizeof(*k));
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	k->size = st->st_size;
	k->mtime = st->st_mtim;
	k->ctime = st->st_ctim;
}

static bool key_eq(const struct cache_key *a, const struct cache_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static int hash_fd(int fd, uint8_t out[HVP_HASH_BYTES])
{
	/* A file being read here may be an attacker's: sparse, huge, or
	 * growing. Callers that must bound the work check the size first
	 * (hvp_identity_probe); this reads to the end. */
	crypto_generichash_state st;
	uint8_t buf[64 * 1024];

	if (sodium_init() < 0)
		return -EIO;
	crypto_generichash_init(&st, NULL, 0, HVP_HASH_BYTES);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		crypto_generichash_update(&st, buf, (size_t)n);
	}
	crypto_generichash_final(&st, out, HVP_HASH_BYTES);
	return 0;
}

/* Hash exactly `size` bytes from the start of `fd`, the size fstat gave
 * when the caller checked it against its limit: a file that grows
 * meanwhile (a sparse extension costs nothing) is not read past that,
 * and one that changed length is -EAGAIN, never a hash of a mixture.
 * The offset is set first: a descriptor from another process may share
 * its file offset with it. */
static int hash_fd_size(int fd, uint64_t size, uint8_t out[HVP_HASH_BYTES])
{
	crypto_generichash_state st;
	uint8_t buf[64 * 1024];
	uint64_t done = 0;

	if (sodium_init() < 0)
		return -EIO;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	crypto_generichash_init(&st, NULL, 0, HVP_HASH_BYTES);
	for (;;) {
		size_t want = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		/* Once `size` bytes are in, one more byte says it grew. */
		ssize_t n = read(fd, buf, want ? want : 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		if (!want)
			return -EAGAIN;
		crypto_generichash_update(&st, buf, (size_t)n);
		done += (uint64_t)n;
	}
	if (done != size)
		return -EAGAIN;
	crypto_generichash_final(&st, out, HVP_HASH_BYTES);
	return 0;
}

int hvp_hash_file(const char *path, uint8_t out[HVP_HASH_BYTES])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = hash_fd(fd, out);
	close(fd);
	return r;
}

static bool cache_get(struct hvp_hash_cache *c, const struct cache_key *k,
		      uint8_t out[HVP_HASH_BYTES])
{
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->used; i++) {
		if (key_eq(&c->slot[i].key, k)) {
			memcpy(out, c->slot[i].hash, HVP_HASH_BYTES);
			found = true;
			break;
		}
	}
	if (found)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return found;
}

static void cache_put(struct hvp_hash_cache *c, const struct cache_key *k,
		      const uint8_t hash[HVP_HASH_BYTES])
{
	unsigned i;

	pthread_mutex_lock(&c->lock);
	if (c->used < CACHE_SLOTS) {
		i = c->used++;
	} else {
		i = c->next;
		c->next = (c->next + 1) % CACHE_SLOTS;
	}
	c->slot[i].key = *k;
	memcpy(c->slot[i].hash, hash, HVP_HASH_BYTES);
	pthread_mutex_unlock(&c->lock);
}

static int identity_exe(struct hvp_hash_cache *c, pid_t pid, uint64_t max_size,
			struct hvp_identity *id)
{
	char link[64];
	struct stat before, after;
	struct cache_key key;
	int fd, r;

	id->exe_hash_valid = false;
	id->exe[0] = '\0';
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, id->exe, sizeof(id->exe) - 1);
	if (n < 0)
		return -errno;
	id->exe[n] = '\0';

	fd = open(link, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &before) < 0) {
		r = -errno;
		goto out_close;
	}
	id->exe_dev = before.st_dev;
	id->exe_ino = before.st_ino;
	if (!S_ISREG(before.st_mode)) {
		r = -EINVAL;
		goto out_close;
	}
	key_of(&before, &key);
	if (c && cache_get(c, &key, id->exe_hash)) {
		id->exe_hash_valid = true;
		r = 0;
		goto out_close;
	}
	/* The size is the file's own word, and a sparse file costs nothing
	 * to make: refuse to read past the limit rather than trust it. */
	if (max_size && (uint64_t)before.st_size > max_size) {
		snprintf(id->exe_refused, sizeof(id->exe_refused),
			 "executable of %lld bytes is larger than max_exe_size (%llu): not hashed",
			 (long long)before.st_size, (unsigned long long)max_size);
		r = 0;
		goto out_close;
	}
	r = hash_fd_size(fd, (uint64_t)before.st_size, id->exe_hash);
	if (r < 0)
		goto out_close;
	/* A file written to while we read it has no single hash: give no
	 * executable-bound rights rather than a hash of a mixture. */
	if (fstat(fd, &after) < 0) {
		r = -errno;
		goto out_close;
	}
	struct cache_key key_after;
	key_of(&after, &key_after);
	if (!key_eq(&key, &key_after)) {
		r = -EAGAIN;
		goto out_close;
	}
	if (c)
		cache_put(c, &key, id->exe_hash);
	id->exe_hash_valid = true;

out_close:
	close(fd);
	return r;
}

int hvp_identity_fd(struct hvp_hash_cache *c, int fd, uint64_t max_size,
		    struct hvp_identity *id)
{
	struct stat before, after;
	struct cache_key key, key_after;
	int r;

	id->exe_hash_valid = false;
	id->exe_refused[0] = '\0';
	/* The descriptor is someone else's choice: anything that is not a
	 * regular file (a FIFO, /dev/zero, a socket, a directory) is
	 * refused before a byte is read, so nothing here can block or run
	 * forever. */
	if (fstat(fd, &before) < 0)
		return -errno;
	if (S_ISDIR(before.st_mode))
		return -EISDIR;
	if (!S_ISREG(before.st_mode))
		return -EINVAL;
	id->exe_dev = before.st_dev;
	id->exe_ino = before.st_ino;
	if (max_size && (uint64_t)before.st_size > max_size)
		return -EFBIG;
	key_of(&before, &key);
	if (c && cache_get(c, &key, id->exe_hash)) {
		id->exe_hash_valid = true;
		return 0;
	}
	r = hash_fd_size(fd, (uint64_t)before.st_size, id->exe_hash);
	if (r < 0)
		return r;
	if (fstat(fd, &after) < 0)
		return -errno;
	key_of(&after, &key_after);
	if (!key_eq(&key, &key_after))
		return -EAGAIN;
	if (c)
		cache_put(c, &key, id->exe_hash);
	id->exe_hash_valid = true;
	return 0;
}

int hvp_identity_exe(struct hvp_hash_cache *c, pid_t pid, struct hvp_identity *id)
{
	return identity_exe(c, pid, 0, id);
}

/* ---- what the process is: start time, tracer, mapped code ---- */

static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Field 22 of /proc/PID/stat. The command name (field 2) may hold spaces
 * and parentheses: count from the last ')'. */
static int start_time_of(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	char *p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	/* Fields 3..21 come first: 19 fields to skip. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	char *end;
	unsigned long long v = strtoull(p + 1, &end, 10);
	if (end == p + 1)
		return -EINVAL;
	*out = v;
	return 0;
}

static int tracer_of(pid_t pid, pid_t *out)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	char *p = strstr(buf, "\nTracerPid:");
	if (!p)
		return -EINVAL;
	*out = (pid_t)strtol(p + 11, NULL, 10);
	return 0;
}

/* Only root could have put this file here and only root can change it:
 * the file and every directory above it are owned by root and writable by
 * nobody else (or, for a directory, sticky). `root` is the process's own root directory
 * (/proc/PID/root), so that a process in another mount namespace is
 * judged by its own files. */
static bool root_only(const char *root, const char *path)
{
	char full[4096 + 64];
	struct stat st;

	if (path[0] != '/' || snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full))
		return false;
	size_t stop = strlen(root);
	for (bool file = true;; file = false) {
		if (lstat(full, &st) < 0 || st.st_uid != 0)
			return false;
		/* A directory others may write is still safe with the sticky
		 * bit (/tmp): there only an entry's owner, root here, may
		 * rename or remove it. */
		if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    (file || !(st.st_mode & S_ISVTX)))
			return false;
		char *slash = strrchr(full, '/');
		if (!slash || (size_t)(slash - full) < stop)
			break;
		*slash = '\0';
		if ((size_t)(slash - full) == stop) {
			/* The root directory itself. */
			return stat(full, &st) == 0 && st.st_uid == 0 &&
			       !(st.st_mode & (S_IWGRP | S_IWOTH));
		}
	}
	return false;
}

int hvp_code_check(pid_t pid, dev_t exe_dev, ino_t exe_ino, uint32_t max_maps,
		   char *why, size_t len)
{
	char path[64], root[64], line[4096 + 128];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int r = 0;
	uint32_t lines = 0;
	while (fgets(line, sizeof(line), f)) {
		if (max_maps && ++lines > max_maps) {
			snprintf(why, len, "more than %u memory mappings to verify", max_maps);
			r = -EPERM;
			break;
		}
		/* start-end perms offset major:minor inode path */
		char perms[8] = "";
		unsigned maj, min;
		unsigned long long ino;
		int off = 0;
		if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu %n", perms, &maj, &min, &ino, &off) < 4) {
			snprintf(why, len, "unreadable memory map");
			r = -EPERM;
			break;
		}
		if (!strchr(perms, 'x'))
			continue;
		char *file = line + off;
		file[strcspn(file, "\n")] = '\0';
		if (ino == 0) {
			if (strcmp(file, "[vdso]") == 0 || strcmp(file, "[vsyscall]") == 0)
				continue;
			snprintf(why, len, "executable memory not backed by a file (%.60s)",
				 *file ? file : "anonymous");
			r = -EPERM;
			break;
		}
		if (makedev(maj, min) == exe_dev && (ino_t)ino == exe_ino)
			continue;
		/* The path must name the mapped file itself (not one put
		 * there since) and be a system library. */
		char full[4096 + 64];
		struct stat st;
		snprintf(full, sizeof(full), "%s%s", root, file);
		if (stat(full, &st) == 0 && st.st_ino == (ino_t)ino &&
		    st.st_dev == makedev(maj, min) && root_only(root, file))
			continue;
		snprintf(why, len, "code from %.100s is mapped: only the executable and root-owned "
			 "system libraries may be", file);
		r = -EPERM;
		break;
	}
	fclose(f);
	return r;
}

int hvp_identity_probe(struct hvp_hash_cache *c, pid_t pid, uint64_t max_exe_size,
		       uint32_t max_maps, struct hvp_identity *id)
{
	id->exe_refused[0] = '\0';
	id->tracer = 0;
	id->start_time = 0;
	int r = start_time_of(pid, &id->start_time);
	if (r < 0)
		return r;
	r = identity_exe(c, pid, max_exe_size, id);
	if (r < 0)
		return r;
	if (id->exe_refused[0])
		return 0;
	if (tracer_of(pid, &id->tracer) == 0 && id->tracer) {
		snprintf(id->exe_refused, sizeof(id->exe_refused),
			 "the process is traced by pid %d", (int)id->tracer);
		return 0;
	}
	char why[sizeof(id->exe_refused)];
	r = hvp_code_check(pid, id->exe_dev, id->exe_ino, max_maps, why, sizeof(why));
	if (r == -EPERM)
		snprintf(id->exe_refused, sizeof(id->exe_refused), "%s", why);
	else if (r < 0)
		snprintf(id->exe_refused, sizeof(id->exe_refused),
			 "its memory map cannot be read: %s", strerror(-r));
	return 0;
}
