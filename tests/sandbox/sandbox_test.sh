#!/usr/bin/env bash
# hvd drops to CAP_SYS_PTRACE alone with no_new_privs once it listens, and
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
HVD_SANDBOX_SELFTEST=1 "$hvd" --socket "$dir/s.sock" --log-level warn 2> "$dir/log" &
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

cap=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$pid/status)
bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/$pid/status)
nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/$pid/status)
sec=$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$pid/status)
echo "CapEff $cap CapBnd $bnd NoNewPrivs $nnp Seccomp $sec (main thread)"
[ "$cap" = 0000000000080000 ] || { echo "hvd kept capabilities besides CAP_SYS_PTRACE"; exit 1; }
[ "$bnd" = 0000000000080000 ] || { echo "hvd's bounding set was not reduced"; exit 1; }
[ "$nnp" = 1 ] || { echo "no_new_privs is not set"; exit 1; }
# 2: SECCOMP_MODE_FILTER, on the main (loop) thread itself.
[ "$sec" = 2 ] || { echo "the loop thread has no seccomp filter"; exit 1; }

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

# A hostile call ends the process: killed by SIGSYS (128 + 31), not EPERM.
set +e
(ulimit -c 0; HVD_SANDBOX_SELFTEST=kill exec "$hvd" --socket "$dir/k.sock" --log-level warn \
  2> "$dir/klog")
status=$?
set -e
echo "hvd after execve(): exit status $status"
[ "$status" = 159 ] || { echo "execve() did not kill hvd:"; cat "$dir/klog"; exit 1; }
grep -q "sandbox self-test: loop thread execve(): hvd must be killed" "$dir/klog"
echo "sandbox: ok"
