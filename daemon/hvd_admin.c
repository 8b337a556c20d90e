/*
 * Admin requests for hvctl. Administrators (root, the admin group) see and
 * act on everything; anyone else sees only its own tenant's VMs and
 * clients, and may kill only those. Replies are built in memory owned by
 * the response and freed by hvd_admin_reply_free after sending.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>


#include "hvs_errmap.h"
#include "hvd.h"
#include "hvd_admin.h"
#include "hvd_audit.h"
#include "hvd_ident.h"
#include "hvd_log.h"
#include "hvd_policy.h"
#include "hvd_session.h"
#include "hvd_tenant.h"
#include "hvd_time.h"
#include "hvd_vcpu.h"
#include "hvd_worker.h"

#ifndef HVD_VERSION
#define HVD_VERSION "0.0.0"
#endif

static bool can_see(const struct hvd_session *who, const struct hvd_session *s)
{
	return who->admin || strcmp(who->grant.tenant, s->grant.tenant) == 0;
}

static char *dupstr(const char *s)
{
	return strdup(s ? s : "");
}

/* ---- VM descriptions ---- */

static uint64_t session_exits(const struct hvd_session *s)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		if (s->vcpus[i])
			n += atomic_load(&s->vcpus[i]->runs);
	return n;
}

static unsigned session_vcpus(const struct hvd_session *s)
{
	unsigned n = (unsigned)__builtin_popcountll(s->remote_vcpus);
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		n += s->vcpus[i] && !atomic_load(&s->vcpus[i]->exited);
	return n;
}

static Hvdp__VmInfo *vm_info(const struct hvd_session *s, bool detail)
{
	Hvdp__VmInfo *vi = calloc(1, sizeof(*vi));
	if (!vi)
		return NULL;
	hvdp__vm_info__init(vi);
	vi->id = s->id;
	vi->tenant = dupstr(s->grant.tenant);
	vi->pid = s->pid;
	vi->uid = s->uid;
	vi->exe = dupstr(s->ident.exe);
	vi->vcpus = session_vcpus(s);
	vi->memory = s->mem_bytes;
	vi->age_ms = hvd_now_ms() - s->vm_created_ms;
	vi->exits = session_exits(s);
	vi->worker_pid = hvd_worker_pid(s);
	if (s->worker) {
		hvd_worker_counters(s, &vi->exits, &vi->cpu_ns, &vi->exit_rate);
		return vi; /* the details are the worker's (hvd_worker_show) */
	}
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		if (s->vcpus[i] && !atomic_load(&s->vcpus[i]->exited))
			vi->cpu_ns += hvd_vcpu_cpu_ns(s->vcpus[i]);
	if (!detail)
		return vi;

	vi->vcpu = calloc(HVB_MAX_VCPUS, sizeof(*vi->vcpu));
	for (unsigned i = 0; vi->vcpu && i < HVB_MAX_VCPUS; i++) {
		struct hvd_vcpu *v = s->vcpus[i];
		if (!v || atomic_load(&v->exited))
			continue;
		Hvdp__VcpuInfo *ci = calloc(1, sizeof(*ci));
		if (!ci)
			break;
		hvdp__vcpu_info__init(ci);
		ci->id = v->id;
		ci->runs = atomic_load(&v->runs);
		ci->last_exit = atomic_load(&v->last_exit);
		/* Guest time is the vCPU thread's own counter, read
		 * atomically while the thread updates it; under the lock,
		 * since the thread may be destroying the vCPU (as in
		 * hvd_vcpu_kick). */
		ci->exec_ns = 0;
		pthread_mutex_lock(&v->lock);
		if (v->vcpu)
			s->d->be->vcpu_exec_time(v->vcpu, &ci->exec_ns);
		pthread_mutex_unlock(&v->lock);
		ci->throttled_ns = atomic_load(&v->throttled_ns);
		ci->tid = atomic_load(&v->tid);
		ci->cpu_ns = hvd_vcpu_cpu_ns(v);
		ci->exits = calloc(72, sizeof(*ci->exits));
		for (unsigned r = 0; ci->exits && r < 72; r++) {
			uint64_t n = atomic_load(&v->exits[r]);
			if (!n)
				continue;
			Hvdp__ExitCount *ec = calloc(1, sizeof(*ec));
			if (!ec)
				break;
			hvdp__exit_count__init(ec);
			ec->reason = r;
			ec->count = n;
			ci->exits[ci->n_exits++] = ec;
		}
		vi->vcpu[vi->n_vcpu++] = ci;
	}
	/* A memory change in flight holds the VM's lock for as long as KVM
	 * takes (seconds on a loaded host): the loop thread does not wait
	 * for it, and says so instead of listing the maps. */
	vi->maps_changing = s->memop != NULL;
	if (s->vm && !s->memop) {
		struct hvb_map_info maps[256];
		size_t n = s->d->be->vm_maps(s->vm, maps, 256);
		if (n > 256)
			n = 256;
		vi->maps = calloc(n ? n : 1, sizeof(*vi->maps));
		for (size_t i = 0; vi->maps && i < n; i++) {
			Hvdp__MapInfo *mi = calloc(1, sizeof(*mi));
			if (!mi)
				break;
			hvdp__map_info__init(mi);
			mi->gpa = maps[i].gpa;
			mi->size = maps[i].size;
			mi->flags = maps[i].flags;
			vi->maps[vi->n_maps++] = mi;
		}
	}
	return vi;
}

