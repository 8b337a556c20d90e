#!/usr/bin/env bash
# Install what building and testing hvd needs, from Debian 12's packages.
# Idempotent; needs root (CI and the development machines run as root).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config nasm
  libcriterion-dev libuv1-dev libprotobuf-c-dev protobuf-c-compiler
  nanopb libnanopb-dev libsodium-dev libinih-dev libplist-dev libjson-c-dev libsystemd-dev libseccomp-dev
  doxygen clang libclang-rt-14-dev
  # the Debian packages (scripts/package.sh, package-test.sh)
  dpkg-dev debhelper lintian logrotate
  # hvctl cdi's tests (tests/cdi)
  python3-jsonschema podman runc busybox-static
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CDI JSON schema that tests/cdi validates `hvctl cdi generate` against,
# from Debian's CDI library source package: unpacked into a cache, not
# installed (the package pulls in a Go toolchain's worth of -dev packages).
CDI_SCHEMA_DIR=/var/cache/hvd-cdi-schema
if [ ! -f "$CDI_SCHEMA_DIR/schema.json" ]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt downloads as _apt where it can
  (cd "$tmp" && apt-get download -qq golang-github-container-orchestrated-devices-container-device-interface-dev)
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  mkdir -p "$CDI_SCHEMA_DIR"
  cp "$tmp"/x/usr/share/gocode/src/github.com/container-orchestrated-devices/container-device-interface/schema/{schema,defs}.json \
    "$CDI_SCHEMA_DIR/"
  rm -rf "$tmp"
fi

# promtool (Prometheus's parser) for tests/system/metrics_test.sh, from
# Debian's prometheus package: unpacked, not installed (installing it
# would start a Prometheus server on the machine).
PROMTOOL_DIR=/var/cache/hvd-promtool
if [ ! -x "$PROMTOOL_DIR/promtool" ]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq prometheus)
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p "$PROMTOOL_DIR"
  cp "$tmp/x/usr/bin/promtool" "$PROMTOOL_DIR/"
  rm -rf "$tmp"
fi
