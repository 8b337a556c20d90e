#!/usr/bin/env bash
# ThreadSanitizer on hvd, the threaded part: build hvd with -fsanitize=thread
# and run the tests that drive real hvd processes against it: the
# conformance suite through hvd (a private hvd per test: vCPU threads, the
# run-page hand-off, teardown) and the policy suite (sessions, admin
# requests, reloads). The test programs are built normally (Criterion's
# process isolation does not run under TSan). The system and chaos suites
# count hvd's threads, which TSan's own background thread upsets; they are
# not run here.
# Exits 1 if TSan reported anything. Usage: scripts/tsan.sh [build-prefix]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build}
scripts/deps.sh
cmake -S . -B "$prefix-tsan" -DCMAKE_BUILD_TYPE=Debug -DHVD_TSAN=ON -DHVD_BUILD_TESTS=OFF > /dev/null
cmake --build "$prefix-tsan" -j"$(nproc)" --target hvd > /dev/null
cmake -S . -B "$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$prefix" -j"$(nproc)" > /dev/null

reports=$(mktemp -d /tmp/hvd-tsan.XXXXXX)
# ctest sets HVD_TEST_DAEMON per test; point every test at the TSan hvd.
ln -sf "$(readlink -f "$prefix-tsan/daemon/hvd")" "$reports/hvd"
export TSAN_OPTIONS="log_path=$reports/report second_deadlock_stack=1"
status=0
for t in $(ctest --test-dir "$prefix" -N | sed -n 's/.*Test *#[0-9]*: \(conformance.conformance_hvd\|policy\..*\)$/\1/p'); do
  exe=$(ctest --test-dir "$prefix" -R "^$t\$" -N -V | sed -n 's/^[0-9]*: Test command: \([^ ]*\).*/\1/p' | head -n 1)
  env=$(ctest --test-dir "$prefix" -R "^$t\$" -N -V | sed -n 's/^[0-9]*:  *\(HVD_TEST_[A-Z_]*=.*\)$/\1/p')
  # shellcheck disable=SC2086
  if ! env $env HVD_TEST_DAEMON="$reports/hvd" "$exe" --jobs 2 > "$reports/$t.log" 2>&1; then
    echo "tsan.sh: $t failed (log: $reports/$t.log)"
    status=1
  fi
done
if ls "$reports"/report.* > /dev/null 2>&1; then
  echo "tsan.sh: ThreadSanitizer reports:"
  cat "$reports"/report.*
  exit 1
fi
[ "$status" -eq 0 ] && echo "tsan.sh: no reports"
exit "$status"
