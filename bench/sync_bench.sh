#!/usr/bin/env bash
# Sync benchmark (issue 4): sync 50,000 tickets from the mock ConnectWise
# server (pages of 1000) and compare with a COPY of the same normalized rows
# into the same table, measured in the same run; medians of RUNS runs.
# Runs against the cluster named by PG* variables (etop preloaded), e.g.
#   pg_virtualenv -o shared_preload_libraries=etop,pg_cron bench/sync_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
TICKETS=${TICKETS:-50000}
export ETOP_IT_DB=${BENCH_DB:-etop_bench_sync}
source tests/integration/lib.bash
trap 'stop_mocks; drop_db' EXIT
fresh_db
start_mock cw cw_mock.py --tickets "$TICKETS" --max-seconds 3600 --max-requests 100000
CW_PORT=$MOCK_PORT
q -c "SELECT etop.connection_create('bench', 'connectwise', 'http://127.0.0.1:$CW_PORT/v4_6_release/apis/3.0',
        '{\"company_id\": \"etopdemo\", \"public_key\": \"etopPublicKey\", \"private_key\": \"etopPrivateKey\",
          \"client_id\": \"5e1a7e1c-0000-4000-8000-00000000e70b\"}', '{\"page_size\": 1000}')" >/dev/null
DUMP=$(mktemp); chmod 666 "$DUMP"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
sync_s=(); copy_s=(); fetch_s=(); norm_s=()
for i in $(seq "$RUNS"); do
    q -c "TRUNCATE etop.clients CASCADE" >/dev/null
    t0=$(date +%s.%N)
    r=$(q -c "SELECT etop.sync_now('bench', true)->>'status'")
    t1=$(date +%s.%N)
    [ "$r" = succeeded ] || { echo "sync failed: $(q -c "SELECT error FROM etop.sync_runs ORDER BY id DESC LIMIT 1")"; exit 1; }
    sync_s+=("$(echo "$t1 - $t0" | bc)")
    fetch_s+=("$(q -c "SELECT progress->>'fetch_seconds' FROM etop.sync_runs ORDER BY id DESC LIMIT 1")")
    norm_s+=("$(q -c "SELECT progress->>'normalize_seconds' FROM etop.sync_runs ORDER BY id DESC LIMIT 1")")
    n=$(q -c "SELECT count(*) FROM etop.tickets")
    # the same normalized rows, COPYed into the same (emptied) table with the same indexes
    psql -X -q -d "$IT_DB" -c "\copy etop.tickets TO '$DUMP'"
    q -c "TRUNCATE etop.tickets" >/dev/null
    t0=$(date +%s.%N)
    psql -X -q -d "$IT_DB" -c "\copy etop.tickets FROM '$DUMP'"
    t1=$(date +%s.%N)
    copy_s+=("$(echo "$t1 - $t0" | bc)")
done
rm -f "$DUMP"
S=$(printf '%s\n' "${sync_s[@]}" | median); C=$(printf '%s\n' "${copy_s[@]}" | median)
F=$(printf '%s\n' "${fetch_s[@]}" | median); N=$(printf '%s\n' "${norm_s[@]}" | median)
echo "tickets: $n (pages of 1000), runs: $RUNS"
printf 'etop.sync_now (fetch + stage + normalize): %8.3f s  (fetch+stage %.3f s, normalize %.3f s)\n' "$S" "$F" "$N"
printf 'COPY of the same normalized rows:           %8.3f s\n' "$C"
printf 'ratio sync / COPY: %.2fx (target: within 4x)\n' "$(echo "$S / $C" | bc -l)"
