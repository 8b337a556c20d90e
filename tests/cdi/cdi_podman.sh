#!/usr/bin/env bash
# cdi_podman.sh HVCTL HVD HELLO LIB: a container given hvd.dev/vm=NAME by
# the spec `hvctl cdi generate` writes creates a VM through hvd and runs
# the hello guest. The image (podman import of a tarball: no registry
# needed) holds a static busybox, HELLO and the C library, but not
# libhvclient: that and the socket come from the CDI spec alone.
# Exits 77 (ctest: skipped) where podman is absent or cannot run any
# container at all here, saying why.
set -uo pipefail
hvctl=$1 hvd=$2 hello=$3 lib=$4
skip() { echo "SKIP: $*"; exit 77; }
command -v podman > /dev/null || skip "podman is not installed (apt-get install podman)"
# Debian 12's podman 4.3 has no --cdi-spec-dir: the spec goes in the
# dynamic CDI directory, which needs root. So this runs rootful.
[ "$(id -u)" -eq 0 ] || skip "not root: podman 4.3 reads CDI specs only from /etc/cdi and /var/run/cdi"
busybox=$(command -v busybox) || skip "no busybox (apt-get install busybox-static)"
ldd "$busybox" > /dev/null 2>&1 && skip "$busybox is not static (apt-get install busybox-static)"
# podman's default open-file limit (1048576) is more than a machine with a
# lower hard limit lets crun set, and the process limit fails the same way:
# ask for small limits that any machine allows and the test needs no more.
run=(podman run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

name=hvdtest$$
dir=$(mktemp -d /tmp/hvd-cdi-podman.XXXXXX)
spec=/var/run/cdi/hvd-test-$name.json
image=localhost/hvd-cdi-test:$name
hvd_pid=
cleanup() {
  rm -f "$spec"
  podman rmi -f "$image" > /dev/null 2>&1
  [ -n "$hvd_pid" ] && kill -TERM "$hvd_pid" 2>/dev/null && wait "$hvd_pid"
  rm -rf "$dir"
}
trap cleanup EXIT

root=$dir/root
mkdir -p "$root/bin" "$root/tmp" "$root/run/hvd" "$root/proc" "$root/sys" "$root/dev"
cp "$busybox" "$root/bin/busybox" && ln -s busybox "$root/bin/sh"
cp "$hello" "$root/hello"
for l in $(ldd "$hello" | grep -o '/[^ ]*' | grep -v libhvclient); do
  mkdir -p "$root$(dirname "$l")" && cp -L "$l" "$root$l"
done
tar -C "$root" -cf "$dir/root.tar" . || exit 1
podman import -q "$dir/root.tar" "$image" > /dev/null || exit 1

# Can this machine run a container at all? If not, it is the machine, not
# the spec: skip with podman's own words. crun (podman's default) refuses
# hosts with cgroup v1 and v2 both mounted ("hybrid mode"); runc does not,
# so it is the second try.
if ! out=$(timeout 120 "${run[@]}" "$image" /bin/busybox true 2>&1); then
  command -v runc > /dev/null || skip "podman cannot run a container here: $out"
  run=(podman --runtime runc "${run[@]:1}")
  out2=$(timeout 120 "${run[@]}" "$image" /bin/busybox true 2>&1) ||
    skip "podman cannot run a container here: $out; with runc: $out2"
  echo "podman's default runtime failed ($out); using runc"
fi

"$hvd" --socket "$dir/hvd.sock" --log-level warn &
hvd_pid=$!
for _ in $(seq 1 200); do
  [ -S "$dir/hvd.sock" ] && break
  kill -0 "$hvd_pid" 2>/dev/null || { echo "hvd exited early" >&2; exit 1; }
  sleep 0.01
done
mkdir -p /var/run/cdi
"$hvctl" cdi generate --tenant "$name" --socket "$dir/hvd.sock" --lib "$lib" --output "$spec" || exit 1
timeout 120 "${run[@]}" --device "hvd.dev/vm=$name" "$image" \
  /bin/sh -c 'echo "HVD_SOCKET=$HVD_SOCKET"; exec /hello'
