#!/usr/bin/env bash
# The shipped /etc/hvd/hvd.conf loads (hvd refuses to start on a broken
# policy, so starting it with the file is the check), with its audit path
# moved to a scratch file and the groups the package creates (absent on a
# build machine) replaced by gid 0.
set -euo pipefail
hvd=$1 conf=$2
dir=$(mktemp -d /tmp/hvd-conf.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
sed -e "s|^audit = .*|audit = $dir/audit.jsonl|" -e "s|^admin_group = .*|admin_group = 0|" -e "s|^group = hvd$|group = 0|" "$conf" > "$dir/hvd.conf"
"$hvd" --socket "$dir/s.sock" --config "$dir/hvd.conf" --state-dir "$dir/state" --log-level info 2> "$dir/log" &
pid=$!
for _ in $(seq 1 200); do
  [ -S "$dir/s.sock" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/log"; exit 1; }
  sleep 0.01
done
grep -q "policy from $dir/hvd.conf" "$dir/log"
echo "default config loads"
