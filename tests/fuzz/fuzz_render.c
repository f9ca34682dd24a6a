/*
 * fuzz_render.c — libFuzzer harness for the whole QBR PDF renderer,
 * qbr_pdf_render() (src/qbr_pdf.c, qbr_pdf_table.c, qbr_pdf_sections.c,
 * qbr_layout.c, qbr_logo.c over libharu and libpng, DejaVu fonts from
 * fonts-dejavu-core).  Structure-aware: the input is decoded into a
 * QbrDocument field by field (render_input() below, mirrored by
 * gen_render_seeds.py), so every input is a document.  Slow per run (fonts
 * are loaded and a PDF written each time): it gets a smaller budget.
 *
 * SOURCES: src/qbr_pdf.c src/qbr_pdf_table.c src/qbr_pdf_sections.c src/qbr_layout.c src/qbr_logo.c
 * LIBS: -lhpdf -lpng -lz
 *
 * What varies: client, MSP, period and every other text (absent, empty,
 * picked from a list of awkward ones — citations, scripts DejaVu lacks,
 * emoji, invalid and overlong UTF-8, control characters — raw bytes, or a
 * chunk repeated up to QBR_DOC_MAX_TEXT, 256 KB, the SQL layer's limit); scores absent, 0..100 or anything (out of
 * range, huge, infinite, NaN); movement texts; the number of
 * recommendations, evidence items, discussion points, risks and their
 * levels, wins, months and ticket counts (unknown, realistic, up to the
 * 10^15 the SQL layer allows, or any long), security areas, devices and
 * ages, budgets, roadmap items and actions; accent colour, page size, the
 * DRAFT mark, compression; a logo (none, two valid PNGs — one the 1x1
 * interlaced RGBA file that used to crash the server — or raw bytes); a
 * cancel after a few checks; a missing font.
 *
 * Invariants, beyond "no sanitizer report, no leak":
 *   - the result is the one the document calls for: no client name or period
 *     -> an error; a missing font -> QBR_PDF_ERR_FONT; a logo that
 *     qbr_logo_check() rejects -> QBR_PDF_ERR_LOGO; a cancel ->
 *     QBR_PDF_ERR_CANCELLED or a finished PDF; anything else -> QBR_PDF_OK;
 *   - an error has no data and says what went wrong; a PDF starts with
 *     "%PDF-", ends with "%%EOF", and has as many page objects as res.pages;
 *   - uncompressed, no text ("x y Td") and no rectangle ("x y w h re") is
 *     placed above or below the page.
 */
#include "fuzz.h"

#include "etop/qbr_pdf.h"

#define MAX_TEXT	QBR_DOC_MAX_TEXT	/* what the SQL layer lets through */

/* everything allocated for one document, freed at the end */
typedef struct Arena
{
	void	  **ptr;
	int			n;
	int			cap;
} Arena;

static void *
arena_keep(Arena *a, void *p)
{
	FUZZ_ASSERT(p != NULL);
	if (a->n == a->cap)
	{
		a->cap = a->cap ? a->cap * 2 : 64;
		a->ptr = realloc(a->ptr, sizeof(void *) * a->cap);
		FUZZ_ASSERT(a->ptr != NULL);
	}
	a->ptr[a->n++] = p;
	return p;
}

static void *
arena_alloc(Arena *a, size_t size)
{
	return arena_keep(a, calloc(1, size ? size : 1));
}

static void
arena_free(Arena *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->ptr[i]);
	free(a->ptr);
}

