/*
 * hvp: who may do what in hvd. Entitlements with Apple's names, rules by
 * uid and group from a configuration file, grants signed with Ed25519 keys
 * the administrator trusts (bound to an executable's BLAKE2b hash), tenants
 * and their quotas. Decisions are pure functions of (policy, identity,
 * request, usage): no I/O in the decision path. Loading the configuration,
 * reading grants and hashing executables are separate steps.
 *
 * All functions return 0 or a negative errno unless stated.
 */
#ifndef HVP_H
#define HVP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Apple's entitlement names. */
#define HVP_ENT_HYPERVISOR "com.apple.security.hypervisor"
#define HVP_ENT_NETWORKING "com.apple.vm.networking"
#define HVP_ENT_DEVICE_ACCESS "com.apple.vm.device-access"

/* Known entitlements as bits; unknown ones are kept by name. */
enum hvp_ent {
	HVP_HYPERVISOR = 1u << 0,
	HVP_NETWORKING = 1u << 1,
	HVP_DEVICE_ACCESS = 1u << 2,
};

#define HVP_MAX_GROUPS 64
#define HVP_HASH_BYTES 32        /* BLAKE2b-256 */
#define HVP_NAME_MAX 64
#define HVP_MAX_CPU_PERCENT 409600  /* 4096 host CPUs */

/* What the kernel says about a peer (SO_PEERCRED, SO_PEERGROUPS, the
 * executable behind its pid). */
struct hvp_identity {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[HVP_MAX_GROUPS];
	unsigned ngroups;
	char exe[4096];                 /* path, for reports only */
	uint8_t exe_hash[HVP_HASH_BYTES];
	bool exe_hash_valid;
	/* Set by hvp_identity_probe: which process and which file, so that a
	 * later decision can tell whether it is still the same (a pid alone
	 * is not: it outlives an exec). */
	dev_t exe_dev;
	ino_t exe_ino;
	uint64_t start_time;            /* /proc/PID/stat field 22, clock ticks since boot */
	pid_t tracer;                   /* TracerPid: another process controlling this one */
	/* Non-empty: why the executable gives no executable-bound rights (too
	 * large to hash, foreign code mapped, traced...). Grants are not
	 * considered then; the reason goes into the decision's reason. */
	char exe_refused[160];
};

struct hvp_quota {
	uint32_t max_vms;
	uint32_t max_vcpus_per_vm;
	uint32_t max_vcpus;             /* over all the tenant's VMs */
	uint64_t max_memory;            /* bytes of guest memory mapped */
	uint32_t max_mappings;          /* hv_vm_map calls alive */
	uint32_t max_rpc_rate;          /* requests per second, 0 = unlimited */
	uint32_t max_cpu_percent;       /* CPU time of the tenant's vCPU threads, in
	                                 * percent of one host CPU; 0 = unlimited */
};

/* What a tenant holds right now. */
struct hvp_usage {
	uint32_t vms;
	uint32_t vcpus;
	uint64_t memory;
	uint32_t mappings;
};

/* The outcome of evaluating an identity: its entitlements, its tenant and
 * quota, and why (for audit and `hvctl policy explain`). */
struct hvp_grant_result {
	uint32_t ents;                  /* enum hvp_ent bits */
	char unknown[8][HVP_NAME_MAX];  /* entitlements not known to hvd, kept and reported */
	unsigned nunknown;
	char tenant[HVP_NAME_MAX];      /* "uid:1000", "group:ci" or a named tenant */
	struct hvp_quota quota;
	char reason[512];               /* human-readable: which rules and grants applied */
};

struct hvp_policy;

/* The built-in default: `self_uid` (the uid hvd runs as) and root get
 * com.apple.security.hypervisor with default quotas; nobody else gets
 * anything. */
int hvp_policy_default(uid_t self_uid, struct hvp_policy **out);

/* Parse a configuration file (INI, see docs/policy.md). On error returns
 * -EINVAL and writes "FILE:LINE: problem" to `err`; nothing is changed. */
int hvp_policy_load(const char *path, uid_t self_uid, struct hvp_policy **out,
		    char *err, size_t errlen);
void hvp_policy_free(struct hvp_policy *p);

/* hvp_policy_load, telling `warn` (with `arg`) of what is valid but most
 * likely a mistake: an unknown entitlement (with the closest known name),
 * a rule that grants nothing, a file that lets nobody in. `line` is the
 * file's line, 0 for the file as a whole. hvd and `hvctl policy check`
 * read a file alike; only the latter listens. */
