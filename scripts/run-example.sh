#!/usr/bin/env bash
# Install dependencies, build, start hvd on a private socket, and run the
# example through libhvclient: a real-mode guest that prints a message
# through an emulated serial port.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)" --target hvd hello
HVD_LOG_LEVEL=info scripts/with-hvd.sh "$build"/daemon/hvd "$build"/examples/hello/hello
