#!/usr/bin/env bash
# The test command: sets up a fresh Debian 12 machine, builds etop with
# warnings as errors, and runs every test (pure-C unit tests, pg_regress,
# integration tests) against a throwaway PostgreSQL 15 cluster started with
# shared_preload_libraries = 'etop,pg_cron'.  Exits non-zero if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

scripts/setup-debian.sh

echo "== building etop (warnings are errors)"
make -s clean
make -s COPT=-Werror
$SUDO make -s install

unit_rc=0
if [ -f tests/unit/Makefile ]; then
    echo "== unit tests (pure C, no database)"
    make -s -C tests/unit run || unit_rc=$?
fi

echo "== pg_regress and integration tests in a throwaway cluster"
cluster_rc=0
pg_virtualenv -v 15 \
    -o "shared_preload_libraries=etop,pg_cron" \
    -o "cron.database_name=etop_it" \
    -o "etop.database_name=etop_it" \
    -o "max_worker_processes=32" \
    -o "shared_buffers=512MB" \
    tests/run-in-cluster.sh || cluster_rc=$?

if [ "$unit_rc" -ne 0 ] || [ "$cluster_rc" -ne 0 ]; then
    echo "== FAILED (unit: $unit_rc, cluster: $cluster_rc)" >&2
    exit 1
fi
echo "== all tests passed"
