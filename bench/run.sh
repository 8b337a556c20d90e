#!/usr/bin/env bash
# bench/run.sh BUILD_DIR [ROUNDS] [EXITS]
#
# Runs hvbench: raw in-process KVM, libhvdirect and libhvclient+hvd on the
# same real-mode guest, interleaved round by round (the order rotates every
# round) so that the host's noise hits all three alike, and prints medians
# and ratios. Numbers are only comparable within one run of this script
# (shared/design/kvm-notes.md §8).
#
#   cmake --build build --target hvbench && bench/run.sh build
#
# Environment: HVBENCH_REG_ITERS (default 1000000), HVBENCH_CREATE_ITERS
# (VM creations per process, default 4: the first is "cold").
# Needs /dev/kvm. strace and perf are optional (syscall checks).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
	echo "usage: $0 BUILD_DIR [ROUNDS] [EXITS]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
rounds=${2:-5}
exits=${3:-20000}
reg_iters=${HVBENCH_REG_ITERS:-1000000}
create_iters=${HVBENCH_CREATE_ITERS:-4}
bin=$build/bench
hvd=$build/daemon/hvd
impls=(raw direct client inproc)

for f in "$bin/hvbench-raw" "$bin/hvbench-direct" "$bin/hvbench-client" "$hvd"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f missing: cmake --build $1 --target hvbench" >&2
		exit 1
	fi
done

