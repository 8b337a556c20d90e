#!/usr/bin/env bash
# Install dependencies, build, and run the whole test suite, in stages:
#   deps, build, ctest: the normal build (warnings are errors) and every
#      test: unit, conformance in-process and through hvd, system, policy,
#      chaos, install, packaging;
#   docs: the docs and shipped files agree with the tree and with each
#      other, no unbounded -j (scripts/check-docs.sh);
#   package: the Debian packages built from debian/ twice, lintian-clean,
#      installed, used, upgraded, removed and purged (changes /usr and
#      /etc: meant for disposable machines such as CI);
#   tour: the README's five-minute tour, as written, on a fresh tree;
#   fuzz: a short run of every fuzz harness (clang's libFuzzer);
#   clang: a build of everything with clang and -Werror (no test run);
#   asan: the whole suite again under AddressSanitizer + UBSan;
#   tsan, valgrind: the suites that drive real hvd processes (conformance
#      through hvd, policy, system, chaos) against hvd built with
#      ThreadSanitizer (scripts/tsan.sh), then with hvd under valgrind's
#      memcheck (scripts/valgrind.sh);
#   lab-amd-selftest, lab-amd: the conformance suites, examples and
#      system tests once more on kvm_amd, inside a test host that QEMU
#      emulates (scripts/lab.sh amd); lab-arm64-selftest, lab-arm64:
#      KVM/arm64 in an arm64 test host (scripts/lab.sh arm64 selftest and
#      test: the tree cross-built for arm64 into build-arm64 on the
#      sysroot of scripts/arm64-sysroot.sh, hvd and both libraries with
#      the arm64 suites and examples, plus the lab's static arm64
#      programs). HVD_TEST_LAB=0 leaves the lab stages out.
# Each stage prints "[N/TOTAL] name", then its result and time; its log
# is kept (in BUILD-logs/) only when it fails, and then its tail is
# printed. The first failure ends the run; a summary of every stage
# closes it.
# Usage: scripts/test.sh [build-dir]   (HVD_TEST_QUICK=1: deps, build,
# ctest and docs only; HVD_TEST_ONLY=docs,tour: only the stages named)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(scripts/jobs.sh)
logs=$build-logs

stage_deps() { scripts/deps.sh; }
stage_build() {
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHVD_WERROR=ON
  cmake --build "$build" -j"$jobs"
}
stage_ctest() { ctest --test-dir "$build" --output-on-failure -j"$jobs"; }
stage_docs() { scripts/check-docs.sh; }
stage_package() { scripts/package-test.sh "$build-package"; }
stage_tour() { scripts/check-tour.sh "$build-tour"; }
stage_fuzz() { scripts/fuzz.sh --seconds 10 --build-dir "$build-fuzz"; }
# The same code must build without warnings under clang as well as gcc.
stage_clang() {
  CC=clang cmake -S . -B "$build-clang" -DCMAKE_BUILD_TYPE=Debug -DHVD_WERROR=ON
  cmake --build "$build-clang" -j"$jobs"
}
stage_asan() {
  cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=Debug -DHVD_SANITIZE=ON -DHVD_WERROR=ON
  cmake --build "$build-asan" -j"$jobs"
  ctest --test-dir "$build-asan" --output-on-failure -j"$jobs"
}
stage_tsan() { scripts/tsan.sh "$build"; }
stage_valgrind() { scripts/valgrind.sh "$build"; }
stage_lab-amd-selftest() { LAB_BUILD="$build" LAB_SKIP_BUILD=1 scripts/lab.sh amd selftest; }
stage_lab-amd() { LAB_BUILD="$build" LAB_SKIP_BUILD=1 scripts/lab.sh amd test; }
stage_lab-arm64-selftest() { LAB_BUILD_ARM64="$build-arm64" scripts/lab.sh arm64 selftest; }
stage_lab-arm64() { LAB_BUILD_ARM64="$build-arm64" scripts/lab.sh arm64 test; }

stages=(deps build ctest docs)
if [ "${HVD_TEST_QUICK:-0}" != 1 ]; then
  stages+=(package tour)
  [ -x scripts/fuzz.sh ] && stages+=(fuzz)
  stages+=(clang asan tsan valgrind)
  [ "${HVD_TEST_LAB:-1}" = 1 ] && stages+=(lab-amd-selftest lab-amd lab-arm64-selftest lab-arm64)
fi

# HVD_TEST_ONLY=a,b: only those stages (of the ones above), in their order.
if [ -n "${HVD_TEST_ONLY:-}" ]; then
  IFS=, read -r -a only <<< "$HVD_TEST_ONLY"
  for o in "${only[@]}"; do
    [[ " ${stages[*]} " == *" $o "* ]] || { echo "test.sh: no stage '$o' (stages: ${stages[*]})" >&2; exit 2; }
  done
  kept=()
  for st in "${stages[@]}"; do [[ ",$HVD_TEST_ONLY," == *",$st,"* ]] && kept+=("$st"); done
  stages=("${kept[@]}")
fi

total=${#stages[@]}
results=()
mkdir -p "$logs"
summary() {
  local i
  echo
  echo "test.sh: summary"
  for ((i = 0; i < total; i++)); do
    printf '  [%d/%d] %-20s %s\n' $((i + 1)) "$total" "${stages[i]}" "${results[i]:-not run}"
  done
}
fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

start_all=$SECONDS
for ((i = 0; i < total; i++)); do
  name=${stages[i]}
  log=$logs/$(printf '%02d' $((i + 1)))-$name.log
  printf '[%d/%d] %s ... ' $((i + 1)) "$total" "$name"
  t0=$SECONDS
  # Each stage in a subshell of its own with set -e, its output to its log.
  if (set -euo pipefail; "stage_$name") > "$log" 2>&1; then
    took=$(fmt_time $((SECONDS - t0)))
    echo "ok ($took)"
    results[i]="ok      $took"
    rm -f "$log"
  else
    status=$?
    took=$(fmt_time $((SECONDS - t0)))
    echo "FAILED (exit $status, $took)"
    results[i]="FAILED  $took"
    echo "---- last 40 lines of $log ----"
    tail -n 40 "$log"
    echo "---- full log: $log ----"
    summary
    exit 1
  fi
done
rmdir "$logs" 2>/dev/null || true
summary
echo "test.sh: all $total stages passed in $(fmt_time $((SECONDS - start_all)))"
