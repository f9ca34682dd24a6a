/*
 * schedules_sql.c — removes etop's pg_cron jobs when the extension is
 * dropped.
 *
 * The etop:... jobs (sql/install/620_schedules.sql) belong to pg_cron, not to
 * etop, so DROP EXTENSION etop would leave them behind to fail on every run.
 * etop_internal.on_drop_extension() is an event trigger on ddl_command_start for the
 * DROP EXTENSION tag.  It reads the statement's parse tree (which only C can
 * see) and, when etop is among the extensions being dropped, unschedules this
 * database's etop:... jobs in the same transaction: if the DROP fails
 * (dependent objects without CASCADE, say), the jobs stay.  Dropping any
 * other extension is untouched.  Without pg_cron in the database it does
 * nothing.
 */
#include "postgres.h"

#include "fmgr.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(etop_on_drop_extension);

Datum
etop_on_drop_extension(PG_FUNCTION_ARGS)
{
	EventTriggerData *trig;
	DropStmt   *stmt;
	ListCell   *lc;
	bool		dropping_etop = false;
	int			rc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("etop_internal.on_drop_extension() can only be called as an event trigger")));
	trig = (EventTriggerData *) fcinfo->context;
	if (trig->parsetree == NULL || !IsA(trig->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trig->parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		PG_RETURN_VOID();
	foreach(lc, stmt->objects)
	{
		Node	   *name = (Node *) lfirst(lc);

		if (IsA(name, String) && strcmp(strVal(name), "etop") == 0)
			dropping_etop = true;
	}
	if (!dropping_etop)
		PG_RETURN_VOID();

	SPI_connect();
	/* pg_cron's job table exists only where CREATE EXTENSION pg_cron ran */
	rc = SPI_execute("SELECT 1 WHERE to_regclass('cron.job') IS NOT NULL", true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *names;

		rc = SPI_execute("SELECT string_agg(j.jobname, ', ' ORDER BY j.jobname),"
						 "       count(cron.unschedule(j.jobid))"
						 "  FROM cron.job j"
						 " WHERE j.jobname LIKE 'etop:%' AND j.database = current_database()",
						 false, 0);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "etop: removing etop's pg_cron jobs failed: %s", SPI_result_code_string(rc));
		names = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (names != NULL)
			ereport(NOTICE,
					(errmsg("etop: removed %s pg_cron job(s) with the extension: %s",
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), names)));
	}
	SPI_finish();
	PG_RETURN_VOID();
}
