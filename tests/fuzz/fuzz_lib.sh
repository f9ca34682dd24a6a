# fuzz_lib.sh — shared by run.sh and long-run.sh (sourced, not run).
#
# fuzz_target TARGET WORKDIR [LIBFUZZER FLAG...] runs build/TARGET on a copy
# of corpus/TARGET in WORKDIR/TARGET (so runs never touch the repository)
# with the target's dictionary (TARGET.dict) and extra flags
# (TARGET.options, one flag a line, # comments), saving crash inputs to
# WORKDIR/TARGET/crashes/.  It sets FUZZ_EXECS (libFuzzer's final
# stat::number_of_executed_units), FUZZ_SECS, FUZZ_LOG, FUZZ_CRASH (a crash
# input, or "") and returns 0 when the target ran clean.

fuzz_targets() {
    # every fuzz_*.c, or the names given (with or without the fuzz_ prefix)
    if [ $# -eq 0 ]; then
        for f in fuzz_*.c; do echo "${f%.c}"; done
    else
        for t in "$@"; do
            t=${t%.c}; t=${t#fuzz_}
            if [ ! -f "fuzz_$t.c" ]; then
                echo "no such fuzz target: $t (have: $(fuzz_targets | tr '\n' ' '))" >&2
                return 1
            fi
            echo "fuzz_$t"
        done
    fi
}

fuzz_target() {
    local t=$1 work=$2
    shift 2
    local dir="$work/$t" opts=() start rc
    mkdir -p "$dir/corpus" "$dir/crashes"
    if [ -d "corpus/$t" ]; then cp -R "corpus/$t/." "$dir/corpus/"; fi
    [ -f "$t.dict" ] && opts+=("-dict=$t.dict")
    if [ -f "$t.options" ]; then
        while read -r line; do
            case "$line" in -*) opts+=("$line") ;; esac
        done < "$t.options"
    fi
    FUZZ_LOG="$dir/log"
    start=$(date +%s)
    # -timeout first, so that a target's own options and the caller's win
    "${FUZZ_NICE[@]}" "${FUZZ_BIN_DIR:-./build}/$t" -timeout=60 -print_final_stats=1 \
        -artifact_prefix="$dir/crashes/" "${opts[@]}" "$@" "$dir/corpus" > "$FUZZ_LOG" 2>&1
    rc=$?
    FUZZ_SECS=$(( $(date +%s) - start ))
    FUZZ_EXECS=$(sed -n 's/^stat::number_of_executed_units: *//p' "$FUZZ_LOG" | tail -n 1)
    [ -n "$FUZZ_EXECS" ] || FUZZ_EXECS=0
    # (slow-unit-* files only record the slowest inputs: not failures)
    FUZZ_CRASH=$(find "$dir/crashes" -type f ! -name 'slow-unit-*' | head -n 1)
    if [ $rc -ne 0 ] || [ -n "$FUZZ_CRASH" ] ||
        grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|invariant violated' "$FUZZ_LOG"; then
        return 1
    fi
    return 0
}

# A failed target's report: where its input and log are, and the log's end.
fuzz_report_failure() {
    local t=$1
    echo "$t: FAILED after $FUZZ_EXECS execs in $FUZZ_SECS s"
    [ -n "$FUZZ_CRASH" ] && echo "  crash input: $FUZZ_CRASH"
    echo "  log: $FUZZ_LOG"
    grep -E 'invariant violated|runtime error:|ERROR:|SUMMARY:' "$FUZZ_LOG" | head -n 5 | sed 's/^/  | /'
}
