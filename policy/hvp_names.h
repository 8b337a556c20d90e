/* Names and numbers in policy files and grants (hvp_names.c). Private to
 * policy/. */
#ifndef HVP_NAMES_H
#define HVP_NAMES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hvp_priv.h"

/* Add the entitlement `name` to `e`: a known name sets its bit, any other
 * is kept by name. -ENAMETOOLONG or -E2BIG if it does not fit. */
int hvp__ents_add(struct hvp__ents *e, const char *name);

/* Is `name` one of the entitlements hvd knows? */
bool hvp__ent_known(const char *name);
/* The known entitlement closest to `name` (a misspelling of it), or NULL
 * if none is near. */
const char *hvp__ent_suggest(const char *name);
/* The known names, comma-separated, for messages. */
const char *hvp__ent_known_list(void);

/* A decimal number of at most `max`, digits only (strtoull alone would
 * take signs, spaces and hex): 0, -EINVAL or -ERANGE. */
int hvp__parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Name to id, or a number as is. -ENOENT if there is no such name. */
int hvp__lookup_group(const char *s, gid_t *out);
int hvp__lookup_user(const char *s, uid_t *out);

#endif
