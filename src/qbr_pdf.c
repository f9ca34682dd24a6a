/*
 * qbr_pdf.c — the QBR PDF renderer: libharu document set-up, the drawing
 * primitives the sections use (text, paragraphs, bullets, page flow),
 * running headers and footers, and the bytes out.  Tables and tiles are in
 * qbr_pdf_table.c, the nine sections in qbr_pdf_sections.c.
 *
 * Pure C (no postgres.h).  libharu errors reach error_handler(), which only
 * records the first one in the render context: nothing ever longjmps, every
 * primitive becomes a no-op after a failure, and qbr_pdf_render() frees the
 * libharu document and its own scratch space on every path.  libharu itself
 * allocates with malloc and is freed by HPDF_Free.
 */
#include "etop/qbr_pdf_draw.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Page furniture, in points. */
#define QBR_PI			3.14159265358979323846
#define MARGIN_X		50.0
#define HEADER_TOP		30.0	/* from the top edge to the header band */
#define HEADER_RULE		66.0	/* from the top edge to the accent rule */
#define CONTENT_TOP		84.0	/* from the top edge to the content */
#define FOOTER_RULE		46.0	/* from the bottom edge */
#define CONTENT_BOTTOM	60.0

static QbrRgb
rgb255(int r, int g, int b)
{
	QbrRgb		c = {(float) r / 255.0f, (float) g / 255.0f, (float) b / 255.0f};

	return c;
}

/* a, moved a share t of the way towards b */
static QbrRgb
mix(QbrRgb a, QbrRgb b, float t)
{
	QbrRgb		c = {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};

	return c;
}

QbrRgb
qbr_band_color(QbrBand band)
{
	switch (band)
	{
		case QBR_BAND_GOOD:
			return rgb255(46, 125, 50);
		case QBR_BAND_FAIR:
			return rgb255(214, 143, 0);
		case QBR_BAND_POOR:
			break;
	}
	return rgb255(198, 40, 40);
}

/* ---------------------------------------------------------------- errors */

void
qbr_fail(QbrCtx *ctx, QbrPdfError kind, const char *fmt,...)
{
	va_list		ap;

	if (ctx->failed)
		return;
	ctx->failed = true;
	ctx->error = kind;
	va_start(ap, fmt);
	vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
	va_end(ap);
}

static const char *
hpdf_error_text(HPDF_STATUS e)
{
	switch (e)
	{
		case HPDF_FAILD_TO_ALLOC_MEM:
			return "out of memory";
		case HPDF_FILE_OPEN_ERROR:
		case HPDF_FILE_IO_ERROR:
			return "file could not be read";
		case HPDF_TTF_INVALID_CMAP:
		case HPDF_TTF_INVALID_FOMAT:
		case HPDF_TTF_MISSING_TABLE:
		case HPDF_INVALID_TTC_FILE:
		case HPDF_INVALID_TTC_INDEX:
			return "not a usable TrueType font";
		case HPDF_TTF_CANNOT_EMBEDDING_FONT:
			return "the font's licence does not allow embedding";
		case HPDF_INVALID_PNG_IMAGE:
		case HPDF_LIBPNG_ERROR:
			return "PNG image could not be read";
		case HPDF_PAGE_OUT_OF_RANGE:
			return "a value was out of range";
		case HPDF_PAGE_INVALID_GMODE:
			return "drawing operations out of order";
		default:
			break;
	}
	return "internal error";
}

/*
 * libharu calls this on every error, then returns the error code to its
 * caller.  Record the first error; never jump.
 */
static void
error_handler(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user_data)
{
	QbrCtx	   *ctx = (QbrCtx *) user_data;

	if (ctx->failed)
		return;
	ctx->failed = true;
	ctx->error = error_no == HPDF_FAILD_TO_ALLOC_MEM ? QBR_PDF_ERR_NOMEM : QBR_PDF_ERR_LIBHARU;
	snprintf(ctx->message, sizeof(ctx->message), "libharu error 0x%04X: %s",
			 (unsigned) error_no, hpdf_error_text(error_no));
	snprintf(ctx->detail, sizeof(ctx->detail), "libharu %s, error 0x%04X, detail %u.",
			 HPDF_GetVersion(), (unsigned) error_no, (unsigned) detail_no);
}

bool
qbr_ok(QbrCtx *ctx)
{
	if (ctx->failed)
		return false;
	if (ctx->opts && ctx->opts->cancel && (++ctx->ticks & 15) == 0 &&
		ctx->opts->cancel(ctx->opts->cancel_arg))
		qbr_fail(ctx, QBR_PDF_ERR_CANCELLED, "rendering was cancelled");
	return !ctx->failed;
}

/* Grows the scratch buffer to at least n bytes. */
static bool
scratch(QbrCtx *ctx, size_t n)
{
	char	   *nb;
	size_t		cap;

	if (n <= ctx->bufcap)
		return true;
	cap = ctx->bufcap ? ctx->bufcap : 256;
	while (cap < n)
		cap *= 2;
	nb = realloc(ctx->buf, cap);
	if (nb == NULL)
	{
		qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
		return false;
	}
	ctx->buf = nb;
	ctx->bufcap = cap;
	return true;
}

