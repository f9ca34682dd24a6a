/*
 * scores_sql.c — the SQL face of the score engine.
 *
 * One set-based query (METRICS_SQL) loads every metric the formulas need for
 * one client or for all clients at once; the pure functions of
 * score_formulas.c compute the scores; this file turns the results into the
 * jsonb documented in docs/scoring.md.  The query runs with the caller's
 * privileges, so row-level security decides which clients exist for an
 * account manager.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "etop/scores.h"

#include <math.h>

/*
 * $1 = as_of (date).  The client filter is spliced in: %1$s for clients
 * ("id = $2" or "true"), %2$s for every other table ("client_id = $2" or
 * "true"; row-level security still applies).  Column order is fixed: see
 * load_metrics().
 */
#define METRICS_SQL \
"WITH c AS (SELECT id, industry, cardinality(compliance) AS regimes\n" \
"             FROM etop.clients WHERE %1$s),\n" \
"q AS (SELECT qs, qs::timestamptz AS qs_ts, (qs - interval '3 months')::timestamptz AS prev_ts,\n" \
"             (qs - 30)::timestamptz AS rep_ts, ($1 + 1)::timestamptz AS end_ts,\n" \
"             ($1 - 30)::timestamptz AS patch_ts, ($1 - 90)::timestamptz AS d90_ts\n" \
"        FROM (SELECT date_trunc('quarter', $1::timestamp)::date AS qs) x),\n" \
"d AS (SELECT client_id, count(*) AS total,\n" \
"        count(*) FILTER (WHERE managed) AS managed,\n" \
"        count(*) FILTER (WHERE last_patched_at >= patch_ts) AS patched,\n" \
"        count(*) FILTER (WHERE edr_installed AND edr_healthy) AS edr_ok,\n" \
"        count(*) FILTER (WHERE edr_installed AND NOT coalesce(edr_healthy, false)) AS edr_bad,\n" \
"        count(last_patched_at) AS patch_known, count(edr_installed) AS edr_known,\n" \
"        (array_agg(name ORDER BY name) FILTER (WHERE NOT managed))[1:10] AS unmanaged,\n" \
"        (array_agg(name ORDER BY name) FILTER (WHERE last_patched_at IS NULL\n" \
"                                                 OR last_patched_at < patch_ts))[1:10] AS unpatched,\n" \
"        (array_agg(name ORDER BY name) FILTER (WHERE NOT coalesce(edr_installed, false)))[1:10] AS no_edr\n" \
"       FROM etop.devices, q WHERE %2$s GROUP BY client_id),\n" \
"im AS (SELECT client_id, count(*) AS assessed, count(*) FILTER (WHERE all_pass) AS passing,\n" \
"         count(*) FILTER (WHERE NOT all_pass) AS failing,\n" \
"         (array_agg(device_id) FILTER (WHERE NOT all_pass))[1:10] AS failing_ids\n" \
"        FROM (SELECT client_id, device_id, bool_and(status = 'pass') AS all_pass\n" \
"                FROM etop.controls\n" \
"               WHERE control_type = 'immy_baseline' AND device_id IS NOT NULL\n" \
"                 AND %2$s\n" \
"               GROUP BY client_id, device_id) x GROUP BY client_id),\n" \
"imn AS (SELECT im.client_id, array_agg(dv.name ORDER BY dv.name) AS failing_names\n" \
"         FROM im JOIN etop.devices dv ON dv.id = ANY (im.failing_ids) GROUP BY im.client_id),\n" \
"ss AS (SELECT client_id, count(*) AS n,\n" \
"         sum(CASE WHEN jsonb_typeof(evidence->'score') = 'number'\n" \
"                  THEN (evidence->>'score')::float8 END) AS cur,\n" \
"         sum(CASE WHEN jsonb_typeof(evidence->'maxScore') = 'number'\n" \
"                  THEN (evidence->>'maxScore')::float8 END) AS mx\n" \
"        FROM etop.controls WHERE control_type = 'm365_secure_score'\n" \
"         AND %2$s GROUP BY client_id),\n" \
"u AS (SELECT client_id, count(*) AS total, count(*) FILTER (WHERE mfa_enabled) AS mfa,\n" \
"        count(*) FILTER (WHERE risk_level = 'high') AS high,\n" \
"        count(*) FILTER (WHERE risk_level = 'medium') AS medium,\n" \
"        count(*) FILTER (WHERE last_sign_in < d90_ts) AS stale,\n" \
"        (array_agg(coalesce(upn, email, display_name) ORDER BY coalesce(upn, email, display_name))\n" \
"            FILTER (WHERE NOT mfa_enabled))[1:10] AS no_mfa\n" \
"       FROM etop.users, q WHERE account_enabled AND %2$s\n" \
"       GROUP BY client_id),\n" \
"ua AS (SELECT client_id,\n" \
"         max(why) FILTER (WHERE dataset = 'mfa') AS mfa,\n" \
"         max(why) FILTER (WHERE dataset = 'user_risk') AS user_risk,\n" \
"         max(why) FILTER (WHERE dataset = 'sign_in_activity') AS sign_ins,\n" \
"         max(why) FILTER (WHERE dataset = 'secure_score') AS secure_score,\n" \
"         max(why) FILTER (WHERE dataset = 'alerts') AS alerts\n" \
"        FROM (SELECT client_id, dataset,\n" \
"                     CASE reason WHEN 'licence' THEN 'tenant has no ' || needs || ' licence'\n" \
"                          ELSE 'the app lacks the permission ' || needs END AS why\n" \
"                FROM %3$s WHERE source = 'm365' AND %2$s) x\n" \
"       GROUP BY client_id),\n" \
"rk AS (SELECT client_id,\n" \
"         count(*) FILTER (WHERE risk_type = 'email' AND detected_at >= d90_ts\n" \
"                            AND detected_at < end_ts) AS email90,\n" \
"         count(*) FILTER (WHERE open_at AND risk_type = 'endpoint'\n" \
"                            AND severity IN ('high', 'critical')) AS ep_high,\n" \
"         count(*) FILTER (WHERE open_at AND critical) AS crit,\n" \
"         count(*) FILTER (WHERE open_at AND NOT critical AND severity = 'high') AS high\n" \
"        FROM (SELECT client_id, risk_type, severity, detected_at, d90_ts, end_ts,\n" \
"                     coalesce(severity = 'critical' OR (likelihood = 'high' AND impact = 'high'),\n" \
"                              false) AS critical,\n" \
"                     coalesce(detected_at < end_ts, true)\n" \
"                       AND (status = 'open' OR coalesce(resolved_at >= end_ts, false)) AS open_at\n" \
"                FROM etop.risks, q WHERE %2$s) r\n" \
"       GROUP BY client_id),\n" \
"t AS (SELECT client_id,\n" \
"        count(*) FILTER (WHERE created_date >= qs_ts) AS n,\n" \
"        count(*) FILTER (WHERE created_date < qs_ts) AS prev,\n" \
"        count(*) FILTER (WHERE created_date >= qs_ts AND sla_met IS NOT NULL) AS sla_known,\n" \
"        count(*) FILTER (WHERE created_date >= qs_ts AND sla_met) AS sla_met,\n" \
"        count(*) FILTER (WHERE created_date >= qs_ts AND reopen_count > 0) AS reopened,\n" \
"        count(*) FILTER (WHERE created_date >= qs_ts AND after_hours) AS after_hours\n" \
"       FROM etop.tickets, q\n" \
"      WHERE %2$s\n" \
"        AND created_date >= prev_ts AND created_date < end_ts\n" \
"      GROUP BY client_id),\n" \
"rep AS (SELECT client_id, count(*) AS repeats\n" \
"         FROM (SELECT client_id, created_date, qs_ts,\n" \
"                      lag(created_date) OVER (PARTITION BY device_id, category\n" \
"                                              ORDER BY created_date) AS prev_same\n" \
"                 FROM etop.tickets, q\n" \
"                WHERE device_id IS NOT NULL AND %2$s\n" \
"                  AND created_date >= rep_ts AND created_date < end_ts) x\n" \
"        WHERE created_date >= qs_ts AND prev_same >= created_date - interval '30 days'\n" \
"        GROUP BY client_id)\n" \
"SELECT c.id, c.industry, c.regimes,\n" \
"       coalesce(d.total, 0), coalesce(d.managed, 0), coalesce(d.patched, 0),\n" \
"       coalesce(d.edr_ok, 0), coalesce(d.edr_bad, 0), d.unmanaged, d.unpatched, d.no_edr,\n" \
"       coalesce(im.assessed, 0), coalesce(im.passing, 0), imn.failing_names,\n" \
"       coalesce(ss.n, 0), coalesce(ss.cur, 0), coalesce(ss.mx, 0),\n" \
"       coalesce(u.total, 0), coalesce(u.mfa, 0), coalesce(u.high, 0), coalesce(u.medium, 0),\n" \
"       coalesce(u.stale, 0), u.no_mfa,\n" \
"       coalesce(rk.email90, 0), coalesce(rk.ep_high, 0), coalesce(rk.crit, 0), coalesce(rk.high, 0),\n" \
"       extract(year FROM q.qs)::int, extract(quarter FROM q.qs)::int,\n" \
"       ($1 - q.qs + 1)::int, ((q.qs + interval '3 months')::date - q.qs)::int,\n" \
"       coalesce(t.n, 0), coalesce(t.prev, 0), coalesce(t.sla_known, 0), coalesce(t.sla_met, 0),\n" \
"       coalesce(t.reopened, 0), coalesce(rep.repeats, 0), coalesce(t.after_hours, 0),\n" \
"       h.standards::float8, h.risk::float8, h.experience::float8, h.quarter,\n" \
"       coalesce(d.total - d.managed, 0), coalesce(d.total - d.patched, 0),\n" \
"       coalesce(d.total - d.edr_ok - d.edr_bad, 0), coalesce(im.failing, 0),\n" \
"       coalesce(u.total - u.mfa, 0),\n" \
"       coalesce(d.patch_known, 0), coalesce(d.edr_known, 0),\n" \
"       ua.mfa, ua.user_risk, ua.sign_ins, ua.secure_score, ua.alerts\n" \
"  FROM c CROSS JOIN q\n" \
"  LEFT JOIN d ON d.client_id = c.id LEFT JOIN im ON im.client_id = c.id\n" \
"  LEFT JOIN ss ON ss.client_id = c.id LEFT JOIN u ON u.client_id = c.id\n" \
"  LEFT JOIN rk ON rk.client_id = c.id LEFT JOIN t ON t.client_id = c.id\n" \
"  LEFT JOIN imn ON imn.client_id = c.id LEFT JOIN rep ON rep.client_id = c.id\n" \
"  LEFT JOIN ua ON ua.client_id = c.id\n" \
"  LEFT JOIN etop.score_history h ON h.client_id = c.id\n" \
"        AND h.quarter = 'Q' || extract(quarter FROM q.qs - interval '3 months') || ' '\n" \
"                        || extract(year FROM q.qs - interval '3 months')\n" \
" ORDER BY c.id"

