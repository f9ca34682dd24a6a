-- Privileges for QBR cadence, the QBR queue's entry points and scheduling
-- (600_cadence.sql, 610_qbr_enqueue.sql, 620_schedules.sql).  900_security.sql
-- has already revoked every function from PUBLIC and granted SELECT on the
-- views (etop.qbr_calendar, etop.schedules) to the three roles.

-- Reading: everyone with an etop role (row-level security narrows an
-- account manager to its clients).
GRANT EXECUTE ON FUNCTION
      etop.qbr_cadence(text), etop.qbr_next_due(date, text),
      etop.qbr_cadence_status(integer, text, date, date, integer),
      etop.qbr_grace_days(), etop.due_for_qbr(date), etop.qbr_status(uuid),
      etop_internal.schedule_list()
   TO etop_admin, etop_am, etop_reader;

-- Asking for a QBR: administrators, and account managers for their clients.
GRANT EXECUTE ON FUNCTION etop.qbr_generate(integer, jsonb) TO etop_admin, etop_am;

-- qbr_generate runs as the caller.  An account manager may insert a job only
-- for an assigned client and only name the client and the options: status,
-- attempts, qbr_id, requested_by and the rest keep their defaults.
GRANT INSERT (client_id, options) ON etop.qbr_jobs TO etop_am;
CREATE POLICY am_enqueue ON etop.qbr_jobs FOR INSERT TO etop_am
    WITH CHECK (client_id IN (SELECT etop.assigned_client_ids())
                AND status = 'queued' AND attempts = 0 AND qbr_id IS NULL
                AND requested_by = current_user);

-- Running the check by hand and managing schedules: administrators.
-- (etop_internal.require_pg_cron and etop_internal.cron_schedule are internal and granted to
-- nobody.)
GRANT EXECUTE ON FUNCTION
      etop.run_qbr_check(date),
      etop.schedule_sync(text, text), etop.schedule_qbr_check(text),
      etop.schedule_score_snapshots(text), etop.unschedule(text)
   TO etop_admin;