/* ------------------------------------------------------------------ text */

/* Copies s[0..len) into the scratch buffer, control characters as spaces. */
static const char *
clean(QbrCtx *ctx, const char *s, size_t len)
{
	size_t		i;

	if (!scratch(ctx, len + 1))
		return NULL;
	for (i = 0; i < len; i++)
		ctx->buf[i] = ((unsigned char) s[i] < 0x20) ? ' ' : s[i];
	ctx->buf[len] = '\0';
	return ctx->buf;
}

/*
 * Decodes one UTF-8 sequence at s[0..len); returns its length (0 when it is
 * not valid UTF-8) and the code point in *cp.
 */
static size_t
utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	size_t		n,
				i;
	unsigned	c = s[0];

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, c &= 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, c &= 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, c &= 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates and values beyond Unicode */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
		(c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

/* Width in 1/1000 em of s[0..len) (no control characters) in font, from the cache. */
static double
cached_width(QbrCtx *ctx, HPDF_Font font, const char *s, size_t len)
{
	short	   *cache = font == ctx->font ? ctx->widths[0] : font == ctx->bold ? ctx->widths[1] : NULL;
	const unsigned char *u = (const unsigned char *) s;
	double		w = 0;
	size_t		i = 0;

	if (cache == NULL)
		return -1;
	while (i < len)
	{
		unsigned	cp;
		size_t		n = utf8_next(u + i, len - i, &cp);

		if (n == 0 || cp > 0xFFFF)
			return -1;			/* not UTF-8, or beyond HPDF_UNICODE: let libharu decide */
		if (cp < QBR_WIDTH_CACHE)
		{
			if (cache[cp] < 0)
				cache[cp] = (short) HPDF_Font_GetUnicodeWidth(font, (HPDF_UNICODE) cp);
			w += cache[cp];
		}
		else
			w += HPDF_Font_GetUnicodeWidth(font, (HPDF_UNICODE) cp);
		i += n;
	}
	return w;
}

double
qbr_width(QbrCtx *ctx, HPDF_Font font, double size, const char *s, size_t len)
{
	HPDF_TextWidth tw;
	size_t		i;
	double		w;

	if (len == 0 || ctx->failed)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20)
		{
			s = clean(ctx, s, len);
			if (s == NULL)
				return 0;
			break;
		}
	w = cached_width(ctx, font, s, len);
	if (w >= 0)
		return w * size / 1000.0;

	/*
	 * libharu measures at most HPDF_LIMIT_MAX_STRING_LEN bytes at a time (a
	 * longer word failed the render with libharu error 0x105B, found by
	 * tests/fuzz): in pieces that end before the start of a character.
	 */
	w = 0;
	while (len > 0)
	{
		size_t		n = len;

		if (n > HPDF_LIMIT_MAX_STRING_LEN)
		{
			n = HPDF_LIMIT_MAX_STRING_LEN;
			while (n > 1 && ((unsigned char) s[n] & 0xC0) == 0x80)
				n--;
		}
		tw = HPDF_Font_TextWidth(font, (const HPDF_BYTE *) s, (HPDF_UINT) n);
		w += tw.width;
		s += n;
		len -= n;
	}
	return w * size / 1000.0;
}

void
qbr_text(QbrCtx *ctx, HPDF_Font font, double size, QbrRgb color,
		 double x, double baseline, const char *s, size_t len)
{
	char	   *t;

	if (len == 0 || ctx->failed)
		return;
	if (clean(ctx, s, len) == NULL)
		return;
	t = ctx->buf;				/* the cleaned copy, ours to cut */
	HPDF_Page_BeginText(ctx->page);
	HPDF_Page_SetFontAndSize(ctx->page, font, (HPDF_REAL) size);
	HPDF_Page_SetRGBFill(ctx->page, color.r, color.g, color.b);

	/*
	 * libharu shows at most HPDF_LIMIT_MAX_STRING_LEN bytes at a time, and a
	 * line can be longer (glyphs DejaVu lacks are 0 wide: a long paragraph of
	 * CJK text is one line; found by tests/fuzz): pieces that end before the
	 * start of a character, each continuing where the last one ended.
	 */
	while (len > 0)
	{
		size_t		n = len;
		char		c;

		if (n > HPDF_LIMIT_MAX_STRING_LEN)
		{
			n = HPDF_LIMIT_MAX_STRING_LEN;
			while (n > 1 && ((unsigned char) t[n] & 0xC0) == 0x80)
				n--;
		}
		c = t[n];
		t[n] = '\0';
		if (t == ctx->buf)
			HPDF_Page_TextOut(ctx->page, (HPDF_REAL) x, (HPDF_REAL) baseline, t);
		else
			HPDF_Page_ShowText(ctx->page, t);
		t[n] = c;
		t += n;
		len -= n;
	}
	HPDF_Page_EndText(ctx->page);
}

/* align: 0 left, 1 centre, 2 right, within [x, x + w] */
void
qbr_text_aligned(QbrCtx *ctx, HPDF_Font font, double size, QbrRgb color,
				 double x, double w, int align, double baseline, const char *s)
{
	size_t		len = s ? strlen(s) : 0;
	double		tw;

	if (len == 0)
		return;
	tw = qbr_width(ctx, font, size, s, len);
	if (align == 1)
		x += (w - tw) / 2;
	else if (align == 2)
		x += w - tw;
	qbr_text(ctx, font, size, color, x, baseline, s, len);
}

