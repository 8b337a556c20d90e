#!/usr/bin/env bash
# The README's five-minute tour, run as written on a fresh build tree:
# its first command (scripts/run-example.sh) must build everything the
# other lines use. The tree is TOUR_BUILD (default build-tour, emptied
# first) instead of build, and hvd's socket a scratch one instead of
# /tmp/hvd.sock; nothing else of the tour's text is changed. Each line
# must succeed (set -e) or exit as its comment says ("exits N"), and the lines whose comment says what they show
# are checked for it.
#   scripts/check-tour.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
tb=${1:-build-tour}
rm -rf "$tb"
dir=$(mktemp -d /tmp/hvd-tour.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# The shell block under "## A five-minute tour".
awk '/^## A five-minute tour/ { t = 1; next }
     t && /^```sh/ { b = 1; next }
     b && /^```/ { exit }
     b { print }' README.md > "$dir/tour.sh"
[ -s "$dir/tour.sh" ] || { echo "check-tour: no tour in README.md" >&2; exit 1; }
grep -q "^scripts/run-example.sh" "$dir/tour.sh" || { echo "check-tour: the tour does not start with scripts/run-example.sh" >&2; exit 1; }
sed -i -e "s|^scripts/run-example.sh|scripts/run-example.sh $tb|" \
       -e "s|\bbuild/|$tb/|g" -e "s|/tmp/hvd.sock|$dir/hvd.sock|g" "$dir/tour.sh"
# A line whose comment says "exits N" must exit with N.
sed -i -E 's/^([^#]*[^# ]) +(#.*\bexits ([0-9]+)\b.*)$/\1 || [ $? = \3 ]   \2/' "$dir/tour.sh"
# hvd (the tour's job %1) ends with the tour, even a failed one.
{ echo "set -e"; echo "trap 'kill %1 2>/dev/null || true' EXIT"; cat "$dir/tour.sh"; echo "wait %1"; } > "$dir/run.sh"
if ! bash "$dir/run.sh" > "$dir/out" 2>&1; then
  tail -n 30 "$dir/out"
  echo "check-tour: the tour failed at the line above (as run: $dir/run.sh)" >&2
  trap - EXIT
  exit 1
fi
for want in "^Hello from a Hypervisor.framework guest" "^Hello, DOS!" "^1$" "^policy explain\|^reason:"; do
  grep -q "$want" "$dir/out" || { cat "$dir/out"; echo "check-tour: no '$want' in the tour's output" >&2; exit 1; }
done
# hello twice (through hvd, then in-process), and hvd stopped cleanly.
[ "$(grep -c "^Hello from a Hypervisor.framework guest" "$dir/out")" -ge 2 ] || { cat "$dir/out"; echo "check-tour: hello-direct printed nothing" >&2; exit 1; }
echo "check-tour: the five-minute tour works as written"
