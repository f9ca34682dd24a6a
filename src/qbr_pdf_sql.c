/*
 * qbr_pdf_sql.c — etop.qbr_render_doc(doc jsonb) RETURNS bytea.
 *
 * Parses a QBR document (docs/qbr-document.md) into the plain structs of
 * etop/qbr_pdf.h, palloc'd in the current memory context, and hands it to
 * the pure renderer (qbr_pdf.c).  A malformed document is reported with the
 * path of the offending field; renderer failures become ordinary errors.
 * The renderer never calls back into PostgreSQL (except to read the
 * cancel flags), so no ereport can fire while libharu holds memory.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "common/base64.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "etop/qbr_layout.h"
#include "etop/etop.h"
#include "etop/qbr_pdf.h"
#include "etop/qbr_pdf_sql.h"

PG_FUNCTION_INFO_V1(etop_qbr_render_doc);

#define DOC_HINT "The QBR document format is described in docs/qbr-document.md."

/* "base.key", or just "key" at the top level; for error messages only */
static char *
path_of(const char *base, const char *key)
{
	if (base == NULL || base[0] == '\0')
		return pstrdup(key);
	if (key == NULL)
		return pstrdup(base);
	return psprintf("%s.%s", base, key);
}

static const char *
type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "an object" : "an array";
		default:
			break;
	}
	return "an unexpected value";
}

static void
bad_type(const char *base, const char *key, const char *want, const JsonbValue *found)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid QBR document: \"%s\" must be %s", path_of(base, key), want),
			 errdetail("Found %s.", type_name(found)),
			 errhint(DOC_HINT)));
}

static void
bad_value(const char *base, const char *key, const char *want, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid QBR document: \"%s\" must be %s", path_of(base, key), want),
			 detail ? errdetail("%s", detail) : 0,
			 errhint(DOC_HINT)));
}

/*
 * Refuses keys the format does not know, so a typo ("risk" for "risks")
 * is an error instead of a silently empty section.
 */
static void
check_keys(JsonbContainer *obj, const char *base, const char *const *allowed)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *const *a;
		StringInfoData list;

		CHECK_FOR_INTERRUPTS();
		if (tok != WJB_KEY)
			continue;
		for (a = allowed; *a; a++)
			if (strlen(*a) == (size_t) v.val.string.len &&
				memcmp(*a, v.val.string.val, v.val.string.len) == 0)
				break;
		if (*a)
			continue;
		initStringInfo(&list);
		for (a = allowed; *a; a++)
			appendStringInfo(&list, "%s%s", a == allowed ? "" : ", ", *a);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid QBR document: unknown key \"%s\"",
						path_of(base, pnstrdup(v.val.string.val, v.val.string.len))),
				 errdetail("%s may have these keys: %s.",
						   base[0] ? psprintf("\"%s\"", base) : "The document", list.data),
				 errhint(DOC_HINT)));
	}
}

/* The value at key, or NULL when it is absent or JSON null. */
static JsonbValue *
get(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);

	if (v != NULL && v->type == jbvNull)
		return NULL;
	return v;
}

static JsonbContainer *
as_object(JsonbValue *v, const char *base, const char *key)
{
	if (v == NULL)
		return NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		bad_type(base, key, "an object", v);
	return v->val.binary.data;
}

static JsonbContainer *
get_object(JsonbContainer *obj, const char *base, const char *key)
{
	return as_object(get(obj, key), base, key);
}

/* An array (its container and size), or NULL with *n = 0 when absent. */
static JsonbContainer *
get_array(JsonbContainer *obj, const char *base, const char *key, int *n)
{
	JsonbValue *v = get(obj, key);

	*n = 0;
	if (v == NULL)
		return NULL;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		bad_type(base, key, "an array", v);
	*n = (int) JsonContainerSize(v->val.binary.data);
	if (*n > QBR_DOC_MAX_ITEMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid QBR document: \"%s\" has %d elements; at most %d are allowed",
						path_of(base, key), *n, QBR_DOC_MAX_ITEMS),
				 errhint(DOC_HINT)));
	return v->val.binary.data;
}

