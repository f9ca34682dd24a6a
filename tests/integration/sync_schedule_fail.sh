#!/usr/bin/env bash
# A scheduled sync that fails is a failed pg_cron run (docs/sync.md
# "Scheduled syncs"): cron.job_run_details.status = 'failed' with the
# vendor's error in return_message, and etop.schedules.last_status = failed.
# Needs pg_cron preloaded with cron.database_name = the test database.
source "$(dirname "$0")/lib.bash"
cleanup() { q -c "SELECT etop.unschedule('sync:dead-cw')" >/dev/null 2>&1 || true; drop_db; }
trap cleanup EXIT
cron_db=$(psql -X -qAt -d postgres -c "SELECT current_setting('cron.database_name', true)")
if [ "$cron_db" != "$IT_DB" ]; then
    echo "sync_schedule_fail.sh: skipped (cron.database_name is '${cron_db:-<pg_cron not loaded>}', not '$IT_DB')"
    exit 0
fi
fresh_db
q -c "CREATE EXTENSION pg_cron"
launcher() { q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'"; }
for _ in $(seq 20); do [ "$(launcher)" -gt 0 ] && break; sleep 0.5; done
if [ "$(launcher)" -eq 0 ] && can_restart_cluster; then
    restart_cluster fast   # pg_cron's scheduler leaves for good when its database is dropped
    for _ in $(seq 20); do [ "$(launcher)" -gt 0 ] && break; sleep 0.5; done
fi
[ "$(launcher)" -gt 0 ] || { bad "pg_cron's scheduler is not running in $IT_DB"; finish; exit 1; }

# nothing listens on port 1: "API unreachable" at once, no retries
q -c "SELECT etop.connection_create('dead-cw', 'connectwise', 'http://127.0.0.1:1/v4_6_release/apis/3.0',
        '{\"company_id\": \"x\", \"public_key\": \"x\", \"private_key\": \"x\", \"client_id\": \"x\"}',
        '{\"max_attempts\": 1, \"connect_timeout_ms\": 2000}')" >/dev/null
q -c "SELECT etop.schedule_sync('dead-cw', '* * * * *')" >/dev/null
echo "  waiting for pg_cron to run etop:sync:dead-cw (up to 75 s)"
wait_for 75 "SELECT count(*) > 0 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
              WHERE j.jobname = 'etop:sync:dead-cw' AND d.status IN ('succeeded', 'failed')" ||
    { bad "pg_cron did not run the job"; finish; exit 1; }
expect "the run is failed in etop.sync_runs" "$(q -c "SELECT string_agg(status, ',') FROM etop.sync_runs")" "failed"
expect "and in cron.job_run_details" \
    "$(q -c "SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'etop:sync:dead-cw' ORDER BY runid DESC LIMIT 1")" "failed"
expect "return_message has the vendor's error" \
    "$(q -c "SELECT d.return_message LIKE '%sync of connection \"dead-cw\" failed: ConnectWise API unreachable%' FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'etop:sync:dead-cw' ORDER BY runid DESC LIMIT 1")" "t"
expect "etop.schedules shows it failed" "$(q -c "SELECT last_status FROM etop.schedules WHERE name = 'etop:sync:dead-cw'")" "failed"
finish
