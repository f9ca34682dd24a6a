#!/usr/bin/env bash
# Integration test for the QBR PDF renderer (Gherkin "Generate QBR PDF"): renders
# documents with etop.qbr_render_doc() through psql into files and reads them back
# with poppler (pdftotext, pdfinfo).  Runs inside a cluster where the PG* variables
# are set and etop is installed; creates its own database and drops it at the end.
# Exits non-zero when any check fails.
set -uo pipefail
cd "$(dirname "$0")/../.."

DB=etop_pdf_it
OUT=$(mktemp -d)
cleanup() { dropdb --if-exists "$DB" >/dev/null 2>&1; rm -rf "$OUT"; }
trap cleanup EXIT

passed=0; failed=0
check() {  # check "what" command...
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok - $what"
    else failed=$((failed + 1)); echo "FAILED - $what"; fi
}

for tool in pdftotext pdfinfo python3; do
    command -v "$tool" >/dev/null || { echo "qbr_pdf.sh: $tool is missing (scripts/setup-debian.sh)"; exit 1; }
done

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB" || exit 1
psql -XqAt -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION etop" \
     -c "CREATE TABLE docs (name text PRIMARY KEY, doc jsonb NOT NULL)" || exit 1

load() {  # load NAME FILE
    psql -XqAt -v ON_ERROR_STOP=1 -d "$DB" -v name="$1" -v file="$2" <<'SQL'
\set doc `cat :'file'`
INSERT INTO docs VALUES (:'name', :'doc');
SQL
}
render() {  # render NAME -> $OUT/NAME.pdf and NAME.txt (reading order), NAME.layout, NAME.raw
    echo "SELECT encode(etop.qbr_render_doc(doc), 'base64') FROM docs WHERE name = :'name'" |
        psql -XAt -v ON_ERROR_STOP=1 -d "$DB" -v name="$1" | base64 -d > "$OUT/$1.pdf" || return 1
    pdftotext "$OUT/$1.pdf" "$OUT/$1.txt" &&
    pdftotext -layout "$OUT/$1.pdf" "$OUT/$1.layout" &&
    pdftotext -raw "$OUT/$1.pdf" - | tr '\n' ' ' | tr -s ' ' > "$OUT/$1.raw"
}

# ---- documents: the example, variants of it, and the large one
load example tests/data/qbr_example.json || exit 1
python3 tests/data/make_large_qbr.py --devices 500 --tickets 1000 > "$OUT/large.json" || exit 1
load large "$OUT/large.json" || exit 1
psql -XqAt -v ON_ERROR_STOP=1 -d "$DB" <<'SQL' || exit 1
INSERT INTO docs SELECT 'no_roadmap', (doc - 'roadmap') #- '{narrative,recommendations}'
  FROM docs WHERE name = 'example';
INSERT INTO docs VALUES ('minimal', '{"client": {"name": "Minimal Client"}, "period": "Q1 2026"}');
SQL

for d in example no_roadmap minimal; do
    check "$d renders" render "$d"
done

TITLES=("Executive Summary" "Score Dashboard" "Top 5 Risks" "Top 5 Wins" "Service Experience Story"
        "Security Posture Story" "Lifecycle Forecast" "Roadmap" "Outcome Plan")

# the nine section titles, each once, in this order
titles_in_order() {  # FILE.txt
    local last=0 n line
    for t in "${TITLES[@]}"; do
        n=$(grep -c -x -F "$t" "$1")
        [ "$n" -eq 1 ] || { echo "  \"$t\" appears $n times in $1"; return 1; }
        line=$(grep -n -x -F "$t" "$1" | cut -d: -f1)
        [ "$line" -gt "$last" ] || { echo "  \"$t\" is out of order in $1"; return 1; }
        last=$line
    done
}
contains() { grep -q -F -- "$2" "$1" || { echo "  missing in $1: $2"; return 1; }; }
lacks() { ! grep -q -F -- "$2" "$1" || { echo "  unexpected in $1: $2"; return 1; }; }

