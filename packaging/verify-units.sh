#!/usr/bin/env bash
# systemd-analyze verify on copies of the units whose ExecStart points at
# the built hvd (verify checks that the binary exists).
set -euo pipefail
analyze=$1 service=$2 socket=$3 hvd=$4
dir=$(mktemp -d /tmp/hvd-units.XXXXXX)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=[^ ]*|ExecStart=$hvd|" "$service" > "$dir/hvd.service"
cp "$socket" "$dir/hvd.socket"
out=$("$analyze" verify --man=no "$dir/hvd.socket" "$dir/hvd.service" 2>&1 || true)
# Users and groups that the package creates are not on the build machine.
problems=$(printf '%s\n' "$out" | grep -v -E "^$|Failed to resolve (user|group)|unit.*not found|Cannot add dependency job" || true)
if [ -n "$problems" ]; then
  printf '%s\n' "$problems"
  exit 1
fi
echo "units verified"
