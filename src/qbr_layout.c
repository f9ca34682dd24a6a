/*
 * qbr_layout.c — pure layout helpers for the QBR PDF: text wrapping,
 * pagination arithmetic, chart axes, gauge angles, risk ranking and number
 * formatting.  No libharu and no PostgreSQL, so tests/unit/test_qbr_layout.c
 * exercises it directly.  Nothing here depends on the locale.
 */
#include "etop/qbr_layout.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Spaces, tabs and every other control character separate words. */
static bool
is_gap(unsigned char c)
{
	return c <= 0x20 && c != '\n';
}

int
qbr_utf8_seqlen(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1;
}

typedef struct WrapState
{
	const char *text;
	double		width;
	QbrMeasureFn measure;
	void	   *arg;
	QbrLine    *lines;
	int			max_lines;
	int			n;				/* lines emitted so far */
	/* the line being filled; has_line false when empty */
	bool		has_line;
	size_t		line_start;
	size_t		line_end;
	double		line_w;
} WrapState;

static void
emit(WrapState *st, size_t start, size_t end)
{
	if (st->n < st->max_lines)
	{
		st->lines[st->n].start = start;
		st->lines[st->n].len = end - start;
		st->lines[st->n].para_end = false;
	}
	st->n++;
}

/*
 * Starts a new line with the word [ws, we) of width ww; a word wider than a
 * line is broken between characters, every full piece becoming a line.  Each
 * character is measured once, so a word of n bytes costs O(n), however many
 * lines it fills (measuring the rest of the word again after every piece made
 * a 1 MB word take 13 s).
 */
static void
start_line(WrapState *st, size_t ws, size_t we, double ww)
{
	size_t		pos = ws,
				end = ws;
	double		w = 0;

	if (ww > st->width + 1e-6)
	{
		while (end < we)
		{
			size_t		clen = (size_t) qbr_utf8_seqlen((unsigned char) st->text[end]);
			double		cw;

			if (end + clen > we)
				clen = we - end;
			cw = st->measure(st->arg, st->text + end, clen);
			if (end > pos && w + cw > st->width + 1e-6)
			{
				emit(st, pos, end);
				pos = end;
				w = 0;
			}
			w += cw;
			end += clen;
		}
		ww = w;
	}
	st->has_line = true;
	st->line_start = pos;
	st->line_end = we;
	st->line_w = ww;
}

static void
wrap_paragraph(WrapState *st, size_t pstart, size_t pend)
{
	size_t		i = pstart;
	int			first = st->n;

	st->has_line = false;
	for (;;)
	{
		size_t		ws,
					we;
		double		ww;

		while (i < pend && is_gap((unsigned char) st->text[i]))
			i++;
		if (i >= pend)
			break;
		ws = i;
		while (i < pend && !is_gap((unsigned char) st->text[i]))
			i++;
		we = i;
		ww = st->measure(st->arg, st->text + ws, we - ws);

		if (st->has_line)
		{
			double		gw = st->measure(st->arg, st->text + st->line_end,
										 ws - st->line_end);

			if (st->line_w + gw + ww <= st->width + 1e-6)
			{
				st->line_end = we;
				st->line_w += gw + ww;
				continue;
			}
			emit(st, st->line_start, st->line_end);
		}
		start_line(st, ws, we, ww);
	}
	if (st->has_line)
		emit(st, st->line_start, st->line_end);
	if (st->n > first && st->n <= st->max_lines)
		st->lines[st->n - 1].para_end = true;
}

int
qbr_wrap(const char *text, size_t len, double width,
		 QbrMeasureFn measure, void *arg, QbrLine *lines, int max_lines)
{
	WrapState	st;
	size_t		pos = 0;

	if (text == NULL)
		return 0;
	memset(&st, 0, sizeof(st));
	st.text = text;
	st.width = width > 1 ? width : 1;
	st.measure = measure;
	st.arg = arg;
	st.lines = lines;
	st.max_lines = lines ? max_lines : 0;

	while (pos < len)
	{
		size_t		pend = pos;

		while (pend < len && text[pend] != '\n')
			pend++;
		wrap_paragraph(&st, pos, pend);
		pos = pend + 1;
	}
	return st.n;
}

