#!/usr/bin/env bash
# hvctl metrics: hvd's state in Prometheus's text format, checked with a
# real Prometheus parser (promtool check metrics, from Debian's prometheus
# package: scripts/deps.sh unpacks it into /var/cache/hvd-promtool), while
# a VM runs and a tenant object exists; --output writes it atomically.
set -u
hvd=$1 hvctl=$2 client=$3
promtool=${PROMTOOL:-/var/cache/hvd-promtool/promtool}
if [ ! -x "$promtool" ]; then
	echo "metrics: skipped: no promtool at $promtool (scripts/deps.sh fetches it)"
	exit 77
fi
dir=$(mktemp -d /tmp/hvd-metrics.XXXXXX)
hvd_pid= spin_pid=
cleanup() {
	[ -n "$spin_pid" ] && kill "$spin_pid" 2>/dev/null
	[ -n "$hvd_pid" ] && kill -TERM "$hvd_pid" 2>/dev/null && wait "$hvd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$hvd" --socket "$dir/s" --state-dir "$dir/state" --log-level warn 2>"$dir/hvd.err" &
hvd_pid=$!
for _ in $(seq 300); do [ -S "$dir/s" ] && break; sleep 0.01; done
[ -S "$dir/s" ] || fail "hvd did not start: $(cat "$dir/hvd.err")"
h() { "$hvctl" --socket "$dir/s" "$@"; }

h tenant add ci --max-vms 3 --max-cpu-percent 50 >/dev/null || fail "tenant add"
HVD_SOCKET=$dir/s "$client" --spin 5000 >"$dir/client.out" 2>&1 &
spin_pid=$!
for _ in $(seq 200); do h list --json | grep -q '"pid": *'"$spin_pid" && break; sleep 0.02; done
h list --json | grep -q '"pid": *'"$spin_pid" || fail "the spinning client's VM never appeared"
sleep 0.6 # a counters refresh or two in the worker

h metrics >"$dir/m.txt" || fail "hvctl metrics exited $?"
"$promtool" check metrics <"$dir/m.txt" >"$dir/lint.txt" 2>&1 ||
	fail "promtool rejects the exposition: $(cat "$dir/lint.txt")"
grep -q '^hvd_up 1$' "$dir/m.txt" || fail "no hvd_up"
grep -q '^hvd_vms 1$' "$dir/m.txt" || fail "hvd_vms is not 1: $(grep '^hvd_vms' "$dir/m.txt")"
grep -Eq '^hvd_vm_vcpus\{vm="[0-9]+",tenant="[^"]+"\} 1$' "$dir/m.txt" || fail "no VM with one vCPU"
awk '/^hvd_vm_cpu_seconds_total\{/ { if ($2 > 0.1) ok = 1 } END { exit !ok }' "$dir/m.txt" ||
	fail "the spinning VM shows no CPU time: $(grep cpu_seconds "$dir/m.txt")"
grep -q '^hvd_tenant_quota_vms{tenant="ci"} 3$' "$dir/m.txt" || fail "no quota of tenant ci"
grep -q '^hvd_tenant_quota_cpu_percent{tenant="ci"} 50$' "$dir/m.txt" || fail "no cpu quota of ci"

# The textfile: written whole, then renamed; no temporary left behind.
h metrics --output "$dir/hvd.prom" || fail "metrics --output"
"$promtool" check metrics <"$dir/hvd.prom" >/dev/null 2>&1 || fail "the textfile does not parse"
ls "$dir" | grep -q 'hvd.prom.tmp' && fail "a temporary file was left"

# The parser is not a rubber stamp: a broken line is refused.
{ cat "$dir/m.txt"; echo 'hvd_vm_vcpus{vm="1" 1'; } | "$promtool" check metrics >/dev/null 2>&1 &&
	fail "promtool accepted a broken line"
echo "metrics: ok"
