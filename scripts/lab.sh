#!/usr/bin/env bash
# lab.sh: run hvd's suites on a KVM flavour this machine does not have, in
# a test host that QEMU emulates (TCG) and whose own kernel runs KVM.
#
#   scripts/lab.sh amd test          the conformance suites (in-process and
#                                    through hvd), the examples and the
#                                    system tests, inside a kvm_amd host;
#                                    closing line "lab amd: N passed,
#                                    M failed, K inconclusive"; non-zero
#                                    exit if anything failed
#   scripts/lab.sh amd run -- CMD... one command inside the test host, with
#                                    the build tree and an hvd on
#                                    $HVD_SOCKET started for it; CMD's
#                                    output and exit status
#   scripts/lab.sh amd selftest      the script's own checks: an exit status
#                                    comes back, a stalled machine is killed
#   scripts/lab.sh amd shell-script  print the guest's init (for reading)
#   scripts/lab.sh arm64 run|selftest|test|shell-script
#                                    the same on an arm64 host with
#                                    KVM/arm64 (QEMU virt at EL2): the tree
#                                    cross-built for arm64 (CMake with
#                                    cmake/aarch64-linux-gnu.cmake, on the
#                                    sysroot of scripts/arm64-sysroot.sh,
#                                    whose libraries the test host uses),
#                                    an arm64 hvd started for `run`; CMD
#                                    runs under busybox sh; test runs the
#                                    programs of the build's lab64-tests.txt
#                                    (the arm64 suites, both variants, and
#                                    the examples; closing line "lab arm64:
#                                    N passed, M failed, K inconclusive")
#
# The test host is Debian's own kernel (downloaded and unpacked, never
# installed) booted by qemu-system-x86_64 with nested SVM and nested
# paging, a busybox initramfs, and this machine's root file system shared
# read-only over virtio-9p under a tmpfs overlay, so the guest runs the
# very binaries of the build tree and writes nowhere on the host but a
# per-run directory. Kernel messages go to one serial port, the command's
# output to another; a watchdog on the host kills a machine whose command
# has printed nothing for LAB_STALL seconds. Under `test` the test running
# then is reported inconclusive, the machine rebooted, and the suite goes
# on with the tests not yet run. See docs/lab.md.
#
# Environment: LAB_BUILD (build tree, default build; built if needed),
# LAB_CACHE (kernel and initramfs, default /var/cache/hvd-lab), LAB_STALL
# (seconds, default 100), LAB_SMP (2; arm64 1), LAB_MEM (4G; arm64 1024),
# LAB_KEEP=1 keeps the run directory, LAB_ONLY (test: an extended glob of
# test names to run, e.g. 'exits/*'), LAB_SKIP_BUILD=1, LAB_PRELUDE (a
# command started in the background before the job), LAB_BUILD_ARM64
# (arm64: the cross build tree, default build-arm64), HVD_ARM64_SYSROOT
# (arm64: the sysroot, default /var/cache/hvd-lab/arm64/sysroot).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

kind=${1:-}
action=${2:-}
case "$kind/$action" in
amd/test | amd/run | amd/selftest | amd/shell-script) ;;
arm64/test | arm64/run | arm64/selftest | arm64/shell-script) ;;
*)
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
	;;
esac
shift 2
if [ "$action" = run ]; then
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || { echo "lab.sh: run needs a command after --" >&2; exit 2; }
fi

LAB_CACHE=${LAB_CACHE:-/var/cache/hvd-lab}
LAB_STALL=${LAB_STALL:-100}
if [ "$kind" = arm64 ]; then
	# One CPU: labs.md's measurements; what KVM/arm64 does is the point,
	# not parallel vCPUs.
	LAB_SMP=${LAB_SMP:-1}
	LAB_MEM=${LAB_MEM:-1024}
fi
LAB_SMP=${LAB_SMP:-2}
LAB_MEM=${LAB_MEM:-4G}
build=$(realpath -m "${LAB_BUILD:-build}")

log() { echo "lab $kind: $*" >&2; }
die() { log "$*"; exit 1; }

# --- the guest's init: runs as PID 1 from the initramfs -------------------
guest_init() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m.ko || echo "lab-init: insmod $m failed"
done
arg() { sed -n "s/.*\blab\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
job=$(arg job)
mkdir -p /host /rw /new
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro hostroot /host
mount -t tmpfs -o size=75% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /new
for d in proc sys dev; do mount --move /$d /new/$d; done
# /tmp stays the overlay's (the host's files, writes kept in the guest):
# a build tree may live under the host's /tmp, as CI's clones do.
mount -t tmpfs tmpfs /new/run
mkdir -p /new/dev/shm /new/dev/pts "/new$job"
mount -t tmpfs tmpfs /new/dev/shm
mount -t devpts devpts /new/dev/pts
mount -t cgroup2 cgroup2 /new/sys/fs/cgroup 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lab "/new$job"
echo 1 > /new/proc/sys/kernel/panic_on_oops
stty -F /new/dev/ttyS1 115200 raw -echo -opost 2>/dev/null
hostname lab
# Kernel text symbols (no KASLR), once per kernel: the watchdog names the
# functions the CPUs were in.
[ "$(arg kallsyms)" = 1 ] && grep ' [tT] ' /proc/kallsyms > "/new$job/kallsyms"
echo "lab-init: running $job/job.sh"
chroot /new /bin/sh -c "cd '$job' && exec /bin/bash ./job.sh" > /new/dev/ttyS1 2>&1 < /dev/null
echo $? > "/new$job/rc"
sync
echo "lab-init: done"
poweroff -f
EOF
}

[ "$action" = shell-script ] && [ "$kind" = amd ] && { guest_init; exit 0; }

