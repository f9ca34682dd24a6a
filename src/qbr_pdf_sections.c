/*
 * qbr_pdf_sections.c — the title block and the nine QBR sections, in order:
 * Executive Summary, Score Dashboard, Top 5 Risks, Top 5 Wins, Service
 * Experience Story, Security Posture Story, Lifecycle Forecast, Roadmap,
 * Outcome Plan.  Every section is always present; one without data says so
 * in a plain sentence.  Drawing goes through the primitives of qbr_pdf.c,
 * which handle page breaks, so nothing here can run off a page.
 */
#include "etop/qbr_pdf_draw.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
has_text(const char *s)
{
	if (s == NULL)
		return false;
	for (; *s; s++)
		if ((unsigned char) *s > 0x20)
			return true;
	return false;
}

/* ----------------------------------------------------------- title block */

void
qbr_title_block(QbrCtx *ctx)
{
	const QbrDocument *doc = ctx->doc;
	char		line[512];
	size_t		o = 0;

	if (!qbr_ok(ctx))
		return;
	qbr_text(ctx, ctx->bold, 8.5, ctx->accent, ctx->margin_x, ctx->y - 10,
			 "QUARTERLY BUSINESS REVIEW", 25);
	ctx->y -= 16;
	qbr_paragraph(ctx, doc->client_name, ctx->bold, 22, 27, 0, ctx->ink, false);

	o += (size_t) snprintf(line + o, sizeof(line) - o, "%s", doc->period);
	if (has_text(doc->client_segment) && o < sizeof(line))
		o += (size_t) snprintf(line + o, sizeof(line) - o, " · Segment %s", doc->client_segment);
	if (has_text(doc->client_industry) && o < sizeof(line))
		snprintf(line + o, sizeof(line) - o, " · %s", doc->client_industry);
	qbr_paragraph(ctx, line, ctx->font, 11, 15, 0, ctx->muted, false);

	o = 0;
	line[0] = '\0';
	if (has_text(doc->msp_name))
		o += (size_t) snprintf(line, sizeof(line), "Prepared by %s", doc->msp_name);
	if (has_text(doc->as_of) && o < sizeof(line))
		snprintf(line + o, sizeof(line) - o, "%sData as of %s", o ? " · " : "", doc->as_of);
	if (line[0])
		qbr_paragraph(ctx, line, ctx->font, 8.5, 12, 0, ctx->muted, false);
	qbr_space(ctx, 2);
}

/* -------------------------------------------------------------------- 1 */

static void
executive_summary(QbrCtx *ctx)
{
	const QbrDocument *doc = ctx->doc;

	qbr_section_title(ctx, "Executive Summary", 0);
	if (has_text(doc->executive_summary))
		qbr_paragraph(ctx, doc->executive_summary, ctx->font, 10, 14.5, 0, ctx->ink, true);
	else
		qbr_note(ctx, "No executive summary was provided for this quarter.");
}

/* -------------------------------------------------------------------- 2 */

#define GAUGE_R		46.0
#define GAUGE_MOVEMENT_LINES 4	/* under a gauge; more is cut with an ellipsis */
#define GAUGE_LINE	11.0

typedef struct Gauge
{
	const char *label;
	const QbrScore *score;
	bool		higher_is_better;
} Gauge;

static void
arc(QbrCtx *ctx, double cx, double cy, double from, double to, QbrRgb color)
{
	if (ctx->failed || to - from < 0.05)
		return;
	HPDF_Page_SetRGBStroke(ctx->page, color.r, color.g, color.b);
	HPDF_Page_SetLineWidth(ctx->page, (HPDF_REAL) GAUGE_LINE);
	HPDF_Page_Arc(ctx->page, (HPDF_REAL) cx, (HPDF_REAL) cy, (HPDF_REAL) GAUGE_R,
				  (HPDF_REAL) from, (HPDF_REAL) to);
	HPDF_Page_Stroke(ctx->page);
}

