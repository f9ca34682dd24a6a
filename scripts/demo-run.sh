#!/usr/bin/env bash
# The main job end to end, against the cluster named by the PG* variables
# (scripts/demo.sh runs it in a throwaway cluster; a DBA can point it at a
# test cluster of their own).  In database etop_demo it:
#   1. starts the bundled mock vendor servers (ConnectWise, Immy.Bot, Graph) on 127.0.0.1,
#   2. creates etop connections to them and syncs all three,
#   3. adds a few generated demo clients (etop.demo_seed) for variety,
#   4. prints every client's rows and its three scores,
#   5. queues a QBR for the synced client, waits for the worker, and writes the
#      draft PDF to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
export ETOP_IT_DB="${ETOP_DEMO_DB:-etop_demo}"
CLIENTS="${ETOP_DEMO_CLIENTS:-5}"
source tests/integration/lib.bash
trap stop_mocks EXIT
mkdir -p out

psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$IT_DB'" | grep -q 1 \
    || createdb "$IT_DB"
run() { psql -X -v ON_ERROR_STOP=1 -d "$IT_DB" "$@"; }

echo "== etop in database $IT_DB"
run -q -c "CREATE EXTENSION IF NOT EXISTS etop" -c "SELECT etop.build_info()"

echo "== starting the mock vendor servers (127.0.0.1)"
start_vendor_mocks
q -c "SELECT etop.connection_drop(name) FROM etop.connections WHERE name IN ('connectwise', 'immy', 'm365')" >/dev/null
create_vendor_connections
echo "ConnectWise :$CW_PORT  Immy.Bot :$IMMY_PORT  Microsoft Graph :$GRAPH_PORT"

echo "== syncing"
for c in connectwise immy m365; do
    printf '%-12s ' "$c"; q -c "SELECT etop.sync_now('$c') - 'run_id'"
done

echo "== adding $CLIENTS generated demo clients"
run -q -c "SELECT etop.demo_seed($CLIENTS) IS NOT NULL" >/dev/null

echo "== each client's rows"
run -c "SELECT client_id, name, segment, users, devices, agreements, tickets, controls, risks
          FROM etop.client_overview ORDER BY source DESC, client_id"
echo "== scores (today)"
run -c "SELECT client_id, name, standards, risk, risk_level, experience FROM etop.client_scores
         ORDER BY client_id"
run -q -c "SELECT etop.snapshot_scores()" >/dev/null

echo "== QBR for the synced client"
CLIENT=$(q -c "SELECT id FROM etop.clients WHERE source = 'connectwise' AND external_id = '250'")
JOB=$(q -c "SELECT etop.qbr_generate($CLIENT)->>'job_id'")
echo "job $JOB queued"
if ! wait_for 30 "SELECT status IN ('completed', 'failed') FROM etop.qbr_jobs WHERE id = '$JOB'"; then
    # no QBR worker in this database (etop.database_name points elsewhere): run it here
    echo "(no QBR worker picked the job up; running it in this session)"
    q -c "SELECT etop_internal.qbr_run_job(id) FROM etop_internal.job_claim()" >/dev/null
fi
run -c "SELECT etop.qbr_status('$JOB') - 'created_at'"
QBR=$(q -c "SELECT qbr_id FROM etop.qbr_jobs WHERE id = '$JOB'")
if [ -n "$QBR" ]; then
    PERIOD=$(q -c "SELECT replace(period, ' ', '-') FROM etop.qbrs WHERE id = $QBR")
    if [ "$(q -c "SELECT pdf IS NOT NULL FROM etop.qbrs WHERE id = $QBR")" = t ]; then
        OUT="out/qbr-client-$CLIENT-$PERIOD.pdf"
        q -c "SELECT encode(etop.qbr_pdf($QBR), 'base64')" | base64 -d > "$OUT"
        echo "== draft QBR written to $OUT ($(wc -c < "$OUT") bytes), pending approval:"
        echo "   SELECT etop.qbr_approve($QBR, 'reviewed');"
    fi
    q -c "SELECT narrative->>'executive_summary' FROM etop.qbrs WHERE id = $QBR" | fold -s -w 100
fi
echo "== demo finished"
