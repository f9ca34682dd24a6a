/*
 * sync_registry.h — the shared-memory registry of sync runs (src/sync_registry.c).
 *
 * One slot per possible sync worker (max_worker_processes).  etop.sync()
 * reserves a slot for (database, connection, run) before it starts the
 * worker, so at most one run per connection can be running; the worker
 * claims the slot when it starts and frees it when it exits, however it
 * exits.  A crash-restart reinitialises shared memory: a run that is
 * "running" in etop.sync_runs but has no slot has no worker.
 *
 * Exists only when etop is in shared_preload_libraries.
 */
#ifndef ETOP_SYNC_REGISTRY_H
#define ETOP_SYNC_REGISTRY_H

#include "postgres.h"
#include "datatype/timestamp.h"

/* etop_sync_reserve() results other than a slot number (>= 0) */
#define ETOP_SYNC_BUSY		(-1)	/* the connection has a run; *busy_run says which */
#define ETOP_SYNC_NO_SLOT	(-2)	/* every slot is taken */
#define ETOP_SYNC_RUN_TAKEN	(-3)	/* that run id is already in the registry */

/* What a claimed slot's worker has done so far (its exit callback acts on it). */
typedef enum EtopSyncPhase
{
	ETOP_SYNC_RESERVED = 1,		/* etop.sync() reserved it; no worker yet */
	ETOP_SYNC_CLAIMED,			/* the worker runs, no run row yet */
	ETOP_SYNC_RUNNING,			/* the run row exists, status running */
	ETOP_SYNC_RECORDED			/* the outcome is recorded */
} EtopSyncPhase;

extern void etop_sync_registry_init(void);	/* _PG_init, when preloading */
extern bool etop_sync_registry_available(void);
extern TimestampTz etop_sync_registry_started(void);

extern int	etop_sync_reserve(Oid database, int32 connection_id, int64 run_id, int64 *busy_run);
extern bool etop_sync_unreserve(int slot, int64 run_id);	/* only if no worker claimed it */
extern int64 etop_sync_slot_run(int slot);	/* the calling worker's run, or 0 */
extern bool etop_sync_claim(int slot, int64 run_id, Oid database);
extern void etop_sync_set_phase(int slot, EtopSyncPhase phase);
extern EtopSyncPhase etop_sync_phase(int slot);
extern void etop_sync_release(int slot);
extern bool etop_sync_cancel_requested(int slot);
extern bool etop_sync_request_cancel(Oid database, int64 run_id);
extern bool etop_sync_alive_run(Oid database, int64 run_id);

#endif							/* ETOP_SYNC_REGISTRY_H */
