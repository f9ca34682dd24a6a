/*
 * sync_registry.c — which sync runs have a live worker, in shared memory.
 *
 * Before, etop.sync() looked for a "running" row in etop.sync_runs, which
 * the worker inserts only after it has started: two calls at once (or two
 * in one statement) both found none and started two runs of one connection.
 * And "is this run's worker alive" was read from pg_stat_activity, whose
 * contents are a snapshot taken once per transaction, so etop.sync_wait()
 * declared a run dead whose worker had started after that snapshot.
 *
 * Here every sync worker has a slot, reserved under a spinlock by
 * etop_internal._sync_launch() before the worker is registered (the check
 * "does this connection have a run" and the reservation are one step), and
 * freed by the worker's exit callback, however it exits.  A crash-restart
 * reinitialises shared memory, so a "running" row without a slot has no
 * worker: that is exact, not a guess.  The slot also carries the cancel
 * flag that etop.sync_cancel() sets (with the worker's latch), which the
 * HTTP client's abort callback reads between polls of a transfer.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "etop/sync_registry.h"

typedef struct EtopSyncSlot
{
	int64		run_id;			/* 0 = free */
	Oid			database;
	int32		connection_id;
	int			phase;			/* EtopSyncPhase */
	pid_t		pid;			/* the worker, once it claimed the slot */
	Latch	   *latch;			/* its latch (in shared memory), or NULL */
	bool		cancel;			/* etop.sync_cancel() asked it to stop */
} EtopSyncSlot;

typedef struct EtopSyncRegistry
{
	slock_t		mutex;
	TimestampTz started_at;		/* when shared memory was (re)initialised */
	int			nslots;
	EtopSyncSlot slots[FLEXIBLE_ARRAY_MEMBER];
} EtopSyncRegistry;

/* the shared registry (attached in every process forked after startup) */
static EtopSyncRegistry *registry = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
registry_size(void)
{
	return add_size(offsetof(EtopSyncRegistry, slots),
					mul_size(sizeof(EtopSyncSlot), max_worker_processes));
}

static void
registry_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(registry_size());
}

static void
registry_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	registry = ShmemInitStruct("etop sync registry", registry_size(), &found);
	if (!found)
	{
		/* server start, or the restart after a crash: no worker is alive */
		memset(registry, 0, registry_size());
		SpinLockInit(&registry->mutex);
		registry->started_at = GetCurrentTimestamp();
		registry->nslots = max_worker_processes;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
etop_sync_registry_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = registry_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = registry_startup;
}

bool
etop_sync_registry_available(void)
{
	return registry != NULL;
}

TimestampTz
etop_sync_registry_started(void)
{
	return registry ? registry->started_at : 0;
}

