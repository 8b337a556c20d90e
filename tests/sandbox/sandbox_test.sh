#!/usr/bin/env bash
# Started as root, hvd becomes an unprivileged uid with no capability at all
# and no_new_privs once it listens; CAP_SYS_PTRACE (reading other users'
# executables) lives only in its helper hvd-ident, which runs as the same
# unprivileged uid under a filter of its own; hvd-janitor stays root under
# a filter that allows reading a pipe and removing one file. hvd
# runs under seccomp filters that refuse calls outside their lists
# (daemon/hvd_sandbox.c): one on the loop thread, inherited by every thread
# it starts, and one more on each vCPU thread. With HVD_SANDBOX_SELFTEST
# set, the loop thread tries socket(AF_INET) once its filter is in place,
# each vCPU thread tries socket() once its own is, and each logs the
# result; with HVD_SANDBOX_SELFTEST=kill the loop thread then tries
# execve(), which must kill hvd (SIGSYS) rather than fail.
# Usage: sandbox_test.sh HVD HELLO   (as root)
set -euo pipefail
hvd=$1 hello=$2
dir=$(mktemp -d /tmp/hvd-sandbox.XXXXXX)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT
HVD_SANDBOX_SELFTEST=1 "$hvd" --socket "$dir/s.sock" --state-dir "$dir/state" --log-level warn 2> "$dir/log" &
pid=$!
# The self-test line comes after the capability drop and the filter: the
# socket file appears before both.
for _ in $(seq 1 500); do
  grep -qs "sandbox self-test: loop thread" "$dir/log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
grep -q "sandbox self-test: loop thread socket(AF_INET): Operation not permitted" "$dir/log" || {
  echo "the loop thread's forbidden call was not refused:"; cat "$dir/log"; exit 1; }
test -S "$dir/s.sock"

field() { sed -n "s/^$2:[[:space:]]*//p" /proc/$1/status; }
uid=$(field $pid Uid | awk '{print $1, $2, $3, $4}')
cap=$(field $pid CapEff) prm=$(field $pid CapPrm) bnd=$(field $pid CapBnd)
nnp=$(field $pid NoNewPrivs) sec=$(field $pid Seccomp)
echo "Uid $uid CapEff $cap CapPrm $prm CapBnd $bnd NoNewPrivs $nnp Seccomp $sec (hvd, main thread)"
set -- $uid
[ "$1" != 0 ] && [ "$1" = "$2" ] && [ "$1" = "$3" ] && [ "$1" = "$4" ] ||
  { echo "hvd kept uid 0 (real, effective, saved or fs)"; exit 1; }
hvd_uid=$1
[ "$cap" = 0000000000000000 ] && [ "$prm" = 0000000000000000 ] ||
  { echo "hvd kept capabilities"; exit 1; }
[ "$bnd" = 0000000000000000 ] || { echo "hvd's bounding set was not emptied"; exit 1; }
[ "$nnp" = 1 ] || { echo "no_new_privs is not set"; exit 1; }
# 2: SECCOMP_MODE_FILTER, on the main (loop) thread itself.
[ "$sec" = 2 ] || { echo "the loop thread has no seccomp filter"; exit 1; }
ident=$(pgrep -P "$pid" -x hvd-ident) || { echo "no hvd-ident child"; ps -o pid,comm --ppid "$pid"; exit 1; }
janitor=$(pgrep -P "$pid" -x hvd-janitor) || { echo "no hvd-janitor child"; exit 1; }
iuid=$(field $ident Uid | awk '{print $1}')
echo "hvd-ident: Uid $iuid CapEff $(field $ident CapEff) CapBnd $(field $ident CapBnd)" \
  "NoNewPrivs $(field $ident NoNewPrivs) Seccomp $(field $ident Seccomp)"
[ "$iuid" = "$hvd_uid" ] || { echo "hvd-ident does not run as hvd's uid"; exit 1; }
[ "$(field $ident CapEff)" = 0000000000080000 ] || { echo "hvd-ident: not CAP_SYS_PTRACE alone"; exit 1; }
[ "$(field $ident CapBnd)" = 0000000000080000 ] || { echo "hvd-ident: bounding set"; exit 1; }
[ "$(field $ident NoNewPrivs)" = 1 ] && [ "$(field $ident Seccomp)" = 2 ] ||
  { echo "hvd-ident is not under a seccomp filter with no_new_privs"; exit 1; }
[ "$(field $janitor Seccomp)" = 2 ] && [ "$(field $janitor NoNewPrivs)" = 1 ] ||
  { echo "hvd-janitor is not under a seccomp filter"; exit 1; }
# The only descriptors hvd-ident and hvd-janitor hold: stderr and their
# channel to hvd (the janitor: two pipes). No KVM, no client socket.
[ "$(ls /proc/$ident/fd | wc -l)" = 2 ] || { echo "hvd-ident holds more than it needs:"; ls -l /proc/$ident/fd; exit 1; }
[ "$(ls /proc/$janitor/fd | wc -l)" = 3 ] || { echo "hvd-janitor holds more than it needs:"; ls -l /proc/$janitor/fd; exit 1; }

# The loop thread still does all its work under the filter: a client
# served end to end (identity, hashing, VM and vCPU creation, memory, the
# vCPU thread started and reaped), an admin request, a policy reload.
HVD_SOCKET=$dir/s.sock "$hello" > "$dir/out"
grep -q "Hello from a Hypervisor.framework guest" "$dir/out"
grep -q "sandbox self-test: vCPU thread socket(): Operation not permitted" "$dir/log" || {
  echo "the vCPU thread's forbidden call was not refused:"; cat "$dir/log"; exit 1; }
kill -HUP "$pid"
HVD_SOCKET=$dir/s.sock "$hello" > "$dir/out2"
grep -q "Hello from a Hypervisor.framework guest" "$dir/out2"
if grep -E "Operation not permitted|\[error\]" "$dir/log" | grep -v "sandbox self-test"; then
  echo "hvd met a refusal or an error outside the self-test:"; cat "$dir/log"; exit 1
fi
kill -TERM "$pid"
wait "$pid"
pid=
# hvd could not remove its socket as its own uid: hvd-janitor did.
[ ! -e "$dir/s.sock" ] || { echo "the socket was left behind"; exit 1; }

# A hostile call ends the process: killed by SIGSYS (128 + 31), not EPERM.
set +e
(ulimit -c 0; HVD_SANDBOX_SELFTEST=kill exec "$hvd" --socket "$dir/k.sock" \
  --state-dir "$dir/kstate" --log-level warn \
  2> "$dir/klog")
status=$?
set -e
echo "hvd after execve(): exit status $status"
[ "$status" = 159 ] || { echo "execve() did not kill hvd:"; cat "$dir/klog"; exit 1; }
grep -q "sandbox self-test: loop thread execve(): hvd must be killed" "$dir/klog"
echo "sandbox: ok"
