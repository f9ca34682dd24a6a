#!/usr/bin/env bash
# Developer helper: a private, relocatable copy of the system's PostgreSQL 15
# under DIR, so several work trees can `make install` and run clusters side by
# side without touching the system installation.
#   scripts/private-pg.sh DIR PORT   -> copies PostgreSQL, builds+installs etop,
#                                       (re)starts a cluster on PORT
# Then: export PATH=DIR/usr/lib/postgresql/15/bin:$PATH PGHOST=/tmp PGPORT=PORT PGUSER=postgres
set -euo pipefail
DIR=$(realpath -m "$1"); PORT=$2
cd "$(dirname "$0")/.."
if [ ! -x "$DIR/usr/lib/postgresql/15/bin/postgres" ]; then
    mkdir -p "$DIR/usr/lib/postgresql" "$DIR/usr/share/postgresql" "$DIR/usr/include"
    cp -a /usr/lib/postgresql/15 "$DIR/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$DIR/usr/share/postgresql/"
    ln -sfn /usr/include/postgresql "$DIR/usr/include/postgresql"
fi
BIN="$DIR/usr/lib/postgresql/15/bin"
make -s PG_CONFIG="$BIN/pg_config"
make -s PG_CONFIG="$BIN/pg_config" install
DATA="$DIR/data"
RUNAS=""; [ "$(id -u)" -eq 0 ] && RUNAS="runuser -u postgres --"
if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"; chown postgres "$DATA" 2>/dev/null || true
    $RUNAS "$BIN/initdb" -D "$DATA" -U postgres -A trust >/dev/null
    cat >> "$DATA/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '/tmp'
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'etop,pg_cron'
cron.database_name = 'etop_dev'
etop.database_name = 'etop_dev'
max_worker_processes = 32
shared_buffers = 512MB
CONF
fi
$RUNAS "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w restart >/dev/null 2>&1 \
    || $RUNAS "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start
"$BIN/psql" -h /tmp -p "$PORT" -U postgres -d postgres -Xqtc \
    "SELECT 1 FROM pg_database WHERE datname='etop_dev'" | grep -q 1 \
    || "$BIN/createdb" -h /tmp -p "$PORT" -U postgres etop_dev
echo "private PostgreSQL in $DIR, port $PORT (database etop_dev)"
