#!/usr/bin/env bash
# Build the Debian package, check it with lintian (no errors allowed),
# install it, start the installed hvd with the installed policy, build the
# example against the installed library with pkg-config and run it through
# hvd, then remove and purge the package and check that nothing is left.
# Needs root; changes the machine's /usr (use a disposable machine: CI).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-package}
export DEBIAN_FRONTEND=noninteractive
command -v lintian > /dev/null || apt-get install -y -qq lintian > /dev/null

deb=$(scripts/package.sh "$build" | tail -n 1)
echo "package: $deb"
lintian --fail-on error "$deb" 2>&1 | grep -v "running with root privileges" || true
lintian --fail-on error "$deb" > /dev/null 2>&1 || { echo "lintian reported errors"; exit 1; }

dpkg -i "$deb" > /dev/null
test -x /usr/bin/hvd && test -x /usr/bin/hvctl
test -f /etc/hvd/hvd.conf
getent passwd hvd > /dev/null && getent group hvdadmin > /dev/null
/usr/bin/hvctl policy check /etc/hvd/hvd.conf

work=$(mktemp -d /tmp/hvd-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The installed policy, with the audit log in the scratch directory.
sed "s|^audit = .*|audit = $work/audit.jsonl|" /etc/hvd/hvd.conf > "$work/hvd.conf"
read -r -a hvclient_flags <<< "$(pkg-config --cflags --libs hvclient)"
cc -o "$work/hello" examples/hello/hello.c "$build"/examples/hello/libhello_guest.a \
   "${hvclient_flags[@]}"
cat > "$work/hvd-with-config" <<SH
#!/bin/sh
exec /usr/bin/hvd --config $work/hvd.conf "\$@"
SH
chmod +x "$work/hvd-with-config"
scripts/with-hvd.sh "$work/hvd-with-config" "$work/hello" | tee "$work/out"
grep -q "Hello from a Hypervisor.framework guest" "$work/out"
grep -q '"decision":"allow"' "$work/audit.jsonl"

dpkg -r hvd > /dev/null
test ! -e /usr/bin/hvd && test ! -e /usr/lib/x86_64-linux-gnu/libhvclient.so.0
dpkg --purge hvd > /dev/null
test ! -e /etc/hvd/hvd.conf
# (A bare "! cmd" would not stop the script under set -e.)
if dpkg -l hvd 2>/dev/null | grep -q '^ii'; then
  echo "package test: hvd is still installed after dpkg --purge" >&2
  exit 1
fi
echo "package test: ok"
