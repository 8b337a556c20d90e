#!/usr/bin/env bash
# The Debian packages, end to end: built twice from the source package
# (versions 0.1.0~test1 and ~test2, scripts/package.sh), checked with
# lintian (no error, no warning), the first installed and used, upgraded
# to the second while its hvd runs, used again, then removed and purged,
# with nothing of theirs left.
#   scripts/package-test.sh [WORKDIR]   (default build-package)
# Needs root; changes the machine's /usr and /etc (use a disposable
# machine: CI).
#
# Without systemd as PID 1 (containers, this CI), the maintainer scripts
# skip starting, stopping and restarting units, as they must: what the
# test checks there is that the scripts dh_installsystemd generated say
# the right thing (restart hvd.service and hvd.socket on upgrade, stop
# them on removal, never before an upgrade), by running the installed
# postinst and prerm against stand-ins for systemctl and
# deb-systemd-invoke that record what they are asked. That systemd then
# really restarts a running hvd is not tested here.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-build-package}
export DEBIAN_FRONTEND=noninteractive
v1=0.1.0~test1 v2=0.1.0~test2
pkgs=(hvd hvd-doc libhvclient0 libhvdirect0 libhvclient-dev)
arch=$(dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null || dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
step() { echo "package test: $*"; }
fail() { echo "package test: FAILED: $*" >&2; exit 1; }

# Left over from an earlier run that failed half-way.
dpkg --purge "${pkgs[@]}" > /dev/null 2>&1 || true

changes=$(scripts/package.sh "$work" "$v1" "$v2")
work=$(readlink -f "$work")
changes2=$(printf '%s\n' "$changes" | tail -n 1)
debs() { for p in "${pkgs[@]}"; do
  ls "$work/${p}_${1}_"{"$arch",all}.deb 2>/dev/null || true; done; }
[ "$(debs "$v1" | wc -l)" = 5 ] && [ "$(debs "$v2" | wc -l)" = 5 ] ||
  fail "expected five packages per version in $work"

step "lintian $(basename "$changes2")"
lintian --fail-on error,warning -I "$changes2" > "$work/lintian.log" 2>&1 || lint=$?
grep -v "running with root privileges" "$work/lintian.log" || true
[ "${lint:-0}" = 0 ] || fail "lintian reported errors or warnings ($work/lintian.log)"

run=$(mktemp -d /tmp/hvd-pkg.XXXXXX)
hvd_pid=
cleanup() {
  [ -z "$hvd_pid" ] || kill "$hvd_pid" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT

# ---- install the first build ----
step "install $v1"
mapfile -t first < <(debs "$v1")
dpkg -i "${first[@]}" > "$run/dpkg.log" 2>&1 || { cat "$run/dpkg.log"; fail "dpkg -i $v1"; }
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status} ${Version}' "$p")" = "install ok installed $v1" ] ||
    fail "$p is not installed at $v1"
done
test -x /usr/bin/hvd && test -x /usr/bin/hvctl || fail "hvd, hvctl"
test -f /etc/hvd/hvd.conf && test -f /etc/logrotate.d/hvd || fail "configuration files"
test -f /usr/include/Hypervisor/hv.h || fail "headers"
test -f "/usr/lib/$multiarch/cmake/hvclient/hvclientConfig.cmake" || fail "CMake package"
ls /usr/share/doc/hvd/policy.md* /usr/share/doc/hvd/api/index.html > /dev/null || fail "docs"
grep -qx "ExecStart=/usr/bin/hvd --config /etc/hvd/hvd.conf --cgroups" /lib/systemd/system/hvd.service ||
  fail "the unit does not run /usr/bin/hvd with /etc/hvd/hvd.conf and --cgroups"
grep -qx "Delegate=cpu memory" /lib/systemd/system/hvd.service || fail "the unit does not delegate cpu and memory"
/usr/bin/hvd --help | grep -q -- "--config FILE .*(default /etc/hvd/hvd.conf " ||
  fail "hvd's default policy file is not /etc/hvd/hvd.conf"
# The users and directories (systemd-sysusers, systemd-tmpfiles).
getent passwd hvd > /dev/null && getent group hvdadmin > /dev/null || fail "user hvd, group hvdadmin"
id -nG hvd | grep -qw kvm || fail "hvd is not in group kvm"
[ "$(stat -c %U:%G:%a /var/log/hvd)" = hvd:hvd:750 ] || fail "/var/log/hvd: $(stat -c %U:%G:%a /var/log/hvd)"
/usr/bin/hvctl policy check /etc/hvd/hvd.conf
logrotate --debug /etc/logrotate.d/hvd > "$run/logrotate-debug" 2>&1 ||
  { cat "$run/logrotate-debug"; fail "logrotate rejects /etc/logrotate.d/hvd"; }
# The administrator's change to a conffile survives the upgrade.
echo "# changed by the package test" >> /etc/hvd/hvd.conf

# ---- use it: the installed hvd with its default policy ----
start_hvd() {
  # By hand, as root, as operations.md's "without systemd" has it. The
  # audit log is hvd's, as the unit's hvd (User=hvd) makes it, so that
  # logrotate (su hvd hvd) may rotate it. (chown, not only create: any
  # root hvd started meanwhile without --config, on a shared machine,
  # reads the installed policy and may have created it as root.)
  touch /var/log/hvd/audit.jsonl
  chown hvd:hvd /var/log/hvd/audit.jsonl
  chmod 0640 /var/log/hvd/audit.jsonl
  rm -f "$run/hvd.sock"
  /usr/bin/hvd --socket "$run/hvd.sock" --log-level info 2>> "$run/hvd.log" &
  hvd_pid=$!
  for _ in $(seq 1 300); do
    [ -S "$run/hvd.sock" ] && return 0
    kill -0 "$hvd_pid" 2>/dev/null || { cat "$run/hvd.log"; fail "the installed hvd exited"; }
    sleep 0.01
  done
  fail "the installed hvd did not listen"
}
stop_hvd() {
  kill -TERM "$hvd_pid"
  wait "$hvd_pid" || fail "hvd exited with $?"
  hvd_pid=
}
hello() {
  HVD_SOCKET=$run/hvd.sock "$@" > "$run/out" 2>&1 || { cat "$run/out"; fail "$* through the installed hvd"; }
  grep -q "Hello from a Hypervisor.framework guest" "$run/out" || { cat "$run/out"; fail "$*: no greeting"; }
}
export HVD_SOCKET=$run/hvd.sock
start_hvd
/usr/bin/hvctl status --json > "$run/status.json"
grep -q '"policy_source": *"/etc/hvd/hvd.conf"' "$run/status.json" ||
  fail "the installed hvd did not load /etc/hvd/hvd.conf by default: $(cat "$run/status.json")"
# The example built against the installed packages, the two ways docs
# show: pkg-config, and find_package(hvclient).
guest=$(ls "$work"/src/obj-*/examples/hello/libhello_guest.a)
read -r -a hvclient_flags <<< "$(pkg-config --cflags --libs hvclient)"
cc -o "$run/hello" examples/hello/hello.c "$guest" "${hvclient_flags[@]}"
cmake -S tests/install/consumer -B "$run/consumer" -DHELLO_SOURCE="$PWD/examples/hello/hello.c" \
      -DGUEST_LIB="$guest" > /dev/null
cmake --build "$run/consumer" > /dev/null
hello "$run/hello"
hello "$run/consumer/hello"
ldd "$run/hello" | grep -qE "libhvclient.so.0 => (/usr)?/lib/$multiarch/" || fail "hello does not use the installed libhvclient"
grep -q '"decision":"allow"' /var/log/hvd/audit.jsonl || fail "no allow line in the audit log"

# logrotate rotates the audit log under the running hvd, which then goes
# on writing to the fresh file (copytruncate; hvd appends).
step "logrotate the audit log"
logrotate --force --state "$run/logrotate.state" /etc/logrotate.d/hvd
grep -q '"decision":"allow"' /var/log/hvd/audit.jsonl.1 || fail "the rotated log lacks the old lines"
hello "$run/hello"
grep -q '"decision":"allow"' /var/log/hvd/audit.jsonl || fail "hvd stopped logging after the rotation"
[ "$(tr -d '\0' < /var/log/hvd/audit.jsonl | wc -c)" = "$(wc -c < /var/log/hvd/audit.jsonl)" ] ||
  fail "the audit log has a hole after the rotation"

# ---- upgrade while the first hvd runs ----
step "upgrade to $v2 with hvd running (pid $hvd_pid)"
mapfile -t second < <(debs "$v2")
dpkg -i "${second[@]}" > "$run/dpkg.log" 2>&1 || { cat "$run/dpkg.log"; fail "dpkg -i $v2"; }
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status} ${Version}' "$p")" = "install ok installed $v2" ] ||
    fail "$p is not at $v2 after the upgrade"