/* Previous snapshot, for movement ("Standards +5 vs. Q3 2025"). */
typedef struct PrevSnapshot
{
	bool		present[3];
	double		score[3];		/* standards, risk, experience */
	char	   *quarter;
} PrevSnapshot;

static int
col_int(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return 0;
	switch (SPI_gettypeid(desc, col))
	{
		case INT8OID:
			return (int) DatumGetInt64(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			elog(ERROR, "etop: unexpected type in score metrics column %d", col);
	}
	return 0;					/* keep the compiler quiet */
}

static double
col_float(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, desc, col, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(d);
}

/* text[] column (NULL = empty) into a name list; strings live in the current context. */
static void
col_names(HeapTuple tup, TupleDesc desc, int col, int total, EtopNameList *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	out->names = NULL;
	out->count = 0;
	out->total = total;
	if (!isnull)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		const char **names;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		names = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
			names[out->count++] = nulls[i] ? "(unnamed)" : TextDatumGetCString(elems[i]);
		out->names = names;
	}
}

/* Fill metrics (and the previous snapshot) from one row of METRICS_SQL. */
static void
load_metrics(HeapTuple tup, TupleDesc desc, EtopClientMetrics *m, PrevSnapshot *prev)
{
	bool		isnull;
	int			k = 1;

	memset(m, 0, sizeof(*m));
	m->client_id = col_int(tup, desc, k++);
	m->industry = SPI_getvalue(tup, desc, k++);
	m->compliance_regimes = col_int(tup, desc, k++);
	m->devices_total = col_int(tup, desc, k++);
	m->devices_managed = col_int(tup, desc, k++);
	m->devices_patched_30d = col_int(tup, desc, k++);
	m->devices_edr_healthy = col_int(tup, desc, k++);
	m->devices_edr_unhealthy = col_int(tup, desc, k++);
	col_names(tup, desc, k++, col_int(tup, desc, 43), &m->unmanaged_devices);
	col_names(tup, desc, k++, col_int(tup, desc, 44), &m->unpatched_devices);
	col_names(tup, desc, k++, col_int(tup, desc, 45), &m->missing_edr_devices);
	m->devices_assessed = col_int(tup, desc, k++);
	m->has_immy = m->devices_assessed > 0;
	m->devices_passing = col_int(tup, desc, k++);
	col_names(tup, desc, k++, col_int(tup, desc, 46), &m->failing_devices);
	m->secure_score_controls = col_int(tup, desc, k++);
	m->has_secure_score = m->secure_score_controls > 0;
	m->secure_score_current = col_float(tup, desc, k++, &isnull);
	m->secure_score_max = col_float(tup, desc, k++, &isnull);
	m->users_total = col_int(tup, desc, k++);
	m->users_mfa = col_int(tup, desc, k++);
	m->users_high_risk = col_int(tup, desc, k++);
	m->users_medium_risk = col_int(tup, desc, k++);
	m->users_stale = col_int(tup, desc, k++);
	col_names(tup, desc, k++, col_int(tup, desc, 47), &m->users_without_mfa);
	m->email_alerts_90d = col_int(tup, desc, k++);
	m->endpoint_open_high = col_int(tup, desc, k++);
	m->open_critical = col_int(tup, desc, k++);
	m->open_high = col_int(tup, desc, k++);
	m->quarter_year = col_int(tup, desc, k++);
	m->quarter = col_int(tup, desc, k++);
	m->quarter_days_elapsed = col_int(tup, desc, k++);
	m->quarter_days_total = col_int(tup, desc, k++);
	m->tickets_quarter = col_int(tup, desc, k++);
	m->tickets_prev_quarter = col_int(tup, desc, k++);
	m->tickets_sla_known = col_int(tup, desc, k++);
	m->tickets_sla_met = col_int(tup, desc, k++);
	m->tickets_reopened = col_int(tup, desc, k++);
	m->tickets_repeat = col_int(tup, desc, k++);
	m->tickets_after_hours = col_int(tup, desc, k++);
	for (int i = 0; i < 3; i++)
	{
		prev->score[i] = col_float(tup, desc, k++, &isnull);
		/* a stored 'NaN' (numeric allows it) is no previous score: no movement */
		prev->present[i] = !isnull && !isnan(prev->score[i]);
	}
	prev->quarter = SPI_getvalue(tup, desc, k++);
	m->devices_patch_known = col_int(tup, desc, 48);
	m->devices_edr_known = col_int(tup, desc, 49);
	/* SPI_getvalue: NULL for a NULL column (the source is available) */
	m->unavailable_mfa = SPI_getvalue(tup, desc, 50);
	m->unavailable_user_risk = SPI_getvalue(tup, desc, 51);
	m->unavailable_sign_ins = SPI_getvalue(tup, desc, 52);
	m->unavailable_secure_score = SPI_getvalue(tup, desc, 53);
	m->unavailable_alerts = SPI_getvalue(tup, desc, 54);
}

