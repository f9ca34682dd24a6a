/*
 * qbr_pdf_draw.h — the QBR renderer's drawing context and primitives
 * (src/qbr_pdf.c, src/qbr_pdf_table.c), shared with the nine section
 * renderers (src/qbr_pdf_sections.c).  Internal to the renderer; pure C over libharu.
 *
 * Coordinates are PDF points from the bottom-left corner.  ctx->y is the top
 * of the free space on the current page; the flowing primitives draw below
 * it, move it down and start a new page when something does not fit, so
 * nothing is ever drawn outside [content_bottom, content_top].
 *
 * Errors: libharu reports through an error handler that only records the
 * first error in the context (it never jumps).  Every primitive is a no-op
 * once ctx->failed is set, so sections need not check after each call.
 */
#ifndef ETOP_QBR_PDF_DRAW_H
#define ETOP_QBR_PDF_DRAW_H

#include <hpdf.h>

#include "etop/qbr_layout.h"
#include "etop/qbr_pdf.h"

typedef struct QbrRgb
{
	float		r,
				g,
				b;
} QbrRgb;

#define QBR_WIDTH_CACHE 0x3000	/* Latin, Greek, Cyrillic, punctuation, symbols */

typedef struct QbrCtx
{
	const QbrDocument *doc;
	const QbrPdfOptions *opts;
	HPDF_Doc	pdf;
	HPDF_Font	font;			/* DejaVu Sans */
	HPDF_Font	bold;			/* DejaVu Sans Bold */
	HPDF_Image	logo;			/* NULL: no logo */
	HPDF_ExtGState watermark_gs;	/* translucent fill for the DRAFT mark */

	HPDF_Page  *pages;
	int			n_pages;
	int			cap_pages;
	HPDF_Page	page;			/* current page */

	/* geometry */
	double		page_w;
	double		page_h;
	double		margin_x;
	double		content_w;
	double		content_top;
	double		content_bottom;
	double		y;				/* top of the free space on the current page */

	/* colours */
	QbrRgb		accent;
	QbrRgb		accent_tint;	/* accent mixed with a lot of white */
	QbrRgb		ink;
	QbrRgb		muted;
	QbrRgb		cite;			/* citations like [Ticket #123] */
	QbrRgb		rule;
	QbrRgb		zebra;
	QbrRgb		track;
	QbrRgb		white;
	QbrRgb		alert;			/* red: expired, draft */

	/*
	 * Advance widths (1/1000 em) of the code points below QBR_WIDTH_CACHE of
	 * font and bold, filled as they are first measured; -1 = not yet.  Line
	 * wrapping measures the same words many times, and libharu finds a
	 * glyph by a linear search of the font's cmap on every call (a quarter
	 * of the render time before this cache).  NULL: measure through libharu.
	 */
	short	   *widths[2];

	/* scratch space, reused */
	char	   *buf;
	size_t		bufcap;
	QbrLine    *lines;
	int			linecap;

	/* errors */
	bool		failed;
	QbrPdfError error;
	char		message[256];
	char		detail[256];
	unsigned	ticks;			/* for the cancel callback */
} QbrCtx;

/* Text sizes and leading used throughout. */
#define QBR_BODY_SIZE	9.5
#define QBR_BODY_LEAD	13.5
#define QBR_CELL_SIZE	8.5
#define QBR_CELL_LEAD	11.5

/* qbr_pdf.c: state and errors */
extern bool qbr_ok(QbrCtx *ctx);
extern void qbr_fail(QbrCtx *ctx, QbrPdfError kind, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern QbrRgb qbr_band_color(QbrBand band);

/* qbr_pdf.c: text */
extern double qbr_width(QbrCtx *ctx, HPDF_Font font, double size, const char *s, size_t len);
extern void qbr_text(QbrCtx *ctx, HPDF_Font font, double size, QbrRgb color,
					 double x, double baseline, const char *s, size_t len);
extern void qbr_text_aligned(QbrCtx *ctx, HPDF_Font font, double size, QbrRgb color,
							 double x, double w, int align, double baseline, const char *s);
extern void qbr_text_fit(QbrCtx *ctx, HPDF_Font font, double size, double min_size,
						 QbrRgb color, double x, double w, int align, double baseline,
						 const char *s);
extern double qbr_fit_size(QbrCtx *ctx, HPDF_Font font, const char *s,
						   double max_w, double size, double min_size);
extern int	qbr_wrap_text(QbrCtx *ctx, HPDF_Font font, double size, const char *s,
						  double width, QbrLine **lines);
extern double qbr_baseline(double top, double size, double lead);

/* qbr_pdf.c: shapes */
extern void qbr_rect(QbrCtx *ctx, double x, double y, double w, double h, QbrRgb fill);
extern void qbr_hline(QbrCtx *ctx, double x1, double x2, double y, double width, QbrRgb color);

/* qbr_pdf.c: flow */
extern void qbr_new_page(QbrCtx *ctx);
extern void qbr_need(QbrCtx *ctx, double h);
extern void qbr_space(QbrCtx *ctx, double h);
/* keep: height of what must follow on the same page (0: a few lines) */
extern void qbr_section_title(QbrCtx *ctx, const char *title, double keep);
extern void qbr_subheading(QbrCtx *ctx, const char *title, double keep);
extern void qbr_paragraph(QbrCtx *ctx, const char *text, HPDF_Font font, double size,
						  double lead, double indent, QbrRgb color, bool rich);
extern void qbr_note(QbrCtx *ctx, const char *sentence);
extern void qbr_bullets(QbrCtx *ctx, const char *const *items, int n, const char *bullet,
						QbrRgb bullet_color, double size, double lead, bool rich);

/* qbr_pdf_table.c: tables that continue across pages with their header repeated */
typedef struct QbrColumn
{
	const char *title;
	double		frac;			/* share of the table width */
	bool		right;			/* right-aligned (numbers) */
} QbrColumn;

typedef struct QbrCell
{
	const char *text;			/* main text, wrapped */
	const char *sub;			/* smaller muted text under it, wrapped */
	bool		bold;
	bool		alert;			/* main text in red */
	char		buf[128];		/* room for the cell function to format into */
	char		subbuf[128];
} QbrCell;

typedef void (*QbrCellFn) (void *arg, int row, int col, QbrCell *cell);

typedef enum QbrTableStyle
{
	QBR_TABLE_GRID,				/* filled header row, striped rows */
	QBR_TABLE_CARDS				/* column headings, each cell a card */
} QbrTableStyle;

extern void qbr_table(QbrCtx *ctx, const QbrColumn *cols, int ncols, int nrows,
					  QbrCellFn cell, void *arg, QbrTableStyle style);
extern double qbr_table_height(QbrCtx *ctx, const QbrColumn *cols, int ncols, int nrows,
							   QbrCellFn cell, void *arg, QbrTableStyle style);

/* qbr_pdf_table.c: tiles — a row of boxed key figures */
typedef struct QbrTile
{
	const char *value;
	const char *label;
	const char *sub;
} QbrTile;

extern void qbr_tiles(QbrCtx *ctx, const QbrTile *tiles, int n);

/* qbr_pdf_sections.c: the nine sections, in order */
extern void qbr_render_sections(QbrCtx *ctx);
extern void qbr_title_block(QbrCtx *ctx);

#endif							/* ETOP_QBR_PDF_DRAW_H */
