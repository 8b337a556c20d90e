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

int hvp_identity_exe(struct hvp_hash_cache *c, pid_t pid, struct hvp_identity *id)
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

	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &before) < 0) {
		r = -errno;
		goto out_close;
	}
	key_of(&before, &key);
	if (c && cache_get(c, &key, id->exe_hash)) {
		id->exe_hash_valid = true;
		r = 0;
		goto out_close;
	}
	r = hash_fd(fd, id->exe_hash);
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
