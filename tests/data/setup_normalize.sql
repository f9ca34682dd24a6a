-- Shared setup of the normalization tests 31 and 32 (psql, inside the test's
-- transaction; prints nothing): adapters and connections test-cw, test-immy,
-- test-m365; helpers pg_temp.run_with(connection, pages) and
-- pg_temp.rec(run, endpoint, id); the mock's ConnectWise pages synced as
-- run :cw_run.
DELETE FROM etop.clients;
INSERT INTO etop.adapters (name, library, symbol) VALUES
    ('connectwise', '$libdir/etop', 'etop_test'), ('immy', '$libdir/etop', 'etop_test'),
    ('m365', '$libdir/etop', 'etop_test')
    ON CONFLICT (name) DO NOTHING;
INSERT INTO etop.connections (name, adapter, base_url, options) VALUES
    ('test-cw', 'connectwise', 'https://cw.invalid/v4_6_release/apis/3.0', '{}'),
    ('test-immy', 'immy', 'https://msp.immy.invalid/api/v1', '{}'),
    ('test-m365', 'm365', 'https://graph.invalid/v1.0', '{"client_external_id": "250"}');

-- A sync run of a connection with the given pages
-- ([{"endpoint": ..., "payload": [...]}, ...]), started at the fixture's anchor.
CREATE FUNCTION pg_temp.run_with(p_conn text, p_pages jsonb) RETURNS bigint
LANGUAGE sql AS $$
    WITH r AS (
        INSERT INTO etop.sync_runs (connection_id, connection, adapter, started_at)
        SELECT id, name, adapter, '2026-01-15 12:00Z' FROM etop.connections WHERE name = p_conn
        RETURNING id),
    p AS (
        INSERT INTO etop.sync_pages (run_id, endpoint, page, records, payload)
        SELECT r.id, e ->> 'endpoint', o,
               CASE WHEN jsonb_typeof(e -> 'payload') = 'array' THEN jsonb_array_length(e -> 'payload') ELSE 0 END,
               e -> 'payload'
          FROM r, jsonb_array_elements(p_pages) WITH ORDINALITY x(e, o))
    SELECT id FROM r
$$;
-- A record of a run, by endpoint and id.
CREATE FUNCTION pg_temp.rec(p_run bigint, p_endpoint text, p_id text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT r.rec FROM etop.sync_records(p_run, ARRAY[p_endpoint]) r WHERE r.rec ->> 'id' = p_id
$$;

INSERT INTO etop.sync_runs (connection_id, connection, adapter, started_at)
SELECT id, name, adapter, '2026-01-15 12:00Z' FROM etop.connections WHERE name = 'test-cw'
RETURNING id AS cw_run \gset
\set run :cw_run
\i tests/data/connectwise_pages.sql
SELECT etop.normalize_connectwise(:cw_run) AS cw_counts \gset
CREATE TEMP TABLE fault_pages (vendor text, fault text, endpoint text, payload jsonb);
\i tests/data/fault_pages.sql