double
qbr_fit_size(QbrCtx *ctx, HPDF_Font font, const char *s, double max_w,
			 double size, double min_size)
{
	size_t		len = s ? strlen(s) : 0;

	while (size > min_size && qbr_width(ctx, font, size, s, len) > max_w)
		size -= 0.5;
	return size;
}

/*
 * One line of running header/footer text: shrunk down to min_size to fit w,
 * and only then, if still too wide, shortened with an ellipsis (the full text
 * is always in the body of the document).
 */
void
qbr_text_fit(QbrCtx *ctx, HPDF_Font font, double size, double min_size, QbrRgb color,
		 double x, double w, int align, double baseline, const char *s)
{
	size_t		len = s ? strlen(s) : 0;
	char	   *copy;

	if (len == 0 || ctx->failed)
		return;
	size = qbr_fit_size(ctx, font, s, w, size, min_size);
	if (qbr_width(ctx, font, size, s, len) <= w)
	{
		qbr_text_aligned(ctx, font, size, color, x, w, align, baseline, s);
		return;
	}
	copy = malloc(len + 4);
	if (copy == NULL)
	{
		qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
		return;
	}
	/* keep whole characters while they fit next to the ellipsis: one pass */
	{
		double		room = w - qbr_width(ctx, font, size, "…", 3);
		double		used = 0;
		size_t		keep = 0;

		while (keep < len)
		{
			size_t		clen = (size_t) qbr_utf8_seqlen((unsigned char) s[keep]);
			double		cw;

			if (keep + clen > len)
				clen = len - keep;
			cw = qbr_width(ctx, font, size, s + keep, clen);
			if (used + cw > room)
				break;
			used += cw;
			keep += clen;
		}
		memcpy(copy, s, keep);
		memcpy(copy + keep, "…", 3);
		copy[keep + 3] = '\0';
	}
	qbr_text_aligned(ctx, font, size, color, x, w, align, baseline, copy);
	free(copy);
}

typedef struct MeasureArg
{
	QbrCtx	   *ctx;
	HPDF_Font	font;
	double		size;
} MeasureArg;

static double
measure_cb(void *arg, const char *s, size_t len)
{
	MeasureArg *m = (MeasureArg *) arg;

	return qbr_width(m->ctx, m->font, m->size, s, len);
}

/*
 * Wraps s to width; *lines points into the context's line array, valid until
 * the next call.  Returns the number of lines (0 on failure or empty text).
 */
int
qbr_wrap_text(QbrCtx *ctx, HPDF_Font font, double size, const char *s,
			  double width, QbrLine **lines)
{
	MeasureArg	m = {ctx, font, size};
	size_t		len = s ? strlen(s) : 0;
	int			n;

	*lines = ctx->lines;
	if (len == 0 || ctx->failed)
		return 0;
	n = qbr_wrap(s, len, width, measure_cb, &m, ctx->lines, ctx->linecap);
	if (n > ctx->linecap)
	{
		/* room to spare, so a slightly longer text next time is wrapped once */
		int			cap = n > 2 * ctx->linecap ? (n > 64 ? n : 64) : 2 * ctx->linecap;
		QbrLine    *nl = realloc(ctx->lines, sizeof(QbrLine) * (size_t) cap);

		if (nl == NULL)
		{
			qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
			return 0;
		}
		ctx->lines = nl;
		ctx->linecap = cap;
		n = qbr_wrap(s, len, width, measure_cb, &m, ctx->lines, ctx->linecap);
	}
	*lines = ctx->lines;
	return ctx->failed ? 0 : n;
}

/* The baseline of text of this size in a line box of height lead at top. */
double
qbr_baseline(double top, double size, double lead)
{
	return top - lead / 2 - size * 0.35;
}

/* ---------------------------------------------------------------- shapes */

void
qbr_rect(QbrCtx *ctx, double x, double y, double w, double h, QbrRgb fill)
{
	if (ctx->failed || w <= 0 || h <= 0)
		return;
	HPDF_Page_SetRGBFill(ctx->page, fill.r, fill.g, fill.b);
	HPDF_Page_Rectangle(ctx->page, (HPDF_REAL) x, (HPDF_REAL) y, (HPDF_REAL) w, (HPDF_REAL) h);
	HPDF_Page_Fill(ctx->page);
}

void
qbr_hline(QbrCtx *ctx, double x1, double x2, double y, double width, QbrRgb color)
{
	if (ctx->failed)
		return;
	HPDF_Page_SetRGBStroke(ctx->page, color.r, color.g, color.b);
	HPDF_Page_SetLineWidth(ctx->page, (HPDF_REAL) width);
	HPDF_Page_MoveTo(ctx->page, (HPDF_REAL) x1, (HPDF_REAL) y);
	HPDF_Page_LineTo(ctx->page, (HPDF_REAL) x2, (HPDF_REAL) y);
	HPDF_Page_Stroke(ctx->page);
}

/* ------------------------------------------------------------------ flow */

