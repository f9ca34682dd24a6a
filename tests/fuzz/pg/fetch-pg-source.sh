#!/usr/bin/env bash
# Fetch the few PostgreSQL 15 source files the jsonb fuzz targets link with
# (PostgreSQL's own jsonb, JSON parser, numeric, List, StringInfo, snprintf ...)
# from Debian's source package, into a cache directory OUTSIDE the repository.
# PostgreSQL's sources are never committed to etop.
#
#   tests/fuzz/pg/fetch-pg-source.sh     -> prints the source root on stdout
#                                           (…/postgresql-15.N), exit 0
#   exit 2 (and a message on stderr): the source cannot be fetched here.
#
# Cache: $ETOP_PG_SRC_CACHE, else $XDG_CACHE_HOME/etop-pg-src, else
# /var/tmp/etop-pg-src.  A cached tree is reused; delete the directory to refetch.
# jsonb's on-disk format and these files' behaviour are the same in every 15.x,
# so any 15.x Debian offers will do: the versions `apt-cache showsrc` lists are
# tried newest first (the newest can 404 in the security pool).
set -euo pipefail

CACHE=${ETOP_PG_SRC_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/etop-pg-src}}
CACHE=${CACHE:-/var/tmp/etop-pg-src}

# Every file the targets compile (see tests/fuzz/pg/Makefile, PG_SRCS).
FILES="
src/backend/utils/adt/jsonb.c
src/backend/utils/adt/jsonb_util.c
src/backend/utils/adt/json.c
src/backend/utils/adt/jsonfuncs.c
src/backend/utils/adt/numeric.c
src/backend/utils/adt/float.c
src/backend/nodes/list.c
src/backend/utils/mb/mbutils.c
src/common/jsonapi.c
src/common/stringinfo.c
src/common/psprintf.c
src/common/wchar.c
src/common/encnames.c
src/common/base64.c
src/common/hashfn.c
src/port/snprintf.c
src/port/pgstrcasecmp.c
src/port/strerror.c
src/port/qsort_arg.c
"

have_all() {
    local d=$1 f
    for f in $FILES; do [ -f "$d/$f" ] || return 1; done
}

say() { echo "fetch-pg-source: $*" >&2; }

mkdir -p "$CACHE"
for d in "$CACHE"/postgresql-15.*/; do
    d=${d%/}
    if [ -d "$d" ] && have_all "$d"; then echo "$d"; exit 0; fi
done

command -v apt-get >/dev/null || { say "no apt-get: cannot fetch Debian's postgresql-15 source"; exit 2; }

# deb-src lines (Debian bookworm, main + security), if none are configured.
SRCLIST=/etc/apt/sources.list.d/etop-src.sources
if ! grep -rqsE '^(Types: *deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ ; then
    if [ "$(id -u)" -ne 0 ]; then say "no deb-src lines and not root: cannot add them"; exit 2; fi
    say "adding deb-src lines in $SRCLIST"
    cat > "$SRCLIST" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -qq >&2 || true
fi

versions() { apt-cache showsrc postgresql-15 2>/dev/null | sed -n 's/^Version: //p' | sort -Vr -u; }
VERSIONS=$(versions || true)
if [ -z "$VERSIONS" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >&2 || true
    VERSIONS=$(versions || true)
fi
[ -n "$VERSIONS" ] || { say "apt-cache showsrc lists no postgresql-15 source"; exit 2; }

DL="$CACHE/download"
mkdir -p "$DL"
chmod 755 "$DL" 2>/dev/null || true
for v in $VERSIONS; do
    upstream=${v%%-*}
    tarball="$DL/postgresql-15_${upstream}.orig.tar.bz2"
    if [ ! -s "$tarball" ]; then
        say "trying postgresql-15=$v"
        if ! (cd "$DL" && apt-get source --download-only -qq "postgresql-15=$v" >&2 2>/dev/null); then
            say "postgresql-15=$v: not downloadable, trying the next version"
            continue
        fi
    fi
    [ -s "$tarball" ] || { say "postgresql-15=$v: no $tarball"; continue; }
    members=""
    for f in $FILES; do members="$members postgresql-$upstream/$f"; done
    # shellcheck disable=SC2086
    if tar xjf "$tarball" -C "$CACHE" $members; then
        # only the files listed above are kept; the tarball itself is 23 MB
        rm -f "$DL"/postgresql-15_"${upstream}"*
        if have_all "$CACHE/postgresql-$upstream"; then
            say "PostgreSQL $upstream sources (only the files listed in this script) in $CACHE/postgresql-$upstream"
            echo "$CACHE/postgresql-$upstream"
            exit 0
        fi
    fi
    say "postgresql-15=$v: could not extract the files"
done
say "no postgresql-15 source version could be fetched"
exit 2
