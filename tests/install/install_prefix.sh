#!/usr/bin/env bash
# Install paths follow the prefix: `cmake --install --prefix P` (with a
# DESTDIR, to see every file) writes under DESTDIR/P and nowhere else, the
# installed unit runs P's hvd with P's configuration, and hvd's default
# policy file is the configured sysconfdir's (GNUInstallDirs: PREFIX/etc,
# /etc for the prefix /usr).
# Usage: install_prefix.sh BUILD CONFIGURED_PREFIX CONFIGURED_SYSCONFDIR
set -euo pipefail
build=$1 cfg_prefix=$2 cfg_sysconfdir=$3
dir=$(mktemp -d /tmp/hvd-prefix.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "install_prefix: $*" >&2; exit 1; }

prefix=/opt/hvd-prefix-test
DESTDIR=$dir/root cmake --install "$build" --prefix "$prefix" > "$dir/log"
outside=$(cd "$dir/root" && find . \( -type f -o -type l \) | sed 's|^\.||' | grep -v "^$prefix/" || true)
[ -z "$outside" ] || fail "installed outside $prefix: $outside"

root=$dir/root$prefix
test -x "$root/bin/hvd" || fail "no $prefix/bin/hvd"
test -f "$root/etc/hvd/hvd.conf" || fail "no $prefix/etc/hvd/hvd.conf"
unit=$(find "$root" -name hvd.service)
[ -n "$unit" ] || fail "no hvd.service installed"
exec_start=$(grep '^ExecStart=' "$unit")
[ "$exec_start" = "ExecStart=$prefix/bin/hvd --config $prefix/etc/hvd/hvd.conf --cgroups" ] ||
  fail "the installed unit says '$exec_start'"
# Every program the unit runs is one that was installed.
for prog in $(grep -oE "^Exec[A-Za-z]*=[-@+!:]*[^ ]+" "$unit" | sed -E 's/^[^=]*=[-@+!:]*//'); do
  case $prog in
    "$prefix"/*) test -x "$dir/root$prog" || fail "the unit runs $prog, not installed" ;;
  esac
done

# hvd's default policy file: the configured prefix's sysconfdir.
case $cfg_prefix in
  /usr|/usr/) want=/etc/hvd/hvd.conf ;;
  *) want=$cfg_prefix/etc/hvd/hvd.conf ;;
esac
[ "$cfg_sysconfdir/hvd/hvd.conf" = "$want" ] || want=$cfg_sysconfdir/hvd/hvd.conf  # -DCMAKE_INSTALL_SYSCONFDIR=...
"$root/bin/hvd" --help > "$dir/help"
grep -q -- "--config FILE .*(default $want " "$dir/help" ||
  fail "hvd --help does not name $want as the default: $(grep -- --config "$dir/help")"
echo "install paths follow the prefix ($prefix; default config $want)"