static void
draw_gauge(QbrCtx *ctx, const Gauge *g, double x, double w, double top, double h)
{
	double		cx = x + w / 2;
	double		cy = top - 34 - GAUGE_R;
	char		num[32];
	QbrLine    *lines;
	int			n,
				i;
	const char *movement = g->score->movement;

	qbr_rect(ctx, x + 4, top - h, w - 8, h, ctx->accent_tint);
	qbr_text_aligned(ctx, ctx->bold, 11, ctx->ink, x, w, 1, top - 18, g->label);
	arc(ctx, cx, cy, -90, 90, ctx->track);
	if (g->score->present)
	{
		QbrBand		band = qbr_score_band(g->score->score, g->higher_is_better);
		QbrRgb		color = qbr_band_color(band);

		/* the scale's ends, under the ends of the arc */
		qbr_text_aligned(ctx, ctx->font, 7, ctx->muted, cx - GAUGE_R - 10, 20, 1, cy - 11, "0");
		qbr_text_aligned(ctx, ctx->font, 7, ctx->muted, cx + GAUGE_R - 10, 20, 1, cy - 11, "100");

		arc(ctx, cx, cy, -90, qbr_gauge_angle(g->score->score), color);
		qbr_format_score(g->score->score, num, sizeof(num));
		qbr_text_aligned(ctx, ctx->bold, 24, ctx->ink, x, w, 1, cy + 3, num);
		qbr_text_aligned(ctx, ctx->bold, 9, color, x, w, 1, cy - 15, qbr_band_label(band));
	}
	else
	{
		qbr_text_aligned(ctx, ctx->bold, 24, ctx->muted, x, w, 1, cy + 3, "—");
		qbr_text_aligned(ctx, ctx->bold, 9, ctx->muted, x, w, 1, cy - 15, "Not enough data");
	}
	qbr_text_aligned(ctx, ctx->font, 7.5, ctx->muted, x, w, 1, cy - 27,
					 g->higher_is_better ? "higher is better" : "lower is better");

	n = qbr_wrap_text(ctx, ctx->font, 8.5, movement, w - 24, &lines);
	for (i = 0; i < n && i < GAUGE_MOVEMENT_LINES; i++)
	{
		double		lw;

		if (i == GAUGE_MOVEMENT_LINES - 1 && n > GAUGE_MOVEMENT_LINES)
		{
			/* the rest, shortened with an ellipsis: the box never outgrows the page */
			qbr_text_fit(ctx, ctx->font, 8.5, 8.5, ctx->ink, x + 12, w - 24, 1, cy - 44 - 11 * i,
						 movement + lines[i].start);
			break;
		}
		lw = qbr_width(ctx, ctx->font, 8.5, movement + lines[i].start, lines[i].len);

		qbr_text(ctx, ctx->font, 8.5, ctx->ink, cx - lw / 2, cy - 44 - 11 * i,
				 movement + lines[i].start, lines[i].len);
	}
}

static void
score_dashboard(QbrCtx *ctx)
{
	const QbrDocument *doc = ctx->doc;
	Gauge		g[3] = {
		{"Standards", &doc->standards, true},
		{"Risk", &doc->risk, false},
		{"Experience", &doc->experience, true},
	};
	double		w = ctx->content_w / 3;
	int			most = 0;
	double		h;
	int			i;

	if (!qbr_ok(ctx))
		return;
	for (i = 0; i < 3; i++)
	{
		QbrLine    *lines;
		int			n = qbr_wrap_text(ctx, ctx->font, 8.5, g[i].score->movement, w - 24, &lines);

		if (n > most)
			most = n < GAUGE_MOVEMENT_LINES ? n : GAUGE_MOVEMENT_LINES;
	}
	h = 34 + GAUGE_R + 44 + 11 * most + 4;
	qbr_section_title(ctx, "Score Dashboard", h);
	qbr_need(ctx, h);
	for (i = 0; i < 3; i++)
		draw_gauge(ctx, &g[i], ctx->margin_x + i * w, w, ctx->y, h);
	ctx->y -= h;
	qbr_space(ctx, 8);
	qbr_paragraph(ctx, "Standards and Experience: higher is better (good from 80, fair from 60). "
				  "Risk: lower is better (good up to 20, fair up to 40).",
				  ctx->font, 7.5, 10, 0, ctx->muted, false);
}