int
etop_sync_reserve(Oid database, int32 connection_id, int64 run_id, int64 *busy_run)
{
	int			free_slot = -1;
	int			result;

	Assert(registry != NULL && run_id != 0);
	SpinLockAcquire(&registry->mutex);
	for (int i = 0; i < registry->nslots; i++)
	{
		EtopSyncSlot *s = &registry->slots[i];

		if (s->run_id == 0)
		{
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (s->run_id == run_id)
		{
			SpinLockRelease(&registry->mutex);
			*busy_run = run_id;
			return ETOP_SYNC_RUN_TAKEN;
		}
		if (s->database == database && s->connection_id == connection_id)
		{
			*busy_run = s->run_id;
			SpinLockRelease(&registry->mutex);
			return ETOP_SYNC_BUSY;
		}
	}
	result = free_slot < 0 ? ETOP_SYNC_NO_SLOT : free_slot;
	if (free_slot >= 0)
	{
		EtopSyncSlot *s = &registry->slots[free_slot];

		s->run_id = run_id;
		s->database = database;
		s->connection_id = connection_id;
		s->phase = ETOP_SYNC_RESERVED;
		s->pid = 0;
		s->latch = NULL;
		s->cancel = false;
	}
	SpinLockRelease(&registry->mutex);
	return result;
}

/* Give up a reservation that no worker has claimed; false if one did. */
bool
etop_sync_unreserve(int slot, int64 run_id)
{
	EtopSyncSlot *s = &registry->slots[slot];
	bool		freed = false;

	SpinLockAcquire(&registry->mutex);
	if (s->run_id == run_id && s->phase == ETOP_SYNC_RESERVED)
	{
		memset(s, 0, sizeof(EtopSyncSlot));
		freed = true;
	}
	SpinLockRelease(&registry->mutex);
	return freed;
}

int64
etop_sync_slot_run(int slot)
{
	int64		run = 0;

	SpinLockAcquire(&registry->mutex);
	if (registry->slots[slot].pid == MyProcPid)
		run = registry->slots[slot].run_id;
	SpinLockRelease(&registry->mutex);
	return run;
}

/* The worker takes over its slot; false if the slot is no longer its run's. */
bool
etop_sync_claim(int slot, int64 run_id, Oid database)
{
	bool		ok = false;

	if (registry == NULL || slot < 0 || slot >= registry->nslots)
		return false;
	SpinLockAcquire(&registry->mutex);
	{
		EtopSyncSlot *s = &registry->slots[slot];

		if (s->run_id == run_id && s->database == database && s->phase == ETOP_SYNC_RESERVED)
		{
			s->phase = ETOP_SYNC_CLAIMED;
			s->pid = MyProcPid;
			s->latch = MyLatch;
			ok = true;
		}
	}
	SpinLockRelease(&registry->mutex);
	return ok;
}

void
etop_sync_set_phase(int slot, EtopSyncPhase phase)
{
	SpinLockAcquire(&registry->mutex);
	if (registry->slots[slot].pid == MyProcPid)
		registry->slots[slot].phase = phase;
	SpinLockRelease(&registry->mutex);
}

EtopSyncPhase
etop_sync_phase(int slot)
{
	EtopSyncPhase p = 0;

	SpinLockAcquire(&registry->mutex);
	if (registry->slots[slot].pid == MyProcPid)
		p = registry->slots[slot].phase;
	SpinLockRelease(&registry->mutex);
	return p;
}

/* The worker frees its slot (its exit callback). */
void
etop_sync_release(int slot)
{
	SpinLockAcquire(&registry->mutex);
	if (registry->slots[slot].pid == MyProcPid)
		memset(&registry->slots[slot], 0, sizeof(EtopSyncSlot));
	SpinLockRelease(&registry->mutex);
}

/* Called by the worker's abort callback, every 50 ms of a transfer: cheap. */
bool
etop_sync_cancel_requested(int slot)
{
	bool		c;

	SpinLockAcquire(&registry->mutex);
	c = registry->slots[slot].pid == MyProcPid && registry->slots[slot].cancel;
	SpinLockRelease(&registry->mutex);
	return c;
}

/* etop.sync_cancel(): flag the run and wake its worker; false if it has none. */
bool
etop_sync_request_cancel(Oid database, int64 run_id)
{
	Latch	   *latch = NULL;
	bool		found = false;

	if (registry == NULL)
		return false;
	SpinLockAcquire(&registry->mutex);
	for (int i = 0; i < registry->nslots; i++)
	{
		EtopSyncSlot *s = &registry->slots[i];

		if (s->run_id == run_id && s->database == database)
		{
			s->cancel = true;
			latch = s->latch;
			found = true;
			break;
		}
	}
	SpinLockRelease(&registry->mutex);
	if (latch)
		SetLatch(latch);
	return found;
}

bool
etop_sync_alive_run(Oid database, int64 run_id)
{
	bool		found = false;

	if (registry == NULL)
		return false;
	SpinLockAcquire(&registry->mutex);
	for (int i = 0; i < registry->nslots; i++)
		if (registry->slots[i].run_id == run_id && registry->slots[i].database == database)
		{
			found = true;
			break;
		}
	SpinLockRelease(&registry->mutex);
	return found;
}
