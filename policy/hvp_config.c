/*
 * The policy's configuration: the built-in default and the INI file
 * (parsed by inih; this file only gives meaning to sections and keys).
 * A file is either loaded whole or not at all: every problem is reported
 * as "FILE:LINE: problem" and no policy is produced.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvp_grant.h"
#include "hvp_names.h"
#include "hvp_priv.h"

static const struct hvp_quota builtin_quota = {
	.max_vms = 8,
	.max_vcpus_per_vm = 16,
	.max_vcpus = 64,
	.max_memory = 64ull << 30,
	.max_mappings = 4096,
	.max_rpc_rate = 100000,
};

/* ---- numbers and names ---- */

/* Bytes with an optional binary suffix: 512M, 64G. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end) {
		const char *suf = strchr(suffixes, toupper((unsigned char)*end));
		if (!suf || end[1])
			return -EINVAL;
		unsigned shift = 10 * (unsigned)(suf - suffixes + 1);
		if (v > (UINT64_MAX >> shift))
			return -ERANGE;
		v <<= shift;
	}
	*out = v;
	return 0;
}

/* Rule and tenant names appear in reasons and audit lines: keep them to
 * characters that need no quoting. */
static bool valid_name(const char *s)
{
	if (!*s || strlen(s) >= HVP_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:@+-", *s))
			return false;
	return true;
}

/* ---- the policy object ---- */

void hvp_policy_free(struct hvp_policy *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->ngrants; i++)
		free(p->grants[i].file);
	for (unsigned i = 0; i < p->nrejected; i++)
		free(p->rejected[i]);
	free(p->rejected);
	free(p->grants);
	free(p->keys);
	free(p->audit);
	free(p->tenants);
	free(p->rules);
	free(p);
}

static struct hvp_policy *policy_new(void)
{
	struct hvp_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->defaults = builtin_quota;
	p->limits = (struct hvp_limits){
		.max_clients = 1024,
		.max_unauthenticated = 64,
		.hello_timeout_ms = 10000,
		.max_inflight = 64,
		.max_message = 8192,
		.max_fds = 1,
		.host_max_vms = 512,
		.host_max_vcpus = 2048,
		/* One uid may hold an eighth of the connections and half of
		 * the handshakes in progress (the rest are made room for by
		 * evicting the largest holder's oldest): one uid cannot lock
		 * out the rest. */
		.max_clients_per_uid = 128,
		.max_unauthenticated_per_uid = 32,
		.max_admin_rate = 50,
		.max_exe_size = HVP_DEFAULT_MAX_EXE_SIZE,
	};
	p->audit = strdup("-");
	if (!p->audit) {
		free(p);
		return NULL;
	}
	return p;
}

static struct hvp__rule *rule_append(struct hvp_policy *p)
{
	struct hvp__rule *n = realloc(p->rules, (p->nrules + 1) * sizeof(*n));
	if (!n)
		return NULL;
	p->rules = n;
	n = &p->rules[p->nrules++];
	memset(n, 0, sizeof(*n));
	n->tenant = -1;
	return n;
}

int hvp_policy_default(uid_t self_uid, struct hvp_policy **out)
{
	struct hvp_policy *p = policy_new();
	struct hvp__rule *r;

	if (!p)
		return -ENOMEM;
	r = rule_append(p);
	if (!r)
		goto err_free;
	snprintf(r->name, sizeof(r->name), "builtin:root");
	r->has_uid = true;
	r->uid = 0;
	r->ents.bits = HVP_HYPERVISOR;
	if (self_uid != 0) {
		r = rule_append(p);
		if (!r)
			goto err_free;
		snprintf(r->name, sizeof(r->name), "builtin:self");
		r->has_uid = true;
		r->uid = self_uid;
		r->ents.bits = HVP_HYPERVISOR;
	}
	*out = p;
	return 0;

err_free:
	hvp_policy_free(p);
	return -ENOMEM;
}

const char *hvp_audit_path(const struct hvp_policy *p)
{
	return p->audit;
}

int hvp_audit_line(const struct hvp_policy *p)
{
	return p->audit_line;
}

unsigned hvp_rule_count(const struct hvp_policy *p)
{
	return p->nrules;
}