# --- what the host needs ----------------------------------------------------
need_packages() {
	local missing=()
	command -v qemu-system-x86_64 > /dev/null || missing+=(qemu-system-x86)
	[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod &&
		file_is_static /bin/busybox || missing+=(busybox-static)
	command -v cpio > /dev/null || missing+=(cpio)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq > /dev/null || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" > /dev/null ||
			die "could not install ${missing[*]}"
	fi
}

file_is_static() { ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q INTERP; }

# Debian's current kernel (what linux-image-amd64 depends on), unpacked.
fetch_kernel() {
	local pkg ver dir tmp
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
	[ -n "$pkg" ] || pkg=$(ls "$LAB_CACHE/amd" 2>/dev/null | sed -n 's/^\(linux-image-.*\)$/\1/p' | tail -1)
	[ -n "$pkg" ] || die "cannot find Debian's linux-image-amd64 (apt-get update?)"
	dir=$LAB_CACHE/amd/$pkg
	if [ ! -f "$dir/.unpacked" ]; then
		log "fetching $pkg"
		tmp=$(mktemp -d)
		chmod 777 "$tmp"
		(cd "$tmp" && apt-get download "$pkg" > /dev/null 2>&1) ||
			{ rm -rf "$tmp"; die "apt-get download $pkg failed"; }
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg -x "$tmp"/*.deb "$dir"
		rm -rf "$tmp"
		touch "$dir/.unpacked"
	fi
	kdir=$dir
	kver=${pkg#linux-image-}
	vmlinuz=$dir/boot/vmlinuz-$kver
	[ -f "$vmlinuz" ] || die "no kernel image in $dir"
}

# The modules the init loads, dependencies first (read from each module's
# .modinfo; the package has no modules.dep).
module_order() {
	local mods=$kdir/lib/modules/$kver/kernel seen=" " out=()
	visit() {
		local name=$1 f deps d
		case "$seen" in *" $name "*) return ;; esac
		seen="$seen$name "
		f=$(find "$mods" -name "$name.ko" -o -name "${name//_/-}.ko" \
			-o -name "$name.ko.xz" -o -name "${name//_/-}.ko.xz" | head -1)
		[ -n "$f" ] || return 0 # built in
		deps=$(xz -dcf "$f" | strings -a | sed -n 's/^depends=//p' | tr ',' ' ')
		for d in $deps; do visit "$d"; done
		out+=("$f")
	}
	for m in ${lab_modules:-virtio_pci 9pnet_virtio 9p overlay kvm_amd}; do visit "$m"; done
	printf '%s\n' "${out[@]}"
}

build_initrd() {
	local sum dir f
	sum=$( (guest_init; echo "$kver"; sha256sum /bin/busybox) | sha256sum | cut -c1-16)
	initrd=$LAB_CACHE/amd/initrd-$kver-$sum.cpio.gz
	[ -f "$initrd" ] && return
	log "building the initramfs"
	dir=$(mktemp -d)
	mkdir -p "$dir"/{bin,proc,sys,dev,lib/modules}
	cp /bin/busybox "$dir/bin/busybox"
	guest_init > "$dir/init"
	chmod 755 "$dir/init"
	while read -r f; do
		cp "$f" "$dir/lib/modules/"
		basename "$f" .ko >> "$dir/lib/modules/order"
	done < <(module_order)
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$dir"
}

build_tree() {
	[ "${LAB_SKIP_BUILD:-0}" = 1 ] && return
	scripts/deps.sh > /dev/null
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHVD_WERROR=ON > /dev/null
	cmake --build "$build" -j"$(scripts/jobs.sh)" > /dev/null
}

# --- one boot ---------------------------------------------------------------
# boot JOBDIR: boots the test host, which runs JOBDIR/job.sh, and waits.
# Returns 0 when the job ended (its status in JOBDIR/rc), 3 when the
# watchdog killed a stalled machine, 4 when the machine died otherwise.
# With LAB_STREAM=1 the job's output is copied to stdout as it comes.
boot() {
	local job=$1 qpid last size now tailpid= ksyms=0
	[ -s "$LAB_CACHE/amd/kallsyms-$kver" ] || ksyms=1
	: > "$job/out.log"
	: > "$job/console.log"
	rm -f "$job/rc" "$job/mon.in" "$job/mon.out"
	mkfifo "$job/mon.in" "$job/mon.out"
	qemu-system-x86_64 -accel tcg,thread=multi -machine q35 \
		-cpu EPYC-Rome,+svm,+npt -smp "$LAB_SMP" -m "$LAB_MEM" \
		-display none -monitor pipe:"$job/mon" -no-reboot -nodefaults \
		-kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 nokaslr rdinit=/init lab.job=$job lab.kallsyms=$ksyms" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$job",mount_tag=lab,security_model=none,multidevs=remap \
		-serial file:"$job/console.log" -serial file:"$job/out.log" 2> "$job/qemu.log" &
	qpid=$!
	# The monitor's pipes stay open on this side for the machine's life.
	exec {mon_in}<> "$job/mon.in" {mon_out}<> "$job/mon.out"
	if [ "${LAB_STREAM:-0}" = 1 ]; then
		tail -n +1 -F --pid=$qpid "$job/out.log" 2>/dev/null &
		tailpid=$!
	fi
	last=$(date +%s)
	size=0
	stalled=0
	while kill -0 $qpid 2>/dev/null; do
		sleep 2
		now=$(date +%s)
		if [ "$(stat -c %s "$job/out.log")" != "$size" ]; then
			size=$(stat -c %s "$job/out.log")
			last=$now
		elif [ $((now - last)) -ge "$LAB_STALL" ]; then
			stalled=1
			cpu_state "$job" >> "$job/console.log"
			kill -KILL $qpid 2>/dev/null || true
			break
		fi
	done
	wait $qpid 2>/dev/null || true
	exec {mon_in}>&- {mon_out}<&-
	if [ -s "$job/kallsyms" ]; then
		mv "$job/kallsyms" "$LAB_CACHE/amd/kallsyms-$kver.tmp"
		mv "$LAB_CACHE/amd/kallsyms-$kver.tmp" "$LAB_CACHE/amd/kallsyms-$kver"
	fi
	[ -n "$tailpid" ] && { sleep 0.5; kill $tailpid 2>/dev/null || true; wait $tailpid 2>/dev/null || true; }
	[ $stalled = 1 ] && return 3
	[ -f "$job/rc" ] && return 0
	return 4
}

# What the emulated CPUs were doing when the watchdog fired (QEMU's
# monitor), so that a stall can be read afterwards.
cpu_state() {
	echo "--- lab watchdog: the machine's CPUs at the stall (QEMU monitor)"
	printf 'info cpus\ninfo registers -a\n' >&$mon_in
	timeout 5 cat <&$mon_out | tr -d '\r' | grep -v '^(qemu)' > "$job/cpus.txt" || true
	cat "$job/cpus.txt"
	# The kernel runs without KASLR: name the function each CPU is in
	# (Debian's System.map is a stub; the symbols come from the test
	# host's /proc/kallsyms).
	local map=$job/kallsyms r
	[ -s "$map" ] || map=$LAB_CACHE/amd/kallsyms-$kver
	[ -s "$map" ] || return 0
	for r in $(sed -n 's/^RIP=\(ffffffff[0-9a-f]*\).*/\1/p' "$job/cpus.txt"); do
		awk -v rip="$r" 'function hex(s,  i, n, c) { n = 0; s = tolower(substr(s, length(s) - 7))
				for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; n = n * 16 + c }
				return n }
			BEGIN { want = hex(rip) } $2 ~ /[tT]/ { a = hex($1); if (a <= want) { best = $3; off = want - a } }
			END { printf "--- lab watchdog: RIP %s is %s+%#x\n", rip, best, off }' "$map"
	done
}

