/*
 * The cgroup layout from /proc/self/cgroup and /proc/self/mountinfo
 * (daemon/hvd_cgroup.c), for the hosts hvd meets: v1 with cpu and memory
 * hierarchies (cpu co-mounted with cpuacct or not), hybrid (v1 controllers
 * and a v2 mount without them), pure v2, a container whose mounts show a
 * hierarchy from below its root, and a host with neither; the limit files'
 * values; tenant names as path components.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hvd_cgroup.h"

/* This build machine's (a v1 host with a hybrid v2 mount). */
static const char v1_cgroup[] =
	"9:name=systemd:/\n"
	"8:pids:/\n"
	"4:memory:/process_api/9a07\n"
	"3:cpuset:/\n"
	"2:cpuacct:/\n"
	"1:cpu:/\n"
	"0::/\n";
static const char v1_mounts[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

Test(cgroup, v1_with_a_hybrid_v2_mount_uses_v1)
{
	struct hvd_cg_layout l;
	char err[256];
	cr_assert_eq(hvd_cgroup_parse(v1_cgroup, v1_mounts, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(l.kind, HVD_CG_V1);
	cr_expect_str_eq(l.cpu, "/sys/fs/cgroup/cpu");
	cr_expect_str_eq(l.memory, "/sys/fs/cgroup/memory/process_api/9a07");
}

/* systemd's v1: cpu and cpuacct in one hierarchy, optional fields in the
 * mount lines. The word "cpu" must not match "cpuset". */
Test(cgroup, v1_comounted_cpu_cpuacct)
{
	static const char cg[] =
		"11:cpuset:/\n"
		"4:cpu,cpuacct:/system.slice/hvd.service\n"
		"7:memory:/system.slice/hvd.service\n"
		"1:name=systemd:/system.slice/hvd.service\n";
	static const char mi[] =
		"25 24 0:22 / /sys/fs/cgroup/cpuset rw shared:9 - cgroup cgroup rw,cpuset\n"
		"26 24 0:23 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup "
		"rw,cpu,cpuacct\n"
		"27 24 0:24 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n";
	struct hvd_cg_layout l;
	char err[256];
	cr_assert_eq(hvd_cgroup_parse(cg, mi, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(l.kind, HVD_CG_V1);
	cr_expect_str_eq(l.cpu, "/sys/fs/cgroup/cpu,cpuacct/system.slice/hvd.service");
	cr_expect_str_eq(l.memory, "/sys/fs/cgroup/memory/system.slice/hvd.service");
}

Test(cgroup, pure_v2)
{
	static const char cg[] = "0::/system.slice/hvd.service\n";
	static const char mi[] =
		"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
		"30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
		"cgroup2 rw,nsdelegate,memory_recursiveprot\n";
	struct hvd_cg_layout l;
	char err[256];
	cr_assert_eq(hvd_cgroup_parse(cg, mi, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(l.kind, HVD_CG_V2);
	cr_expect_str_eq(l.cpu, "/sys/fs/cgroup/system.slice/hvd.service");
	cr_expect_str_eq(l.memory, l.cpu);
	cr_expect_str_eq(l.mount, "/sys/fs/cgroup");
	cr_expect(!l.root);
}

Test(cgroup, v2_at_the_root)
{
	struct hvd_cg_layout l;
	char err[256];
	cr_assert_eq(hvd_cgroup_parse("0::/\n", "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 "
				      "cgroup2 rw\n", &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(l.kind, HVD_CG_V2);
	cr_expect_str_eq(l.cpu, "/sys/fs/cgroup");
	cr_expect(l.root);
}

/* A container's mount shows the hierarchy from /docker/abc down, and its
 * /proc/self/cgroup names the full path (no cgroup namespace) or one
 * relative to that root (a namespace). */
Test(cgroup, a_mount_from_below_the_root)
{
	static const char mi[] =
		"30 22 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	struct hvd_cg_layout l;
	char err[256];
	cr_assert_eq(hvd_cgroup_parse("0::/docker/abc/svc\n", mi, &l, err, sizeof(err)), 0);
	cr_expect_str_eq(l.cpu, "/sys/fs/cgroup/svc");
	cr_assert_eq(hvd_cgroup_parse("0::/svc\n", mi, &l, err, sizeof(err)), 0);
	cr_expect_str_eq(l.cpu, "/sys/fs/cgroup/svc");
	/* /docker/abcdef is not below /docker/abc. */
	cr_assert_eq(hvd_cgroup_parse("0::/docker/abcdef\n", mi, &l, err, sizeof(err)), 0);
	cr_expect_str_eq(l.cpu, "/sys/fs/cgroup/docker/abcdef");
}

/* v1 with cpu but no memory hierarchy, and no v2 mount: nothing to use. */
Test(cgroup, neither)
{
	static const char cg[] = "1:cpu:/\n0::/\n";
	static const char mi[] =
		"32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
	struct hvd_cg_layout l;
	char err[256] = "";
	cr_expect_eq(hvd_cgroup_parse(cg, mi, &l, err, sizeof(err)), -ENOENT);
	cr_expect_eq(l.kind, HVD_CG_NONE);
	cr_expect_neq(err[0], 0, "no reason given");
	cr_expect_eq(hvd_cgroup_parse("", "", &l, err, sizeof(err)), -ENOENT);
}

Test(cgroup, limit_values)
{
	char v[64];
	hvd_cgroup_cpu_max(20, v, sizeof(v));
	cr_expect_str_eq(v, "20000 100000");
	hvd_cgroup_cpu_max(150, v, sizeof(v));
	cr_expect_str_eq(v, "150000 100000");
	hvd_cgroup_cpu_max(0, v, sizeof(v));
	cr_expect_str_eq(v, "max 100000");
	hvd_cgroup_cfs_quota(150, v, sizeof(v));
	cr_expect_str_eq(v, "150000");
	hvd_cgroup_cfs_quota(0, v, sizeof(v));
	cr_expect_str_eq(v, "-1");
	hvd_cgroup_memory_max(1ull << 30, v, sizeof(v));
	cr_expect_str_eq(v, "1140850688"); /* 1 GiB + 64 MiB */
	hvd_cgroup_memory_max(UINT64_MAX, v, sizeof(v));
	cr_expect_str_eq(v, "max");
	hvd_cgroup_limit_in_bytes(UINT64_MAX, v, sizeof(v));
	cr_expect_str_eq(v, "-1");
	hvd_cgroup_limit_in_bytes(0, v, sizeof(v));
	cr_expect_str_eq(v, "67108864");
}

Test(cgroup, tenant_names)
{
	cr_expect(hvd_cgroup_name_ok("ci"));
	cr_expect(hvd_cgroup_name_ok("uid:1000"));
	cr_expect(hvd_cgroup_name_ok("group:build-farm_2"));
	cr_expect(!hvd_cgroup_name_ok(""));
	cr_expect(!hvd_cgroup_name_ok(".."));
	cr_expect(!hvd_cgroup_name_ok(".hidden"));
	cr_expect(!hvd_cgroup_name_ok("a/b"));
	cr_expect(!hvd_cgroup_name_ok("a b"));
	cr_expect(!hvd_cgroup_name_ok("a\nb"));
}
