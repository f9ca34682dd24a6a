#!/usr/bin/env bash
# ALTER EXTENSION etop UPDATE from every released version: a 0.1.0 install
# with data is updated to the current version, its catalog (every member
# object, table, column, constraint, index, trigger, policy, function with its
# body and settings, privileges, comments, what pg_dump dumps) must equal a
# fresh install's, every row must still be there, and the new behaviour must
# work on the old data.
source "$(dirname "$0")/lib.bash"
TMP=$(mktemp -d)
FRESH=it_upgrade_fresh
cleanup() {
    drop_db
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $FRESH WITH (FORCE)" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
CURRENT=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$TOP/etop.control")
catalog() { psql -X -q -d "$1" -tA -v ON_ERROR_STOP=1 -f "$TOP/tests/integration/etop_catalog.sql"; }
# rows of every table, as JSON without the given columns (those a version adds)
rows() {
    psql -X -q -d "$1" -tA -v ON_ERROR_STOP=1 -c "
      SELECT string_agg(format('%s %s %s', t, n, h), E'\n' ORDER BY t) FROM (
        SELECT c.relname AS t,
               (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM etop.%I', c.relname), false, true, '')))[1]::text AS n,
               (xpath('/row/h/text()', query_to_xml(format(
                  'SELECT md5(coalesce(string_agg((to_jsonb(x) - %L::text[])::text, %L ORDER BY (to_jsonb(x) - %L::text[])::text), %L)) AS h FROM etop.%I x',
                  '{normalize_role,credentials_set_at,interruptions}', '|', '{normalize_role,credentials_set_at,interruptions}', '', c.relname),
                  false, true, '')))[1]::text AS h
          FROM pg_class c WHERE c.relnamespace = 'etop'::regnamespace AND c.relkind = 'r'
           AND c.relname = ANY (string_to_array('$2', ','))) s"
}

for FROM in $(ls "$TOP"/sql/upgrade/ | sed -n 's/^etop--\([0-9.]*\)\.sql$/\1/p'); do
    [ "$FROM" = "$CURRENT" ] && continue
    echo "-- $FROM -> $CURRENT"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $IT_DB WITH (FORCE)" -c "CREATE DATABASE $IT_DB"
    q -c "CREATE EXTENSION etop VERSION '$FROM'"
    # data in every table of the old version: demo clients, a synced-looking
    # connection, settings, a score snapshot, a QBR drafted (run in this
    # session: no worker serves this version's queue reliably) and approved
    q -c "SELECT etop.demo_seed(4, 3, '2026-01-15')" >/dev/null
    q -c "SELECT etop.snapshot_scores('2026-01-15')" >/dev/null
    q -c "SELECT etop.setting_set('msp_name', '\"Upgrade IT\"')" >/dev/null
    q -c "SELECT etop.connection_create('old-cw', 'connectwise', 'https://example.invalid/v4_6_release/apis/3.0',
            '{\"company_id\": \"x\", \"public_key\": \"p\", \"private_key\": \"k\", \"client_id\": \"c\"}')" >/dev/null
    q -c "INSERT INTO etop.client_assignments (client_id, am_role) SELECT min(id), 'etop_am' FROM etop.clients" >/dev/null
    q -c "INSERT INTO etop.qbr_jobs (client_id, options, run_after)
          SELECT min(id), '{\"as_of\": \"2026-01-15\"}', now() FROM etop.clients" >/dev/null
    q -c "SELECT etop.qbr_run_job(j.id) FROM etop.job_claim() j" >/dev/null 2>&1 || true
    q -c "SELECT etop.qbr_approve(min(id), 'before the upgrade') FROM etop.qbrs" >/dev/null 2>&1 || true
    OLD_TABLES=$(q -c "SELECT string_agg(relname, ',') FROM pg_class WHERE relnamespace = 'etop'::regnamespace AND relkind = 'r'")
    rows "$IT_DB" "$OLD_TABLES" > "$TMP/before.txt"
    expect "$FROM: the old install has a QBR, approved" "$(q -c "SELECT string_agg(status, ',') FROM etop.qbrs")" "approved"

    q -c "ALTER EXTENSION etop UPDATE" >/dev/null
    expect "$FROM: updated to $CURRENT" "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'etop'")" "$CURRENT"

    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $FRESH WITH (FORCE)" -c "CREATE DATABASE $FRESH"
    psql -X -q -d "$FRESH" -c "CREATE EXTENSION etop"
    catalog "$IT_DB" > "$TMP/upgraded.txt"
    catalog "$FRESH" > "$TMP/fresh.txt"
    if diff -u "$TMP/fresh.txt" "$TMP/upgraded.txt" > "$TMP/catalog.diff"; then
        ok "$FROM: the upgraded catalog equals a fresh install ($(wc -l < "$TMP/fresh.txt") facts)"
    else
        bad "$FROM: the upgraded catalog differs from a fresh install (- fresh, + upgraded):"
        head -60 "$TMP/catalog.diff" >&2
    fi
    rows "$IT_DB" "$OLD_TABLES" > "$TMP/after.txt"
    if diff -u "$TMP/before.txt" "$TMP/after.txt" >&2; then
        ok "$FROM: every row of all $(wc -l < "$TMP/before.txt") tables is kept"
    else bad "$FROM: rows changed in the upgrade"; fi

    # the new version's behaviour, on the old data
    expect "$FROM: an approved QBR of the old version cannot be changed" \
        "$(q -c "UPDATE etop.qbrs SET review_note = 'rewritten' WHERE status = 'approved'" 2>&1 | grep -o 'a reviewed QBR cannot be changed')" \
        "a reviewed QBR cannot be changed"
    EVENTS_BEFORE=$(q -c "SELECT count(*) FROM etop.qbr_events WHERE event = 'draft_ready'")
    q -c "INSERT INTO etop.qbr_jobs (client_id, options, run_after)
          SELECT max(id), '{\"as_of\": \"2026-01-15\"}', now() FROM etop.clients" >/dev/null
    # run here, or by the QBR worker if it serves this database (the insert wakes it)
    q -c "SELECT etop_internal.qbr_run_job(j.id) FROM etop_internal.job_claim() j WHERE j.id IS NOT NULL" >/dev/null
    wait_for 30 "SELECT count(*) - $EVENTS_BEFORE = 1 FROM etop.qbr_events WHERE event = 'draft_ready'" || true
    expect "$FROM: a QBR after the upgrade records its draft_ready event" \
        "$(q -c "SELECT count(*) - $EVENTS_BEFORE FROM etop.qbr_events WHERE event = 'draft_ready'")" "1"
    expect "$FROM: the card's unqualified etop_scores(id) works after the upgrade" \
        "$(q -c "SELECT etop_scores(min(id), '2026-01-15') ? 'standards' FROM etop.clients")" "t"
    expect "$FROM: \\df etop.* lists no internals after the upgrade" \
        "$(q -c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'etop'::regnamespace
                  AND proname ~ '^(_sync_launch|job_claim|job_fail|qbr_step|qbr_run_job|cw_|demo_load|qbrs_)'")" "0"
    expect "$FROM: the old connection's credentials are kept (guarded from now on)" \
        "$(q -c "SELECT credentials->>'private_key' FROM etop.connections WHERE name = 'old-cw'")" "k"
done
finish
