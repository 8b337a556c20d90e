#!/usr/bin/env bash
# The socket hvd makes when started by hand (as root) is 0660 and group
# hvd, as hvd.socket makes it; --socket-mode and --socket-group change
# that; a world-connectable socket (hvd's or one systemd passed) is
# warned about; a group that does not exist is refused when asked for.
# Usage: socket_test.sh HVD HVCTL ACTIVATE
set -euo pipefail
hvd=$1 hvctl=$2 activate=$3
dir=$(mktemp -d /tmp/hvd-sock.XXXXXX)
chmod 755 "$dir"
pid=
trap 'test -n "$pid" && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "--- hvd's log:"; cat "$dir/log" 2>/dev/null; exit 1; }

start() { # start SOCKET ARGS...
  local sock=$1; shift
  "$hvd" --socket "$sock" --log-level info "$@" 2> "$dir/log" &
  pid=$!
  for _ in $(seq 1 500); do
    test -S "$sock" && return 0
    kill -0 "$pid" 2>/dev/null || fail "hvd exited at start"
    sleep 0.01
  done
  fail "no socket at $sock"
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }
as_user() { setpriv --reuid 60001 --regid 60000 --clear-groups "$@"; }

# The default.
start "$dir/a.sock"
got=$(stat -c '%a %G' "$dir/a.sock")
if getent group hvd > /dev/null; then
  test "$got" = "660 hvd" || fail "default socket is '$got', not '660 hvd'"
else
  test "$got" = "660 root" || fail "default socket is '$got', not '660 root'"
  grep -q "no group hvd" "$dir/log" || fail "no warning about the missing group hvd"
fi
grep -q "world-connectable" "$dir/log" && fail "warned about a socket that is not world-connectable"
"$hvctl" --socket "$dir/a.sock" status > /dev/null || fail "root cannot connect"
as_user "$hvctl" --socket "$dir/a.sock" status > /dev/null 2>&1 &&
  fail "uid 60001, in no group of the socket's, connected"
stop

# Asked for: a numeric group, and a mode open to all, which is warned about.
start "$dir/b.sock" --socket-mode 0666 --socket-group 60010
got=$(stat -c '%a %g' "$dir/b.sock")
test "$got" = "666 60010" || fail "socket is '$got', not '666 60010'"
grep -q "the socket $dir/b.sock is world-connectable" "$dir/log" ||
  fail "no warning about the world-connectable socket"
as_user "$hvctl" --socket "$dir/b.sock" status > /dev/null || fail "uid 60001 cannot connect to 0666"
stop

# A group asked for by a name that does not exist, a mode that is not one.
if "$hvd" --socket "$dir/c.sock" --socket-group no-such-group-hvd 2> "$dir/log"; then
  fail "hvd started with a group that does not exist"
fi
grep -q "no group 'no-such-group-hvd'" "$dir/log" || fail "the refusal does not name the group"
if "$hvd" --socket "$dir/c.sock" --socket-mode 0999 2> "$dir/log"; then
  fail "hvd started with mode 0999"
fi
grep -q "not an octal mode" "$dir/log" || fail "the refusal does not say why"
test ! -e "$dir/c.sock" || fail "a refused start left a socket"

# Socket-activated: the socket is systemd's and stays as it is, but a
# world-connectable one is warned about.
(umask 0; exec "$activate" "$dir/d.sock" "$hvd" --log-level info 2> "$dir/log") &
pid=$!
for _ in $(seq 1 500); do
  grep -q "listening on the socket systemd passed" "$dir/log" && break
  sleep 0.01
done
grep -q "the socket $dir/d.sock is world-connectable.*SocketMode=" "$dir/log" ||
  fail "no warning about the world-connectable activated socket"
got=$(stat -c '%a' "$dir/d.sock")
test "$got" = 777 || fail "hvd changed the activated socket's mode to $got"
stop
echo "socket mode and group: ok"
