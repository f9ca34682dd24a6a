/*
 * qbr_pdf_table.c — tables that continue across pages, and rows of key-figure
 * tiles, for the QBR renderer.  Cells wrap; a row that fits on a page is
 * never split (it moves to the next page, under a repeated header row); a row
 * taller than a whole page is split line by line.  Pure C over libharu, like
 * the rest of the renderer (see qbr_pdf.c for the error model).
 */
#include "etop/qbr_pdf_draw.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tables */

#define MAX_COLS 8

typedef struct CellItem
{
	size_t		start;
	size_t		len;
	bool		sub;			/* from cell.sub (smaller) rather than cell.text */
} CellItem;

typedef struct CellState
{
	QbrCell		cell;
	CellItem   *items;
	int			n;
	int			cap;
	int			cursor;			/* items before this one are drawn */
} CellState;

typedef struct Table
{
	QbrCtx	   *ctx;
	const QbrColumn *cols;
	int			ncols;
	QbrTableStyle style;
	double		x[MAX_COLS];
	double		w[MAX_COLS];
	double		pad_x;
	double		pad_y;
	double		gap;			/* between card rows */
	double		header_h;
	CellState	cs[MAX_COLS];
} Table;

#define SUB_SIZE 7.5
#define SUB_LEAD 10.0

static double
item_lead(const CellItem *it)
{
	return it->sub ? SUB_LEAD : QBR_CELL_LEAD;
}

static bool
add_item(QbrCtx *ctx, CellState *cs, size_t start, size_t len, bool sub)
{
	if (cs->n == cs->cap)
	{
		int			cap = cs->cap ? cs->cap * 2 : 8;
		CellItem   *ni = realloc(cs->items, sizeof(CellItem) * (size_t) cap);

		if (ni == NULL)
		{
			qbr_fail(ctx, QBR_PDF_ERR_NOMEM, "out of memory");
			return false;
		}
		cs->items = ni;
		cs->cap = cap;
	}
	cs->items[cs->n].start = start;
	cs->items[cs->n].len = len;
	cs->items[cs->n].sub = sub;
	cs->n++;
	return true;
}

/* Wraps a cell's text and sub-text into items. */
static void
layout_cell(Table *t, int c)
{
	QbrCtx	   *ctx = t->ctx;
	CellState  *cs = &t->cs[c];
	double		width = t->w[c] - 2 * t->pad_x;
	QbrLine    *lines;
	int			n,
				i;

	cs->n = 0;
	cs->cursor = 0;
	n = qbr_wrap_text(ctx, cs->cell.bold ? ctx->bold : ctx->font, QBR_CELL_SIZE,
					  cs->cell.text, width, &lines);
	for (i = 0; i < n; i++)
		if (!add_item(ctx, cs, lines[i].start, lines[i].len, false))
			return;
	n = qbr_wrap_text(ctx, ctx->font, SUB_SIZE, cs->cell.sub, width, &lines);
	for (i = 0; i < n; i++)
		if (!add_item(ctx, cs, lines[i].start, lines[i].len, true))
			return;
}

/* Height of the rest of a row (all cells from their cursors). */
static double
rest_height(Table *t)
{
	double		best = 0;
	int			c,
				k;

	for (c = 0; c < t->ncols; c++)
	{
		double		h = 0;

		for (k = t->cs[c].cursor; k < t->cs[c].n; k++)
			h += item_lead(&t->cs[c].items[k]);
		if (h > best)
			best = h;
	}
	return best + 2 * t->pad_y;
}

static double
header_height(Table *t)
{
	QbrCtx	   *ctx = t->ctx;
	double		best = 0;
	double		size = t->style == QBR_TABLE_GRID ? QBR_CELL_SIZE : 10;
	int			c;

	for (c = 0; c < t->ncols; c++)
	{
		QbrLine    *lines;
		int			n = qbr_wrap_text(ctx, ctx->bold, size, t->cols[c].title,
									  t->w[c] - 2 * t->pad_x, &lines);

		if (n * (size + 3.5) > best)
			best = n * (size + 3.5);
	}
	return best + 2 * t->pad_y + (t->style == QBR_TABLE_CARDS ? 4 : 0);
}

