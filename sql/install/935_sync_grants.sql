-- Privileges for connections and syncs (430_sync.sql).
GRANT EXECUTE ON FUNCTION etop_internal._sync_launch(bigint, integer, boolean), etop.connection_create(text, text, text, jsonb, jsonb), etop.connection_drop(text),
                          etop.connection_update(text, text, jsonb, jsonb, boolean),
                          etop_internal.sync_reap(), etop.sync(text, boolean), etop.sync_wait(bigint, interval),
                          etop.sync_now(text, boolean), etop.sync_cancel(bigint)
      TO etop_admin;
-- runs: the sync registry helpers and sync_or_raise (one run per connection, cancel, restarts)
GRANT EXECUTE ON FUNCTION etop_internal._sync_alive(bigint), etop_internal._sync_signal_cancel(bigint),
                          etop_internal._sync_registry_started(), etop_internal.sync_result(etop.sync_runs),
                          etop.sync_or_raise(text, boolean, interval)
      TO etop_admin;
GRANT UPDATE (cancel_requested) ON etop.sync_runs TO etop_admin;
-- (No REVOKE ... FROM PUBLIC here: 900_security.sql revoked every function from PUBLIC.)
