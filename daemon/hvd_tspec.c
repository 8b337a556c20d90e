/*
 * What a tenant object is, as data: the checks every tenant passes
 * (hvctl's add and set, and the state file read back at start) and its
 * JSON form in tenants.json. Pure functions, no daemon state: hvd links
 * it, and so does the state file's fuzz harness (tests/fuzz).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hvd_tspec.h"

const struct hvd_tspec_qfield hvd_tspec_qfields[] = {
	{ "max_vms", UINT32_MAX },
	{ "max_vcpus_per_vm", UINT32_MAX },
	{ "max_vcpus", UINT32_MAX },
	{ "max_memory", UINT64_MAX },
	{ "max_mappings", UINT32_MAX },
	{ "max_rpc_rate", UINT32_MAX },
	{ "max_cpu_percent", HVP_MAX_CPU_PERCENT },
};

uint64_t hvd_tspec_qget(const struct hvp_quota *q, unsigned i)
{
	switch (i) {
	case 0: return q->max_vms;
	case 1: return q->max_vcpus_per_vm;
	case 2: return q->max_vcpus;
	case 3: return q->max_memory;
	case 4: return q->max_mappings;
	case 5: return q->max_rpc_rate;
	default: return q->max_cpu_percent;
	}
}

void hvd_tspec_qput(struct hvp_quota *q, unsigned i, uint64_t v)
{
	switch (i) {
	case 0: q->max_vms = (uint32_t)v; break;
	case 1: q->max_vcpus_per_vm = (uint32_t)v; break;
	case 2: q->max_vcpus = (uint32_t)v; break;
	case 3: q->max_memory = v; break;
	case 4: q->max_mappings = (uint32_t)v; break;
	case 5: q->max_rpc_rate = (uint32_t)v; break;
	default: q->max_cpu_percent = (uint32_t)v; break;
	}
}


/* ---- entitlements: only those hvd knows (it cannot grant others) ---- */

static const struct {
	const char *name;
	uint32_t bit;
} ents[HVD_TSPEC_NENTS] = {
	{ HVP_ENT_HYPERVISOR, HVP_HYPERVISOR },
	{ HVP_ENT_NETWORKING, HVP_NETWORKING },
	{ HVP_ENT_DEVICE_ACCESS, HVP_DEVICE_ACCESS },
};

int hvd_tspec_ent_bit(const char *name, uint32_t *bit)
{
	for (unsigned i = 0; i < HVD_TSPEC_NENTS; i++) {
		if (strcmp(name, ents[i].name) == 0) {
			*bit = ents[i].bit;
			return 0;
		}
	}
	return -EINVAL;
}

const char *hvd_tspec_ent_name(unsigned i, uint32_t *bit)
{
	*bit = ents[i].bit;
	return ents[i].name;
}

void hvd_tspec_ents_str(uint32_t bits, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < HVD_TSPEC_NENTS; i++)
		if (bits & ents[i].bit)
			o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? ", " : "",
					      ents[i].name);
	if (!buf[0])
		snprintf(buf, len, "no entitlement");
}

/* ---- checks: an `add`, a `set` and the state file all pass these ---- */

static bool name_ok(const char *n, char *why, size_t len)
{
	size_t l = strlen(n);
	if (l == 0 || l >= HVP_NAME_MAX) {
		snprintf(why, len, "a tenant name has 1 to %d characters", HVP_NAME_MAX - 1);
		return false;
	}
	/* The policy's name characters, without ':' (which its own
	 * "uid:N" and "group:N" tenants use). */
	for (const char *p = n; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._@+-", *p))) {
			snprintf(why, len, "tenant names use letters, digits and ._@+- only");
			return false;
		}
	}
	return true;
}

/* The path's form only; the file system is looked at when binding. */
static bool path_form_ok(const char *p, char *why, size_t len)
{
	size_t l = strlen(p);
	if (p[0] != '/' || l >= HVD_TSPEC_PATH_MAX || p[l - 1] == '/') {
		snprintf(why, len, "a tenant socket is an absolute path of at most %d bytes, "
			 "not ending in /", HVD_TSPEC_PATH_MAX - 1);
		return false;
	}
	if (strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../") ||
	    (l >= 2 && strcmp(p + l - 2, "/.") == 0) || (l >= 3 && strcmp(p + l - 3, "/..") == 0)) {
		snprintf(why, len, "a tenant socket path has no empty, . or .. parts");
		return false;
	}
	return true;
}

