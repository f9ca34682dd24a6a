-- Shared pieces of the set-based normalization functions (docs/adapters.md).
--
-- A sync run leaves its vendor pages in etop.sync_pages (one row per page, the
-- page's JSON array of records).  An adapter's normalization function reads
-- them with etop.sync_records(), checks them declaratively with
-- etop.sync_validate() (which raises a clear error naming the vendor,
-- endpoint, record and field), and then upserts the normalized tables with
-- plain INSERT ... SELECT ... ON CONFLICT statements.  Nothing here loops over
-- records, and nothing commits: the caller's transaction decides.

-- The records array of a page.  Adapters store the array itself; a wrapper
-- object ({"value": [...]} from Graph, {"results": [...]} from paged APIs)
-- is unwrapped too.  NULL when the payload holds no records array.
CREATE FUNCTION etop_internal.sync_page_records(payload jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(payload)
           WHEN 'array' THEN payload
           WHEN 'object' THEN CASE
                WHEN jsonb_typeof(payload -> 'value') = 'array' THEN payload -> 'value'
                WHEN jsonb_typeof(payload -> 'results') = 'array' THEN payload -> 'results'
                WHEN jsonb_typeof(payload -> 'items') = 'array' THEN payload -> 'items' END
           END
$$;
COMMENT ON FUNCTION etop_internal.sync_page_records(jsonb) IS
    'The records array of a sync page (the array itself, or the value/results/items array of a wrapper object)';

-- Every record of a run's pages for the given endpoints (LIKE patterns, so
-- 'company/companies/%/sites' covers per-company paths), with its page and
-- position for error messages.
CREATE FUNCTION etop.sync_records(p_run bigint, p_endpoints text[])
RETURNS TABLE (endpoint text, page integer, item integer, rec jsonb)
LANGUAGE sql STABLE AS $$
    SELECT p.endpoint, p.page, r.item::integer, r.rec
      FROM etop.sync_pages p
     CROSS JOIN LATERAL jsonb_array_elements(
               coalesce(etop_internal.sync_page_records(p.payload), '[]'::jsonb)) WITH ORDINALITY AS r(rec, item)
     WHERE p.run_id = p_run AND p.endpoint LIKE ANY (p_endpoints)
$$;
COMMENT ON FUNCTION etop.sync_records(bigint, text[]) IS
    'The vendor records of a sync run for some endpoints (LIKE patterns), with page and position';

-- The records of sync_records() with each id once: a record delivered twice
-- (paging that overlapped while the vendor's data changed) counts in its
-- last delivery (highest page, then position).  p_dedupe = false (what
-- sync_validate() says when no id repeats) skips the work, so the common
-- case is a plain scan.
CREATE FUNCTION etop.sync_latest(p_run bigint, p_endpoints text[], p_dedupe boolean,
                                 p_id text DEFAULT 'id')
RETURNS TABLE (endpoint text, page integer, item integer, rec jsonb)
LANGUAGE sql STABLE AS $$
    SELECT r.endpoint, r.page, r.item, r.rec
      FROM etop.sync_records(p_run, p_endpoints) r
     WHERE NOT p_dedupe
        OR (r.endpoint, r.page, r.item) NOT IN (
               SELECT x.endpoint, x.page, x.item
                 FROM (SELECT s.endpoint, s.page, s.item,
                              row_number() OVER (PARTITION BY s.rec #> string_to_array(p_id, '.')
                                                 ORDER BY s.page DESC, s.item DESC, s.endpoint DESC) AS rn
                         FROM etop.sync_records(p_run, p_endpoints) s) x
                WHERE x.rn > 1)
$$;
COMMENT ON FUNCTION etop.sync_latest(bigint, text[], boolean, text) IS
    'The records of a sync run for some endpoints, each id once (its last delivery) when p_dedupe';

-- Timestamps as vendors write them: ISO 8601, with or without an offset
-- (without one it is UTC), optional fraction.  Epoch numbers are not
-- timestamps.  The day is checked against the month.
CREATE FUNCTION etop_internal.sync_is_timestamp(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
           WHEN s ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?)?$'
           THEN substr(s, 9, 2) <= '28' OR substr(s, 9, 2)::int <= CASE substr(s, 6, 2)::int
                    WHEN 2 THEN CASE WHEN (substr(s, 1, 4)::int % 4 = 0 AND substr(s, 1, 4)::int % 100 <> 0)
                                          OR substr(s, 1, 4)::int % 400 = 0 THEN 29 ELSE 28 END
                    WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30
                    ELSE 31 END
           ELSE false END
$$;

COMMENT ON FUNCTION etop_internal.sync_is_timestamp(text) IS
    'Whether a string is an ISO 8601 date or timestamp a vendor may send (offset optional, real calendar day)';

-- A vendor timestamp (checked by sync_validate) as timestamptz; no offset
-- means UTC; NULL or '' is NULL.
CREATE FUNCTION etop.sync_ts(s text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s IS NULL OR s = '' THEN NULL
                WHEN right(s, 1) IN ('Z', 'z') THEN s::timestamptz
                WHEN s ~ '[T ]\d\d:\d\d.*[+-]\d\d(:?\d\d)?$' THEN s::timestamptz
                ELSE s::timestamp AT TIME ZONE 'UTC' END
$$;
COMMENT ON FUNCTION etop.sync_ts(text) IS 'A vendor ISO 8601 timestamp as timestamptz (no offset = UTC)';

-- The calendar date of a vendor timestamp, in UTC ("2024-02-15T00:00:00Z" is
-- 2024-02-15 whatever the session time zone).
CREATE FUNCTION etop.sync_date(s text) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (etop.sync_ts(s) AT TIME ZONE 'UTC')::date
$$;
COMMENT ON FUNCTION etop.sync_date(text) IS 'The UTC calendar date of a vendor timestamp';

-- Serial numbers compared across vendors: case- and space-insensitive, and
-- placeholders firmware writes when it has no serial never match anything.
CREATE FUNCTION etop.serial_key(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN k IS NULL OR length(k) < 4
                  OR k IN ('TOBEFILLEDBYO.E.M.', 'TOBEFILLEDBYOEM', 'DEFAULTSTRING', 'SYSTEMSERIALNUMBER',
                           'NONE', 'NULL', 'N/A', 'UNKNOWN', 'NOTSPECIFIED', 'NOTAPPLICABLE',
                           '0123456789', '123456789', '1234567890', 'CHASSISSERIALNUMBER',
                           'INVALID', 'OEM', 'O.E.M.')
                  OR k ~ '^0+$'
                THEN NULL ELSE k END
      FROM (SELECT upper(regexp_replace(s, '[[:space:]]+', '', 'g')) AS k) x
$$;
COMMENT ON FUNCTION etop.serial_key(text) IS
    'Serial number as compared across vendors (upper case, no spaces; NULL for placeholders such as "To be filled by O.E.M.")';

-- Does a JSON value have the expected kind?  Kinds: string, number, int,
-- int32 (an integer from -2147483648 to 2147483647: ConnectWise and Immy.Bot
-- ids; 1e30 is an integer but no id), boolean, object, array, timestamp, id
-- (a non-empty string or an integer), string_id (a non-empty string: Graph
-- ids; the number 12345 is not one), any; a trailing ! means required
-- (present and not null).
CREATE FUNCTION etop_internal.sync_kind_ok(v jsonb, kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- v is looked at once (the CASE's test), so with a constant kind the
    -- inlined expression costs one lookup and a comparison or two
    SELECT CASE coalesce(jsonb_typeof(v), 'null')
           WHEN 'null' THEN right(kind, 1) <> '!'
           WHEN 'string' THEN CASE rtrim(kind, '!')
                WHEN 'string' THEN true WHEN 'any' THEN true
                WHEN 'timestamp' THEN etop_internal.sync_is_timestamp(v #>> '{}')
                                      OR right(kind, 1) <> '!' AND (v #>> '{}') = ''
                WHEN 'id' THEN btrim(v #>> '{}') <> ''
                WHEN 'string_id' THEN btrim(v #>> '{}') <> ''
                ELSE false END
           WHEN 'number' THEN CASE rtrim(kind, '!')
                WHEN 'number' THEN true WHEN 'any' THEN true
                WHEN 'int' THEN (v #>> '{}') ~ '^-?\d+$'
                WHEN 'int32' THEN CASE WHEN (v #>> '{}') ~ '^-?\d{1,10}$'
                                       THEN (v #>> '{}')::bigint BETWEEN -2147483648 AND 2147483647
                                       ELSE false END
                WHEN 'id' THEN (v #>> '{}') ~ '^-?\d+$'
                ELSE false END
           WHEN 'boolean' THEN rtrim(kind, '!') IN ('boolean', 'any')
           WHEN 'object' THEN rtrim(kind, '!') IN ('object', 'any')
           WHEN 'array' THEN rtrim(kind, '!') IN ('array', 'any')
           ELSE false END
$$;
COMMENT ON FUNCTION etop_internal.sync_kind_ok(jsonb, text) IS
    'Whether a vendor JSON value has the expected kind (string, number, int, int32, boolean, object, array, timestamp, id, string_id, any; ! = required)';

-- A JSON path with dots ("company.id") as an expression on a jsonb value
-- (x -> 'company' -> 'id'), for the checks sync_validate() generates.
CREATE FUNCTION etop_internal.sync_json_path(p_var text, p_path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_var || string_agg(' -> ' || quote_literal(k), '' ORDER BY o)
      FROM unnest(string_to_array(p_path, '.')) WITH ORDINALITY u(k, o)
$$;
COMMENT ON FUNCTION etop_internal.sync_json_path(text, text) IS 'A dotted JSON path as a chain of -> operators (for generated checks)';

-- How a record is named in messages: by its id when it has a usable one,
-- else by its position.
CREATE FUNCTION etop_internal.sync_record_label(v jsonb, page integer, item integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) IN ('string', 'number') AND btrim(v #>> '{}') <> ''
                THEN left(v #>> '{}', 100)
                ELSE format('#%s on page %s', item, page) END
$$;

COMMENT ON FUNCTION etop_internal.sync_record_label(jsonb, integer, integer) IS
    'How error messages name a vendor record: its id, else "#n on page p"';

-- Raise the error of a bad vendor record.  Usable inside a set-based
-- statement (coalesce(x, etop.sync_fail(...))): it is only evaluated for the
-- bad record, and it never returns.
CREATE FUNCTION etop.sync_fail(p_vendor text, p_endpoint text, p_record text, p_problem text,
                               p_errcode text DEFAULT 'invalid_parameter_value',
                               p_hint text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% % record %: %', p_vendor, p_endpoint, p_record, p_problem
        USING ERRCODE = p_errcode,
              HINT = coalesce(p_hint, 'The sync run fails as a whole and changes no normalized row; '
                                      'the vendor pages stay in etop.sync_pages for diagnosis.');
END
$$;
COMMENT ON FUNCTION etop.sync_fail(text, text, text, text, text, text) IS
    'Raise a clear error for a bad vendor record (usable inside set-based statements; never returns)';

-- Check a run's records of some endpoints against field specifications and
-- raise on the first bad one.  Returns how many records there are (with
-- p_nested: array elements) and how many repeat an earlier record's id (a
-- record delivered twice, e.g. when paging overlapped; see sync_latest).
--   p_fields: {"path.to.field": "kind[!]", ...}  (see sync_kind_ok; paths use dots)
--   p_id:     the path of the record's id, used to name the record
--   p_nested: when given, the check applies to the elements of this array
--             field of each record (e.g. a secure score's controlScores), and
--             p_nested_id names those elements
--   p_hint:   put before the standard hint (e.g. which $select the adapter needs)
-- Errors (SQLSTATE): 22023 a page or record is not what the contract says or
-- a field has the wrong type; 22004 a required field is missing or null;
-- 22007 a timestamp cannot be parsed.
CREATE FUNCTION etop.sync_validate(p_run bigint, p_vendor text, p_endpoints text[],
                                   p_id text, p_fields jsonb,
                                   p_nested text DEFAULT NULL, p_nested_id text DEFAULT NULL,
                                   p_hint text DEFAULT NULL,
                                   OUT records bigint, OUT duplicates bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
-- (a Memoize node keyed on whole records would hash every record)
SET enable_memoize = off AS $$
DECLARE
    bad record;
    bad_page record;
    first_bad jsonb;
    extract_list text;
    check_expr text;
    bad_pos integer[];
    bad_endpoint text;
    got text;
    want text;
    hint text := coalesce(p_hint || ' ', '')
                 || 'The sync run fails as a whole and changes no normalized row; the vendor pages '
                 'stay in etop.sync_pages for diagnosis.';
BEGIN
    -- Pages must hold an array of records.
    SELECT p.endpoint, p.page, jsonb_typeof(p.payload) AS t INTO bad_page
      FROM etop.sync_pages p
     WHERE p.run_id = p_run AND p.endpoint LIKE ANY (p_endpoints)
       AND etop_internal.sync_page_records(p.payload) IS NULL
     ORDER BY p.endpoint, p.page LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% % page %: the payload is a JSON %, not the array of records',
                        p_vendor, bad_page.endpoint, bad_page.page, bad_page.t
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;

    -- Records are objects with the fields the specification asks for.  The
    -- check is generated SQL: each field's value is extracted once per record
    -- (v1, v2, ...), and each check has a constant kind, which the planner
    -- folds to a comparison or two.  One pass counts the records and finds
    -- the first bad one; only that record is then examined field by field
    -- for the message.
    SELECT string_agg(format('%s AS v%s', etop_internal.sync_json_path('x', f.key), f.n), ', ' ORDER BY f.n),
           string_agg(format('etop_internal.sync_kind_ok(y.v%s, %L)', f.n, f.value), E'\n AND ' ORDER BY f.n)
      INTO extract_list, check_expr
      FROM (SELECT key, value, row_number() OVER (ORDER BY length(key), key) AS n
              FROM jsonb_each_text(p_fields)) f;
    IF p_nested IS NULL THEN
        EXECUTE format($q$
            SELECT count(*), count(*) - count(DISTINCT r.id),
                   (array_agg(ARRAY[r.page, r.item] ORDER BY r.endpoint, r.page, r.item)
                        FILTER (WHERE NOT r.ok))[1:1],
                   (array_agg(r.endpoint ORDER BY r.endpoint, r.page, r.item) FILTER (WHERE NOT r.ok))[1]
              FROM (SELECT s.endpoint, s.page, s.item, (s.rec #> %L)::text COLLATE "C" AS id,
                           jsonb_typeof(s.rec) = 'object' AND %s AS ok
                      FROM etop.sync_records($1, $2) s
                     CROSS JOIN LATERAL (SELECT %s FROM (SELECT s.rec AS x) x0 OFFSET 0) y) r$q$,
            string_to_array(p_id, '.'), coalesce(check_expr, 'true'), coalesce(extract_list, '1 AS v0'))
            INTO records, duplicates, bad_pos, bad_endpoint USING p_run, p_endpoints;
    ELSE
        EXECUTE format($q$
            SELECT count(*), 0,
                   (array_agg(ARRAY[r.page, r.item] ORDER BY r.endpoint, r.page, r.item, r.pos)
                        FILTER (WHERE NOT r.ok))[1:1],
                   (array_agg(r.endpoint ORDER BY r.endpoint, r.page, r.item, r.pos) FILTER (WHERE NOT r.ok))[1]
              FROM (SELECT s.endpoint, s.page, s.item, e.pos,
                           jsonb_typeof(e.x) = 'object' AND %s AS ok
                      FROM etop.sync_records($1, $2) s
                     CROSS JOIN LATERAL jsonb_array_elements(
                           CASE WHEN jsonb_typeof(s.rec -> %L) = 'array' THEN s.rec -> %L ELSE '[]' END)
                           WITH ORDINALITY e(x, pos)
                     CROSS JOIN LATERAL (SELECT %s FROM (SELECT e.x) x0 OFFSET 0) y) r$q$,
            coalesce(check_expr, 'true'), p_nested, p_nested, coalesce(extract_list, '1 AS v0'))
            INTO records, duplicates, bad_pos, bad_endpoint USING p_run, p_endpoints;
    END IF;
    IF bad_pos IS NULL THEN
        RETURN;
    END IF;

    -- The bad record: which field, in the order of the specification's keys.
    WITH f AS (SELECT key, value AS kind, string_to_array(key, '.') AS path FROM jsonb_each_text(p_fields))
    SELECT jsonb_build_object(
               'endpoint', r.endpoint, 'page', r.page, 'item', r.item, 'type', jsonb_typeof(el.x),
               'label', CASE WHEN jsonb_typeof(r.rec) = 'object'
                             THEN etop_internal.sync_record_label(r.rec #> string_to_array(p_id, '.'), r.page, r.item)
                             ELSE format('#%s on page %s', r.item, r.page) END
                        || CASE WHEN p_nested IS NULL THEN ''
                                ELSE format(' %s[%s]', p_nested, el.pos - 1)
                                     || coalesce(' (' || (el.x #>> string_to_array(p_nested_id, '.')) || ')', '') END,
               'field', b.key, 'kind', b.kind, 'v', b.v)
      INTO first_bad
      FROM etop.sync_records(p_run, ARRAY[bad_endpoint]) r
     CROSS JOIN LATERAL (SELECT r.rec AS x, 0::bigint AS pos WHERE p_nested IS NULL
                         UNION ALL
                         SELECT e.x, e.pos
                           FROM jsonb_array_elements(CASE WHEN p_nested IS NOT NULL
                                                               AND jsonb_typeof(r.rec -> p_nested) = 'array'
                                                          THEN r.rec -> p_nested ELSE '[]' END)
                                WITH ORDINALITY e(x, pos)) el
     CROSS JOIN LATERAL (
           SELECT f.key, f.kind, el.x #> f.path AS v FROM f
            WHERE jsonb_typeof(el.x) <> 'object' OR NOT etop_internal.sync_kind_ok(el.x #> f.path, f.kind)
            ORDER BY length(f.key), f.key LIMIT 1) b
     WHERE r.page = bad_pos[1][1] AND r.item = bad_pos[1][2]
     ORDER BY el.pos LIMIT 1;
    IF first_bad IS NULL THEN         -- cannot happen; never let a bad record through
        RAISE EXCEPTION '% % record #% on page %: does not match its specification', p_vendor,
                        bad_endpoint, bad_pos[1][2], bad_pos[1][1]
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    IF first_bad ->> 'type' <> 'object' THEN
        RAISE EXCEPTION '% % record %: is a JSON %, not an object', p_vendor, first_bad ->> 'endpoint',
                        first_bad ->> 'label', first_bad ->> 'type'
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    SELECT * INTO bad FROM jsonb_to_record(first_bad)
        AS x(endpoint text, page integer, item integer, label text, field text, kind text, v jsonb);
    want := CASE rtrim(bad.kind, '!')
            WHEN 'string' THEN 'a string' WHEN 'number' THEN 'a number'
            WHEN 'int' THEN 'an integer' WHEN 'int32' THEN 'an integer from -2147483648 to 2147483647'
            WHEN 'string_id' THEN 'a non-empty string' WHEN 'boolean' THEN 'true or false'
            WHEN 'object' THEN 'an object' WHEN 'array' THEN 'an array'
            WHEN 'timestamp' THEN 'an ISO 8601 timestamp string'
            WHEN 'id' THEN 'a non-empty string or an integer'
            ELSE bad.kind END;
    IF bad.v IS NULL OR jsonb_typeof(bad.v) = 'null' THEN
        RAISE EXCEPTION '% % record %: required field "%" is %', p_vendor, bad.endpoint, bad.label,
                        bad.field, CASE WHEN bad.v IS NULL THEN 'missing' ELSE 'null' END
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = format('Page %s, record %s of the page; expected %s.', bad.page, bad.item, want),
                  HINT = hint;
    END IF;
    got := CASE jsonb_typeof(bad.v)
           WHEN 'string' THEN format('a string (%s)', left(bad.v::text, 60))
           WHEN 'number' THEN format('a number (%s)', left(bad.v::text, 60))
           WHEN 'boolean' THEN format('a boolean (%s)', bad.v::text)
           WHEN 'object' THEN 'an object' WHEN 'array' THEN 'an array' END;
    IF rtrim(bad.kind, '!') = 'timestamp' AND jsonb_typeof(bad.v) = 'string' THEN
        RAISE EXCEPTION '% % record %: field "%" is not a valid timestamp: %', p_vendor,
                        bad.endpoint, bad.label, bad.field, left(bad.v::text, 60)
            USING ERRCODE = 'invalid_datetime_format',
                  DETAIL = format('Page %s, record %s of the page; expected %s.', bad.page, bad.item, want),
                  HINT = hint;
    END IF;
    RAISE EXCEPTION '% % record %: field "%" is %, expected %', p_vendor, bad.endpoint, bad.label,
                    bad.field, got, want
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('Page %s, record %s of the page.', bad.page, bad.item),
              HINT = hint;
END
$$;
COMMENT ON FUNCTION etop.sync_validate(bigint, text, text[], text, jsonb, text, text, text) IS
    'Check the vendor records of a sync run against field specs; raise a clear error on the first bad one';

-- The options of the connection a run belongs to ({} when it has none);
-- raises when the run does not exist.
CREATE FUNCTION etop.sync_run_options(p_run bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    opts jsonb;
BEGIN
    SELECT coalesce(c.options, '{}') INTO opts
      FROM etop.sync_runs r LEFT JOIN etop.connections c ON c.id = r.connection_id
     WHERE r.id = p_run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'sync run % does not exist', p_run
            USING ERRCODE = 'no_data_found', HINT = 'SELECT * FROM etop.sync_runs lists the runs.';
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'the options of the connection of sync run % are not a JSON object', p_run
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN opts;
END
$$;
COMMENT ON FUNCTION etop.sync_run_options(bigint) IS 'The options jsonb of the connection of a sync run';

-- The endpoints (or properties) a run went on without, as the adapter
-- recorded them with etop_sync_skip_endpoint(): a JSON array of
-- {"endpoint", "property", "reason": "licence"|"permission", "needs", "status", "code"},
-- [] when none.  A normalization function returns it (as "skipped_endpoints")
-- so that etop.sync_runs.record_counts and etop.sync_now() show it.
CREATE FUNCTION etop.sync_skipped(p_run bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(x.e ORDER BY p.page, x.o), '[]'::jsonb)
      FROM etop.sync_pages p
      CROSS JOIN LATERAL jsonb_array_elements(p.payload) WITH ORDINALITY x(e, o)
     WHERE p.run_id = p_run AND p.endpoint = 'etop:skipped'
$$;
COMMENT ON FUNCTION etop.sync_skipped(bigint) IS
    'The endpoints a sync run skipped (licence or permission refusals the adapter recorded), as a JSON array';
