#!/usr/bin/env bash
# Hostile input from the read-only BI role: the calls that crashed the server,
# ran for a minute past cancel, or took gigabytes, now give clear errors or
# finish in linear time and memory; cancel and statement_timeout take effect
# within a second; a witness session survives all of it.
source "$(dirname "$0")/lib.bash"
WITNESS_PID=""
cleanup() {
    [ -n "$WITNESS_PID" ] && kill "$WITNESS_PID" 2>/dev/null || true
    drop_db
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS it_cancel_reader" 2>/dev/null || true
}
trap cleanup EXIT
fresh_db
psql -X -q -d postgres -c "DROP ROLE IF EXISTS it_cancel_reader" -c \
    "CREATE ROLE it_cancel_reader LOGIN PASSWORD 'it-cancel-reader' IN ROLE etop_reader"
# r SQL...: as the reader
r() { PGUSER=it_cancel_reader PGPASSWORD=it-cancel-reader psql -X -q -d "$IT_DB" -tA "$@"; }
now_ms() { date +%s%3N; }
started=$(q -c "SELECT pg_postmaster_start_time()")

# the witness: an ordinary session that must still be there at the end
psql -X -q -d "$IT_DB" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
WITNESS_PID=$!

# 1. the crashes: a clear error or a result, never a dead backend
LOGO='iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAFoEvQfAAAADUlEQVR4nGP4z8DQAAAEgQGALFXOsAAAAABJRU5ErkJggg=='
expect "interlaced RGBA logo renders as etop_reader" \
    "$(r -c "SELECT length(etop.qbr_render_doc('{\"client\":{\"name\":\"x\"},\"period\":\"Q1\",\"msp\":{\"logo_png\":\"$LOGO\"}}')) > 1000")" "t"
expect "non-string evidence as etop_reader" \
    "$(r -c "SELECT etop.narrative_offline('{\"client\":{\"name\":\"x\"},\"period\":\"p\",\"recommendations\":[{\"title\":\"t\",\"evidence\":[1]}]}')->'recommendations'")" "[]"
# a corrupt logo is a clear error
out=$(r -c "SELECT etop.qbr_render_doc('{\"client\":{\"name\":\"x\"},\"period\":\"Q1\",\"msp\":{\"logo_png\":\"${LOGO:0:60}AAAA\"}}')" 2>&1 || true)
case "$out" in *'"msp.logo_png" is not a usable PNG image'*) ok "truncated logo: clear error" ;;
    *) bad "truncated logo: $out" ;; esac

# 2. time: each call finishes, or stops within a second of its statement_timeout.
# The input is built first, untimed, in a temporary table (building a 1.2-million
# element jsonb is PostgreSQL's own work); only etop's call is timed.
# timed NAME TIMEOUT_MS LIMIT_MS INPUT_SQL CALL_SQL (CALL_SQL reads column d of t)
timed() {
    local out t
    out=$(r -c "CREATE TEMP TABLE t AS SELECT ($4) AS d" -c "SET statement_timeout = $2" \
            -c "\\timing on" -c "SELECT length(($5)::text) FROM t" 2>&1 || true)
    t=$(echo "$out" | sed -n 's/^Time: \([0-9]*\)\..*/\1/p' | tail -1)
    if [ -n "$t" ] && [ "$t" -le "$3" ]; then ok "$1: $t ms"
    else bad "$1: ${t:-?} ms (limit $3 ms): ${out:0:300}"; fi
}
EVIDENCE="jsonb_build_object('title', 't', 'evidence', (SELECT jsonb_agg('e' || i) FROM generate_series(1, 1200000) i))"
timed "1.2 million evidence strings (narrative_offline)" 2000 3000 \
    "jsonb_build_object('client', '{\"name\":\"x\"}'::jsonb, 'period', 'p', 'recommendations', jsonb_build_array($EVIDENCE))" \
    "etop.narrative_offline(d)"
timed "1.2 million evidence strings (qbr_render_doc: over the limit)" 2000 1000 \
    "jsonb_build_object('client', '{\"name\":\"x\"}'::jsonb, 'period', 'p',
        'narrative', jsonb_build_object('recommendations', jsonb_build_array($EVIDENCE)))" \
    "etop.qbr_render_doc(d)"
timed "a 1,000,000-character word in narrative.trends (over the limit)" 2000 1000 \
    "jsonb_build_object('client', '{\"name\":\"x\"}'::jsonb, 'period', 'p',
        'narrative', jsonb_build_object('trends', repeat('a', 1000000)))" \
    "etop.qbr_render_doc(d)"
timed "a 256 KB word (the longest text allowed) renders" 2000 3000 \
    "jsonb_build_object('client', '{\"name\":\"x\"}'::jsonb, 'period', 'p',
        'narrative', jsonb_build_object('trends', repeat('a', 262144)))" \
    "etop.qbr_render_doc(d)"
timed "validate_citations with 60,000 citations" 2000 3000 \
    "jsonb_build_object('trends', (SELECT string_agg('[Ticket #' || i || ']', ' ') FROM generate_series(1, 60000) i))" \
    "(SELECT count(*) FROM etop.validate_citations(d, 1))"

# 3. cancel: a long validation (400,000 distinct citations, several seconds) stops
# within a second of pg_cancel_backend
r -c "SELECT count(*) FROM etop.validate_citations(jsonb_build_object('trends',
        (SELECT string_agg('[Device: D-' || i || ']', ' ') FROM generate_series(1, 400000) i)), 1)" \
    >/dev/null 2>&1 &
LONG=$!
wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'it_cancel_reader' AND state = 'active'" || true
sleep 1
t0=$(now_ms)
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'it_cancel_reader' AND state = 'active'" >/dev/null
wait "$LONG" 2>/dev/null || true	# the reader's psql ends when its statement does
t1=$(now_ms)
[ $((t1 - t0)) -le 1000 ] && ok "pg_cancel_backend took effect in $((t1 - t0)) ms" \
    || bad "pg_cancel_backend took $((t1 - t0)) ms"

# 4. memory: 40,000 numbers nested 10,000 deep (100 KB) took 1.3 GB; the peak of
# the backend's private memory must stay under 64 MB (sampled every 10 ms)
peak_kb=0
r -c "SELECT pg_sleep(0.5), count(*) FROM etop.validate_citations(
        (repeat('[', 10000) || repeat('1,', 40000) || '\"[Ticket #1]\"' || repeat(']', 10000))::jsonb, 1),
        pg_sleep(0.3)" >/dev/null 2>&1 &
MEM=$!
pid=""
for _ in $(seq 100); do
    pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE usename = 'it_cancel_reader' AND state = 'active'" || true)
    [ -n "$pid" ] && break; sleep 0.05
done
while kill -0 "$MEM" 2>/dev/null && [ -n "$pid" ]; do
    kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${kb:-0}" -gt "$peak_kb" ] && peak_kb=$kb
    sleep 0.01
done
wait "$MEM"; rc=$?
expect "deep nesting: validate_citations succeeded" "$rc" "0"
[ -n "$pid" ] && [ "$peak_kb" -gt 0 ] && [ "$peak_kb" -lt 65536 ] \
    && ok "deep nesting: backend peak private memory $((peak_kb / 1024)) MB" \
    || bad "deep nesting: backend peak private memory ${peak_kb} kB (pid ${pid:-none})"

# the witness and the server lived through all of it
if kill -0 "$WITNESS_PID" 2>/dev/null; then ok "witness session alive"; else bad "witness session died"; fi
expect "no crash-restart" "$(q -c "SELECT pg_postmaster_start_time() = '$started'")" "t"
finish