new_job_dir() {
	job=$(mktemp -d /tmp/hvd-lab.XXXXXX)
	chmod 755 "$job"
	lab_dirs="${lab_dirs:-} $job"
	[ "${LAB_KEEP:-0}" = 1 ] || trap 'rm -rf $lab_dirs' EXIT
}

# The environment every job starts with: the build tree and where the
# test programs find hvd and hvctl.
job_prologue() {
	cat <<EOF
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8
export HVD_TEST_DAEMON=$build/daemon/hvd HVD_TEST_HVCTL=$build/hvctl/hvctl
cd $root
echo "@@lab up \$(uname -r) \$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)"
EOF
	# Keep KVM from patching the kernel's text as vCPUs come and go
	# (tests/lab/kvm_keyhold.c: it locks up two-CPU TCG hosts).
	printf '%s/tests/lab/kvm_keyhold &\n' "$build"
	# LAB_PRELUDE: a command started in the background before the job
	# (for experiments on the test host).
	[ -n "${LAB_PRELUDE:-}" ] && printf '( %s ) &\n' "$LAB_PRELUDE"
	return 0
}

# --- run ------------------------------------------------------------------------
lab_run() {
	local rc q
	new_job_dir
	{
		job_prologue
		printf 'cmd=('
		for q in "$@"; do printf '%q ' "$q"; done
		printf ')\n'
		cat <<EOF
export HVD_SOCKET=/run/hvd/hvd.sock
mkdir -p /run/hvd
$build/daemon/hvd --socket \$HVD_SOCKET --log-level \${HVD_LOG_LEVEL:-warn} 2> /tmp/hvd.log &
hvd_pid=\$!
for _ in \$(seq 1 500); do [ -S \$HVD_SOCKET ] && break; sleep 0.02; done
[ -S \$HVD_SOCKET ] || { echo "lab: hvd did not start:"; cat /tmp/hvd.log; exit 125; }
"\${cmd[@]}"
rc=\$?
kill -TERM \$hvd_pid 2>/dev/null; wait \$hvd_pid
if [ -s /tmp/hvd.log ]; then echo "--- hvd's log:"; cat /tmp/hvd.log; fi
exit \$rc
EOF
	} > "$job/job.sh"
	rc=0
	boot_rc=0
	LAB_STREAM=1 boot "$job" > >(grep --line-buffered -v '^@@lab ') || boot_rc=$?
	case $boot_rc in
	0) rc=$(cat "$job/rc") ;;
	3) log "no output for ${LAB_STALL}s: the emulated machine stalled; killed"; rc=124 ;;
	*) log "the test host died:"; tail -20 "$job/console.log" >&2; rc=125 ;;
	esac
	return "$rc"
}

# --- test -----------------------------------------------------------------------
# The plan: items, each a Criterion binary (run with --verbose, one test at
# a time, so that the output names the test running) or a set of ctest
# tests. Every test starts "pending"; a boot runs each item with a filter
# naming its pending tests; results are read from the output.
plan_items() {
	echo "conformance_direct criterion tests/conformance/conformance_direct"
	echo "conformance_hvd criterion tests/conformance/conformance_hvd"
	echo "examples ctest ^example\\."
	echo "facts ctest ^lab\\."
	# A cgroup v2 host (this machine has v1): hvd --cgroups both ways.
	echo "cgroups ctest ^(unit\\.test_cgroup|policy\\.tenant_cgroups)\$"
	local s
	for s in clients hostile shutdown fork limits memop; do
		echo "system.$s criterion tests/system/system_$s"
	done
}

list_tests() { # item kind arg
	case $2 in
	criterion)
		"$build/$3" --list 2>/dev/null | awk -v item="$1" '
			/^[^ ├└│]/ { sub(/:.*/, ""); suite = $0; next }
			{ sub(/^[├└│─ ]+/, ""); sub(/ *\(skipped\)$/, ""); print item "\t" suite "::" $0 }'
		;;
	ctest)
		ctest --test-dir "$build" -N -R "$3" | sed -n 's/^ *Test *#[0-9]*: \(.*\)$/\1/p' |
			awk -v item="$1" '{ print item "\t" $0 }'
		;;
	esac
}

