#!/usr/bin/env bash
# tests/fuzz/long-run.sh [-r RUNS] [-t SECONDS] [-k] [TARGET...]
#
# The long fuzzing run (not part of CI): runs each target, one at a time and
# under nice, until it has executed RUNS inputs (default 10,000,000;
# libFuzzer's -runs) or, with -t, for at most SECONDS.  fuzz_render does only
# a few hundred executions a second at best: give it a time limit
# (e.g. -t 1200).  Prints each target's execution count and duration, and
# ends with "fuzz: N passed, N failed".  The grown corpora, logs and any
# crash inputs stay in the temporary directory printed at the end (-k keeps
# it after a clean run too: new corpus entries can then be merged into
# corpus/TARGET with libFuzzer's -merge=1).
set -uo pipefail
cd "$(dirname "$0")"
. ./fuzz_lib.sh

runs=10000000; secs=0; keep=0
while getopts "r:t:k" opt; do
    case $opt in
        r) runs=$OPTARG ;;
        t) secs=$OPTARG ;;
        k) keep=1 ;;
        *) sed -n '2,2s/^# //p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=$(fuzz_targets "$@") || exit 2
FUZZ_NICE=(nice -n 19)

# shellcheck disable=SC2086
make -s $targets >/dev/null || { echo "fuzz: build failed"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/etop-fuzz-long.XXXXXX")
passed=0; failed=0
for t in $targets; do
    flags=(-runs="$runs")
    [ "$secs" -gt 0 ] && flags+=(-max_total_time="$secs")
    if fuzz_target "$t" "$work" "${flags[@]}"; then
        rate=$(( FUZZ_EXECS / (FUZZ_SECS > 0 ? FUZZ_SECS : 1) ))
        echo "$t: ok, $FUZZ_EXECS execs in $FUZZ_SECS s ($rate/s)"
        passed=$((passed + 1))
    else
        fuzz_report_failure "$t"
        failed=$((failed + 1))
    fi
done
if [ $failed -eq 0 ] && [ $keep -eq 0 ]; then
    rm -rf "$work"
else
    echo "corpora, logs and crash inputs: $work"
fi
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