void
qbr_new_page(QbrCtx *ctx)
{
	HPDF_Page	page;

	if (!qbr_ok(ctx))
		return;
	if (ctx->n_pages == ctx->cap_pages)
	{
		int			cap = ctx->cap_pages ? ctx->cap_pages * 2 : 16;
		HPDF_Page  *np = realloc(ctx->pages, sizeof(HPDF_Page) * (size_t) cap);

		if (np == NULL)
		{
			qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
			return;
		}
		ctx->pages = np;
		ctx->cap_pages = cap;
	}
	page = HPDF_AddPage(ctx->pdf);
	if (page == NULL)
		return;					/* the error handler has recorded why */
	HPDF_Page_SetWidth(page, (HPDF_REAL) ctx->page_w);
	HPDF_Page_SetHeight(page, (HPDF_REAL) ctx->page_h);
	HPDF_Page_SetLineCap(page, HPDF_BUTT_END);
	ctx->pages[ctx->n_pages++] = page;
	ctx->page = page;
	ctx->y = ctx->content_top;
}

static bool
at_page_top(QbrCtx *ctx)
{
	return ctx->y >= ctx->content_top - 0.5;
}

/* Makes sure h points are free below y, starting a new page if not. */
void
qbr_need(QbrCtx *ctx, double h)
{
	if (ctx->y - h < ctx->content_bottom && !at_page_top(ctx))
		qbr_new_page(ctx);
}

/* Vertical space; none at the top of a page. */
void
qbr_space(QbrCtx *ctx, double h)
{
	if (at_page_top(ctx))
		return;
	if (ctx->y - h < ctx->content_bottom)
		qbr_new_page(ctx);
	else
		ctx->y -= h;
}

void
qbr_section_title(QbrCtx *ctx, const char *title, double keep)
{
	HPDF_Outline outline;
	HPDF_Destination dst;

	if (!qbr_ok(ctx))
		return;

	/*
	 * Keep the title with what follows: with keep points of it when that fits
	 * on a page at all, else with a few lines.
	 */
	if (keep <= 0 || 22 + 34 + keep > ctx->content_top - ctx->content_bottom)
		keep = 4 * QBR_BODY_LEAD;
	qbr_need(ctx, 22 + 34 + keep);
	qbr_space(ctx, 22);
	qbr_text(ctx, ctx->bold, 15, ctx->accent, ctx->margin_x, ctx->y - 17, title, strlen(title));
	qbr_hline(ctx, ctx->margin_x, ctx->margin_x + ctx->content_w, ctx->y - 25, 0.6, ctx->rule);
	qbr_hline(ctx, ctx->margin_x, ctx->margin_x + 44, ctx->y - 25, 2.4, ctx->accent);

	/* a bookmark, so readers can jump between sections */
	outline = HPDF_CreateOutline(ctx->pdf, NULL, title, NULL);	/* top-level bookmark */
	dst = HPDF_Page_CreateDestination(ctx->page);
	if (outline && dst)
	{
		HPDF_Destination_SetFitH(dst, (HPDF_REAL) (ctx->y + 12));
		HPDF_Outline_SetDestination(outline, dst);
	}
	ctx->y -= 34;
}

void
qbr_subheading(QbrCtx *ctx, const char *title, double keep)
{
	if (!qbr_ok(ctx))
		return;
	qbr_need(ctx, 25 + (keep > 0 ? keep : 2 * QBR_BODY_LEAD));
	qbr_space(ctx, 6);
	qbr_text(ctx, ctx->bold, 10.5, ctx->ink, ctx->margin_x, ctx->y - 13, title, strlen(title));
	ctx->y -= 19;
}

/*
 * Draws one wrapped line; with rich set, citations ("[Ticket #123]") are in
 * the citation colour.  *in_cite carries an unclosed citation to the next line.
 */
static void
draw_line(QbrCtx *ctx, HPDF_Font font, double size, QbrRgb color, double x,
		  double baseline, const char *s, size_t len, bool rich, bool *in_cite)
{
	size_t		pos = 0;

	if (!rich)
	{
		qbr_text(ctx, font, size, color, x, baseline, s, len);
		return;
	}
	while (pos < len && !ctx->failed)
	{
		size_t		end = pos;
		bool		cite = *in_cite;

		if (cite)
		{
			while (end < len && s[end] != ']')
				end++;
			if (end < len)
			{
				end++;			/* include the ']' */
				*in_cite = false;
			}
		}
		else
		{
			while (end < len && s[end] != '[')
				end++;
			if (end < len)
				*in_cite = true;
		}
		if (end > pos)
		{
			qbr_text(ctx, font, size, cite ? ctx->cite : color, x, baseline, s + pos, end - pos);
			x += qbr_width(ctx, font, size, s + pos, end - pos);
		}
		pos = end;
	}
}