# job.sh for the tests still pending ($state: item<TAB>test<TAB>status...).
write_test_job() {
	local item ikind arg pending filter
	job_prologue
	while read -r item ikind arg; do
		pending=$(awk -F'\t' -v i="$item" '$1 == i && $3 == "pending" { print $2 }' "$state")
		[ -n "$pending" ] || continue
		echo "echo '@@lab begin $item'"
		case $ikind in
		criterion)
			filter=$(echo "$pending" | sed 's/::/\//' | paste -sd'|')
			printf "%s --verbose --color=never --jobs 1 --timeout 80 --filter '@(%s)'\n" "$build/$arg" "$filter"
			;;
		ctest)
			filter=$(echo "$pending" | sed 's/\./\\./g' | paste -sd'|')
			printf "ctest --test-dir %s --output-on-failure -R '^(%s)\$'\n" "$build" "$filter"
			;;
		esac
		echo "echo \"@@lab end $item \$?\""
	done < <(plan_items)
}

# Reads a boot's output and updates $state; prints the item and test that
# were running when the output stopped (if any).
read_results() {
	local out=$1
	awk -F'\t' -v OFS='\t' -v out="$out" '
	{ sub(/\r$/, "") }
	FNR == NR { key[NR] = $1 "\t" $2; st[$1 "\t" $2] = $3; why[$1 "\t" $2] = $4; n = NR; next }
	/^@@lab begin / { item = $0; sub(/^@@lab begin /, "", item); running = ""; next }
	/^@@lab end / { item = ""; running = ""; next }
	item == "" { next }
	/^\[RUN \] / { t = $0; sub(/^\[RUN \] /, "", t); running = t; next }
	/^\[(PASS|FAIL|SKIP)\] / {
		r = substr($0, 2, 4); t = substr($0, 8); reason = t
		sub(/: .*$/, "", t); sub(/^[^:]*::[^:]*(: )?/, "", reason)
		k = item "\t" t
		if (st[k] == "pending") {
			st[k] = (r == "PASS" ? "passed" : r == "FAIL" ? "failed" : "skipped")
			why[k] = (r == "PASS" ? "" : reason)
		}
		if (t == running) running = ""
		next
	}
	/^ *Start +[0-9]+: / { t = $0; sub(/^ *Start +[0-9]+: /, "", t); running = t; next }
	/Test +#[0-9]+: / {
		t = $0; sub(/^.*Test +#[0-9]+: /, "", t); r = t
		sub(/ .*$/, "", t); sub(/^[^ ]* \.* */, "", r); sub(/ +[0-9.]+ sec$/, "", r)
		k = item "\t" t
		if (st[k] == "pending") { st[k] = (r ~ /Passed/ ? "passed" : "failed"); why[k] = (r ~ /Passed/ ? "" : r) }
		if (t == running) running = ""
		next
	}
	END {
		for (i = 1; i <= n; i++) print key[i], st[key[i]], why[key[i]] > out
		if (item != "" && running != "") print item "\t" running
		else if (item != "") print item "\t"
	}' "$state" "$job/out.log" > "$job/running"
	mv "$out" "$state"
}

lab_test() {
	local item ikind arg boots=0 rc t0 t1 running r_item r_test
	new_job_dir
	state=$job/state
	: > "$state"
	while read -r item ikind arg; do
		list_tests "$item" "$ikind" "$arg" | awk -v OFS='\t' '{ print $0, "pending", "" }' >> "$state"
	done < <(plan_items)
	if [ -n "${LAB_ONLY:-}" ]; then
		# Keep the tests that match the extended glob; the rest are not run.
		shopt -s extglob
		while IFS=$'\t' read -r item t st why; do
			# shellcheck disable=SC2053
			[[ ${t/::/\/} == $LAB_ONLY || $t == $LAB_ONLY ]] && printf '%s\t%s\t%s\t%s\n' "$item" "$t" "$st" "$why"
		done < "$state" > "$state.only"
		mv "$state.only" "$state"
	fi
	[ -s "$state" ] || die "no tests to run"
	log "$(wc -l < "$state") tests; watchdog ${LAB_STALL}s"
	while grep -q $'\tpending\t' "$state"; do
		boots=$((boots + 1))
		[ $boots -le 12 ] || { log "too many reboots; the rest is inconclusive"; break; }
		write_test_job > "$job/job.sh"
		t0=$(date +%s)
		rc=0
		LAB_STREAM=${LAB_VERBOSE:-0} boot "$job" || rc=$?
		t1=$(date +%s)
		cat "$job/out.log" >> "$job/all-out.log"
		read_results "$state.new"
		running=$(cat "$job/running")
		log "boot $boots: $((t1 - t0)) s, $(grep -c $'\tpending\t' "$state" || true) tests still pending"
		case $rc in
		0) # the job ended: what it did not report did not run or crashed its runner
			awk -F'\t' -v OFS='\t' '$3 == "pending" { $3 = "failed"; $4 = "no result: the test program ended without reporting it" } { print }' \
				"$state" > "$state.new" && mv "$state.new" "$state"
			;;
		3 | 4)
			r_item=${running%%$'\t'*}
			r_test=${running#*$'\t'}
			why="the emulated machine stalled (no output for ${LAB_STALL} s); killed and rebooted"
			[ $rc = 4 ] && why="the test host died: $(grep -m1 -E 'Kernel panic|BUG' "$job/console.log" || echo 'no kernel message')"
			cp "$job/console.log" "$job/console.boot$boots.log"
			if ! grep -q '^@@lab up' "$job/out.log"; then
				# The machine never reached the job: no test ran, none
				# is blamed; the next boot tries again (counted).
				log "boot $boots: the test host stalled before its job started; booting again"
				continue
			fi
			if [ -n "$r_test" ]; then
				log "inconclusive: $r_item $r_test: $why"
				awk -F'\t' -v OFS='\t' -v i="$r_item" -v t="$r_test" -v w="$why" \
					'$1 == i && $2 == t && $3 == "pending" { $3 = "inconclusive"; $4 = w } { print }' \
					"$state" > "$state.new" && mv "$state.new" "$state"
			else
				# Stalled between tests (booting, or starting a test
				# program): the first pending test of the item takes the
				# blame, so that the suite always moves on.
				awk -F'\t' -v OFS='\t' -v i="$r_item" -v w="$why (before its first output)" '
					!done && $3 == "pending" && (i == "" || $1 == i) { $3 = "inconclusive"; $4 = w; done = 1 } { print }' \
					"$state" > "$state.new" && mv "$state.new" "$state"
			fi
			;;
		esac
	done
	awk -F'\t' -v OFS='\t' '$3 == "pending" { $3 = "inconclusive"; $4 = "not run: too many reboots" } { print }' \
		"$state" > "$state.new" && mv "$state.new" "$state"
	report
}

