#!/usr/bin/env bash
# The QBR background worker end to end: offline drafts with NOTIFY, the
# OpenAI-compatible provider against a mock server (good output, a
# hallucinated device, invalid JSON, 500s, timeouts), retries with backoff,
# and a worker killed mid-job whose job is picked up again.
source "$(dirname "$0")/lib.bash"
cleanup() {
    stop_mocks
    psql -X -q -d postgres -c "ALTER SYSTEM RESET etop.llm_base_url" -c "ALTER SYSTEM RESET etop.llm_api_key" \
         -c "ALTER SYSTEM RESET etop.llm_timeout" -c "ALTER SYSTEM RESET etop.qbr_retry_base_seconds" \
         -c "ALTER SYSTEM RESET etop.qbr_visibility_timeout" -c "ALTER SYSTEM RESET etop.qbr_poll_interval" \
         -c "SELECT pg_reload_conf()" >/dev/null || true
    drop_db
}
trap cleanup EXIT

fresh_db
q -c "SELECT etop.demo_seed(3, 1, '2026-01-15')" >/dev/null
C1=$(q -c "SELECT id FROM etop.clients WHERE external_id = 'DEMO-00001'")
C2=$(q -c "SELECT id FROM etop.clients WHERE external_id = 'DEMO-00002'")
NAME2=$(q -c "SELECT name FROM etop.clients WHERE id = $C2")
psql -X -q -d postgres -c "ALTER SYSTEM SET etop.qbr_poll_interval = '200ms'" \
     -c "ALTER SYSTEM SET etop.qbr_retry_base_seconds = 1" \
     -c "ALTER SYSTEM SET etop.qbr_visibility_timeout = 5" -c "SELECT pg_reload_conf()" >/dev/null

if wait_for 40 "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'etop QBR worker' AND datname = '$IT_DB'"; then
    ok "a QBR worker is connected to $IT_DB"
else
    bad "no QBR worker connected to $IT_DB"; finish; exit 1
fi

enqueue() {  # client provider -> job id
    q -c "INSERT INTO etop.qbr_jobs (client_id, options)
          VALUES ($1, jsonb_build_object('as_of', '2026-01-15', 'provider', '$2')) RETURNING id"
}
job_done() { wait_for "$2" "SELECT status IN ('completed', 'failed') FROM etop.qbr_jobs WHERE id = '$1'"; }

echo "-- offline provider, with a NOTIFY when the draft is ready"
out=$(psql -X -d "$IT_DB" -v ON_ERROR_STOP=1 <<SQL
LISTEN etop_qbr;
INSERT INTO etop.qbr_jobs (client_id, options) VALUES ($C1, '{"as_of": "2026-01-15"}');
SELECT pg_sleep(4);
SELECT 1;
SQL
)
JOB=$(q -c "SELECT id FROM etop.qbr_jobs WHERE client_id = $C1 ORDER BY created_at DESC LIMIT 1")
job_done "$JOB" 30 || true
expect "offline job completed" "$(q -c "SELECT status || '/' || progress FROM etop.qbr_jobs WHERE id = '$JOB'")" "completed/Completed (step 4/4)"
expect "a draft QBR exists" "$(q -c "SELECT q.status FROM etop.qbrs q JOIN etop.qbr_jobs j ON j.qbr_id = q.id WHERE j.id = '$JOB'")" "draft"
if echo "$out" | grep -q "Asynchronous notification \"etop_qbr\" with payload \"{\"event\" : \"draft_ready\""; then
    ok "NOTIFY etop_qbr announced the draft"
else
    bad "no etop_qbr notification: $out"
fi
# the payload is ids only (any login may LISTEN), and its event id is a real row
payload=$(echo "$out" | sed -n 's/.*Asynchronous notification "etop_qbr" with payload "\(.*\)" received.*/\1/p' | head -1)
case "$payload" in *client_id*|*period*) bad "payload carries client data: $payload" ;;
    *'"event_id"'*) ok "payload is ids only: $payload" ;; *) bad "payload without event_id: $payload" ;; esac
EID=$(echo "$payload" | sed -n 's/.*"event_id" : \([0-9]*\).*/\1/p')
expect "the event is in etop.qbr_events" \
    "$(q -c "SELECT event || '/' || (qbr_id = (SELECT qbr_id FROM etop.qbr_jobs WHERE id = '$JOB')) FROM etop.qbr_events WHERE id = ${EID:-0}")" "draft_ready/true"