bool hvd_tspec_ok(const struct hvd_tspec *t, char *why, size_t len)
{
	if (!name_ok(t->name, why, len))
		return false;
	if (t->socket[0] && !path_form_ok(t->socket, why, len))
		return false;
	if (t->mode & ~0777u) {
		snprintf(why, len, "socket mode %o: permission bits only (at most 0777)", t->mode);
		return false;
	}
	for (unsigned i = 0; i < t->nuids; i++)
		if (t->uids[i] == (uid_t)-1) {
			snprintf(why, len, "uid %u is not a uid", (unsigned)t->uids[i]);
			return false;
		}
	for (unsigned i = 0; i < t->ngids; i++)
		if (t->gids[i] == (gid_t)-1) {
			snprintf(why, len, "gid %u is not a gid", (unsigned)t->gids[i]);
			return false;
		}
	for (unsigned i = 0; i < HVD_TSPEC_NQ; i++)
		if ((t->quota_set & (1u << i)) && hvd_tspec_qget(&t->quota, i) > hvd_tspec_qfields[i].max) {
			snprintf(why, len, "%s: at most %llu", hvd_tspec_qfields[i].key,
				 (unsigned long long)hvd_tspec_qfields[i].max);
			return false;
		}
	if (t->quota_set & ~((1u << HVD_TSPEC_NQ) - 1)) {
		snprintf(why, len, "unknown quota field");
		return false;
	}
	return true;
}

json_object *hvd_tspec_to_json(const struct hvd_tspec *t)
{
	json_object *o = json_object_new_object(), *a;
	json_object_object_add(o, "name", json_object_new_string(t->name));
	if (t->socket[0]) {
		json_object_object_add(o, "socket", json_object_new_string(t->socket));
		json_object_object_add(o, "socket_mode", json_object_new_int64(t->mode));
	}
	a = json_object_new_array();
	for (unsigned i = 0; i < t->nuids; i++)
		json_object_array_add(a, json_object_new_int64(t->uids[i]));
	json_object_object_add(o, "uids", a);
	a = json_object_new_array();
	for (unsigned i = 0; i < t->ngids; i++)
		json_object_array_add(a, json_object_new_int64(t->gids[i]));
	json_object_object_add(o, "gids", a);
	a = json_object_new_array();
	for (unsigned i = 0; i < HVD_TSPEC_NENTS; i++)
		if (t->ents & ents[i].bit)
			json_object_array_add(a, json_object_new_string(ents[i].name));
	json_object_object_add(o, "entitlements", a);
	json_object *q = json_object_new_object();
	for (unsigned i = 0; i < HVD_TSPEC_NQ; i++)
		if (t->quota_set & (1u << i))
			json_object_object_add(q, hvd_tspec_qfields[i].key,
					       json_object_new_uint64(hvd_tspec_qget(&t->quota, i)));
	json_object_object_add(o, "quota", q);
	return o;
}

/* A whole number in [0, max] from a JSON member. */
static bool json_uint(json_object *v, uint64_t max, uint64_t *out)
{
	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	/* json-c keeps large values unsigned; a negative one reads as 0
	 * through get_uint64, so look at the signed value too. */
	if (json_object_get_int64(v) < 0 && json_object_get_uint64(v) <= INT64_MAX)
		return false;
	uint64_t u = json_object_get_uint64(v);
	if (u > max)
		return false;
	*out = u;
	return true;
}