void hvp_grant_counts(const struct hvp_policy *p, unsigned *loaded, unsigned *rejected)
{
	if (loaded)
		*loaded = p->ngrants;
	if (rejected)
		*rejected = p->nrejected;
}

const char *hvp_grant_rejected(const struct hvp_policy *p, unsigned i)
{
	return i < p->nrejected ? p->rejected[i] : NULL;
}

/* ---- loading ---- */

enum section { SEC_NONE, SEC_HVD, SEC_DEFAULTS, SEC_TENANT, SEC_RULE };

enum key_id {
	K_ADMIN_GROUP, K_AUDIT, K_TRUSTED_KEY, K_GRANTS,
	K_L_MAX_CLIENTS, K_L_MAX_UNAUTH, K_L_HELLO_TIMEOUT, K_L_MAX_INFLIGHT,
	K_L_MAX_MESSAGE, K_L_MAX_FDS, K_L_HOST_MAX_VMS, K_L_HOST_MAX_VCPUS,
	K_L_CLIENTS_PER_UID, K_L_UNAUTH_PER_UID, K_L_ADMIN_RATE, K_L_MAX_EXE_SIZE,
	K_MAX_VMS, K_MAX_VCPUS_PER_VM, K_MAX_VCPUS, K_MAX_MEMORY, K_MAX_MAPPINGS,
	K_MAX_RPC_RATE, K_MAX_CPU_PERCENT,
	K_UID, K_USER, K_GROUP, K_ENTITLEMENTS, K_TENANT,
};

#define IN_HVD (1u << SEC_HVD)
#define IN_QUOTA ((1u << SEC_DEFAULTS) | (1u << SEC_TENANT))
#define IN_RULE (1u << SEC_RULE)

static const struct {
	const char *name;
	unsigned in;            /* sections it belongs to */
	bool repeat;            /* may be given more than once */
} keys[] = {
	[K_ADMIN_GROUP] = { "admin_group", IN_HVD, false },
	[K_AUDIT] = { "audit", IN_HVD, false },
	[K_TRUSTED_KEY] = { "trusted_key", IN_HVD, true },
	[K_GRANTS] = { "grants", IN_HVD, false },
	[K_L_MAX_CLIENTS] = { "max_clients", IN_HVD, false },
	[K_L_MAX_UNAUTH] = { "max_unauthenticated", IN_HVD, false },
	[K_L_HELLO_TIMEOUT] = { "hello_timeout_ms", IN_HVD, false },
	[K_L_MAX_INFLIGHT] = { "max_inflight", IN_HVD, false },
	[K_L_MAX_MESSAGE] = { "max_message", IN_HVD, false },
	[K_L_MAX_FDS] = { "max_fds", IN_HVD, false },
	[K_L_HOST_MAX_VMS] = { "host_max_vms", IN_HVD, false },
	[K_L_HOST_MAX_VCPUS] = { "host_max_vcpus", IN_HVD, false },
	[K_L_CLIENTS_PER_UID] = { "max_clients_per_uid", IN_HVD, false },
	[K_L_UNAUTH_PER_UID] = { "max_unauthenticated_per_uid", IN_HVD, false },
	[K_L_ADMIN_RATE] = { "max_admin_rate", IN_HVD, false },
	[K_L_MAX_EXE_SIZE] = { "max_exe_size", IN_HVD, false },
	[K_MAX_VMS] = { "max_vms", IN_QUOTA, false },
	[K_MAX_VCPUS_PER_VM] = { "max_vcpus_per_vm", IN_QUOTA, false },
	[K_MAX_VCPUS] = { "max_vcpus", IN_QUOTA, false },
	[K_MAX_MEMORY] = { "max_memory", IN_QUOTA, false },
	[K_MAX_MAPPINGS] = { "max_mappings", IN_QUOTA, false },
	[K_MAX_RPC_RATE] = { "max_rpc_rate", IN_QUOTA, false },
	[K_MAX_CPU_PERCENT] = { "max_cpu_percent", IN_QUOTA, false },
	[K_UID] = { "uid", IN_RULE, false },
	[K_USER] = { "user", IN_RULE, false },
	[K_GROUP] = { "group", IN_RULE, false },
	/* Long lists continue on indented lines, which inih hands over as the
	 * same key again. */
	[K_ENTITLEMENTS] = { "entitlements", IN_RULE, true },
	[K_TENANT] = { "tenant", IN_RULE, false },
};