static void vm_info_free(Hvdp__VmInfo *vi)
{
	if (!vi)
		return;
	free(vi->tenant);
	free(vi->exe);
	for (size_t i = 0; i < vi->n_vcpu; i++) {
		for (size_t k = 0; k < vi->vcpu[i]->n_exits; k++)
			free(vi->vcpu[i]->exits[k]);
		free(vi->vcpu[i]->exits);
		free(vi->vcpu[i]);
	}
	free(vi->vcpu);
	for (size_t i = 0; i < vi->n_maps; i++)
		free(vi->maps[i]);
	free(vi->maps);
	free(vi);
}

static struct hvd_session *find_vm(struct hvd_daemon *d, uint64_t id)
{
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		if (s->id == id && hvd_session_has_vm(s) && !s->closing)
			return s;
	return NULL;
}

/* ---- handlers ---- */

int hvd_admin_status(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_daemon *d = s->d;
	const struct hvb_host_info *hi = s->d->be->host_info(d->host);
	Hvdp__StatusReply *st = calloc(1, sizeof(*st));
	(void)req; (void)fd;

	if (!st) {
		resp->status = HV_NO_RESOURCES;
		return -1;
	}
	hvdp__status_reply__init(st);
	st->version = dupstr(HVD_VERSION);
	st->protocol = HVD_PROTOCOL_VERSION;
	st->uptime_ms = hvd_now_ms() - d->start_ms;
	st->kvm_api = hi->api_version;
	st->out_rip_after = hi->out_rip_after;
	st->tsc_writable = hi->tsc_writable;
	st->hw_breakpoints = hi->hw_breakpoints;
	st->max_vcpus = hi->max_vcpus;
	st->arch = HVD_ARCH;
	struct hvb_a64_host a64;
	if (d->be->arm64 && d->be->arm64->host_query(d->host, &a64) == 0) {
		st->ipa_max = a64.ipa_max;
		st->smccc_filter = a64.smccc_filter;
		st->counter_offset = a64.counter_offset;
	}
	for (struct hvd_session *o = d->sessions; o; o = o->next) {
		if (o->closing || !can_see(s, o))
			continue;
		st->clients++;
		if (hvd_session_has_vm(o)) {
			st->vms++;
			st->vcpus += session_vcpus(o);
			st->guest_memory += o->mem_bytes;
		}
	}
	st->policy_source = dupstr(d->config_path ? d->config_path : "built-in default");
	hvp_grant_counts(d->policy, &st->grants_loaded, &st->grants_rejected);
	const struct hvp_limits *lim = hvp_limits(d->policy);
	st->max_clients = lim->max_clients;
	st->max_unauthenticated = lim->max_unauthenticated;
	st->hello_timeout_ms = lim->hello_timeout_ms;
	st->max_inflight = lim->max_inflight;
	st->max_message = lim->max_message;
	st->max_fds = lim->max_fds;
	st->host_max_vms = lim->host_max_vms;
	st->host_max_vcpus = lim->host_max_vcpus;
	if (s->admin) {
		/* Host-wide, so an administrator's: a tenant's own refusals
		 * are in the audit log. */
		const struct hvd_metrics *m = &d->metrics;
		st->refused_deny = m->refused[HVD_REFUSED_DENY];
		st->refused_quota = m->refused[HVD_REFUSED_QUOTA];
		st->refused_rate = m->refused[HVD_REFUSED_RATE];
		st->rpc_bucket_le = calloc(HVD_RPC_BUCKETS, sizeof(double));
		st->rpc_buckets = calloc(HVD_RPC_BUCKETS + 1, sizeof(uint64_t));
		if (st->rpc_bucket_le && st->rpc_buckets) {
			memcpy(st->rpc_bucket_le, hvd_rpc_bucket_le, sizeof(hvd_rpc_bucket_le));
			memcpy(st->rpc_buckets, m->rpc_bucket, sizeof(m->rpc_bucket));
			st->n_rpc_bucket_le = HVD_RPC_BUCKETS;
			st->n_rpc_buckets = HVD_RPC_BUCKETS + 1;
		}
		st->rpc_sum_ns = m->rpc_sum_ns;
		st->rpc_count = m->rpc_count;
		st->exit_bucket_le = calloc(HVD_EXIT_BUCKETS, sizeof(double));
		st->exit_buckets = calloc(HVD_EXIT_BUCKETS + 1, sizeof(uint64_t));
		if (st->exit_bucket_le && st->exit_buckets) {
			memcpy(st->exit_bucket_le, hvd_exit_bucket_le, sizeof(hvd_exit_bucket_le));
			for (struct hvd_session *o = d->sessions; o; o = o->next)
				if (!o->closing && hvd_session_has_vm(o))
					hvd_worker_exit_hist(o, st->exit_buckets, &st->exit_handling_ns);
			st->n_exit_bucket_le = HVD_EXIT_BUCKETS;
			st->n_exit_buckets = HVD_EXIT_BUCKETS + 1;
		}
	}
	resp->status_reply = st;
	return -1;
}

