#!/usr/bin/env bash
# Valgrind (memcheck) on hvd: run the suites that drive real hvd processes
# with every hvd under valgrind, and fail on any memory error or definite
# leak in hvd. The suites: the conformance suite through hvd (a private hvd
# per test), the policy suite, the system suite (several, killed, forking
# and hostile clients, limits, hvd stopped under a running client) and the
# chaos suite (clients killed at random points, run-page scribbling, silent
# clients, hvd restarted under load). policy.cpu runs too: it measures the
# CPU time of hvd's vCPU threads, which the quota charges whatever the
# threads spend it on (valgrind's translation included). --system runs
# only the system suite.
# The test programs are the normal build's; only hvd runs under valgrind.
#
# The system and chaos tests count hvd's descriptors, threads and mappings
# against a baseline taken from the running hvd and leave out what is
# valgrind's own (its descriptors, its anonymous rwx memory:
# tests/system/sys_hvd.c, tests/chaos/chaos.c). HVD_TEST_SLOW (default 5
# here) stretches every wait of the tests and their time limits
# (scripts/tool-tests.sh).
#
# Valgrind 3.19 does not know pidfd_send_signal and futex_waitv: it warns,
# and hvd takes its fallbacks (a pid probe; polled waits). hvd runs with
# --no-sandbox here: valgrind's own thread scheduling makes calls the vCPU
# threads' seccomp filter refuses.
#
# CI runs this (scripts/test.sh): 7-8 min on two cores (2089 hvd and worker
# processes under memcheck; 7m25s in a CI run of 2026-12-04), of which the
# system suite (--system alone) takes about 30 s. Exits 1 if a test failed or
# memcheck reported an error (the logs are kept then, and removed
# otherwise). Usage: scripts/valgrind.sh [--system] [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tool-tests.sh
suites='conformance\.conformance_hvd|policy\..*|system\..*|chaos\..*'
if [ "${1:-}" = --system ]; then
  suites='system\..*'
  shift
fi
build=${1:-build}
export HVD_TEST_SLOW=${HVD_TEST_SLOW:-5}
command -v valgrind > /dev/null || apt-get install -y -qq valgrind > /dev/null
scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j"$(scripts/jobs.sh)" > /dev/null

work=$(mktemp -d /tmp/hvd-valgrind.XXXXXX)
# --vgdb=no: no FIFOs left in /tmp by an hvd that a test SIGKILLs.
cat > "$work/hvd" <<SH
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
  --vgdb=no --log-file=$work/vg.%p.log $(readlink -f "$build/daemon/hvd") --no-sandbox "\$@"
SH
chmod +x "$work/hvd"
# hvd keeps root with --no-sandbox: the tests of what a dropped hvd
# cannot open (tests/policy/test_audit.c) and of the workers' confinement
# (tests/system/test_clients.c) skip.
export HVD_TEST_KEEPS_ROOT=1
started=$(date +%s)
status=0
echo "valgrind.sh: hvd under memcheck, HVD_TEST_SLOW=$HVD_TEST_SLOW, logs in $work"
tool_tests "$build" "$suites" "$work/hvd" "$work" || status=1
echo "valgrind.sh: $(find "$work" -name 'vg.*.log' | wc -l) hvd processes, $(($(date +%s) - started)) s"
# Memory errors and definite leaks, not valgrind's notes about unknown
# syscalls. An hvd that exited counts its errors in the summary (definite
# leaks included); one that a test killed has only the error records.
if grep -l -E "ERROR SUMMARY: [1-9]|Invalid (read|write|free)|uninitialised|are definitely lost|definitely lost: [1-9]|Mismatched free|overlap|fishy|Jump to the invalid" \
     "$work"/vg.*.log 2> /dev/null; then
  echo "valgrind.sh: memcheck reported errors (logs above)"
  exit 1
fi
if [ "$status" -eq 0 ]; then
  echo "valgrind.sh: clean"
  rm -rf "$work"
fi
exit "$status"
