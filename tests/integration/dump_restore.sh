#!/usr/bin/env bash
# pg_dump / pg_restore gives every row back: a database with data in every
# etop table (three synced vendors, demo clients, QBR drafts, an approval and a
# rejection, events, audit trail, settings, assignments, a failed sync's raw
# pages) is dumped and restored in every way a DBA would, and each copy has
# the same rows (count and content hash per table), restores with exit 0, and
# gives new rows fresh ids (a new QBR, approved, after the restore).
source "$(dirname "$0")/lib.bash"
DUMPS=$(mktemp -d)
DBS=()
cleanup() {
    stop_mocks
    for d in "${DBS[@]:-}"; do [ -n "$d" ] && psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" 2>/dev/null; done
    drop_db
    rm -rf "$DUMPS"
}
trap cleanup EXIT
fresh_db

echo "-- a database with data in every etop table"
start_vendor_mocks
create_vendor_connections
for c in connectwise immy m365; do
    st=$(q -c "SELECT etop.sync_now('$c')->>'status'")
    [ "$st" = succeeded ] || bad "sync $c: $st"
done
q -c "SELECT etop.demo_seed(6, 7, '2026-01-15')" >/dev/null
q -c "SELECT etop.snapshot_scores('2025-10-15'), etop.snapshot_scores('2026-01-15')" >/dev/null
q -c "SELECT etop.setting_set('msp_name', '\"Round Trip IT\"')" >/dev/null
psql -X -q -d postgres -c "DROP ROLE IF EXISTS it_rt_am" -c "CREATE ROLE it_rt_am IN ROLE etop_am"
q -c "INSERT INTO etop.client_assignments (client_id, am_role) SELECT id, 'it_rt_am' FROM etop.clients ORDER BY id LIMIT 2"
# a Microsoft 365 dataset a tenant's licence refuses (what a sync against a tenant
# without Entra ID P2 records; sync_m365_licence.sh makes it through the mock)
q -c "INSERT INTO etop.unavailable_sources (client_id, source, dataset, reason, needs, endpoint, vendor_code)
      SELECT min(id), 'm365', 'user_risk', 'licence', 'Microsoft Entra ID P2', 'identityProtection/riskyUsers',
             'Authentication_RequestFromNonPremiumTenantOrB2CTenant' FROM etop.clients"
# a third-party adapter registration (only those are dumped; built-ins come with the extension)
q -c "INSERT INTO etop.adapters (name, description, library, symbol, entities)
      VALUES ('acme', 'round-trip test adapter', '\$libdir/acme_adapter', 'acme_fetch', '{tickets}')"
# a failed sync keeps its raw pages (unlogged sync_pages): records of the wrong types
curl -s -X POST -d '{"scenario": "wrong-types", "path": "/v4_6_release/apis/3.0/service/tickets"}' \
    "http://127.0.0.1:$CW_PORT/__control" >/dev/null
q -c "SELECT etop.sync_now('connectwise', true)->>'status'" >/dev/null
curl -s -X POST -d '{"clear": true}' "http://127.0.0.1:$CW_PORT/__control" >/dev/null
# QBRs: three jobs, run by the QBR worker that serves $IT_DB
q -c "INSERT INTO etop.qbr_jobs (client_id, options)
      SELECT id, '{\"as_of\": \"2026-01-15\"}' FROM etop.clients ORDER BY id LIMIT 3" >/dev/null
wait_for 120 "SELECT count(*) = 3 FROM etop.qbr_jobs WHERE status IN ('completed', 'failed')" \
    || bad "QBR jobs did not finish: $(q -c "SELECT string_agg(status || ':' || coalesce(error, ''), ', ') FROM etop.qbr_jobs")"
q -c "SELECT etop.qbr_approve(min(id), 'round trip') FROM etop.qbrs" >/dev/null
q -c "SELECT etop.qbr_reject(max(id), 'not this one') FROM etop.qbrs" >/dev/null