void
qbr_paragraph(QbrCtx *ctx, const char *text, HPDF_Font font, double size,
			  double lead, double indent, QbrRgb color, bool rich)
{
	QbrLine    *lines;
	int			n,
				i;
	bool		in_cite = false;

	if (!qbr_ok(ctx) || text == NULL)
		return;
	n = qbr_wrap_text(ctx, font, size, text, ctx->content_w - indent, &lines);
	for (i = 0; i < n && qbr_ok(ctx); i++)
	{
		if (ctx->y - lead < ctx->content_bottom)
			qbr_new_page(ctx);
		draw_line(ctx, font, size, color, ctx->margin_x + indent,
				  qbr_baseline(ctx->y, size, lead),
				  text + lines[i].start, lines[i].len, rich, &in_cite);
		ctx->y -= lead;
		if (lines[i].para_end && i < n - 1)
			qbr_space(ctx, lead * 0.55);
	}
}

/* A plain sentence standing in for a section or part without data. */
void
qbr_note(QbrCtx *ctx, const char *sentence)
{
	qbr_paragraph(ctx, sentence, ctx->font, QBR_BODY_SIZE, QBR_BODY_LEAD, 0, ctx->muted, false);
}

void
qbr_bullets(QbrCtx *ctx, const char *const *items, int n, const char *bullet,
			QbrRgb bullet_color, double size, double lead, bool rich)
{
	int			i;

	for (i = 0; i < n && qbr_ok(ctx); i++)
	{
		if (items[i] == NULL || items[i][0] == '\0')
			continue;
		qbr_need(ctx, lead);
		qbr_text(ctx, ctx->bold, size, bullet_color, ctx->margin_x + 2,
				 qbr_baseline(ctx->y, size, lead), bullet, strlen(bullet));
		qbr_paragraph(ctx, items[i], ctx->font, size, lead, 16, ctx->ink, rich);
		if (i < n - 1)
			qbr_space(ctx, lead * 0.3);
	}
}

/* ---------------------------------------------------- header and footer */

/*
 * The diagonal DRAFT watermark is drawn as strokes, not text, so that text
 * extraction (search, copy, pdftotext) sees only the real content and the
 * "DRAFT — pending approval" label.  Letters are in a unit box (cap height 1).
 */
static void
draw_watermark(QbrCtx *ctx, QbrRgb color)
{
	HPDF_Page	p = ctx->page;
	double		cap = 120;		/* cap height in points */
	double		width = 3.75;	/* of "DRAFT" in cap heights, with the gaps */
	HPDF_REAL	c = (HPDF_REAL) cos(QBR_PI / 4),
				s = (HPDF_REAL) sin(QBR_PI / 4);
	double		x0 = -width / 2,
				y0 = -0.5;		/* so the word is centred on the origin */

	if (ctx->failed)
		return;
	HPDF_Page_GSave(p);
	if (ctx->watermark_gs)
		HPDF_Page_SetExtGState(p, ctx->watermark_gs);
	/* origin at the page centre, rotated 45 degrees, one unit = cap height */
	HPDF_Page_Concat(p, (HPDF_REAL) (c * cap), (HPDF_REAL) (s * cap),
					 (HPDF_REAL) (-s * cap), (HPDF_REAL) (c * cap),
					 (HPDF_REAL) (ctx->page_w / 2), (HPDF_REAL) (ctx->page_h / 2));
	HPDF_Page_Concat(p, 1, 0, 0, 1, (HPDF_REAL) x0, (HPDF_REAL) y0);
	HPDF_Page_SetRGBStroke(p, color.r, color.g, color.b);
	HPDF_Page_SetLineWidth(p, 0.14f);
	HPDF_Page_SetLineJoin(p, HPDF_MITER_JOIN);
	HPDF_Page_SetLineCap(p, HPDF_PROJECTING_SCUARE_END);

	/* D */
	HPDF_Page_MoveTo(p, 0, 0);
	HPDF_Page_LineTo(p, 0, 1);
	HPDF_Page_LineTo(p, 0.28f, 1);
	HPDF_Page_CurveTo(p, 0.78f, 1, 0.78f, 0, 0.28f, 0);
	HPDF_Page_ClosePath(p);
	/* R */
	HPDF_Page_MoveTo(p, 0.82f, 0);
	HPDF_Page_LineTo(p, 0.82f, 1);
	HPDF_Page_LineTo(p, 1.16f, 1);
	HPDF_Page_CurveTo(p, 1.5f, 1, 1.5f, 0.48f, 1.16f, 0.48f);
	HPDF_Page_LineTo(p, 0.82f, 0.48f);
	HPDF_Page_MoveTo(p, 1.12f, 0.48f);
	HPDF_Page_LineTo(p, 1.42f, 0);
	/* A */
	HPDF_Page_MoveTo(p, 1.6f, 0);
	HPDF_Page_LineTo(p, 1.92f, 1);
	HPDF_Page_LineTo(p, 2.24f, 0);
	HPDF_Page_MoveTo(p, 1.71f, 0.34f);
	HPDF_Page_LineTo(p, 2.13f, 0.34f);
	/* F */
	HPDF_Page_MoveTo(p, 2.98f, 1);
	HPDF_Page_LineTo(p, 2.46f, 1);
	HPDF_Page_LineTo(p, 2.46f, 0);
	HPDF_Page_MoveTo(p, 2.46f, 0.52f);
	HPDF_Page_LineTo(p, 2.88f, 0.52f);
	/* T */
	HPDF_Page_MoveTo(p, 3.13f, 1);
	HPDF_Page_LineTo(p, 3.75f, 1);
	HPDF_Page_MoveTo(p, 3.44f, 1);
	HPDF_Page_LineTo(p, 3.44f, 0);
	HPDF_Page_Stroke(p);
	HPDF_Page_GRestore(p);
}

