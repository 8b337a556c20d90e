/*
 * Names and numbers as policy files and grants spell them: entitlement
 * names (Apple's, known to hvd as bits, others kept by name), user and
 * group names resolved on this host, decimal numbers. Both the
 * configuration (hvp_config.c) and grants (hvp_grant.c) read them.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hvp_names.h"

static const struct {
	const char *name;
	uint32_t bit;
} known_ents[] = {
	{ HVP_ENT_HYPERVISOR, HVP_HYPERVISOR },
	{ HVP_ENT_NETWORKING, HVP_NETWORKING },
	{ HVP_ENT_DEVICE_ACCESS, HVP_DEVICE_ACCESS },
};

int hvp__ents_add(struct hvp__ents *e, const char *name)
{
	for (size_t i = 0; i < sizeof(known_ents) / sizeof(known_ents[0]); i++) {
		if (strcmp(name, known_ents[i].name) == 0) {
			e->bits |= known_ents[i].bit;
			return 0;
		}
	}
	if (strlen(name) >= HVP_NAME_MAX)
		return -ENAMETOOLONG;
	for (unsigned i = 0; i < e->nunknown; i++)
		if (strcmp(e->unknown[i], name) == 0)
			return 0;
	if (e->nunknown == HVP__MAX_UNKNOWN)
		return -E2BIG;
	snprintf(e->unknown[e->nunknown++], HVP_NAME_MAX, "%s", name);
	return 0;
}

bool hvp__ent_known(const char *name)
{
	for (size_t i = 0; i < sizeof(known_ents) / sizeof(known_ents[0]); i++)
		if (strcmp(name, known_ents[i].name) == 0)
			return true;
	return false;
}

/* Edit distance (insertions, deletions, substitutions, and swaps of two
 * neighbours, the commonest typo), capped: names longer than the table
 * row are not near anything. */
#define SUGGEST_MAX_LEN 96
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return UINT32_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = tolower((unsigned char)a[i - 1]) !=
					tolower((unsigned char)b[j - 1]);
			unsigned v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *hvp__ent_suggest(const char *name)
{
	const char *best = NULL;
	unsigned best_d = UINT32_MAX;

	for (size_t i = 0; i < sizeof(known_ents) / sizeof(known_ents[0]); i++) {
		unsigned dist = edit_distance(name, known_ents[i].name);
		if (dist < best_d) {
			best_d = dist;
			best = known_ents[i].name;
		}
	}
	/* A quarter of the name wrong is still a typo of it; more is
	 * another name (com.example.foo is no misspelt Apple name). A name
	 * that names a known one's last part ("hypervisor") is meant as it. */
	if (best && best_d <= strlen(best) / 4)
		return best;
	for (size_t i = 0; i < sizeof(known_ents) / sizeof(known_ents[0]); i++) {
		const char *dot = strrchr(known_ents[i].name, '.');
		if (dot && strcasecmp(name, dot + 1) == 0)
			return known_ents[i].name;
	}
	return NULL;
}

const char *hvp__ent_known_list(void)
{
	return HVP_ENT_HYPERVISOR ", " HVP_ENT_NETWORKING ", " HVP_ENT_DEVICE_ACCESS;
}

int hvp__parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* getpwnam_r and getgrnam_r want a buffer whose size is only a hint. */
#define LOOKUP_BUF_MAX (1u << 20)

int hvp__lookup_group(const char *s, gid_t *out)
{
	uint64_t v;
	struct group grp, *res = NULL;
	size_t size = 4096;
	char *buf = NULL;
	int r;

	if (hvp__parse_u64(s, (gid_t)-2, &v) == 0) {
		*out = (gid_t)v;
		return 0;
	}
	for (;;) {
		char *nbuf = realloc(buf, size);
		if (!nbuf) {
			r = -ENOMEM;
			goto out_free;
		}
		buf = nbuf;
		r = getgrnam_r(s, &grp, buf, size, &res);
		if (r != ERANGE || size >= LOOKUP_BUF_MAX)
			break;
		size *= 2;
	}
	if (r) {
		r = -r;
		goto out_free;
	}
	if (!res) {
		r = -ENOENT;
		goto out_free;
	}
	*out = grp.gr_gid;
out_free:
	free(buf);
	return r;
}

int hvp__lookup_user(const char *s, uid_t *out)
{
	struct passwd pw, *res = NULL;
	size_t size = 4096;
	char *buf = NULL;
	int r;

	for (;;) {
		char *nbuf = realloc(buf, size);
		if (!nbuf) {
			r = -ENOMEM;
			goto out_free;
		}
		buf = nbuf;
		r = getpwnam_r(s, &pw, buf, size, &res);
		if (r != ERANGE || size >= LOOKUP_BUF_MAX)
			break;
		size *= 2;
	}
	if (r) {
		r = -r;
		goto out_free;
	}
	if (!res) {
		r = -ENOENT;
		goto out_free;
	}
	*out = pw.pw_uid;
out_free:
	free(buf);
	return r;
}
