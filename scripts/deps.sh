#!/usr/bin/env bash
# Install what building and testing hvd needs, from Debian 12's packages.
# Idempotent; needs root (CI and the development machines run as root).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config nasm
  libcriterion-dev libuv1-dev libprotobuf-c-dev protobuf-c-compiler
  nanopb libnanopb-dev libsodium-dev libinih-dev libplist-dev libjson-c-dev libsystemd-dev libseccomp-dev
  doxygen lintian clang libclang-rt-14-dev
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
