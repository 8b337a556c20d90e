#!/usr/bin/env bash
# hvd started through socket activation serves a client on the passed
# socket, and leaves the socket file (systemd's) in place when it stops.
# Usage: activation_test.sh ACTIVATE HVD HELLO
set -euo pipefail
activate=$1 hvd=$2 hello=$3
dir=$(mktemp -d /tmp/hvd-act.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
sock=$dir/hvd.sock
"$activate" "$sock" "$hvd" --socket "$dir/not-used.sock" --state-dir "$dir/state" \
  --log-level info 2> "$dir/log" &
pid=$!
for _ in $(seq 1 200); do
  grep -q "listening on the socket systemd passed" "$dir/log" && break
  sleep 0.01
done
grep -q "listening on the socket systemd passed" "$dir/log"
test ! -e "$dir/not-used.sock"
HVD_SOCKET=$sock "$hello"
kill -TERM "$pid"
wait "$pid"
test -S "$sock"
echo "socket activation: ok"
