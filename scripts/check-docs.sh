#!/usr/bin/env bash
# The documentation agrees with the tree: every repository path that
# README.md, docs/ and the shipped files (man pages, hvd.conf, units)
# mention exists, every relative Markdown link points at a file, and the
# names the package really uses (the admin group of hvd.sysusers, the
# audit log and grants directory of the shipped hvd.conf) are the ones
# the examples show; and no build there runs an unbounded -j. Prints each problem as FILE:LINE: what; fails if any.
#   scripts/check-docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Each check runs in a pipeline (a subshell): problems are collected in
# a file.
report=$(mktemp /tmp/hvd-check-docs.XXXXXX)
trap 'rm -f "$report"' EXIT
problem() { echo "$1: $2"; }

files=(README.md docs/*.md docs/api/*.md bench/README.md packaging/man/* packaging/config/hvd.conf
       packaging/systemd/* debian/*.logrotate)
tops=$(find . -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name 'build*' ! -name 'obj-*' -printf '%f\n' |
       sort | paste -sd'|')

# Repository paths: words starting with a top-level folder of the tree
# (build trees and generated files aside).
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  grep -noE "(^|[^A-Za-z0-9_./~-])($tops)/[A-Za-z0-9_./*-]*" "$f" | while IFS=: read -r line word; do
    path=$(printf '%s' "$word" | sed -E 's/^[^A-Za-z0-9_]//; s/[.,:;)]+$//')
    case $path in */html*|*/CMakeFiles/*) continue ;; esac
    # Globs must match something; plain paths must exist (a program may
    # be named after its source: tests/unit/test_authz).
    compgen -G "$path" > /dev/null || [ -e "$path.c" ] || problem "$f:$line" "no such file in the tree: $path"
  done
done > "$report" || true  # (grep finding nothing is no error)

# Relative Markdown links, from the file that has them.
for f in README.md docs/*.md bench/README.md; do
  [ -f "$f" ] || continue
  grep -noE '\]\([^)#: ]+(#[^)]*)?\)' "$f" | while IFS=: read -r line link; do
    target=$(printf '%s' "$link" | sed -E 's/^\]\(//; s/\)$//; s/#.*//')
    [ -n "$target" ] || continue
    [ -e "$(dirname "$f")/$target" ] || problem "$f:$line" "link to a missing file: $target"
  done
done >> "$report" || true

# The names the package uses.
group=$(awk '$1 == "g" && $2 != "hvd" { print $2; exit }' packaging/systemd/hvd.sysusers)
audit=$(sed -nE 's/^audit = (.*)$/\1/p' packaging/config/hvd.conf)
grants=$(sed -nE 's/^#? *grants = (.*)$/\1/p' packaging/config/hvd.conf)
{
  [ -n "$group" ] && [ -n "$audit" ] && [ -n "$grants" ] || problem packaging "cannot read the package's names"
  grep -q "admin_group = $group\$" packaging/config/hvd.conf ||
    problem packaging/config/hvd.conf "admin_group is not $group, the group hvd.sysusers creates"
} >> "$report"
for f in "${files[@]}" scripts/*.sh; do
  [ "$f" != scripts/check-docs.sh ] || continue
  [ -f "$f" ] || continue
  grep -nE "admin_group *= *[A-Za-z]|(^|[^A-Za-z-])hvd-?admin([^A-Za-z_]|$)|/var/log/hvd/[A-Za-z]|/etc/hvd/grants" "$f" |
  while IFS=: read -r line text; do
    for name in $(printf '%s\n' "$text" | grep -oE "hvd-?admin[A-Za-z_]*|/var/log/hvd/[A-Za-z0-9_.]+|/etc/hvd/grants[A-Za-z0-9_.]*"); do
      case $name in
        hvd-admin*|hvdadmin?*) problem "$f:$line" "group $name: the package's admin group is $group" ;;
        /var/log/hvd/*) case $name in "$audit"*) ;; *) problem "$f:$line" "$name: the audit log is $audit" ;; esac ;;
        /etc/hvd/grants*) [ "$name" = "$grants" ] || problem "$f:$line" "$name: the grants directory is $grants" ;;
      esac
    done
  done
done >> "$report" || true

# Parallel builds are bounded (scripts/jobs.sh): no bare -j, no raw
# $(nproc), in what people copy and what CI runs.
for f in README.md docs/*.md bench/README.md scripts/*.sh bench/*.sh bench/*/*.sh .ci/*; do
  [ -f "$f" ] && [ "$f" != scripts/check-docs.sh ] || continue
  grep -nE -- '(cmake --build|make|ctest|ninja)[^|;#]* -j(\s|$|[^0-9"$]|"\$\(nproc\))' "$f" |
    while IFS=: read -r line _; do problem "$f:$line" "unbounded -j (use -j2, or -j\"\$(scripts/jobs.sh)\")"; done
done >> "$report" || true

out=$(cat "$report")
if [ -n "$out" ]; then
  printf '%s\n' "$out"
  echo "check-docs: $(printf '%s\n' "$out" | wc -l) problems"
  exit 1
fi
echo "check-docs: docs and shipped files agree with the tree"
