#!/usr/bin/env bash
# Integration: pg_cron runs etop's due-for-QBR check on its own.
#
# Needs a cluster with shared_preload_libraries = 'etop,pg_cron' and
# cron.database_name = 'etop_it' (tests/run-in-cluster.sh inside the
# pg_virtualenv of scripts/test.sh).  Creates database etop_it, seeds clients
# relative to today, schedules etop:qbr-check every minute, waits for pg_cron
# to run it, checks that exactly the due clients got exactly one queued job
# each, waits for another run and checks that nothing was queued twice, then
# exercises the other scheduling helpers, unschedules everything and drops
# the database.
set -euo pipefail

DB=${ETOP_IT_DB:-etop_it}
WAIT_SECONDS=140          # one pg_cron run, each; a run starts every minute

fail() { echo "cadence_cron: FAIL: $*" >&2; exit 1; }
note() { echo "cadence_cron: $*"; }
q()    { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
admin(){ psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }

cleanup() { admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

cron_db=$(admin "SELECT current_setting('cron.database_name', true)")
[ "$cron_db" = "$DB" ] ||
    fail "cron.database_name is '${cron_db:-<pg_cron not loaded>}'; this test needs pg_cron preloaded with cron.database_name = '$DB'"

PGOPTIONS="--client-min-messages=warning" admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
admin "CREATE DATABASE $DB"
q "CREATE EXTENSION pg_cron"
q "CREATE EXTENSION etop"

# pg_cron's scheduler (re)connects within a second or two of the database
# appearing.  It is gone for good if an earlier test dropped this database
# while it was attached (tests/run-in-cluster.sh restarts the cluster first).
start=$SECONDS
until [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'")" -gt 0 ]; do
    [ $((SECONDS - start)) -lt 30 ] ||
        fail "pg_cron's scheduler is not running in $DB (it exits for good when its database is dropped); restart the cluster"
    sleep 1
done

# Clients relative to today, since the scheduled command is
# SELECT etop.run_qbr_check() with as_of = current_date.
q "INSERT INTO etop.clients (source, external_id, name, segment, last_qbr_date) VALUES
     ('it', 'due-a',      'Due quarterly',           'A',  current_date - interval '4 months'),
     ('it', 'due-d',      'Due annually (overdue)',  'D',  current_date - interval '13 months'),
     ('it', 'never',      'Never had a QBR',         'B',  NULL),
     ('it', 'noseg',      'No segment, due',         NULL, current_date - interval '3 months'),
     ('it', 'fresh-b',    'Met last month',          'B',  current_date - interval '1 month'),
     ('it', 'fresh-d',    'Met half a year ago',     'D',  current_date - interval '6 months'),
     ('it', 'has-draft',  'Due, draft under review', 'C',  current_date - interval '7 months'),
     ('it', 'has-job',    'Due, job already queued', 'A',  current_date - interval '5 months')"
q "INSERT INTO etop.qbrs (client_id, period, as_of)
   SELECT id, 'current', current_date FROM etop.clients WHERE external_id = 'has-draft'"
q "SELECT etop.qbr_generate(id) FROM etop.clients WHERE external_id = 'has-job'" >/dev/null

expected="due-a,due-d,never,noseg"
due=$(q "SELECT string_agg(c.external_id, ',' ORDER BY c.external_id)
           FROM etop.due_for_qbr() d JOIN etop.clients c ON c.id = d.client_id
          WHERE c.external_id NOT IN ('has-draft', 'has-job')")
[ "$due" = "$expected" ] || fail "due_for_qbr() lists '$due', expected '$expected'"

jobid=$(q "SELECT etop.schedule_qbr_check('* * * * *')")
note "scheduled etop:qbr-check as pg_cron job $jobid; waiting for pg_cron to run it"
[ "$(q "SELECT count(*) FROM cron.job WHERE jobname = 'etop:qbr-check' AND command = 'SELECT etop.run_qbr_check()'")" = 1 ] ||
    fail "cron.job has no etop:qbr-check job running SELECT etop.run_qbr_check()"

# Waits until pg_cron has finished more than $1 runs of etop:qbr-check.
finished_runs() {
    q "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
        WHERE j.jobname = 'etop:qbr-check' AND d.status IN ('succeeded', 'failed')"
}
wait_for_run_after() {
    local before=$1 start=$SECONDS n
    while :; do
        n=$(finished_runs)
        [ "$n" -gt "$before" ] && break
        [ $((SECONDS - start)) -lt "$WAIT_SECONDS" ] ||
            fail "pg_cron did not run etop:qbr-check within ${WAIT_SECONDS}s (runs: $n)"
        sleep 2
    done
    local bad
    bad=$(q "SELECT d.return_message FROM cron.job_run_details d JOIN cron.job j USING (jobid)
              WHERE j.jobname = 'etop:qbr-check' AND d.status = 'failed' ORDER BY d.runid DESC LIMIT 1")
    [ -z "$bad" ] || fail "pg_cron's run of etop:qbr-check failed: $bad
  (if pg_cron cannot connect, set cron.use_background_workers = on, or let it connect without a password)"
    note "pg_cron ran etop:qbr-check after $((SECONDS - start))s"
}

# Each due client has exactly one job, queued by the check; the others none.
# (The cluster's QBR worker may already be running or have finished them:
# what counts is that each was enqueued once.)
check_jobs() {
    local got
    got=$(q "SELECT string_agg(c.external_id || ':' || j.n, ',' ORDER BY c.external_id)
               FROM (SELECT client_id, count(*) AS n, string_agg(DISTINCT status, '/') AS statuses
                       FROM etop.qbr_jobs WHERE options->>'trigger' = 'qbr-check' GROUP BY client_id) j
               JOIN etop.clients c ON c.id = j.client_id")
    [ "$got" = "due-a:1,due-d:1,never:1,noseg:1" ] ||
        fail "$1: jobs queued by the check are '$got'"
    got=$(q "SELECT count(*) FROM etop.qbr_jobs GROUP BY client_id HAVING count(*) > 1")
    [ -z "$got" ] || fail "$1: a client has more than one job"
    got=$(q "SELECT count(*) FROM etop.qbr_jobs")
    [ "$got" = 5 ] || fail "$1: $got jobs in etop.qbr_jobs, expected 5 (4 from the check, 1 manual)"
    note "$1: exactly the due clients have exactly one queued job each"
}

wait_for_run_after 0
check_jobs "first run"

[ "$(q "SELECT count(*) FROM etop.run_qbr_check()")" = 0 ] || fail "running the check by hand queued jobs again"
runs=$(finished_runs)
wait_for_run_after "$runs"
check_jobs "next run"

status=$(q "SELECT name || ' ' || schedule || ' ' || last_status FROM etop.schedules")
[ "$status" = "etop:qbr-check * * * * * succeeded" ] || fail "etop.schedules shows '$status'"

# Rescheduling replaces the job; the other helpers name and quote their jobs.
jobid2=$(q "SELECT etop.schedule_qbr_check()")
[ "$(q "SELECT count(*) || ' ' || min(schedule) FROM cron.job WHERE jobname = 'etop:qbr-check'")" = "1 0 6 * * *" ] ||
    fail "schedule_qbr_check() did not replace the every-minute job (jobs $jobid, $jobid2)"
q "INSERT INTO etop.adapters (name, library, symbol) VALUES ('it-adapter', '\$libdir/etop', 'none');
   INSERT INTO etop.connections (name, adapter, base_url) VALUES ('o''brien-cw', 'it-adapter', 'https://example.invalid')"
q "SELECT etop.schedule_sync('o''brien-cw', '0 0 1 1 *')" >/dev/null 2>&1
q "SELECT etop.schedule_score_snapshots('0 0 1 1 *')" >/dev/null 2>&1
got=$(q "SELECT string_agg(name || ' | ' || command, E'\n' ORDER BY name) FROM etop.schedules")
want="etop:qbr-check | SELECT etop.run_qbr_check()
etop:score-snapshots | SELECT etop.snapshot_scores()
etop:sync:o'brien-cw | SELECT etop.sync_or_raise('o''brien-cw')"
[ "$got" = "$want" ] || fail "etop.schedules lists:
$got"
err=$(psql -X -q -At -d "$DB" -c "SELECT etop.schedule_sync('no-such-connection', '0 * * * *')" 2>&1 || true)
case "$err" in *'connection "no-such-connection" does not exist'*) ;; *) fail "schedule_sync of an unknown connection said: $err" ;; esac

for name in qbr-check etop:score-snapshots "sync:o''brien-cw"; do
    [ "$(q "SELECT etop.unschedule('$name')")" = t ] || fail "unschedule('$name') removed nothing"
done
[ "$(q "SELECT count(*) FROM etop.schedules")" = 0 ] || fail "etop.schedules is not empty after unscheduling"
[ "$(q "SELECT count(*) FROM cron.job WHERE jobname LIKE 'etop:%'")" = 0 ] || fail "etop jobs left in cron.job"
[ "$(q "SELECT etop.unschedule('qbr-check')" 2>/dev/null)" = f ] || fail "a second unschedule did not return false"
note "unscheduled everything; etop.schedules is empty"

# DROP EXTENSION etop takes etop's jobs with it (an event trigger), and only
# etop's; a DROP that fails leaves them; dropping another extension does not
# touch them.
q "SELECT etop.schedule_qbr_check('0 6 * * *')" >/dev/null
q "SELECT cron.schedule('not-etop', '0 1 * * *', 'SELECT 1')" >/dev/null
q "CREATE EXTENSION pg_trgm" && q "DROP EXTENSION pg_trgm"
[ "$(q "SELECT count(*) FROM cron.job WHERE jobname LIKE 'etop:%'")" = 1 ] ||
    fail "dropping another extension removed etop's jobs"
q "CREATE VIEW public.etop_dependent AS SELECT id FROM etop.clients"
if psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "DROP EXTENSION etop" >/dev/null 2>&1; then
    fail "DROP EXTENSION etop succeeded although a view depends on it"
fi
[ "$(q "SELECT count(*) FROM cron.job WHERE jobname LIKE 'etop:%'")" = 1 ] ||
    fail "a DROP EXTENSION etop that failed removed etop's jobs all the same"
q "DROP VIEW public.etop_dependent"
out=$(psql -X -At -v ON_ERROR_STOP=1 -d "$DB" -c "DROP EXTENSION etop" 2>&1) || fail "DROP EXTENSION etop: $out"
case "$out" in
    *"removed 1 pg_cron job(s) with the extension: etop:qbr-check"*) ;;
    *) fail "DROP EXTENSION etop said: $out" ;;
esac
[ "$(q "SELECT string_agg(jobname, ',' ORDER BY jobname) FROM cron.job")" = "not-etop" ] ||
    fail "after DROP EXTENSION etop, cron.job holds: $(q "SELECT string_agg(jobname, ',') FROM cron.job")"
q "SELECT cron.unschedule('not-etop')" >/dev/null
note "DROP EXTENSION etop removed its pg_cron jobs, and only its own"

trap - EXIT
admin "DROP DATABASE $DB WITH (FORCE)"
note "ok"
