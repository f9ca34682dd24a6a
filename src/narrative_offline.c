/*
 * narrative_offline.c — the offline QBR narrative composer.
 *
 * etop.narrative_offline(input jsonb) turns etop.narrative_input() into the
 * narrative shape of the spec (executive_summary in three paragraphs, trends,
 * 3-7 recommendations each with evidence citations, 3-5 discussion points)
 * plus "wins" for the PDF.  It needs no network and is deterministic: the
 * same input always gives the same words.  It only states facts present in
 * the input and cites them in the four citation forms, so its output passes
 * etop.validate_citations() by construction (the pipeline checks anyway).
 *
 * No SPI and no I/O here: jsonb in, jsonb out.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "etop/json_util.h"
#include "etop/narrative.h"

/* ---------- reading the input ----------
 *
 * The input is any jsonb a caller passes (normally etop.narrative_input(),
 * but etop_reader may call this with anything, and etop.recommendations rows
 * reach it through narrative_input).  Every accessor below returns NULL (or
 * false / 0) for a missing key, a wrong type or a non-array, and every use
 * of a result checks it: an entry without the field a sentence or citation
 * needs is skipped, never written as "(null)" and never dereferenced.
 */

static JsonbContainer *
jobj(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = etop_jsonb_key(obj, key);

	return (v && v->type == jbvBinary) ? v->val.binary.data : NULL;
}

static bool
jnum(JsonbContainer *obj, const char *key, double *out)
{
	JsonbValue *v = etop_jsonb_key(obj, key);

	if (v == NULL || v->type != jbvNumeric)
		return false;
	*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	return true;
}

static int
jlen(JsonbContainer *arr)
{
	return (arr && JsonContainerIsArray(arr)) ? (int) JsonContainerSize(arr) : 0;
}

static JsonbContainer *
jat(JsonbContainer *arr, int i)
{
	JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

	return (v && v->type == jbvBinary) ? v->val.binary.data : NULL;
}

/* i-th element of an array as a string, or NULL when it is not a string */
static char *
jat_str(JsonbContainer *arr, int i)
{
	JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

	return (v && v->type == jbvString) ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
}

/* key of the i-th element of an array of objects, or NULL */
static char *
jat_text(JsonbContainer *arr, int i, const char *key)
{
	return etop_jsonb_text(jat(arr, i), key);
}

/* index of the first element of arr that has key, or -1 */
static int
first_with(JsonbContainer *arr, const char *key)
{
	for (int i = 0; i < jlen(arr); i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (jat_text(arr, i, key) != NULL)
			return i;
	}
	return -1;
}

/* first citation string of a score component, or NULL */
static char *
component_citation(JsonbContainer *score, const char *component)
{
	JsonbContainer *c = jobj(jobj(score, "breakdown"), component);
	JsonbContainer *cites = jobj(jobj(c, "evidence"), "citations");

	return jlen(cites) > 0 ? jat_str(cites, 0) : NULL;
}

/* ---------- plain English ---------- */

static const struct
{
	const char *component;
	const char *label;
}			labels[] = {
	{"device_coverage", "device management coverage"},
	{"immy_compliance", "configuration baselines"},
	{"patch_compliance", "patching"},
	{"edr_health", "endpoint protection"},
	{"m365_secure_score", "Microsoft 365 security settings"},
	{"identity_risk", "identity security"},
	{"email_risk", "email threats"},
	{"endpoint_risk", "endpoint exposure"},
	{"business_modifier", "business and compliance exposure"},
	{"tickets_per_user_trend", "ticket volume per user"},
	{"repeat_issue_rate", "repeat issues"},
	{"sla_performance", "response times against SLA"},
	{"reopen_rate", "first-time fixes"},
	{"after_hours_incidents", "after-hours disruptions"},
};

static const char *
label_of(const char *component)
{
	for (size_t i = 0; i < lengthof(labels); i++)
		if (strcmp(labels[i].component, component) == 0)
			return labels[i].label;
	return component;
}

