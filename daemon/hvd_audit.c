/*
 * The audit log: one JSON line per decision, with who asked (session,
 * pid, uid, gid, executable and its hash, tenant), what, the decision and
 * why. Written to the destination the policy names (hvd_policy.c opens it).
 * And log lines about a session, with its identity as journal fields.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hvd.h"
#include "hvd_audit.h"

void hvd_audit(struct hvd_session *s, const char *request, const char *decision,
	       const char *reason)
{
	struct hvd_daemon *d = s->d;
	struct timespec ts;
	struct tm tm;
	char stamp[40];

	if (!d->audit)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ldZ",
		 ts.tv_nsec / 1000000);

	json_object *o = json_object_new_object();
	json_object_object_add(o, "time", json_object_new_string(stamp));
	json_object_object_add(o, "session", json_object_new_int64((int64_t)s->id));
	json_object_object_add(o, "pid", json_object_new_int(s->pid));
	json_object_object_add(o, "uid", json_object_new_int64(s->uid));
	json_object_object_add(o, "gid", json_object_new_int64(s->gid));
	json_object_object_add(o, "exe", json_object_new_string(s->ident.exe));
	if (s->ident.exe_hash_valid) {
		char hex[2 * HVP_HASH_BYTES + 1];
		for (int i = 0; i < HVP_HASH_BYTES; i++)
			snprintf(hex + 2 * i, 3, "%02x", s->ident.exe_hash[i]);
		json_object_object_add(o, "exe_blake2b", json_object_new_string(hex));
	}
	json_object_object_add(o, "tenant", json_object_new_string(s->grant.tenant));
	json_object_object_add(o, "request", json_object_new_string(request));
	json_object_object_add(o, "decision", json_object_new_string(decision));
	json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
	fprintf(d->audit, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(d->audit);
	json_object_put(o);
}

void hvd_slog(enum hvd_log_level level, const struct hvd_session *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if ((int)level > (int)hvd_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct hvd_log_ctx ctx = {
		.session = s->id,
		.pid = s->pid,
		.tenant = s->grant.tenant[0] ? s->grant.tenant : NULL,
		.vm = hvd_session_has_vm(s) ? s->id : 0,
	};
	hvd_logc(level, &ctx, "%s", msg);
}