int hvd_admin_list_vms(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_daemon *d = s->d;
	Hvdp__VmList *l = calloc(1, sizeof(*l));
	(void)req; (void)fd;

	if (!l) {
		resp->status = HV_NO_RESOURCES;
		return -1;
	}
	hvdp__vm_list__init(l);
	if (!(l->vms = calloc(d->nsessions ? d->nsessions : 1, sizeof(*l->vms)))) {
		free(l);
		resp->status = HV_NO_RESOURCES;
		return -1;
	}
	for (struct hvd_session *o = d->sessions; o; o = o->next) {
		if (o->closing || !hvd_session_has_vm(o) || !can_see(s, o))
			continue;
		Hvdp__VmInfo *vi = vm_info(o, false);
		if (vi)
			l->vms[l->n_vms++] = vi;
	}
	resp->vm_list = l;
	return -1;
}

int hvd_admin_show_vm(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_session *o = find_vm(s->d, req->admin_show_vm->vm);
	(void)fd;
	/* Another tenant's VM is reported as absent, not as forbidden: its
	 * existence is not ours to reveal. */
	if (!o || !can_see(s, o)) {
		resp->status = HV_BAD_ARGUMENT;
		resp->error = "no such VM";
		return -1;
	}
	if (o->worker) {
		/* The worker describes the VM; hvd says whose it is. */
		int r = hvd_worker_show(s, o, req);
		if (r == 0) {
			hvdp__request__free_unpacked(req, NULL);
			return HVD_REPLY_LATER;
		}
		resp->status = HV_ERROR;
		resp->error = "the VM's worker process is gone";
		return -1;
	}
	resp->vm_info = vm_info(o, true);
	if (!resp->vm_info)
		resp->status = HV_NO_RESOURCES;
	return -1;
}

