#!/usr/bin/env bash
# Runs sandbox_attack (see sandbox_attack.c) in a scratch directory owned
# by root, and checks that nothing it tried left a trace.
# Usage: sandbox_attack.sh SANDBOX_ATTACK   (as root)
set -euo pipefail
dir=$(mktemp -d /tmp/hvd-attack.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 0755 "$dir"
"$1" "$dir"
[ "$(cat "$dir/root-owned")" = "root's data" ] || { echo "the root-owned file was changed"; exit 1; }
[ ! -e "$dir/created-by-hvd" ] || { echo "a file was created"; exit 1; }
