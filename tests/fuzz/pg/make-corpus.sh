#!/usr/bin/env bash
# Regenerate the seed corpora of the jsonb fuzz targets (tests/fuzz/corpus/fuzz_jsonb_<target>/)
# from real inputs:
#   - a running cluster with etop and its demo data (PGHOST/PGPORT/PGUSER, database
#     etop_dev, after `CREATE EXTENSION pg_cron; CREATE EXTENSION etop;
#     SELECT etop.demo_seed(5);`): etop.narrative_input(id) for two as_of dates,
#     etop.narrative_offline(...) of those, and etop.qbr_document(id, narrative);
#   - tests/data/qbr_example.json and the vendor pages of tests/data/*_pages.sql
#     (the mock servers' data, also with their "wrong-types"/"missing-fields" faults);
#   - known-bad inputs (each crashed a backend before its fix), kept as regression seeds.
# Files are named by what they are; re-running overwrites them.
set -euo pipefail
cd "$(dirname "$0")/../../.."
C=tests/fuzz/corpus
for t in narrative_offline qbr_document citations adapter_connectwise adapter_immy; do mkdir -p $C/fuzz_jsonb_$t; done
q() { psql -d etop_dev -XAtc "$1"; }

if q "SELECT 1" >/dev/null 2>&1; then
    for id in $(q "SELECT id FROM etop.clients ORDER BY id"); do
        for asof in current_date "'2026-01-15'::date"; do
            tag=$([ "$asof" = current_date ] && echo today || echo 2026-01-15)
            q "SELECT etop.narrative_input($id, $asof)" > $C/fuzz_jsonb_narrative_offline/client${id}_$tag.json
            q "SELECT etop.narrative_offline(etop.narrative_input($id, $asof))" \
                > $C/fuzz_jsonb_citations/narrative_client${id}_$tag.json
            q "SELECT etop.qbr_document($id, etop.narrative_offline(etop.narrative_input($id, $asof)), $asof)" \
                > $C/fuzz_jsonb_qbr_document/client${id}_$tag.json
        done
    done
    # the QBR document is a narrative's container too: the walk sees every string
    cp $C/fuzz_jsonb_qbr_document/client1_today.json $C/fuzz_jsonb_citations/qbr_document_client1.json
else
    echo "make-corpus: no cluster reachable: cluster seeds not refreshed" >&2
fi

cp tests/data/qbr_example.json $C/fuzz_jsonb_qbr_document/qbr_example.json
cp tests/data/qbr_example.json $C/fuzz_jsonb_citations/qbr_example.json

# vendor pages: $etop_page$...$etop_page$ payloads of the fixture files
python3 - "$C" <<'PY'
import json, re, sys
C = sys.argv[1]
def pages(path):
    text = open(path).read()
    for m in re.finditer(r"VALUES \((.*?), \$etop_page\$(.*?)\$etop_page\$\);", text, re.S):
        yield [a.strip().strip("'") for a in m.group(1).split(",")], m.group(2)
def write(path, obj):
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":")))
for args, payload in pages("tests/data/connectwise_pages.sql"):
    if args[1] == "company/companies":
        recs = json.loads(payload)
        write(f"{C}/fuzz_jsonb_adapter_connectwise/companies_full.json", payload)
        write(f"{C}/fuzz_jsonb_adapter_connectwise/companies_fields_id.json", [{"id": r["id"]} for r in recs])
    if args[1] == "company/sites":
        write(f"{C}/fuzz_jsonb_adapter_connectwise/sites.json", payload)
for args, payload in pages("tests/data/immy_pages.sql"):
    if args[1] == "computers/paged":
        write(f"{C}/fuzz_jsonb_adapter_immy/computers_page{args[2]}.json",
              '{"results":' + payload + ',"totalCount":%d}' % len(json.loads(payload)))
    if args[1] == "tenants":
        recs = json.loads(payload)
        write(f"{C}/fuzz_jsonb_adapter_immy/tenants.json", payload)
        write(f"{C}/fuzz_jsonb_adapter_immy/tenants_ids.json", [{"id": r.get("id")} for r in recs])
        write(f"{C}/fuzz_jsonb_adapter_immy/tenants_as_results.json", '{"results":' + payload + '}')
for args, payload in pages("tests/data/fault_pages.sql"):
    vendor, fault, endpoint = args[0], args[1], args[2]
    if vendor == "connectwise":
        write(f"{C}/fuzz_jsonb_adapter_connectwise/fault_{fault}_{endpoint.replace('/', '_')}.json", payload)
    if vendor == "immy" and endpoint == "computers/paged":
        write(f"{C}/fuzz_jsonb_adapter_immy/fault_{fault}_computers.json", payload)
PY

