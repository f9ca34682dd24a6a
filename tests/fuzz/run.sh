#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# Builds the libFuzzer targets (tests/fuzz/Makefile) and runs each one for
# SECONDS (default 5) on a copy of its seed corpus, one after the other.
# Prints one line per target with its number of executions, and ends with
# "fuzz: N passed, N failed"; exits non-zero if any target crashed, hung,
# leaked or reported a sanitizer error.  Crash inputs and logs stay in a
# temporary directory whose path is printed; after a clean run it is removed.
# docs/fuzzing.md explains the targets.
set -uo pipefail
cd "$(dirname "$0")"
. ./fuzz_lib.sh

secs=5
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then secs=$1; shift; fi
targets=$(fuzz_targets "$@") || exit 2
FUZZ_NICE=()

# shellcheck disable=SC2086
if ! make -s $targets >/dev/null; then
    echo "fuzz: build failed"
    echo "fuzz: 0 passed, $(echo $targets | wc -w) failed"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/etop-fuzz.XXXXXX")
passed=0; failed=0
for t in $targets; do
    if fuzz_target "$t" "$work" -max_total_time="$secs"; then
        echo "$t: ok, $FUZZ_EXECS execs in $FUZZ_SECS s"
        passed=$((passed + 1))
    else
        fuzz_report_failure "$t"
        failed=$((failed + 1))
    fi
done
# The jsonb readers' targets (tests/fuzz/pg, docs/fuzzing-jsonb.md), linked with
# PostgreSQL's own jsonb code from Debian's source package, unless asked not to
# (ETOP_FUZZ_PG=0) or when that source cannot be fetched here (then said so).
if [ $# -eq 0 ] && [ "${ETOP_FUZZ_PG:-1}" != 0 ]; then
    if pg_targets=$(pg/build.sh); then
        if [ -z "$pg_targets" ]; then
            echo "fuzz_jsonb_*: skipped: no PostgreSQL source could be fetched"
        fi
        while read -r bin _; do
            [ -n "$bin" ] || continue
            t=$(basename "$bin")
            if FUZZ_BIN_DIR=pg/build fuzz_target "$t" "$work" -max_total_time="$secs" -dict=pg/jsonb.dict; then
                echo "$t: ok, $FUZZ_EXECS execs in $FUZZ_SECS s"
                passed=$((passed + 1))
            else
                fuzz_report_failure "$t"
                failed=$((failed + 1))
            fi
        done <<< "$pg_targets"
    else
        echo "fuzz_jsonb_*: build failed"
        failed=$((failed + 1))
    fi
fi
if [ $failed -eq 0 ]; then
    rm -rf "$work"
else
    echo "crash inputs and logs: $work"
fi
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
