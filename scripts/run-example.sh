#!/usr/bin/env bash
# Install dependencies, build, and run the example guest: a real-mode
# program that prints a message through an emulated serial port.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)" --target hello
"$build"/examples/hello/hello
