# shellcheck shell=bash
# Sourced by scripts/tsan.sh and scripts/valgrind.sh: run test suites of a
# normal build against an hvd built or run under a tool.
#
# tool_tests <build-dir> <regex> <hvd> <log-dir> [<skip-regex>]
#   Runs each ctest test of <build-dir> whose whole name matches the
#   extended <regex> (and not <skip-regex>), one at a time, as ctest would
#   (its command line and its HVD_TEST_* environment) except that
#   HVD_TEST_DAEMON is <hvd> and HVD_TEST_SLOW (from the environment,
#   default 1) scales time: the tests make every bound on a wait that many
#   times longer (tests/system/sys_hvd.h), and Criterion's --timeout is
#   multiplied by it here. Output of a test goes to <log-dir>/<test>.log;
#   one line per test says how it went and how long it took. Returns 1 if
#   any failed, or if none matched.
#
# The test programs are the normal build's: only hvd runs under the tool.
# They compare hvd's threads, descriptors and mappings with a baseline
# taken from the running hvd, so what a tool adds of its own is in the
# baseline (or is recognised as the tool's and left out), and nothing of
# hvd's is left out of what they check.
tool_tests() {
  local build=$1 regex=$2 hvd=$3 logdir=$4 skip=${5:-}
  local slow=${HVD_TEST_SLOW:-1} status=0 ran=0 t i verbose start secs
  local -a args env
  for t in $(ctest --test-dir "$build" -N | sed -n 's/^ *Test *#[0-9]*: \(.*\)$/\1/p' |
             grep -E "^($regex)\$"); do
    if [ -n "$skip" ] && grep -q -E "^($skip)\$" <<< "$t"; then
      echo "  $t: skipped"
      continue
    fi
    verbose=$(ctest --test-dir "$build" -R "^${t//./\\.}\$" -N -V)
    read -r -a args <<< "$(sed -n 's/^[0-9]*: Test command: //p' <<< "$verbose" | head -n 1 | tr -d '"')"
    mapfile -t env < <(sed -n 's/^[0-9]*:  *\(HVD_TEST_[A-Z_]*=.*\)$/\1/p' <<< "$verbose")
    for i in "${!args[@]}"; do
      if [ "${args[$i]}" = --timeout ]; then
        args[i + 1]=$((args[i + 1] * slow))
      fi
    done
    ran=$((ran + 1))
    start=$(date +%s)
    if env "${env[@]}" HVD_TEST_DAEMON="$hvd" HVD_TEST_SLOW="$slow" "${args[@]}" \
         > "$logdir/$t.log" 2>&1; then
      secs=$(($(date +%s) - start))
      echo "  $t: passed (${secs} s)"
    else
      secs=$(($(date +%s) - start))
      echo "  $t: FAILED (${secs} s; log: $logdir/$t.log)"
      grep -E '^\[(----|FAIL)\]' "$logdir/$t.log" | grep -v '^\[----\] *$' | head -n 20 | sed 's/^/    /'
      status=1
    fi
  done
  if [ "$ran" -eq 0 ]; then
    echo "  no test of $build matches $regex"
    status=1
  fi
  return "$status"
}
