-- QBR cadence: which clients are due for a quarterly business review.
--
-- Segment A and B clients meet quarterly, C semiannually, D annually.  The
-- next QBR is due that many months after the last one (clamped to the end of
-- a shorter month: Aug 31 -> Nov 30); a client is due from that day on and
-- overdue once etop.setting('qbr_grace_days') more days have passed.  A
-- client with no QBR on record is due now; a client without a segment is
-- treated as quarterly.  The arithmetic is C (src/cadence.c, unit-tested);
-- the rules are explained in docs/cadence.md.

CREATE FUNCTION etop.qbr_cadence(segment text) RETURNS text
    AS 'MODULE_PATHNAME', 'etop_qbr_cadence'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_cadence(text) IS
    'QBR cadence of a segment: A, B and no segment quarterly, C semiannually, D annually';

CREATE FUNCTION etop.qbr_next_due(last_qbr date, segment text) RETURNS date
    AS 'MODULE_PATHNAME', 'etop_qbr_next_due'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_next_due(date, text) IS
    'Last QBR date plus the segment''s cadence, clamped to month end (NULL when there is no last QBR)';

CREATE FUNCTION etop.qbr_cadence_status(client_id integer, segment text, last_qbr date,
                                        as_of date, grace_days integer,
                                        OUT cadence text, OUT next_due date, OUT due boolean,
                                        OUT overdue boolean, OUT explanation text)
    AS 'MODULE_PATHNAME', 'etop_qbr_cadence_status'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION etop.qbr_cadence_status(integer, text, date, date, integer) IS
    'Where one client stands on as_of: cadence, next due date, due, overdue and the sentence explaining it';

-- The grace period, validated: a whole number of days, zero or more.
CREATE FUNCTION etop.qbr_grace_days() RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v jsonb := etop.setting('qbr_grace_days');
BEGIN
    IF v IS NULL OR jsonb_typeof(v) <> 'number' OR v::numeric <> trunc(v::numeric)
       OR v::numeric < 0 OR v::numeric > 3650 THEN
        RAISE EXCEPTION 'setting qbr_grace_days must be a whole number of days between 0 and 3650, not %',
                        coalesce(v::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'SELECT etop.setting_set(''qbr_grace_days'', ''14'') restores a valid value.';
    END IF;
    RETURN v::integer;
END
$$;
COMMENT ON FUNCTION etop.qbr_grace_days() IS
    'Days after the next-due date before a QBR counts as overdue (setting qbr_grace_days)';

-- The clients due for a QBR on as_of, most overdue first.  Security invoker:
-- an account manager sees only its own clients.
CREATE FUNCTION etop.due_for_qbr(as_of date DEFAULT current_date)
RETURNS TABLE (client_id integer, name text, segment text, last_qbr_date date, cadence text,
               next_due date, overdue boolean, explanation text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    grace integer := etop.qbr_grace_days();    -- read once, not once per client
BEGIN
    IF due_for_qbr.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
    SELECT c.id, c.name::text, nullif(c.segment, '')::text, c.last_qbr_date,
           s.cadence, s.next_due, s.overdue, s.explanation
      FROM etop.clients c
     CROSS JOIN LATERAL etop.qbr_cadence_status(c.id, c.segment, c.last_qbr_date,
                                                due_for_qbr.as_of, grace) s
     WHERE s.due
     ORDER BY s.next_due, c.id;
END
$$;
COMMENT ON FUNCTION etop.due_for_qbr(date) IS
    'Clients due for a QBR on as_of, with cadence, next due date, overdue flag and explanation';

-- Every client's QBR calendar as of today, for BI tools.
CREATE VIEW etop.qbr_calendar WITH (security_invoker = true) AS
WITH g AS MATERIALIZED (SELECT etop.qbr_grace_days() AS days)   -- once, not per client
SELECT c.id AS client_id, c.name, nullif(c.segment, '')::text AS segment, c.last_qbr_date,
       s.cadence, s.next_due, s.next_due + g.days AS overdue_after,
       s.next_due - current_date AS days_until_due, s.due, s.overdue,
       (SELECT j.status FROM etop.qbr_jobs j
         WHERE j.client_id = c.id ORDER BY j.created_at DESC LIMIT 1)::text AS latest_job_status,
       s.explanation
  FROM g
 CROSS JOIN etop.clients c
 CROSS JOIN LATERAL etop.qbr_cadence_status(c.id, c.segment, c.last_qbr_date, current_date, g.days) s;
COMMENT ON VIEW etop.qbr_calendar IS
    'Every client''s last and next QBR date, due/overdue state and newest QBR job, as of today';

-- The cadence follows real meetings, not drafts: when a QBR is approved, the
-- client's last_qbr_date moves to the approval date (reviewed_at, or today
-- when the approver did not record it).  It never moves backwards.
CREATE FUNCTION etop_internal.qbr_approved_moves_cadence() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    met date := coalesce(NEW.reviewed_at::date, current_date);
    previous date;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = 'approved' THEN
        RETURN NULL;                       -- already approved: nothing new happened
    END IF;
    IF TG_OP = 'INSERT' AND etop_internal.row_is_restored('etop.qbrs_id_seq', NEW.id) THEN
        RETURN NULL;                       -- restored: the client row came back as it was
    END IF;
    SELECT c.last_qbr_date INTO previous FROM etop.clients c WHERE c.id = NEW.client_id FOR UPDATE;
    IF previous IS NULL OR previous < met THEN
        UPDATE etop.clients SET last_qbr_date = met, updated_at = now() WHERE id = NEW.client_id;
        INSERT INTO etop.audit_log (role, action, entity, entity_id, client_id, before, after)
        VALUES (coalesce(NEW.reviewed_by, session_user), 'cadence_advance', 'client',
                NEW.client_id::text, NEW.client_id,
                jsonb_build_object('last_qbr_date', previous),
                jsonb_build_object('last_qbr_date', met, 'qbr_id', NEW.id));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION etop_internal.qbr_approved_moves_cadence() IS
    'Trigger: an approved QBR moves its client''s last_qbr_date to the approval date';

CREATE TRIGGER qbr_approved_moves_cadence
    AFTER INSERT OR UPDATE OF status ON etop.qbrs
    FOR EACH ROW WHEN (NEW.status = 'approved')
    EXECUTE FUNCTION etop_internal.qbr_approved_moves_cadence();
