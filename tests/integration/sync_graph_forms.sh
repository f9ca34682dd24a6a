#!/usr/bin/env bash
# Issue #18, item 3: Graph data in the forms Graph really sends, from
# graph_mock.py's "graph-forms" scenario on /v1.0/security:
#   * security/alerts_v2 severity and status "unknown" (alertSeverity and
#     alertStatus enums): stored as informational / open, not an error;
#   * security/secureScores controlScores' undeclared extras as strings
#     ("score": "6", "scoreInPercentage": "60.0") and some extras missing:
#     read as numbers, missing ones left out, the Secure Score still scored;
#   * riskyUsers asked with $top <= 500 (the mock answers 400 above).
source "$(dirname "$0")/lib.bash"
cleanup() { stop_mocks; drop_db; }
trap cleanup EXIT

fresh_db
start_mock cw cw_mock.py --max-seconds 100; CW_PORT=$MOCK_PORT
start_mock graph graph_mock.py --max-seconds 100; GRAPH_PORT=$MOCK_PORT
IMMY_PORT=1   # not used
create_vendor_connections
graph() { curl -s -X POST -d "$1" "http://127.0.0.1:$GRAPH_PORT/__control" >/dev/null; }
sync() { q -c "SELECT etop.sync_now('$1', true)::text"; }

R=$(sync connectwise)
expect "ConnectWise first" "$(q -c "SELECT '$R'::jsonb->>'status'")" succeeded
R=$(sync m365)
expect "the plain tenant syncs (riskyUsers asked with \$top 500)" "$(q -c "SELECT '$R'::jsonb->>'status'")" succeeded
PLAIN=$(q -c "SELECT s->'standards'->'breakdown'->'m365_secure_score'->>'score' FROM etop.clients c, etop.etop_scores(c.id) s WHERE c.external_id = '250'")

graph '{"scenario": "graph-forms", "path": "/v1.0/security"}'
R=$(sync m365)
expect "severity/status unknown and string extras: the sync succeeds" \
    "$(q -c "SELECT '$R'::jsonb->>'status' || ' ' || coalesce('$R'::jsonb->>'error', '')")" "succeeded "
expect "... the unknown alert is informational and open" \
    "$(q -c "SELECT count(*) FROM etop.risks WHERE source = 'm365' AND severity = 'informational' AND status = 'open'")" 1
expect "... control scores given as strings are numbers in the evidence" \
    "$(q -c "SELECT count(*) FILTER (WHERE jsonb_typeof(evidence->'score') = 'number') || '/' || count(*) FROM etop.controls WHERE control_type = 'm365_secure_score'")" \
    "28/28"
expect "... scoreInPercentage a number where given, absent where Graph left it out" \
    "$(q -c "SELECT bool_and(jsonb_typeof(evidence->'scoreInPercentage') IS DISTINCT FROM 'string') AND count(*) FILTER (WHERE NOT evidence ? 'scoreInPercentage') > 0 FROM etop.controls WHERE control_type = 'm365_secure_score'")" t
expect "... and the Secure Score component is the same as with numbers" \
    "$(q -c "SELECT s->'standards'->'breakdown'->'m365_secure_score'->>'score' FROM etop.clients c, etop.etop_scores(c.id) s WHERE c.external_id = '250'")" "$PLAIN"
graph '{"clear": true}'
finish
