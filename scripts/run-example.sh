#!/usr/bin/env bash
# Install dependencies, build hvd, hvctl and the example programs, start
# hvd on a private socket, and run the example through libhvclient: a
# real-mode guest that prints a message through an emulated serial port.
# Builds what the README's five-minute tour uses after it
# (scripts/check-tour.sh runs the tour as written).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(scripts/jobs.sh)" --target hvd hvctl \
  hello hello-direct dosrun dosrun-direct compute64 compute64-direct multicpu multicpu-direct
HVD_LOG_LEVEL=info scripts/with-hvd.sh "$build"/daemon/hvd "$build"/examples/hello/hello
