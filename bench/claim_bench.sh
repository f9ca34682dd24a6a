#!/usr/bin/env bash
# The QBR queue's claim, this version against 0.2.0's, in the same database
# and the same run: etop_internal.job_claim() (which also takes over, at once,
# the job of a worker that is gone, asking the process array per active job)
# against the 0.2.0 body of etop.job_claim(), installed beside it as
# etop_internal.job_claim_020 from sql/upgrade/etop--0.2.0.sql.
#   empty:   one claim of an empty queue (what an idle worker does per poll)
#   backlog: claim + complete, 5,000 times, from a backlog of 6,000 jobs
# RUNS rounds (default 5), the two alternating; prints tps per round and the
# median and range of the per-round ratios (new / 0.2.0).
# Needs a running cluster with etop installed (PG* variables); uses a
# database of its own (claim_bench), dropped at the end.  Not run by CI.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
DB=claim_bench
PGBENCH=${PGBENCH:-$(dirname "$(command -v psql)")/pgbench}
TMP=$(mktemp -d)
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1; rm -rf "$TMP"' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION etop" -c "SELECT etop.demo_seed(5, 1, '2026-01-15')" >/dev/null
# 0.2.0's claim, as shipped
awk '/^CREATE FUNCTION etop.job_claim\(/,/^\$\$;/' "$TOP/sql/upgrade/etop--0.2.0.sql" |
    sed 's/^CREATE FUNCTION etop.job_claim(/CREATE FUNCTION etop_internal.job_claim_020(/; s/etop\.job_fail(/etop_internal.job_fail(/g' |
    psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -f -

for v in new 020; do
    fn=etop_internal.job_claim; [ "$v" = 020 ] && fn=etop_internal.job_claim_020
    echo "SELECT $fn();" > "$TMP/empty_$v.sql"
    printf "SELECT quote_literal(id) AS j FROM %s() \\\\gset\nUPDATE etop.qbr_jobs SET status = 'completed', worker_pid = NULL, completed_at = now() WHERE id = :j::uuid;\n" \
        "$fn" > "$TMP/backlog_$v.sql"
done
tps() { "$PGBENCH" -n -f "$1" -t "$2" -c 1 "$DB" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1; }
fill() {
    psql -X -q -d "$DB" -c "TRUNCATE etop.qbr_jobs CASCADE" \
        -c "INSERT INTO etop.qbr_jobs (client_id) SELECT (SELECT min(id) FROM etop.clients) FROM generate_series(1, 6000)" \
        -c "VACUUM ANALYZE etop.qbr_jobs" -c "CHECKPOINT" >/dev/null
}
: > "$TMP/ratios"
for r in $(seq "$RUNS"); do
    psql -X -q -d "$DB" -c "TRUNCATE etop.qbr_jobs CASCADE" >/dev/null
    if [ $((r % 2)) -eq 1 ]; then order="020 new"; else order="new 020"; fi
    for v in $order; do eval "e_$v=\$(tps $TMP/empty_$v.sql 3000)"; done
    for v in $order; do fill; eval "b_$v=\$(tps $TMP/backlog_$v.sql 5000)"; done
    echo "round $r: empty new $e_new / 0.2.0 $e_020 tps; backlog new $b_new / 0.2.0 $b_020 tps"
    awk -v a="$e_new" -v b="$e_020" 'BEGIN {print "empty", a / b}' >> "$TMP/ratios"
    awk -v a="$b_new" -v b="$b_020" 'BEGIN {print "backlog", a / b}' >> "$TMP/ratios"
done
for k in empty backlog; do
    grep "^$k " "$TMP/ratios" | awk '{print $2}' | sort -n |
        awk -v k="$k" '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
             printf "%s: new / 0.2.0 = %.3f (median of %d rounds; %.3f-%.3f)\n", k, m, NR, a[1], a[NR]}'
done
