#!/usr/bin/env bash
# Run lifecycle (docs/sync.md "Runs"): at most one running run per
# connection (two calls in one statement, two sessions at once, or
# etop_internal._sync_launch called directly); etop.sync_cancel() stops a
# hanging HTTP request within seconds and the run ends "cancelled"; the
# vendor's HTTP status survives in sync_now()'s result; DETAIL and HINT of a
# failed run are stored; the log says failed / cancelled / finished.
source "$(dirname "$0")/lib.bash"
cleanup() { stop_mocks; drop_db; }
trap cleanup EXIT
now_ms() { date +%s%3N; }
# the server log: ETOP_SERVER_LOG, or pg_virtualenv's cluster (as privileges.sh)
LOG=$(server_log)
LOG_FROM=$(( $( [ -n "$LOG" ] && [ -r "$LOG" ] && stat -c %s "$LOG" || echo 0) + 1 ))   # only this test's lines

fresh_db
start_mock cw cw_mock.py --max-seconds 110; CW=$MOCK_PORT
q -c "SELECT etop.connection_create('connectwise', 'connectwise',
        'http://127.0.0.1:$CW/v4_6_release/apis/3.0',
        '{\"company_id\": \"etopdemo\", \"public_key\": \"etopPublicKey\",
          \"private_key\": \"etopPrivateKey\", \"client_id\": \"5e1a7e1c-0000-4000-8000-00000000e70b\"}',
        '{\"retry_base_ms\": 100, \"retry_after_max_ms\": 2000, \"timeout_ms\": 10000}')" >/dev/null
running() { q -c "SELECT count(*) FROM etop.sync_runs WHERE status = 'running'"; }
stop_all() {  # cancel whatever runs and wait for it
    q -c "SELECT etop.sync_cancel(id) FROM etop.sync_runs WHERE status = 'running'" >/dev/null
    wait_for 20 "SELECT count(*) = 0 FROM etop.sync_runs WHERE status = 'running'" || true
    sleep 0.5
}

echo "-- 1. one run per connection"
mock_control "$CW" '{"scenario": "hang"}'
out=$(q -v VERBOSITY=verbose -c "SELECT etop.sync('connectwise', true), etop.sync('connectwise', true)" 2>&1 || true)
sleep 1.5   # the workers insert their rows
case "$out" in
    *"55006: a sync of connection \"connectwise\" is already running (run "*) ok "two calls in one statement: the second is refused (55006)" ;;
    *) bad "two calls in one statement: $out" ;;
esac
expect "  and one run is running (the first call's worker started)" "$(running)" "1"
out=$(q -v VERBOSITY=verbose -c "SELECT etop.sync('connectwise', true)" 2>&1 || true)
case "$out" in *"HINT:  Wait for it with SELECT etop.sync_wait("*"or stop it with SELECT etop.sync_cancel("*) ok "the refusal names sync_wait and sync_cancel" ;;
    *) bad "refusal hint: $out" ;; esac
sleep 1
expect "  still one run" "$(running)" "1"
stop_all
pids=()
for i in 1 2 3 4; do q -c "SELECT etop.sync('connectwise', true)" >/dev/null 2>&1 & pids+=($!); done
wait "${pids[@]}" || true
sleep 1.5
expect "four sessions at once: one run" "$(running)" "1"
CID=$(q -c "SELECT id FROM etop.connections WHERE name = 'connectwise'")
out=$(q -c "SET ROLE etop_admin; SELECT etop_internal._sync_launch(987654, $CID, true)" 2>&1 || true)
case "$out" in *"is already running"*) ok "etop_internal._sync_launch() called directly is refused too" ;;
    *) bad "direct _sync_launch: $out" ;; esac
sleep 1.5
expect "  still one run" "$(running)" "1"
stop_all