/* texts that have caused or could cause trouble */
static const char *const awkward[] = {
	"Müller & Söhne GmbH",
	"Q4 2025",
	"2025-12-31",
	"2025-01",
	"2025-13",
	"2024-02-30",
	"[Ticket #4411]",
	"Printers failed [Ticket #12345] on [Device: WS-ACCT-01]; see [Policy: MFA Enforcement].",
	"[Risk: Unpatched Exchange Server] [Device: [Device: SRV-DC-01]",
	"Standards +5 vs. Q3 2025",
	"Risk −3 vs. Q3 2025",
	"high", "medium", "low", "critical", "Very High", "5", "0", "open", "mitigated",
	"USD", "eur", "CHF", "JPY", "INR",
	"€14,000–€18,000",
	"Ελλάδα Привет",
	"日本語のテキスト",
	"مرحبا بالعالم",
	"שלום עולם",
	"emoji \xF0\x9F\x98\x80\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 end",
	"e\xCC\x81\xCC\x81\xCC\x81 combining",
	"bad \xFF\xFE utf-8",
	"truncated \xE2\x82",
	"overlong \xC0\xAF \xE0\x80\xAF",
	"surrogate \xED\xA0\x80",
	"beyond \xF4\x90\x80\x80 and \xF4\x8F\xBF\xBF and \xEF\xBF\xBF",
	"tab\tand\nnewline\r\nand\x01\x1F\x7F",
	"(parens) \\backslash\\ <angle> %percent /slash",
	"\n\n\n",
	"   ",
	"W",
	"WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
	"a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z",
};
#define N_AWKWARD ((int) (sizeof(awkward) / sizeof(awkward[0])))

static size_t
take(FuzzIn *in, size_t want, char *dst)
{
	size_t		got;
	const uint8_t *p = fz_bytes(in, want, &got);

	memcpy(dst, p, got);
	return got;
}

/* A text (or NULL), in a block of exactly its size. */
static const char *
fz_text(FuzzIn *in, Arena *a)
{
	uint8_t		sel = fz_u8(in);
	char	   *s;
	size_t		len;

	switch (sel % 8)
	{
		case 0:
			return NULL;
		case 1:
			return "";
		case 2:
		case 3:
			return awkward[fz_u8(in) % N_AWKWARD];
		case 4:
		case 5:
			len = fz_u8(in);
			s = arena_alloc(a, len + 1);
			take(in, len, s);
			return s;
		case 6:
			{
				/* an awkward text with raw bytes after it */
				const char *pre = awkward[fz_u8(in) % N_AWKWARD];
				size_t		plen = strlen(pre);

				len = fz_u8(in) % 64;
				s = arena_alloc(a, plen + len + 1);
				memcpy(s, pre, plen);
				take(in, len, s + plen);
				return s;
			}
		default:
			{
				/* a chunk repeated: long paragraphs, long words */
				char		chunk[32];
				size_t		clen = 1 + fz_u8(in) % 32;
				size_t		reps = 1 + (size_t) fz_u8(in) * 32;

				clen = take(in, clen, chunk);
				if (clen == 0)
					chunk[clen++] = 'x';
				if (clen * reps > MAX_TEXT)
					reps = MAX_TEXT / clen;
				s = arena_alloc(a, clen * reps + 1);
				for (size_t i = 0; i < reps; i++)
					memcpy(s + i * clen, chunk, clen);
				return s;
			}
	}
}

static double
fz_score(FuzzIn *in, bool *present)
{
	uint8_t		sel = fz_u8(in);

	*present = sel % 4 != 0;
	if (sel % 4 == 3)
		return fz_double(in);	/* anything, out of range included */
	return (double) (fz_u8(in) % 101) + (double) (fz_u8(in) % 10) / 10.0;
}

static long
fz_count(FuzzIn *in)
{
	uint8_t		sel = fz_u8(in);

	switch (sel % 4)
	{
		case 0:
			return -1;
		case 1:
			return (long) fz_uint(in, 2);
		case 2:
			return (long) (fz_uint(in, 8) % 1000000000000001ULL);	/* the SQL layer's limit */
		default:
			return fz_long(in);
	}
}

static const char **
fz_texts(FuzzIn *in, Arena *a, int max, int *n)
{
	const char **t;

	*n = (int) fz_range(in, (size_t) max);
	t = arena_alloc(a, sizeof(char *) * (size_t) (*n ? *n : 1));
	for (int i = 0; i < *n; i++)
		t[i] = fz_text(in, a);
	return t;
}

