#!/usr/bin/env bash
# hvctl metrics: hvd's state in Prometheus's text format, checked with a
# real Prometheus parser (promtool check metrics, from Debian's prometheus
# package: scripts/deps.sh unpacks it into /var/cache/hvd-promtool), while
# a VM runs and a tenant object exists; --output writes it atomically.
# hvd's own counters: a VM over a tenant's max_vms is a quota refusal,
# every answer is in the RPC histogram, a guest's OUT exits are counted
# by reason.
set -u
hvd=$1 hvctl=$2 client=$3
promtool=${PROMTOOL:-/var/cache/hvd-promtool/promtool}
if [ ! -x "$promtool" ]; then
	echo "metrics: skipped: no promtool at $promtool (scripts/deps.sh fetches it)"
	exit 77
fi
dir=$(mktemp -d /tmp/hvd-metrics.XXXXXX)
hvd_pid= spin_pid= out_pid= hold_pid= http_pid=
cleanup() {
	for p in $spin_pid $out_pid $hold_pid $http_pid; do kill "$p" 2>/dev/null; done
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
HVD_SOCKET=$dir/s "$client" --spin 30000 >"$dir/client.out" 2>&1 &
spin_pid=$!
for _ in $(seq 200); do h list --json | grep -q '"pid": *'"$spin_pid" && break; sleep 0.02; done
h list --json | grep -q '"pid": *'"$spin_pid" || fail "the spinning client's VM never appeared"
HVD_SOCKET=$dir/s "$client" --outloop 30000 >"$dir/out.out" 2>&1 &
out_pid=$!

# A tenant on its own socket (in a directory hvd's uid may write) with
# room for one VM: a second VM is refused by the quota.
chmod 755 "$dir" && mkdir "$dir/t" && chmod 1777 "$dir/t"
h tenant add one --socket "$dir/t/one.sock" --max-vms 1 >"$dir/tadd.out" 2>&1 || fail "tenant add one: $(cat "$dir/tadd.out")"
HVD_SOCKET=$dir/t/one.sock "$client" --spin 30000 >"$dir/hold.out" 2>&1 &
hold_pid=$!
for _ in $(seq 200); do h list --json | grep -q '"pid": *'"$hold_pid" && break; sleep 0.02; done
HVD_SOCKET=$dir/t/one.sock "$client" >"$dir/second.out" 2>&1 && fail "a second VM of tenant one was not refused"
grep -Eq 'create=0xfae94003|HV_NO_RESOURCES: max_vms' "$dir/second.out" || fail "the second VM was not refused for the quota: $(cat "$dir/second.out")"

# The worker refreshes its counters a few times a second, and a loaded
# machine may give the spinning guest little CPU at first: ask again
# until it shows (at most ~10 s).
for _ in $(seq 100); do
	h metrics >"$dir/m.txt" || fail "hvctl metrics exited $?"
	# (The exit-handling histogram comes from the worker's counters page,
	# refreshed four times a second; exits by reason from a live show.)
	awk '/^hvd_vm_cpu_seconds_total\{/ { if ($2 > 0.1) c = 1 } /^hvd_vm_exits_by_reason_total\{.*reason="IO"/ { if ($2 > 0) e = 1 }
	     /^hvd_exit_handling_seconds_count / { if ($2 >= 100) x = 1 }
	     END { exit !(c && e && x) }' "$dir/m.txt" && break
	sleep 0.1
done
"$promtool" check metrics <"$dir/m.txt" >"$dir/lint.txt" 2>&1 ||
	fail "promtool rejects the exposition: $(cat "$dir/lint.txt")"
grep -q '^hvd_up 1$' "$dir/m.txt" || fail "no hvd_up"
grep -q '^hvd_vms 3$' "$dir/m.txt" || fail "hvd_vms is not 3: $(grep '^hvd_vms' "$dir/m.txt")"
grep -Eq '^hvd_vm_vcpus\{vm="[0-9]+",tenant="[^"]+"\} 1$' "$dir/m.txt" || fail "no VM with one vCPU"
awk '/^hvd_vm_cpu_seconds_total\{/ { if ($2 > 0.1) ok = 1 } END { exit !ok }' "$dir/m.txt" ||
	fail "the spinning VM shows no CPU time: $(grep cpu_seconds "$dir/m.txt")"
grep -q '^hvd_tenant_quota_vms{tenant="ci"} 3$' "$dir/m.txt" || fail "no quota of tenant ci"
grep -q '^hvd_tenant_quota_cpu_percent{tenant="ci"} 50$' "$dir/m.txt" || fail "no cpu quota of ci"
awk '/^hvd_vm_exits_by_reason_total\{.*reason="IO"/ { if ($2 > 0) ok = 1 } END { exit !ok }' "$dir/m.txt" ||
	fail "no IO exits by reason for the OUT loop: $(grep by_reason "$dir/m.txt")"
awk '/^hvd_refusals_total\{kind="quota"\}/ { if ($2 >= 1) ok = 1 } END { exit !ok }' "$dir/m.txt" ||
	fail "the refused VM is not counted: $(grep refusals "$dir/m.txt")"
# The histogram: cumulative buckets ending in +Inf = _count, which
# counts the calls made so far (tenant add, list, the clients' calls).
awk '/^hvd_rpc_duration_seconds_bucket\{le="\+Inf"\}/ { inf = $2 } /^hvd_rpc_duration_seconds_count / { n = $2 }
     END { exit !(n >= 5 && inf == n) }' "$dir/m.txt" ||
	fail "the RPC histogram is off: $(grep rpc_duration "$dir/m.txt")"
# Exit handling: the OUT loop's runs are counted, the buckets only grow
# and end at _count, and the time outside the guest is positive.
awk '/^hvd_exit_handling_seconds_bucket/ { if ($2 < last) bad = 1; last = $2 }
     /^hvd_exit_handling_seconds_bucket\{le="\+Inf"\}/ { inf = $2 }
     /^hvd_exit_handling_seconds_count / { n = $2 } /^hvd_exit_handling_seconds_sum / { s = $2 }
     END { exit !(!bad && n >= 100 && inf == n && s > 0) }' "$dir/m.txt" ||
	fail "the exit-handling histogram is off: $(grep exit_handling "$dir/m.txt")"

# The textfile: written whole, then renamed; no temporary left behind.
h metrics --output "$dir/hvd.prom" || fail "metrics --output"
"$promtool" check metrics <"$dir/hvd.prom" >/dev/null 2>&1 || fail "the textfile does not parse"
ls "$dir" | grep -q 'hvd.prom.tmp' && fail "a temporary file was left"

# The scrape target: hvctl metrics --listen answers GET /metrics with a
# fresh exposition, 404 elsewhere, and a connection that never sends its
# request holds the others up for its timeout only.
get() { # PORT PATH: the whole HTTP answer
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$2" >&3
	timeout 10 cat <&3
	exec 3<&-
}
port=
for try in 1 2 3 4 5; do
	p=$((20000 + (RANDOM % 20000)))
	"$hvctl" --socket "$dir/s" metrics --listen "127.0.0.1:$p" 2>"$dir/http.err" &
	http_pid=$!
	for _ in $(seq 100); do grep -q serving "$dir/http.err" && break; kill -0 "$http_pid" 2>/dev/null || break; sleep 0.02; done
	if grep -q serving "$dir/http.err"; then port=$p; break; fi
	wait "$http_pid" 2>/dev/null; http_pid=
done
[ -n "$port" ] || fail "hvctl metrics --listen did not start: $(cat "$dir/http.err")"
get "$port" /metrics >"$dir/http.txt" || fail "no answer from the scrape target"
head -1 "$dir/http.txt" | grep -q '^HTTP/1.1 200' || fail "GET /metrics: $(head -1 "$dir/http.txt")"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$dir/http.txt" || fail "no exposition content type"
sed '1,/^\r*$/d' "$dir/http.txt" >"$dir/http-body.txt"
"$promtool" check metrics <"$dir/http-body.txt" >"$dir/lint2.txt" 2>&1 ||
	fail "promtool rejects the served exposition: $(cat "$dir/lint2.txt")"
grep -q '^hvd_vms 3$' "$dir/http-body.txt" || fail "the served exposition has no hvd_vms 3"
get "$port" /nothing | head -1 | grep -q '^HTTP/1.1 404' || fail "GET /nothing was not a 404"
exec 4<>"/dev/tcp/127.0.0.1/$port" # says nothing
get "$port" /metrics | head -1 | grep -q '^HTTP/1.1 200' || fail "a silent connection blocked the scrape"
exec 4<&-

# The parser is not a rubber stamp: a broken line is refused.
{ cat "$dir/m.txt"; echo 'hvd_vm_vcpus{vm="1" 1'; } | "$promtool" check metrics >/dev/null 2>&1 &&
	fail "promtool accepted a broken line"
echo "metrics: ok"