/* -------------------------------------------------------------------- 3 */

typedef struct RiskRows
{
	const QbrRisk *risks;
	const int  *idx;
} RiskRows;

static void
risk_cell(void *arg, int row, int col, QbrCell *cell)
{
	RiskRows   *rr = (RiskRows *) arg;
	const QbrRisk *r = &rr->risks[rr->idx[row]];

	switch (col)
	{
		case 0:
			cell->text = r->title ? r->title : "(untitled risk)";
			cell->bold = true;
			if (r->likelihood || r->impact)
			{
				char		l[40],
							i[40];

				qbr_capitalize(r->likelihood ? r->likelihood : "unknown", l, sizeof(l));
				qbr_capitalize(r->impact ? r->impact : "unknown", i, sizeof(i));
				snprintf(cell->subbuf, sizeof(cell->subbuf), "Likelihood: %s · Impact: %s", l, i);
				cell->sub = cell->subbuf;
			}
			break;
		case 1:
			cell->text = r->business_impact;
			break;
		case 2:
			qbr_capitalize(r->status, cell->buf, sizeof(cell->buf));
			cell->text = cell->buf;
			break;
		default:
			cell->text = r->mitigation;
			break;
	}
}

static void
top_risks(QbrCtx *ctx)
{
	static const QbrColumn cols[4] = {
		{"Risk Title", 25, false},
		{"Business Impact", 31, false},
		{"Status", 11, false},
		{"Mitigation Action", 33, false},
	};
	const QbrDocument *doc = ctx->doc;
	int			idx[5];
	RiskRows	rr;
	int			n;
	char		intro[160];

	if (doc->n_risks == 0)
	{
		qbr_section_title(ctx, "Top 5 Risks", 0);
		qbr_note(ctx, "No open risks were identified this quarter.");
		return;
	}
	n = qbr_top_risks(doc->risks, doc->n_risks, 5, idx);
	rr.risks = doc->risks;
	rr.idx = idx;
	/* keep the title, the intro and the (at most five) rows together */
	qbr_section_title(ctx, "Top 5 Risks",
					  16 + qbr_table_height(ctx, cols, 4, n, risk_cell, &rr, QBR_TABLE_GRID));
	if (doc->n_risks > 5)
		snprintf(intro, sizeof(intro),
				 "The %d highest of %d identified risks, ranked by likelihood × impact.",
				 n, doc->n_risks);
	else
		snprintf(intro, sizeof(intro), "Ranked by likelihood × impact.");
	qbr_paragraph(ctx, intro, ctx->font, 8.5, 12, 0, ctx->muted, false);
	qbr_space(ctx, 4);
	qbr_table(ctx, cols, 4, n, risk_cell, &rr, QBR_TABLE_GRID);
}

/* -------------------------------------------------------------------- 4 */

static void
top_wins(QbrCtx *ctx)
{
	const QbrDocument *doc = ctx->doc;
	int			n = doc->n_wins < 5 ? doc->n_wins : 5;

	qbr_section_title(ctx, "Top 5 Wins", 0);
	if (n == 0)
	{
		qbr_note(ctx, "No wins were recorded for this quarter.");
		return;
	}
	qbr_bullets(ctx, doc->wins, n, "✓", qbr_band_color(QBR_BAND_GOOD), QBR_BODY_SIZE,
				QBR_BODY_LEAD, true);
}

/* -------------------------------------------------------------------- 5 */

#define CHART_PLOT_H	120.0
#define CHART_H			(CHART_PLOT_H + 44)	/* with the labels below */