int
qbr_lines_that_fit(double avail, double line_h)
{
	double		n;

	/* NaN, and more lines than an int holds, must not reach the cast */
	if (!(line_h > 0) || !(avail > 0))
		return 0;
	n = floor(avail / line_h + 1e-6);
	return n < (double) INT_MAX ? (int) n : INT_MAX;
}

void
qbr_nice_axis(long max, int max_ticks, long *step, long *top)
{
	long		s = 1;

	if (max_ticks < 1)
		max_ticks = 1;
	if (max <= 0)
	{
		*step = 1;
		*top = 1;
		return;
	}
	/* beyond this, max + step and the top could overflow a long */
	if (max > QBR_AXIS_MAX)
		max = QBR_AXIS_MAX;
	for (;;)
	{
		static const int mult[3] = {1, 2, 5};
		int			m;

		for (m = 0; m < 3; m++)
		{
			long		cand = s * mult[m];

			if ((max + cand - 1) / cand <= max_ticks)
			{
				*step = cand;
				*top = ((max + cand - 1) / cand) * cand;
				return;
			}
		}
		s *= 10;
	}
}

double
qbr_gauge_angle(double score)
{
	/* NaN too: libharu's HPDF_Page_Arc loops for ever on a NaN angle */
	if (!(score >= 0))
		score = 0;
	if (score > 100)
		score = 100;
	return -90.0 + 180.0 * score / 100.0;
}

QbrBand
qbr_score_band(double score, bool higher_is_better)
{
	if (higher_is_better)
		return score >= 80 ? QBR_BAND_GOOD : score >= 60 ? QBR_BAND_FAIR : QBR_BAND_POOR;
	return score <= 20 ? QBR_BAND_GOOD : score <= 40 ? QBR_BAND_FAIR : QBR_BAND_POOR;
}

const char *
qbr_band_label(QbrBand band)
{
	switch (band)
	{
		case QBR_BAND_GOOD:
			return "Good";
		case QBR_BAND_FAIR:
			return "Fair";
		case QBR_BAND_POOR:
			break;
	}
	return "Needs attention";
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c + 32) : c;
}

/* ASCII case-insensitive equality */
static bool
ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == '\0' && *b == '\0';
}

int
qbr_level_rank(const char *level)
{
	if (level == NULL)
		return 0;
	if (ieq(level, "low"))
		return 1;
	if (ieq(level, "medium") || ieq(level, "moderate"))
		return 2;
	if (ieq(level, "high"))
		return 3;
	if (ieq(level, "critical") || ieq(level, "very high"))
		return 4;
	if (level[0] >= '1' && level[0] <= '5' && level[1] == '\0')
		return level[0] - '0';
	return 0;
}

int
qbr_top_risks(const QbrRisk *risks, int n, int k, int *idx)
{
	int			out = 0;
	bool	   *taken;
	int			i;

	if (n <= 0 || k <= 0)
		return 0;
	taken = calloc((size_t) n, sizeof(bool));
	if (taken == NULL)
	{
		/* no memory for the ranking: keep document order */
		for (i = 0; i < n && i < k; i++)
			idx[i] = i;
		return i;
	}
	while (out < k && out < n)
	{
		int			best = -1;
		int			best_key = -1;

		for (i = 0; i < n; i++)
		{
			int			key;

			if (taken[i])
				continue;
			key = qbr_level_rank(risks[i].likelihood) * qbr_level_rank(risks[i].impact);
			if (key > best_key)
			{
				best = i;
				best_key = key;
			}
		}
		taken[best] = true;
		idx[out++] = best;
	}
	free(taken);
	return out;
}