static void
draw_header(Table *t)
{
	QbrCtx	   *ctx = t->ctx;
	double		size = t->style == QBR_TABLE_GRID ? QBR_CELL_SIZE : 10;
	double		lead = size + 3.5;
	int			c;

	if (t->style == QBR_TABLE_GRID)
		qbr_rect(ctx, ctx->margin_x, ctx->y - t->header_h, ctx->content_w, t->header_h, ctx->accent);
	for (c = 0; c < t->ncols && !ctx->failed; c++)
	{
		QbrLine    *lines;
		int			n = qbr_wrap_text(ctx, ctx->bold, size, t->cols[c].title,
									  t->w[c] - 2 * t->pad_x, &lines);
		double		top = ctx->y - t->pad_y;
		int			i;

		for (i = 0; i < n; i++)
		{
			const char *s = t->cols[c].title + lines[i].start;
			double		x = t->x[c] + t->pad_x;
			double		tw = qbr_width(ctx, ctx->bold, size, s, lines[i].len);

			if (t->cols[c].right)
				x = t->x[c] + t->w[c] - t->pad_x - tw;
			qbr_text(ctx, ctx->bold, size,
					 t->style == QBR_TABLE_GRID ? ctx->white : ctx->accent,
					 x, qbr_baseline(top, size, lead), s, lines[i].len);
			top -= lead;
		}
		if (t->style == QBR_TABLE_CARDS)
			qbr_hline(ctx, t->x[c] + 3, t->x[c] + t->w[c] - 3,
					  ctx->y - t->header_h + 3, 2, ctx->accent);
	}
	ctx->y -= t->header_h;
}

static void
table_new_page(Table *t)
{
	qbr_new_page(t->ctx);
	draw_header(t);
}

/*
 * Draws as much of the current row as fits on this page (at least one line
 * of one cell, or nothing if not even that fits); returns true when the row
 * is complete.
 */
static bool
draw_row_part(Table *t, int row)
{
	QbrCtx	   *ctx = t->ctx;
	double		avail = ctx->y - ctx->content_bottom - 2 * t->pad_y - t->gap;
	int			take[MAX_COLS];
	double		seg = 0;
	bool		done = true;
	bool		any = false;
	int			c,
				k;

	for (c = 0; c < t->ncols; c++)
	{
		CellState  *cs = &t->cs[c];
		double		h = 0;

		take[c] = 0;
		for (k = cs->cursor; k < cs->n; k++)
		{
			double		l = item_lead(&cs->items[k]);

			if (h + l > avail + 1e-6)
				break;
			h += l;
			take[c]++;
		}
		if (take[c] > 0)
			any = true;
		if (cs->cursor + take[c] < cs->n)
			done = false;
		if (h > seg)
			seg = h;
	}
	if (!any && !done)
		return false;
	seg += 2 * t->pad_y;

	/* backgrounds first, then text */
	if (t->style == QBR_TABLE_GRID)
	{
		if (row % 2 == 1)
			qbr_rect(ctx, ctx->margin_x, ctx->y - seg, ctx->content_w, seg, ctx->zebra);
		qbr_hline(ctx, ctx->margin_x, ctx->margin_x + ctx->content_w, ctx->y - seg, 0.5, ctx->rule);
	}
	else
	{
		for (c = 0; c < t->ncols; c++)
			if (t->cs[c].n > 0 && (take[c] > 0 || t->cs[c].cursor < t->cs[c].n))
			{
				qbr_rect(ctx, t->x[c] + 3, ctx->y - seg, t->w[c] - 6, seg, ctx->accent_tint);
				qbr_rect(ctx, t->x[c] + 3, ctx->y - seg, 2.5, seg, ctx->accent);
			}
	}
	for (c = 0; c < t->ncols && !ctx->failed; c++)
	{
		CellState  *cs = &t->cs[c];
		double		top = ctx->y - t->pad_y;

		for (k = cs->cursor; k < cs->cursor + take[c]; k++)
		{
			CellItem   *it = &cs->items[k];
			const char *s = (it->sub ? cs->cell.sub : cs->cell.text) + it->start;
			HPDF_Font	font = (!it->sub && cs->cell.bold) ? ctx->bold : ctx->font;
			double		size = it->sub ? SUB_SIZE : QBR_CELL_SIZE;
			double		x = t->x[c] + t->pad_x;

			if (t->cols[c].right)
				x = t->x[c] + t->w[c] - t->pad_x - qbr_width(ctx, font, size, s, it->len);
			qbr_text(ctx, font, size,
					 it->sub ? ctx->muted : cs->cell.alert ? ctx->alert : ctx->ink, x,
					 qbr_baseline(top, size, item_lead(it)), s, it->len);
			top -= item_lead(it);
		}
		cs->cursor += take[c];
	}
	ctx->y -= seg + t->gap;
	return done;
}

