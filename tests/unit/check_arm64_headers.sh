#!/bin/sh
# The arm64 headers name exactly the enumerators of the reference: no more
# (test_headers_arm64 would not notice an extra one) and no fewer, and the
# generated expectations are those the reference gives today.
#
#   check_arm64_headers.sh SOURCE_DIR [REFERENCE]
#
# Exit 77 (skipped) only when the reference is absent, and then only after
# the name check, which needs nothing but the tree.
set -eu
src=$1
ref=${2:-/work/shared/reference/hv-api-arm64.md}
unit=$src/tests/unit
inc=$src/client/include
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n 's/^[VC](\([A-Z0-9_]*\), .*/\1/p' "$unit/test_headers_arm64_values.h" |
    sort >"$tmp/want"
# Every arm64 header; enumerators are written one a line, tab-indented.
cat "$inc/arm64/hv/hv_kern_types.h" \
    "$inc"/Hypervisor/hv_vm.h "$inc"/Hypervisor/hv_vm_*.h \
    "$inc"/Hypervisor/hv_vcpu*.h "$inc"/Hypervisor/hv_gic*.h \
    "$inc"/Hypervisor/hv_sme_config.h |
    sed -n 's/^\t\(HV_[A-Z0-9_]*\) = .*/\1/p' | sort >"$tmp/have"
if ! diff "$tmp/want" "$tmp/have" >"$tmp/diff"; then
	echo "arm64 headers and reference name different enumerators" \
	    "(< reference only, > headers only):"
	cat "$tmp/diff"
	exit 1
fi
echo "names: $(wc -l <"$tmp/want") enumerators, as in the reference"

if [ ! -r "$ref" ]; then
	echo "reference $ref absent: generated files not rechecked"
	exit 77
fi
"$unit/gen_arm64_values.sh" "$ref" >"$tmp/values.h"
"$unit/gen_arm64_values.sh" --protos "$ref" >"$tmp/protos.h"
cmp "$tmp/values.h" "$unit/test_headers_arm64_values.h"
cmp "$tmp/protos.h" "$unit/test_headers_arm64_protos.h"
echo "generated: values and prototypes match the reference"
