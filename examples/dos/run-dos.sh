#!/bin/sh
# run-dos.sh EXPECTED-STATUS INPUT PROGRAM [ARGS...]: run PROGRAM with INPUT
# on its standard input, print its exit status after its output, and exit 0
# only if the status is EXPECTED-STATUS. (ctest ignores exit codes when a
# test has PASS_REGULAR_EXPRESSION, so the status is printed for the regex.)
expected=$1
input=$2
shift 2
printf '%s' "$input" | "$@"
status=$?
echo "exit status $status"
[ "$status" -eq "$expected" ]
