/*
 * test_qbr_pdf.c — renders QBR documents with the real renderer (libharu,
 * libpng, DejaVu fonts) without a database, under AddressSanitizer and
 * LeakSanitizer: every path, including the error paths (corrupt logo,
 * missing font, cancel), must free everything.  Set QBR_PDF_OUT=dir to keep
 * the rendered files for a look.
 *
 * SOURCES: src/qbr_pdf.c src/qbr_pdf_table.c src/qbr_pdf_sections.c src/qbr_layout.c src/qbr_logo.c
 * LIBS: -lhpdf -lpng -lz
 */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#include "etop/qbr_pdf.h"
#include "etop/qbr_pdf_draw.h"

static void
keep(const char *name, const QbrPdfResult *res)
{
	const char *dir = getenv("QBR_PDF_OUT");
	char		path[512];
	FILE	   *f;

	if (dir == NULL || res->data == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f)
	{
		fwrite(res->data, 1, res->size, f);
		fclose(f);
	}
}

static void
put32(unsigned char *p, size_t *o, unsigned long v)
{
	p[(*o)++] = (unsigned char) (v >> 24);
	p[(*o)++] = (unsigned char) (v >> 16);
	p[(*o)++] = (unsigned char) (v >> 8);
	p[(*o)++] = (unsigned char) v;
}

static void
put_chunk(unsigned char *p, size_t *o, const char *type, const unsigned char *data, size_t n)
{
	size_t		start;

	put32(p, o, (unsigned long) n);
	start = *o;
	memcpy(p + *o, type, 4);
	if (n)
		memcpy(p + *o + 4, data, n);
	*o += 4 + n;
	put32(p, o, crc32(0, p + start, (uInt) (4 + n)));
}

/* A small valid PNG (w x h, RGB), built with zlib; caller frees. */
static unsigned char *
make_png(unsigned w, unsigned h, size_t *len)
{
	size_t		rawlen = (size_t) h * (1 + 3 * w);
	unsigned char *raw = malloc(rawlen);
	uLongf		zlen = compressBound(rawlen);
	unsigned char *z = malloc(zlen);
	unsigned char *png = malloc(zlen + 64);
	unsigned char ihdr[13] = {0};
	size_t		o = 0,
				k = 0;
	unsigned	x,
				y;

	for (y = 0; y < h; y++)
	{
		raw[y * (1 + 3 * w)] = 0;
		for (x = 0; x < w; x++)
		{
			unsigned char *p = raw + y * (1 + 3 * w) + 1 + 3 * x;

			p[0] = (unsigned char) (30 + 200 * x / w);
			p[1] = (unsigned char) (80 + 100 * y / h);
			p[2] = 160;
		}
	}
	compress(z, &zlen, raw, rawlen);
	memcpy(png, "\x89PNG\r\n\x1a\n", 8);
	o = 8;
	put32(ihdr, &k, w);
	put32(ihdr, &k, h);
	ihdr[8] = 8;				/* bit depth */
	ihdr[9] = 2;				/* RGB */
	put_chunk(png, &o, "IHDR", ihdr, 13);
	put_chunk(png, &o, "IDAT", z, (size_t) zlen);
	put_chunk(png, &o, "IEND", NULL, 0);
	free(raw);
	free(z);
	*len = o;
	return png;
}

static const char *wins[] = {
	"Zero unplanned downtime on the ERP server this quarter [Device: SRV-ERP-01]",
	"MFA now enforced for every administrator account [Policy: Require MFA for admins]",
	"Average first response time fell from 42 to 18 minutes [Ticket #4411]",
	"Phishing simulation click rate down to 3% [Policy: Security awareness training]",
	"Retired the last Windows 10 workstation [Device: WS-ACCT-07]",
	"A sixth win that must not be shown",
};
static const char *cites[] = {
	"42 of 45 users have MFA enabled [Policy: Require MFA]",
	"3 legacy-authentication sign-ins blocked [Ticket #5120]",
};
static const char *evidence[] = {"[Ticket #4410]", "[Device: SRV-ERP-01]"};
static const char *points[] = {
	"Budget approval for the 2026 workstation refresh",
	"Who owns the security awareness programme at Müller & Söhne?",
};

