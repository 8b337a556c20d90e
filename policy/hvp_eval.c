/*
 * Decisions: what an identity may do, under which tenant and quota, and
 * whether one more VM, vCPU, mapping or request fits. Pure functions of
 * their arguments; nothing here does I/O, so the daemon can call them on
 * every request.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hvp_priv.h"

/* ---- reasons ---- */

struct why {
	char *buf;
	size_t len;
	size_t used;
	bool full;
};

#define ELLIPSIS "..."

static void why_add(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append one item ("; "-separated). What does not fit is cut and marked,
 * so a truncated reason never reads as a complete one. */
static void why_add(struct why *w, const char *fmt, ...)
{
	char item[256];
	va_list ap;

	if (w->full)
		return;
	va_start(ap, fmt);
	vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	const char *sep = w->used ? "; " : "";
	size_t need = strlen(sep) + strlen(item);
	if (w->used + need + sizeof(ELLIPSIS) <= w->len) {
		w->used += (size_t)snprintf(w->buf + w->used, w->len - w->used, "%s%s", sep, item);
		return;
	}
	w->full = true;
	if (w->len >= sizeof(ELLIPSIS)) {
		size_t at = w->used < w->len - sizeof(ELLIPSIS) ? w->used : w->len - sizeof(ELLIPSIS);
		memcpy(w->buf + at, ELLIPSIS, sizeof(ELLIPSIS));
	}
}

static void ents_str(const struct hvp__ents *e, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ HVP_HYPERVISOR, HVP_ENT_HYPERVISOR },
		{ HVP_NETWORKING, HVP_ENT_NETWORKING },
		{ HVP_DEVICE_ACCESS, HVP_ENT_DEVICE_ACCESS },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < len; i++)
		if (e->bits & names[i].bit)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "",
						 names[i].name);
	for (unsigned i = 0; i < e->nunknown && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s (unknown)",
					 used ? " " : "", e->unknown[i]);
	if (!used)
		snprintf(buf, len, "no entitlements");
}

/* ---- evaluation ---- */

static bool in_groups(const struct hvp_identity *id, gid_t gid)
{
	unsigned n = id->ngroups < HVP_MAX_GROUPS ? id->ngroups : HVP_MAX_GROUPS;

	if (id->gid == gid)
		return true;
	for (unsigned i = 0; i < n; i++)
		if (id->groups[i] == gid)
			return true;
	return false;
}

/* Add `e` to the result; returns how many unknown names found no room. */
static unsigned merge(struct hvp_grant_result *out, const struct hvp__ents *e)
{
	unsigned cap = sizeof(out->unknown) / sizeof(out->unknown[0]);
	unsigned dropped = 0;

	out->ents |= e->bits;
	for (unsigned i = 0; i < e->nunknown; i++) {
		bool dup = false;
		for (unsigned j = 0; j < out->nunknown && !dup; j++)
			dup = strcmp(out->unknown[j], e->unknown[i]) == 0;
		if (dup)
			continue;
		if (out->nunknown == cap) {
			dropped++;
			continue;
		}
		snprintf(out->unknown[out->nunknown++], HVP_NAME_MAX, "%s", e->unknown[i]);
	}
	return dropped;
}

void hvp_evaluate(const struct hvp_policy *p, const struct hvp_identity *id,
		  int64_t now, struct hvp_grant_result *out)
{
	struct why w = { out->reason, sizeof(out->reason), 0, false };
	const struct hvp__tenant *tenant = NULL;
	char ents[256];
	unsigned dropped = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < p->nrules; i++) {
		const struct hvp__rule *r = &p->rules[i];
		if ((r->has_uid && r->uid != id->uid) || (r->has_group && !in_groups(id, r->gid)))
			continue;
		dropped += merge(out, &r->ents);
		ents_str(&r->ents, ents, sizeof(ents));
		/* The first rule that names a tenant decides it. */
		if (r->tenant >= 0 && !tenant) {
			tenant = &p->tenants[r->tenant];
			why_add(&w, "rule %s: %s, tenant %s", r->name, ents, tenant->name);
		} else {
			why_add(&w, "rule %s: %s", r->name, ents);
		}
	}

	if (id->exe_refused[0] && p->ngrants)
		why_add(&w, "grants not considered: %s", id->exe_refused);
	for (unsigned i = 0; i < p->ngrants && id->exe_hash_valid && !id->exe_refused[0]; i++) {
		const struct hvp__grant *g = &p->grants[i];
		if (memcmp(g->hash, id->exe_hash, HVP_HASH_BYTES) != 0)
			continue;
		if (g->has_uid && g->uid != id->uid) {
			why_add(&w, "grant %s: for uid %u, not %u", g->file, (unsigned)g->uid,
				(unsigned)id->uid);
			continue;
		}
		if (g->has_group && !in_groups(id, g->gid)) {
			why_add(&w, "grant %s: for group %s, not a member", g->file, g->group);
			continue;
		}
		if (g->expires && now >= g->expires) {
			char stamp[32];
			struct tm tm;
			time_t t = (time_t)g->expires;
			if (gmtime_r(&t, &tm))
				strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
			else
				snprintf(stamp, sizeof(stamp), "%" PRId64, g->expires);
			why_add(&w, "grant %s: expired at %s", g->file, stamp);
			continue;
		}
		dropped += merge(out, &g->ents);
		ents_str(&g->ents, ents, sizeof(ents));
		why_add(&w, "grant %s: %s", g->file, ents);
	}

	if (tenant) {
		snprintf(out->tenant, sizeof(out->tenant), "%s", tenant->name);
		out->quota = tenant->quota;
	} else {
		snprintf(out->tenant, sizeof(out->tenant), "uid:%u", (unsigned)id->uid);
		out->quota = p->defaults;
	}
	if (dropped)
		why_add(&w, "%u more unknown entitlements not listed", dropped);
	if (!w.used && !w.full)
		why_add(&w, "no rule or grant applies");
}

