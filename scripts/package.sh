#!/usr/bin/env bash
# Build the Debian package: scripts/package.sh [build-dir]
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-package}
scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHVD_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr > /dev/null
cmake --build "$build" -j"$(nproc)" > /dev/null
rm -f "$build"/hvd_*.deb
(cd "$build" && cpack -G DEB > /dev/null)
ls "$build"/hvd_*.deb | tail -n 1 | xargs readlink -f