static void
bar_chart(QbrCtx *ctx, const QbrMonthCount *m, int n)
{
	double		left = ctx->margin_x + 36;
	double		right = ctx->margin_x + ctx->content_w;
	double		pw = right - left;
	double		ph = CHART_PLOT_H;
	double		bottom,
				slot,
				bw;
	long		max = 0,
				step,
				axis,
				v;
	int			every = n > 18 ? 2 : 1;
	int			i;
	char		num[40];

	qbr_need(ctx, CHART_H);
	if (!qbr_ok(ctx))
		return;
	bottom = ctx->y - 12 - ph;
	for (i = 0; i < n; i++)
		if (m[i].count > max)
			max = m[i].count;
	qbr_nice_axis(max, 5, &step, &axis);

	for (v = 0; v <= axis; v += step)
	{
		double		yv = bottom + ph * (double) v / (double) axis;

		if (v > 0)
			qbr_hline(ctx, left, right, yv, 0.4, ctx->rule);
		qbr_format_int(v, num, sizeof(num));
		qbr_text_aligned(ctx, ctx->font, 7, ctx->muted, ctx->margin_x, 30, 2, yv - 2.5, num);
	}

	slot = pw / n;
	bw = slot * 0.62 > 34 ? 34 : slot * 0.62;
	for (i = 0; i < n && qbr_ok(ctx); i++)
	{
		double		x = left + slot * i;
		long		c = m[i].count > 0 ? m[i].count : 0;
		/* the axis stops at QBR_AXIS_MAX; so does a bar */
		double		bh = ph * (double) (c < axis ? c : axis) / (double) axis;
		char		mon[32],
					year[16];

		qbr_rect(ctx, x + (slot - bw) / 2, bottom, bw, bh, ctx->accent);
		if (slot >= 14)
		{
			double		size;

			qbr_format_int(c, num, sizeof(num));
			size = qbr_fit_size(ctx, ctx->font, num, slot - 2, 7, 4);
			qbr_text_aligned(ctx, ctx->font, size, ctx->ink, x, slot, 1, bottom + bh + 3, num);
		}
		qbr_month_label(m[i].month, mon, sizeof(mon), year, sizeof(year));
		if (i % every == 0)
		{
			double		size = qbr_fit_size(ctx, ctx->font, mon, slot * every - 2, 7, 3);

			if (qbr_width(ctx, ctx->font, size, mon, strlen(mon)) <= slot * every)
				qbr_text_aligned(ctx, ctx->font, size, ctx->muted, x, slot, 1, bottom - 10, mon);
		}
		if (year[0] && (i == 0 || strcmp(mon, "Jan") == 0))
			qbr_text_aligned(ctx, ctx->bold, 6.5, ctx->muted, x - 10, slot + 20, 1,
							 bottom - 19, year);
	}
	qbr_hline(ctx, left, right, bottom, 0.8, ctx->muted);
	ctx->y = bottom - 26;
}

