#!/usr/bin/env bash
# Benchmark: QBR PDF rendering with etop (libharu, inside PostgreSQL) against
# PDFKit (the original Node design, bench/pdfkit/render.js), on the Gherkin
# large-dataset document: 500 devices and 1,000 tickets
# (tests/data/make_large_qbr.py).  Both sides parse the JSON text and render the
# same nine sections into memory on each run; one warm-up run each is not
# counted.  Prints both medians, the ratio and both file sizes.
#
#   bench/pdf_bench.sh [RUNS]          (default 30)
#
# Needs a running cluster with etop installed (PG* variables set, as for
# `make installcheck`), python3, node and npm (bench/pdfkit is installed with
# `npm ci` from its package-lock.json on first use).  Uses a scratch database
# ($BENCH_DB, default etop_pdf_bench) and drops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
DB=${BENCH_DB:-etop_pdf_bench}
OUT=$(mktemp -d)
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT

for tool in psql createdb python3 node npm pdfinfo; do
    command -v "$tool" >/dev/null || { echo "pdf_bench.sh: $tool is missing" >&2; exit 1; }
done
if [ ! -d bench/pdfkit/node_modules/pdfkit ]; then
    echo "== installing PDFKit (npm ci in bench/pdfkit)"
    (cd bench/pdfkit && npm ci --no-audit --no-fund --loglevel=error)
fi

python3 tests/data/make_large_qbr.py --devices 500 --tickets 1000 > "$OUT/large.json"

dropdb --if-exists "$DB" >/dev/null 2>&1 || true
createdb "$DB"
psql -XqAt -v ON_ERROR_STOP=1 -d "$DB" -v file="$OUT/large.json" <<'SQL'
CREATE EXTENSION etop;
\set doc `cat :'file'`
CREATE TABLE bench_doc AS SELECT :'doc'::text AS doc_text;
SQL

echo "== QBR PDF, 500 devices / 1,000 tickets, $RUNS runs each"

# etop: timed in the server, around each call (jsonb parse + render + bytea)
read -r etop_median etop_min etop_size < <(psql -XqAt -F ' ' -v ON_ERROR_STOP=1 -d "$DB" -v runs="$RUNS" <<'SQL'
CREATE FUNCTION pg_temp.bench(runs int, OUT median_ms float8, OUT min_ms float8, OUT size int)
LANGUAGE plpgsql AS $$
DECLARE
    txt text := (SELECT doc_text FROM bench_doc);
    pdf bytea := etop.qbr_render_doc(txt::jsonb);      -- warm-up
    t0 timestamptz;
    times float8[] := '{}';
BEGIN
    FOR i IN 1..runs LOOP
        t0 := clock_timestamp();
        pdf := etop.qbr_render_doc(txt::jsonb);
        times := times || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
    END LOOP;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), min(x) INTO median_ms, min_ms
      FROM unnest(times) x;
    size := length(pdf);
END $$;
SELECT round(median_ms::numeric, 2), round(min_ms::numeric, 2), size FROM pg_temp.bench(:runs);
SQL
)
psql -XAt -v ON_ERROR_STOP=1 -d "$DB" \
     -c "SELECT encode(etop.qbr_render_doc(doc_text::jsonb), 'base64') FROM bench_doc" \
    | base64 -d > "$OUT/etop.pdf"
etop_pages=$(pdfinfo "$OUT/etop.pdf" | awk '/^Pages:/ {print $2}')

# PDFKit: timed in node, around each JSON.parse + render to a Buffer
pk_json=$(node bench/pdfkit/render.js "$OUT/large.json" "$OUT/pdfkit.pdf" "$RUNS")
pk_median=$(echo "$pk_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')
pk_min=$(echo "$pk_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["min_ms"])')
pk_size=$(stat -c %s "$OUT/pdfkit.pdf")
pk_pages=$(pdfinfo "$OUT/pdfkit.pdf" | awk '/^Pages:/ {print $2}')
pk_version=$(node -p 'require("./bench/pdfkit/node_modules/pdfkit/package.json").version')

printf '%-34s median %8.2f ms  (min %8.2f)  %9d bytes  %3d pages\n' \
    "etop (libharu $(pkg-config --modversion libhpdf 2>/dev/null || echo 2.3.0), PostgreSQL)" \
    "$etop_median" "$etop_min" "$etop_size" "$etop_pages"
printf '%-34s median %8.2f ms  (min %8.2f)  %9d bytes  %3d pages\n' \
    "PDFKit $pk_version (Node $(node -v))" "$pk_median" "$pk_min" "$pk_size" "$pk_pages"
python3 - "$etop_median" "$pk_median" "$etop_size" "$pk_size" <<'PY'
import sys
e, p, es, ps = (float(x) for x in sys.argv[1:])
print("ratio: PDFKit median / etop median = %.2fx (%s)" % (p / e, "etop faster" if p > e else "PDFKit faster"))
print("size:  etop %.0f KB, PDFKit %.0f KB (etop / PDFKit = %.2f)" % (es / 1024, ps / 1024, es / ps))
PY
