#!/usr/bin/env bash
# hvd's log under systemd goes to the journal's native socket with a
# PRIORITY and hvd's fields (HVD_SESSION, HVD_PID, HVD_TENANT), a denial
# is a log line (warn), `hvctl log-level` changes the level at run time,
# and nothing is written to stderr twice. Without a journal: under the
# journal's stream, "<N>text" without a timestamp; elsewhere timestamps.
#
# The journal is a fake one (fake_journal.py) at the fixed path libsystemd
# sends to, /run/systemd/journal/socket, in a mount namespace of this
# test's own (a tmpfs over /run): the host's /run is not touched.
# Usage: journal_test.sh HVD HVCTL   (as root)
set -euo pipefail
if [ -z "${HVD_JOURNAL_TEST_NS:-}" ]; then
  exec unshare -m --propagation private env HVD_JOURNAL_TEST_NS=1 "$0" "$@"
fi
hvd=$1 hvctl=$2
here=$(cd "$(dirname "$0")" && pwd)
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
dir=$(mktemp -d /tmp/hvd-journal.XXXXXX)
chmod 755 "$dir"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.jsonl "$dir"/*.err; do echo "--- $f"; cat "$f"; done; exit 1; }
wait_for() { for _ in $(seq 1 500); do eval "$1" && return 0; sleep 0.01; done; fail "timed out: $1"; }

/usr/bin/python3 "$here/fake_journal.py" /run/systemd/journal/socket "$dir/journal.jsonl" &
pids+=($!)
wait_for "test -S /run/systemd/journal/socket"

# 1. Under systemd (INVOCATION_ID), to the journal.
env -u JOURNAL_STREAM INVOCATION_ID=0123456789abcdef0123456789abcdef \
  "$hvd" --socket "$dir/s" --socket-mode 0666 --log-level info 2> "$dir/hvd1.err" &
hvd_pid=$!; pids+=($hvd_pid)
wait_for "test -S $dir/s"
"$hvctl" --socket "$dir/s" status > /dev/null
# A denial: an admin request by a user who is not an administrator.
setpriv --reuid 60001 --regid 60000 --clear-groups "$hvctl" --socket "$dir/s" policy reload \
  > /dev/null 2>&1 && fail "uid 60001 reloaded the policy"
test "$("$hvctl" --socket "$dir/s" log-level)" = info || fail "log-level does not show info"
test "$("$hvctl" --socket "$dir/s" log-level debug)" = debug || fail "log-level debug"
"$hvctl" --socket "$dir/s" status > /dev/null
test "$("$hvctl" --socket "$dir/s" log-level warn)" = warn || fail "log-level warn"
"$hvctl" --socket "$dir/s" status > /dev/null
kill -TERM "$hvd_pid"; wait "$hvd_pid"
wait_for "grep -q '\"MESSAGE\": \"log level warn' $dir/journal.jsonl"

/usr/bin/python3 - "$dir/journal.jsonl" <<'PY' || fail "journal entries"
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
def find(pred, what):
    for e in entries:
        if pred(e):
            return e
    sys.exit("no entry: " + what)
for e in entries:
    assert e.get("SYSLOG_IDENTIFIER") == "hvd", e
    assert e.get("PRIORITY") in "3467", e
e = find(lambda e: e["MESSAGE"].startswith("listening on"), "listening")
assert e["PRIORITY"] == "6", e
e = find(lambda e: "admin_policy_reload deny" in e["MESSAGE"], "the denial")
assert e["PRIORITY"] == "4", e
assert e["HVD_SESSION"].isdigit() and e["HVD_PID"].isdigit(), e
assert "uid 60001" in e["MESSAGE"] and e.get("HVD_TENANT"), e
opened = find(lambda e: " opened (pid " in e["MESSAGE"], "a session opened")
assert opened["HVD_PID"] == opened["MESSAGE"].split("(pid ")[1].split()[0], opened
debug = [e for e in entries if e["PRIORITY"] == "7"]
assert any(": admin_status" in e["MESSAGE"] for e in debug), "no debug line after log-level debug"
i = next(i for i, e in enumerate(entries) if e["MESSAGE"].startswith("log level warn"))
assert all(e["PRIORITY"] in "34" for e in entries[i + 1:]), "info lines after log-level warn"
assert all("CODE_FILE" not in e for e in entries), "CODE_FILE names hvd_log.c, not the caller"
PY
grep -q "listening on" "$dir/hvd1.err" && fail "lines went to stderr as well as to the journal"

# 2. The journal's stream on stderr but no native socket: "<N>text".
kill "${pids[0]}"; rm -f /run/systemd/journal/socket
: > "$dir/hvd2.err"
js=$(stat -c '%d:%i' "$dir/hvd2.err")
env -u INVOCATION_ID JOURNAL_STREAM="$js" "$hvd" --socket "$dir/s" --log-level info \
  2>> "$dir/hvd2.err" &
hvd_pid=$!; pids+=($hvd_pid)
wait_for "test -S $dir/s"
kill -TERM "$hvd_pid"; wait "$hvd_pid"
grep -qE '^<6>listening on ' "$dir/hvd2.err" || fail "no '<6>listening on' line on the stream"
grep -qE '^[0-9]{4}-' "$dir/hvd2.err" && fail "timestamps on the journal's stream"

# 3. Neither: plain lines with a timestamp and the level.
env -u INVOCATION_ID -u JOURNAL_STREAM "$hvd" --socket "$dir/s" --log-level info \
  2> "$dir/hvd3.err" &
hvd_pid=$!; pids+=($hvd_pid)
wait_for "test -S $dir/s"
kill -TERM "$hvd_pid"; wait "$hvd_pid"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z hvd\[info\] listening on ' "$dir/hvd3.err" ||
  fail "no timestamped line on a plain stderr"
echo "journal: ok"