/* A JSON string (numbers are accepted and printed) as UTF-8, or NULL. */
static const char *
as_string(JsonbValue *v, const char *base, const char *key)
{
	char	   *s;
	int			len;

	if (v == NULL)
		return NULL;
	if (v->type == jbvNumeric)
		s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	else if (v->type == jbvString)
	{
		if (v->val.string.len > QBR_DOC_MAX_TEXT && !(key && strcmp(key, "logo_png") == 0))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("invalid QBR document: \"%s\" is %d bytes long; a text may have at most %d",
							path_of(base, key), v->val.string.len, QBR_DOC_MAX_TEXT),
					 errhint(DOC_HINT)));
		s = pnstrdup(v->val.string.val, v->val.string.len);
	}
	else
	{
		bad_type(base, key, "a string", v);
		return NULL;
	}
	len = (int) strlen(s);
	return pg_server_to_any(s, len, PG_UTF8);
}

static const char *
get_string(JsonbContainer *obj, const char *base, const char *key)
{
	return as_string(get(obj, key), base, key);
}

static const char *
get_required_string(JsonbContainer *obj, const char *base, const char *key)
{
	const char *s = get_string(obj, base, key);
	const char *p;

	for (p = s; p && *p; p++)
		if ((unsigned char) *p > ' ')
			return s;
	bad_value(base, key, "a non-empty string", NULL);
	return NULL;
}