static const unsigned char logo_palette[] =
	"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00"
	"\x00\x09\x00\x00\x00\x04\x04\x03\x00\x00\x00\xae\x21\x08\xfd\x00\x00\x00"
	"\x30\x50\x4c\x54\x45\x00\x61\xc2\x35\x96\xf7\x6a\xcb\x2c\x9f\x00\x61\xd4"
	"\x35\x96\x09\x6a\xcb\x3e\x9f\x00\x73\xd4\x35\xa8\x09\x6a\xdd\x3e\x9f\x12"
	"\x73\xd4\x47\xa8\x09\x7c\xdd\x3e\xb1\x12\x73\xe6\x47\xa8\x1b\x7c\xdd\x0a"
	"\x8a\x2c\x1f\x00\x00\x00\x08\x74\x52\x4e\x53\x00\x43\x86\xc9\x0c\x4f\x92"
	"\xd5\x6a\x36\xfb\xac\x00\x00\x00\x1f\x49\x44\x41\x54\x78\xda\x63\x60\x7f"
	"\x7a\x78\x61\x03\x93\x31\x10\x18\xb0\x18\x0b\x1a\xdf\xbb\xc9\x38\xe1\xdd"
	"\xbd\x7b\xd7\x00\x66\xd7\x0a\x12\xb5\x7f\xb4\x1b\x00\x00\x00\x00\x49\x45"
	"\x4e\x44\xae\x42\x60\x82";

/* the 1x1 interlaced RGBA PNG that crashed the server through libharu */
static const unsigned char logo_crash[] =
	"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00"
	"\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x01\x68\x12\xf4\x1f\x00\x00\x00"
	"\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\xd0\x00\x00\x04\x81\x01\x80"
	"\x2c\x55\xce\xb0\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

typedef struct Input
{
	QbrDocument doc;
	QbrPdfOptions opts;
	int			cancel_after;
	int			cancel_calls;
	bool		bad_font;
	bool		cancel;
} Input;