report() {
	local passed failed inconclusive skipped
	echo "lab $kind: per-test results"
	awk -F'\t' '{ printf "  %-12s %-20s %s%s\n", $3, $1, $2, ($4 != "" ? "  (" $4 ")" : "") }' "$state"
	passed=$(grep -c $'\tpassed\t' "$state" || true)
	failed=$(grep -c $'\tfailed\t' "$state" || true)
	inconclusive=$(grep -c $'\tinconclusive\t' "$state" || true)
	skipped=$(grep -c $'\tskipped\t' "$state" || true)
	if [ "$failed" -gt 0 ]; then
		echo "--- output of the runs:"
		cat "$job/all-out.log"
	fi
	[ -n "${LAB_RESULTS:-}" ] && cp "$state" "$LAB_RESULTS"
	echo "lab $kind: $passed passed, $failed failed, $inconclusive inconclusive${skipped:+$( [ "$skipped" -gt 0 ] && echo ", $skipped skipped")}"
	[ "$failed" -eq 0 ]
}

# The watchdog and the exit status, proven on a real test host.
lab_selftest() {
	local rc=0 out
	out=$(lab_run sh -c 'echo lab-selftest-output; exit 7' 2>&1) || rc=$?
	[ $rc = 7 ] && [[ $out == *lab-selftest-output* ]] ||
		die "selftest: a command's status and output did not come back (status $rc)"
	rc=0
	LAB_STALL=15 lab_run sh -c 'echo started; sleep 600' > /dev/null 2>&1 || rc=$?
	[ $rc = 124 ] || die "selftest: a stalled machine was not stopped by the watchdog (status $rc)"
	log "selftest: status and output come back; a stall is killed after 15 s"
}

# --- arm64: a QEMU virt machine at EL2 whose kernel runs KVM/arm64 -----------
# Debian's 6.12 arm64 kernel (KVM built in, VHE), an arm64 busybox, the same
# 9p root under a tmpfs overlay. The root's programs are x86: the job runs
# under the arm64 busybox (copied into the overlay at /.lab), so job scripts
# are POSIX sh and commands are arm64 binaries (static ones need nothing
# else). Kernel messages go to the PL011 (ttyAMA0), the job's output to a
# virtio-serial port; the watchdog is amd's.
a64_guest_init() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m.ko || echo "lab-init: insmod $m failed"
done
arg() { sed -n "s/.*\blab\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
job=$(arg job)
sysroot=$(arg sysroot)
mkdir -p /host /rw /new
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro hostroot /host
mount -t tmpfs -o size=75% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /new
for d in proc sys dev; do mount --move /$d /new/$d; done
mount -t tmpfs tmpfs /new/run
mkdir -p /new/dev/shm /new/dev/pts "/new$job" /new/.lab/bin
mount -t tmpfs tmpfs /new/dev/shm
mount -t devpts devpts /new/dev/pts
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lab "/new$job"
# The cross build's shared libraries: the sysroot's (merged /usr) where the
# arm64 dynamic loader looks, whatever this machine has installed there.
if [ -n "$sysroot" ] && [ -d "/new$sysroot/usr/lib/aarch64-linux-gnu" ]; then
	mkdir -p /new/usr/lib/aarch64-linux-gnu
	mount -o bind "/new$sysroot/usr/lib/aarch64-linux-gnu" /new/usr/lib/aarch64-linux-gnu ||
		echo "lab-init: could not bind the sysroot's libraries"
	ln -sf aarch64-linux-gnu/ld-linux-aarch64.so.1 /new/usr/lib/ld-linux-aarch64.so.1
else
	echo "lab-init: no sysroot libraries at '$sysroot'"
fi
# The host's programs are x86: the job's shell and tools are this busybox.
cp /bin/busybox /new/.lab/busybox
for a in $(/bin/busybox --list); do ln -sf /.lab/busybox /new/.lab/bin/$a; done
echo 1 > /new/proc/sys/kernel/panic_on_oops
hostname lab
out=$(ls /new/dev/vport*p1 | head -1)
echo "lab-init: running $job/job.sh, output to $out"
chroot /new /.lab/busybox sh -c "cd '$job' && exec /.lab/busybox sh ./job.sh" > "$out" 2>&1 < /new/dev/null
echo $? > "/new$job/rc"
sync
echo "lab-init: done"
poweroff -f
EOF
}