static void
service_story(QbrCtx *ctx)
{
	const QbrService *s = &ctx->doc->service;
	long		total = s->total;
	char		v[4][48],
				sub[4][96];
	QbrTile		tiles[4];
	int			i;

	qbr_section_title(ctx, "Service Experience Story", 0);
	if (total < 0 && s->n_months > 0)
	{
		total = 0;
		for (i = 0; i < s->n_months; i++)
			if (s->months[i].count > 0)	/* saturate: counts come from the caller's document */
				total = s->months[i].count > LONG_MAX - total ? LONG_MAX : total + s->months[i].count;
	}
	if (!has_text(ctx->doc->trends) && s->n_months == 0 && total < 0 &&
		s->sla_total < 0 && s->reopened < 0 && s->after_hours < 0)
	{
		qbr_note(ctx, "No service tickets were recorded for this period.");
		return;
	}
	if (has_text(ctx->doc->trends))
	{
		qbr_paragraph(ctx, ctx->doc->trends, ctx->font, QBR_BODY_SIZE, QBR_BODY_LEAD, 0,
					  ctx->ink, true);
		qbr_space(ctx, 4);
	}

	qbr_subheading(ctx, "Tickets per month", CHART_H);
	if (s->n_months > 0)
		bar_chart(ctx, s->months, s->n_months);
	else
		qbr_note(ctx, "No monthly ticket counts are available.");

	if (total >= 0)
		qbr_format_int(total, v[0], sizeof(v[0]));
	else
		snprintf(v[0], sizeof(v[0]), "n/a");
	snprintf(sub[0], sizeof(sub[0]), "tickets in the period");
	qbr_format_percent(s->sla_met, s->sla_total, v[1], sizeof(v[1]));
	if (s->sla_total > 0 && s->sla_met >= 0)
	{
		char		a[32],
					b[32];

		qbr_format_int(s->sla_met, a, sizeof(a));
		qbr_format_int(s->sla_total, b, sizeof(b));
		snprintf(sub[1], sizeof(sub[1]), "%s of %s tickets", a, b);
	}
	else
		snprintf(sub[1], sizeof(sub[1]), "no SLA data");
	qbr_format_percent(s->reopened, total, v[2], sizeof(v[2]));
	if (s->reopened >= 0)
	{
		qbr_format_int(s->reopened, sub[2], sizeof(sub[2]));
		strncat(sub[2], s->reopened == 1 ? " ticket reopened" : " tickets reopened",
				sizeof(sub[2]) - strlen(sub[2]) - 1);
	}
	else
		snprintf(sub[2], sizeof(sub[2]), "no reopen data");
	qbr_format_percent(s->after_hours, total, v[3], sizeof(v[3]));
	if (s->after_hours >= 0)
	{
		qbr_format_int(s->after_hours, sub[3], sizeof(sub[3]));
		strncat(sub[3], s->after_hours == 1 ? " ticket after hours" : " tickets after hours",
				sizeof(sub[3]) - strlen(sub[3]) - 1);
	}
	else
		snprintf(sub[3], sizeof(sub[3]), "no after-hours data");

	tiles[0] = (QbrTile) {v[0], "Tickets", sub[0]};
	tiles[1] = (QbrTile) {v[1], "SLA met", sub[1]};
	tiles[2] = (QbrTile) {v[2], "Reopened", sub[2]};
	tiles[3] = (QbrTile) {v[3], "After hours", sub[3]};
	qbr_space(ctx, 4);
	qbr_tiles(ctx, tiles, 4);
}

/* -------------------------------------------------------------------- 6 */

static bool
area_empty(const QbrSecurityArea *a)
{
	return !a->present && !has_text(a->summary) && a->n_citations == 0;
}

static void
security_area(QbrCtx *ctx, const char *name, const char *lower, const QbrSecurityArea *a)
{
	double		bar_w = 110,
				bar_x = ctx->margin_x + ctx->content_w - bar_w;
	char		label[96];

	qbr_need(ctx, 22 + 2 * QBR_BODY_LEAD);
	qbr_space(ctx, 6);
	if (!qbr_ok(ctx))
		return;
	qbr_text(ctx, ctx->bold, 11, ctx->ink, ctx->margin_x, ctx->y - 13, name, strlen(name));
	if (a->present)
	{
		QbrBand		band = qbr_score_band(a->score, true);
		QbrRgb		color = qbr_band_color(band);
		double		s = a->score < 0 ? 0 : a->score > 100 ? 100 : a->score;

		qbr_rect(ctx, bar_x, ctx->y - 12, bar_w, 6, ctx->track);
		qbr_rect(ctx, bar_x, ctx->y - 12, bar_w * s / 100.0, 6, color);
		qbr_format_score(a->score, label, sizeof(label));
		strncat(label, " / 100 · ", sizeof(label) - strlen(label) - 1);
		strncat(label, qbr_band_label(band), sizeof(label) - strlen(label) - 1);
		qbr_text_aligned(ctx, ctx->bold, 8.5, color, ctx->margin_x, bar_x - 8 - ctx->margin_x,
						 2, ctx->y - 12.5, label);
	}
	qbr_hline(ctx, ctx->margin_x, ctx->margin_x + ctx->content_w, ctx->y - 19, 0.5, ctx->rule);
	ctx->y -= 24;
	if (area_empty(a))
	{
		snprintf(label, sizeof(label), "No %s data was available for this quarter.", lower);
		qbr_note(ctx, label);
		return;
	}
	if (has_text(a->summary))
		qbr_paragraph(ctx, a->summary, ctx->font, QBR_BODY_SIZE, QBR_BODY_LEAD, 0, ctx->ink, true);
	if (a->n_citations > 0)
	{
		qbr_space(ctx, 3);
		qbr_bullets(ctx, a->citations, a->n_citations, "•", ctx->accent, 8.5, 12, true);
	}
}