int hvd_admin_kill_vm(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_session *o = find_vm(s->d, req->admin_kill_vm->vm);
	char why[128];
	(void)fd;
	if (!o || !can_see(s, o)) {
		resp->status = HV_BAD_ARGUMENT;
		resp->error = "no such VM";
		hvd_audit(s, "admin_kill_vm", "deny", "no such VM (or another tenant's)");
		return -1;
	}
	if (o == s) {
		resp->status = HV_BAD_ARGUMENT;
		resp->error = "a client cannot kill its own VM this way";
		return -1;
	}
	snprintf(why, sizeof(why), "killed by session %llu (pid %d uid %u)",
		 (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid);
	hvd_audit(s, "admin_kill_vm", "allow", why);
	/* hvd's last word to the owner, a Response with id 0 naming the
	 * reason (docs/protocol.md), so that its library can tell the user;
	 * then its next call finds the connection closed and fails. */
	Hvdp__Response last = HVDP__RESPONSE__INIT;
	char msg[192];
	snprintf(msg, sizeof(msg), "VM %llu was %s with 'hvctl kill'",
		 (unsigned long long)req->admin_kill_vm->vm, why);
	last.status = HV_ERROR;
	last.error = msg;
	hvd_session_reply(o, &last, -1);
	hvd_session_close(o, why);
	return -1;
}

int hvd_admin_clients(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	struct hvd_daemon *d = s->d;
	Hvdp__ClientList *l = calloc(1, sizeof(*l));
	(void)req; (void)fd;

	if (!l) {
		resp->status = HV_NO_RESOURCES;
		return -1;
	}
	hvdp__client_list__init(l);
	l->clients = calloc(d->nsessions ? d->nsessions : 1, sizeof(*l->clients));
	for (struct hvd_session *o = d->sessions; l->clients && o; o = o->next) {
		if (o->closing || !can_see(s, o))
			continue;
		Hvdp__ClientInfo *ci = calloc(1, sizeof(*ci));
		if (!ci)
			break;
		hvdp__client_info__init(ci);
		ci->id = o->id;
		ci->pid = o->pid;
		ci->uid = o->uid;
		ci->gid = o->gid;
		ci->exe = dupstr(o->ident.exe);
		ci->tenant = dupstr(o->grant.tenant);
		ci->has_vm = hvd_session_has_vm(o);
		ci->admin = o->admin;
		ci->age_ms = hvd_now_ms() - o->opened_ms;
		static const struct { uint32_t bit; const char *name; } ents[] = {
			{ HVP_HYPERVISOR, HVP_ENT_HYPERVISOR },
			{ HVP_NETWORKING, HVP_ENT_NETWORKING },
			{ HVP_DEVICE_ACCESS, HVP_ENT_DEVICE_ACCESS },
		};
		ci->entitlements = calloc(3, sizeof(char *));
		for (unsigned k = 0; ci->entitlements && k < 3; k++)
			if (o->grant.ents & ents[k].bit)
				ci->entitlements[ci->n_entitlements++] = dupstr(ents[k].name);
		l->clients[l->n_clients++] = ci;
	}
	resp->client_list = l;
	return -1;
}

int hvd_admin_policy_reload(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	static char err[512];
	(void)req; (void)fd;
	if (hvd_policy_reload(s->d, err, sizeof(err)) < 0) {
		resp->status = HV_BAD_ARGUMENT;
		resp->error = err;
		hvd_audit(s, "admin_policy_reload", "rejected", err);
	}
	return -1;
}

int hvd_admin_log_level(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	const char *name = req->admin_log_level->level;
	enum hvd_log_level level;
	(void)fd;

	if (name && *name) {
		if (hvd_log_parse_level(name, &level) < 0) {
			resp->status = HV_BAD_ARGUMENT;
			resp->error = "unknown log level (error, warn, info or debug)";
			return -1;
		}
		enum hvd_log_level was = hvd_log_get_level();
		/* Said at the more verbose of the two levels, while it is in
		 * force, so that the change shows in the log either way. */
		if (level > was)
			hvd_log_set_level(level);
		hvd_slog(level > was ? level : was, s, "log level %s (was %s), set by session %llu "
			 "(pid %d uid %u)", hvd_log_level_name(level), hvd_log_level_name(was),
			 (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid);
		hvd_log_set_level(level);
		hvd_workers_log_level(s->d);
		hvd_audit(s, "admin_log_level", "allow", hvd_log_level_name(level));
	}
	Hvdp__LogLevelReply *r = calloc(1, sizeof(*r));
	if (!r) {
		resp->status = HV_NO_RESOURCES;
		return -1;
	}
	hvdp__log_level_reply__init(r);
	r->level = (char *)hvd_log_level_name(hvd_log_get_level());
	resp->log_level = r;
	return -1;
}

/* Credentials of a process from /proc/PID/status (world-readable, a few
 * lines): enough to decide whether the caller may ask about it, before
 * any work is done on it. */
static int proc_creds(pid_t pid, struct hvp_identity *id)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	bool have_uid = false;
	unsigned lines = 0;
	while (fgets(line, sizeof(line), f) && ++lines < 128) {
		unsigned long a, b;
		if (sscanf(line, "Uid: %lu %lu", &a, &b) == 2) {
			id->uid = (uid_t)b;
			have_uid = true;
		} else if (sscanf(line, "Gid: %lu %lu", &a, &b) == 2) {
			id->gid = (gid_t)b;
		} else if (strncmp(line, "Groups:", 7) == 0) {
			char *p = line + 7;
			char *end;
			while (id->ngroups < HVP_MAX_GROUPS) {
				unsigned long g = strtoul(p, &end, 10);
				if (end == p)
					break;
				id->groups[id->ngroups++] = (gid_t)g;
				p = end;
			}
		}
	}
	fclose(f);
	return have_uid ? 0 : -ESRCH;
}

static void explain_reply(struct hvd_session *s, Hvdp__Request *req, int err)
{
	struct hvd_daemon *d = s->d;
	struct hvp_identity *probe = s->probe;
	Hvdp__Response resp = HVDP__RESPONSE__INIT;
	resp.id = req->id;

	if (err < 0) {
		resp.status = HV_BAD_ARGUMENT;
		if (probe->pid == 0)
			resp.error = err == -EISDIR ? "the executable is a directory" :
				     err == -EINVAL ? "the executable is not a regular file "
						      "(a FIFO, a device or a socket): not read" :
				     err == -EFBIG ? "the executable is larger than max_exe_size: "
						     "not read (hvd would not hash it for a "
						     "client either)" :
				     err == -EAGAIN ? "the executable changed while hvd read it" :
				     err == -EIO ? "hvd-ident, which hashes executables, is gone" :
				     "the executable cannot be read";
		else
			resp.error = err == -ESRCH ? "no such process" :
				     "the process's executable cannot be read";
		goto out;
	}
	struct hvp_grant_result g;
	hvp_evaluate(d->policy, probe, (int64_t)time(NULL), &g);
	Hvdp__ExplainReply *e = calloc(1, sizeof(*e));
	if (!e) {
		resp.status = HV_NO_RESOURCES;
		goto out;
	}
	hvdp__explain_reply__init(e);
	static const struct { uint32_t bit; const char *name; } ents[] = {
		{ HVP_HYPERVISOR, HVP_ENT_HYPERVISOR },
		{ HVP_NETWORKING, HVP_ENT_NETWORKING },
		{ HVP_DEVICE_ACCESS, HVP_ENT_DEVICE_ACCESS },
	};
	e->entitlements = calloc(3, sizeof(char *));
	for (unsigned k = 0; e->entitlements && k < 3; k++)
		if (g.ents & ents[k].bit)
			e->entitlements[e->n_entitlements++] = dupstr(ents[k].name);
	e->unknown_entitlements = calloc(g.nunknown ? g.nunknown : 1, sizeof(char *));
	for (unsigned k = 0; e->unknown_entitlements && k < g.nunknown; k++)
		e->unknown_entitlements[e->n_unknown_entitlements++] = dupstr(g.unknown[k]);
	e->tenant = dupstr(g.tenant);
	e->max_vms = g.quota.max_vms;
	e->max_vcpus_per_vm = g.quota.max_vcpus_per_vm;
	e->max_vcpus = g.quota.max_vcpus;
	e->max_memory = g.quota.max_memory;
	e->max_mappings = g.quota.max_mappings;
	e->max_rpc_rate = g.quota.max_rpc_rate;
	e->max_cpu_percent = g.quota.max_cpu_percent;
	e->reason = dupstr(g.reason);
	e->exe = dupstr(probe->exe);
	char hex[2 * HVP_HASH_BYTES + 1] = "";
	if (probe->exe_hash_valid)
		for (int i = 0; i < HVP_HASH_BYTES; i++)
			snprintf(hex + 2 * i, 3, "%02x", probe->exe_hash[i]);
	e->exe_blake2b = dupstr(hex);
	e->uid = probe->uid;
	e->admin = hvp_is_admin(d->policy, probe);
	e->exe_refused = dupstr(probe->exe_refused);
	if (probe->pid == 0) {
		e->by_identity = true;
		e->gid = probe->gid;
		e->groups = calloc(probe->ngroups ? probe->ngroups : 1, sizeof(uint32_t));
		for (unsigned k = 0; e->groups && k < probe->ngroups; k++)
			e->groups[e->n_groups++] = probe->groups[k];
	}
	resp.explain = e;
out:
	hvd_session_reply(s, &resp, -1);
	hvd_admin_reply_free(&resp);
}

/* hvd-ident has read the process's executable. */
static void explain_probed(struct hvd_session *s, int err, const struct hvp_identity *got,
			   void *arg)
{
	Hvdp__Request *req = s->deferred;
	struct hvp_identity *probe = s->probe;
	(void)arg;

	s->deferred = NULL;
	s->waiting = false;
	if (got) {
		/* Asked by identity, the path is the asker's label for the
		 * file; the helper saw only a descriptor. */
		if (probe->pid != 0)
			memcpy(probe->exe, got->exe, sizeof(probe->exe));
		memcpy(probe->exe_hash, got->exe_hash, sizeof(probe->exe_hash));
		probe->exe_hash_valid = got->exe_hash_valid;
		memcpy(probe->exe_refused, got->exe_refused, sizeof(probe->exe_refused));
	}
	explain_reply(s, req, err);
	free(s->probe);
	s->probe = NULL;
	hvdp__request__free_unpacked(req, NULL);
	hvd_session_resume(s);
}

/* `policy explain --uid N --exe PATH`: a process that does not exist.
 * Administrators only: the asker names the groups, and could otherwise
 * learn what any group's members get. The executable comes as a
 * descriptor the asker opened (with its own rights: hvd opens no path
 * for it), and is checked and hashed in hvd-ident like a peer's. */
static int explain_identity(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp,
			    int fd)
{
	Hvdp__AdminPolicyExplain *op = req->admin_policy_explain;
	int r;

	if (op->pid != 0) {
		resp->error = "give a pid or an identity, not both";
		goto bad;
	}
	if (!s->admin) {
		if (fd >= 0)
			close(fd);
		resp->status = HV_DENIED;
		resp->error = "only administrators may explain a uid without a process";
		hvd_audit(s, "admin_policy_explain", "deny", resp->error);
		return -1;
	}
	if (op->n_groups > HVP_MAX_GROUPS) {
		resp->error = "more than 64 supplementary groups";
		goto bad;
	}
	if (strlen(op->exe) >= sizeof(((struct hvp_identity *)0)->exe)) {
		resp->error = "executable path too long";
		goto bad;
	}
	if (op->exe[0] && fd < 0) {
		resp->error = "an executable is named but its descriptor was not sent";
		goto bad;
	}
	if (op->uid == (uint32_t)-1 || op->gid == (uint32_t)-1) {
		resp->error = "uid or gid -1 names nobody";
		goto bad;
	}
	struct hvp_identity *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		if (fd >= 0)
			close(fd);
		resp->status = HV_NO_RESOURCES;
		return -1;
	}
	probe->pid = 0;
	probe->uid = op->uid;
	probe->gid = op->gid;
	for (size_t k = 0; k < op->n_groups; k++)
		probe->groups[probe->ngroups++] = op->groups[k];
	snprintf(probe->exe, sizeof(probe->exe), "%s", op->exe);
	s->probe = probe;
	s->deferred = req;
	s->waiting = true;
	uv_poll_stop(&s->poll);
	if (fd < 0) {
		snprintf(probe->exe_refused, sizeof(probe->exe_refused),
			 "no executable given: rules only");
		explain_probed(s, 0, NULL, NULL);
		return HVD_REPLY_LATER;
	}
	r = hvd_ident_submit_file(s, fd, explain_probed, NULL);
	close(fd);
	if (r < 0)
		explain_probed(s, r, NULL, NULL);
	return HVD_REPLY_LATER;

bad:
	if (fd >= 0)
		close(fd);
	resp->status = HV_BAD_ARGUMENT;
	return -1;
}

