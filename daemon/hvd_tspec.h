/*
 * A tenant object as data (hvd_tspec.c): its checks and its JSON form.
 */
#ifndef HVD_TSPEC_H
#define HVD_TSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "hvp.h"

#define HVD_TSPEC_PATH_MAX 108          /* sizeof(sun_path) */
#define HVD_TSPEC_MAX_IDS 8             /* uids, and gids, per tenant */
#define HVD_TSPEC_NQ 7                  /* the policy's quota keys */
#define HVD_TSPEC_NENTS 3               /* the entitlements hvd knows */

/* What an administrator says a tenant is (and the state file keeps). */
struct hvd_tspec {
	char name[HVP_NAME_MAX];
	char socket[HVD_TSPEC_PATH_MAX];    /* "" none */
	unsigned mode;                      /* its permission bits */
	uid_t uids[HVD_TSPEC_MAX_IDS];
	unsigned nuids;
	gid_t gids[HVD_TSPEC_MAX_IDS];
	unsigned ngids;
	uint32_t ents;                      /* HVP_* bits */
	struct hvp_quota quota;
	uint32_t quota_set;                 /* bit i: quota key i is given */
};

/* The quota keys, in the order of hvd.proto's TenantQuota. */
struct hvd_tspec_qfield {
	const char *key;
	uint64_t max;
};
extern const struct hvd_tspec_qfield hvd_tspec_qfields[HVD_TSPEC_NQ];
/* Quota key i of `q`, read and written. */
uint64_t hvd_tspec_qget(const struct hvp_quota *q, unsigned i);
void hvd_tspec_qput(struct hvp_quota *q, unsigned i, uint64_t v);

/* An entitlement hvd knows: its bit, or -EINVAL. */
int hvd_tspec_ent_bit(const char *name, uint32_t *bit);
/* The names of `bits`, ", "-separated ("no entitlement" for none). */
void hvd_tspec_ents_str(uint32_t bits, char *buf, size_t len);
/* The names of the known entitlements, by index (< HVD_TSPEC_NENTS). */
const char *hvd_tspec_ent_name(unsigned i, uint32_t *bit);

/* Is `t` a tenant hvd can hold (name, path form, mode, ids, quota
 * ranges)? If not, why. The file system is not looked at. */
bool hvd_tspec_ok(const struct hvd_tspec *t, char *why, size_t len);
/* The state file's form of `t`: a new object. */
json_object *hvd_tspec_to_json(const struct hvd_tspec *t);
/* And back, refusing anything else (unknown keys, wrong types, values out
 * of range), then hvd_tspec_ok. */
bool hvd_tspec_from_json(json_object *o, struct hvd_tspec *t, char *why, size_t len);

/* The state file's text (`n` bytes): {"version": 1, "tenants": [...]},
 * nothing before or after it. Returns the parsed whole (the caller puts
 * it) with *list its tenants array, or NULL if it is not that. */
json_object *hvd_tspec_parse_state(const char *buf, size_t n, json_object **list);

#endif