# known-bad inputs (regressions) and small hand-written shapes
printf '%s' '{"client":{"name":"x"},"period":"p","recommendations":[{"title":"t","evidence":[1]}]}' \
    > $C/fuzz_jsonb_narrative_offline/crash_nonstring_evidence.json
printf '%s' '{"client":{"name":"x"},"period":"p","recommendations":[{"title":"t","evidence":[1, null, {}, [], "[Ticket #1]"]}]}' \
    > $C/fuzz_jsonb_narrative_offline/mixed_evidence.json
cat > $C/fuzz_jsonb_narrative_offline/wrong_types.json <<'J'
{"client":{"name":"x"},"period":"p",
 "top_risks":[1,null,{"title":5},{"mitigation":"m"}],
 "mitigated_risks":[1,{"x":1},{"title":null}],
 "lifecycle":[{"name":[]},{"replacement_cost":"a"},{"age_years":{}}],
 "failing_policies":[1,{"title":{}}], "passing_policies":[1,{},null],
 "top_categories":[{"category":"c"},{"tickets":3},1],
 "recommendations":[{"evidence":["[Ticket #1]"]},{"title":"t","evidence":[null,{},[]]}],
 "scores":{"standards":{"breakdown":[1,2]},"risk":5,
           "experience":{"breakdown":{"a":{"score":"x"},
               "sla_performance":{"score":90,"evidence":{"citations":[null]}},
               "tickets_per_user_trend":{"evidence":{"citations":[1,2,3]}}}}}}
J
printf '%s' '{"client":{"name":"x"},"period":"p","settings":[1],"top_categories":"x","lifecycle":{},"top_risks":{"title":"x"}}' \
    > $C/fuzz_jsonb_narrative_offline/not_arrays.json
printf '%s' '{"recommendations":[{"title":"t","evidence":["no citation"]},{},1],"a":{"b":["[Device: X] and [Ticket #1] [Policy: MFA] [Risk: r]"]}}' \
    > $C/fuzz_jsonb_citations/small.json
printf '%s' '{"client":{"name":"x"},"period":"p","msp":{"logo_png":"data:image/png;base64,iVBORw0KGgo="},"service":{"sla_met":1,"sla_total":2,"tickets_per_month":[{"month":"2025-01","count":3}]}}' \
    > $C/fuzz_jsonb_qbr_document/small.json
printf '%s' '[{"id":1},{"id":"a/b?c"},{"id":true},{"id":null},{"x":1},1,"s",[]]' \
    > $C/fuzz_jsonb_adapter_connectwise/mixed_ids.json
printf '%s' '{"results":[{"id":1},{"id":"2"},{"id":1.5e3},{"id":-0},{},null,[]]}' \
    > $C/fuzz_jsonb_adapter_immy/mixed_ids.json
echo "make-corpus: $(find $C/fuzz_jsonb_* -type f | wc -l) seeds in $C/fuzz_jsonb_*"

# Small copies of every real seed (arrays cut to 3 elements, strings to 60
# characters): the same shapes at a few hundred bytes, which the fuzzer
# mutates far faster than the 10-50 KB originals.  And a dictionary of every
# key the seeds use, JSON's tokens and the citation forms (jsonb.dict).
python3 - "$C" tests/fuzz/pg/jsonb.dict <<'PY'
import glob, json, os, sys
C, dict_path = sys.argv[1], sys.argv[2]
keys = set()
def trim(v):
    if isinstance(v, dict):
        for k in v: keys.add(k)
        return {k: trim(x) for k, x in v.items()}
    if isinstance(v, list):
        return [trim(x) for x in v[:3]]
    if isinstance(v, str):
        return v[:60]
    return v
for d in sorted(glob.glob(f"{C}/fuzz_jsonb_*")):
    for f in sorted(glob.glob(f"{d}/*.json")):
        if f.endswith("_small.json"):
            continue
        try:
            doc = json.load(open(f))
        except ValueError:
            continue
        small = json.dumps(trim(doc), separators=(",", ":"), ensure_ascii=False)
        if len(small) < os.path.getsize(f):
            open(f[:-5] + "_small.json", "w").write(small)
tokens = ['{', '}', '[', ']', ':', ',', '"', 'true', 'false', 'null', '0', '-1', '1.5e3', '1e400',
          '\\u00e9', '\\ud83d\\ude00', '\\u0000', '[Ticket #', '[Device: ', '[Policy: ', '[Risk: ']
with open(dict_path, "w") as out:
    out.write("# JSON tokens, citation forms and every key of tests/fuzz/corpus/fuzz_jsonb_* (make-corpus.sh)\n")
    for t in tokens:
        out.write(json.dumps(t) + "\n")
    for k in sorted(keys):
        out.write(json.dumps('"%s":' % k) + "\n")
PY