static void
decorate_page(QbrCtx *ctx, int i)
{
	const QbrDocument *doc = ctx->doc;
	double		top = ctx->page_h - HEADER_TOP;
	double		x = ctx->margin_x;
	double		half = ctx->content_w / 2;
	char		line[512];
	char		pageno[64];

	ctx->page = ctx->pages[i];

	/* left: logo and MSP name */
	if (ctx->logo)
	{
		double		iw = HPDF_Image_GetWidth(ctx->logo);
		double		ih = HPDF_Image_GetHeight(ctx->logo);
		double		scale = fmin(28.0 / ih, 110.0 / iw);

		HPDF_Page_DrawImage(ctx->page, ctx->logo, (HPDF_REAL) x,
							(HPDF_REAL) (top - 14 - ih * scale / 2),
							(HPDF_REAL) (iw * scale), (HPDF_REAL) (ih * scale));
		x += iw * scale + 10;
	}
	qbr_text_fit(ctx, ctx->bold, 11, 7, ctx->ink, x, ctx->margin_x + half - 10 - x, 0,
			 top - 18, doc->msp_name ? doc->msp_name : "");

	/* right: client and period */
	qbr_text_fit(ctx, ctx->bold, 10, 7, ctx->ink, ctx->margin_x + half, half, 2, top - 11,
			 doc->client_name);
	snprintf(line, sizeof(line), "%s · Quarterly Business Review", doc->period);
	qbr_text_fit(ctx, ctx->font, 8, 6, ctx->muted, ctx->margin_x + half, half, 2, top - 24, line);
	qbr_hline(ctx, ctx->margin_x, ctx->margin_x + ctx->content_w,
			  ctx->page_h - HEADER_RULE, 1.2, ctx->accent);

	if (doc->draft)
	{
		static const char mark[] = "DRAFT — pending approval";
		QbrRgb		red = rgb255(198, 40, 40);
		double		mw = qbr_width(ctx, ctx->bold, 7.5, mark, strlen(mark)) + 16;

		/* a label in the top margin, and a faint watermark across the page */
		qbr_rect(ctx, (ctx->page_w - mw) / 2, ctx->page_h - 24, mw, 13, red);
		qbr_text_aligned(ctx, ctx->bold, 7.5, ctx->white, (ctx->page_w - mw) / 2, mw, 1,
						 ctx->page_h - 20.5, mark);
		draw_watermark(ctx, red);
	}

	/* footer */
	qbr_hline(ctx, ctx->margin_x, ctx->margin_x + ctx->content_w, FOOTER_RULE, 0.5, ctx->rule);
	snprintf(line, sizeof(line), "Prepared by %s for %s%s%s · Confidential",
			 doc->msp_name ? doc->msp_name : "your IT partner", doc->client_name,
			 doc->as_of ? " · Data as of " : "", doc->as_of ? doc->as_of : "");
	qbr_text_fit(ctx, ctx->font, 7.5, 5.5, ctx->muted, ctx->margin_x, ctx->content_w - 80, 0,
			 FOOTER_RULE - 13, line);
	snprintf(pageno, sizeof(pageno), "Page %d of %d", i + 1, ctx->n_pages);
	qbr_text_aligned(ctx, ctx->font, 7.5, ctx->muted, ctx->margin_x, ctx->content_w, 2,
					 FOOTER_RULE - 13, pageno);
}

/* ----------------------------------------------------------------- setup */

/*
 * libharu (2.3.0, and 2.4 still) gives a UTF-8 font a ToUnicode stream that
 * is really a CID CMap ("begincidrange"), which is invalid there: readers
 * fall back to guessing, and poppler prints a warning per font.  Since the
 * UTF-8 encoder writes each character as its 16-bit Unicode value, the
 * right ToUnicode map is the identity; rewrite the stream with it (256
 * bfranges, one per high byte, surrogates left out).
 */
static void
fix_tounicode(QbrCtx *ctx, HPDF_Font font)
{
	HPDF_Dict	tu;
	char		line[64];
	int			hi,
				in_block = 0,
				left = 256 - 8;	/* ranges to write: 0x00..0xFF minus D8..DF */

	if (ctx->failed || font == NULL)
		return;
	tu = HPDF_Dict_GetItem(font, "ToUnicode", HPDF_OCLASS_DICT);
	if (tu == NULL || tu->stream == NULL || tu->stream->type != HPDF_STREAM_MEMORY)
		return;
	HPDF_MemStream_FreeData(tu->stream);
	HPDF_Stream_WriteStr(tu->stream,
						 "/CIDInit /ProcSet findresource begin\n"
						 "12 dict begin\n"
						 "begincmap\n"
						 "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
						 "/CMapName /Adobe-Identity-UCS def\n"
						 "/CMapType 2 def\n"
						 "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n");
	for (hi = 0; hi < 256; hi++)
	{
		if (hi >= 0xD8 && hi <= 0xDF)
			continue;
		if (in_block == 0)
		{
			snprintf(line, sizeof(line), "%d beginbfrange\n", left < 100 ? left : 100);
			HPDF_Stream_WriteStr(tu->stream, line);
		}
		snprintf(line, sizeof(line), "<%02X00> <%02XFF> <%02X00>\n", hi, hi, hi);
		HPDF_Stream_WriteStr(tu->stream, line);
		left--;
		if (++in_block == 100 || left == 0)
		{
			HPDF_Stream_WriteStr(tu->stream, "endbfrange\n");
			in_block = 0;
		}
	}
	HPDF_Stream_WriteStr(tu->stream,
						 "endcmap\n"
						 "CMapName currentdict /CMap defineresource pop\n"
						 "end\nend\n");
}

