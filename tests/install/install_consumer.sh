#!/usr/bin/env bash
# Install the build tree into a scratch prefix, build the hello example as
# an outside program would (pkg-config --cflags --libs hvclient, then
# find_package(hvclient) from a separate CMake project), and run both
# through the installed hvd; then once more with pkg-config hvdirect,
# in-process. Usage: install_consumer.sh SRC BUILD GUESTLIB
set -euo pipefail
src=$1 build=$2 guestlib=$3
prefix=$(mktemp -d /tmp/hvd-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" > /dev/null
test -x "$prefix/bin/hvd"
test -f "$prefix/include/Hypervisor/hv.h"
pc=$(dirname "$(find "$prefix" -name hvclient.pc | head -n 1)")
export PKG_CONFIG_PATH=$pc
libdir=$(pkg-config --variable=libdir hvclient)
ls "$libdir"/libhvclient.so.* > /dev/null
# HVD_CONSUMER_CFLAGS: a sanitizer build's libraries need an instrumented
# program too.
cc ${HVD_CONSUMER_CFLAGS:-} -o "$prefix/hello" "$src/examples/hello/hello.c" "$guestlib" \
   $(pkg-config --cflags --libs hvclient)
LD_LIBRARY_PATH=$libdir "$src/scripts/with-hvd.sh" "$prefix/bin/hvd" "$prefix/hello"

# libhvclient's own header is installed and its function exported: with
# no hvd at the socket, hv_vm_create fails and hvd_last_error says why.
cat > "$prefix/lasterr.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <Hypervisor/hv.h>
#include <hvd/hvclient.h>
int main(void)
{
	if (hv_vm_create(HV_VM_DEFAULT) == HV_SUCCESS)
		return 1;
	return strstr(hvd_last_error(), "cannot reach hvd at ") ? 0 : 2;
}
C
cc ${HVD_CONSUMER_CFLAGS:-} -o "$prefix/lasterr" "$prefix/lasterr.c" $(pkg-config --cflags --libs hvclient)
HVD_QUIET=1 HVD_SOCKET="$prefix/no-hvd.sock" LD_LIBRARY_PATH=$libdir "$prefix/lasterr"

# The same with find_package(hvclient) from a separate CMake project.
cmake -S "$src/tests/install/consumer" -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_FLAGS="${HVD_CONSUMER_CFLAGS:-}" \
      -DHELLO_SOURCE="$src/examples/hello/hello.c" -DGUEST_LIB="$guestlib" > /dev/null
cmake --build "$prefix/consumer" > /dev/null
LD_LIBRARY_PATH=$libdir "$src/scripts/with-hvd.sh" "$prefix/bin/hvd" "$prefix/consumer/hello"

# In-process, with pkg-config hvdirect (no hvd).
test -f "$pc/hvdirect.pc"
cc ${HVD_CONSUMER_CFLAGS:-} -o "$prefix/hello-direct" "$src/examples/hello/hello.c" "$guestlib" \
   $(pkg-config --cflags --libs hvdirect)
LD_LIBRARY_PATH=$libdir "$prefix/hello-direct"
