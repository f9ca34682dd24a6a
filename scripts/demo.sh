#!/usr/bin/env bash
# The demo command: sets up a fresh Debian 12 machine, builds and installs
# etop, starts a throwaway PostgreSQL 15 cluster (etop and pg_cron preloaded)
# and runs the main job end to end on the embedded demo data
# (scripts/demo-run.sh).  Output files go to ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Every server the tests and the demo talk to is on 127.0.0.1: never proxy it.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

scripts/setup-debian.sh
echo "== building and installing etop"
make -s
$SUDO make -s install
mkdir -p out
chmod 0777 out          # the server (user postgres) writes PDFs here

pg_virtualenv -v 15 \
    -o "shared_preload_libraries=etop,pg_cron" \
    -o "cron.database_name=etop_demo" \
    -o "cron.use_background_workers=on" \
    -o "etop.database_name=etop_demo" \
    -o "max_worker_processes=32" \
    scripts/demo-run.sh