static HPDF_Font
load_font(QbrCtx *ctx, const char *path)
{
	FILE	   *f;
	const char *name;
	HPDF_Font	font;

	if (ctx->failed)
		return NULL;
	f = fopen(path, "rb");
	if (f == NULL)
	{
		int			e = errno;

		qbr_fail(ctx, QBR_PDF_ERR_FONT, "could not open font file \"%s\": %s", path, strerror(e));
		return NULL;
	}
	fclose(f);
	name = HPDF_LoadTTFontFromFile(ctx->pdf, path, HPDF_TRUE);
	if (name == NULL)
	{
		/* the handler recorded libharu's reason; say which file it was */
		char		why[256];

		snprintf(why, sizeof(why), "%s", ctx->message);
		ctx->error = QBR_PDF_ERR_FONT;
		snprintf(ctx->message, sizeof(ctx->message), "could not load font file \"%s\"", path);
		snprintf(ctx->detail, sizeof(ctx->detail), "%.250s.", why);
		return NULL;
	}
	font = HPDF_GetFont(ctx->pdf, name, "UTF-8");
	fix_tounicode(ctx, font);
	return font;
}

/*
 * The logo reaches libharu only as raw pixels decoded by qbr_logo.c (see
 * there why libharu never gets PNG bytes): an RGB image, with the alpha as a
 * DeviceGray soft mask when the logo has transparency.  libharu copies the
 * pixels into its own streams, so etop's buffers are freed right here.
 */
static void
load_logo(QbrCtx *ctx)
{
	const QbrDocument *doc = ctx->doc;
	QbrLogo		logo;
	char		why[160];

	if (ctx->failed || doc->logo_png == NULL || doc->logo_png_len == 0)
		return;
	if (!qbr_logo_decode(doc->logo_png, doc->logo_png_len, &logo, why, sizeof(why)))
	{
		qbr_fail(ctx, QBR_PDF_ERR_LOGO, "the MSP logo is not a usable PNG image");
		snprintf(ctx->detail, sizeof(ctx->detail), "%s.", why);
		return;
	}
	ctx->logo = HPDF_LoadRawImageFromMem(ctx->pdf, logo.rgb, logo.width, logo.height,
										 HPDF_CS_DEVICE_RGB, 8);
	if (ctx->logo != NULL && logo.alpha != NULL)
	{
		HPDF_Image	mask = HPDF_LoadRawImageFromMem(ctx->pdf, logo.alpha, logo.width,
													logo.height, HPDF_CS_DEVICE_GRAY, 8);

		if (mask == NULL || HPDF_Image_AddSMask(ctx->logo, mask) != HPDF_OK)
			ctx->logo = NULL;
	}
	qbr_logo_free(&logo);
	if (ctx->logo == NULL && ctx->failed)
		ctx->error = QBR_PDF_ERR_LOGO;
}

/*
 * s cut to fit size bytes, never inside a UTF-8 character, for the document
 * information (libharu refuses a string over 65,535 bytes there, failing the
 * render: an MSP name that long, found by tests/fuzz).
 */