/*
 * JSON number: integers without decimals, others with up to 2.  Vendor
 * numbers (a Secure Score of 1e307) can be beyond what rounding to cents
 * survives: those are printed as they are, and a value that is not finite
 * (JSON has no Infinity) as null.
 */
static void
append_number(StringInfo buf, double v)
{
	if (!isfinite(v))
		appendStringInfoString(buf, "null");
	else if (fabs(v) >= 1e15)
		appendStringInfo(buf, "%.10g", v);
	else if (v == floor(v))
		appendStringInfo(buf, "%.0f", v);
	else
		appendStringInfo(buf, "%.10g", round(v * 100.0) / 100.0);
}

static void
append_component(StringInfo buf, const EtopScoreComponent *c)
{
	appendStringInfoString(buf, "{\"score\": ");
	if (c->missing)
		appendStringInfoString(buf, "null");
	else
		append_number(buf, c->score);
	appendStringInfoString(buf, ", \"weight\": ");
	append_number(buf, c->weight);
	appendStringInfoString(buf, ", \"effective_weight\": ");
	appendStringInfo(buf, "%.4g", c->effective_weight);
	appendStringInfo(buf, ", \"missing\": %s", c->missing ? "true" : "false");
	if (c->level)
		appendStringInfo(buf, ", \"level\": \"%s\"", c->level);
	appendStringInfoString(buf, ", \"evidence\": {");
	for (int i = 0; i < c->n_evidence; i++)
	{
		escape_json(buf, c->evidence[i].key);
		appendStringInfoString(buf, ": ");
		append_number(buf, c->evidence[i].value);
		appendStringInfoString(buf, ", ");
	}
	if (c->samples_key && c->samples && c->samples->total > 0)
	{
		escape_json(buf, c->samples_key);
		appendStringInfoString(buf, ": [");
		for (int i = 0; i < c->samples->count; i++)
		{
			if (i > 0)
				appendStringInfoString(buf, ", ");
			escape_json(buf, c->samples->names[i]);
		}
		appendStringInfoString(buf, "], ");
	}
	appendStringInfoString(buf, "\"citations\": [");
	for (int i = 0; i < c->n_citations; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, c->citations[i]);
	}
	appendStringInfoString(buf, "]}}");
}