a64_need_packages() {
	local missing=()
	command -v qemu-system-aarch64 > /dev/null || missing+=(qemu-system-arm)
	command -v aarch64-linux-gnu-gcc > /dev/null || missing+=(gcc-aarch64-linux-gnu)
	command -v cpio > /dev/null || missing+=(cpio)
	command -v xz > /dev/null || missing+=(xz-utils)
	# KVM's arm64 UAPI headers and a static libc for the lab's programs.
	[ -f /usr/aarch64-linux-gnu/include/linux/kvm.h ] &&
		[ -f /usr/aarch64-linux-gnu/lib/libc.a ] || missing+=(libc6-dev-arm64-cross)
	# The kernel and busybox are arm64 packages, downloaded (never
	# installed): apt must know the architecture.
	local update=
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		log "adding arm64 as a dpkg architecture (for apt-get download only)"
		dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
		update=1
	fi
	if [ ${#missing[@]} -gt 0 ] || [ -n "$update" ]; then
		[ ${#missing[@]} -gt 0 ] && log "installing ${missing[*]}"
		apt-get update -qq > /dev/null || true
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" > /dev/null ||
			die "could not install ${missing[*]}"
	fi
}

# a64_unpack PKG: PKG:arm64 downloaded and unpacked into $LAB_CACHE/arm64/PKG
# (never installed); prints the directory.
a64_unpack() {
	local pkg=$1 dir=$LAB_CACHE/arm64/$1 tmp
	if [ ! -f "$dir/.unpacked" ]; then
		log "fetching $pkg:arm64"
		tmp=$(mktemp -d)
		chmod 777 "$tmp"
		(cd "$tmp" && apt-get download "$pkg:arm64" > /dev/null 2>&1) ||
			{ rm -rf "$tmp"; die "apt-get download $pkg:arm64 failed"; }
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg -x "$tmp"/*.deb "$dir"
		rm -rf "$tmp"
		touch "$dir/.unpacked"
	fi
	echo "$dir"
}

# Debian's 6.12 arm64 kernel (what linux-image-6.12-arm64 depends on; the
# SMCCC filter, the counter offset and 52-bit IPA are 6.12's) and busybox.
a64_fetch() {
	local pkg
	pkg=$(apt-cache depends linux-image-6.12-arm64:arm64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.12\.[^:]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -1)
	[ -n "$pkg" ] || pkg=$(ls "$LAB_CACHE/arm64" 2>/dev/null | sed -n 's/^\(linux-image-6\.12\..*-arm64\)$/\1/p' | tail -1)
	[ -n "$pkg" ] || die "cannot find Debian's linux-image-6.12-arm64 (apt-get update?)"
	kdir=$(a64_unpack "$pkg")
	kver=${pkg#linux-image-}
	vmlinuz=$kdir/boot/vmlinuz-$kver
	[ -f "$vmlinuz" ] || die "no kernel image in $kdir"
	busybox=$(a64_unpack busybox-static)/bin/busybox
	[ -x "$busybox" ] || die "no busybox in busybox-static:arm64"
}

a64_build_initrd() {
	local sum dir f
	sum=$( (a64_guest_init; echo "$kver"; sha256sum "$busybox") | sha256sum | cut -c1-16)
	initrd=$LAB_CACHE/arm64/initrd-$kver-$sum.cpio.gz
	[ -f "$initrd" ] && return
	log "building the initramfs"
	dir=$(mktemp -d)
	mkdir -p "$dir"/{bin,proc,sys,dev,lib/modules}
	cp "$busybox" "$dir/bin/busybox"
	a64_guest_init > "$dir/init"
	chmod 755 "$dir/init"
	# busybox's insmod takes the modules uncompressed.
	while read -r f; do
		xz -dcf "$f" > "$dir/lib/modules/$(basename "$f" .xz)"
		basename "$(basename "$f" .xz)" .ko >> "$dir/lib/modules/order"
	done < <(lab_modules="9pnet_virtio 9p overlay" module_order)
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$dir"
}

# a64_boot JOBDIR: as boot (same results), on the arm64 machine.
a64_boot() {
	local job=$1 qpid size now last tailpid=
	: > "$job/out.log"
	: > "$job/console.log"
	rm -f "$job/rc" "$job/mon.in" "$job/mon.out"
	mkfifo "$job/mon.in" "$job/mon.out"
	qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 \
		-cpu max,pauth-impdef=on -smp "$LAB_SMP" -m "$LAB_MEM" \
		-display none -monitor pipe:"$job/mon" -no-reboot -nodefaults \
		-kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=ttyAMA0 panic=-1 nokaslr rdinit=/init lab.job=$job lab.sysroot=$a64_sysroot" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$job",mount_tag=lab,security_model=none,multidevs=remap \
		-serial file:"$job/console.log" \
		-device virtio-serial-pci -chardev file,id=labout,path="$job/out.log" \
		-device virtserialport,chardev=labout,name=lab.out 2> "$job/qemu.log" &
	qpid=$!
	exec {mon_in}<> "$job/mon.in" {mon_out}<> "$job/mon.out"
	if [ "${LAB_STREAM:-0}" = 1 ]; then
		tail -n +1 -F --pid=$qpid "$job/out.log" 2>/dev/null &
		tailpid=$!
	fi
	last=$(date +%s)
	size=0
	stalled=0
	while kill -0 $qpid 2>/dev/null; do
		sleep 1
		now=$(date +%s)
		if [ "$(stat -c %s "$job/out.log")" != "$size" ]; then
			size=$(stat -c %s "$job/out.log")
			last=$now
		elif [ $((now - last)) -ge "$LAB_STALL" ]; then
			stalled=1
			{
				echo "--- lab watchdog: the machine's CPUs at the stall (QEMU monitor)"
				printf 'info cpus\ninfo registers -a\n' >&$mon_in
				timeout 5 cat <&$mon_out | tr -d '\r' | grep -v '^(qemu)' || true
			} >> "$job/console.log"
			kill -KILL $qpid 2>/dev/null || true
			break
		fi
	done
	wait $qpid 2>/dev/null || true
	exec {mon_in}>&- {mon_out}<&-
	[ -n "$tailpid" ] && { sleep 0.5; kill $tailpid 2>/dev/null || true; wait $tailpid 2>/dev/null || true; }
	[ $stalled = 1 ] && return 3
	[ -f "$job/rc" ] && return 0
	return 4
}

# POSIX sh quoting (the job runs under busybox sh, not bash).
sh_quote() { printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# The job's environment, and lab_hvd CMD...: CMD with the arm64 hvd of the
# build tree started on \$HVD_SOCKET for it; its status, or 125 when hvd did
# not start, 1 when hvd failed after a command that passed (hvd's log is
# printed then, or when the command failed).
a64_job_prologue() {
	cat <<EOF
set -u
export PATH=/.lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C
export HVD_TEST_DAEMON=$a64_build/daemon/hvd HVD_TEST_HVCTL=$a64_build/hvctl/hvctl
cd $root
echo "@@lab up \$(uname -r)"
lab_hvd() {
	export HVD_SOCKET=/run/hvd/hvd.sock
	mkdir -p /run/hvd
	rm -f \$HVD_SOCKET
	$a64_build/daemon/hvd --socket \$HVD_SOCKET --log-level \${HVD_LOG_LEVEL:-warn} 2> /tmp/hvd.log &
	hvd_pid=\$!
	i=0
	while [ ! -S \$HVD_SOCKET ] && [ \$i -lt 500 ]; do sleep 0.02; i=\$((i + 1)); done
	[ -S \$HVD_SOCKET ] || { echo "lab: hvd did not start:"; cat /tmp/hvd.log; return 125; }
	"\$@"
	st=\$?
	kill -TERM \$hvd_pid 2>/dev/null
	wait \$hvd_pid
	hst=\$?
	if [ \$st -ne 0 ] || [ \$hst -ne 0 ]; then
		[ -s /tmp/hvd.log ] && { echo "--- hvd's log:"; cat /tmp/hvd.log; }
		[ \$st -eq 0 ] && { echo "lab: hvd exited with status \$hst"; st=1; }
	fi
	return \$st
}
# lab_rerun CMD...: CMD, and when it is a Criterion suite that failed, each
# failed test once more on its own (--filter suite/test). If every one
# passes then, CMD counts as passed and "@@lab rerun" names the tests that
# needed it: the emulated host sometimes runs a previous VM's instructions
# at the same guest address (docs/lab.md, "Stale guest instructions"); a
# test that fails twice is a failure.
lab_rerun() {
	{ "\$@"; echo \$? > /tmp/lab-rerun.st; } 2>&1 | tee /tmp/lab-rerun.out
	st=\$(cat /tmp/lab-rerun.st)
	[ "\$st" -ne 0 ] || return 0
	failed=\$(sed -n 's/^\\[FAIL\\] \\([A-Za-z0-9_]*\\)::\\([A-Za-z0-9_]*\\):.*/\\1\\/\\2/p' /tmp/lab-rerun.out)
	[ -n "\$failed" ] || return \$st
	for t in \$failed; do
		echo "lab: \$t failed; once more on its own"
		"\$@" --filter "\$t" || return \$st
	done
	echo "@@lab rerun \$(echo \$failed)"
	return 0
}
EOF
	[ -n "${LAB_PRELUDE:-}" ] && printf '( %s ) &\n' "$LAB_PRELUDE"
	return 0
}

a64_run() {
	local rc q
	new_job_dir
	{
		a64_job_prologue
		# The selftest's commands need no hvd (nor a build tree).
		[ "$action" = run ] && printf 'lab_hvd '
		for q in "$@"; do sh_quote "$q"; done
		printf '\nexit $?\n'
	} > "$job/job.sh"
	rc=0
	boot_rc=0
	LAB_STREAM=1 a64_boot "$job" > >(grep --line-buffered -v '^@@lab ') || boot_rc=$?
	case $boot_rc in
	0) rc=$(cat "$job/rc") ;;
	3) log "no output for ${LAB_STALL}s: the emulated machine stalled; killed"; rc=124 ;;
	*) log "the test host died:"; tail -20 "$job/console.log" >&2; rc=125 ;;
	esac
	return "$rc"
}

