#!/usr/bin/env bash
# How many parallel jobs builds and tests use: HVD_JOBS if set, else the
# machine's CPUs capped at 8 (a bounded -j: an unbounded one starts a job
# per target at once and runs small machines out of memory).
#   jobs=$(scripts/jobs.sh)
n=${HVD_JOBS:-$(nproc)}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "jobs.sh: HVD_JOBS must be a positive number, not '$n'" >&2; exit 2; }
[ -n "${HVD_JOBS:-}" ] || [ "$n" -le 8 ] || n=8
echo "$n"