# per table: rows and a hash of their content, in a fixed order
snapshot() {  # db -> "table count hash" lines
    psql -X -q -d "$1" -tA -c "
      SELECT string_agg(format('%s %s %s', t, n, h), E'\n' ORDER BY t) FROM (
        SELECT c.relname AS t,
               (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM etop.%I', c.relname), false, true, '')))[1]::text AS n,
               (xpath('/row/h/text()', query_to_xml(format(
                  'SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) AS h FROM etop.%I x %s',
                  '|', '', c.relname,
                  -- built-in adapters are made by CREATE EXTENSION (created_at: then), not restored
                  CASE c.relname WHEN 'adapters' THEN 'WHERE NOT builtin' ELSE '' END),
                  false, true, '')))[1]::text AS h
          FROM pg_class c WHERE c.relnamespace = 'etop'::regnamespace AND c.relkind = 'r') s"
}
snapshot "$IT_DB" > "$DUMPS/source.txt"
empty=$(awk '$2 == 0 {print $1}' "$DUMPS/source.txt" | paste -sd, -)
expect "every etop table has rows in the source" "${empty:-none}" "none"
tables=$(wc -l < "$DUMPS/source.txt")
pdf_src=$(q -c "SELECT md5(string_agg(md5(pdf), ',' ORDER BY id)) FROM etop.qbrs")

# restore DB MODE: restores into a fresh database and compares
check_copy() {
    local db=$1 how=$2 rc=$3
    expect "$how: exit status" "$rc" "0"
    snapshot "$db" > "$DUMPS/$db.txt"
    if diff -u "$DUMPS/source.txt" "$DUMPS/$db.txt" > "$DUMPS/$db.diff"; then
        ok "$how: all $tables tables have the same rows"
    else
        bad "$how: tables differ"; cat "$DUMPS/$db.diff" >&2
    fi
    expect "$how: PDF bytes identical" "$(psql -X -q -d "$db" -tA -c "SELECT md5(string_agg(md5(pdf), ',' ORDER BY id)) FROM etop.qbrs")" "$pdf_src"
    # new rows get fresh ids: a new QBR, drafted and approved, after the restore
    local out
    out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$db" -tA -c "
        INSERT INTO etop.qbr_jobs (client_id, options) SELECT min(id), '{\"as_of\": \"2026-01-16\"}' FROM etop.clients;
        SELECT etop_internal.qbr_run_job(j.id) FROM etop_internal.job_claim() j;
        SELECT (etop.qbr_approve(max(id), 'after restore'))->>'status' FROM etop.qbrs;
        SELECT count(*) FROM etop.audit_log WHERE entity = 'qbr' AND entity_id = (SELECT max(id)::text FROM etop.qbrs);" 2>&1 | tail -2 | paste -sd' ')
    expect "$how: a new QBR after the restore is drafted, approved and audited" "$out" "approved 2"
}
restore_to() {  # name: makes an empty database, registers it for cleanup
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
    DBS+=("$1")
}

echo "-- pg_dump -Fc | pg_restore"
pg_dump -Fc -d "$IT_DB" -f "$DUMPS/c.dump"
restore_to it_rt_c
rc=0; pg_restore -d it_rt_c "$DUMPS/c.dump" || rc=$?
check_copy it_rt_c "custom format" "$rc"

echo "-- pg_restore --single-transaction"
restore_to it_rt_1
rc=0; pg_restore -1 -d it_rt_1 "$DUMPS/c.dump" || rc=$?
check_copy it_rt_1 "single transaction" "$rc"

echo "-- pg_dump -Fd -j 2, restored in parallel by sections (docs/operations.md)"
# pg_restore -j alone cannot restore extension tables that reference each other:
# pg_dump records no data-to-data dependencies for them, so parallel workers load
# devices before clients and the foreign keys refuse them.  The data section is
# therefore restored with the triggers (foreign key checks included) off, as
# pg_restore --disable-triggers does for a data-only restore.
pg_dump -Fd -j 2 -d "$IT_DB" -f "$DUMPS/d"
restore_to it_rt_d
rc=0
pg_restore --section=pre-data -d it_rt_d "$DUMPS/d" || rc=$?
pg_restore --section=data --disable-triggers -j 2 -d it_rt_d "$DUMPS/d" || rc=$?
pg_restore --section=post-data -j 2 -d it_rt_d "$DUMPS/d" || rc=$?
check_copy it_rt_d "directory format, 2 jobs" "$rc"

echo "-- pg_dump | psql"
restore_to it_rt_p
rc=0; pg_dump -d "$IT_DB" | psql -X -q -v ON_ERROR_STOP=1 -d it_rt_p > "$DUMPS/p.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || tail -20 "$DUMPS/p.log"
check_copy it_rt_p "plain SQL through psql" "$rc"

# what the dump holds of credentials: the DBA's to protect (docs/operations.md)
if grep -q "etopPrivateKey" <(pg_dump -d "$IT_DB" -t etop.connections --data-only); then
    ok "the dump holds connection credentials (documented: protect dump files like the database)"
else
    bad "credentials missing from the dump: a restored database could not sync"
fi
psql -X -q -d postgres -c "DROP ROLE IF EXISTS it_rt_am" >/dev/null 2>&1 || true
finish