static void
append_result(StringInfo buf, const EtopScoreResult *r, const char *label,
			  bool has_prev, double prev, const char *prev_quarter, const char *computed_at)
{
	appendStringInfoString(buf, "{\"score\": ");
	if (r->has_score)
		append_number(buf, r->score);
	else
		appendStringInfoString(buf, "null");
	if (!r->has_score)
	{
		appendStringInfoString(buf, ", \"error\": ");
		escape_json(buf, r->error);
	}
	if (r->level)
		appendStringInfo(buf, ", \"level\": \"%s\"", r->level);
	appendStringInfoString(buf, ", \"breakdown\": {");
	for (int i = 0; i < r->n_components; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, r->components[i].name);
		appendStringInfoString(buf, ": ");
		append_component(buf, &r->components[i]);
	}
	appendStringInfoString(buf, "}, \"movement\": ");
	if (r->has_score && has_prev && prev_quarter)
	{
		double		delta = r->score - round(prev);
		char		text[96];

		snprintf(text, sizeof(text), "%s %s%.0f vs. %s", label,
				 delta > 0 ? "+" : (delta < 0 ? "" : "\u00b1"), delta, prev_quarter);
		appendStringInfo(buf, "{\"previous\": %.0f, \"delta\": %.0f, \"quarter\": ",
						 round(prev), delta);
		escape_json(buf, prev_quarter);
		appendStringInfoString(buf, ", \"text\": ");
		escape_json(buf, text);
		appendStringInfoChar(buf, '}');
	}
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, ", \"computed_at\": ");
	escape_json(buf, computed_at);
	appendStringInfoChar(buf, '}');
}