done
grep -q "^# changed by the package test" /etc/hvd/hvd.conf || fail "the upgrade lost the changed conffile"

# What the installed maintainer scripts do under systemd, with stand-ins
# that record each call: the configure of an upgrade restarts both units
# (hvd.service only if it runs: deb-systemd-invoke skips disabled units
# that do not), a first configure starts them, removal stops them, an
# upgrade's prerm stops nothing, and no preinst stops them first.
mkdir -p "$run/shim" "$run/systemd-system"
for tool in systemctl deb-systemd-invoke deb-systemd-helper systemd-sysusers systemd-tmpfiles; do
  printf '#!/bin/sh\necho "%s $*" >> "%s"\n' "$tool" "$run/calls" > "$run/shim/$tool"
  chmod +x "$run/shim/$tool"
done
# As on a machine where hvd.service was never enabled by a package.
echo '[ "$1" != debian-installed ]' >> "$run/shim/deb-systemd-helper"
under_systemd() {  # SCRIPT ARGS...: run an installed maintainer script as if systemd ran
  sed "s|/run/systemd/system|$run/systemd-system|g" "/var/lib/dpkg/info/hvd.$1" > "$run/script"
  shift
  : > "$run/calls"
  PATH=$run/shim:$PATH sh -e "$run/script" "$@"
}
under_systemd postinst configure "$v1"
grep -qx "deb-systemd-invoke restart hvd.service" "$run/calls" &&
  grep -qx "deb-systemd-invoke restart hvd.socket" "$run/calls" ||
  fail "the postinst of an upgrade does not restart hvd: $(cat "$run/calls")"