typedef void (*hvp_warn_fn)(void *arg, int line, const char *msg);
int hvp_policy_load_warn(const char *path, uid_t self_uid, hvp_warn_fn warn, void *arg,
			 struct hvp_policy **out, char *err, size_t errlen);

/* Fill the executable fields of `id` for `pid` (path and BLAKE2b-256 of
 * the file). Uses `cache` keyed by file identity (dev, inode, size,
 * mtime) so a binary is hashed once. */
struct hvp_hash_cache;
int hvp_hash_cache_create(struct hvp_hash_cache **out);
void hvp_hash_cache_free(struct hvp_hash_cache *c);
int hvp_identity_exe(struct hvp_hash_cache *c, pid_t pid, struct hvp_identity *id);
/* Limits of hvp_identity_probe: what a peer can make hvd read. */
#define HVP_DEFAULT_MAX_EXE_SIZE (256ull << 20)
#define HVP_DEFAULT_MAX_MAPS 8192

/* Everything hvp_identity_exe does, bounded, plus what a grant needs to
 * mean "this code": the process's start time, its tracer, and a check of
 * every executable mapping in /proc/PID/maps (each must be the executable
 * itself, [vdso]/[vsyscall], or a file owned by root in directories only
 * root may write: a system library). An executable larger than
 * `max_exe_size` bytes is not read at all, nor maps of more than
 * `max_maps` lines (0: no limit); in those cases, and for foreign code or
 * a tracer, id->exe_refused says why and the executable grants nothing.
 * Returns 0 with the fields filled as far as they could be, or a negative
 * errno if the process or its executable cannot be read. */
int hvp_identity_probe(struct hvp_hash_cache *c, pid_t pid, uint64_t max_exe_size,
		       uint32_t max_maps, struct hvp_identity *id);
/* The executable fields of `id` from an open descriptor (the file
 * itself, sent by whoever asks `hvctl policy explain --exe`): 0 with the
 * hash; -EISDIR, -EINVAL (not a regular file: a FIFO, a device),
 * -EFBIG (larger than `max_size` bytes, 0: no limit) before anything is
 * read; -EAGAIN if it changed while it was read. */
int hvp_identity_fd(struct hvp_hash_cache *c, int fd, uint64_t max_size,
		    struct hvp_identity *id);
/* The code check alone: 0 if every executable mapping of `pid` is the file
 * (exe_dev, exe_ino) or a system library, else -EPERM with the first
 * offending mapping in `why` (or another negative errno). */
int hvp_code_check(pid_t pid, dev_t exe_dev, ino_t exe_ino, uint32_t max_maps,
		   char *why, size_t len);
/* How often the cache spared a hash (hits) and how often a file was read
 * (misses), for reports and tests. */
void hvp_hash_cache_stats(struct hvp_hash_cache *c, uint64_t *hits, uint64_t *misses);

/* Evaluate `id` under `p` at time `now` (seconds since the epoch): rules,
 * then grants. Never fails; an identity nothing applies to gets nothing. */
void hvp_evaluate(const struct hvp_policy *p, const struct hvp_identity *id,
		  int64_t now, struct hvp_grant_result *out);

/* Quota checks: 0 if `usage` plus the request fits `q`, else -EDQUOT with
 * the limit named in `why`. A request is one VM, one vCPU (the VM has
 * `vcpus_in_vm` now) or one mapping of `bytes`. */
int hvp_check_vm(const struct hvp_quota *q, const struct hvp_usage *u,
		 char *why, size_t len);
int hvp_check_vcpu(const struct hvp_quota *q, const struct hvp_usage *u,
		   uint32_t vcpus_in_vm, char *why, size_t len);
int hvp_check_map(const struct hvp_quota *q, const struct hvp_usage *u,
		  uint64_t bytes, char *why, size_t len);

/* Token bucket for the RPC rate: true if one more request is allowed at
 * `now_ns` (a monotonic clock, never 0). A zeroed struct starts full; the
 * bucket holds one second's worth. */
struct hvp_rate {
	double tokens;
	uint64_t last_ns;
};
bool hvp_rate_take(struct hvp_rate *r, uint32_t per_second, uint64_t now_ns);

/* ---- authorization: the one decision every hvd request passes ---- */

