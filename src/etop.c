/*
 * etop.c — module entry point: _PG_init (settings) and build information.
 *
 * Everything that needs shared_preload_libraries (background workers for
 * syncs and the QBR queue) is registered from _PG_init; the extension also
 * works without preloading for everything that runs in a user backend
 * (scores, PDF rendering, SQL functions).
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/guc.h"
#include "lib/stringinfo.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include <curl/curl.h>
#include <hpdf.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "etop/etop.h"
#include "etop/sync_registry.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	etop_define_settings();
	MarkGUCPrefixReserved("etop");
	if (process_shared_preload_libraries_in_progress)
	{
		etop_register_qbr_workers();
		etop_sync_registry_init();	/* one run per connection; cancel; liveness */
	}
}

/*
 * Called first thing by etop's own background workers (sync runs, QBR
 * queue), never in a user's backend.  Those workers parse and copy
 * megabyte-sized JSON pages and PDFs over and over; with glibc's defaults
 * every such allocation above 128 kB is a fresh mmap() that the kernel must
 * fault in page by page, and freed heap tops are given back to the kernel
 * just to be faulted in again for the next page.  On virtual machines a page
 * fault is expensive: parsing one 2.5 MB ConnectWise page with jsonb_in took
 * ~165 ms with the defaults and ~45 ms with the settings below (docs/sync.md).
 * The price is that the worker keeps up to its peak heap (and up to
 * ETOP_WORKER_TRIM_THRESHOLD of freed memory at its top) until it exits; a
 * sync worker exits after its run (docs/operations.md).
 */
#define ETOP_WORKER_MMAP_THRESHOLD	(32 * 1024 * 1024)	/* glibc's maximum on 64-bit */
#define ETOP_WORKER_TRIM_THRESHOLD	(64 * 1024 * 1024)
#define ETOP_WORKER_TOP_PAD			(16 * 1024 * 1024)

void
etop_worker_tune_malloc(void)
{
#ifdef __GLIBC__
	if (mallopt(M_MMAP_THRESHOLD, ETOP_WORKER_MMAP_THRESHOLD) != 1 ||
		mallopt(M_TRIM_THRESHOLD, ETOP_WORKER_TRIM_THRESHOLD) != 1 ||
		mallopt(M_TOP_PAD, ETOP_WORKER_TOP_PAD) != 1)
		elog(DEBUG1, "etop: mallopt() refused a setting; the worker keeps glibc's defaults");
#endif
}

bool
etop_interrupt_pending(void *arg)
{
	return ProcDiePending || QueryCancelPending;
}

bool
etop_latch_sleep_unless(long ms, bool (*abort_cb) (void *arg), void *arg)
{
	while (ms > 0)
	{
		long		slice = Min(ms, 100);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, slice,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (abort_cb(arg))
			return false;
		ms -= slice;
	}
	return true;
}

bool
etop_latch_sleep(void *arg, long ms)
{
	return etop_latch_sleep_unless(ms, etop_interrupt_pending, arg);
}

void *
etop_context_alloc(void *cxt, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) cxt, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

void
etop_context_free(void *cxt, void *p)
{
	pfree(p);
}

PG_FUNCTION_INFO_V1(etop_build_info);

/*
 * etop.build_info() returns jsonb: the versions etop was built and runs with,
 * so a DBA can tell at a glance which libcurl and libharu a server uses, and
 * which database etop's background workers serve (null when etop is not
 * preloaded) with how many QBR workers.
 */
Datum
etop_build_info(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "{\"etop\": \"%s\", \"postgres\": \"%s\", \"libcurl\": \"%s\", "
					 "\"libcurl_ssl\": \"%s\", \"libharu\": \"%s\", "
					 "\"preloaded\": %s, \"workers_database\": ",
					 ETOP_VERSION, PG_VERSION, cv->version,
					 cv->ssl_version ? cv->ssl_version : "none",
					 HPDF_GetVersion(),
					 etop_is_preloaded() ? "true" : "false");
	/* which database the sync and QBR workers serve, and how many QBR workers run */
	if (etop_is_preloaded() && etop_database_name && etop_database_name[0])
		escape_json(&buf, etop_database_name);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfo(&buf, ", \"qbr_workers\": %d}", etop_is_preloaded() ? etop_qbr_workers : 0);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