/* Far above any real configuration (a few KiB). */
#define CONFIG_MAX_BYTES (1u << 20)

/* inih's compile-time limit on section names; longer ones it truncates
 * without a word, so the reader refuses them first. */
#define INIH_MAX_SECTION 50

struct load {
	const char *path;
	FILE *f;
	struct hvp_policy *p;
	int lineno;                     /* of the line the reader returned last */
	bool stop;                      /* make the reader report end of file */

	/* Section headers the reader saw that no key has claimed yet: inih
	 * only calls us for keys, so this is how a new or empty section
	 * shows. */
	unsigned pending;
	int pending_line;               /* the first unclaimed header */
	int hdr_line;                   /* the last header */

	enum section sec;
	int sec_line;
	char sec_label[2 * INIH_MAX_SECTION + 8];
	uint32_t sec_keys;              /* keys given in this section */
	struct hvp_quota *quota;        /* [defaults] or [tenant], else NULL */
	unsigned *quota_set;
	bool seen_hvd, seen_defaults;
	unsigned defaults_set;

	char *grants;                   /* resolved once every key is known */
	int grants_line;
	char (*tenant_refs)[HVP_NAME_MAX]; /* per rule, checked at the end */
	int *tenant_ref_lines;

	int err_line;
	char *err;
	size_t errlen;

	hvp_warn_fn warn;               /* NULL: nobody listens */
	void *warn_arg;
};

static int fail(struct load *l, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep the first problem only: later ones may be its consequences. */
static int fail(struct load *l, int line, const char *fmt, ...)
{
	va_list ap;

	if (l->err_line)
		return 0;
	l->err_line = line;
	int n = snprintf(l->err, l->errlen, "%s:%d: ", l->path, line);
	if (n >= 0 && (size_t)n < l->errlen) {
		va_start(ap, fmt);
		vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	l->stop = true;
	return 0;
}

static void warn(struct load *l, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Something the file says that is allowed but most likely not meant. */
static void warn(struct load *l, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!l->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->warn(l->warn_arg, line, msg);
}

/* A '#' after whitespace starts a comment, as at the start of a line: an
 * administrator writes "entitlements = X  # why" and means one
 * entitlement, not X and "#", "why". (inih's own inline comments are ';'
 * only.) No value hvd reads contains " #". */
static void strip_hash_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if (*p == '#' && p > s && (p[-1] == ' ' || p[-1] == '\t')) {
			*p++ = '\n';
			*p = '\0';
			return;
		}
	}
}

/* fgets for inih, which also counts lines (inih does not tell a handler
 * which line it is on unless built with INI_HANDLER_LINENO, and Debian's
 * is not) and notes section headers. */
static char *reader(char *str, int num, void *stream)
{
	struct load *l = stream;
	const char *s = str;

	if (l->stop || !l->f || !fgets(str, num, l->f))
		return NULL;
	l->lineno++;
	size_t n = strlen(str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n') {
		int c = getc(l->f);
		if (c != EOF) {
			fail(l, l->lineno, "line longer than %d characters", num - 3);
			return NULL;
		}
	}
	if (l->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	strip_hash_comment(str);
	if (isspace((unsigned char)*s)) {
		/* inih would take an indented header as the continuation of
		 * the previous value: say so rather than guess. */
		while (*s && isspace((unsigned char)*s))
			s++;
		if (*s == '[') {
			fail(l, l->lineno, "indented section header");
			return NULL;
		}
		return str;
	}
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end) {
			fail(l, l->lineno, "section header without ]");
			return NULL;
		}
		if (end - s - 1 >= INIH_MAX_SECTION) {
			fail(l, l->lineno, "section name longer than %d characters",
			     INIH_MAX_SECTION - 1);
			return NULL;
		}
		if (!l->pending)
			l->pending_line = l->lineno;
		l->pending++;
		l->hdr_line = l->lineno;
	}
	return str;
}