/* The whole etop_scores() document for one metrics row, as jsonb. */
static Datum
scores_document(const EtopClientMetrics *m, const PrevSnapshot *prev, DateADT as_of)
{
	EtopScoreResult std,
				risk,
				exp;
	StringInfoData buf;
	const char *computed_at;
	char	   *as_of_str = DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(as_of)));

	computed_at = DatumGetCString(DirectFunctionCall1(timestamptz_out,
													  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())));
	etop_standards_score(m, &std);
	etop_risk_score(m, &risk);
	etop_experience_score(m, &exp);

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"client_id\": %d, \"as_of\": ", m->client_id);
	escape_json(&buf, as_of_str);
	appendStringInfo(&buf, ", \"formula_version\": \"%s\", \"standards\": ", ETOP_FORMULA_VERSION);
	append_result(&buf, &std, "Standards", prev->present[0], prev->score[0], prev->quarter, computed_at);
	appendStringInfoString(&buf, ", \"risk\": ");
	append_result(&buf, &risk, "Risk", prev->present[1], prev->score[1], prev->quarter, computed_at);
	appendStringInfoString(&buf, ", \"experience\": ");
	append_result(&buf, &exp, "Experience", prev->present[2], prev->score[2], prev->quarter, computed_at);
	appendStringInfoChar(&buf, '}');

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/*
 * Run METRICS_SQL for one client or for all visible clients (all = true) and
 * call emit() with each client's scores document.  The document lives in a
 * scratch context reset after emit() returns: emit() copies what it keeps.
 */
