#!/usr/bin/env bash
# bench/busy.sh BUILD_DIR [N]
#
# How much CPU (all CPUs together) one VM start-up and end costs: raw KVM
# in-process, then libhvclient through a private hvd, each N times
# (`hvbench-* create N`), from /proc/stat's busy and idle time around the
# run. Wall time alone hides work done on the other CPU; on a 2-CPU host
# the path through hvd can be CPU-bound rather than waiting
# (bench/README.md, "Where warm create's time goes"). /proc/stat counts
# in clock ticks (10 ms here), so N should make each run last a second or
# more (default 400). Compare the two lines of one run only.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILD_DIR [N]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
n=${2:-400}
ncpu=$(nproc)

# Busy and idle ticks of all CPUs: user nice system irq softirq steal, and
# idle iowait.
ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

measure() {
	local name=$1 out
	shift
	out=$(mktemp)
	read -r b0 i0 < <(ticks)
	"$@" >"$out"
	read -r b1 i1 < <(ticks)
	local hz
	hz=$(getconf CLK_TCK)
	awk -v name="$name" -v b=$((b1 - b0)) -v i=$((i1 - i0)) -v hz="$hz" -v n="$n" -v c="$ncpu" '
		$1 == "create_us" && $2 > 0 { s += $3; k++ }
		END {
			busy = b * 1000 / hz; idle = i * 1000 / hz
			printf "%-7s busy %7.0f ms  idle %7.0f ms  per VM: CPU %.2f ms, " \
			       "wall %.2f ms (create..first exit %.0f us, warm mean)\n",
			       name, busy, idle, busy / n, (busy + idle) / n / c, s / k
		}' "$out"
	rm -f "$out"
}

# Under a private hvd (scripts/with-hvd.sh), started before anything is
# counted; raw then runs beside hvd's idle VM, as the client does.
if [ -z "${HVBUSY_IN_HVD:-}" ]; then
	HVBUSY_IN_HVD=1 exec "$(dirname "$0")/../scripts/with-hvd.sh" "$build/daemon/hvd" \
		"$0" "$build" "$n"
fi
sleep 0.5   # hvd's worker pool started
measure raw "$build/bench/hvbench-raw" create "$n"
measure client "$build/bench/hvbench-client" create "$n"