/*
 * Best and worst present component of the Standards and Experience scores
 * (higher is better in both).  Ties go to the first in document order.
 */
static void
best_and_worst(JsonbContainer *scores, char **best, char **best_cite,
			   char **worst, char **worst_cite)
{
	const char *kinds[] = {"standards", "experience"};
	double		hi = -1,
				lo = 101;

	*best = *best_cite = *worst = *worst_cite = NULL;
	for (int k = 0; k < 2; k++)
	{
		JsonbContainer *score = jobj(scores, kinds[k]);
		JsonbContainer *bd = jobj(score, "breakdown");
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *key = NULL;

		if (bd == NULL)
			continue;
		it = JsonbIteratorInit(bd);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			double		s;

			CHECK_FOR_INTERRUPTS();
			if (tok == WJB_KEY)
				key = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE && v.type == jbvBinary &&
					 jnum(v.val.binary.data, "score", &s))
			{
				if (s > hi)
				{
					hi = s;
					*best = key;
					*best_cite = component_citation(score, key);
				}
				if (s < lo)
				{
					lo = s;
					*worst = key;
					*worst_cite = component_citation(score, key);
				}
			}
		}
	}
}

/* ---------- writing the output ---------- */

typedef struct Rec
{
	const char *title;
	char	   *description;
	const char *priority;
	const char *effort;
	const char *cost_range;
	List	   *evidence;		/* char * citations */
} Rec;

static void
json_kv(StringInfo out, const char *key, const char *value, bool comma)
{
	escape_json(out, key);
	appendStringInfoString(out, ": ");
	if (value)
		escape_json(out, value);
	else
		appendStringInfoString(out, "null");
	if (comma)
		appendStringInfoString(out, ", ");
}

static void
json_strings(StringInfo out, List *items)
{
	ListCell   *lc;
	bool		first = true;

	appendStringInfoChar(out, '[');
	foreach(lc, items)
	{
		if (lfirst(lc) == NULL)
			continue;			/* never written: see "reading the input" */
		if (!first)
			appendStringInfoString(out, ", ");
		escape_json(out, (char *) lfirst(lc));
		first = false;
	}
	appendStringInfoChar(out, ']');
}

static const char *
cost_bucket(double amount)
{
	if (amount < 1000)
		return "$0-1K";
	if (amount < 5000)
		return "$1-5K";
	if (amount < 10000)
		return "$5-10K";
	if (amount < 25000)
		return "$10-25K";
	if (amount < 50000)
		return "$25-50K";
	return "$50K+";
}

/* "$37,800" */
static char *
money(const char *currency, double amount)
{
	char		digits[32];
	StringInfoData b;
	int			n;

	snprintf(digits, sizeof(digits), "%.0f", amount < 0 ? 0 : amount);
	n = strlen(digits);
	initStringInfo(&b);
	appendStringInfoString(&b, currency ? currency : "$");
	for (int i = 0; i < n; i++)
	{
		if (i > 0 && (n - i) % 3 == 0)
			appendStringInfoChar(&b, ',');
		appendStringInfoChar(&b, digits[i]);
	}
	return b.data;
}

static char *
score_text(JsonbContainer *score)
{
	double		s;

	return jnum(score, "score", &s) ? psprintf("%.0f/100", s) : NULL;
}

PG_FUNCTION_INFO_V1(etop_narrative_offline);