/* The input, decoded.  gen_render_seeds.py writes seeds in this order. */
static void
render_input(FuzzIn *in, Arena *a, Input *x)
{
	QbrDocument *d = &x->doc;
	uint8_t		flags = fz_u8(in);
	int			n;

	qbr_document_init(d);
	memset(&x->opts, 0, sizeof(x->opts));
	d->draft = flags & 1;
	d->page_size = (flags & 2) ? QBR_PAGE_A4 : QBR_PAGE_LETTER;
	x->opts.no_compression = !(flags & 4);
	x->cancel = (flags & 8) != 0;
	x->bad_font = (flags & 0x70) == 0x70;	/* rarely */
	x->cancel_after = fz_u8(in);
	if (x->bad_font)
		x->opts.font_bold = "/nonexistent/DejaVuSans-Bold.ttf";
	switch (flags >> 7 | (fz_u8(in) & 1) << 1)
	{
		case 0:
			break;
		case 1:
			d->logo_png = logo_palette;
			d->logo_png_len = sizeof(logo_palette) - 1;
			break;
		case 2:
			d->logo_png = logo_crash;
			d->logo_png_len = sizeof(logo_crash) - 1;
			break;
		default:
			{
				size_t		len = (size_t) fz_uint(in, 2) % 4096;
				unsigned char *png = arena_alloc(a, len);

				len = take(in, len, (char *) png);
				d->logo_png = png;
				d->logo_png_len = len;
			}
	}
	d->accent[0] = fz_u8(in);
	d->accent[1] = fz_u8(in);
	d->accent[2] = fz_u8(in);

	d->client_name = fz_text(in, a);
	d->client_segment = fz_text(in, a);
	d->client_industry = fz_text(in, a);
	d->period = fz_text(in, a);
	d->as_of = fz_text(in, a);
	d->msp_name = fz_text(in, a);
	d->executive_summary = fz_text(in, a);
	d->trends = fz_text(in, a);
	d->currency = fz_text(in, a);

	d->standards.score = fz_score(in, &d->standards.present);
	d->standards.movement = fz_text(in, a);
	d->risk.score = fz_score(in, &d->risk.present);
	d->risk.movement = fz_text(in, a);
	d->experience.score = fz_score(in, &d->experience.present);
	d->experience.movement = fz_text(in, a);

	n = d->n_recommendations = (int) fz_range(in, 8);
	d->recommendations = arena_alloc(a, sizeof(QbrRecommendation) * (size_t) (n ? n : 1));
	for (int i = 0; i < n; i++)
	{
		QbrRecommendation *r = &d->recommendations[i];

		r->title = fz_text(in, a);
		r->description = fz_text(in, a);
		r->priority = fz_text(in, a);
		r->effort = fz_text(in, a);
		r->cost_range = fz_text(in, a);
		r->evidence = fz_texts(in, a, 5, &r->n_evidence);
	}
	d->discussion_points = fz_texts(in, a, 8, &d->n_discussion_points);

	n = d->n_risks = (int) fz_range(in, 24);
	d->risks = arena_alloc(a, sizeof(QbrRisk) * (size_t) (n ? n : 1));
	for (int i = 0; i < n; i++)
	{
		QbrRisk    *r = &d->risks[i];

		r->title = fz_text(in, a);
		r->business_impact = fz_text(in, a);
		r->status = fz_text(in, a);
		r->mitigation = fz_text(in, a);
		r->likelihood = fz_text(in, a);
		r->impact = fz_text(in, a);
	}
	d->wins = fz_texts(in, a, 8, &d->n_wins);

	n = d->service.n_months = (int) fz_range(in, 40);
	d->service.months = arena_alloc(a, sizeof(QbrMonthCount) * (size_t) (n ? n : 1));
	for (int i = 0; i < n; i++)
	{
		d->service.months[i].month = fz_text(in, a);
		d->service.months[i].count = fz_count(in);
	}
	d->service.sla_met = fz_count(in);
	d->service.sla_total = fz_count(in);
	d->service.reopened = fz_count(in);
	d->service.total = fz_count(in);
	d->service.after_hours = fz_count(in);

	{
		QbrSecurityArea *areas[3] = {&d->identity, &d->email, &d->endpoint};

		for (int k = 0; k < 3; k++)
		{
			areas[k]->score = fz_score(in, &areas[k]->present);
			areas[k]->summary = fz_text(in, a);
			areas[k]->citations = fz_texts(in, a, 5, &areas[k]->n_citations);
		}
	}

	n = d->n_devices = (int) fz_range(in, 80);
	d->devices = arena_alloc(a, sizeof(QbrDevice) * (size_t) (n ? n : 1));
	for (int i = 0; i < n; i++)
	{
		QbrDevice  *v = &d->devices[i];

		v->name = fz_text(in, a);
		v->type = fz_text(in, a);
		v->model = fz_text(in, a);
		v->age_years = fz_score(in, &v->has_age);
		v->warranty_expires = fz_text(in, a);
	}
	for (int k = 0; k < 3; k++)
		d->budget[k] = fz_score(in, &d->has_budget[k]) * (double) fz_uint(in, 3);

	for (int k = 0; k < 3; k++)
	{
		n = d->n_roadmap[k] = (int) fz_range(in, 8);
		d->roadmap[k] = arena_alloc(a, sizeof(QbrRoadmapItem) * (size_t) (n ? n : 1));
		for (int i = 0; i < n; i++)
		{
			d->roadmap[k][i].title = fz_text(in, a);
			d->roadmap[k][i].priority = fz_text(in, a);
			d->roadmap[k][i].cost_range = fz_text(in, a);
		}
	}

	n = d->n_actions = (int) fz_range(in, 16);
	d->actions = arena_alloc(a, sizeof(QbrAction) * (size_t) (n ? n : 1));
	for (int i = 0; i < n; i++)
	{
		d->actions[i].action = fz_text(in, a);
		d->actions[i].owner = fz_text(in, a);
		d->actions[i].due_date = fz_text(in, a);
	}
}

static bool
cancel_cb(void *arg)
{
	Input	   *x = (Input *) arg;

	return ++x->cancel_calls > x->cancel_after;
}

