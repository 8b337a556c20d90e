/*
 * Tenant cgroups (hvd_cgroup.c): each tenant's worker processes in a
 * cgroup of their own, so that the kernel holds the tenant's
 * max_cpu_percent and max_memory (docs/operations.md, "Tenant cgroups").
 *
 * hvd-zygote does all of it: it creates hvd's subtree while it still has
 * hvd's privileges, and writes the limits and places workers afterwards
 * as uid 0 without capabilities (the files are root's).
 */
#ifndef HVD_CGROUP_H
#define HVD_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a tenant cgroup's memory limit adds to max_memory: the worker's own
 * memory (hvd's code and heap, the vCPU threads' stacks, KVM's structures
 * and page tables), which max_memory (guest memory mapped) does not count. */
#define HVD_CGROUP_WORKER_ALLOWANCE (64ull << 20)
/* cpu.max's and cpu.cfs_period_us's period, microseconds. */
#define HVD_CGROUP_PERIOD_US 100000u

enum hvd_cg_kind {
	HVD_CG_NONE,
	HVD_CG_V1,                     /* separate cpu and memory hierarchies */
	HVD_CG_V2,                     /* the unified hierarchy */
};

/* Where hvd's own cgroup is: the directory of it in the cpu and the
 * memory hierarchy (the same directory in v2). */
struct hvd_cg_layout {
	enum hvd_cg_kind kind;
	char cpu[PATH_MAX];
	char memory[PATH_MAX];
	char mount[PATH_MAX];          /* v2: the unified hierarchy's mount point */
	bool root;                     /* v2: hvd's cgroup is the hierarchy's root */
};

/* Pure: the layout from the text of /proc/self/cgroup and
 * /proc/self/mountinfo. v1 when both a cpu and a memory v1 hierarchy are
 * mounted (a hybrid host's v2 mount then has neither controller), else
 * v2 when the unified hierarchy is. Whether v2's controllers are there is
 * for hvd_cgroup_detect to read. Returns 0, or -ENOENT with why in err. */
int hvd_cgroup_parse(const char *proc_cgroup, const char *mountinfo, struct hvd_cg_layout *out,
		     char *err, size_t errlen);
/* The layout of this process, v2's controllers checked. */
int hvd_cgroup_detect(struct hvd_cg_layout *out, char *err, size_t errlen);

/* A tenant's name as a path component of its cgroup (tenant-NAME). */
bool hvd_cgroup_name_ok(const char *tenant);

/* hvd's subtree, the zygote's. */
struct hvd_cgroup {
	enum hvd_cg_kind kind;
	char cpu[PATH_MAX];            /* hvd's root (--cgroup-root) in the cpu hierarchy */
	char memory[PATH_MAX];         /* and in the memory one (v2: the same) */
	bool made_cpu, made_memory;    /* hvd created them (and removes them) */
};

/* Create hvd's subtree NAME under this process's cgroup. In v2, if the
 * cgroup hvd is in does not yet give its children cpu and memory, hvd
 * (`broker`) and this process move into NAME/hvd first: a cgroup holding
 * processes cannot. Returns 0 or -errno, with the file and why in err. */
int hvd_cgroup_setup(struct hvd_cgroup *cg, const char *name, pid_t broker, char *err,
		     size_t errlen);
/* Make the tenant's cgroup if needed and write its limits. */
int hvd_cgroup_limit(struct hvd_cgroup *cg, const char *tenant, uint32_t max_cpu_percent,
		     uint64_t max_memory, char *err, size_t errlen);
/* Move process `pid` into the tenant's cgroup (every hierarchy). */
int hvd_cgroup_place(struct hvd_cgroup *cg, const char *tenant, pid_t pid, char *err,
		     size_t errlen);
/* How many of the tenant's processes the kernel's OOM killer has ended
 * for its cgroup's memory limit (0 if it cannot tell). */
uint64_t hvd_cgroup_oom_kills(const struct hvd_cgroup *cg, const char *tenant);
/* Remove the tenants' empty cgroups and the root hvd made. */
void hvd_cgroup_teardown(struct hvd_cgroup *cg);

/* The values the limit files get, for hvd and its tests alike: v2's
 * cpu.max and memory.max, v1's cpu.cfs_quota_us and memory.limit_in_bytes. */
void hvd_cgroup_cpu_max(uint32_t max_cpu_percent, char *out, size_t len);
void hvd_cgroup_memory_max(uint64_t max_memory, char *out, size_t len);
void hvd_cgroup_cfs_quota(uint32_t max_cpu_percent, char *out, size_t len);
void hvd_cgroup_limit_in_bytes(uint64_t max_memory, char *out, size_t len);

#endif
