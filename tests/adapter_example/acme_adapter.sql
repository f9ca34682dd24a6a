-- Normalization and registration of the Acme Helpdesk adapter: what a
-- third-party adapter ships besides its C library.  No etop engine change.
CREATE FUNCTION public.acme_normalize(run bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    client integer;
    n integer;
BEGIN
    SELECT (c.options->>'client_id')::int INTO client
      FROM etop.sync_runs r JOIN etop.connections c ON c.id = r.connection_id WHERE r.id = run;
    IF client IS NULL THEN
        RAISE EXCEPTION 'Acme connection needs options.client_id';
    END IF;
    INSERT INTO etop.tickets (client_id, source, external_id, summary, category, priority, status,
                              sla_met, created_date)
    SELECT client, 'acme', t.id::text, t.subject, t.queue, lower(t.urgency), t.state, t.within_sla, t.opened
      FROM etop.sync_pages p,
           jsonb_to_recordset(p.payload) AS t(id int, subject text, queue text, urgency text, state text,
                                              within_sla boolean, opened timestamptz)
     WHERE p.run_id = run AND p.endpoint = 'tickets'
    ON CONFLICT (client_id, source, external_id) DO UPDATE
       SET summary = excluded.summary, status = excluded.status, sla_met = excluded.sla_met,
           updated_at = now();
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN jsonb_build_object('tickets', n);
END $$;

INSERT INTO etop.adapters (name, description, library, symbol, normalize_function, entities)
VALUES ('acme', 'Acme Helpdesk (example third-party adapter)', '$libdir/acme_adapter', 'acme_fetch',
        'public.acme_normalize(bigint)', '{tickets}');