static int tenant_find(const struct hvp_policy *p, const char *name)
{
	for (unsigned i = 0; i < p->ntenants; i++)
		if (strcmp(p->tenants[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int rule_find(const struct hvp_policy *p, const char *name)
{
	for (unsigned i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Start the section whose header the reader saw last: "hvd", "defaults",
 * "tenant NAME" or "rule NAME". */
static int begin_section(struct load *l, const char *raw)
{
	struct hvp_policy *p = l->p;
	char buf[INIH_MAX_SECTION + 1];
	char *type, *name, *end;
	int line = l->hdr_line;

	snprintf(buf, sizeof(buf), "%s", raw);
	type = buf;
	while (isspace((unsigned char)*type))
		type++;
	end = type + strlen(type);
	while (end > type && isspace((unsigned char)end[-1]))
		*--end = '\0';
	name = type;
	while (*name && !isspace((unsigned char)*name))
		name++;
	if (*name) {
		*name++ = '\0';
		while (isspace((unsigned char)*name))
			name++;
	}

	l->sec_line = line;
	l->sec_keys = 0;
	l->quota = NULL;
	l->quota_set = NULL;
	if (strcmp(type, "hvd") == 0 || strcmp(type, "defaults") == 0) {
		bool hvd = type[0] == 'h';
		bool *seen = hvd ? &l->seen_hvd : &l->seen_defaults;
		if (*name)
			return fail(l, line, "section [%s] takes no name", type);
		if (*seen)
			return fail(l, line, "duplicate section [%s]", type);
		*seen = true;
		l->sec = hvd ? SEC_HVD : SEC_DEFAULTS;
		snprintf(l->sec_label, sizeof(l->sec_label), "[%s]", type);
		if (!hvd) {
			l->quota = &p->defaults;
			l->quota_set = &l->defaults_set;
		}
		return 1;
	}
	if (strcmp(type, "tenant") != 0 && strcmp(type, "rule") != 0)
		return fail(l, line, "unknown section [%s] (expected hvd, defaults, "
			    "tenant NAME or rule NAME)", type);
	if (!*name)
		return fail(l, line, "section [%s] needs a name: [%s NAME]", type, type);
	if (!valid_name(name))
		return fail(l, line, "bad %s name '%s' (letters, digits and ._:@+- only)",
			    type, name);
	snprintf(l->sec_label, sizeof(l->sec_label), "[%s %s]", type, name);

	if (type[0] == 't') {
		int i = tenant_find(p, name);
		if (i >= 0)
			return fail(l, line, "duplicate tenant %s (first at line %d)", name,
				    p->tenants[i].line);
		struct hvp__tenant *n = realloc(p->tenants, (p->ntenants + 1) * sizeof(*n));
		if (!n)
			return fail(l, line, "out of memory");
		p->tenants = n;
		n = &p->tenants[p->ntenants++];
		memset(n, 0, sizeof(*n));
		snprintf(n->name, sizeof(n->name), "%s", name);
		n->line = line;
		l->sec = SEC_TENANT;
		l->quota = &n->quota;
		l->quota_set = &n->set;
		return 1;
	}

	int i = rule_find(p, name);
	if (i >= 0)
		return fail(l, line, "duplicate rule %s (first at line %d)", name,
			    p->rules[i].line);
	char (*refs)[HVP_NAME_MAX] = realloc(l->tenant_refs, (p->nrules + 1) * sizeof(*refs));
	if (!refs)
		return fail(l, line, "out of memory");
	l->tenant_refs = refs;
	int *lines = realloc(l->tenant_ref_lines, (p->nrules + 1) * sizeof(*lines));
	if (!lines)
		return fail(l, line, "out of memory");
	l->tenant_ref_lines = lines;
	refs[p->nrules][0] = '\0';
	lines[p->nrules] = 0;
	struct hvp__rule *r = rule_append(p);
	if (!r)
		return fail(l, line, "out of memory");
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->line = line;
	l->sec = SEC_RULE;
	return 1;
}

static int set_quota(struct load *l, enum key_id k, const char *value)
{
	struct hvp_quota *q = l->quota;
	uint64_t v;
	int r;

	if (k == K_MAX_MEMORY)
		r = parse_size(value, &v);
	else if (k == K_MAX_CPU_PERCENT)
		r = hvp__parse_u64(value, HVP_MAX_CPU_PERCENT, &v);
	else
		r = hvp__parse_u64(value, UINT32_MAX, &v);
	if (r == -ERANGE)
		return fail(l, l->lineno, "%s: %s is out of range", keys[k].name, value);
	if (r < 0)
		return fail(l, l->lineno, "%s: bad number '%s'%s", keys[k].name, value,
			    k == K_MAX_MEMORY ? " (bytes, or with a K, M, G or T suffix)" : "");
	switch (k) {
	case K_MAX_VMS: q->max_vms = (uint32_t)v; break;
	case K_MAX_VCPUS_PER_VM: q->max_vcpus_per_vm = (uint32_t)v; break;
	case K_MAX_VCPUS: q->max_vcpus = (uint32_t)v; break;
	case K_MAX_MEMORY: q->max_memory = v; break;
	case K_MAX_MAPPINGS: q->max_mappings = (uint32_t)v; break;
	case K_MAX_RPC_RATE: q->max_rpc_rate = (uint32_t)v; break;
	case K_MAX_CPU_PERCENT: q->max_cpu_percent = (uint32_t)v; break;
	default: break;
	}
	*l->quota_set |= 1u << (k - K_MAX_VMS);
	return 1;
}

static int set_entitlements(struct load *l, struct hvp__rule *rule, const char *value)
{
	char *copy = strdup(value), *save = NULL;

	if (!copy)
		return fail(l, l->lineno, "out of memory");
	for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		int r = hvp__ents_add(&rule->ents, tok);
		if (r == 0 && l->warn && !hvp__ent_known(tok)) {
			const char *near = hvp__ent_suggest(tok);
			if (near)
				warn(l, l->lineno, "unknown entitlement %s in rule %s (hvd "
				     "grants nothing for it); did you mean %s?", tok, rule->name,
				     near);
			else
				warn(l, l->lineno, "unknown entitlement %s in rule %s (hvd "
				     "grants nothing for it; it knows %s)", tok, rule->name,
				     hvp__ent_known_list());
		}
		if (r == -ENAMETOOLONG)
			fail(l, l->lineno, "entitlement name too long: %s", tok);
		else if (r == -E2BIG)
			fail(l, l->lineno, "more than %d unknown entitlements in rule %s",
			     HVP__MAX_UNKNOWN, rule->name);
		if (r < 0)
			break;
	}
	free(copy);
	return !l->err_line;
}

const struct hvp_limits *hvp_limits(const struct hvp_policy *p)
{
	return &p->limits;
}

static int set_limit(struct load *l, enum key_id k, const char *value)
{
	struct hvp_limits *lim = &l->p->limits;
	uint64_t max = k == K_L_MAX_MESSAGE ? 8192 : k == K_L_MAX_FDS ? 1 :
		       k == K_L_MAX_EXE_SIZE ? UINT64_MAX : UINT32_MAX;
	uint64_t v;
	int r = k == K_L_MAX_EXE_SIZE ? parse_size(value, &v) : hvp__parse_u64(value, max, &v);
	if (r == -ERANGE)
		return fail(l, l->lineno, "%s: %s is out of range (at most %llu)", keys[k].name,
			    value, (unsigned long long)max);
	if (r < 0)
		return fail(l, l->lineno, "%s: bad number '%s'", keys[k].name, value);
	if (k == K_L_MAX_MESSAGE && v < 256)
		return fail(l, l->lineno, "max_message: %s is too small for the protocol "
			    "(at least 256)", value);
	switch (k) {
	case K_L_MAX_CLIENTS: lim->max_clients = (uint32_t)v; break;
	case K_L_MAX_UNAUTH: lim->max_unauthenticated = (uint32_t)v; break;
	case K_L_HELLO_TIMEOUT: lim->hello_timeout_ms = (uint32_t)v; break;
	case K_L_MAX_INFLIGHT: lim->max_inflight = (uint32_t)v; break;
	case K_L_MAX_MESSAGE: lim->max_message = (uint32_t)v; break;
	case K_L_MAX_FDS: lim->max_fds = (uint32_t)v; break;
	case K_L_HOST_MAX_VMS: lim->host_max_vms = (uint32_t)v; break;
	case K_L_HOST_MAX_VCPUS: lim->host_max_vcpus = (uint32_t)v; break;
	case K_L_CLIENTS_PER_UID: lim->max_clients_per_uid = (uint32_t)v; break;
	case K_L_UNAUTH_PER_UID: lim->max_unauthenticated_per_uid = (uint32_t)v; break;
	case K_L_ADMIN_RATE: lim->max_admin_rate = (uint32_t)v; break;
	case K_L_MAX_EXE_SIZE: lim->max_exe_size = v; break;
	default: break;
	}
	return 1;
}

static int set_hvd(struct load *l, enum key_id k, const char *value)
{
	struct hvp_policy *p = l->p;
	int r;

	if (k >= K_L_MAX_CLIENTS && k <= K_L_MAX_EXE_SIZE)
		return set_limit(l, k, value);
	switch (k) {
	case K_ADMIN_GROUP:
		r = hvp__lookup_group(value, &p->admin_gid);
		if (r == -ENOENT)
			return fail(l, l->lineno, "admin_group: unknown group %s", value);
		if (r < 0)
			return fail(l, l->lineno, "admin_group %s: %s", value, strerror(-r));
		p->has_admin_group = true;
		return 1;
	case K_AUDIT: {
		char *a = strdup(value);
		if (!a)
			return fail(l, l->lineno, "out of memory");
		free(p->audit);
		p->audit = a;
		p->audit_line = l->lineno;
		return 1;
	}
	case K_TRUSTED_KEY: {
		uint8_t key[32];
		size_t n = 0;
		const char *end = NULL;
		if (sodium_hex2bin(key, sizeof(key), value, strlen(value), NULL, &n, &end) != 0 ||
		    n != sizeof(key) || *end)
			return fail(l, l->lineno, "trusted_key: expected 64 hex digits "
				    "(an Ed25519 public key)");
		uint8_t (*nk)[32] = realloc(p->keys, (p->nkeys + 1) * sizeof(*nk));
		if (!nk)
			return fail(l, l->lineno, "out of memory");
		p->keys = nk;
		memcpy(p->keys[p->nkeys++], key, sizeof(key));
		return 1;
	}
	case K_GRANTS:
		free(l->grants);
		l->grants = strdup(value);
		l->grants_line = l->lineno;
		if (!l->grants)
			return fail(l, l->lineno, "out of memory");
		return 1;
	default:
		return 1;
	}
}

static int set_rule(struct load *l, enum key_id k, const char *value)
{
	struct hvp__rule *rule = &l->p->rules[l->p->nrules - 1];
	uint64_t v;
	int r;

	switch (k) {
	case K_UID:
	case K_USER:
		if (rule->has_uid)
			return fail(l, l->lineno, "rule %s: uid and user both given", rule->name);
		if (k == K_UID) {
			r = hvp__parse_u64(value, (uid_t)-2, &v);
			if (r < 0)
				return fail(l, l->lineno, "uid: bad number '%s'", value);
			rule->uid = (uid_t)v;
		} else {
			r = hvp__lookup_user(value, &rule->uid);
			if (r == -ENOENT)
				return fail(l, l->lineno, "user: unknown user %s", value);
			if (r < 0)
				return fail(l, l->lineno, "user %s: %s", value, strerror(-r));
		}
		rule->has_uid = true;
		return 1;
	case K_GROUP:
		r = hvp__lookup_group(value, &rule->gid);
		if (r == -ENOENT)
			return fail(l, l->lineno, "group: unknown group %s", value);
		if (r < 0)
			return fail(l, l->lineno, "group %s: %s", value, strerror(-r));
		rule->has_group = true;
		return 1;
	case K_ENTITLEMENTS:
		return set_entitlements(l, rule, value);
	case K_TENANT:
		if (!valid_name(value))
			return fail(l, l->lineno, "tenant: bad name '%s'", value);
		/* [tenant] sections may come later in the file. */
		snprintf(l->tenant_refs[l->p->nrules - 1], HVP_NAME_MAX, "%s", value);
		l->tenant_ref_lines[l->p->nrules - 1] = l->lineno;
		return 1;
	default:
		return 1;
	}
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct load *l = user;
	int k;

	if (l->err_line)
		return 0;
	if (l->pending) {
		if (l->pending > 1)
			return fail(l, l->pending_line, "section has no keys");
		l->pending = 0;
		if (!begin_section(l, section))
			return 0;
	}
	if (l->sec == SEC_NONE)
		return fail(l, l->lineno, "key %s outside any section", name);

	for (k = 0; k < (int)(sizeof(keys) / sizeof(keys[0])); k++)
		if (strcmp(name, keys[k].name) == 0 && (keys[k].in & (1u << l->sec)))
			break;
	if (k == (int)(sizeof(keys) / sizeof(keys[0])))
		return fail(l, l->lineno, "unknown key %s in %s", name, l->sec_label);
	if ((l->sec_keys & (1u << k)) && !keys[k].repeat)
		return fail(l, l->lineno, "%s given twice in %s", name, l->sec_label);
	l->sec_keys |= 1u << k;
	if (!*value && k != K_ENTITLEMENTS)
		return fail(l, l->lineno, "%s: empty value", name);

	switch (l->sec) {
	case SEC_HVD:
		return set_hvd(l, (enum key_id)k, value);
	case SEC_DEFAULTS:
	case SEC_TENANT:
		return set_quota(l, (enum key_id)k, value);
	case SEC_RULE:
		return set_rule(l, (enum key_id)k, value);
	default:
		return 0;
	}
}

/* Fill what a section left out: [defaults] over the built-in quota, each
 * [tenant] over the defaults. */
static void merge_quota(struct hvp_quota *q, unsigned set, const struct hvp_quota *base)
{
	struct hvp_quota given = *q;

	*q = *base;
	if (set & (1u << (K_MAX_VMS - K_MAX_VMS)))
		q->max_vms = given.max_vms;
	if (set & (1u << (K_MAX_VCPUS_PER_VM - K_MAX_VMS)))
		q->max_vcpus_per_vm = given.max_vcpus_per_vm;
	if (set & (1u << (K_MAX_VCPUS - K_MAX_VMS)))
		q->max_vcpus = given.max_vcpus;
	if (set & (1u << (K_MAX_MEMORY - K_MAX_VMS)))
		q->max_memory = given.max_memory;
	if (set & (1u << (K_MAX_MAPPINGS - K_MAX_VMS)))
		q->max_mappings = given.max_mappings;
	if (set & (1u << (K_MAX_RPC_RATE - K_MAX_VMS)))
		q->max_rpc_rate = given.max_rpc_rate;
	if (set & (1u << (K_MAX_CPU_PERCENT - K_MAX_VMS)))
		q->max_cpu_percent = given.max_cpu_percent;
}

/* What can only be checked once the whole file is read. */
static int finish(struct load *l)
{
	struct hvp_policy *p = l->p;
	char why[512];

	if (l->pending)
		return fail(l, l->pending_line, "section has no keys");
	for (unsigned i = 0; i < p->nrules; i++) {
		struct hvp__rule *r = &p->rules[i];
		if (!r->has_uid && !r->has_group)
			return fail(l, r->line, "rule %s has no uid, user or group: it "
				    "would match nobody", r->name);
		if (!r->ents.bits && !r->ents.nunknown)
			warn(l, r->line, "rule %s grants no entitlements (no entitlements "
			     "key, or an empty one)", r->name);
		if (l->tenant_refs[i][0]) {
			r->tenant = tenant_find(p, l->tenant_refs[i]);
			if (r->tenant < 0)
				return fail(l, l->tenant_ref_lines[i], "unknown tenant %s "
					    "(no [tenant %s] section)", l->tenant_refs[i],
					    l->tenant_refs[i]);
		}
	}
	merge_quota(&p->defaults, l->defaults_set, &builtin_quota);
	for (unsigned i = 0; i < p->ntenants; i++)
		merge_quota(&p->tenants[i].quota, p->tenants[i].set, &p->defaults);

	if (l->grants) {
		/* A relative directory is relative to the file that names it,
		 * not to wherever hvd happened to start. */
		char *dir = l->grants;
		char *owned = NULL;
		const char *slash = strrchr(l->path, '/');
		if (dir[0] != '/' && slash) {
			if (asprintf(&owned, "%.*s/%s", (int)(slash - l->path), l->path, dir) < 0)
				return fail(l, l->grants_line, "out of memory");
			dir = owned;
		}
		int r = hvp__grants_load(p, dir, why, sizeof(why));
		free(owned);
		if (r < 0)
			return fail(l, l->grants_line, "grants: %s", why);
	}
	/* Valid, and useless: with a configuration only its rules and grants
	 * give rights, so hvd would refuse every client. */
	if (!p->nrules && !p->ngrants)
		warn(l, 0, "no [rule] sections%s: hvd would let nobody in, not even root",
		     l->grants ? " and no valid grants" : " and no grants");
	return 1;
}

int hvp_policy_load(const char *path, uid_t self_uid, struct hvp_policy **out,
		    char *err, size_t errlen)
{
	return hvp_policy_load_warn(path, self_uid, NULL, NULL, out, err, errlen);
}

int hvp_policy_load_warn(const char *path, uid_t self_uid, hvp_warn_fn warn_fn,
			 void *warn_arg, struct hvp_policy **out, char *err, size_t errlen)
{
	struct load l = { .path = path, .err = err, .errlen = errlen, .warn = warn_fn,
			  .warn_arg = warn_arg };
	struct stat st;
	char *text = NULL;
	size_t tlen = 0;
	int fd, r;

	/* With a configuration, rights come from its rules and grants only,
	 * so that what the file says is all there is; hvd's own uid gets
	 * nothing by being hvd's. */
	(void)self_uid;
	if (errlen)
		err[0] = '\0';
	if (sodium_init() < 0) {
		snprintf(err, errlen, "%s: libsodium failed to initialise", path);
		return -EIO;
	}
	/* Not blocking on a FIFO (hvd would hang at start), and a directory
	 * said to be one: fopen would take it and fail at the first read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" :
			 "not a regular file");
		close(fd);
		return r;
	}
	/* Read whole (bounded) and parsed from memory: stdio's fdopen would
	 * ask fcntl, which hvd's loop thread may not (hvd_sandbox.c) when a
	 * reload runs there. */
	if ((uint64_t)st.st_size > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes: not a configuration file", path,
			 CONFIG_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	text = malloc(CONFIG_MAX_BYTES + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (tlen <= CONFIG_MAX_BYTES) {
		ssize_t n = read(fd, text + tlen, CONFIG_MAX_BYTES + 1 - tlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			free(text);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		tlen += (size_t)n;
	}
	close(fd);
	if (tlen > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes: not a configuration file", path,
			 CONFIG_MAX_BYTES);
		free(text);
		return -EFBIG;
	}
	/* An empty file has nothing to read (and fmemopen takes no empty
	 * buffer). */
	if (tlen) {
		l.f = fmemopen(text, tlen, "r");
		if (!l.f) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			free(text);
			return r;
		}
	}
	l.p = policy_new();
	if (!l.p) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_close;
	}

	r = ini_parse_stream(reader, &l, handler, &l);
	if (r < 0) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_free;
	}
	if (l.f && ferror(l.f) && !l.err_line)
		fail(&l, l.lineno + 1, "read error");
	/* inih's own complaints (a line that is neither a key nor a header)
	 * come as the line number of the first; ours may be earlier. */
	if (r > 0 && (!l.err_line || r < l.err_line)) {
		l.err_line = 0;
		fail(&l, r, "syntax error: expected \"key = value\" or \"[section]\"");
	}
	if (!l.err_line)
		finish(&l);
	if (l.err_line) {
		r = -EINVAL;
		goto out_free;
	}
	*out = l.p;
	l.p = NULL;
	r = 0;

out_free:
	hvp_policy_free(l.p);
	free(l.grants);
	free(l.tenant_refs);
	free(l.tenant_ref_lines);
out_close:
	if (l.f)
		fclose(l.f);
	free(text);
	return r;
}
