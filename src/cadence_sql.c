/*
 * cadence_sql.c — SQL entry points for the QBR cadence arithmetic of
 * cadence.c:
 *
 *   etop.qbr_cadence(segment text) -> text
 *   etop.qbr_next_due(last_qbr date, segment text) -> date
 *   etop.qbr_cadence_status(client_id, segment, last_qbr, as_of, grace_days)
 *       -> (cadence, next_due, due, overdue, explanation)
 *
 * etop.due_for_qbr() and the etop.qbr_calendar view are built on the last
 * one (sql/install/600_cadence.sql), so the rules live in one place.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "access/htup_details.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "datatype/timestamp.h"

#include "etop/cadence.h"

PG_FUNCTION_INFO_V1(etop_qbr_cadence);
PG_FUNCTION_INFO_V1(etop_qbr_next_due);
PG_FUNCTION_INFO_V1(etop_qbr_cadence_status);

/*
 * The segment letter of a text argument: NULL or '' (char(1) ' ' arrives as
 * '') is "no segment" (0); A-D in either case; anything else is an error.
 */
static char
segment_arg(FunctionCallInfo fcinfo, int argno)
{
	text	   *t;
	char	   *s;
	char		seg;

	if (PG_ARGISNULL(argno))
		return '\0';
	t = PG_GETARG_TEXT_PP(argno);
	s = text_to_cstring(t);
	seg = s[0];
	if ((seg != '\0' && s[1] != '\0') ||
		(seg != '\0' && cadence_for_segment(seg, NULL) == CADENCE_INVALID))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid client segment \"%s\"", s),
				 errhint("Segments are A and B (quarterly QBRs), C (semiannually) and D "
						 "(annually); a client without a segment is treated as quarterly.")));
	pfree(s);
	return seg;
}

static cadence_day
finite_date_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	DateADT		d = PG_GETARG_DATEADT(argno);

	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite date", what)));
	return (cadence_day) d;
}

static DateADT
date_result(cadence_day d)
{
	if (!IS_VALID_DATE(d))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date out of range")));
	return (DateADT) d;
}

/*
 * The blessed result row descriptor, built once per call site (the function
 * runs once per client in due_for_qbr and the calendar).
 */
static TupleDesc
result_tupdesc(FunctionCallInfo fcinfo)
{
	TupleDesc	tupdesc;
	MemoryContext old;

	if (fcinfo->flinfo->fn_extra != NULL)
		return (TupleDesc) fcinfo->flinfo->fn_extra;
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = tupdesc;
	return tupdesc;
}

/* etop.qbr_cadence(segment text) -> 'quarterly' | 'semiannually' | 'annually' */
Datum
etop_qbr_cadence(PG_FUNCTION_ARGS)
{
	char		seg = segment_arg(fcinfo, 0);

	PG_RETURN_TEXT_P(cstring_to_text(cadence_name(cadence_for_segment(seg, NULL))));
}

/*
 * etop.qbr_next_due(last_qbr date, segment text) -> date: the last QBR date
 * plus the segment's cadence, clamped to the end of a shorter month.  NULL
 * when there is no last QBR (such a client is due now; see due_for_qbr).
 */
Datum
etop_qbr_next_due(PG_FUNCTION_ARGS)
{
	char		seg = segment_arg(fcinfo, 1);
	DateADT		last;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	last = PG_GETARG_DATEADT(0);
	if (DATE_NOT_FINITE(last))
		PG_RETURN_DATEADT(last);	/* infinity + 3 months is still infinity */
	PG_RETURN_DATEADT(date_result(cadence_add_months(last, (int) cadence_for_segment(seg, NULL))));
}

/*
 * etop.qbr_cadence_status(client_id int, segment text, last_qbr date,
 *                         as_of date, grace_days int)
 *   -> (cadence text, next_due date, due bool, overdue bool, explanation text)
 */
Datum
etop_qbr_cadence_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	char		seg;
	bool		has_last = !PG_ARGISNULL(2);
	cadence_day last = 0;
	cadence_day as_of;
	int32		grace;
	int64		client_id;
	cadence_result r;
	char		buf[256];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("client_id, as_of and grace_days must not be null")));
	tupdesc = result_tupdesc(fcinfo);

	client_id = PG_GETARG_INT32(0);
	seg = segment_arg(fcinfo, 1);
	if (has_last)
		last = finite_date_arg(fcinfo, 2, "the last QBR date");
	as_of = finite_date_arg(fcinfo, 3, "as_of");
	grace = PG_GETARG_INT32(4);
	if (grace < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grace_days must be zero or more, got %d", grace)));

	r = cadence_evaluate(seg, has_last, last, as_of, grace);
	cadence_explain(buf, sizeof(buf), client_id, seg, last, &r);

	values[0] = CStringGetTextDatum(cadence_name(r.kind));
	values[1] = DateADTGetDatum(date_result(r.next_due));
	values[2] = BoolGetDatum(r.due);
	values[3] = BoolGetDatum(r.overdue);
	values[4] = CStringGetTextDatum(buf);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