bool hvd_tspec_from_json(json_object *o, struct hvd_tspec *t, char *why, size_t len)
{
	json_object *v;
	uint64_t u;

	memset(t, 0, sizeof(*t));
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(why, len, "not an object");
		return false;
	}
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "name") && strcmp(key, "socket") && strcmp(key, "socket_mode") &&
		    strcmp(key, "uids") && strcmp(key, "gids") && strcmp(key, "entitlements") &&
		    strcmp(key, "quota")) {
			snprintf(why, len, "unknown key \"%.40s\"", key);
			return false;
		}
	}
	if (!json_object_object_get_ex(o, "name", &v) || !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= sizeof(t->name)) {
		snprintf(why, len, "no name, or one too long");
		return false;
	}
	memcpy(t->name, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	if (json_object_object_get_ex(o, "socket", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    (size_t)json_object_get_string_len(v) >= sizeof(t->socket) ||
		    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
			snprintf(why, len, "socket: not a path");
			return false;
		}
		memcpy(t->socket, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		if (!json_object_object_get_ex(o, "socket_mode", &v) || !json_uint(v, 0777, &u)) {
			snprintf(why, len, "socket_mode: missing or not in 0..0777");
			return false;
		}
		t->mode = (unsigned)u;
	}
	static const char *const lists[] = { "uids", "gids" };
	for (unsigned l = 0; l < 2; l++) {
		if (!json_object_object_get_ex(o, lists[l], &v))
			continue;
		if (!json_object_is_type(v, json_type_array) ||
		    json_object_array_length(v) > HVD_TSPEC_MAX_IDS) {
			snprintf(why, len, "%s: not a list of at most %d numbers", lists[l],
				 HVD_TSPEC_MAX_IDS);
			return false;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (!json_uint(json_object_array_get_idx(v, i), UINT32_MAX - 1, &u)) {
				snprintf(why, len, "%s: not a list of ids", lists[l]);
				return false;
			}
			if (l == 0)
				t->uids[t->nuids++] = (uid_t)u;
			else
				t->gids[t->ngids++] = (gid_t)u;
		}
	}
	if (json_object_object_get_ex(o, "entitlements", &v)) {
		if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > HVD_TSPEC_NENTS) {
			snprintf(why, len, "entitlements: not a list of names");
			return false;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *e = json_object_array_get_idx(v, i);
			uint32_t bit;
			if (!json_object_is_type(e, json_type_string) ||
			    hvd_tspec_ent_bit(json_object_get_string(e), &bit) < 0) {
				snprintf(why, len, "entitlements: %.80s is not one hvd knows",
					 json_object_get_string(e));
				return false;
			}
			t->ents |= bit;
		}
	}
	if (json_object_object_get_ex(o, "quota", &v)) {
		if (!json_object_is_type(v, json_type_object)) {
			snprintf(why, len, "quota: not an object");
			return false;
		}
		json_object_object_foreach(v, qk, qv) {
			unsigned i;
			for (i = 0; i < HVD_TSPEC_NQ && strcmp(qk, hvd_tspec_qfields[i].key); i++)
				;
			if (i == HVD_TSPEC_NQ || !json_uint(qv, hvd_tspec_qfields[i].max, &u)) {
				snprintf(why, len, "quota: %.40s: unknown, or out of range", qk);
				return false;
			}
			hvd_tspec_qput(&t->quota, i, u);
			t->quota_set |= 1u << i;
		}
	}
	return hvd_tspec_ok(t, why, len);
}


json_object *hvd_tspec_parse_state(const char *buf, size_t n, json_object **list)
{
	json_object *top = NULL, *ver;

	*list = NULL;
	if (n > INT32_MAX)
		return NULL;
	/* Depth 8: the file's form is 4 deep; json-c's default (32) would
	 * let a file make hvd recurse for nothing. */
	json_tokener *tok = json_tokener_new_ex(8);
	if (!tok)
		return NULL;
	top = json_tokener_parse_ex(tok, buf, (int)n);
	bool whole = json_tokener_get_error(tok) == json_tokener_success;
	/* Then only white space (hvd ends the file with a newline). */
	for (size_t i = whole ? json_tokener_get_parse_end(tok) : n; i < n; i++)
		whole = whole && strchr(" \t\r\n", buf[i]) && buf[i];
	json_tokener_free(tok);
	if (!whole || !json_object_is_type(top, json_type_object) ||
	    !json_object_object_get_ex(top, "version", &ver) ||
	    !json_object_is_type(ver, json_type_int) || json_object_get_int64(ver) != 1 ||
	    !json_object_object_get_ex(top, "tenants", list) ||
	    !json_object_is_type(*list, json_type_array)) {
		json_object_put(top);
		*list = NULL;
		return NULL;
	}
	return top;
}
