/*
 * fuzz_qbr_document.c — the QBR document reader of etop.qbr_render_doc()
 * (etop_qbr_parse_document, src/qbr_pdf_sql.c) on any JSON.  Every string
 * and array of the QbrDocument it builds is read back in full, as the
 * renderer would, so AddressSanitizer checks each one's bounds; the counts
 * must be within the arrays and the limits of docs/qbr-document.md.
 */
#include "fuzz_pg.h"

#include "etop/qbr_pdf.h"
#include "etop/qbr_pdf_sql.h"

static void
check_count(int n, const void *arr, const char *what)
{
	if (n < 0 || n > QBR_DOC_MAX_ITEMS || (n > 0 && arr == NULL))
		fuzz_finding("%s: %d elements, array %p", what, n, arr);
}

static void
touch_strings(const char **s, int n, const char *what)
{
	check_count(n, s, what);
	for (int i = 0; i < n; i++)
		fuzz_touch(s[i]);
}

static void
run(Jsonb *jb, const char *text)
{
	QbrDocument d;
	const QbrScore *scores[] = {&d.standards, &d.risk, &d.experience};
	const QbrSecurityArea *areas[] = {&d.identity, &d.email, &d.endpoint};

	etop_qbr_parse_document(jb, &d);

	if (d.client_name == NULL || d.period == NULL)
		fuzz_finding("client.name and period are required, yet one is NULL");
	fuzz_touch(d.client_name);
	fuzz_touch(d.client_segment);
	fuzz_touch(d.client_industry);
	fuzz_touch(d.period);
	fuzz_touch(d.as_of);
	fuzz_touch(d.msp_name);
	if (d.logo_png_len > 0)
	{
		volatile unsigned char x = d.logo_png[0] ^ d.logo_png[d.logo_png_len - 1];

		(void) x;
	}
	for (int k = 0; k < 3; k++)
	{
		fuzz_touch(scores[k]->movement);
		if (scores[k]->present && !(scores[k]->score >= 0 && scores[k]->score <= 100))
			fuzz_finding("a score out of 0-100: %g", scores[k]->score);
		fuzz_touch(areas[k]->summary);
		touch_strings(areas[k]->citations, areas[k]->n_citations, "security citations");
		if (areas[k]->present && !(areas[k]->score >= 0 && areas[k]->score <= 100))
			fuzz_finding("a security score out of 0-100: %g", areas[k]->score);
	}
	fuzz_touch(d.executive_summary);
	fuzz_touch(d.trends);
	check_count(d.n_recommendations, d.recommendations, "recommendations");
	for (int i = 0; i < d.n_recommendations; i++)
	{
		const QbrRecommendation *r = &d.recommendations[i];

		fuzz_touch(r->title);
		fuzz_touch(r->description);
		fuzz_touch(r->priority);
		fuzz_touch(r->effort);
		fuzz_touch(r->cost_range);
		touch_strings(r->evidence, r->n_evidence, "evidence");
	}
	touch_strings(d.discussion_points, d.n_discussion_points, "discussion_points");
	check_count(d.n_risks, d.risks, "risks");
	for (int i = 0; i < d.n_risks; i++)
	{
		fuzz_touch(d.risks[i].title);
		fuzz_touch(d.risks[i].business_impact);
		fuzz_touch(d.risks[i].status);
		fuzz_touch(d.risks[i].mitigation);
		fuzz_touch(d.risks[i].likelihood);
		fuzz_touch(d.risks[i].impact);
	}
	touch_strings(d.wins, d.n_wins, "wins");
	check_count(d.service.n_months, d.service.months, "tickets_per_month");
	for (int i = 0; i < d.service.n_months; i++)
	{
		if (d.service.months[i].month == NULL || d.service.months[i].count < 0)
			fuzz_finding("a month without a name or with a negative count");
		fuzz_touch(d.service.months[i].month);
	}
	check_count(d.n_devices, d.devices, "devices");
	for (int i = 0; i < d.n_devices; i++)
	{
		fuzz_touch(d.devices[i].name);
		fuzz_touch(d.devices[i].type);
		fuzz_touch(d.devices[i].model);
		fuzz_touch(d.devices[i].warranty_expires);
	}
	fuzz_touch(d.currency);
	for (int k = 0; k < 3; k++)
	{
		check_count(d.n_roadmap[k], d.roadmap[k], "roadmap");
		for (int i = 0; i < d.n_roadmap[k]; i++)
		{
			fuzz_touch(d.roadmap[k][i].title);
			fuzz_touch(d.roadmap[k][i].priority);
			fuzz_touch(d.roadmap[k][i].cost_range);
		}
	}
	check_count(d.n_actions, d.actions, "outcome_plan");
	for (int i = 0; i < d.n_actions; i++)
	{
		if (d.actions[i].action == NULL)
			fuzz_finding("an action without its required text");
		fuzz_touch(d.actions[i].action);
		fuzz_touch(d.actions[i].owner);
		fuzz_touch(d.actions[i].due_date);
	}
}

const FuzzTarget fuzz_target = {"fuzz_jsonb_qbr_document", run, NULL};
