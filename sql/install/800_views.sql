-- Views for people and BI tools.  Every view is security_invoker, so the
-- caller's row-level security applies: an account manager sees its clients.

CREATE VIEW etop.client_overview WITH (security_invoker = true) AS
SELECT c.id AS client_id, c.name, c.segment, c.industry, c.source, c.last_qbr_date,
       (SELECT count(*) FROM etop.sites x WHERE x.client_id = c.id)           AS sites,
       (SELECT count(*) FROM etop.contacts x WHERE x.client_id = c.id)        AS contacts,
       (SELECT count(*) FROM etop.users x WHERE x.client_id = c.id)           AS users,
       (SELECT count(*) FROM etop.devices x WHERE x.client_id = c.id)         AS devices,
       (SELECT count(*) FROM etop.agreements x WHERE x.client_id = c.id)      AS agreements,
       (SELECT count(*) FROM etop.tickets x WHERE x.client_id = c.id)         AS tickets,
       (SELECT count(*) FROM etop.controls x WHERE x.client_id = c.id)        AS controls,
       (SELECT count(*) FROM etop.risks x WHERE x.client_id = c.id)           AS risks,
       (SELECT count(*) FROM etop.recommendations x WHERE x.client_id = c.id) AS recommendations
  FROM etop.clients c;
COMMENT ON VIEW etop.client_overview IS 'One row per client with the number of rows it owns in each table';