static void
sample(QbrDocument *d, QbrRisk *risks, QbrMonthCount *months, QbrDevice *devices,
	   QbrRoadmapItem *items, QbrAction *actions, QbrRecommendation *recs)
{
	int			i;

	qbr_document_init(d);
	d->client_name = "Müller & Söhne GmbH";
	d->client_segment = "A";
	d->client_industry = "Manufacturing";
	d->period = "Q4 2025";
	d->as_of = "2025-12-31";
	d->msp_name = "Bright IT Services";
	d->draft = true;
	d->standards = (QbrScore) {true, 83, "Standards +5 vs. Q3 2025"};
	d->risk = (QbrScore) {true, 15, "Risk −3 vs. Q3 2025"};
	d->experience = (QbrScore) {true, 78, "Experience +2 vs. Q3 2025"};
	d->executive_summary =
		"Müller & Söhne finished the year in good health: Standards rose to 83, Risk fell to 15 and "
		"Experience held at 78 [Ticket #4411].\n"
		"The biggest win was the ERP server: zero unplanned downtime after the October patch window "
		"[Device: SRV-ERP-01].\n"
		"Next quarter's priority is replacing twelve workstations older than four years before "
		"their warranties lapse [Device: WS-ACCT-07].";
	d->trends = "Ticket volume decreased 15% quarter over quarter, driven by fewer password resets "
		"after self-service reset went live [Ticket #4398].";
	for (i = 0; i < 7; i++)
	{
		static const char *lv[] = {"high", "medium", "low", "high", "medium", "high", "low"};

		risks[i] = (QbrRisk) {"Risk title", "Business impact text that is long enough to wrap "
			"onto a second line in its column", "open", "Mitigation action that is also long "
			"enough to wrap in the table", lv[i], lv[(i + 2) % 7]};
	}
	d->risks = risks;
	d->n_risks = 7;
	d->wins = wins;
	d->n_wins = 6;
	for (i = 0; i < 12; i++)
	{
		static char m[12][16];

		snprintf(m[i], sizeof(m[i]), "2025-%02d", (i + 1) % 100);
		months[i] = (QbrMonthCount) {m[i], 60 + (i * 37) % 50};
	}
	d->service = (QbrService) {months, 12, 940, 1000, 23, 1000, 87};
	d->identity = (QbrSecurityArea) {true, 72, "Identity summary [Policy: Require MFA].", cites, 2};
	d->email = (QbrSecurityArea) {true, 88, "Email summary.", NULL, 0};
	d->endpoint = (QbrSecurityArea) {false, 0, NULL, NULL, 0};
	for (i = 0; i < 60; i++)
	{
		static char names[60][16];

		snprintf(names[i], sizeof(names[i]), "WS-%03d", i);
		devices[i] = (QbrDevice) {names[i], "endpoint", "Dell OptiPlex 7060", true,
			3.5 + (i % 5) * 0.5, i % 2 ? "2024-06-30" : "2026-06-30"};
	}
	d->devices = devices;
	d->n_devices = 60;
	d->has_budget[0] = d->has_budget[1] = d->has_budget[2] = true;
	d->budget[0] = 18000;
	d->budget[1] = 42500;
	d->budget[2] = 61000;
	d->currency = "EUR";
	items[0] = (QbrRoadmapItem) {"Replace 12 aging workstations", "high", "€14,000–€18,000"};
	items[1] = (QbrRoadmapItem) {"Conditional access for all users", "medium", "€2,000"};
	items[2] = (QbrRoadmapItem) {"Server 2016 retirement", "low", "€9,000"};
	d->roadmap[0] = items;
	d->n_roadmap[0] = 2;
	d->roadmap[1] = items + 2;
	d->n_roadmap[1] = 1;
	actions[0] = (QbrAction) {"Approve the workstation refresh budget", "Anna Müller (CFO)", "2026-01-31"};
	actions[1] = (QbrAction) {"Schedule conditional access rollout", "Bright IT", "2026-02-15"};
	d->actions = actions;
	d->n_actions = 2;
	recs[0] = (QbrRecommendation) {"Replace aging workstations", "Twelve workstations are more than "
		"four years old [Device: WS-ACCT-07].", "high", "medium", "€14,000–€18,000", evidence, 2};
	d->recommendations = recs;
	d->n_recommendations = 1;
	d->discussion_points = points;
	d->n_discussion_points = 2;
}

/*
 * The lowest y at which an uncompressed PDF places text ("x y Td") or a
 * rectangle ("x y w h re"): below 0 is off the page.
 */
static double
lowest_y(const QbrPdfResult *res)
{
	double		low = 1e9,
				num[4] = {0, 0, 0, 0};
	size_t		i = 0;

	while (res->data && i < res->size)
	{
		char		tok[64];
		size_t		n = 0;

		while (i < res->size && (res->data[i] == ' ' || res->data[i] == '\n' || res->data[i] == '\r'))
			i++;
		while (i < res->size && res->data[i] != ' ' && res->data[i] != '\n' && res->data[i] != '\r')
		{
			if (n < sizeof(tok) - 1)
				tok[n++] = (char) res->data[i];
			i++;
		}
		tok[n] = '\0';
		if (strcmp(tok, "Td") == 0 && num[3] < low)
			low = num[3];
		else if (strcmp(tok, "re") == 0 && num[1] < low)
			low = num[1];
		memmove(num, num + 1, sizeof(double) * 3);
		num[3] = strtod(tok, NULL);
	}
	return low;
}