Datum
etop_narrative_offline(PG_FUNCTION_ARGS)
{
	Jsonb	   *input = PG_GETARG_JSONB_P(0);
	JsonbContainer *in = &input->root;
	JsonbContainer *client = jobj(in, "client");
	JsonbContainer *scores = jobj(in, "scores");
	JsonbContainer *std = jobj(scores, "standards");
	JsonbContainer *risk = jobj(scores, "risk");
	JsonbContainer *exp = jobj(scores, "experience");
	JsonbContainer *top_risks = jobj(in, "top_risks");
	JsonbContainer *mitigated = jobj(in, "mitigated_risks");
	JsonbContainer *lifecycle = jobj(in, "lifecycle");
	JsonbContainer *failing = jobj(in, "failing_policies");
	JsonbContainer *passing = jobj(in, "passing_policies");
	JsonbContainer *categories = jobj(in, "top_categories");
	JsonbContainer *planned = jobj(in, "recommendations");
	char	   *name = etop_jsonb_text(client, "name");
	char	   *period = etop_jsonb_text(in, "period");
	char	   *prev_period = etop_jsonb_text(in, "previous_period");
	StringInfoData p1,
				p2,
				p3,
				trends,
				out;
	List	   *recs = NIL,
			   *points = NIL,
			   *wins = NIL,
			   *movements = NIL;
	char	   *best,
			   *best_cite,
			   *worst,
			   *worst_cite;
	double		lifecycle_total = 0;
	double		lifecycle_count = jlen(lifecycle);
	char	   *currency = etop_jsonb_text(jobj(in, "settings"), "currency");
	ListCell   *lc;

	if (!JB_ROOT_IS_OBJECT(input) || client == NULL || name == NULL || period == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("narrative input must be an object with client.name and period"),
				 errhint("Pass the result of etop.narrative_input(client_id, as_of).")));
	if (prev_period == NULL)
		prev_period = "the previous quarter";

	/* ---- paragraph 1: overall health ---- */
	initStringInfo(&p1);
	{
		char	   *s = score_text(std),
				   *r = score_text(risk),
				   *e = score_text(exp);
		char	   *level = etop_jsonb_text(risk, "level");

		List	   *scored = NIL,
				   *unscored = NIL;

		if (s)
			scored = lappend(scored, psprintf("%s for standards compliance", s));
		else
			unscored = lappend(unscored, "standards compliance");
		if (r)
			scored = lappend(scored, psprintf("%s for risk (%s risk; lower is better)", r,
											  level ? level : "unrated"));
		else
			unscored = lappend(unscored, "risk");
		if (e)
			scored = lappend(scored, psprintf("%s for service experience", e));
		else
			unscored = lappend(unscored, "service experience");
		if (scored != NIL)
		{
			appendStringInfo(&p1, "In %s, %s's IT environment scored ", period, name);
			foreach(lc, scored)
				appendStringInfo(&p1, "%s%s",
								 lc == list_head(scored) ? "" :
								 (lnext(scored, lc) ? ", " : " and "), (char *) lfirst(lc));
			appendStringInfoChar(&p1, '.');
		}
		else
			appendStringInfo(&p1, "In %s, etop did not yet hold enough data about %s's IT environment "
							 "to score it.", period, name);
		if (scored != NIL && unscored != NIL)
		{
			appendStringInfoString(&p1, " Not enough data yet to score ");
			foreach(lc, unscored)
				appendStringInfo(&p1, "%s%s",
								 lc == list_head(unscored) ? "" :
								 (lnext(unscored, lc) ? ", " : " or "), (char *) lfirst(lc));
			appendStringInfoChar(&p1, '.');
		}
		for (int k = 0; k < 3; k++)
		{
			JsonbContainer *sc = k == 0 ? std : (k == 1 ? risk : exp);
			char	   *m = etop_jsonb_text(jobj(sc, "movement"), "text");

			if (m)
				movements = lappend(movements, m);
		}
		if (movements != NIL)
		{
			appendStringInfoString(&p1, " Movement since last quarter: ");
			foreach(lc, movements)
				appendStringInfo(&p1, "%s%s", lc == list_head(movements) ? "" : "; ",
								 (char *) lfirst(lc));
			appendStringInfoChar(&p1, '.');
		}
		best_and_worst(scores, &best, &best_cite, &worst, &worst_cite);
		if (best && worst && strcmp(best, worst) != 0)
			appendStringInfo(&p1, " The strongest area was %s \u2014 %s; the weakest was %s \u2014 %s.",
							 label_of(best), best_cite ? best_cite : "see the dashboard",
							 label_of(worst), worst_cite ? worst_cite : "see the dashboard");
	}

	/* ---- paragraph 2: the biggest win ---- */
	initStringInfo(&p2);
	if (first_with(mitigated, "title") >= 0)
	{
		char	   *t = jat_text(mitigated, first_with(mitigated, "title"), "title");

		appendStringInfo(&p2, "The biggest win this quarter was closing the risk \"%s\" [Risk: %s]", t, t);
		if (jlen(mitigated) > 1)
			appendStringInfo(&p2, ", one of %d risks mitigated in %s", jlen(mitigated), period);
		appendStringInfoString(&p2, ", which directly lowers the chance of a costly incident.");
		for (int i = 0; i < jlen(mitigated) && list_length(wins) < 3; i++)
		{
			char	   *w = jat_text(mitigated, i, "title");

			if (w)
				wins = lappend(wins, psprintf("Closed the risk \"%s\" [Risk: %s]", w, w));
		}
	}
	else if (best && best_cite)
		appendStringInfo(&p2, "The biggest win this quarter was %s: %s.", label_of(best), best_cite);
	else
		appendStringInfoString(&p2, "There is not yet enough history to single out a win this quarter.");
	{
		char	   *sla = component_citation(exp, "sla_performance");
		double		sla_score;
		JsonbContainer *slac = jobj(jobj(exp, "breakdown"), "sla_performance");

		if (sla && jnum(slac, "score", &sla_score) && sla_score >= 85)
		{
			appendStringInfo(&p2, " The service desk kept its promises: %s.", sla);
			wins = lappend(wins, psprintf("Service desk: %s", sla));
		}
	}
	for (int i = 0; i < jlen(passing) && list_length(wins) < 5; i++)
	{
		char	   *pname = jat_str(passing, i);

		CHECK_FOR_INTERRUPTS();
		if (pname)
			wins = lappend(wins, psprintf("Microsoft 365 policy in place: [Policy: %s]", pname));
	}
	if (best && best_cite && list_length(wins) < 5)
		wins = lappend(wins, psprintf("Strongest area, %s: %s", label_of(best), best_cite));

	/* ---- recommendations, from the evidence ---- */
	for (int i = 0; i < jlen(top_risks) && list_length(recs) < 3; i++)
	{
		JsonbContainer *r = jat(top_risks, i);
		char	   *t = etop_jsonb_text(r, "title");
		char	   *mit = etop_jsonb_text(r, "mitigation");
		char	   *impact = etop_jsonb_text(r, "business_impact");
		char	   *type = etop_jsonb_text(r, "risk_type");
		char	   *sev = etop_jsonb_text(r, "severity");
		double		rank = 0;
		Rec		   *rec;

		CHECK_FOR_INTERRUPTS();
		if (t == NULL)
			continue;			/* a risk without a title cannot be cited */
		rec = palloc0(sizeof(Rec));
		jnum(r, "rank_score", &rank);
		rec->title = mit ? mit : psprintf("Mitigate: %s", t);
		rec->description = psprintf("Open risk \"%s\"%s%s", t, impact ? ": " : ".",
									impact ? impact : "");
		rec->priority = (rank >= 6 || (sev && strcmp(sev, "critical") == 0)) ? "high"
			: (rank >= 3 ? "medium" : "low");
		rec->effort = (type && (strcmp(type, "identity") == 0 || strcmp(type, "email") == 0))
			? "low" : "medium";
		rec->cost_range = (type && strcmp(type, "identity") == 0) ? "$0-1K" : "$1-5K";
		rec->evidence = list_make1(psprintf("[Risk: %s]", t));
		recs = lappend(recs, rec);
	}
	if (jlen(lifecycle) > 0)
	{
		Rec		   *rec = palloc0(sizeof(Rec));
		double		n_total = jlen(lifecycle);
		double		oldest = 0;

		jnum(in, "lifecycle_total", &n_total);
		lifecycle_count = n_total;
		for (int i = 0; i < jlen(lifecycle); i++)
		{
			double		c = 0;

			CHECK_FOR_INTERRUPTS();
			jnum(jat(lifecycle, i), "replacement_cost", &c);
			lifecycle_total += c;
		}
		jnum(jat(lifecycle, 0), "age_years", &oldest);
		rec->title = psprintf("Replace %.0f aging device%s", n_total, n_total == 1 ? "" : "s");
		rec->description = psprintf("%.0f device%s are past their planned lifecycle (the oldest is %.1f years old); "
									"replacing them avoids failures and unsupported software. "
									"Estimated replacement cost of the %d oldest: %s.",
									n_total, n_total == 1 ? " is" : "s", oldest, jlen(lifecycle),
									money(currency, lifecycle_total));
		rec->priority = oldest >= 6 ? "high" : "medium";
		rec->effort = "medium";
		rec->cost_range = cost_bucket(lifecycle_total);
		for (int i = 0; i < jlen(lifecycle) && list_length(rec->evidence) < 3; i++)
		{
			char	   *dev = jat_text(lifecycle, i, "name");

			CHECK_FOR_INTERRUPTS();
			if (dev)
				rec->evidence = lappend(rec->evidence, psprintf("[Device: %s]", dev));
		}
		if (rec->evidence != NIL)
			recs = lappend(recs, rec);
	}
	if (jlen(failing) > 0)
	{
		Rec		   *rec = palloc0(sizeof(Rec));
		StringInfoData d;
		bool		mfa = false;

		initStringInfo(&d);
		appendStringInfoString(&d, "These Microsoft Secure Score controls are not in place: ");
		/* the first three with a title (an entry without one cannot be cited) */
		for (int i = 0; i < jlen(failing) && list_length(rec->evidence) < 3; i++)
		{
			char	   *t = jat_text(failing, i, "title");

			CHECK_FOR_INTERRUPTS();
			if (t == NULL)
				continue;
			appendStringInfo(&d, "%s%s", rec->evidence ? ", " : "", t);
			rec->evidence = lappend(rec->evidence, psprintf("[Policy: %s]", t));
			if (strstr(t, "MFA") != NULL)
				mfa = true;
		}
		appendStringInfoString(&d, ". Each is a configuration change with no hardware cost.");
		rec->title = "Close Microsoft 365 security gaps";
		rec->description = d.data;
		rec->priority = mfa ? "high" : "medium";
		rec->effort = "low";
		rec->cost_range = "$0-1K";
		if (rec->evidence != NIL)
			recs = lappend(recs, rec);
	}
	{
		JsonbContainer *pc = jobj(jobj(std, "breakdown"), "patch_compliance");
		JsonbContainer *names = jobj(jobj(pc, "evidence"), "unpatched_devices");
		char	   *cite = component_citation(std, "patch_compliance");
		double		s = 100;

		if (jlen(names) > 0 && cite && jnum(pc, "score", &s) && s < 95 && list_length(recs) < 7)
		{
			Rec		   *rec = palloc0(sizeof(Rec));

			rec->title = "Bring unpatched devices up to date";
			rec->description = psprintf("%s. Unpatched devices are the most common way attackers get in.",
										cite);
			rec->priority = s < 80 ? "high" : "medium";
			rec->effort = "low";
			rec->cost_range = "$0-1K";
			for (int i = 0; i < jlen(names) && list_length(rec->evidence) < 3; i++)
			{
				char	   *dev = jat_str(names, i);

				CHECK_FOR_INTERRUPTS();
				if (dev)
					rec->evidence = lappend(rec->evidence, psprintf("[Device: %s]", dev));
			}
			if (rec->evidence != NIL)
				recs = lappend(recs, rec);
		}
	}
	if (jlen(categories) > 0 && list_length(recs) < 7 &&
		jat_text(categories, 0, "category") && jat_text(categories, 0, "tickets") &&
		jat_text(categories, 0, "example_ticket"))
	{
		JsonbContainer *k = jat(categories, 0);
		char	   *cat = etop_jsonb_text(k, "category");
		char	   *n = etop_jsonb_text(k, "tickets");
		char	   *ex = etop_jsonb_text(k, "example_ticket");
		Rec		   *rec = palloc0(sizeof(Rec));

		rec->title = psprintf("Reduce \"%s\" tickets", cat);
		rec->description = psprintf("%s was the most common request in %s (%s tickets). "
									"Self-service, training or automation can remove most of them.",
									cat, period, n);
		rec->priority = "low";
		rec->effort = "low";
		rec->cost_range = "$0-1K";
		rec->evidence = list_make1(psprintf("[Ticket #%s]", ex));
		recs = lappend(recs, rec);
	}
	/* planned roadmap items that already carry evidence fill up to seven */
	for (int i = 0; i < jlen(planned) && list_length(recs) < 7; i++)
	{
		JsonbContainer *p = jat(planned, i);
		JsonbContainer *ev = jobj(p, "evidence");
		Rec		   *rec;

		CHECK_FOR_INTERRUPTS();
		if (jlen(ev) == 0 || etop_jsonb_text(p, "title") == NULL)
			continue;
		rec = palloc0(sizeof(Rec));
		rec->title = etop_jsonb_text(p, "title");
		rec->description = etop_jsonb_text(p, "description");
		rec->priority = etop_jsonb_text(p, "priority");
		rec->effort = etop_jsonb_text(p, "effort");
		rec->cost_range = etop_jsonb_text(p, "cost_range");
		/* only string evidence, and at most NARRATIVE_MAX_EVIDENCE of it */
		for (int j = 0; j < jlen(ev) && list_length(rec->evidence) < NARRATIVE_MAX_EVIDENCE; j++)
		{
			char	   *e = jat_str(ev, j);

			CHECK_FOR_INTERRUPTS();
			if (e)
				rec->evidence = lappend(rec->evidence, e);
		}
		if (rec->evidence != NIL)
			recs = lappend(recs, rec);
	}

	/* ---- paragraph 3: the top priority ---- */
	initStringInfo(&p3);
	if (first_with(top_risks, "title") >= 0)
	{
		JsonbContainer *r = jat(top_risks, first_with(top_risks, "title"));
		char	   *t = etop_jsonb_text(r, "title");
		char	   *impact = etop_jsonb_text(r, "business_impact");
		char	   *mit = etop_jsonb_text(r, "mitigation");

		appendStringInfo(&p3, "The top priority for next quarter is \"%s\" [Risk: %s].", t, t);
		if (impact)
			appendStringInfo(&p3, " Why it matters: %s", impact);
		if (mit)
			appendStringInfo(&p3, " Recommended action: %s%s", mit,
							 mit[0] && mit[strlen(mit) - 1] == '.' ? "" : ".");
	}
	else if (first_with(lifecycle, "name") >= 0)
		appendStringInfo(&p3, "The top priority for next quarter is replacing aging hardware, starting with "
						 "[Device: %s], before failures interrupt work.",
						 jat_text(lifecycle, first_with(lifecycle, "name"), "name"));
	else if (first_with(failing, "title") >= 0)
	{
		char	   *t = jat_text(failing, first_with(failing, "title"), "title");

		appendStringInfo(&p3, "The top priority for next quarter is closing the gap in [Policy: %s], "
						 "a low-cost change that reduces the risk of account takeover.", t);
	}
	else
		appendStringInfoString(&p3, "No open risk stands out; next quarter's priority is to keep "
							   "today's standards in place and review the roadmap together.");

	/* ---- trends ---- */
	initStringInfo(&trends);
	{
		JsonbContainer *tc = jobj(jobj(jobj(exp, "breakdown"), "tickets_per_user_trend"), "evidence");
		JsonbContainer *tcites = jobj(tc, "citations");
		char	   *sla = component_citation(exp, "sla_performance");

		if (jlen(tcites) >= 3 && jat_str(tcites, 0) && jat_str(tcites, 1) && jat_str(tcites, 2))
			appendStringInfo(&trends, "Ticket volume per user: %s, %s (%s). ",
							 jat_str(tcites, 0), jat_str(tcites, 1), jat_str(tcites, 2));
		else
			appendStringInfo(&trends, "There is no ticket history for %s to compare with. ", prev_period);
		if (sla)
			appendStringInfo(&trends, "SLA: %s. ", sla);
		if (first_with(categories, "example_ticket") >= 0)
		{
			int			written = 0;

			appendStringInfo(&trends, "Most common requests in %s: ", period);
			for (int i = 0; i < jlen(categories); i++)
			{
				JsonbContainer *k = jat(categories, i);
				char	   *cat = etop_jsonb_text(k, "category");
				char	   *n = etop_jsonb_text(k, "tickets");
				char	   *ex = etop_jsonb_text(k, "example_ticket");

				CHECK_FOR_INTERRUPTS();
				if (cat == NULL || n == NULL || ex == NULL)
					continue;
				appendStringInfo(&trends, "%s%s (%s tickets, e.g. [Ticket #%s])", written++ ? "; " : "",
								 cat, n, ex);
			}
			appendStringInfoString(&trends, ". ");
		}
		if (movements != NIL)
		{
			appendStringInfo(&trends, "Scores against %s: ", prev_period);
			foreach(lc, movements)
				appendStringInfo(&trends, "%s%s", lc == list_head(movements) ? "" : "; ",
								 (char *) lfirst(lc));
			appendStringInfoChar(&trends, '.');
		}
		else
			appendStringInfo(&trends, "No score snapshot exists for %s yet, so movement will be "
							 "reported from next quarter on.", prev_period);
	}

	/* ---- discussion points (3-5) ---- */
	if (first_with(top_risks, "title") >= 0)
	{
		char	   *t = jat_text(top_risks, first_with(top_risks, "title"), "title");

		points = lappend(points, psprintf("Decide how to handle \"%s\" [Risk: %s] and who owns it.", t, t));
	}
	if (first_with(lifecycle, "name") >= 0)
		points = lappend(points, psprintf("Agree a hardware refresh budget: %.0f device%s past lifecycle, "
										  "starting with [Device: %s].", lifecycle_count,
										  lifecycle_count == 1 ? "" : "s",
										  jat_text(lifecycle, first_with(lifecycle, "name"), "name")));
	if (worst)
		points = lappend(points, psprintf("Review %s, the weakest area this quarter%s%s.",
										  label_of(worst), worst_cite ? ": " : "",
										  worst_cite ? worst_cite : ""));
	points = lappend(points, pstrdup("Business changes coming up (hires, offices, new applications, "
									 "compliance deadlines) that IT should plan for."));
	if (list_length(points) < 5)
		points = lappend(points, psprintf("Confirm the roadmap priorities for the quarter after %s.", period));
	if (list_length(points) < 3)
		points = lappend(points, pstrdup("Which systems etop should collect data from, so that next "
										 "quarter's review can score every area."));

	/* ---- assemble ---- */
	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	json_kv(&out, "provider", "offline", true);
	appendStringInfoString(&out, "\"executive_summary\": ");
	{
		char	   *summary = psprintf("%s\n\n%s\n\n%s", p1.data, p2.data, p3.data);

		escape_json(&out, summary);
	}
	appendStringInfoString(&out, ", ");
	json_kv(&out, "trends", trends.data, true);
	appendStringInfoString(&out, "\"recommendations\": [");
	foreach(lc, recs)
	{
		Rec		   *r = lfirst(lc);

		if (lc != list_head(recs))
			appendStringInfoString(&out, ", ");
		appendStringInfoChar(&out, '{');
		json_kv(&out, "title", r->title, true);
		json_kv(&out, "description", r->description, true);
		json_kv(&out, "priority", r->priority, true);
		json_kv(&out, "effort", r->effort, true);
		json_kv(&out, "cost_range", r->cost_range, true);
		appendStringInfoString(&out, "\"evidence\": ");
		json_strings(&out, r->evidence);
		appendStringInfoChar(&out, '}');
	}
	appendStringInfoString(&out, "], \"discussion_points\": ");
	json_strings(&out, points);
	appendStringInfoString(&out, ", \"wins\": ");
	json_strings(&out, wins);
	appendStringInfoChar(&out, '}');

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
