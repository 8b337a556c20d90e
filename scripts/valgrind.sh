#!/usr/bin/env bash
# Valgrind (memcheck) on hvd: run the suites that drive real hvd processes
# (the conformance suite through hvd, a private hvd per test, and the policy
# suite) with every hvd under valgrind, and fail on any memory error or
# definite leak. Slow (minutes). Usage: scripts/valgrind.sh [build-dir]
# Valgrind 3.19 does not know pidfd_send_signal and futex_waitv: it warns,
# and hvd takes its fallbacks (a pid probe; polled waits). hvd runs with
# --no-sandbox here: valgrind's own thread scheduling makes calls the vCPU
# threads' seccomp filter refuses.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
command -v valgrind > /dev/null || apt-get install -y -qq valgrind > /dev/null
scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j"$(nproc)" > /dev/null

work=$(mktemp -d /tmp/hvd-valgrind.XXXXXX)
cat > "$work/hvd" <<SH
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
  --log-file=$work/vg.%p.log $(readlink -f "$build/daemon/hvd") --no-sandbox "\$@"
SH
chmod +x "$work/hvd"
status=0
for t in $(ctest --test-dir "$build" -N | sed -n 's/.*Test *#[0-9]*: \(conformance.conformance_hvd\|policy\..*\)$/\1/p'); do
  exe=$(ctest --test-dir "$build" -R "^$t\$" -N -V | sed -n 's/^[0-9]*: Test command: \([^ ]*\).*/\1/p' | head -n 1)
  env=$(ctest --test-dir "$build" -R "^$t\$" -N -V | sed -n 's/^[0-9]*:  *\(HVD_TEST_[A-Z_]*=.*\)$/\1/p')
  # shellcheck disable=SC2086
  if ! env $env HVD_TEST_DAEMON="$work/hvd" "$exe" --jobs 2 --timeout 300 > "$work/$t.log" 2>&1; then
    echo "valgrind.sh: $t failed (log: $work/$t.log)"
    status=1
  fi
done
# Memory errors and leaks, not valgrind's notes about unknown syscalls.
if grep -l -E "Invalid (read|write)|uninitialised|definitely lost|Mismatched free|Invalid free" "$work"/vg.*.log 2> /dev/null; then
  echo "valgrind.sh: memcheck reported errors (logs above)"
  exit 1
fi
[ "$status" -eq 0 ] && echo "valgrind.sh: clean"
exit "$status"
