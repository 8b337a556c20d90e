#!/usr/bin/env bash
# Runs sandbox_attack (see sandbox_attack.c) in a scratch directory owned
# by root, and checks that nothing it tried left a trace.
# Usage: sandbox_attack.sh SANDBOX_ATTACK   (as root)
set -euo pipefail
dir=$(mktemp -d /tmp/hvd-attack.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 0755 "$dir"
"$1" "$dir" > "$dir/out"
cat "$dir/out"
[ "$(cat "$dir/root-owned")" = "root's data" ] || { echo "the root-owned file was changed"; exit 1; }
[ ! -e "$dir/created-by-hvd" ] || { echo "a file was created"; exit 1; }
# Writing another process's memory is hostile: the filter kills (SIGSYS).
set +e
(ulimit -c 0; exec "$1" "$dir" pvm)
status=$?
set -e
[ "$status" = 159 ] || { echo "process_vm_writev did not kill the attacker (status $status)"; exit 1; }
echo "process_vm_writev into another process: killed (SIGSYS)"
echo "sandbox_attack.sh: ok"