echo "-- OpenAI-compatible provider against the mock server"
rm -f /tmp/etop-it-llm.jsonl
start_mock llm openai_mock.py --api-key sk-test-123 --log /tmp/etop-it-llm.jsonl --max-requests 200 --max-seconds 600
LLM="http://127.0.0.1:$MOCK_PORT"
psql -X -q -d postgres -c "ALTER SYSTEM SET etop.llm_base_url = '$LLM/v1'" \
     -c "ALTER SYSTEM SET etop.llm_api_key = 'sk-test-123'" -c "ALTER SYSTEM SET etop.llm_timeout = 2" \
     -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
control() { mock_control "${LLM##*:}" "$1"; }

control '{"clear": true}'
JOB=$(enqueue "$C1" openai)
job_done "$JOB" 30 || true
expect "good LLM narrative completes" "$(q -c "SELECT status FROM etop.qbr_jobs WHERE id = '$JOB'")" "completed"
expect "token usage recorded" "$(q -c "SELECT (token_usage->>'total_tokens')::int > 0 FROM etop.qbr_jobs WHERE id = '$JOB'")" "t"
expect "narrative came from the LLM" "$(q -c "SELECT q.narrative ? 'executive_summary' AND NOT (q.narrative ? 'provider') FROM etop.qbrs q JOIN etop.qbr_jobs j ON j.qbr_id = q.id WHERE j.id = '$JOB'")" "t"
if grep -q "Harbor" /tmp/etop-it-llm.jsonl && ! grep -qF "$NAME2" /tmp/etop-it-llm.jsonl; then
    ok "the prompt holds this client's data and no other client's"
else
    bad "prompt content: expected client 1's name and not '$NAME2'"
fi
if grep -q "sk-test-123" /tmp/etop-it-llm.jsonl /tmp/etop-it-llm.log 2>/dev/null || \
   q -c "SELECT setting FROM pg_settings WHERE name = 'etop.llm_api_key'" | grep -q sk-test; then
    bad "the API key leaked into a log or SHOW"
else
    ok "the API key is not shown"
fi
expect "SHOW etop.llm_api_key is masked" "$(q -c "SHOW etop.llm_api_key")" "(set)"

control '{"scenario": "hallucinate"}'
JOB=$(enqueue "$C1" openai)
job_done "$JOB" 30 || true
expect "hallucination fails the job for human review, no retries" \
    "$(q -c "SELECT status || '|' || human_review || '|' || attempts || '|' || error FROM etop.qbr_jobs WHERE id = '$JOB'")" \
    'failed|true|1|Hallucination detected: Device "FW-MAIN-99" cited in evidence but not found in database'
expect "no draft for a hallucinated narrative" "$(q -c "SELECT qbr_id IS NULL FROM etop.qbr_jobs WHERE id = '$JOB'")" "t"

control '{"scenario": "invalid-json"}'
JOB=$(enqueue "$C1" openai)
wait_for 20 "SELECT status = 'retry' FROM etop.qbr_jobs WHERE id = '$JOB'" && ok "invalid JSON puts the job in retry" || bad "invalid JSON: no retry"
control '{"clear": true}'
job_done "$JOB" 30 || true
expect "the retry succeeds once the API recovers" "$(q -c "SELECT status || '/' || attempts FROM etop.qbr_jobs WHERE id = '$JOB'")" "completed/2"

# replies of the wrong shape are the API's fault: the job retries, the worker lives on
for sc in choices-object deep-json bad-utf8-content; do
    PID=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'etop QBR worker' AND datname = '$IT_DB' LIMIT 1")
    control "{\"scenario\": \"$sc\", \"times\": 1}"
    JOB=$(enqueue "$C1" openai)
    wait_for 20 "SELECT status = 'retry' FROM etop.qbr_jobs WHERE id = '$JOB'" && ok "$sc: the job is retried" \
        || bad "$sc: no retry ($(q -c "SELECT status || '|' || coalesce(error, '') FROM etop.qbr_jobs WHERE id = '$JOB'"))"
    expect "$sc: the error names the API" "$(q -c "SELECT error LIKE 'OpenAI API returned %' FROM etop.qbr_jobs WHERE id = '$JOB'")" "t"
    expect "$sc: the worker survived" "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE pid = $PID")" "1"
    job_done "$JOB" 30 || true
    expect "$sc: the retry succeeds" "$(q -c "SELECT status FROM etop.qbr_jobs WHERE id = '$JOB'")" "completed"
done

control '{"scenario": "500"}'
JOB=$(enqueue "$C1" openai)
job_done "$JOB" 90 || true
expect "a 500 on every try fails after 3 attempts" "$(q -c "SELECT status || '/' || attempts FROM etop.qbr_jobs WHERE id = '$JOB'")" "failed/3"
expect "500 error names the retries" "$(q -c "SELECT error LIKE 'OpenAI API error after 3 retries: %' FROM etop.qbr_jobs WHERE id = '$JOB'")" "t"