typedef void (*emit_fn) (void *arg, int client_id, Datum doc);

static int
compute_scores(bool all, int client_id, DateADT as_of, emit_fn emit, void *arg)
{
	Oid			argtypes[2] = {DATEOID, INT4OID};
	Datum		values[2] = {DateADTGetDatum(as_of), Int32GetDatum(client_id)};
	char	   *sql;
	int			rc;
	uint64		n;
	MemoryContext tmpcxt;

	SPI_connect();
	/*
	 * etop.unavailable_sources came with 0.3.0: a database still on an older
	 * version of the extension (this library serves every version) has none.
	 */
	sql = psprintf(METRICS_SQL, all ? "true" : "id = $2", all ? "true" : "client_id = $2",
				   OidIsValid(get_relname_relid("unavailable_sources", get_namespace_oid("etop", true)))
				   ? "etop.unavailable_sources"
				   : "(SELECT NULL::int AS client_id, NULL::text AS source, NULL::text AS dataset,"
				   " NULL::text AS reason, NULL::text AS needs WHERE false) none");
	rc = SPI_execute_with_args(sql, all ? 1 : 2, argtypes, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("etop: loading score metrics failed: %s", SPI_result_code_string(rc))));
	n = SPI_processed;
	tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "etop scores document",
								   ALLOCSET_DEFAULT_SIZES);
	for (uint64 i = 0; i < n; i++)
	{
		EtopClientMetrics m;
		PrevSnapshot prev;
		MemoryContext old;
		Datum		doc;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(tmpcxt);
		load_metrics(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &m, &prev);
		doc = scores_document(&m, &prev, as_of);
		MemoryContextSwitchTo(old);
		emit(arg, m.client_id, doc);
		MemoryContextReset(tmpcxt);
	}
	MemoryContextDelete(tmpcxt);
	SPI_finish();
	return (int) n;
}

typedef struct OneState
{
	MemoryContext cxt;			/* the caller's: where the document is kept */
	Datum		doc;
} OneState;

static void
emit_single(void *arg, int client_id, Datum doc)
{
	OneState   *st = (OneState *) arg;
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	st->doc = PointerGetDatum(PG_DETOAST_DATUM_COPY(doc));
	MemoryContextSwitchTo(old);
}

PG_FUNCTION_INFO_V1(etop_scores_one);

/* etop.etop_scores(client_id int, as_of date) returns jsonb */
Datum
etop_scores_one(PG_FUNCTION_ARGS)
{
	int32		client_id = PG_GETARG_INT32(0);
	DateADT		as_of = PG_GETARG_DATEADT(1);
	OneState	st = {CurrentMemoryContext, (Datum) 0};

	if (DATE_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite date")));
	if (compute_scores(false, client_id, as_of, emit_single, &st) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("client %d not found", client_id),
				 errdetail("No client with that id exists, or it is not assigned to role \"%s\".",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("SELECT id, name FROM etop.clients lists the clients you can see.")));
	PG_RETURN_DATUM(st.doc);
}

typedef struct AllState
{
	ReturnSetInfo *rsinfo;
} AllState;

static void
emit_row(void *arg, int client_id, Datum doc)
{
	AllState   *st = (AllState *) arg;
	Datum		values[2] = {Int32GetDatum(client_id), doc};
	bool		nulls[2] = {false, false};

	tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(etop_scores_all);

/* etop.scores_all(as_of date) returns table (client_id int, scores jsonb) */
Datum
etop_scores_all(PG_FUNCTION_ARGS)
{
	DateADT		as_of = PG_GETARG_DATEADT(0);
	AllState	st;

	if (DATE_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite date")));
	InitMaterializedSRF(fcinfo, 0);
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	compute_scores(true, 0, as_of, emit_row, &st);	/* the tuplestore copies each row */
	return (Datum) 0;
}