/* What a request needs decided. Each row of hvd's dispatch table names
 * one; 0 is no decision (a row without one is refused at start-up). */
enum hvp_act {
	HVP_ACT_OPEN = 1,    /* handshake and capabilities: any connected peer */
	HVP_ACT_VM_CREATE,   /* com.apple.security.hypervisor + the VM quotas */
	HVP_ACT_VM,          /* on the asker's own VM */
	HVP_ACT_MAP,         /* + the memory and mapping quotas */
	HVP_ACT_VCPU_CREATE, /* + the vCPU quotas */
	HVP_ACT_VCPU,        /* on the asker's own vCPU */
	HVP_ACT_ADMIN_READ,  /* listings: admins see all, others their tenant */
	HVP_ACT_ADMIN_OWN,   /* kill: admin, or the VM's own tenant (the handler checks) */
	HVP_ACT_ADMIN,       /* policy reload: admin only */
	HVP_ACT_EXPLAIN,     /* admin, or a process of the asker's own uid (the handler
	                      * checks) */
	HVP_ACT_INTERNAL,    /* hvd to its workers only: refused to every client */
};

/* Everything the decision looks at, as plain data the caller gathers: who
 * asks (its grant, whether it is an administrator), what (the act, the
 * size of a mapping) and what is in use (its tenant's, its VM's, the
 * host's). The two rate buckets are the only state: the decision takes
 * a token from them. */
struct hvp_authz_input {
	enum hvp_act act;
	const char *request;                  /* the request's name, for reasons */
	uint64_t map_bytes;                   /* HVP_ACT_MAP: the mapping's size */
	const struct hvp_grant_result *grant; /* entitlements, quota, reason */
	bool admin;
	const struct hvp_limits *limits;      /* host-wide */
	struct hvp_usage usage;               /* the tenant's (zero without one) */
	bool has_vm;                          /* the asker has a VM already */
	uint32_t vcpus_in_vm;                 /* HVP_ACT_VCPU_CREATE: the VM's vCPUs */
	uint32_t host_vms;                    /* HVP_ACT_VM_CREATE with host_max_vms */
	uint32_t host_vcpus;                  /* HVP_ACT_VCPU_CREATE with host_max_vcpus */
	struct hvp_rate *rpc_rate;            /* the tenant's requests (NULL: no tenant) */
	struct hvp_rate *admin_rate;          /* the uid's admin requests */
	uint64_t now_ns;                      /* for the rates (see hvp_rate_take) */
};

enum hvp_verdict {
	HVP_ALLOW = 0,
	HVP_DENY,                       /* not entitled (HV_DENIED) */
	HVP_QUOTA,                      /* over a quota, a host limit or a rate
	                                 * (HV_NO_RESOURCES) */
};

/* The request rate that refused a request, if one did. */
enum hvp_rate_kind { HVP_RATE_NONE = 0, HVP_RATE_RPC, HVP_RATE_ADMIN };

struct hvp_authz {
	enum hvp_verdict verdict;
	bool audit;                     /* a decision with consequences: one audit line */
	enum hvp_rate_kind rate;        /* refused by a rate: a flood, whose audit lines
	                                 * the caller thins out and whose sender it
	                                 * makes wait ... */
	uint32_t retry_ms;              /* ... this long, for the next token */
	char reason[512];               /* why ("" for an allow) */
};

/* Decide whether `in` may go on; returns out->verdict. No I/O, no clock,
 * no global state: the outcome follows from `in` alone (and the buckets
 * it charges). */
enum hvp_verdict hvp_authorize(const struct hvp_authz_input *in, struct hvp_authz *out);
/* How the audit log names a verdict: "allow", "deny", "quota". */
const char *hvp_verdict_name(enum hvp_verdict v);

/* Is `uid` an administrator (root, or a member of the admin group)? */
bool hvp_is_admin(const struct hvp_policy *p, const struct hvp_identity *id);

/* Host-wide limits an administrator sets in [hvd]; what happens at each
 * is a clear error to the one who hits it (docs/policy.md). 0 = none,
 * except where noted. */
