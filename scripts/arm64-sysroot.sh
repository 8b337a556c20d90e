#!/bin/bash
# An arm64 Debian sysroot for the cross build, made of Debian's own arm64
# packages downloaded and unpacked into a directory, never installed:
#
#   scripts/arm64-sysroot.sh [DIR]     (default /var/cache/hvd-lab/arm64/sysroot)
#
# prints DIR on its last line. cmake/aarch64-linux-gnu.cmake points the
# cross compiler and pkg-config at it (HVD_ARM64_SYSROOT), and the arm64 lab
# copies its shared libraries into the test host, so what the build linked
# against is what runs there.
#
# Why not `apt-get install libfoo-dev:arm64`: multiarch installs change the
# build machine (and Criterion's dependencies are not Multi-Arch, so apt
# removes the amd64 Criterion to install the arm64 one). A sysroot touches
# nothing but DIR; the only system changes are the ones every arm64 step
# needs: the arm64 dpkg architecture (so apt can download arm64 packages) and
# the cross compiler, both made here when missing.
#
# The package set is the closure of ROOTS under Depends/Pre-Depends (first
# alternative, arm64 packages only, minus tools nobody links: SKIP). DIR is
# rebuilt when the set or any version changes (DIR/.packages lists them).
set -euo pipefail

dir=${1:-/var/cache/hvd-lab/arm64/sysroot}
ROOTS=(libc6-dev libgcc-s1 libuv1-dev libjson-c-dev libsystemd-dev libseccomp-dev
	libprotobuf-c-dev libsodium-dev libnanopb-dev libinih-dev libplist-dev
	libcriterion-dev)
SKIP=' pkg-config pkgconf pkgconf-bin libc-dev-bin rpcsvc-proto libpkgconf3 '

log() { echo "arm64-sysroot: $*" >&2; }
die() { log "$*"; exit 1; }

need=()
command -v aarch64-linux-gnu-gcc > /dev/null || need+=(gcc-aarch64-linux-gnu)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	log "adding arm64 as a dpkg architecture (for apt-get download only)"
	dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed (root?)"
	apt-get update -qq > /dev/null || die "apt-get update failed"
fi
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" > /dev/null ||
		die "could not install ${need[*]}"
fi
if ! apt-cache show libc6:arm64 > /dev/null 2>&1; then
	apt-get update -qq > /dev/null || die "apt-get update failed"
fi

# The closure, a round at a time (one apt-cache call per round: apt-cache
# is slow to start, and a package at a time took two minutes).
declare -A seen=()
round=("${ROOTS[@]}")
names=()
while [ ${#round[@]} -gt 0 ]; do
	args=()
	for p in "${round[@]}"; do
		[ -n "${seen[$p]:-}" ] && continue
		seen[$p]=1
		case "$SKIP" in *" $p "*) continue ;; esac
		names+=("$p")
		args+=("$p:arm64")
	done
	round=()
	[ ${#args[@]} -gt 0 ] || break
	# "name:arm64" starts a package's block; " Depends: x:arm64";
	# " |Depends: a:arm64" is a with an alternative on the next line:
	# take a, skip the next. Virtual packages are <x>.
	alt=
	while read -r kind dep; do
		case "$kind" in
		'|Depends:' | '|PreDepends:') [ -z "$alt" ] && round+=("${dep%:arm64}"); alt=1; continue ;;
		Depends: | PreDepends:) ;;
		*) alt=; continue ;;
		esac
		if [ -n "$alt" ]; then alt=; continue; fi
		case "$dep" in *:arm64) round+=("${dep%:arm64}") ;; esac
	done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "${args[@]}" 2>/dev/null)
done
list=
args=()
for p in "${names[@]}"; do args+=("$p:arm64"); done
while read -r p v; do
	[ "$v" != "(none)" ] || die "no arm64 package $p (apt-get update?)"
	list+="$p $v"$'\n'
done < <(apt-cache policy "${args[@]}" 2>/dev/null |
	awk '/^[^ ]/{sub(/:.*/, ""); p=$0} /^ *Candidate:/{print p, $2}')
[ "$(printf '%s' "$list" | wc -l)" -eq ${#names[@]} ] || die "apt-cache policy lost packages"
list=$(printf '%s' "$list" | sort)

if [ -f "$dir/.packages" ] && [ "$(cat "$dir/.packages")" = "$list" ]; then
	echo "$dir"
	exit 0
fi

log "building $dir from $(printf '%s\n' "$list" | wc -l) arm64 packages"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp"  # apt's download sandbox user writes here
pkgs=()
while read -r p v; do pkgs+=("$p:arm64=$v"); done <<< "$list"
(cd "$tmp" && apt-get download "${pkgs[@]}" > "$tmp/log" 2>&1) ||
	{ cat "$tmp/log" >&2; die "apt-get download failed"; }
rm -rf "$dir.new"
mkdir -p "$dir.new"
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dir.new"; done
# Merged /usr, as an installed Debian 12 has it: one library directory,
# which the lab binds over the test host's /usr/lib/aarch64-linux-gnu.
for d in lib bin sbin; do
	[ -d "$dir.new/$d" ] && [ ! -L "$dir.new/$d" ] || continue
	mkdir -p "$dir.new/usr/$d"
	cp -a "$dir.new/$d/." "$dir.new/usr/$d/"
	rm -rf "$dir.new/$d"
	ln -s "usr/$d" "$dir.new/$d"
done
# Absolute symlinks (libfoo.so -> /lib/aarch64-linux-gnu/libfoo.so.1) would
# point into the build machine: make them relative to the sysroot.
find "$dir.new" -type l -lname '/*' | while read -r l; do
	t=$(readlink "$l")
	ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$dir.new$t")" "$l"
done
printf '%s' "$list" > "$dir.new/.packages"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "$dir"
