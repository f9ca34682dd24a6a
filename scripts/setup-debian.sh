#!/usr/bin/env bash
# Installs everything etop needs to build, test and demo on Debian 12, from
# Debian's own packages.  Safe to run again; needs root (or sudo).
set -euo pipefail

PACKAGES=(
    build-essential pkg-config
    postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-common
    libcurl4-openssl-dev libhpdf-dev libpng-dev
    fonts-dejavu-core poppler-utils
    python3 python3-psycopg2 curl ca-certificates bc
    clang libclang-rt-14-dev lld-14
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup-debian.sh: run as root or install sudo" >&2; exit 1; }
    SUDO="sudo"
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ] || [ "${ETOP_APT_UPDATE:-}" = 1 ]; then
    echo "== installing from Debian: ${missing[*]:-(refresh)}"
    $SUDO apt-get update -qq
    # Do not create the default cluster: tests and the demo make throwaway ones.
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/etop-no-main.conf >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
fi
