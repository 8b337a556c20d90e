/* Grants inside policy/ (hvp_grant.c): checking one and loading a
 * directory of them into a policy. The public part is in hvp.h. */
#ifndef HVP_GRANT_H
#define HVP_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "hvp_priv.h"

/* Check a grant's signature against `keys` and its content, and fill `g`
 * (when not NULL; g->file is left alone). Group names are not resolved
 * here: a grant may be verified on a host that lacks the group. */
int hvp__grant_check(const uint8_t (*keys)[32], unsigned nkeys, const char *text,
		     size_t len, struct hvp__grant *g, char *why, size_t whylen);

/* Load and verify every *.grant in `dir` into `p`; a bad grant is added to
 * p->rejected, only an unreadable directory is an error. */
int hvp__grants_load(struct hvp_policy *p, const char *dir, char *why, size_t whylen);

#endif
