#!/usr/bin/env bash
# Build hvd's Debian packages from the source package in debian/, the
# Debian way (dpkg-buildpackage, debhelper), in a scratch copy of the tree
# so that the tree stays clean:
#   scripts/package.sh [OUTDIR [VERSION...]]   (OUTDIR: build-package)
# With no VERSION the changelog's version is built; with VERSIONs (e.g.
# 0.1.0~test1 0.1.0~test2) each is built in turn from one copy, after a
# changelog entry for it is added there (the later ones rebuild only what
# changed). The .deb, .changes and .buildinfo files end up in OUTDIR, the
# copy in OUTDIR/src (its build tree is OUTDIR/src/obj-*). Prints the
# .changes file of each build, one a line.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-package}
[ $# -eq 0 ] || shift
scripts/deps.sh
mkdir -p "$out"
out=$(readlink -f "$out")
rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir "$out/src"
# The tree as git sees it (tracked and new files, not ignored ones: no
# build directories), with uncommitted changes.
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$out/src" -xf -
else  # an unpacked tarball: everything but build trees
  tar --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$out/src" -xf -
fi

jobs=$(nproc)
[ "$jobs" -le 2 ] || jobs=2
export DEB_BUILD_OPTIONS="parallel=$jobs${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"

build() {
  # -b: binary packages only; -us -uc: unsigned; -nc after the first
  # build: keep the build tree, so a rebuild is incremental. The files go
  # to the copy's parent, OUTDIR.
  (cd "$out/src" && dpkg-buildpackage -us -uc -b "$@") > "$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "package.sh: dpkg-buildpackage failed; log: $out/build.log" >&2
    return 1
  }
  local version arch
  version=$(cd "$out/src" && dpkg-parsechangelog -S Version)
  arch=$(dpkg-architecture -qDEB_HOST_ARCH)
  echo "$out/hvd_${version}_${arch}.changes"
}

if [ $# -eq 0 ]; then
  build
  exit 0
fi
first=1
for version in "$@"; do
  {
    printf 'hvd (%s) unstable; urgency=medium\n\n  * Test build %s (scripts/package.sh).\n\n' "$version" "$version"
    printf ' -- hvd developers <dev@hvd.invalid>  %s\n\n' "$(date -R)"
    cat "$out/src/debian/changelog"
  } > "$out/src/debian/changelog.new"
  mv "$out/src/debian/changelog.new" "$out/src/debian/changelog"
  if [ "$first" = 1 ]; then build; first=0; else build -nc; fi
done