/* A number within [lo, hi]; false when absent. */
static bool
get_number(JsonbContainer *obj, const char *base, const char *key,
		   double lo, double hi, const char *want, double *out)
{
	JsonbValue *v = get(obj, key);
	double		d;

	if (v == NULL)
		return false;
	if (v->type != jbvNumeric)
		bad_type(base, key, want, v);
	/* numeric_float8() raises its own error for 1e400: this one names the field */
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (!isfinite(d))
		bad_value(base, key, want, "Found a number out of range.");
	if (d < lo || d > hi)
		bad_value(base, key, want,
				  psprintf("Found %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(v->val.numeric)))));
	*out = d;
	return true;
}

/* A count: a whole number >= 0; -1 when absent. */
static long
get_count(JsonbContainer *obj, const char *base, const char *key)
{
	double		d;

	if (!get_number(obj, base, key, 0, 1e15, "a whole number of at least 0", &d))
		return -1;
	if (d != floor(d))
		bad_value(base, key, "a whole number of at least 0", psprintf("Found %g.", d));
	return (long) d;
}

static void
get_score(JsonbContainer *obj, const char *base, const char *key, bool *present, double *score)
{
	*present = get_number(obj, base, key, 0, 100, "a number from 0 to 100, or null", score);
}

static bool
get_bool(JsonbContainer *obj, const char *base, const char *key)
{
	JsonbValue *v = get(obj, key);

	if (v == NULL)
		return false;
	if (v->type != jbvBool)
		bad_type(base, key, "true or false", v);
	return v->val.boolean;
}

static char *
elem_path(const char *base, const char *key, int i)
{
	return psprintf("%s[%d]", path_of(base, key), i);
}

/* An array of strings (nulls skipped); *n is how many were kept. */
static const char **
get_strings(JsonbContainer *obj, const char *base, const char *key, int *n)
{
	int			size,
				i;
	JsonbContainer *arr = get_array(obj, base, key, &size);
	const char **out;

	*n = 0;
	if (arr == NULL || size == 0)
		return NULL;
	out = palloc(sizeof(char *) * size);
	for (i = 0; i < size; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

		CHECK_FOR_INTERRUPTS();
		if (v->type == jbvNull)
			continue;
		out[(*n)++] = as_string(v, elem_path(base, key, i), NULL);
	}
	return out;
}

/*
 * Calls fn for each object in the array at key (null elements skipped); fn
 * parses one element (whose path is given for messages) into the next slot
 * of the returned array.
 */
typedef void (*ElemFn) (JsonbContainer *obj, const char *path, void *out);

static void *
get_objects(JsonbContainer *obj, const char *base, const char *key, size_t elemsize,
			ElemFn fn, int *n)
{
	int			size,
				i;
	JsonbContainer *arr = get_array(obj, base, key, &size);
	char	   *out;

	*n = 0;
	if (arr == NULL || size == 0)
		return NULL;
	out = palloc0(elemsize * size);
	for (i = 0; i < size; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, i);
		char	   *path;

		CHECK_FOR_INTERRUPTS();
		if (v->type == jbvNull)
			continue;			/* null elements are skipped, as absent */
		path = elem_path(base, key, i);
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			bad_type(path, NULL, "an object", v);
		fn(v->val.binary.data, path, out + elemsize * (*n)++);
	}
	return out;
}

/* ------------------------------------------------------ the parts */

static void
parse_recommendation(JsonbContainer *o, const char *path, void *out)
{
	static const char *const keys[] = {"title", "description", "priority", "effort",
	"cost_range", "evidence", NULL};
	QbrRecommendation *r = (QbrRecommendation *) out;

	check_keys(o, path, keys);
	r->title = get_string(o, path, "title");
	r->description = get_string(o, path, "description");
	r->priority = get_string(o, path, "priority");
	r->effort = get_string(o, path, "effort");
	r->cost_range = get_string(o, path, "cost_range");
	r->evidence = get_strings(o, path, "evidence", &r->n_evidence);
}

static void
parse_risk(JsonbContainer *o, const char *path, void *out)
{
	static const char *const keys[] = {"title", "business_impact", "status", "mitigation",
	"likelihood", "impact", NULL};
	QbrRisk    *r = (QbrRisk *) out;

	check_keys(o, path, keys);
	r->title = get_string(o, path, "title");
	r->business_impact = get_string(o, path, "business_impact");
	r->status = get_string(o, path, "status");
	r->mitigation = get_string(o, path, "mitigation");
	r->likelihood = get_string(o, path, "likelihood");
	r->impact = get_string(o, path, "impact");
}

static void
parse_month(JsonbContainer *o, const char *path, void *out)
{
	static const char *const keys[] = {"month", "count", NULL};
	QbrMonthCount *m = (QbrMonthCount *) out;

	check_keys(o, path, keys);
	m->month = get_required_string(o, path, "month");
	m->count = get_count(o, path, "count");
	if (m->count < 0)
		m->count = 0;
}

static void
parse_device(JsonbContainer *o, const char *path, void *out)
{
	static const char *const keys[] = {"name", "type", "model", "age_years",
	"warranty_expires", NULL};
	QbrDevice  *d = (QbrDevice *) out;

	check_keys(o, path, keys);
	d->name = get_string(o, path, "name");
	d->type = get_string(o, path, "type");
	d->model = get_string(o, path, "model");
	d->has_age = get_number(o, path, "age_years", 0, 200, "a number of years (0 or more)",
							&d->age_years);
	d->warranty_expires = get_string(o, path, "warranty_expires");
}

static void
parse_roadmap_item(JsonbContainer *o, const char *path, void *out)
{
	static const char *const keys[] = {"title", "priority", "cost_range", NULL};
	QbrRoadmapItem *r = (QbrRoadmapItem *) out;

	check_keys(o, path, keys);
	r->title = get_string(o, path, "title");
	r->priority = get_string(o, path, "priority");
	r->cost_range = get_string(o, path, "cost_range");
}

static void
parse_action(JsonbContainer *o, const char *path, void *out)
{
	static const char *const keys[] = {"action", "owner", "due_date", NULL};
	QbrAction  *a = (QbrAction *) out;

	check_keys(o, path, keys);
	a->action = get_required_string(o, path, "action");
	a->owner = get_string(o, path, "owner");
	a->due_date = get_string(o, path, "due_date");
}

static void
parse_score(JsonbContainer *scores, const char *key, QbrScore *s)
{
	static const char *const keys[] = {"score", "movement", NULL};
	char	   *path = path_of("scores", key);
	JsonbContainer *o = get_object(scores, "scores", key);

	if (o == NULL)
		return;
	check_keys(o, path, keys);
	get_score(o, path, "score", &s->present, &s->score);
	s->movement = get_string(o, path, "movement");
}

static void
parse_security_area(JsonbContainer *security, const char *key, QbrSecurityArea *a)
{
	static const char *const keys[] = {"score", "summary", "citations", NULL};
	char	   *path = path_of("security", key);
	JsonbContainer *o = get_object(security, "security", key);

	if (o == NULL)
		return;
	check_keys(o, path, keys);
	get_score(o, path, "score", &a->present, &a->score);
	a->summary = get_string(o, path, "summary");
	a->citations = get_strings(o, path, "citations", &a->n_citations);
}

/* "data:image/png;base64,...." or plain base64 to bytes */
static void
parse_logo(JsonbContainer *msp, QbrDocument *doc)
{
	const char *b64 = get_string(msp, "msp", "logo_png");
	const char *comma;
	int			len,
				maxlen,
				got;
	char	   *bytes;

	if (b64 == NULL || b64[0] == '\0')
		return;
	if (strncmp(b64, "data:", 5) == 0 && (comma = strchr(b64, ',')) != NULL)
		b64 = comma + 1;
	/* line breaks (as encode(..., 'base64') writes them) are fine */
	{
		char	   *clean = palloc(strlen(b64) + 1);
		char	   *o = clean;
		const char *p;

		for (p = b64; *p; p++)
			if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
				*o++ = *p;
		*o = '\0';
		b64 = clean;
	}
	len = (int) strlen(b64);
	if (len > (QBR_LOGO_MAX_BYTES / 3 + 1) * 4 + len / 76 * 2 + 16)
		bad_value("msp", "logo_png", "a PNG image of at most 4 MB, base64-encoded",
				  psprintf("Found %d characters of base64.", len));
	maxlen = pg_b64_dec_len(len);
	bytes = palloc(maxlen + 1);
	got = pg_b64_decode(b64, len, bytes, maxlen);
	if (got < 0)
		bad_value("msp", "logo_png", "a base64-encoded PNG image", "It is not valid base64.");
	doc->logo_png = (const unsigned char *) bytes;
	doc->logo_png_len = (size_t) got;
}

static void
parse_document(JsonbContainer *root, QbrDocument *doc)
{
	static const char *const top_keys[] = {"version", "client", "period", "as_of", "msp",
		"draft", "page_size", "scores", "narrative", "risks", "wins", "service", "security",
	"lifecycle", "roadmap", "outcome_plan", NULL};
	static const char *const client_keys[] = {"id", "name", "segment", "industry", NULL};
	static const char *const msp_keys[] = {"name", "accent_color", "logo_png", NULL};
	static const char *const score_keys[] = {"standards", "risk", "experience", NULL};
	static const char *const service_keys[] = {"tickets_per_month", "sla_met", "sla_total",
	"reopened", "total", "after_hours", NULL};
	static const char *const security_keys[] = {"identity", "email", "endpoint", NULL};
	static const char *const lifecycle_keys[] = {"devices", "budget", "currency", NULL};
	static const char *const budget_keys[] = {"m12", "m24", "m36", NULL};
	static const char *const roadmap_keys[] = {"now", "next", "later", NULL};
	JsonbContainer *o,
			   *o2;
	JsonbValue *v;
	const char *s;
	double		version;
	int			i;

	qbr_document_init(doc);
	check_keys(root, "", top_keys);
	get_number(root, "", "version", 1, 1, "1 (the only version so far)", &version);

	o = get_object(root, "", "client");
	if (o == NULL)
		bad_value("", "client", "an object with at least a name", "It is missing.");
	check_keys(o, "client", client_keys);
	doc->client_name = get_required_string(o, "client", "name");
	doc->client_segment = get_string(o, "client", "segment");
	doc->client_industry = get_string(o, "client", "industry");
	doc->period = get_required_string(root, "", "period");
	doc->as_of = get_string(root, "", "as_of");
	doc->draft = get_bool(root, "", "draft");
	s = get_string(root, "", "page_size");
	if (s != NULL)
	{
		if (pg_strcasecmp(s, "a4") == 0)
			doc->page_size = QBR_PAGE_A4;
		else if (pg_strcasecmp(s, "letter") != 0)
			bad_value("", "page_size", "\"letter\" or \"a4\"", psprintf("Found \"%s\".", s));
	}

	if ((o = get_object(root, "", "msp")) != NULL)
	{
		check_keys(o, "msp", msp_keys);
		doc->msp_name = get_string(o, "msp", "name");
		s = get_string(o, "msp", "accent_color");
		if (s != NULL && !qbr_parse_color(s, doc->accent))
			bad_value("msp", "accent_color", "a colour written as \"#RRGGBB\"",
					  psprintf("Found \"%s\".", s));
		parse_logo(o, doc);
	}

	if ((o = get_object(root, "", "scores")) != NULL)
	{
		check_keys(o, "scores", score_keys);
		parse_score(o, "standards", &doc->standards);
		parse_score(o, "risk", &doc->risk);
		parse_score(o, "experience", &doc->experience);
	}

	if ((o = get_object(root, "", "narrative")) != NULL)
	{
		/*
		 * No check_keys here: the narrative is passed on as the provider
		 * wrote it (etop.narrative_offline() adds "provider" and "wins",
		 * an LLM may add more); unknown keys are ignored.
		 */
		v = get(o, "executive_summary");
		if (v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
		{
			/* paragraphs as an array of strings */
			int			n;
			const char **paras = get_strings(o, "narrative", "executive_summary", &n);
			StringInfoData buf;

			initStringInfo(&buf);
			for (i = 0; i < n; i++)
			{
				CHECK_FOR_INTERRUPTS();
				appendStringInfo(&buf, "%s%s", i ? "\n" : "", paras[i]);
			}
			doc->executive_summary = buf.data;
		}
		else
			doc->executive_summary = as_string(v, "narrative", "executive_summary");
		doc->trends = get_string(o, "narrative", "trends");
		doc->recommendations = get_objects(o, "narrative", "recommendations",
										   sizeof(QbrRecommendation), parse_recommendation,
										   &doc->n_recommendations);
		doc->discussion_points = get_strings(o, "narrative", "discussion_points",
											 &doc->n_discussion_points);
	}

	doc->risks = get_objects(root, "", "risks", sizeof(QbrRisk), parse_risk, &doc->n_risks);
	if (get(root, "wins") != NULL)
		doc->wins = get_strings(root, "", "wins", &doc->n_wins);
	else if ((o = get_object(root, "", "narrative")) != NULL)
		doc->wins = get_strings(o, "narrative", "wins", &doc->n_wins);

	if ((o = get_object(root, "", "service")) != NULL)
	{
		check_keys(o, "service", service_keys);
		doc->service.months = get_objects(o, "service", "tickets_per_month",
										  sizeof(QbrMonthCount), parse_month,
										  &doc->service.n_months);
		doc->service.sla_met = get_count(o, "service", "sla_met");
		doc->service.sla_total = get_count(o, "service", "sla_total");
		doc->service.reopened = get_count(o, "service", "reopened");
		doc->service.total = get_count(o, "service", "total");
		doc->service.after_hours = get_count(o, "service", "after_hours");
		if (doc->service.sla_met > doc->service.sla_total && doc->service.sla_total >= 0)
			bad_value("service", "sla_met", "at most \"service.sla_total\"", NULL);
	}

	if ((o = get_object(root, "", "security")) != NULL)
	{
		check_keys(o, "security", security_keys);
		parse_security_area(o, "identity", &doc->identity);
		parse_security_area(o, "email", &doc->email);
		parse_security_area(o, "endpoint", &doc->endpoint);
	}

	if ((o = get_object(root, "", "lifecycle")) != NULL)
	{
		check_keys(o, "lifecycle", lifecycle_keys);
		doc->devices = get_objects(o, "lifecycle", "devices", sizeof(QbrDevice), parse_device,
								   &doc->n_devices);
		doc->currency = get_string(o, "lifecycle", "currency");
		if ((o2 = get_object(o, "lifecycle", "budget")) != NULL)
		{
			check_keys(o2, "lifecycle.budget", budget_keys);
			for (i = 0; i < 3; i++)
				doc->has_budget[i] = get_number(o2, "lifecycle.budget", budget_keys[i], 0, 1e15,
												"an amount of at least 0", &doc->budget[i]);
		}
	}

	if ((o = get_object(root, "", "roadmap")) != NULL)
	{
		check_keys(o, "roadmap", roadmap_keys);
		for (i = 0; i < 3; i++)
			doc->roadmap[i] = get_objects(o, "roadmap", roadmap_keys[i], sizeof(QbrRoadmapItem),
										  parse_roadmap_item, &doc->n_roadmap[i]);
	}

	doc->actions = get_objects(root, "", "outcome_plan", sizeof(QbrAction), parse_action,
							   &doc->n_actions);
}

/* ------------------------------------------------------ the function */

/*
 * A jsonb QBR document as a QbrDocument (see etop/qbr_pdf_sql.h); what
 * etop.qbr_render_doc() does before rendering.
 */
void
etop_qbr_parse_document(Jsonb *jb, QbrDocument *doc)
{
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid QBR document: it must be a JSON object"),
				 errhint(DOC_HINT)));
	parse_document(&jb->root, doc);
}