struct hvp_limits {
	uint32_t max_clients;         /* connections at once */
	uint32_t max_unauthenticated; /* connections that have not sent Hello */
	uint32_t hello_timeout_ms;    /* a silent connection is closed after this */
	uint32_t max_inflight;        /* vCPU requests queued per client */
	uint32_t max_message;         /* bytes per request, at most HVD_MAX_MESSAGE */
	uint32_t max_fds;             /* descriptors per message: 0 or 1 */
	uint32_t host_max_vms;
	uint32_t host_max_vcpus;
	/* Shares: what one uid may hold of the host-wide limits above, so that
	 * one uid can exhaust only its own share. Administrators are exempt. */
	uint32_t max_clients_per_uid;
	uint32_t max_unauthenticated_per_uid;
	uint32_t max_admin_rate;      /* admin requests per second per uid */
	uint64_t max_exe_size;        /* bytes of a peer's executable hvd hashes */
};
const struct hvp_limits *hvp_limits(const struct hvp_policy *p);

/* The quota of a client without a named tenant: [defaults] over the
 * built-in one. hvd's tenant objects take what they leave out from it. */
const struct hvp_quota *hvp_default_quota(const struct hvp_policy *p);
/* Does the configuration have a [tenant NAME] section? */
bool hvp_has_tenant(const struct hvp_policy *p, const char *name);

/* Audit destination from the configuration ("-" or empty: stderr). */
const char *hvp_audit_path(const struct hvp_policy *p);
/* The line of the audit key, 0 if the file has none (or the default). */
int hvp_audit_line(const struct hvp_policy *p);

/* Grants carried by the policy, for reports: how many were loaded and how
 * many were rejected (forged, tampered, malformed, unknown key) at load
 * time. */
void hvp_grant_counts(const struct hvp_policy *p, unsigned *loaded, unsigned *rejected);
/* Number of [rule] sections in force (0 for the built-in default). */
unsigned hvp_rule_count(const struct hvp_policy *p);
/* The i-th rejected grant as "FILE: reason" (for the audit log), or NULL
 * past the last. */
const char *hvp_grant_rejected(const struct hvp_policy *p, unsigned i);

/* ---- grants ---- */

/* A grant file is one line "hvd-grant-v1 <key-id-hex> <signature-base64>"
 * followed by an Apple plist (the signed bytes). Keys are Ed25519
 * (libsodium); the key id is the first 8 bytes of the public key, hex. */
int hvp_keygen(uint8_t pk[32], uint8_t sk[64]);
/* Sign `plist` with `sk`; the grant text goes to a malloc'd *out. */
int hvp_grant_sign(const uint8_t sk[64], const char *plist, size_t len, char **out);
/* Verify a grant against `keys` (n public keys). 0 if the signature is
 * good; -EBADMSG for a bad signature or malformed file, -ENOKEY if no
 * trusted key matches the key id. */
int hvp_grant_verify(const uint8_t (*keys)[32], unsigned nkeys, const char *text,
		     size_t len, char *why, size_t whylen);
/* What a grant says, read without checking its signature (for `hvctl
 * grant show`; hvd never uses a grant so). Known entitlements in `ents`,
 * others in `unknown`. -EBADMSG with `why` for a malformed file. */
struct hvp_grant_info {
	char key_id[17];                /* hex: the signing key's first 8 bytes */
	uint8_t hash[HVP_HASH_BYTES];
	bool has_uid;
	uid_t uid;
	bool has_group;
	char group[HVP_NAME_MAX];
	int64_t expires;                /* 0: never */
	char ents[3][HVP_NAME_MAX];
	unsigned nents;
	char unknown[8][HVP_NAME_MAX];
	unsigned nunknown;
};
int hvp_grant_inspect(const char *text, size_t len, struct hvp_grant_info *out, char *why,
		      size_t whylen);
/* hvp_grant_verify against the trusted keys of a loaded configuration;
 * -ENOKEY also when it has none. */
int hvp_policy_grant_verify(const struct hvp_policy *p, const char *text, size_t len,
			    char *why, size_t whylen);

/* Build the plist of a grant: executable hash, entitlements (an Apple
 * entitlements plist's dict, XML or binary; boolean values only, else
 * -EINVAL), optional uid/group/expiry. The XML goes to a malloc'd *out. */
int hvp_grant_plist(const uint8_t hash[HVP_HASH_BYTES], const char *entitlements_plist,
		    size_t ent_len, int64_t uid /* -1: any */, const char *group /* NULL: any */,
		    int64_t expires /* 0: never */, char **out);

/* Hash a file with BLAKE2b-256. */
int hvp_hash_file(const char *path, uint8_t out[HVP_HASH_BYTES]);

#endif