under_systemd postinst configure
grep -qx "deb-systemd-invoke start hvd.socket" "$run/calls" &&
  grep -qx "deb-systemd-helper enable hvd.socket" "$run/calls" ||
  fail "the postinst of an install does not enable and start hvd.socket: $(cat "$run/calls")"
if grep -q "enable hvd.service" "$run/calls"; then fail "hvd.service is enabled (it is socket-activated)"; fi
under_systemd prerm upgrade "$v2"
[ ! -s "$run/calls" ] || fail "the prerm of an upgrade stops something: $(cat "$run/calls")"
under_systemd prerm remove
grep -qx "deb-systemd-invoke stop hvd.service" "$run/calls" &&
  grep -qx "deb-systemd-invoke stop hvd.socket" "$run/calls" ||
  fail "the prerm of a removal does not stop hvd: $(cat "$run/calls")"
[ ! -e /var/lib/dpkg/info/hvd.preinst ] || ! grep -q "deb-systemd-invoke stop" /var/lib/dpkg/info/hvd.preinst ||
  fail "the preinst stops hvd before the upgrade"
if grep -hv "^ *#" /var/lib/dpkg/info/hvd.postinst /var/lib/dpkg/info/hvd.prerm /var/lib/dpkg/info/hvd.postrm |
   grep -E "systemctl +(start|stop|restart|enable|disable)" > "$run/bare"; then
  fail "maintainer scripts call systemctl directly: $(cat "$run/bare")"
fi
# Here, without systemd, nothing restarted the old hvd: it runs on, on
# the replaced binary. Say so, then restart it by hand as an
# administrator would.
if [ "$(readlink "/proc/$hvd_pid/exe")" = "/usr/bin/hvd (deleted)" ]; then
  step "not tested here: systemd restarting the running hvd (PID 1 is $(cat /proc/1/comm), not systemd); the old hvd ran on and is restarted by hand"
fi
stop_hvd
start_hvd
hello "$run/hello"

# ---- remove and purge: nothing left ----
step "remove and purge"
stop_hvd
dpkg-query -L "${pkgs[@]}" 2>/dev/null | sort -u > "$run/files"
dpkg -r "${pkgs[@]}" > /dev/null
test ! -e /usr/bin/hvd && test ! -e "/usr/lib/$multiarch/libhvclient.so.0" || fail "files left after dpkg -r"
test -e /etc/hvd/hvd.conf || fail "dpkg -r removed the conffile (only purge may)"
# Only hvd has conffiles; the others are gone with dpkg -r.
dpkg --purge hvd > /dev/null
for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv "not-installed"; then
    fail "$p is still known to dpkg after the purge: $(dpkg-query -W -f='${Status}' "$p")"
  fi
done
# Every file the packages had (directories others share aside), and what
# the maintainer scripts made.
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done < "$run/files" || true)
[ -z "$left" ] || fail "left after the purge: $left"
for f in /etc/hvd /etc/logrotate.d/hvd /var/log/hvd /run/hvd /usr/share/doc/hvd /usr/include/Hypervisor \
         /etc/systemd/system/sockets.target.wants/hvd.socket; do
  [ ! -e "$f" ] || fail "left after the purge: $f"
done
# The system user and groups stay, as Debian does with system accounts
# (files they own may remain, e.g. on other file systems).
step "left on purpose: user hvd, groups hvd and hvdadmin"
step "ok"