void
qbr_format_int(long v, char *buf, size_t size)
{
	char		digits[32];
	char		tmp[48];
	int			nd,
				i,
				o = 0;
	unsigned long uv = v < 0 ? (unsigned long) (-(v + 1)) + 1 : (unsigned long) v;

	nd = snprintf(digits, sizeof(digits), "%lu", uv);
	if (v < 0)
		tmp[o++] = '-';
	for (i = 0; i < nd; i++)
	{
		if (i > 0 && (nd - i) % 3 == 0)
			tmp[o++] = ',';
		tmp[o++] = digits[i];
	}
	tmp[o] = '\0';
	snprintf(buf, size, "%s", tmp);
}

void
qbr_format_money(double v, const char *currency, char *buf, size_t size)
{
	static const struct
	{
		const char *code;
		const char *symbol;
	}			symbols[] = {
		{"USD", "$"}, {"EUR", "€"}, {"GBP", "£"}, {"JPY", "¥"},
		{"CAD", "CA$"}, {"AUD", "A$"}, {"NZD", "NZ$"}, {"INR", "₹"},
	};
	char		num[48];
	const char *sym = NULL;
	size_t		i;

	if (!isfinite(v))
		v = 0;
	if (v > 9e17)
		v = 9e17;
	if (v < -9e17)
		v = -9e17;
	qbr_format_int(lround(v), num, sizeof(num));
	if (currency == NULL || currency[0] == '\0')
		currency = "USD";
	for (i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++)
		if (ieq(symbols[i].code, currency))
			sym = symbols[i].symbol;
	if (sym)
		snprintf(buf, size, "%s%s", sym, num);
	else
		snprintf(buf, size, "%s %s", currency, num);
}

void
qbr_format_score(double score, char *buf, size_t size)
{
	long		tenths;

	if (!isfinite(score))
		score = 0;
	tenths = lround(score * 10);
	if (tenths % 10 == 0)
		snprintf(buf, size, "%ld", tenths / 10);
	else
		snprintf(buf, size, "%s%ld.%ld", tenths < 0 ? "-" : "",
				 labs(tenths) / 10, labs(tenths) % 10);
}

void
qbr_format_percent(long part, long whole, char *buf, size_t size)
{
	long		tenths;

	if (whole <= 0 || part < 0)
	{
		snprintf(buf, size, "n/a");
		return;
	}
	tenths = lround((double) part * 1000.0 / (double) whole);
	snprintf(buf, size, "%ld.%ld%%", tenths / 10, tenths % 10);
}

void
qbr_month_label(const char *month, char *mon, size_t monsize,
				char *year, size_t yearsize)
{
	static const char *const names[12] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	int			i;
	int			m;

	if (month == NULL)
		month = "";
	for (i = 0; i < 4; i++)
		if (month[i] < '0' || month[i] > '9')
			goto verbatim;
	if (month[4] != '-' || month[5] < '0' || month[5] > '9' ||
		month[6] < '0' || month[6] > '9')
		goto verbatim;
	m = (month[5] - '0') * 10 + (month[6] - '0');
	if (m < 1 || m > 12 || (month[7] != '\0' && month[7] != '-'))
		goto verbatim;
	snprintf(mon, monsize, "%s", names[m - 1]);
	snprintf(year, yearsize, "%.4s", month);
	return;

verbatim:
	snprintf(mon, monsize, "%s", month);
	if (yearsize > 0)
		year[0] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
qbr_parse_color(const char *s, unsigned char rgb[3])
{
	int			i;

	if (s == NULL || s[0] != '#' || strlen(s) != 7)
		return false;
	for (i = 0; i < 3; i++)
	{
		int			hi = hexval(s[1 + 2 * i]);
		int			lo = hexval(s[2 + 2 * i]);

		if (hi < 0 || lo < 0)
			return false;
		rgb[i] = (unsigned char) (hi * 16 + lo);
	}
	return true;
}

void
qbr_capitalize(const char *s, char *buf, size_t size)
{
	if (size == 0)
		return;
	snprintf(buf, size, "%s", s ? s : "");
	if (buf[0] >= 'a' && buf[0] <= 'z')
		buf[0] = (char) (buf[0] - 32);
}
