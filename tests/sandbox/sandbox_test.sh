#!/usr/bin/env bash
# hvd drops to CAP_SYS_PTRACE alone with no_new_privs once it listens, and
# its vCPU threads run under a seccomp filter that refuses calls outside
# their list (daemon/hvd_sandbox.c): with HVD_SANDBOX_SELFTEST set, each
# vCPU thread tries socket() and logs the result.
# Usage: sandbox_test.sh HVD HELLO   (as root)
set -euo pipefail
hvd=$1 hello=$2
dir=$(mktemp -d /tmp/hvd-sandbox.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
HVD_SANDBOX_SELFTEST=1 "$hvd" --socket "$dir/s.sock" --log-level warn 2> "$dir/log" &
pid=$!
for _ in $(seq 1 300); do [ -S "$dir/s.sock" ] && break; sleep 0.01; done
test -S "$dir/s.sock"

cap=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$pid/status)
bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/$pid/status)
nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/$pid/status)
echo "CapEff $cap CapBnd $bnd NoNewPrivs $nnp"
[ "$cap" = 0000000000080000 ] || { echo "hvd kept capabilities besides CAP_SYS_PTRACE"; exit 1; }
[ "$bnd" = 0000000000080000 ] || { echo "hvd's bounding set was not reduced"; exit 1; }
[ "$nnp" = 1 ] || { echo "no_new_privs is not set"; exit 1; }

HVD_SOCKET=$dir/s.sock "$hello" > "$dir/out"
grep -q "Hello from a Hypervisor.framework guest" "$dir/out"
grep -q "sandbox self-test: vCPU thread socket(): Operation not permitted" "$dir/log" || {
  echo "the vCPU thread's forbidden call was not refused:"; cat "$dir/log"; exit 1; }
kill -TERM "$pid"
wait "$pid"
echo "sandbox: ok"