bool hvp_is_admin(const struct hvp_policy *p, const struct hvp_identity *id)
{
	return id->uid == 0 || (p->has_admin_group && in_groups(id, p->admin_gid));
}

/* ---- quotas ---- */

/* Limits are what they say: 0 allows none (a way to shut a tenant out
 * without removing its rules). Only max_rpc_rate uses 0 for unlimited. */

int hvp_check_vm(const struct hvp_quota *q, const struct hvp_usage *u, char *why, size_t len)
{
	if (u->vms >= q->max_vms) {
		snprintf(why, len, "max_vms %" PRIu32 " reached (%" PRIu32 " VMs)", q->max_vms,
			 u->vms);
		return -EDQUOT;
	}
	return 0;
}

/* `vcpus_in_vm` is how many vCPUs the VM has now; the request is one more. */
int hvp_check_vcpu(const struct hvp_quota *q, const struct hvp_usage *u,
		   uint32_t vcpus_in_vm, char *why, size_t len)
{
	if (vcpus_in_vm >= q->max_vcpus_per_vm) {
		snprintf(why, len, "max_vcpus_per_vm %" PRIu32 " reached (%" PRIu32
			 " vCPUs in this VM)", q->max_vcpus_per_vm, vcpus_in_vm);
		return -EDQUOT;
	}
	if (u->vcpus >= q->max_vcpus) {
		snprintf(why, len, "max_vcpus %" PRIu32 " reached (%" PRIu32
			 " vCPUs in the tenant)", q->max_vcpus, u->vcpus);
		return -EDQUOT;
	}
	return 0;
}

/* `bytes` is the size of the mapping asked for; it is one more mapping. */
int hvp_check_map(const struct hvp_quota *q, const struct hvp_usage *u, uint64_t bytes,
		  char *why, size_t len)
{
	if (u->mappings >= q->max_mappings) {
		snprintf(why, len, "max_mappings %" PRIu32 " reached (%" PRIu32 " mappings)",
			 q->max_mappings, u->mappings);
		return -EDQUOT;
	}
	/* Written as a subtraction so that a huge request cannot wrap. */
	if (u->memory > q->max_memory || bytes > q->max_memory - u->memory) {
		snprintf(why, len, "max_memory %" PRIu64 " exceeded (%" PRIu64 " mapped + %"
			 PRIu64 " asked)", q->max_memory, u->memory, bytes);
		return -EDQUOT;
	}
	return 0;
}

/* The bucket holds at most one second's worth of requests, so a client
 * can burst to its rate but never bank more. A zeroed hvp_rate starts full;
 * `now_ns` comes from a monotonic clock and is never 0. */
bool hvp_rate_take(struct hvp_rate *r, uint32_t per_second, uint64_t now_ns)
{
	double cap = per_second;

	if (!per_second)
		return true;
	if (!r->last_ns) {
		r->tokens = cap;
		r->last_ns = now_ns;
	} else if (now_ns > r->last_ns) {
		r->tokens += (double)(now_ns - r->last_ns) * 1e-9 * cap;
		r->last_ns = now_ns;
	}
	if (r->tokens > cap)
		r->tokens = cap;
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}

const struct hvp_quota *hvp_default_quota(const struct hvp_policy *p)
{
	return &p->defaults;
}

bool hvp_has_tenant(const struct hvp_policy *p, const char *name)
{
	for (unsigned i = 0; i < p->ntenants; i++)
		if (strcmp(p->tenants[i].name, name) == 0)
			return true;
	return false;
}