echo "-- 2. cancel during a hanging request"
RUN=$(q -c "SELECT etop.sync('connectwise', true)")
wait_for 10 "SELECT status = 'running' FROM etop.sync_runs WHERE id = $RUN" || true
sleep 1     # in the request now
t0=$(now_ms)
q -c "SELECT etop.sync_cancel($RUN)" >/dev/null
R=$(q -c "SELECT etop.sync_wait($RUN, '8 s')")
t1=$(now_ms)
expect "cancelled mid-request: status" "$(q -c "SELECT '$R'::jsonb->>'status'")" "cancelled"
[ $((t1 - t0)) -le 3000 ] && ok "cancel took effect in $((t1 - t0)) ms" || bad "cancel took $((t1 - t0)) ms"
expect "the error object says who cancelled" \
    "$(q -c "SELECT error->>'error' || ' | ' || (error->>'details' LIKE '%cancelled by etop.sync_cancel()%') FROM etop.sync_runs WHERE id = $RUN")" \
    "Sync cancelled | true"
CANCELLED=$RUN
stop_all

echo "-- 5. sync_now keeps the vendor's HTTP status"
mock_control "$CW" '{"scenario": "401"}'
R=$(q -c "SELECT etop.sync_now('connectwise') - 'run_id'")
expect "401: http_status and the run's status" "$R" \
    '{"error": "ConnectWise authentication failed", "status": "failed", "details": "Invalid API credentials", "http_status": 401}'
FAILED=$(q -c "SELECT max(id) FROM etop.sync_runs")

echo "-- 6. DETAIL and HINT of a failed run are stored"
mock_control "$CW" '{"clear": true}'
R=$(q -c "SELECT etop.sync_now('connectwise', true)->>'status'")
expect "a good run succeeds" "$R" "succeeded"
SUCCEEDED=$(q -c "SELECT max(id) FROM etop.sync_runs")
q -c "CREATE FUNCTION public.it_strict_normalize(bigint) RETURNS jsonb LANGUAGE plpgsql AS \$\$
      BEGIN RAISE EXCEPTION 'ticket 7 names unknown company 999'
            USING DETAIL = 'Company 999 is not in etop.clients.',
                  HINT = 'Set the connection option unknown_companies = \"skip\" to skip such records.';
      END \$\$;
      UPDATE etop.adapters SET normalize_function = 'public.it_strict_normalize(bigint)' WHERE name = 'connectwise'" >/dev/null
R=$(q -c "SELECT etop.sync_now('connectwise', true) - 'run_id'")
expect "error object with detail and hint" "$R" \
    '{"hint": "Set the connection option unknown_companies = \"skip\" to skip such records.", "error": "ticket 7 names unknown company 999", "detail": "Company 999 is not in etop.clients.", "status": "failed", "sqlstate": "P0001"}'
HINTED=$(q -c "SELECT max(id) FROM etop.sync_runs")

echo "-- 7. log lines"
if [ -n "$LOG" ] && [ -r "$LOG" ]; then
    sleep 0.5
    mylog() { tail -c +"$LOG_FROM" "$LOG"; }
    logl() { mylog | grep -a "sync run $1 " | sed 's/.*etop: //' | grep -v "^$" || true; }
    expect "failed run: only a 'failed' line" "$(logl "$FAILED" | grep -c 'finished')|$(logl "$FAILED" | grep -c 'failed: ConnectWise authentication failed')" "0|1"
    expect "cancelled run: logged as cancelled, not finished" "$(logl "$CANCELLED" | grep -c 'finished')|$(logl "$CANCELLED" | grep -c 'cancelled after')" "0|1"
    expect "succeeded run: finished with counts" "$(logl "$SUCCEEDED" | grep -c 'finished: [0-9]* pages, [0-9]* records')" "1"
    expect "the LOG line of a failure has its HINT" \
        "$(mylog | grep -a -A3 "sync run $HINTED of" | grep -c 'HINT:  Set the connection option unknown_companies')" "1"
else
    echo "  skipped: log checks (set ETOP_SERVER_LOG to the server log)"
fi
finish
