/*
 * hvp internals shared by the policy's source files: the loaded policy,
 * its rules, tenants and grants, as types only (each file's functions are
 * declared in its own header). Nothing here is visible outside policy/.
 */
#ifndef HVP_PRIV_H
#define HVP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hvp.h"

/* Unknown entitlement names a rule or grant may carry. The result has room
 * for the same number, so one rule can never overflow it on its own. */
#define HVP__MAX_UNKNOWN 8

/* A set of entitlements: known ones as bits, the rest by name. */
struct hvp__ents {
	uint32_t bits;
	char unknown[HVP__MAX_UNKNOWN][HVP_NAME_MAX];
	unsigned nunknown;
};

struct hvp__rule {
	char name[HVP_NAME_MAX];
	int line;                       /* of its [rule NAME] header */
	bool has_uid;
	uid_t uid;
	bool has_group;
	gid_t gid;
	struct hvp__ents ents;
	int tenant;                     /* index into tenants, -1: none */
};

struct hvp__tenant {
	char name[HVP_NAME_MAX];
	int line;
	struct hvp_quota quota;
	unsigned set;                   /* quota fields given, HVP__Q_* bits */
};

struct hvp__grant {
	char *file;                     /* base name, for reasons */
	uint8_t hash[HVP_HASH_BYTES];
	bool has_uid;
	uid_t uid;
	bool has_group;
	gid_t gid;
	char group[HVP_NAME_MAX];
	int64_t expires;                /* 0: never */
	struct hvp__ents ents;
};

struct hvp_policy {
	struct hvp__rule *rules;
	unsigned nrules;
	struct hvp__tenant *tenants;
	unsigned ntenants;
	struct hvp_quota defaults;      /* built-in, overlaid by [defaults] */
	struct hvp_limits limits;
	bool has_admin_group;
	gid_t admin_gid;
	char *audit;
	int audit_line;                 /* of the audit key, 0: not given */
	uint8_t (*keys)[32];
	unsigned nkeys;
	struct hvp__grant *grants;
	unsigned ngrants;
	char **rejected;                /* "FILE: reason" */
	unsigned nrejected;
};

#endif