control '{"scenario": "slow", "delay": 30}'
JOB=$(enqueue "$C1" openai)
job_done "$JOB" 120 || true
expect "timeouts fail with the spec's message" "$(q -c "SELECT status || '|' || error FROM etop.qbr_jobs WHERE id = '$JOB'")" \
    "failed|OpenAI API timeout after 3 retries"

echo "-- a worker killed mid-job: its job is claimed again at once, the lost attempt not counted"
psql -X -q -d postgres -c "ALTER SYSTEM SET etop.qbr_visibility_timeout = 600" -c "SELECT pg_reload_conf()" >/dev/null
control '{"scenario": "slow", "delay": 1.5, "times": 1}'
JOB=$(enqueue "$C1" openai)
wait_for 20 "SELECT progress LIKE 'Generating narrative%' FROM etop.qbr_jobs WHERE id = '$JOB'" || true
PID=$(q -c "SELECT worker_pid FROM etop.qbr_jobs WHERE id = '$JOB'")
q -c "SELECT pg_terminate_backend($PID)" >/dev/null
expect "job left active by the dead worker" "$(q -c "SELECT status FROM etop.qbr_jobs WHERE id = '$JOB'")" "active"
t0=$SECONDS
job_done "$JOB" 60 || true
expect "job completed by another worker, well before the 600 s lease ran out" \
    "$(q -c "SELECT status || '/' || (worker_pid IS DISTINCT FROM $PID) FROM etop.qbr_jobs WHERE id = '$JOB'")/$(( SECONDS - t0 < 60 ))" "completed/true/1"
expect "the lost attempt is an interruption, not an attempt" \
    "$(q -c "SELECT attempts || '/' || interruptions FROM etop.qbr_jobs WHERE id = '$JOB'")" "1/1"
expect "exactly one draft for it" "$(q -c "SELECT count(*) FROM etop.qbrs WHERE job_id = '$JOB'")" "1"

echo "-- a queued job wakes the workers at once (LISTEN etop_qbr_jobs), not at the next poll"
psql -X -q -d postgres -c "ALTER SYSTEM SET etop.qbr_poll_interval = '120s'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 3     # the workers are now asleep for up to 120 s
t0=$SECONDS
JOB=$(enqueue "$C1" offline)
job_done "$JOB" 30 || true
expect "job completed within seconds with a 120 s poll interval" \
    "$(q -c "SELECT status FROM etop.qbr_jobs WHERE id = '$JOB'")/$(( SECONDS - t0 < 20 ))" "completed/1"
JOB=$(q -c "SELECT (etop.qbr_generate($C2, '{\"as_of\": \"2026-01-15\"}'))->>'job_id'")
job_done "$JOB" 30 || true
expect "so does etop.qbr_generate()" "$(q -c "SELECT status FROM etop.qbr_jobs WHERE id = '$JOB'")" "completed"
psql -X -q -d postgres -c "ALTER SYSTEM SET etop.qbr_poll_interval = '200ms'" -c "SELECT pg_reload_conf()" >/dev/null

# The server restarted under a running job: -m fast (the worker gets SIGTERM)
# and -m immediate (no shutdown at all), with lib.bash's restart_cluster
# (pg_virtualenv's cluster, or a private one: ETOP_PGDATA).
for mode in fast immediate; do
    echo "-- the server restarts (-m $mode) while a job runs: the job runs again at once, not counted"
    control '{"scenario": "slow", "delay": 20, "times": 1}'
    JOB=$(enqueue "$C1" openai)
    wait_for 20 "SELECT progress LIKE 'Generating narrative%' FROM etop.qbr_jobs WHERE id = '$JOB'" || true
    rc=0; restart_cluster "$mode" || rc=$?
    if [ "$rc" -eq 2 ]; then echo "  skipped: no cluster to restart (set ETOP_PGDATA)"; break; fi
    expect "-m $mode: the cluster came back" "$rc" "0"
    control '{"clear": true}'
    t0=$SECONDS
    job_done "$JOB" 60 || true
    expect "-m $mode: the job completed soon after the restart (lease 600 s)" \
        "$(q -c "SELECT status || '/' || attempts || '/' || interruptions FROM etop.qbr_jobs WHERE id = '$JOB'")/$(( SECONDS - t0 < 45 ))" \
        "completed/1/1/1"
    expect "-m $mode: one draft" "$(q -c "SELECT count(*) FROM etop.qbrs WHERE job_id = '$JOB'")" "1"
done

finish