E=$OUT/example
check "example: PDF header" bash -c "head -c 5 '$E.pdf' | grep -q '%PDF-'"
check "example: nine sections in order" titles_in_order "$E.txt"
check "example: client name with umlauts" contains "$E.txt" "Müller & Söhne GmbH"
check "example: MSP name" contains "$E.txt" "Bright IT Services"
check "example: period in the header" contains "$E.txt" "Q4 2025 · Quarterly Business Review"
check "example: DRAFT mark" contains "$E.txt" "DRAFT — pending approval"
check "example: gauge labels side by side" grep -q -E '^ *Standards +Risk +Experience *$' "$E.layout"
check "example: gauge numbers 83, 15, 78" grep -q -E '^ *83 +15 +78 *$' "$E.layout"
check "example: movement text" contains "$E.txt" "Standards +5 vs. Q3 2025"
for h in "Risk Title" "Business Impact" "Status" "Mitigation Action"; do
    check "example: risk table column \"$h\"" contains "$E.raw" "$h"
done
# six risks in the document; the five with the highest likelihood x impact are shown
for r in "Outdated firewall firmware" "Aging accounting workstations" \
         "Conditional access not enforced for all users" "File server out of support in 2027" \
         "Untested ERP restore"; do
    check "example: risk row \"$r\"" contains "$E.raw" "$r"
done
check "example: the sixth risk is left out" lacks "$E.raw" "Shared warehouse scanner accounts"
check "example: exactly five risk rows" bash -c \
    "[ \$(grep -o -E 'Likelihood: [A-Za-z]+ · Impact: [A-Za-z]+' '$E.raw' | wc -l) -eq 5 ]"
check "example: five wins" bash -c "[ \$(grep -c '^✓' '$E.txt') -eq 5 ]"
check "example: SLA figure" contains "$E.txt" "1,064 of 1,138 tickets"
check "example: security areas" bash -c "grep -q -x Identity '$E.txt' && grep -q -x Email '$E.txt' && grep -q -x Endpoint '$E.txt'"
check "example: 12 devices aged 4+ years" contains "$E.txt" "12 devices are four or more years old."
check "example: a 4+ year device is listed" contains "$E.txt" "WS-ACCT-07"
check "example: a younger device is not" lacks "$E.txt" "WS-ACCT-11"
for b in "€18,400" "€31,200" "€47,900" "12-month refresh budget" "24-month refresh budget" "36-month refresh budget"; do
    check "example: lifecycle budget $b" contains "$E.txt" "$b"
done
check "example: roadmap columns" grep -q -E '^ *Now +Next +Later *$' "$E.layout"
check "example: outcome plan owner" contains "$E.txt" "Anna Müller (CFO)"
check "example: page numbers" bash -c \
    "n=\$(pdfinfo '$E.pdf' | awk '/^Pages:/ {print \$2}'); grep -q \"Page \$n of \$n\" '$E.txt'"

check "no roadmap: nine sections in order" titles_in_order "$OUT/no_roadmap.txt"
check "no roadmap: the empty-roadmap sentence" grep -q -x -F "No recommendations available for this quarter." "$OUT/no_roadmap.txt"
check "example: no empty-roadmap sentence" lacks "$E.txt" "No recommendations available for this quarter."

M=$OUT/minimal
check "minimal: nine sections in order" titles_in_order "$M.txt"
for s in "No executive summary was provided for this quarter." "No open risks were identified this quarter." \
         "No wins were recorded for this quarter." "No service tickets were recorded for this period." \
         "No security data was available for this quarter." "No devices are four or more years old." \
         "No recommendations available for this quarter." "No action items have been agreed yet."; do
    check "minimal: \"$s\"" contains "$M.txt" "$s"
done
check "minimal: no DRAFT mark" lacks "$M.txt" "DRAFT"