static void
ignore_hpdf_error(HPDF_STATUS e, HPDF_STATUS d, void *arg)
{
	(void) e;
	(void) d;
	(void) arg;
}

/*
 * qbr_width() measures from its own per-render cache of advance widths: it
 * must agree with libharu's HPDF_Font_TextWidth on every kind of text,
 * including text that is not UTF-8 and characters beyond the cache.
 */
static void
check_widths(void)
{
	static const char *texts[] = {
		"Müller & Söhne GmbH", "Replace 21 aging devices — $25-50K", "[Ticket #115838]",
		"Ελλάδα Привет", "naïve café – “quoted” … €100", "日本語のテキスト", "emoji \xF0\x9F\x98\x80 end",
		"bad \xFF\xFE utf-8", "truncated \xE2\x82", "tab\tand\nnewline", "", "W"
	};
	QbrCtx		ctx;
	HPDF_Font	fonts[2];

	memset(&ctx, 0, sizeof(ctx));
	ctx.pdf = HPDF_New(ignore_hpdf_error, NULL);
	HPDF_UseUTFEncodings(ctx.pdf);
	HPDF_SetCurrentEncoder(ctx.pdf, "UTF-8");
	fonts[0] = HPDF_GetFont(ctx.pdf, HPDF_LoadTTFontFromFile(ctx.pdf, QBR_PDF_FONT_REGULAR, HPDF_TRUE), "UTF-8");
	fonts[1] = HPDF_GetFont(ctx.pdf, HPDF_LoadTTFontFromFile(ctx.pdf, QBR_PDF_FONT_BOLD, HPDF_TRUE), "UTF-8");
	CHECK(fonts[0] != NULL && fonts[1] != NULL);
	ctx.font = fonts[0];
	ctx.bold = fonts[1];
	for (int f = 0; f < 2; f++)
	{
		ctx.widths[f] = malloc(QBR_WIDTH_CACHE * sizeof(short));
		memset(ctx.widths[f], 0xFF, QBR_WIDTH_CACHE * sizeof(short));
	}
	for (int pass = 0; pass < 2; pass++)	/* the second pass reads the cache */
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
			for (int f = 0; f < 2; f++)
			{
				const char *t = texts[i];
				size_t		len = strlen(t);
				char		clean[128];
				HPDF_TextWidth tw;

				for (size_t k = 0; k <= len; k++)
					clean[k] = (k < len && (unsigned char) t[k] < 0x20) ? ' ' : t[k];
				tw = HPDF_Font_TextWidth(fonts[f], (const HPDF_BYTE *) clean, (HPDF_UINT) len);
				CHECK_NEAR(qbr_width(&ctx, fonts[f], 10.0, t, len), len ? tw.width * 10.0 / 1000.0 : 0, 1e-9);
			}
	free(ctx.widths[0]);
	free(ctx.widths[1]);
	free(ctx.buf);
	HPDF_Free(ctx.pdf);
}

static bool
cancel_now(void *arg)
{
	int		   *calls = (int *) arg;

	return ++*calls > 3;
}