static const unsigned char *
find(const unsigned char *hay, size_t n, const char *needle, size_t from)
{
	size_t		k = strlen(needle);

	for (size_t i = from; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return hay + i;
	return NULL;
}

/* page objects ("/Type /Page", not "/Type /Pages") */
static int
count_pages(const QbrPdfResult *res)
{
	int			n = 0;
	const unsigned char *p;
	size_t		from = 0;

	while ((p = find(res->data, res->size, "/Type /Page", from)) != NULL)
	{
		size_t		at = (size_t) (p - res->data) + strlen("/Type /Page");

		if (at >= res->size || res->data[at] != 's')
			n++;
		from = at;
	}
	return n;
}

/*
 * Every "x y Td" and "x y w h re" of an uncompressed PDF, checked against
 * the page height (as the unit test's lowest_y() does for the bottom).
 */
static void
check_placement(const QbrPdfResult *res, double page_h)
{
	double		num[4] = {0, 0, 0, 0};
	size_t		i = 0;

	while (i < res->size)
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
		if (strcmp(tok, "Td") == 0)
		{
			if (!(num[3] >= -0.01 && num[3] <= page_h + 0.01))
				fprintf(stderr, "text at y = %g\n", num[3]);
			FUZZ_ASSERT(num[3] >= -0.01 && num[3] <= page_h + 0.01);
		}
		else if (strcmp(tok, "re") == 0)
		{
			double		y0 = num[1],
						y1 = num[1] + num[3];

			if (!(y0 >= -0.01 && y0 <= page_h + 0.01 && y1 >= -0.01 && y1 <= page_h + 0.01))
				fprintf(stderr, "rectangle from y = %g to %g\n", y0, y1);
			FUZZ_ASSERT(y0 >= -0.01 && y0 <= page_h + 0.01);
			FUZZ_ASSERT(y1 >= -0.01 && y1 <= page_h + 0.01);
		}
		memmove(num, num + 1, sizeof(double) * 3);
		num[3] = strtod(tok, NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = fz_init(data, size);
	Arena		arena = {NULL, 0, 0};
	Input		x;
	QbrPdfResult res;
	QbrPdfError err;
	QbrPdfError expect = QBR_PDF_OK;

	memset(&x, 0, sizeof(x));
	render_input(&in, &arena, &x);
	if (x.cancel)
	{
		x.opts.cancel = cancel_cb;
		x.opts.cancel_arg = &x;
	}

	err = qbr_pdf_render(&x.doc, &x.opts, &res);
	FUZZ_ASSERT(err == res.error);
	FUZZ_ASSERT(fz_terminated(res.message, sizeof(res.message)));
	FUZZ_ASSERT(fz_terminated(res.detail, sizeof(res.detail)));

	if (x.doc.client_name == NULL || x.doc.period == NULL)
		FUZZ_ASSERT(err != QBR_PDF_OK);
	else if (x.bad_font)
		expect = QBR_PDF_ERR_FONT;
	else if (x.doc.logo_png != NULL && x.doc.logo_png_len > 0)
	{
		unsigned	w,
					h;
		char		why[160];

		if (!qbr_logo_check(x.doc.logo_png, x.doc.logo_png_len, &w, &h, why, sizeof(why)))
			expect = QBR_PDF_ERR_LOGO;
	}
	if (x.doc.client_name != NULL && x.doc.period != NULL)
	{
		if (err != expect && !(x.cancel && expect == QBR_PDF_OK && err == QBR_PDF_ERR_CANCELLED))
			fprintf(stderr, "render returned %d, expected %d: %s %s\n",
					(int) err, (int) expect, res.message, res.detail);
		FUZZ_ASSERT(err == expect || (x.cancel && expect == QBR_PDF_OK && err == QBR_PDF_ERR_CANCELLED));
	}

	if (err != QBR_PDF_OK)
	{
		FUZZ_ASSERT(res.data == NULL && res.size == 0);
		FUZZ_ASSERT(res.message[0] != '\0');
	}
	else
	{
		double		page_h = x.doc.page_size == QBR_PAGE_A4 ? 841.89 : 792;

		FUZZ_ASSERT(res.data != NULL && res.size > 16);
		FUZZ_ASSERT(memcmp(res.data, "%PDF-", 5) == 0);
		FUZZ_ASSERT(find(res.data, res.size, "%%EOF", res.size - 16) != NULL);
		FUZZ_ASSERT(res.pages >= 1 && count_pages(&res) == res.pages);
		FUZZ_ASSERT(res.message[0] == '\0');
		if (x.opts.no_compression)
			check_placement(&res, page_h);
	}
	if (res.data != NULL && getenv("FUZZ_RENDER_OUT") != NULL)
	{
		/* keep the PDF for a look: FUZZ_RENDER_OUT=file ./fuzz_render input */
		FILE	   *f = fopen(getenv("FUZZ_RENDER_OUT"), "wb");

		if (f != NULL)
		{
			fwrite(res.data, 1, res.size, f);
			fclose(f);
		}
	}
	qbr_pdf_result_free(&res);
	FUZZ_ASSERT(res.data == NULL);
	arena_free(&arena);
	return 0;
}
