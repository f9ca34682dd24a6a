#!/usr/bin/env bash
# A server restart in the middle of a sync (docs/sync.md "Restarts and
# crashes"): after -m fast the worker has recorded its run as failed ("Sync
# worker was terminated") on its way out; after -m immediate the run is
# failed at the first look ("Server restarted during the sync"); and the
# next sync reports its own outcome, never a stale one.  Restarts the
# cluster it runs on: a private one (ETOP_PGDATA) or the pg_virtualenv one.
source "$(dirname "$0")/lib.bash"
cleanup() { stop_mocks; drop_db; }
trap cleanup EXIT
if ! can_restart_cluster; then
    echo "sync_restart.sh: skipped (cannot restart the cluster: set ETOP_PGDATA, or run inside pg_virtualenv)"
    exit 0
fi

fresh_db
start_mock cw cw_mock.py --max-seconds 100; CW=$MOCK_PORT
q -c "SELECT etop.connection_create('connectwise', 'connectwise',
        'http://127.0.0.1:$CW/v4_6_release/apis/3.0',
        '{\"company_id\": \"etopdemo\", \"public_key\": \"etopPublicKey\",
          \"private_key\": \"etopPrivateKey\", \"client_id\": \"5e1a7e1c-0000-4000-8000-00000000e70b\"}',
        '{\"retry_base_ms\": 100, \"timeout_ms\": 30000}')" >/dev/null
mock_control "$CW" '{"scenario": "hang"}'

echo "-- restart -m fast during a sync"
RUN=$(q -c "SELECT etop.sync('connectwise', true)")
wait_for 10 "SELECT status = 'running' FROM etop.sync_runs WHERE id = $RUN" || true
sleep 0.5
restart_cluster fast || { bad "the cluster did not come back"; finish; exit 1; }
expect "the run is failed at once, without anyone looking" \
    "$(q -c "SELECT status || ' | ' || (error->>'error') FROM etop.sync_runs WHERE id = $RUN")" \
    "failed | Sync worker was terminated"

echo "-- restart -m immediate during a sync"
RUN=$(q -c "SELECT etop.sync('connectwise', true)")
wait_for 10 "SELECT status = 'running' FROM etop.sync_runs WHERE id = $RUN" || true
sleep 0.5
restart_cluster immediate || { bad "the cluster did not come back"; finish; exit 1; }
R=$(q -c "SELECT etop.sync_wait($RUN, '5 s')")
expect "at the first look it is failed with the reason" \
    "$(q -c "SELECT ('$R'::jsonb->>'status') || ' | ' || ('$R'::jsonb->>'error')")" \
    "failed | Server restarted during the sync"

echo "-- the next sync tells its own outcome"
mock_control "$CW" '{"clear": true}'
RUN2=$(q -c "SELECT etop.sync('connectwise', true)")
sleep 0.3
R=$(q -c "SELECT etop.sync_wait($RUN2)->>'status'")
expect "the next run succeeded, and says so" "$R|$(q -c "SELECT status FROM etop.sync_runs WHERE id = $RUN2")" "succeeded|succeeded"
# and one in a single statement, right after another restart with a run left behind
mock_control "$CW" '{"scenario": "hang"}'
RUN=$(q -c "SELECT etop.sync('connectwise', true)")
wait_for 10 "SELECT status = 'running' FROM etop.sync_runs WHERE id = $RUN" || true
restart_cluster immediate || { bad "the cluster did not come back"; finish; exit 1; }
mock_control "$CW" '{"clear": true}'
R=$(q -c "SELECT etop.sync_now('connectwise', true)")
expect "sync_now after a restart reports its own success" \
    "$(q -c "SELECT ('$R'::jsonb->>'status') || ' ' || (('$R'::jsonb->>'run_id')::bigint > $RUN)")" "succeeded true"
expect "the run left behind is failed" "$(q -c "SELECT status FROM etop.sync_runs WHERE id = $RUN")" "failed"
expect "nothing is left running" "$(q -c "SELECT count(*) FROM etop.sync_runs WHERE status = 'running'")" "0"
finish