static const char *
info_text(char *buf, size_t size, const char *s)
{
	size_t		n = strlen(s);

	if (n >= size)
	{
		n = size - 1;
		while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static void
setup(QbrCtx *ctx)
{
	const QbrDocument *doc = ctx->doc;
	const QbrPdfOptions *opts = ctx->opts;
	QbrRgb		white = rgb255(255, 255, 255);
	char		title[512],
				client[240],
				period[200],
				author[512];

	ctx->accent = rgb255(doc->accent[0], doc->accent[1], doc->accent[2]);
	ctx->white = white;
	ctx->accent_tint = mix(ctx->accent, white, 0.9f);
	ctx->ink = rgb255(33, 37, 41);
	ctx->muted = rgb255(100, 108, 118);
	ctx->cite = mix(ctx->accent, rgb255(110, 118, 128), 0.55f);
	ctx->rule = rgb255(208, 213, 219);
	ctx->zebra = rgb255(244, 246, 248);
	ctx->track = rgb255(214, 219, 225);
	ctx->alert = rgb255(198, 40, 40);

	if (doc->page_size == QBR_PAGE_A4)
	{
		ctx->page_w = 595.28;
		ctx->page_h = 841.89;
	}
	else
	{
		ctx->page_w = 612;
		ctx->page_h = 792;
	}
	ctx->margin_x = MARGIN_X;
	ctx->content_w = ctx->page_w - 2 * MARGIN_X;
	ctx->content_top = ctx->page_h - CONTENT_TOP;
	ctx->content_bottom = CONTENT_BOTTOM;

	HPDF_SetCompressionMode(ctx->pdf, opts && opts->no_compression ? HPDF_COMP_NONE : HPDF_COMP_ALL);
	HPDF_UseUTFEncodings(ctx->pdf);
	HPDF_SetCurrentEncoder(ctx->pdf, "UTF-8");
	ctx->font = load_font(ctx, opts && opts->font_regular ? opts->font_regular : QBR_PDF_FONT_REGULAR);
	ctx->bold = load_font(ctx, opts && opts->font_bold ? opts->font_bold : QBR_PDF_FONT_BOLD);
	for (int f = 0; f < 2 && !ctx->failed; f++)
	{
		/* a failed malloc only means measuring through libharu */
		ctx->widths[f] = malloc(QBR_WIDTH_CACHE * sizeof(short));
		if (ctx->widths[f])
			memset(ctx->widths[f], 0xFF, QBR_WIDTH_CACHE * sizeof(short));	/* -1 */
	}
	load_logo(ctx);
	if (ctx->failed)
		return;

	snprintf(title, sizeof(title), "Quarterly Business Review — %s — %s",
			 info_text(client, sizeof(client), doc->client_name),
			 info_text(period, sizeof(period), doc->period));
	HPDF_SetInfoAttr(ctx->pdf, HPDF_INFO_TITLE, title);
	HPDF_SetInfoAttr(ctx->pdf, HPDF_INFO_CREATOR, "etop");
	if (doc->msp_name)
		HPDF_SetInfoAttr(ctx->pdf, HPDF_INFO_AUTHOR,
						 info_text(author, sizeof(author), doc->msp_name));

	if (doc->draft)
	{
		ctx->watermark_gs = HPDF_CreateExtGState(ctx->pdf);
		if (ctx->watermark_gs)
			HPDF_ExtGState_SetAlphaStroke(ctx->watermark_gs, 0.08f);
	}
}

/* Copies the finished PDF out of libharu into a malloc'd buffer. */
static void
save(QbrCtx *ctx, QbrPdfResult *res)
{
	HPDF_UINT32 size,
				got;
	unsigned char *data;

	if (ctx->failed || HPDF_SaveToStream(ctx->pdf) != HPDF_OK || ctx->failed)
		return;
	size = HPDF_GetStreamSize(ctx->pdf);
	if (size == 0)
	{
		qbr_fail(ctx, QBR_PDF_ERR_LIBHARU, "libharu produced an empty document");
		return;
	}
	data = malloc(size);
	if (data == NULL)
	{
		qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
		return;
	}
	/* one read of exactly the stream's size ends without an EOF error */
	got = size;
	if (HPDF_ReadFromStream(ctx->pdf, data, &got) != HPDF_OK || got != size || ctx->failed)
	{
		free(data);
		qbr_fail(ctx, QBR_PDF_ERR_LIBHARU, "could not read the PDF back from libharu");
		return;
	}
	res->data = data;
	res->size = size;
	res->pages = ctx->n_pages;
}

void
qbr_document_init(QbrDocument *doc)
{
	memset(doc, 0, sizeof(*doc));
	doc->accent[0] = 0x1F;
	doc->accent[1] = 0x4E;
	doc->accent[2] = 0x79;
	doc->service.sla_met = doc->service.sla_total = doc->service.reopened =
		doc->service.total = doc->service.after_hours = -1;
}

QbrPdfError
qbr_pdf_render(const QbrDocument *doc, const QbrPdfOptions *opts, QbrPdfResult *res)
{
	QbrCtx		ctx;
	int			i;

	memset(res, 0, sizeof(*res));
	memset(&ctx, 0, sizeof(ctx));
	ctx.doc = doc;
	ctx.opts = opts;

	if (doc->client_name == NULL || doc->period == NULL)
		qbr_fail(&ctx, QBR_PDF_ERR_LIBHARU, "the document needs a client name and a period");
	else
	{
		ctx.pdf = HPDF_New(error_handler, &ctx);
		if (ctx.pdf == NULL)
			qbr_fail(&ctx, QBR_PDF_ERR_NOMEM, "out of memory (libharu could not start)");
	}
	if (!ctx.failed)
	{
		setup(&ctx);
		qbr_new_page(&ctx);
		qbr_title_block(&ctx);
		qbr_render_sections(&ctx);
		for (i = 0; i < ctx.n_pages && !ctx.failed; i++)
			decorate_page(&ctx, i);
		save(&ctx, res);
	}

	if (ctx.pdf)
		HPDF_Free(ctx.pdf);
	free(ctx.pages);
	free(ctx.buf);
	free(ctx.lines);
	free(ctx.widths[0]);
	free(ctx.widths[1]);

	res->error = ctx.failed ? ctx.error : QBR_PDF_OK;
	if (ctx.failed)
	{
		free(res->data);
		res->data = NULL;
		res->size = 0;
		snprintf(res->message, sizeof(res->message), "%s", ctx.message);
		snprintf(res->detail, sizeof(res->detail), "%s", ctx.detail);
	}
	return res->error;
}

void
qbr_pdf_result_free(QbrPdfResult *res)
{
	free(res->data);
	res->data = NULL;
	res->size = 0;
}
