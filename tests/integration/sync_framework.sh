#!/usr/bin/env bash
# The sync framework with a fourth adapter built outside the engine
# (tests/adapter_example): registered with one row, synced with no engine
# change; its errors, cancellation, and a worker killed mid-run leaving the
# normalized tables unchanged and the run marked failed.
source "$(dirname "$0")/lib.bash"
cleanup() { stop_mocks; drop_db; }
trap cleanup EXIT

PGC=${PG_CONFIG:-pg_config}
make -s -C "$TOP/tests/adapter_example" PG_CONFIG="$PGC" clean >/dev/null
if make -s -C "$TOP/tests/adapter_example" PG_CONFIG="$PGC" COPT=-Werror >/dev/null &&
   ${SUDO:-} make -s -C "$TOP/tests/adapter_example" PG_CONFIG="$PGC" install >/dev/null; then
    ok "the Acme adapter builds against include/etop/adapter.h alone and installs"
else
    bad "the Acme adapter did not build"; finish; exit 1
fi

fresh_db
q -f "$TOP/tests/adapter_example/acme_adapter.sql" >/dev/null
CLIENT=$(q -c "INSERT INTO etop.clients (source, external_id, name) VALUES ('manual', 'a1', 'Acme Client') RETURNING id")

start_acme() {  # delay
    local pf; pf=$(mktemp -u)
    ${ETOP_PYTHON:-/usr/bin/python3} "$TOP/tests/adapter_example/acme_mock.py" "$pf" 120 "$@" 2>/dev/null &
    MOCK_PIDS+=($!)
    for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
    ACME=$(cat "$pf"); rm -f "$pf"
}
start_acme
q -c "SELECT etop.connection_create('acme', 'acme', 'http://127.0.0.1:$ACME',
                                    '{\"api_key\": \"acme-key\"}', '{\"client_id\": $CLIENT}')" >/dev/null
q -c "SELECT etop.connection_create('acme-bad-key', 'acme', 'http://127.0.0.1:$ACME',
                                    '{\"api_key\": \"wrong\"}', '{\"client_id\": $CLIENT}')" >/dev/null

R=$(q -c "SELECT etop.sync_now('acme')")
expect "the 4th adapter syncs" "$(q -c "SELECT '$R'::jsonb->>'status' || ' ' || ('$R'::jsonb->'record_counts'->>'tickets')")" "succeeded 120"
expect "tickets landed" "$(q -c "SELECT count(*) FROM etop.tickets WHERE source = 'acme'")" "120"
expect "run progress recorded" "$(q -c "SELECT progress->>'pages_fetched' FROM etop.sync_runs ORDER BY id DESC LIMIT 1")" "3"
expect "staging emptied after success" "$(q -c "SELECT count(*) FROM etop.sync_pages")" "0"
R=$(q -c "SELECT etop.sync_now('acme')")
expect "a second sync is idempotent" "$(q -c "SELECT count(*) FROM etop.tickets WHERE source = 'acme'")" "120"

R=$(q -c "SELECT etop.sync_now('acme-bad-key') - 'run_id'")
expect "401 gives the vendor's authentication error" "$R" \
    '{"error": "Acme Helpdesk authentication failed", "status": "failed", "details": "Invalid API credentials", "http_status": 401}'
if q -c "SELECT error::text FROM etop.sync_runs" | grep -q "wrong\|acme-key"; then
    bad "a credential appears in a run's error"
else
    ok "no credential in any error"
fi
expect "credentials are not readable by etop_admin" \
    "$(q -c "SET ROLE etop_admin; SELECT credentials FROM etop.connections" 2>&1 | grep -c 'permission denied')" "1"

echo "-- a worker terminated mid-run: tables unchanged, run failed (recorded by the worker)"
stop_mocks; MOCK_PIDS=()
start_acme 30
# (a new address needs the credentials again: they go only where they were given for)
q -c "SELECT etop.connection_update(c.name, base_url => 'http://127.0.0.1:$ACME', credentials => '{\"api_key\": \"acme-key\"}')
        FROM etop.connections c WHERE c.name = 'acme'" >/dev/null
q -c "SELECT etop.connection_update(c.name, base_url => 'http://127.0.0.1:$ACME', credentials => '{\"api_key\": \"wrong\"}')
        FROM etop.connections c WHERE c.name = 'acme-bad-key'" >/dev/null
q -c "UPDATE etop.tickets SET summary = 'before' WHERE source = 'acme'" >/dev/null
RUN=$(q -c "SELECT etop.sync('acme')")
wait_for 20 "SELECT progress->>'pages_fetched' = '1' FROM etop.sync_runs WHERE id = $RUN" || true
PID=$(q -c "SELECT worker_pid FROM etop.sync_runs WHERE id = $RUN")
q -c "SELECT pg_terminate_backend($PID)" >/dev/null
R=$(q -c "SELECT etop.sync_wait($RUN, '30 s')->>'error'")
expect "terminated run is marked failed" "$(q -c "SELECT status FROM etop.sync_runs WHERE id = $RUN")|$R" \
    "failed|Sync worker was terminated"
expect "normalized rows unchanged" "$(q -c "SELECT count(*) FILTER (WHERE summary = 'before') FROM etop.tickets WHERE source = 'acme'")" "120"

echo "-- cancelling a run"
RUN=$(q -c "SELECT etop.sync('acme')")
wait_for 20 "SELECT progress->>'pages_fetched' = '1' FROM etop.sync_runs WHERE id = $RUN" || true
q -c "SELECT etop.sync_cancel($RUN)" >/dev/null
R=$(q -c "SELECT etop.sync_wait($RUN, '60 s')->>'status'")
expect "cancelled run ends cancelled" "$R" "cancelled"
expect "nothing of it normalized" "$(q -c "SELECT count(*) FILTER (WHERE summary = 'before') FROM etop.tickets WHERE source = 'acme'")" "120"

echo "-- refusals"
expect "unknown connection" "$(q -c "SELECT etop.sync('nope')" 2>&1 | grep -o 'connection "nope" does not exist')" 'connection "nope" does not exist'
expect "unknown adapter" "$(q -c "SELECT etop.connection_create('x', 'nope', 'http://127.0.0.1:1', '{}')" 2>&1 | grep -o 'unknown adapter "nope"')" 'unknown adapter "nope"'
finish
