#!/usr/bin/env bash
# Install dependencies, build, and run the whole test suite:
#   1. the normal build (warnings are errors) and every test: unit,
#      conformance in-process and through hvd, system, policy, chaos,
#      install, packaging;
#   2. the Debian package: built, lintian-checked, installed, used, removed
#      (changes /usr: meant for disposable machines such as CI);
#   3. a short run of every fuzz harness (clang's libFuzzer), and a build
#      of everything with clang and -Werror (no test run);
#   4. the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   5. the suites that drive real hvd processes (conformance through hvd,
#      policy, system, chaos) against hvd built with ThreadSanitizer
#      (scripts/tsan.sh), then with hvd under valgrind's memcheck
#      (scripts/valgrind.sh);
#   6. the conformance suites, examples and system tests once more on
#      kvm_amd, inside a test host that QEMU emulates (scripts/lab.sh amd
#      test; HVD_TEST_LAB=0 leaves it out), then KVM/arm64 in an arm64
#      test host (scripts/lab.sh arm64 selftest and test: the tree
#      cross-built for arm64 into build-arm64 on the sysroot of
#      scripts/arm64-sysroot.sh, hvd and both libraries with the arm64
#      suites and examples, plus the lab's static arm64 programs).
# Usage: scripts/test.sh [build-dir]   (HVD_TEST_QUICK=1: step 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc)

scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHVD_WERROR=ON
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs"
[ "${HVD_TEST_QUICK:-0}" = 1 ] && exit 0

scripts/package-test.sh "$build-package"

if [ -x scripts/fuzz.sh ]; then
  scripts/fuzz.sh --seconds 10 --build-dir "$build-fuzz"
fi

# The same code must build without warnings under clang as well as gcc.
CC=clang cmake -S . -B "$build-clang" -DCMAKE_BUILD_TYPE=Debug -DHVD_WERROR=ON > /dev/null
cmake --build "$build-clang" -j"$jobs" > /dev/null
echo "test.sh: clang -Werror build: ok"

cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=Debug -DHVD_SANITIZE=ON -DHVD_WERROR=ON
cmake --build "$build-asan" -j"$jobs"
ctest --test-dir "$build-asan" --output-on-failure -j"$jobs"

scripts/tsan.sh "$build"
scripts/valgrind.sh "$build"

if [ "${HVD_TEST_LAB:-1}" = 1 ]; then
  LAB_BUILD="$build" LAB_SKIP_BUILD=1 scripts/lab.sh amd selftest
  LAB_BUILD="$build" LAB_SKIP_BUILD=1 scripts/lab.sh amd test
  LAB_BUILD_ARM64="$build-arm64" scripts/lab.sh arm64 selftest
  LAB_BUILD_ARM64="$build-arm64" scripts/lab.sh arm64 test
fi