static void
security_story(QbrCtx *ctx)
{
	const QbrDocument *doc = ctx->doc;

	qbr_section_title(ctx, "Security Posture Story", 0);
	if (area_empty(&doc->identity) && area_empty(&doc->email) && area_empty(&doc->endpoint))
	{
		qbr_note(ctx, "No security data was available for this quarter.");
		return;
	}
	security_area(ctx, "Identity", "identity", &doc->identity);
	security_area(ctx, "Email", "email", &doc->email);
	security_area(ctx, "Endpoint", "endpoint", &doc->endpoint);
}

/* -------------------------------------------------------------------- 7 */

typedef struct DeviceRows
{
	const QbrDocument *doc;
	const int  *idx;
} DeviceRows;

static void
device_cell(void *arg, int row, int col, QbrCell *cell)
{
	DeviceRows *dr = (DeviceRows *) arg;
	const QbrDevice *d = &dr->doc->devices[dr->idx[row]];

	switch (col)
	{
		case 0:
			cell->text = d->name ? d->name : "(unnamed)";
			break;
		case 1:
			qbr_capitalize(d->type, cell->buf, sizeof(cell->buf));
			cell->text = cell->buf;
			break;
		case 2:
			cell->text = d->model;
			break;
		case 3:
			qbr_format_score(d->age_years, cell->buf, sizeof(cell->buf));
			cell->text = cell->buf;
			break;
		default:
			cell->text = has_text(d->warranty_expires) ? d->warranty_expires : "—";
			/* ISO dates compare as strings */
			if (has_text(d->warranty_expires) && has_text(dr->doc->as_of) &&
				strcmp(d->warranty_expires, dr->doc->as_of) < 0)
			{
				snprintf(cell->buf, sizeof(cell->buf), "%s (expired)", d->warranty_expires);
				cell->text = cell->buf;
				cell->alert = true;
			}
			break;
	}
}

static void
lifecycle_forecast(QbrCtx *ctx)
{
	static const QbrColumn cols[5] = {
		{"Device", 22, false},
		{"Type", 11, false},
		{"Model", 29, false},
		{"Age (yrs)", 12, true},
		{"Warranty", 26, false},
	};
	static const char *const labels[3] = {
		"12-month refresh budget", "24-month refresh budget", "36-month refresh budget"
	};
	const QbrDocument *doc = ctx->doc;
	int		   *idx = NULL;
	int			n = 0,
				i;
	char		intro[160];

	qbr_section_title(ctx, "Lifecycle Forecast", 90);
	if (!qbr_ok(ctx))
		return;
	if (doc->n_devices > 0)
	{
		idx = malloc(sizeof(int) * (size_t) doc->n_devices);
		if (idx == NULL)
		{
			qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
			return;
		}
		for (i = 0; i < doc->n_devices; i++)
			if (doc->devices[i].has_age && doc->devices[i].age_years >= 4)
				idx[n++] = i;
	}

	if (n > 0)
	{
		char		count[32];

		qbr_format_int(n, count, sizeof(count));
		snprintf(intro, sizeof(intro), "%s %s four or more years old.", count,
				 n == 1 ? "device is" : "devices are");
		qbr_paragraph(ctx, intro, ctx->font, QBR_BODY_SIZE, QBR_BODY_LEAD, 0, ctx->ink, false);
	}
	else
		qbr_note(ctx, "No devices are four or more years old.");
	qbr_space(ctx, 6);

	if (doc->has_budget[0] || doc->has_budget[1] || doc->has_budget[2])
	{
		char		v[3][64];
		char		sub[64];
		QbrTile		tiles[3];

		snprintf(sub, sizeof(sub), "estimate, %s", has_text(doc->currency) ? doc->currency : "USD");
		for (i = 0; i < 3; i++)
		{
			if (doc->has_budget[i])
				qbr_format_money(doc->budget[i], doc->currency, v[i], sizeof(v[i]));
			else
				snprintf(v[i], sizeof(v[i]), "—");
			tiles[i] = (QbrTile) {v[i], labels[i], doc->has_budget[i] ? sub : "not estimated"};
		}
		qbr_tiles(ctx, tiles, 3);
	}
	else
		qbr_note(ctx, "No refresh budget has been estimated.");

	if (n > 0)
	{
		DeviceRows	dr = {doc, idx};

		qbr_space(ctx, 4);
		qbr_table(ctx, cols, 5, n, device_cell, &dr, QBR_TABLE_GRID);
	}
	free(idx);
}