# ---- large dataset: 500 devices, 1,000 tickets; everything rendered, under 10 MB
start=$(date +%s%N)
check "large renders" render large
ms=$(( ($(date +%s%N) - start) / 1000000 ))
L=$OUT/large
size=$(stat -c %s "$L.pdf")
pages=$(pdfinfo "$L.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
echo "# large: $size bytes, $pages pages, ${ms} ms including psql and pdftotext"
check "large: under 10 MB" [ "$size" -lt $((10 * 1024 * 1024)) ]
check "large: pdfinfo reads it" [ -n "$pages" ]
check "large: nine sections in order" titles_in_order "$L.txt"
check "large: all 500 device rows" bash -c \
    "[ \$(grep -o -E '\\bDEV-[0-9]{4}\\b' '$L.raw' | sort -u | wc -l) -eq 500 ]"
check "large: all 60 action items" bash -c \
    "[ \$(grep -o -E '\\bACT-[0-9]{3}\\b' '$L.raw' | sort -u | wc -l) -eq 60 ]"
check "large: all 30 roadmap items" bash -c \
    "[ \$(grep -o -E '\\b(Now|Next|Later) item [0-9]{2}\\b' '$L.raw' | sort -u | wc -l) -eq 30 ]"
check "large: all 25 recommendations" bash -c \
    "[ \$(grep -o -E '\\bRecommendation [0-9]{2}\\b' '$L.raw' | sort -u | wc -l) -eq 25 ]"
check "large: 1,000 tickets" contains "$L.txt" "1,000"
check "large: five of thirty risks" bash -c \
    "[ \$(grep -o -E 'Likelihood: [A-Za-z]+ · Impact: [A-Za-z]+' '$L.raw' | wc -l) -eq 5 ]"
check "large: table header repeated on continued pages" bash -c \
    "[ \$(grep -c -E '^ *Device +Type +Model +Age' '$L.layout') -gt 10 ]"
check "large: page numbers" grep -q -F "Page $pages of $pages" "$L.txt"

# ---- rendering needs no shared_preload_libraries: a throwaway cluster without it
# (skipped, not failed, when this environment cannot start a cluster of its own)
NOPRE=""
no_preload_setup() {
    local bin port run=""
    bin=$(pg_config --bindir 2>/dev/null) && [ -x "$bin/initdb" ] || return 1
    NOPRE=$(mktemp -d); port=$((20000 + RANDOM % 20000))
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$NOPRE"; run="runuser -u postgres --"; fi
    $run "$bin/initdb" -D "$NOPRE/data" -U postgres -A trust >/dev/null 2>&1 || return 1
    printf "port = %d\nunix_socket_directories = '%s'\nlisten_addresses = ''\nshared_preload_libraries = ''\n" \
        "$port" "$NOPRE" >> "$NOPRE/data/postgresql.conf"
    $run "$bin/pg_ctl" -D "$NOPRE/data" -l "$NOPRE/log" -w start >/dev/null 2>&1 || return 1
    NOPRE_PSQL=("$bin/psql" -h "$NOPRE" -p "$port" -U postgres -d postgres -XAt -v ON_ERROR_STOP=1)
    NOPRE_STOP=($run "$bin/pg_ctl" -D "$NOPRE/data" -w stop -m fast)
}
no_preload_render() {
    local out
    out=$("${NOPRE_PSQL[@]}" -c "CREATE EXTENSION etop" \
          -c "SELECT current_setting('shared_preload_libraries') = ''
                     AND NOT (etop.build_info()->>'preloaded')::boolean
                     AND substring(etop.qbr_render_doc('{\"client\": {\"name\": \"A\"}, \"period\": \"Q1\"}')
                                   FROM 1 FOR 5) = '%PDF-'::bytea" 2>&1)
    [ "$(echo "$out" | tail -n 1)" = t ] || { echo "  $out"; return 1; }
}
if no_preload_setup; then
    check "renders without shared_preload_libraries" no_preload_render
    "${NOPRE_STOP[@]}" >/dev/null 2>&1
else
    echo "skip - renders without shared_preload_libraries (cannot start a private cluster here)"
fi
[ -n "$NOPRE" ] && rm -rf "$NOPRE"

echo "qbr_pdf.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