a64_selftest() {
	local rc=0 out
	out=$(a64_run sh -c 'echo lab-selftest-output; exit 7' 2>&1) || rc=$?
	[ $rc = 7 ] && [[ $out == *lab-selftest-output* ]] ||
		die "selftest: a command's status and output did not come back (status $rc): $out"
	rc=0
	LAB_STALL=15 a64_run sh -c 'echo started; sleep 600' > /dev/null 2>&1 || rc=$?
	[ $rc = 124 ] || die "selftest: a stalled machine was not stopped by the watchdog (status $rc)"
	log "selftest: status and output come back; a stall is killed after 15 s"
}

# test: every program of lab64-tests.txt in one boot, each passed
# (exit 0) or failed; a program the watchdog stopped, or that the host died
# under, is inconclusive, and the machine is booted again for the rest.
a64_test() {
	local p name boots=0 rc t0 t1 running
	new_job_dir
	state=$job/state
	: > "$state"
	# The cross build's tests (lab64-tests.txt: name, how, command), each
	# as a line of the job (in $job/cmds).
	: > "$job/cmds"
	local name how cmd
	while IFS=$'\t' read -r name how cmd; do
		[ -n "$name" ] || continue
		cmd="lab_rerun $cmd"
		case $how in hvd) cmd="lab_hvd $cmd" ;; esac
		printf '%s\tpending\t\n' "$name" >> "$state"
		printf '%s\t%s\n' "$name" "$cmd" >> "$job/cmds"
	done < "$a64_build/lab64-tests.txt"
	[ -s "$state" ] || die "no lab programs in $a64_build"
	: > "$job/all-out.log"
	log "$(wc -l < "$state") programs; watchdog ${LAB_STALL}s"
	while awk -F'\t' '$2 == "pending" { f = 1 } END { exit !f }' "$state"; do
		boots=$((boots + 1))
		[ $boots -le 4 ] || { log "too many reboots; the rest is inconclusive"; break; }
		{
			a64_job_prologue
			awk -F'\t' 'FNR == NR { cmd[$1] = $2; next } $2 == "pending" {
				printf "echo \"@@lab begin %s\"\n%s\necho \"@@lab end %s $?\"\n", $1, cmd[$1], $1 }' \
				"$job/cmds" "$state"
		} > "$job/job.sh"
		t0=$(date +%s)
		rc=0
		LAB_STREAM=${LAB_VERBOSE:-0} a64_boot "$job" || rc=$?
		t1=$(date +%s)
		tr -d '\r' < "$job/out.log" >> "$job/all-out.log"
		# Ended programs: by status. The one begun and not ended: running.
		running=$(tr -d '\r' < "$job/out.log" | awk '/^@@lab begin / { r = $3 } /^@@lab end / { r = "" } END { print r }')
		tr -d '\r' < "$job/out.log" | awk -F'\t' -v OFS='\t' -v st="$state" '
			FNR == NR && /^@@lab begin / { cur = $3; next }
			FNR == NR && /^@@lab rerun / { sub(/^@@lab rerun /, ""); again[cur] = $0; next }
			FNR == NR && /^@@lab end / { split($0, w, " "); res[w[3]] = (w[4] == 0 ? "passed" (w[3] in again ? "\tpassed when run again: " again[w[3]] : "") : "failed\texit status " w[4]); next }
			FNR != NR { if ($2 == "pending" && ($1 in res)) print $1, res[$1]; else print }' - "$state" > "$state.new"
		mv "$state.new" "$state"
		log "boot $boots: $((t1 - t0)) s"
		case $rc in
		0) awk -F'\t' -v OFS='\t' '$2 == "pending" { $2 = "failed"; $3 = "no result" } { print }' "$state" > "$state.new" ;;
		*)
			why="the emulated machine stalled (no output for ${LAB_STALL} s); killed and rebooted"
			[ $rc = 4 ] && why="the test host died: $(grep -m1 -E 'Kernel panic|BUG' "$job/console.log" || echo 'no kernel message')"
			cp "$job/console.log" "$job/console.boot$boots.log"
			grep -q '^@@lab up' "$job/out.log" || { log "boot $boots: stalled before its job started; booting again"; continue; }
			# Nothing running: the first pending program takes the blame.
			awk -F'\t' -v OFS='\t' -v r="$running" -v w="$why" '
				!done && $2 == "pending" && (r == "" || $1 == r) { $2 = "inconclusive"; $3 = w; done = 1 } { print }' \
				"$state" > "$state.new"
			;;
		esac
		mv "$state.new" "$state"
	done
	awk -F'\t' -v OFS='\t' '$2 == "pending" { $2 = "inconclusive"; $3 = "not run: too many reboots" } { print }' \
		"$state" > "$state.new" && mv "$state.new" "$state"
	local passed failed inconclusive
	echo "lab arm64: per-program results"
	awk -F'\t' '{ printf "  %-12s %s%s\n", $2, $1, ($3 != "" ? "  (" $3 ")" : "") }' "$state"
	count() { awk -F'\t' -v s="$1" '$2 == s { n++ } END { print n + 0 }' "$state"; }
	passed=$(count passed)
	failed=$(count failed)
	inconclusive=$(count inconclusive)
	local again
	again=$(awk -F'\t' '$2 == "passed" && $3 ~ /^passed when run again/ { n++ } END { print n + 0 }' "$state")
	[ "$again" -eq 0 ] || echo "lab arm64: $again of the passed programs had tests that passed only when run again (listed above)"
	if [ "$failed" -gt 0 ] || [ "${LAB_VERBOSE:-0}" = 1 ]; then
		echo "--- output of the runs:"
		grep -v '^@@lab up' "$job/all-out.log"
	fi
	[ -n "${LAB_RESULTS:-}" ] && cp "$state" "$LAB_RESULTS"
	echo "lab arm64: $passed passed, $failed failed, $inconclusive inconclusive"
	[ "$failed" -eq 0 ]
}

