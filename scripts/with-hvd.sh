#!/usr/bin/env bash
# with-hvd.sh HVD PROGRAM [ARGS...]: start HVD on a private socket, run
# PROGRAM with HVD_SOCKET pointing at it, stop HVD, exit with PROGRAM's
# status. hvd's log goes to stderr.
set -u
hvd=$1
shift
dir=$(mktemp -d /tmp/hvd-run.XXXXXX)
sock=$dir/hvd.sock
"$hvd" --socket "$sock" --state-dir "$dir/state" --log-level "${HVD_LOG_LEVEL:-warn}" &
pid=$!
for _ in $(seq 1 200); do
  [ -S "$sock" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "with-hvd: hvd exited early" >&2; exit 1; }
  sleep 0.01
done
HVD_SOCKET=$sock "$@"
status=$?
kill -TERM "$pid" 2>/dev/null
wait "$pid"
hvd_status=$?
rm -rf "$dir"
if [ "$status" -eq 0 ] && [ "$hvd_status" -ne 0 ]; then
  echo "with-hvd: hvd exited with status $hvd_status" >&2
  exit 1
fi
exit "$status"