int
main(void)
{
	QbrDocument d;
	QbrRisk		risks[7];
	QbrMonthCount months[12];
	QbrDevice	devices[60];
	QbrRoadmapItem items[3];
	QbrAction	actions[2];
	QbrRecommendation recs[1];
	QbrPdfResult res;
	QbrPdfOptions opts;
	unsigned char *png;
	size_t		pnglen;
	unsigned	w,
				h;
	char		why[160];
	int			calls = 0;

	check_widths();

	/* a full document */
	sample(&d, risks, months, devices, items, actions, recs);
	png = make_png(120, 40, &pnglen);
	d.logo_png = png;
	d.logo_png_len = pnglen;
	CHECK(qbr_pdf_render(&d, NULL, &res) == QBR_PDF_OK);
	CHECK(res.data != NULL && res.size > 1000 && memcmp(res.data, "%PDF-", 5) == 0);
	CHECK(res.pages >= 3);
	keep("full.pdf", &res);
	qbr_pdf_result_free(&res);

	/* the same document renders to the same bytes */
	{
		QbrPdfResult a,
					b;

		qbr_pdf_render(&d, NULL, &a);
		qbr_pdf_render(&d, NULL, &b);
		CHECK(a.size == b.size && a.data && b.data && memcmp(a.data, b.data, a.size) == 0);
		qbr_pdf_result_free(&a);
		qbr_pdf_result_free(&b);
	}

	/* a very long movement text under a gauge is cut, never drawn below the page */
	{
		static char long_movement[6000];
		const char *old_movement = d.standards.movement;
		QbrPdfOptions plain;

		memset(&plain, 0, sizeof(plain));
		plain.no_compression = true;
		CHECK(qbr_pdf_render(&d, &plain, &res) == QBR_PDF_OK);
		CHECK(lowest_y(&res) >= 0 && lowest_y(&res) < 1e9);
		qbr_pdf_result_free(&res);
		for (size_t k = 0; k + 8 < sizeof(long_movement); k += 7)
			memcpy(long_movement + k, "word +5", 7);
		d.standards.movement = long_movement;
		CHECK(qbr_pdf_render(&d, &plain, &res) == QBR_PDF_OK);
		CHECK(lowest_y(&res) >= 0);
		qbr_pdf_result_free(&res);
		d.standards.movement = old_movement;
	}

	/* logos: checked before libharu (which would abort() on a corrupt one) */
	CHECK(qbr_logo_check(png, pnglen, &w, &h, why, sizeof(why)) && w == 120 && h == 40);
	png[pnglen - 20] ^= 0x55;	/* corrupt the IDAT checksum region */
	CHECK(!qbr_logo_check(png, pnglen, &w, &h, why, sizeof(why)));
	CHECK(qbr_pdf_render(&d, NULL, &res) == QBR_PDF_ERR_LOGO);
	CHECK(res.data == NULL && strstr(res.message, "logo") != NULL && res.detail[0] != '\0');
	CHECK(!qbr_logo_check(png, pnglen / 2, &w, &h, why, sizeof(why)));	/* truncated */
	CHECK(!qbr_logo_check((const unsigned char *) "GIF89a....", 10, &w, &h, why, sizeof(why)));
	CHECK(strstr(why, "signature") != NULL);
	d.logo_png_len = pnglen / 2;
	CHECK(qbr_pdf_render(&d, NULL, &res) == QBR_PDF_ERR_LOGO);
	d.logo_png = NULL;
	d.logo_png_len = 0;
	free(png);

	/* a missing font is a clear error */
	memset(&opts, 0, sizeof(opts));
	opts.font_bold = "/nonexistent/DejaVuSans-Bold.ttf";
	CHECK(qbr_pdf_render(&d, &opts, &res) == QBR_PDF_ERR_FONT);
	CHECK(strstr(res.message, "/nonexistent/DejaVuSans-Bold.ttf") != NULL);
	opts.font_bold = "/etc/hostname";	/* exists, not a font */
	CHECK(qbr_pdf_render(&d, &opts, &res) == QBR_PDF_ERR_FONT);

	/* cancelling stops cleanly */
	memset(&opts, 0, sizeof(opts));
	opts.cancel = cancel_now;
	opts.cancel_arg = &calls;
	CHECK(qbr_pdf_render(&d, &opts, &res) == QBR_PDF_ERR_CANCELLED && res.data == NULL);

	/* an empty document still renders every section */
	qbr_document_init(&d);
	d.client_name = "Empty Client";
	d.period = "Q1 2026";
	CHECK(qbr_pdf_render(&d, NULL, &res) == QBR_PDF_OK && res.pages >= 1);
	keep("empty.pdf", &res);
	qbr_pdf_result_free(&res);

	/* no client name: refused */
	d.client_name = NULL;
	CHECK(qbr_pdf_render(&d, NULL, &res) != QBR_PDF_OK && res.data == NULL);

	/* a monster paragraph and a table cell taller than a page are split, not cut */
	{
		size_t		n = 60000;
		char	   *big = malloc(n + 1);
		size_t		i;
		QbrAction	a[2];

		for (i = 0; i < n; i++)
			big[i] = (i % 7 == 6) ? ' ' : (i % 500 == 499 ? '\n' : "abcdefg"[i % 7]);
		big[n] = '\0';
		qbr_document_init(&d);
		d.client_name = big;	/* even the client name */
		d.period = "Q1 2026";
		d.executive_summary = big;
		a[0] = (QbrAction) {big, "x", "2026-01-01"};
		a[1] = (QbrAction) {"short", big, NULL};
		d.actions = a;
		d.n_actions = 2;
		CHECK(qbr_pdf_render(&d, NULL, &res) == QBR_PDF_OK && res.pages > 10);
		keep("huge-text.pdf", &res);
		qbr_pdf_result_free(&res);
		free(big);
	}

	UNIT_DONE();
}