tmp=$(mktemp -d /tmp/hvbench.XXXXXX)
sock=$tmp/hvd.sock
hvd_pid=
hvd2_pid=
cleanup() {
	for p in $hvd_pid $hvd2_pid; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# Raw KVM on a host where no other VM exists, before hvd starts: hvd
# holds an idle VM (hvd_main.c keep_kvm_warm), and while any VM exists KVM
# does not patch kernel code at each VM's creation and end. What a program
# doing it all by itself on an otherwise VM-less host gets.
for _ in $(seq 1 "$rounds"); do
	"$bin/hvbench-raw" create "$create_iters" 2>/dev/null |
		awk '$1 == "create_us" && $2 > 0 { print $3 }' >>"$tmp/warm_alone" || true
done

# A private hvd for the client variant.
"$hvd" --socket "$sock" --log-level warn 2>"$tmp/hvd.log" &
hvd_pid=$!
for _ in $(seq 1 300); do
	[ -S "$sock" ] && break
	if ! kill -0 "$hvd_pid" 2>/dev/null; then
		echo "run.sh: hvd exited early:" >&2
		cat "$tmp/hvd.log" >&2
		hvd_pid=
		exit 1
	fi
	sleep 0.01
done
[ -S "$sock" ] || { echo "run.sh: hvd did not create $sock" >&2; exit 1; }
export HVD_SOCKET=$sock
# And one with VMs in hvd's own process (--in-process), the shape before
# worker processes: `inproc` is libhvclient against it.
sock2=$tmp/hvd-inproc.sock
"$hvd" --socket "$sock2" --in-process --log-level warn 2>"$tmp/hvd2.log" &
hvd2_pid=$!
for _ in $(seq 1 300); do
	[ -S "$sock2" ] && break
	sleep 0.01
done
[ -S "$sock2" ] || { echo "run.sh: hvd --in-process did not create $sock2" >&2; exit 1; }

# run IMPL ARGS...: one benchmark process; its stdout.
run() {
	local impl=$1 sockf=$HVD_SOCKET
	shift
	if [ "$impl" = inproc ]; then impl=client; sockf=$sock2; fi
	if ! HVD_SOCKET=$sockf "$bin/hvbench-$impl" "$@" 2>"$tmp/err"; then
		echo "run.sh: hvbench-$impl $* failed:" >&2
		cat "$tmp/err" >&2
		echo "hvd log:" >&2
		cat "$tmp/hvd.log" >&2
		exit 1
	fi
}

# median FILE: median of the numbers in FILE, one per line.
median() {
	sort -g "$1" | awk '{ v[NR] = $1 }
		END { if (NR == 0) print "nan";
		      else if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
		      else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() { tr '\n' ' ' <"$1" | awk '{ for (i = 1; i <= NF; i++) printf " %9.3f", $i }'; }

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
cat <<EOF
hvbench: raw KVM vs libhvdirect vs libhvclient+hvd, one run, same guest
host: $(uname -r), $(nproc) CPUs; build: $build (CMAKE_BUILD_TYPE=${build_type:-none})
guest: real mode, 'out 0x10, al; jmp' loop at 0000:1000: every run = 1 OUT exit

  raw    = in-process KVM_RUN loop on /dev/kvm; RAX/RIP read from kvm_run
           sync regs (REGS|SREGS), no ioctl besides KVM_RUN
  direct = Apple API in-process (libhvdirect)
  client = Apple API served by hvd (libhvclient, shared run page + futex),
           hvd started by this script on a private socket; the VM lives
           in one of hvd's worker processes
  inproc = the same against an hvd started with --in-process (the VM in
           hvd's own process, as before worker processes)
  API round trip = hv_vcpu_run + read EXIT_REASON, EXIT_QUALIFIC,
           VMEXIT_INSTR_LEN (VMCS), RAX, RIP + write RIP = RIP + len
  Each round runs every implementation once (fresh process, order rotated,
  1000 warm-up exits untimed); a round's value is its mean. Medians over
  rounds; ratios are median / median. Compare only within this run.

EOF

# ---- 1. exit round trip ----
# rawbp is not a fourth implementation: it is raw plus the one thing the
# backend adds per real-mode vCPU (an armed hardware breakpoint), run in
# the same rounds to show where the direct - raw gap goes.
exit_impls=(raw direct client inproc rawbp)
for r in $(seq 0 $((rounds - 1))); do
	for k in 0 1 2 3 4; do
		impl=${exit_impls[$(((r + k) % 5))]}
		if [ "$impl" = rawbp ]; then
			run raw exits "$exits" --hw-bp
		else
			run "$impl" exits "$exits"
		fi | awk '$1 == "exit_us" { print $2 }' >>"$tmp/exit_$impl"
	done
done
echo "== exit round trip: µs per exit ($rounds rounds x $exits exits) =="
printf '%-7s %s  %9s  %s\n' impl "$(for r in $(seq 1 "$rounds"); do printf ' %9s' "round$r"; done)" median "vs raw"
for impl in "${exit_impls[@]}"; do
	m=$(median "$tmp/exit_$impl")
	printf -v "exit_med_$impl" '%s' "$m"
	label=$impl
	[ "$impl" = rawbp ] && label=raw+bp
	printf '%-7s %s  %9s  %sx\n' "$label" "$(row "$tmp/exit_$impl")" "$m" "$(ratio "$m" "$exit_med_raw")"
done
echo "raw+bp = raw with a KVM_SET_GUEST_DEBUG hardware breakpoint armed (never hit), as the"
echo "         backend arms one for every real-mode vCPU (hidden IVT trap); for reference only"
echo "ratio client/raw = $(ratio "$exit_med_client" "$exit_med_raw")   direct/raw = $(ratio "$exit_med_direct" "$exit_med_raw")   client/direct = $(ratio "$exit_med_client" "$exit_med_direct")"
echo "ratio inproc/raw = $(ratio "$exit_med_inproc" "$exit_med_raw")   client/inproc = $(ratio "$exit_med_client" "$exit_med_inproc")   (workers vs VMs in hvd)"
echo

# ---- 2. register read + write between runs ----
for r in $(seq 0 $((rounds - 1))); do
	if [ $((r % 2)) -eq 0 ]; then order="direct client"; else order="client direct"; fi
	for impl in $order; do
		run "$impl" regs "$reg_iters" | awk '$1 == "regs_ns" { print $2 }' >>"$tmp/regs_$impl"
	done
done
echo "== hv_vcpu_read_register(RAX) + hv_vcpu_write_register(RAX) pair between runs: ns per pair ($rounds rounds x $reg_iters) =="
for impl in direct client; do
	m=$(median "$tmp/regs_$impl")
	printf -v "regs_med_$impl" '%s' "$m"
	printf '%-7s %s  median %9s\n' "$impl" "$(row "$tmp/regs_$impl")" "$m"
done
echo "ratio client/direct = $(ratio "$regs_med_client" "$regs_med_direct")   (raw: n/a, sync regs are plain memory)"

# Syscalls made by the register loop: strace -f the whole process, count the
# calls between the two getpid() markers that bracket the loop.
if command -v strace >/dev/null; then
	for impl in direct client; do
		strace -f -e trace=all -o "$tmp/strace_$impl" \
			"$bin/hvbench-$impl" regs "$reg_iters" --marker 2>"$tmp/err" >/dev/null ||
			{ echo "run.sh: strace hvbench-$impl failed:" >&2; cat "$tmp/err" >&2; exit 1; }
		awk '/ getpid\(\)/ { m++; next }
		     m == 1 && !/<\.\.\. .* resumed>/ && !/^[0-9]+ +(\+\+\+|---)/ { n++; print > "/dev/stderr" }
		     END { if (m < 2) print "markers-missing"; else print n + 0 }' \
			"$tmp/strace_$impl" >"$tmp/sc_$impl" 2>"$tmp/sc_${impl}_calls"
	done
	echo "syscalls inside the $reg_iters-iteration loop (strace -f, all threads, between getpid markers):" \
		"direct $(cat "$tmp/sc_direct")   client $(cat "$tmp/sc_client")"
	for impl in direct client; do
		if [ -s "$tmp/sc_${impl}_calls" ]; then
			echo "  $impl made:"; head -n 10 "$tmp/sc_${impl}_calls" | sed 's/^/    /'
		fi
	done
else
	echo "syscalls inside the loop: strace not installed, skipped"
fi
# Cross-check without ptrace: kernel tracepoint count for a whole process
# with the loop at full length minus the same process with 1 iteration.
if command -v perf >/dev/null &&
	perf stat -x, -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
	line="perf stat raw_syscalls:sys_enter, whole process, regs $reg_iters minus regs 1:"
	for impl in direct client; do
		long=$(perf stat -x, -e raw_syscalls:sys_enter "$bin/hvbench-$impl" regs "$reg_iters" 2>&1 >/dev/null |
			awk -F, '/raw_syscalls/ { print $1 }')
		short=$(perf stat -x, -e raw_syscalls:sys_enter "$bin/hvbench-$impl" regs 1 2>&1 >/dev/null |
			awk -F, '/raw_syscalls/ { print $1 }')
		if [ -n "$long" ] && [ -n "$short" ] && [ "$long" -eq "$long" ] 2>/dev/null; then
			line="$line $impl $((long - short)) ($long-$short)"
		else
			line="$line $impl n/a"
		fi
	done
	echo "$line"
	echo "  (the whole-process count includes setup and runs; client runs may spin or futex-sleep, so +-a few is noise)"
else
	echo "perf cross-check: perf or the raw_syscalls tracepoint unavailable, skipped"
fi
echo

# ---- 3. VM create + map 64 MiB + vCPU create + setup + first exit ----
for r in $(seq 0 $((rounds - 1))); do
	for k in 0 1 2 3; do
		impl=${impls[$(((r + k) % 4))]}
		run "$impl" create "$create_iters" >"$tmp/out"
		awk '$1 == "create_us" && $2 == 0 { print $3 }' "$tmp/out" >>"$tmp/cold_$impl"
		awk '$1 == "create_us" && $2 > 0 { print $3 }' "$tmp/out" >>"$tmp/warm_$impl"
		awk -v d="$tmp" -v impl="$impl" '$1 == "step_us" && $2 > 0 {
			print $4 >>(d "/step_" impl "_" $3) }' "$tmp/out"
	done
done
cat <<EOF
== VM create + 64 MiB map + vCPU create + setup + first exit: µs ($rounds rounds) ==
  raw: KVM_CREATE_VM + mmap anonymous 64 MiB + memslot + KVM_CREATE_VCPU +
       mmap kvm_run + SREGS/REGS + first KVM_RUN
  API: hv_vm_create + valloc 64 MiB + hv_vm_map + hv_vcpu_create + VMCS
       setup (as examples/hello) + first hv_vcpu_run
  cold = first VM of a fresh process (includes opening /dev/kvm; direct:
         the backend's host probe; client: connecting to hvd)
  warm = VMs 2..$create_iters of the same process (after hv_vm_destroy)
EOF
printf '%-7s %12s %8s   %12s %8s\n' impl "cold median" "vs raw" "warm median" "vs raw"
for impl in "${impls[@]}"; do
	c=$(median "$tmp/cold_$impl")
	w=$(median "$tmp/warm_$impl")
	printf -v "cold_med_$impl" '%s' "$c"
	printf -v "warm_med_$impl" '%s' "$w"
	printf '%-7s %12s %7sx   %12s %7sx\n' "$impl" "$c" "$(ratio "$c" "$cold_med_raw")" \
		"$w" "$(ratio "$w" "$warm_med_raw")"
done
echo "ratio cold: client/raw = $(ratio "$cold_med_client" "$cold_med_raw")   direct/raw = $(ratio "$cold_med_direct" "$cold_med_raw")"
echo "ratio warm: client/raw = $(ratio "$warm_med_client" "$warm_med_raw")   direct/raw = $(ratio "$warm_med_direct" "$warm_med_raw")"
echo "ratio cold: client/inproc = $(ratio "$cold_med_client" "$cold_med_inproc")   warm: client/inproc = $(ratio "$warm_med_client" "$warm_med_inproc")   (workers vs VMs in hvd)"
alone=$(median "$tmp/warm_alone")
echo "raw above ran beside hvd's idle VM (hvd_main.c keep_kvm_warm), as on any host with a VM;"
echo "  raw warm on this host with no VM at all (measured before hvd started): $alone µs,"
echo "  client/raw-alone = $(ratio "$warm_med_client" "$alone")   raw/raw-alone = $(ratio "$warm_med_raw" "$alone")"
echo "warm, by step (median µs of each step alone; raw's steps are its KVM calls for the same:"
echo "  vm_create = KVM_CREATE_VM, map = mmap + guest load + memslot, vcpu_create ="
echo "  KVM_CREATE_VCPU + mmap kvm_run, setup = SREGS/REGS, first_run = KVM_RUN)"
steps=(vm_create map vcpu_create setup first_run)
printf '  %-7s' impl; printf ' %11s' "${steps[@]}"; echo
for impl in "${impls[@]}"; do
	printf '  %-7s' "$impl"
	for st in "${steps[@]}"; do
		m=$(median "$tmp/step_${impl}_$st")
		printf -v "step_med_${impl}_$st" '%s' "$m"
		printf ' %11s' "$m"
	done
	echo
done
printf '  %-7s' "client/raw"
for st in "${steps[@]}"; do
	a=step_med_client_$st b=step_med_raw_$st
	printf ' %10sx' "$(ratio "${!a}" "${!b}")"
done
echo

if ! kill -0 "$hvd_pid" 2>/dev/null; then
	echo "run.sh: hvd died during the run:" >&2
	cat "$tmp/hvd.log" >&2
	exit 1
fi
if [ -s "$tmp/hvd.log" ]; then
	echo
	echo "hvd log (warnings):"
	sed 's/^/  /' "$tmp/hvd.log"
fi