int hvd_admin_policy_explain(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	pid_t pid = req->admin_policy_explain->pid;

	if (req->admin_policy_explain->by_identity)
		return explain_identity(s, req, resp, fd);
	if (fd >= 0) {
		close(fd);
		resp->status = HV_BAD_ARGUMENT;
		resp->error = "a descriptor comes only with an explain by identity";
		return -1;
	}
	if (pid <= 0) {
		resp->status = HV_BAD_ARGUMENT;
		resp->error = "no such process";
		return -1;
	}
	struct hvp_identity *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		resp->status = HV_NO_RESOURCES;
		return -1;
	}
	/* Whose process it is comes first: nothing else is done for a
	 * caller who may not ask. */
	if (proc_creds(pid, probe) < 0) {
		free(probe);
		resp->status = HV_BAD_ARGUMENT;
		resp->error = "no such process";
		return -1;
	}
	/* A tenant socket's peer has no uid to share with the processes it
	 * could ask about (root there is anyone's container), and its rights
	 * are its tenant's, not what this would explain. */
	if (s->bound || (!s->admin && probe->uid != s->uid)) {
		free(probe);
		resp->status = HV_DENIED;
		resp->error = s->bound ? "not on a tenant's socket: its rights are the tenant's" :
			      "only administrators may explain other users' processes";
		hvd_audit(s, "admin_policy_explain", "deny", resp->error);
		return -1;
	}
	probe->pid = pid;
	/* The executable is read and hashed by hvd-ident, off this thread. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	s->probe = probe;
	s->deferred = req;
	s->waiting = true;
	uv_poll_stop(&s->poll);
	int r = hvd_ident_submit(s, pid, pidfd, explain_probed, NULL);
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0)
		explain_probed(s, r, NULL, NULL);
	return HVD_REPLY_LATER;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void hvd_admin_reply_free(Hvdp__Response *resp)
{
	if (resp->status_reply) {
		free(resp->status_reply->version);
		free(resp->status_reply->policy_source);
		free(resp->status_reply->rpc_bucket_le);
		free(resp->status_reply->rpc_buckets);
		free(resp->status_reply->exit_bucket_le);
		free(resp->status_reply->exit_buckets);
		free(resp->status_reply);
	}
	if (resp->vm_list) {
		for (size_t i = 0; i < resp->vm_list->n_vms; i++)
			vm_info_free(resp->vm_list->vms[i]);
		free(resp->vm_list->vms);
		free(resp->vm_list);
	}
	vm_info_free(resp->vm_info);
	if (resp->client_list) {
		for (size_t i = 0; i < resp->client_list->n_clients; i++) {
			Hvdp__ClientInfo *ci = resp->client_list->clients[i];
			free(ci->exe);
			free(ci->tenant);
			free_strv(ci->entitlements, ci->n_entitlements);
			free(ci);
		}
		free(resp->client_list->clients);
		free(resp->client_list);
	}
	if (resp->explain) {
		Hvdp__ExplainReply *e = resp->explain;
		free_strv(e->entitlements, e->n_entitlements);
		free_strv(e->unknown_entitlements, e->n_unknown_entitlements);
		free(e->tenant);
		free(e->reason);
		free(e->exe);
		free(e->exe_blake2b);
		free(e->exe_refused);
		free(e->groups);
		free(e);
	}
	free(resp->log_level);         /* its string is static */
	resp->log_level = NULL;
	hvd_tenant_reply_free(resp);
	resp->status_reply = NULL;
	resp->vm_list = NULL;
	resp->vm_info = NULL;
	resp->client_list = NULL;
	resp->explain = NULL;
}
