#!/usr/bin/env bash
# scripts/test.sh's stages: numbered "[N/TOTAL] name", a result and time
# each, a closing summary; a passing stage leaves no log, a failing one
# keeps its log, prints its tail and where the log is, and ends the run.
# Runs the cheap stages only (docs; deps made to fail with stand-ins for
# dpkg-query and apt-get). Usage: test_sh_stages.sh SRC
set -euo pipefail
src=$1
dir=$(mktemp -d /tmp/hvd-teststages.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "test_sh_stages: $*" >&2; cat "$dir/out" >&2; exit 1; }

HVD_TEST_ONLY=docs "$src/scripts/test.sh" "$dir/b" > "$dir/out" 2>&1 || fail "the docs stage failed"
grep -qE '^\[1/1\] docs \.\.\. ok \([0-9]+m[0-9]{2}s\)$' "$dir/out" || fail "no numbered stage line"
grep -q '^test.sh: summary$' "$dir/out" || fail "no summary"
grep -qE '^  \[1/1\] docs +ok +[0-9]+m[0-9]{2}s$' "$dir/out" || fail "no stage time in the summary"
[ ! -e "$dir/b-logs" ] || fail "a passing run kept logs: $(ls "$dir/b-logs")"

mkdir "$dir/shim"
printf '#!/bin/sh\nexit 1\n' > "$dir/shim/dpkg-query"
printf '#!/bin/sh\necho "apt-get: the stand-in fails, marker-%s" >&2\nexit 100\n' 42 > "$dir/shim/apt-get"
chmod +x "$dir/shim/dpkg-query" "$dir/shim/apt-get"
if PATH=$dir/shim:$PATH HVD_TEST_ONLY=deps,docs "$src/scripts/test.sh" "$dir/b" > "$dir/out" 2>&1; then
  fail "a failing stage did not fail the run"
fi
grep -qE '^\[1/2\] deps \.\.\. FAILED \(exit [0-9]+, [0-9]+m[0-9]{2}s\)$' "$dir/out" || fail "no FAILED line"
grep -q "marker-42" "$dir/out" || fail "the failed stage's log tail is not printed"
grep -q "full log: $dir/b-logs/01-deps.log" "$dir/out" || fail "the log's path is not printed"
grep -q "marker-42" "$dir/b-logs/01-deps.log" || fail "the failed stage's log is not kept"
grep -qE '^  \[2/2\] docs +not run$' "$dir/out" || fail "the summary does not show the stage not run"
if grep -q '^\[2/2\]' "$dir/out"; then fail "the run went on after a failure"; fi
echo "test.sh stages: numbered, timed, summarised, logs kept only on failure"
