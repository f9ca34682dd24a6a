-- The three roles exist and nothing in etop is granted to PUBLIC.
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'etop\_%' ORDER BY 1;

SELECT count(*) AS public_table_grants
  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
 WHERE c.relnamespace = 'etop'::regnamespace AND a.grantee = 0;
SELECT count(*) AS public_function_grants
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'etop'::regnamespace AND a.grantee = 0;
SELECT count(*) AS public_schema_grants
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname = 'etop' AND a.grantee = 0;

-- A role with no etop role cannot even see the schema's contents.
CREATE ROLE etop_test_nobody;
SET ROLE etop_test_nobody;
SELECT count(*) FROM etop.clients;
RESET ROLE;

-- Credentials are readable by no etop role, not even etop_admin.
INSERT INTO etop.adapters (name, library, symbol) VALUES ('test_vendor', '$libdir/etop', 'none');
INSERT INTO etop.connections (name, adapter, base_url, credentials)
VALUES ('test-conn', 'test_vendor', 'https://vendor.invalid', '{"password": "s3cret"}');
SET ROLE etop_admin;
SELECT name, adapter, base_url FROM etop.connections;
SELECT credentials FROM etop.connections;
SELECT * FROM etop.connections;
RESET ROLE;
SET ROLE etop_reader;
SELECT name FROM etop.connections;
RESET ROLE;
SET ROLE etop_am;
SELECT credentials FROM etop.connections;
RESET ROLE;

-- Readers read, but do not write.
SET ROLE etop_reader;
SELECT count(*) FROM etop.clients;
INSERT INTO etop.clients (source, external_id, name) VALUES ('x', 'y', 'z');
RESET ROLE;
-- Administrators write data but not the audit log.
SET ROLE etop_admin;
INSERT INTO etop.clients (source, external_id, name) VALUES ('manual', 'admin-1', 'Admin Made Ltd');
DELETE FROM etop.audit_log;
RESET ROLE;

DELETE FROM etop.connections;
DELETE FROM etop.adapters;
DELETE FROM etop.clients;
DROP ROLE etop_test_nobody;
