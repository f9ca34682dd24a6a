/*
 * qbr_worker.c — background workers that turn queued QBR jobs into drafts.
 *
 * etop.qbr_workers workers are registered at server start (etop must be in
 * shared_preload_libraries) and connect to etop.database_name, as pg_cron
 * does.  Each loops: claim a job (etop_internal.job_claim(), FOR UPDATE SKIP LOCKED),
 * then run its four steps, each in its own transaction so that
 * etop.qbr_status() shows progress and a crash loses at most one step:
 *
 *   1 Calculating scores     etop_internal.qbr_step(job, 1): narrative input incl. scores
 *   2 Generating narrative   offline in SQL, or the LLM over HTTP (narrative_llm.c)
 *   3 Validating citations   a hallucination fails the job for human review
 *   4 Rendering PDF          the draft QBR row; the PDF file if etop.output_dir is set
 *
 * An error in a step goes to etop_internal.job_fail(), which schedules a retry with
 * exponential backoff or, after the last attempt, marks the job failed.  A
 * worker that dies (killed, or the server restarts) leaves its job 'active';
 * the next claim sees its pid is gone and runs it again at once, without
 * counting the lost attempt (a hung worker's job waits for the visibility
 * timeout).  Workers LISTEN on etop_qbr_jobs and wake when a job is queued.
 * SIGTERM ends a worker promptly; SIGHUP reloads settings.
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "etop/etop.h"
#include "etop/llm.h"

PGDLLEXPORT void etop_qbr_worker_main(Datum main_arg);

void
etop_register_qbr_workers(void)
{
	for (int i = 0; i < etop_qbr_workers; i++)
	{
		BackgroundWorker w;

		memset(&w, 0, sizeof(w));
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = 10;
		snprintf(w.bgw_library_name, BGW_MAXLEN, "etop");
		snprintf(w.bgw_function_name, BGW_MAXLEN, "etop_qbr_worker_main");
		snprintf(w.bgw_name, BGW_MAXLEN, "etop QBR worker %d", i + 1);
		snprintf(w.bgw_type, BGW_MAXLEN, "etop QBR worker");
		w.bgw_main_arg = Int32GetDatum(i + 1);
		RegisterBackgroundWorker(&w);
	}
}

/* ---------- running SQL in short transactions ---------- */

typedef struct StepResult
{
	bool		ok;				/* no error */
	char	   *value;			/* first column of the first row, text, in the job context */
	char	   *error;			/* message when !ok */
} StepResult;

/*
 * Run one statement in its own transaction.  Errors are caught, the
 * transaction rolled back and the message returned; the worker goes on.
 */
static StepResult
run_sql(MemoryContext jobcxt, const char *sql, int nargs, Oid *types, Datum *values)
{
	StepResult	r = {true, NULL, NULL};

	PG_TRY();
	{
		int			rc;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, sql);
		rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
		if (rc < 0)
			elog(ERROR, "etop: SPI failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0 && SPI_tuptable != NULL)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (v)
				r.value = MemoryContextStrdup(jobcxt, v);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(jobcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		r.ok = false;
		r.error = edata->message ? edata->message : pstrdup("unknown error");
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(jobcxt);
	return r;
}

static StepResult
run_job_sql(MemoryContext jobcxt, const char *sql, const char *job, int step)
{
	Oid			types[2] = {UUIDOID, INT4OID};
	Datum		values[2];

	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(job));
	values[1] = Int32GetDatum(step);
	return run_sql(jobcxt, sql, step > 0 ? 2 : 1, types, values);
}

static void
fail_job(MemoryContext jobcxt, const char *job, const char *error)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		values[2];
	StepResult	r;

	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(job));
	values[1] = CStringGetTextDatum(error);
	r = run_sql(jobcxt, "SELECT etop_internal.job_fail($1, $2)", 2, types, values);
	if (!r.ok)
		elog(WARNING, "etop: could not record the failure of QBR job %s: %s", job, r.error);
}

/* Step 2 with an LLM: read the input, call the API outside any transaction, store. */
static StepResult
llm_step(MemoryContext jobcxt, const char *job)
{
	StepResult	r;
	EtopLlmResult llm;

	r = run_job_sql(jobcxt, "SELECT input::text FROM etop.qbr_jobs WHERE id = $1", job, 0);
	if (!r.ok)
		return r;
	if (r.value == NULL)
	{
		r.ok = false;
		r.error = pstrdup("QBR job has no narrative input (step 1 did not run)");
		return r;
	}
	llm = etop_llm_narrative(r.value);
	if (!llm.ok)
	{
		r.ok = false;
		r.error = llm.error;
		return r;
	}
	{
		Oid			types[3] = {UUIDOID, TEXTOID, TEXTOID};
		Datum		values[3];

		values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(job));
		values[1] = CStringGetTextDatum(llm.narrative);
		values[2] = CStringGetTextDatum(llm.usage ? llm.usage : "null");
		return run_sql(jobcxt, "SELECT etop_internal.job_store_narrative($1, $2::jsonb, $3::jsonb)",
					   3, types, values);
	}
}