# The tree cross-built for arm64 into $a64_build, on the sysroot.
a64_build_tree() {
	[ "${LAB_SKIP_BUILD:-0}" = 1 ] && [ -f "$a64_build/lab64-tests.txt" ] && return
	log "cross-building for arm64 in $a64_build"
	cmake -S . -B "$a64_build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
		-DHVD_ARM64_SYSROOT="$a64_sysroot" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHVD_WERROR=ON \
		> "$a64_build.cmake.log" 2>&1 || { cat "$a64_build.cmake.log" >&2; die "arm64 configure failed"; }
	cmake --build "$a64_build" -j2 > "$a64_build.cmake.log" 2>&1 ||
		{ tail -40 "$a64_build.cmake.log" >&2; die "arm64 build failed"; }
	rm -f "$a64_build.cmake.log"
}

if [ "$kind" = arm64 ]; then
	a64_build=$(realpath -m "${LAB_BUILD_ARM64:-build-arm64}")
	a64_need_packages
	a64_sysroot=$(scripts/arm64-sysroot.sh "${HVD_ARM64_SYSROOT:-$LAB_CACHE/arm64/sysroot}" | tail -1)
	a64_fetch
	a64_build_initrd
	[ "$action" = shell-script ] && { a64_guest_init; exit 0; }
	a64_build_tree
	case $action in
	run) a64_run "$@" ;;
	selftest) a64_selftest ;;
	test) a64_test ;;
	esac
	exit
fi

need_packages
fetch_kernel
build_initrd
build_tree
case $action in
run) lab_run "$@" ;;
selftest) lab_selftest ;;
test) lab_test ;;
esac
