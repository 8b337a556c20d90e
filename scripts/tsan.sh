#!/usr/bin/env bash
# ThreadSanitizer on hvd: build hvd with -fsanitize=thread and run against
# it every suite that drives real hvd processes: the conformance suite
# through hvd (a private hvd per test: vCPU threads, the run-page
# hand-off, teardown), the policy suite (sessions, admin requests,
# reloads), the system suite (several, killed, forking and hostile
# clients, limits, hvd stopped under a running client) and the chaos
# suite (clients killed at random points, run-page scribbling, silent
# clients, hvd restarted under load). The test programs are the normal
# build's (Criterion's process isolation does not run under TSan); only
# hvd is instrumented.
#
# The system and chaos tests count hvd's threads and descriptors against a
# baseline taken from the running hvd. TSan's background thread would
# start only with hvd's first thread, after that baseline;
# profile_memory=<file> makes TSan start it at startup (and write a small
# memory profile per hvd next to the reports), so it is in the baseline.
# The chaos tests leave TSan's shadow memory out of hvd's mappings
# (tests/chaos/chaos.c).
# HVD_TEST_SLOW (default 3 here) stretches every wait of the tests and
# their time limits (scripts/tool-tests.sh).
#
# CI runs this (scripts/test.sh): about 20 s on two cores, building hvd
# included. Exits 1 if a test failed or TSan reported anything (the
# logs and reports are kept then, and removed otherwise).
# Usage: scripts/tsan.sh [build-prefix]
# (builds <prefix> normally and <prefix>-tsan with TSan; default "build").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tool-tests.sh
prefix=${1:-build}
export HVD_TEST_SLOW=${HVD_TEST_SLOW:-3}
scripts/deps.sh
cmake -S . -B "$prefix-tsan" -DCMAKE_BUILD_TYPE=Debug -DHVD_TSAN=ON -DHVD_WERROR=ON \
  -DHVD_BUILD_TESTS=OFF > /dev/null
cmake --build "$prefix-tsan" -j"$(scripts/jobs.sh)" --target hvd > /dev/null
cmake -S . -B "$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$prefix" -j"$(scripts/jobs.sh)" > /dev/null

reports=$(mktemp -d /tmp/hvd-tsan.XXXXXX)
# hvd gives up root for its own uid: it must be able to write its report.
chmod 1777 "$reports"
export TSAN_OPTIONS="log_path=$reports/report second_deadlock_stack=1 profile_memory=$reports/memprof"
# TSan defers asynchronous signals to its next intercepted call, and about
# once in 2000 SIGTERMs sent right after hvd starts it never delivers one:
# hvd sits in epoll_wait with no signal pending (system.shutdown; 0 in 4000
# without TSan). Under TSan the tests send a stop signal again every second
# while hvd's socket is still there (it is removed as hvd starts to stop).
export HVD_TEST_SIGNAL_RETRY_MS=1000
# hvd-ident runs one thread under TSan (hvd_ident.c): a new connection's
# identification waits behind a file being hashed (policy.polcli).
export HVD_TEST_IDENT_SERIAL=1
started=$(date +%s)
status=0
echo "tsan.sh: hvd under ThreadSanitizer, HVD_TEST_SLOW=$HVD_TEST_SLOW, logs in $reports"
# hvd runs --in-process: a worker is a child of hvd-zygote, itself forked
# from hvd after TSan's runtime started its thread, and TSan's state in
# such a grandchild breaks (workers died of SIGSEGV in TSan's epoll_wait
# interceptor). In one process the same session, vCPU and teardown code
# runs under TSan; the tests that need workers skip (HVD_TEST_IN_PROCESS),
# and ASan, valgrind and the plain suite run them with workers.
cat > "$reports/hvd" <<SH
#!/bin/sh
exec $(readlink -f "$prefix-tsan/daemon/hvd") --in-process "\$@"
SH
chmod 755 "$reports/hvd"
export HVD_TEST_IN_PROCESS=1
tool_tests "$prefix" 'conformance\.conformance_hvd|policy\..*|system\..*|chaos\..*' \
  "$reports/hvd" "$reports" || status=1
echo "tsan.sh: $(($(date +%s) - started)) s"
if ls "$reports"/report.* > /dev/null 2>&1; then
  echo "tsan.sh: ThreadSanitizer reports:"
  cat "$reports"/report.*
  exit 1
fi
if [ "$status" -eq 0 ]; then
  echo "tsan.sh: no reports"
  rm -rf "$reports"
fi
exit "$status"
