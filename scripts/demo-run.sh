#!/usr/bin/env bash
# The main job on demo data, against the cluster named by the PG* variables
# (scripts/demo.sh runs it in a throwaway cluster; a DBA can point it at a
# test cluster of their own).  Creates database etop_demo if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${ETOP_DEMO_DB:-etop_demo}"
CLIENTS="${ETOP_DEMO_CLIENTS:-5}"

psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
    || createdb "$DB"
run() { psql -X -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

echo "== etop in database $DB"
run -q -c "CREATE EXTENSION IF NOT EXISTS etop" -c "SELECT etop.build_info()"

echo "== seeding $CLIENTS demo clients"
run -c "SELECT jsonb_pretty(etop.demo_seed($CLIENTS)) AS demo_rows"

echo "== each client's rows"
run -c "SELECT client_id, name, segment, industry, sites, contacts, users, devices,
               agreements, tickets, controls, risks, recommendations
          FROM etop.client_overview ORDER BY client_id"
echo "== demo finished"
