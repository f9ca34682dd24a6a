#!/usr/bin/env bash
# A client's QBR PDF from the database (etop.qbr_render): the nine sections in
# order, the three gauges' numbers, at most five risk rows, the empty-roadmap
# sentence, and the same sections and detail for a Segment A and a Segment D
# client.
source "$(dirname "$0")/lib.bash"
trap drop_db EXIT
fresh_db
q -c "SELECT etop.demo_seed(8, 1, '2026-01-15')" >/dev/null
TMP=$(mktemp -d)
render() {  # client_id narrative-sql file
    q -c "SELECT encode(etop.qbr_render($1, $2, '2026-01-15'), 'base64')" | base64 -d > "$3"
    pdftotext -layout "$3" "$3.txt"
}
TITLES="Executive Summary|Score Dashboard|Top 5 Risks|Top 5 Wins|Service Experience Story|Security Posture Story|Lifecycle Forecast|Roadmap|Outcome Plan"
titles_in_order() { grep -oE "^ *($TITLES) *$" "$1" | sed 's/^ *//; s/ *$//' | awk '!seen[$0]++' | paste -sd'|'; }

A=$(q -c "SELECT id FROM etop.clients WHERE segment = 'A' ORDER BY id LIMIT 1")
D=$(q -c "SELECT id FROM etop.clients WHERE segment IN ('D', 'C') ORDER BY segment DESC, id LIMIT 1")
render "$A" NULL "$TMP/a.pdf"
render "$D" NULL "$TMP/d.pdf"
expect "nine sections in order (segment A)" "$(titles_in_order "$TMP/a.pdf.txt")" "$TITLES"
expect "nine sections in order (segment C/D)" "$(titles_in_order "$TMP/d.pdf.txt")" "$TITLES"
S=$(q -c "SELECT (s->'standards'->>'score') || ' ' || (s->'risk'->>'score') || ' ' || (s->'experience'->>'score') FROM etop.etop_scores($A, '2026-01-15') s")
read -r s1 s2 s3 <<<"$S"
if grep -qE "\b$s1\b" "$TMP/a.pdf.txt" && grep -qE "\b$s2\b" "$TMP/a.pdf.txt" && grep -qE "\b$s3\b" "$TMP/a.pdf.txt"; then
    ok "gauges show $S"
else bad "gauge numbers $S not found"; fi
pages_a=$(pdfinfo "$TMP/a.pdf" | awk '/^Pages/ {print $2}')
[ "$pages_a" -ge 3 ] && ok "segment A PDF has $pages_a pages" || bad "segment A PDF has $pages_a pages"
expect "DRAFT mark" "$(grep -c 'DRAFT — pending approval' "$TMP/a.pdf.txt" | awk '{print ($1 > 0)}')" "1"

# at most five risk rows, ranked: a client with more than five open risks
q -c "INSERT INTO etop.risks (client_id, source, external_id, risk_type, title, likelihood, impact, status, business_impact, mitigation)
      SELECT $A, 'test', 'extra-' || i, 'business', 'Extra Risk ' || i, 'high', 'high', 'open', 'Impact ' || i, 'Mitigate ' || i
        FROM generate_series(1, 6) i" >/dev/null
render "$A" NULL "$TMP/a2.pdf"
section() { awk -v a="$2" -v b="$3" '$0 ~ "^ *"a" *$" {on=1; next} $0 ~ "^ *"b" *$" {on=0} on' "$1"; }
expect "at most five risk rows" "$(section "$TMP/a2.pdf.txt" "Top 5 Risks" "Top 5 Wins" | grep -c 'Impact [0-9]')" "5"

# no recommendations anywhere: the roadmap says so
q -c "DELETE FROM etop.recommendations WHERE client_id = $D" >/dev/null
render "$D" "'{\"executive_summary\": \"Quiet quarter.\", \"recommendations\": [], \"discussion_points\": []}'" "$TMP/d2.pdf"
expect "empty roadmap sentence" "$(grep -c 'No recommendations available for this quarter.' "$TMP/d2.pdf.txt")" "1"
expect "still nine sections" "$(titles_in_order "$TMP/d2.pdf.txt")" "$TITLES"

# UTF-8 client names print correctly
q -c "UPDATE etop.clients SET name = 'Müller & Söhne GmbH' WHERE id = $D" >/dev/null
render "$D" NULL "$TMP/d3.pdf"
expect "Müller & Söhne GmbH printed" "$(grep -c 'Müller & Söhne GmbH' "$TMP/d3.pdf.txt" | awk '{print ($1 > 0)}')" "1"
rm -rf "$TMP"
finish
