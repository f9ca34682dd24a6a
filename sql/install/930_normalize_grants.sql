-- Privileges for the normalization functions (750_normalize.sql ...): they
-- write normalized tables from a sync run's pages, so only administrators
-- (and the sync workers, which run as the bootstrap superuser) call them.
-- The shared helpers are granted too: a third-party adapter's normalization
-- function uses them the same way.
GRANT EXECUTE ON FUNCTION etop.normalize_connectwise(bigint), etop.normalize_immy(bigint),
                          etop.normalize_m365(bigint),
                          etop_internal.sync_page_records(jsonb), etop.sync_records(bigint, text[]),
                          etop.sync_latest(bigint, text[], boolean, text),
                          etop_internal.sync_is_timestamp(text), etop.sync_ts(text), etop.sync_date(text),
                          etop.serial_key(text), etop_internal.sync_kind_ok(jsonb, text), etop_internal.sync_json_path(text, text),
                          etop_internal.sync_record_label(jsonb, integer, integer),
                          etop.sync_fail(text, text, text, text, text, text),
                          etop.sync_validate(bigint, text, text[], text, jsonb, text, text, text),
                          etop.sync_run_options(bigint), etop.sync_skipped(bigint),
                          etop_internal.cw_time_zone(text, jsonb), etop_internal.cw_device_type(text, text, jsonb),
                          etop_internal.cw_priority(text, integer, jsonb), etop_internal.cw_move_records(bigint, text, text[]),
                          etop_internal.immy_tenant_clients(bigint, jsonb, text[], text[]),
                          etop_internal.m365_client(bigint, jsonb), etop_internal.m365_number(jsonb)
      TO etop_admin;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