/* Write the draft's PDF to etop.output_dir as qbr-client-<id>-<job>.pdf. */
static void
write_pdf_file(MemoryContext jobcxt, const char *job)
{
	StepResult	r;
	char	   *path;

	if (etop_output_dir == NULL || etop_output_dir[0] == '\0')
		return;
	r = run_job_sql(jobcxt,
					"SELECT client_id::text || E'\\n' || encode(pdf, 'base64') FROM etop.qbrs"
					" WHERE job_id = $1 AND pdf IS NOT NULL", job, 0);
	if (!r.ok || r.value == NULL)
		return;
	{
		char	   *nl = strchr(r.value, '\n');
		char	   *b64;
		bytea	   *bytes;
		FILE	   *f;

		if (nl == NULL)
			return;
		*nl = '\0';
		b64 = nl + 1;
		path = psprintf("%s/qbr-client-%s-%s.pdf", etop_output_dir, r.value, job);
		bytes = DatumGetByteaPP(DirectFunctionCall2(binary_decode, CStringGetTextDatum(b64),
													CStringGetTextDatum("base64")));
		f = AllocateFile(path, PG_BINARY_W);
		if (f == NULL)
		{
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("etop: could not write QBR PDF \"%s\": %m", path),
					 errhint("Check that etop.output_dir exists and is writable by the server.")));
			return;
		}
		if (fwrite(VARDATA_ANY(bytes), 1, VARSIZE_ANY_EXHDR(bytes), f) != VARSIZE_ANY_EXHDR(bytes))
			ereport(WARNING, (errcode_for_file_access(),
							  errmsg("etop: could not write QBR PDF \"%s\": %m", path)));
		FreeFile(f);
	}
	{
		Oid			types[2] = {UUIDOID, TEXTOID};
		Datum		values[2];

		values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(job));
		values[1] = CStringGetTextDatum(path);
		run_sql(jobcxt, "UPDATE etop.qbrs SET pdf_path = $2 WHERE job_id = $1", 2, types, values);
	}
}

/* Claim and run one job; false when there was nothing to do. */
static bool
process_one_job(MemoryContext jobcxt)
{
	StepResult	r;
	char	   *job,
			   *provider;

	/* etop may not be created (yet) in this database: wait quietly */
	r = run_sql(jobcxt, "SELECT 1 FROM pg_extension WHERE extname = 'etop'", 0, NULL, NULL);
	if (!r.ok || r.value == NULL)
		return false;
	r = run_sql(jobcxt, "SELECT id::text FROM etop_internal.job_claim()", 0, NULL, NULL);
	if (!r.ok)
	{
		elog(WARNING, "etop: QBR worker could not claim a job: %s", r.error);
		return false;
	}
	if (r.value == NULL)
		return false;
	job = r.value;
	elog(LOG, "etop: QBR worker %d claimed job %s", MyProcPid, job);

	for (int step = 1; step <= 4; step++)
	{
		CHECK_FOR_INTERRUPTS();
		r = run_job_sql(jobcxt, "SELECT etop_internal.job_progress($1, $2)", job, step);
		if (!r.ok)
			break;
		if (step == 2)
		{
			r = run_job_sql(jobcxt, "SELECT provider FROM etop.qbr_jobs WHERE id = $1", job, 0);
			provider = r.ok ? r.value : NULL;
			if (provider && strcmp(provider, "openai") == 0)
			{
				r = llm_step(jobcxt, job);
				if (!r.ok)
					break;
			}
		}
		r = run_job_sql(jobcxt, "SELECT etop_internal.qbr_step($1, $2)", job, step);
		if (!r.ok || (r.value && strcmp(r.value, "f") == 0))
			break;				/* an error, or stopped for human review */
		if (step == 4)
			write_pdf_file(jobcxt, job);
	}
	if (!r.ok)
	{
		/* shutting down: leave the job active; the next claim after the
		 * restart takes it at once (its pid is gone) without counting the
		 * attempt (etop_internal.job_claim) */
		CHECK_FOR_INTERRUPTS();
		fail_job(jobcxt, job, r.error);
	}
	return true;
}

void
etop_qbr_worker_main(Datum main_arg)
{
	MemoryContext jobcxt;

	etop_worker_tune_malloc();
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(etop_database_name, NULL, 0);
	pgstat_report_appname("etop QBR worker");
	elog(LOG, "etop: QBR worker %d started in database \"%s\"",
		 DatumGetInt32(main_arg), etop_database_name);

	jobcxt = AllocSetContextCreate(TopMemoryContext, "etop QBR job", ALLOCSET_DEFAULT_SIZES);

	/*
	 * Wake as soon as a job is queued, not only every poll interval:
	 * etop_internal.qbr_jobs_wake() notifies etop_qbr_jobs when jobs are
	 * inserted, and PostgreSQL delivers it at commit (when the job becomes
	 * claimable) by setting this worker's latch.  The notifications are read
	 * (and dropped) below, so the listener never holds back the queue.
	 */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	Async_Listen("etop_qbr_jobs");
	CommitTransactionCommand();

	for (;;)
	{
		bool		worked;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextSwitchTo(jobcxt);
		worked = process_one_job(jobcxt);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(jobcxt);

		if (!worked)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 etop_qbr_poll_interval_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		/* read the queued-job notifications (their content does not matter) */
		if (notifyInterruptPending)
			ProcessNotifyInterrupt(false);
	}
}

/* ---------- SQL: etop_internal._pid_alive(pid) ---------- */

PG_FUNCTION_INFO_V1(etop_pid_alive);

/*
 * Whether a server process (a backend or a background worker with a
 * database connection) with this pid exists now.  etop_internal.job_claim()
 * asks it for each active job it passes, to take over a job whose worker is
 * gone at once.  A look into the process array, not pg_stat_activity: that
 * one copies every backend's status into a per-transaction snapshot, which
 * cost a third of an empty-queue claim.
 */
Datum
etop_pid_alive(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(BackendPidGetProc(PG_GETARG_INT32(0)) != NULL);
}