/* -------------------------------------------------------------------- 8 */

typedef struct RoadmapRows
{
	const QbrDocument *doc;
} RoadmapRows;

static void
roadmap_cell(void *arg, int row, int col, QbrCell *cell)
{
	const QbrDocument *doc = ((RoadmapRows *) arg)->doc;
	const QbrRoadmapItem *it;
	size_t		o = 0;

	if (row >= doc->n_roadmap[col])
		return;
	it = &doc->roadmap[col][row];
	cell->text = has_text(it->title) ? it->title : "(untitled)";
	cell->bold = true;
	cell->subbuf[0] = '\0';
	if (has_text(it->priority))
	{
		char		p[40];

		qbr_capitalize(it->priority, p, sizeof(p));
		o += (size_t) snprintf(cell->subbuf, sizeof(cell->subbuf), "Priority: %s", p);
	}
	if (has_text(it->cost_range) && o < sizeof(cell->subbuf))
		snprintf(cell->subbuf + o, sizeof(cell->subbuf) - o, "%s%s", o ? " · " : "", it->cost_range);
	if (cell->subbuf[0])
		cell->sub = cell->subbuf;
}

static void
recommendation(QbrCtx *ctx, const QbrRecommendation *r)
{
	char		meta[256],
				v[40];
	size_t		o = 0;
	int			i;

	qbr_need(ctx, 3 * QBR_BODY_LEAD + 6);
	qbr_space(ctx, 6);
	qbr_paragraph(ctx, has_text(r->title) ? r->title : "(untitled)", ctx->bold, 10, 14, 0,
				  ctx->ink, false);
	meta[0] = '\0';
	if (has_text(r->priority))
	{
		qbr_capitalize(r->priority, v, sizeof(v));
		o += (size_t) snprintf(meta + o, sizeof(meta) - o, "Priority: %s", v);
	}
	if (has_text(r->effort) && o < sizeof(meta))
	{
		qbr_capitalize(r->effort, v, sizeof(v));
		o += (size_t) snprintf(meta + o, sizeof(meta) - o, "%sEffort: %s", o ? " · " : "", v);
	}
	if (has_text(r->cost_range) && o < sizeof(meta))
		snprintf(meta + o, sizeof(meta) - o, "%sEstimated cost: %s", o ? " · " : "", r->cost_range);
	if (meta[0])
		qbr_paragraph(ctx, meta, ctx->font, 8, 11, 0, ctx->accent, false);
	if (has_text(r->description))
		qbr_paragraph(ctx, r->description, ctx->font, QBR_BODY_SIZE, QBR_BODY_LEAD, 0,
					  ctx->ink, true);
	if (r->n_evidence > 0)
	{
		/* "Evidence: a; b; c" as one wrapped paragraph */
		size_t		len = 12;
		char	   *ev;

		for (i = 0; i < r->n_evidence; i++)
			len += (r->evidence[i] ? strlen(r->evidence[i]) : 0) + 2;
		ev = malloc(len);
		if (ev == NULL)
		{
			qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
			return;
		}
		/* appended at the end, never strcat (that walked the whole text each time) */
		{
			char	   *p = ev;

			p += sprintf(p, "Evidence: ");
			for (i = 0; i < r->n_evidence; i++)
			{
				const char *e = r->evidence[i] ? r->evidence[i] : "";
				size_t		elen = strlen(e);

				if (i > 0)
				{
					memcpy(p, "; ", 2);
					p += 2;
				}
				memcpy(p, e, elen);
				p += elen;
			}
			*p = '\0';
		}
		qbr_paragraph(ctx, ev, ctx->font, 8, 11, 0, ctx->muted, true);
		free(ev);
	}
}

