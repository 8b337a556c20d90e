#!/usr/bin/env bash
# Every long option in hvd's option table (daemon/hvd_main.c) appears in
# `hvd --help` and in hvd(8): a new option without usage fails here.
# Usage: usage_test.sh HVD SOURCE_DIR
set -euo pipefail
hvd=$1 src=$2
opts=$(sed -n '/struct option opts\[\]/,/};/p' "$src/daemon/hvd_main.c" |
       grep -oE '\{ "[a-z0-9-]+"' | grep -oE '[a-z0-9-]+')
test -n "$opts" || { echo "FAIL: no options found in hvd_main.c"; exit 1; }
help=$("$hvd" --help)
status=0
for o in $opts; do
  grep -qE -- "--$o([^a-z0-9-]|\$)" <<< "$help" || { echo "FAIL: --$o is not in hvd --help"; status=1; }
  # roff writes each - as \-.
  grep -qF -- "\\-\\-${o//-/\\-}" "$src/packaging/man/hvd.8" ||
    { echo "FAIL: --$o is not in packaging/man/hvd.8"; status=1; }
done
test $status = 0 && echo "usage lists $(wc -w <<< "$opts") options: ok"
exit $status