Datum
etop_qbr_render_doc(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	QbrDocument doc;
	QbrPdfOptions opts;
	QbrPdfResult res;
	bytea	   *out;

	etop_qbr_parse_document(jb, &doc);

	memset(&opts, 0, sizeof(opts));
	opts.cancel = etop_interrupt_pending;	/* reads the flags, never throws */

	switch (qbr_pdf_render(&doc, &opts, &res))
	{
		case QBR_PDF_OK:
			break;
		case QBR_PDF_ERR_FONT:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("%s", res.message),
					 res.detail[0] ? errdetail("%s", res.detail) : 0,
					 errhint("etop needs the DejaVu TrueType fonts in %s "
							 "(Debian package fonts-dejavu-core).", QBR_PDF_FONT_DIR)));
			break;
		case QBR_PDF_ERR_LOGO:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid QBR document: \"msp.logo_png\" is not a usable PNG image"),
					 res.detail[0] ? errdetail("%s", res.detail) : 0,
					 errhint("Give the logo as a base64-encoded PNG file, or null for none.")));
			break;
		case QBR_PDF_ERR_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while rendering the QBR PDF")));
			break;
		case QBR_PDF_ERR_CANCELLED:
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling QBR rendering")));
			break;
		case QBR_PDF_ERR_LIBHARU:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not render the QBR PDF: %s", res.message),
					 res.detail[0] ? errdetail("%s", res.detail) : 0));
			break;
	}

	/* copy into a bytea; the malloc'd buffer must be freed on every path */
	if (res.size > MaxAllocSize - VARHDRSZ)
	{
		size_t		size = res.size;

		qbr_pdf_result_free(&res);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the QBR PDF is too large (%zu bytes)", size)));
	}
	out = (bytea *) palloc_extended(VARHDRSZ + res.size, MCXT_ALLOC_NO_OOM);
	if (out == NULL)
	{
		qbr_pdf_result_free(&res);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while returning the QBR PDF")));
	}
	SET_VARSIZE(out, VARHDRSZ + res.size);
	memcpy(VARDATA(out), res.data, res.size);
	qbr_pdf_result_free(&res);
	PG_RETURN_BYTEA_P(out);
}