static void
roadmap(QbrCtx *ctx)
{
	static const QbrColumn cols[3] = {
		{"Now", 1, false},
		{"Next", 1, false},
		{"Later", 1, false},
	};
	const QbrDocument *doc = ctx->doc;
	RoadmapRows rr = {doc};
	int			rows = 0,
				i;

	for (i = 0; i < 3; i++)
		if (doc->n_roadmap[i] > rows)
			rows = doc->n_roadmap[i];
	if (rows == 0 && doc->n_recommendations == 0)
	{
		qbr_section_title(ctx, "Roadmap", 0);
		qbr_note(ctx, "No recommendations available for this quarter.");
		return;
	}
	/* the Now / Next / Later board stays on one page when it can */
	qbr_section_title(ctx, "Roadmap",
					  rows > 0 ? qbr_table_height(ctx, cols, 3, rows, roadmap_cell, &rr,
												  QBR_TABLE_CARDS) : 0);
	if (rows > 0)
		qbr_table(ctx, cols, 3, rows, roadmap_cell, &rr, QBR_TABLE_CARDS);
	if (doc->n_recommendations > 0)
	{
		qbr_subheading(ctx, "Recommendations", 4 * QBR_BODY_LEAD);
		for (i = 0; i < doc->n_recommendations && qbr_ok(ctx); i++)
			recommendation(ctx, &doc->recommendations[i]);
	}
}

/* -------------------------------------------------------------------- 9 */

static void
action_cell(void *arg, int row, int col, QbrCell *cell)
{
	const QbrAction *a = &((const QbrDocument *) arg)->actions[row];

	switch (col)
	{
		case 0:
			cell->text = a->action;
			break;
		case 1:
			cell->text = has_text(a->owner) ? a->owner : "Unassigned";
			break;
		default:
			cell->text = has_text(a->due_date) ? a->due_date : "—";
			break;
	}
}

static void
outcome_plan(QbrCtx *ctx)
{
	static const QbrColumn cols[3] = {
		{"Action", 58, false},
		{"Owner", 24, false},
		{"Due date", 18, false},
	};
	const QbrDocument *doc = ctx->doc;

	qbr_section_title(ctx, "Outcome Plan", 0);
	if (doc->n_actions > 0)
		qbr_table(ctx, cols, 3, doc->n_actions, action_cell, (void *) doc, QBR_TABLE_GRID);
	else
		qbr_note(ctx, "No action items have been agreed yet.");
	if (doc->n_discussion_points > 0)
	{
		qbr_subheading(ctx, "Discussion points for the meeting", 0);
		qbr_bullets(ctx, doc->discussion_points, doc->n_discussion_points, "•", ctx->accent,
					QBR_BODY_SIZE, QBR_BODY_LEAD, true);
	}
}

void
qbr_render_sections(QbrCtx *ctx)
{
	executive_summary(ctx);
	score_dashboard(ctx);
	top_risks(ctx);
	top_wins(ctx);
	service_story(ctx);
	security_story(ctx);
	lifecycle_forecast(ctx);
	roadmap(ctx);
	outcome_plan(ctx);
}