static bool
table_init(Table *t, QbrCtx *ctx, const QbrColumn *cols, int ncols, QbrTableStyle style)
{
	double		total = 0,
				x;
	int			c;

	if (!qbr_ok(ctx) || ncols < 1 || ncols > MAX_COLS)
		return false;
	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
	t->cols = cols;
	t->ncols = ncols;
	t->style = style;
	t->pad_x = style == QBR_TABLE_GRID ? 5 : 9;
	t->pad_y = style == QBR_TABLE_GRID ? 4 : 6;
	t->gap = style == QBR_TABLE_GRID ? 0 : 5;
	for (c = 0; c < ncols; c++)
		total += cols[c].frac;
	x = ctx->margin_x;
	for (c = 0; c < ncols; c++)
	{
		t->x[c] = x;
		t->w[c] = ctx->content_w * cols[c].frac / (total > 0 ? total : 1);
		x += t->w[c];
	}
	t->header_h = header_height(t);
	return true;
}

static void
table_free(Table *t)
{
	int			c;

	for (c = 0; c < t->ncols; c++)
		free(t->cs[c].items);
}

/* Fetches and wraps row r into the cell states. */
static void
load_row(Table *t, int r, QbrCellFn cellfn, void *arg)
{
	int			c;

	for (c = 0; c < t->ncols; c++)
	{
		memset(&t->cs[c].cell, 0, sizeof(QbrCell));
		cellfn(arg, r, c, &t->cs[c].cell);
		layout_cell(t, c);
	}
}

/* Height the whole table would take if nothing were split. */
double
qbr_table_height(QbrCtx *ctx, const QbrColumn *cols, int ncols, int nrows,
				 QbrCellFn cellfn, void *arg, QbrTableStyle style)
{
	Table		t;
	double		h;
	int			r;

	if (!table_init(&t, ctx, cols, ncols, style))
		return 0;
	h = t.header_h;
	for (r = 0; r < nrows && !ctx->failed; r++)
	{
		load_row(&t, r, cellfn, arg);
		h += rest_height(&t) + t.gap;
	}
	table_free(&t);
	return h;
}

void
qbr_table(QbrCtx *ctx, const QbrColumn *cols, int ncols, int nrows,
		  QbrCellFn cellfn, void *arg, QbrTableStyle style)
{
	Table		t;
	int			r;

	if (!table_init(&t, ctx, cols, ncols, style))
		return;
	qbr_need(ctx, t.header_h + 2 * t.pad_y + 3 * QBR_CELL_LEAD);
	draw_header(&t);
	for (r = 0; r < nrows && qbr_ok(ctx); r++)
	{
		double		full,
					avail,
					fresh;

		load_row(&t, r, cellfn, arg);
		/* a row that fits on a fresh page is not split */
		full = rest_height(&t) + t.gap;
		avail = ctx->y - ctx->content_bottom;
		fresh = ctx->content_top - ctx->content_bottom - t.header_h;
		if (full > avail && (full <= fresh || avail < 2 * t.pad_y + 3 * QBR_CELL_LEAD))
			table_new_page(&t);
		for (;;)
		{
			double		y_before = ctx->y;
			bool		fresh_page = ctx->y >= ctx->content_top - t.header_h - 0.5;

			if (draw_row_part(&t, r) || ctx->failed)
				break;
			if (fresh_page && ctx->y == y_before)
			{
				/* not even one line fits below the header: cannot happen with sane sizes */
				qbr_fail(ctx, QBR_PDF_ERR_LIBHARU, "a table row does not fit on a page");
				break;
			}
			table_new_page(&t);
		}
	}
	table_free(&t);
	qbr_space(ctx, 6);
}

/* ----------------------------------------------------------------- tiles */

void
qbr_tiles(QbrCtx *ctx, const QbrTile *tiles, int n)
{
	double		gap = 10,
				h = 58,
				w;
	int			i;

	if (!qbr_ok(ctx) || n < 1)
		return;
	w = (ctx->content_w - gap * (n - 1)) / n;
	qbr_need(ctx, h + 6);
	for (i = 0; i < n; i++)
	{
		double		x = ctx->margin_x + i * (w + gap);
		double		size;

		qbr_rect(ctx, x, ctx->y - h, w, h, ctx->accent_tint);
		qbr_rect(ctx, x, ctx->y - h, 3, h, ctx->accent);
		size = qbr_fit_size(ctx, ctx->bold, tiles[i].value, w - 20, 17, 7);
		qbr_text_aligned(ctx, ctx->bold, size, ctx->ink, x + 12, w - 20, 0, ctx->y - 24,
						 tiles[i].value);
		qbr_text_fit(ctx, ctx->bold, 8, 6, ctx->accent, x + 12, w - 20, 0, ctx->y - 38,
				 tiles[i].label);
		qbr_text_fit(ctx, ctx->font, 7.5, 5.5, ctx->muted, x + 12, w - 20, 0, ctx->y - 50,
				 tiles[i].sub);
	}
	ctx->y -= h;
	qbr_space(ctx, 10);
}
