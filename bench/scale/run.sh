#!/usr/bin/env bash
# bench/scale/run.sh BUILD_DIR
#
# The scale benchmark: one hvd with four tenants (by uid), 200+ VMs from
# 200+ client processes (one VM and one vCPU each), then: VM creation rate,
# hvd's memory per VM, exit round trip and RPC latency idle vs. under load,
# and a noisy tenant held to max_rpc_rate. See docs/scale.md.
#
#   cmake --build build --target hvscale-bench && sudo bench/scale/run.sh build
#
# Must run as root: the clients drop to uids 61001..61004 with setresuid.
# Environment (defaults): HVSCALE_VMS (200) HVSCALE_BATCH (20)
# HVSCALE_LOAD (16) HVSCALE_ROUNDS (5) HVSCALE_ROUND_MS (400)
# HVSCALE_RAM_KIB (64) HVSCALE_FLOODERS (4) HVSCALE_SPINNERS (2)
# HVSCALE_GREEDY (2) HVSCALE_NOISY_RATE (2000) HVSCALE_NOISY_CPU (20, percent; 0 = unmetered)
# HVSCALE_NOISY_NICE (0; nice value of the noisy tenant's client processes)
# HVSCALE_CGROUPS (0; 1: hvd --cgroups, a cgroup per tenant).
# Numbers are comparable only within one run (shared/design/kvm-notes.md §8).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
bin=$build/bench/scale/hvscale
hvd=$build/daemon/hvd
hvctl=$build/hvctl/hvctl
for f in "$bin" "$hvd" "$hvctl"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f missing: cmake --build $1 --target hvscale-bench" >&2
		exit 1
	fi
done
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: must run as root (clients run as uids 61001..61004)" >&2
	exit 1
fi

# The clients (other uids) must reach the socket: the directory is 0755.
tmp=$(mktemp -d /tmp/hvscale.XXXXXX)
chmod 755 "$tmp"
driver=
cleanup() {
	# hvscale kills its clients and hvd itself; they also die with it
	# (PR_SET_PDEATHSIG). This is the fallback for an interrupted run:
	# hvscale leads its own process group.
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null || true
		sleep 1
		kill -KILL -- "-$driver" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
echo "host: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); build: $build (CMAKE_BUILD_TYPE=${build_type:-none})"
echo "limits: open files $(ulimit -n), processes $(ulimit -u)"

setsid "$bin" "$hvd" "$hvctl" "$tmp" &
driver=$!
rc=0
wait "$driver" || rc=$?
driver=
if [ -s "$tmp/hvd.log" ]; then
	echo
	echo "hvd log (warnings):"
	sed 's/^/  /' "$tmp/hvd.log" | head -n 40
fi
exit "$rc"
