#!/usr/bin/env bash
# Issue #18, item 2: the Immy.Bot sync asks the published API the published
# way, against immy_mock.py behaving as ImmyBot documents it:
#   * POST maintenance-actions/latest-action-for-computers without
#     maintenanceIdentifier is a 400 (the mock enforces the request body), so
#     the adapter reads GET maintenance-actions/latest-for-tenant/{tenantId};
#   * GET tenants is paged (page / pageSize, capped by the server at 2 here):
#     every page is followed, so the results of every tenant arrive;
#   * target assignments without maintenanceDisplayName, tasks with
#     maintenanceType 6 (GlobalMaintenanceTask): controls titled from results.
source "$(dirname "$0")/lib.bash"
cleanup() { stop_mocks; drop_db; }
trap cleanup EXIT

fresh_db
start_mock cw cw_mock.py --max-seconds 100; CW_PORT=$MOCK_PORT
start_mock immy immy_mock.py --max-seconds 100 --tenants-page-cap 2; IMMY_PORT=$MOCK_PORT
GRAPH_PORT=1   # not used
create_vendor_connections
sync() { q -c "SELECT etop.sync_now('$1', true)::text"; }

echo "-- the mock enforces the published request body"
TOKEN=$(curl -s -X POST "http://127.0.0.1:$IMMY_PORT/3c9e1f7a-2b4d-4e6f-8a1c-5d7e9f0a1b2c/oauth2/v2.0/token" \
    -d "grant_type=client_credentials&client_id=0b7a6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d&client_secret=mock-immy-secret&scope=https://etopdemo.immy.bot/.default" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
expect "latest-action-for-computers with only computerIds: 400" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"computerIds": [1001, 1002]}' "http://127.0.0.1:$IMMY_PORT/api/v1/maintenance-actions/latest-action-for-computers")" 400
expect "... with maintenanceIdentifier and maintenanceType: 200" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"computerIds": [1001], "maintenanceIdentifier": "84", "maintenanceType": 0}' "http://127.0.0.1:$IMMY_PORT/api/v1/maintenance-actions/latest-action-for-computers")" 200
expect "tenants page 3 of pageSize 2 (capped): the 5th and 6th tenant" \
    "$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$IMMY_PORT/api/v1/tenants?page=3&pageSize=100" \
        | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 2

echo "-- the sync"
R=$(sync connectwise)
expect "ConnectWise first" "$(q -c "SELECT '$R'::jsonb->>'status'")" succeeded
R=$(sync immy)
expect "Immy.Bot sync succeeds" "$(q -c "SELECT '$R'::jsonb->>'status' || ' ' || coalesce('$R'::jsonb->>'error', '')")" "succeeded "
expect "12 baseline controls, from the results of every tenant (tenants on 3 pages)" \
    "$(q -c "SELECT count(*) || ' controls of ' || count(DISTINCT client_id) || ' clients' FROM etop.controls WHERE control_type = 'immy_baseline'")" \
    "12 controls of 5 clients"
expect "titles come from the results (target assignments have no maintenanceDisplayName)" \
    "$(q -c "SELECT string_agg(DISTINCT title, ', ' ORDER BY title) FROM etop.controls WHERE control_type = 'immy_baseline'")" \
    "BitLocker Encryption, Microsoft Defender for Endpoint, Windows Security Updates (Monthly)"
expect "task results (maintenanceType 6) with NonCompliant fail" \
    "$(q -c "SELECT count(*) > 0 FROM etop.controls WHERE control_type = 'immy_baseline' AND evidence->>'maintenanceType' = '6' AND status = 'fail'")" t
expect "every tenant's results were asked for (6 tenants, 3 pages of tenants + the empty 4th)" \
    "$(q -c "SELECT (progress->>'pages_fetched')::int FROM etop.sync_runs WHERE connection = 'immy' ORDER BY id DESC LIMIT 1")" \
    "$(( 4 + 1 + 1 + 6 ))"
finish
