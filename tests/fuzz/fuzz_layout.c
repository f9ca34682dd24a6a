/*
 * fuzz_layout.c — libFuzzer harness for the pure PDF layout helpers
 * (src/qbr_layout.c): word wrapping, pagination arithmetic, chart axes,
 * gauges, bands, risk ranking and number/label formatting.
 *
 * SOURCES: src/qbr_layout.c
 *
 * Input layout (fuzz.h readers; zeros once the input runs out): 16 width
 * nibbles of the test "font", the wrap width and line-array size, numbers
 * and buffer sizes for the other helpers, five NUL-separated strings (risk
 * levels, currency, month, colour, text to capitalise), six risks, and the
 * rest is the text to wrap.
 *
 * The font: every byte that starts a UTF-8 character is 0..15 points wide
 * (by its low four bits, from the input), continuation bytes add nothing.
 * Widths are whole numbers, so sums are exact and the wrap's invariants can
 * be checked exactly:
 *   - the count does not depend on the array size, and a short array gets
 *     the first lines of the full answer;
 *   - lines are in order, inside the text, never empty, contain no newline,
 *     neither start nor end with a gap (space or control character), and
 *     together cover every other byte exactly once;
 *   - a line is no wider than the width, unless it is a single character;
 *   - greedy: the next line's first word (or, inside a broken word, its
 *     first character) would not have fitted on the line before;
 *   - para_end marks exactly the last line before a newline or the end;
 *   - valid UTF-8 is never broken inside a character;
 *   - the work is linear: at most 4 bytes measured per byte of text (a long
 *     word used to be measured again after every line of it).
 * The other helpers: results in range, buffers terminated within their
 * size and a prefix of the untruncated result, values that read back.
 */
#include <limits.h>
#include <strings.h>

#include "fuzz.h"

#include "etop/qbr_layout.h"

typedef struct Font
{
	int			w[16];
	size_t		measured;		/* bytes measured so far */
} Font;

static double
measure(void *arg, const char *s, size_t len)
{
	Font	   *f = (Font *) arg;
	double		w = 0;

	f->measured += len;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			w += f->w[(unsigned char) s[i] & 15];
	return w;
}

static bool
is_gap(unsigned char c)
{
	return c <= 0x20 && c != '\n';
}

static bool
valid_utf8(const char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			n = qbr_utf8_seqlen(c);

		if (n == 1 && c >= 0x80)
			return false;
		if (i + n > len)
			return false;
		for (int k = 1; k < n; k++)
			if (((unsigned char) s[i + k] & 0xC0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

/* end of the word starting at i */
static size_t
word_end(const char *t, size_t len, size_t i)
{
	while (i < len && t[i] != '\n' && !is_gap((unsigned char) t[i]))
		i++;
	return i;
}

static void
check_wrap(const char *t, size_t len, double width, Font *font, int max_lines)
{
	double		wd = width > 1 ? width : 1; /* what qbr_wrap uses */
	int			n = qbr_wrap(t, len, width, measure, font, NULL, 0);
	QbrLine    *all = malloc(sizeof(QbrLine) * (n > 0 ? n : 1));
	QbrLine    *some = malloc(sizeof(QbrLine) * (max_lines > 0 ? max_lines : 1));
	unsigned char *seen = calloc(len + 1, 1);
	bool		utf8 = valid_utf8(t, len);

	FUZZ_ASSERT(n >= 0 && all != NULL && some != NULL && seen != NULL);
	font->measured = 0;
	FUZZ_ASSERT(qbr_wrap(t, len, width, measure, font, all, n) == n);
	/* linear: each byte measured at most about four times */
	FUZZ_ASSERT(font->measured <= 4 * len + 8);
	FUZZ_ASSERT(qbr_wrap(t, len, width, measure, font, some, max_lines) == n);
	for (int i = 0; i < n && i < max_lines; i++)
		FUZZ_ASSERT(some[i].start == all[i].start && some[i].len == all[i].len &&
					some[i].para_end == all[i].para_end);

	for (int i = 0; i < n; i++)
	{
		const QbrLine *l = &all[i];
		size_t		end = l->start + l->len;
		bool		last_of_para;

		FUZZ_ASSERT(l->len > 0 && end <= len);
		if (i > 0)
			FUZZ_ASSERT(l->start >= all[i - 1].start + all[i - 1].len);
		FUZZ_ASSERT(!is_gap((unsigned char) t[l->start]) && !is_gap((unsigned char) t[end - 1]));
		FUZZ_ASSERT(memchr(t + l->start, '\n', l->len) == NULL);
		for (size_t k = l->start; k < end; k++)
			seen[k] = 1;

		/* no wider than the width, unless it is one character */
		if (measure(font, t + l->start, l->len) > wd + 1e-6)
			FUZZ_ASSERT(l->len <= (size_t) qbr_utf8_seqlen((unsigned char) t[l->start]));

		if (utf8)
		{
			FUZZ_ASSERT(((unsigned char) t[l->start] & 0xC0) != 0x80);
			FUZZ_ASSERT(end == len || ((unsigned char) t[end] & 0xC0) != 0x80);
		}

		last_of_para = i == n - 1 ||
			memchr(t + end, '\n', all[i + 1].start - end) != NULL;
		FUZZ_ASSERT(l->para_end == last_of_para);

		/* greedy: what starts the next line did not fit on this one */
		if (!last_of_para)
		{
			size_t		s = all[i + 1].start;
			size_t		upto;

			if (is_gap((unsigned char) t[s - 1]))
				upto = word_end(t, len, s);
			else
			{
				size_t		we = word_end(t, len, s);

				upto = s + (size_t) qbr_utf8_seqlen((unsigned char) t[s]);
				if (upto > we)
					upto = we;
			}
			FUZZ_ASSERT(measure(font, t + l->start, upto - l->start) > wd + 1e-6);
		}
	}
	/* every byte that is neither a gap nor a newline is on a line */
	for (size_t k = 0; k < len; k++)
		if (t[k] != '\n' && !is_gap((unsigned char) t[k]))
			FUZZ_ASSERT(seen[k]);
	free(all);
	free(some);
	free(seen);
}

/* fmt(buf, size) into exactly size bytes, checked against a big buffer */
#define CHECK_FORMAT(size, call_big, call_small) do { \
	char		_big[512]; \
	size_t		_sz = (size); \
	char	   *buf = malloc(_sz ? _sz : 1); \
	size_t		_n; \
	FUZZ_ASSERT(buf != NULL); \
	buf[0] = 'X'; \
	{ char *b = _big; size_t s = sizeof(_big); (void) s; call_big; } \
	FUZZ_ASSERT(fz_terminated(_big, sizeof(_big))); \
	_n = strlen(_big); \
	FUZZ_ASSERT(_n < sizeof(_big) - 1); \
	{ char *b = buf; size_t s = _sz; call_small; } \
	if (_sz == 0) \
		FUZZ_ASSERT(buf[0] == 'X'); \
	else \
	{ \
		size_t		_k = _n < _sz - 1 ? _n : _sz - 1; \
		FUZZ_ASSERT(fz_terminated(buf, _sz)); \
		FUZZ_ASSERT(strlen(buf) == _k && memcmp(buf, _big, _k) == 0); \
	} \
	free(buf); \
} while (0)

static void
check_format_int(long v, size_t size)
{
	char		out[64];
	char		digits[64];
	size_t		nd = 0;
	size_t		len;
	size_t		first;

	CHECK_FORMAT(size, qbr_format_int(v, b, s), qbr_format_int(v, b, s));
	qbr_format_int(v, out, sizeof(out));
	len = strlen(out);
	first = out[0] == '-' ? 1 : 0;
	FUZZ_ASSERT((v < 0) == (first == 1));
	/* digits in groups of three from the right */
	for (size_t i = first; i < len; i++)
	{
		if ((len - i) % 4 == 0)
			FUZZ_ASSERT(out[i] == ',');
		else
		{
			FUZZ_ASSERT(out[i] >= '0' && out[i] <= '9');
			digits[nd++] = out[i];
		}
	}
	FUZZ_ASSERT(nd > 0 && (nd == 1 || digits[0] != '0'));
	digits[nd] = '\0';
	if (v < 0)
		FUZZ_ASSERT(strtoul(digits, NULL, 10) == (unsigned long) 0 - (unsigned long) v);
	else
		FUZZ_ASSERT(strtoul(digits, NULL, 10) == (unsigned long) v);
}

static void
check_numbers(FuzzIn *in)
{
	double		avail = fz_double(in),
				line_h = fz_double(in);
	long		max = fz_long(in);
	int			ticks = (int) (int32_t) fz_uint(in, 4) % 64;
	double		score = fz_double(in);
	bool		hib = fz_bool(in);
	long		step = 0,
				top = 0;
	int			fit;

	fit = qbr_lines_that_fit(avail, line_h);
	FUZZ_ASSERT(fit >= 0);
	if (line_h > 0 && avail > 0 && isfinite(avail) && avail / line_h < 1e9)
		FUZZ_ASSERT(fit == (int) floor(avail / line_h + 1e-6));

	qbr_nice_axis(max, ticks, &step, &top);
	FUZZ_ASSERT(step > 0 && top > 0 && top % step == 0);
	if (max <= 0)
		FUZZ_ASSERT(step == 1 && top == 1);
	else
	{
		long		m = step;

		FUZZ_ASSERT(top >= (max < QBR_AXIS_MAX ? max : QBR_AXIS_MAX));
		FUZZ_ASSERT(top / step <= (ticks > 1 ? ticks : 1));
		while (m % 10 == 0)
			m /= 10;
		FUZZ_ASSERT(m == 1 || m == 2 || m == 5);
	}

	{
		double		a = qbr_gauge_angle(score);
		QbrBand		band = qbr_score_band(score, hib);

		FUZZ_ASSERT(a >= -90.0 && a <= 90.0);	/* NaN included */
		if (hib)
			FUZZ_ASSERT(band == (score >= 80 ? QBR_BAND_GOOD : score >= 60 ? QBR_BAND_FAIR : QBR_BAND_POOR));
		else
			FUZZ_ASSERT(band == (score <= 20 ? QBR_BAND_GOOD : score <= 40 ? QBR_BAND_FAIR : QBR_BAND_POOR));
		FUZZ_ASSERT(qbr_band_label(band) != NULL && qbr_band_label(band)[0] != '\0');
	}
}

static void
check_formats(FuzzIn *in, const char *currency, const char *month,
			  const char *color, const char *word)
{
	long		v = fz_long(in);
	double		money = fz_double(in);
	double		score = fz_double(in);
	long		part = fz_long(in),
				whole = fz_long(in);
	size_t		size = fz_range(in, 48);
	size_t		size2 = fz_range(in, 16);
	char		out[512];
	char		year[16];
	unsigned char rgb[3];

	check_format_int(v, size);

	CHECK_FORMAT(size, qbr_format_money(money, currency, b, s), qbr_format_money(money, currency, b, s));

	CHECK_FORMAT(size, qbr_format_score(score, b, s), qbr_format_score(score, b, s));
	if (isfinite(score) && fabs(score) < 1e15)
	{
		qbr_format_score(score, out, sizeof(out));
		FUZZ_ASSERT(lround(strtod(out, NULL) * 10) == lround(score * 10));
	}

	CHECK_FORMAT(size, qbr_format_percent(part, whole, b, s), qbr_format_percent(part, whole, b, s));
	qbr_format_percent(part, whole, out, sizeof(out));
	if (whole <= 0 || part < 0)
		FUZZ_ASSERT(strcmp(out, "n/a") == 0);
	else if ((double) part * 1000.0 / (double) whole < 1e17)
	{
		long		tenths = lround((double) part * 1000.0 / (double) whole);
		char	   *end;
		long		ip = strtol(out, &end, 10);

		FUZZ_ASSERT(*end == '.' && ip == tenths / 10);
		FUZZ_ASSERT(end[1] - '0' == tenths % 10 && strcmp(end + 2, "%") == 0);
	}

	/* month labels: "YYYY-MM[-...]" or the input itself */
	CHECK_FORMAT(size, qbr_month_label(month, b, s, year, sizeof(year)),
				 qbr_month_label(month, b, s, year, sizeof(year)));
	{
		char	   *y = malloc(size2 ? size2 : 1);
		bool		dated = strlen(month) >= 7 &&
			strspn(month, "0123456789") >= 4 && month[4] == '-' &&
			month[5] >= '0' && month[5] <= '1' && month[6] >= '0' && month[6] <= '9' &&
			(month[7] == '\0' || month[7] == '-');
		int			mm = dated ? (month[5] - '0') * 10 + (month[6] - '0') : 0;

		FUZZ_ASSERT(y != NULL);
		dated = dated && mm >= 1 && mm <= 12;
		qbr_month_label(month, out, sizeof(out), year, sizeof(year));
		if (dated)
			FUZZ_ASSERT(strlen(out) == 3 && strncmp(year, month, 4) == 0 && year[4] == '\0');
		else
			FUZZ_ASSERT(strcmp(out, month) == 0 && year[0] == '\0');
		y[0] = 'X';
		qbr_month_label(month, out, sizeof(out), y, size2);
		if (size2 == 0)
			FUZZ_ASSERT(y[0] == 'X');
		else
			FUZZ_ASSERT(fz_terminated(y, size2));
		free(y);
	}

	/* colours: exactly "#RRGGBB" */
	{
		bool		want = strlen(color) == 7 && color[0] == '#' &&
			strspn(color + 1, "0123456789abcdefABCDEF") == 6;
		bool		got = qbr_parse_color(color, rgb);

		FUZZ_ASSERT(got == want);
		if (got)
		{
			unsigned long hex = strtoul(color + 1, NULL, 16);

			FUZZ_ASSERT(rgb[0] == (hex >> 16 & 0xFF) && rgb[1] == (hex >> 8 & 0xFF) &&
						rgb[2] == (hex & 0xFF));
		}
		FUZZ_ASSERT(!qbr_parse_color(NULL, rgb));
	}

	/* capitalising */
	CHECK_FORMAT(size, qbr_capitalize(word, b, s), qbr_capitalize(word, b, s));
	qbr_capitalize(word, out, sizeof(out));
	if (strlen(word) < sizeof(out))
	{
		FUZZ_ASSERT(strlen(out) == strlen(word) && strcmp(out + (out[0] ? 1 : 0), word + (word[0] ? 1 : 0)) == 0);
		FUZZ_ASSERT(out[0] == (word[0] >= 'a' && word[0] <= 'z' ? word[0] - 32 : word[0]));
	}
}

static void
check_risks(FuzzIn *in, char **levels)
{
	static const char *const named[] = {
		NULL, "low", "LOW", "medium", "Moderate", "high", "critical", "Very High",
		"1", "2", "3", "4", "5", "0", "6", "12", "banana", ""
	};
	const int	nnamed = (int) (sizeof(named) / sizeof(named[0]));
	QbrRisk		risks[8];
	int			key[8];
	int			n = (int) fz_range(in, 8);
	int			k = (int) fz_range(in, 10) - 1;
	int			want,
				got;
	int		   *idx;

	memset(risks, 0, sizeof(risks));
	for (int i = 0; i < n; i++)
	{
		int			a = fz_u8(in) % (nnamed + 4),
					b = fz_u8(in) % (nnamed + 4);

		risks[i].likelihood = a < nnamed ? named[a] : levels[a - nnamed];
		risks[i].impact = b < nnamed ? named[b] : levels[b - nnamed];
		key[i] = qbr_level_rank(risks[i].likelihood) * qbr_level_rank(risks[i].impact);
	}
	for (int i = 0; i < nnamed + 4; i++)
	{
		const char *l = i < nnamed ? named[i] : levels[i - nnamed];
		int			r = qbr_level_rank(l);

		FUZZ_ASSERT(r >= 0 && r <= 5);
		if (l && l[0] >= '1' && l[0] <= '5' && l[1] == '\0')
			FUZZ_ASSERT(r == l[0] - '0');
		if (l && strcasecmp(l, "high") == 0)
			FUZZ_ASSERT(r == 3);
	}

	want = n > 0 && k > 0 ? (n < k ? n : k) : 0;
	idx = malloc(sizeof(int) * (want > 0 ? want : 1));
	FUZZ_ASSERT(idx != NULL);
	got = qbr_top_risks(risks, n, k, idx);
	FUZZ_ASSERT(got == want);
	for (int i = 0; i < got; i++)
	{
		FUZZ_ASSERT(idx[i] >= 0 && idx[i] < n);
		for (int j = 0; j < i; j++)
			FUZZ_ASSERT(idx[j] != idx[i]);
		/* highest first, ties in document order */
		if (i > 0)
			FUZZ_ASSERT(key[idx[i - 1]] > key[idx[i]] ||
						(key[idx[i - 1]] == key[idx[i]] && idx[i - 1] < idx[i]));
	}
	/* nothing left out ranks above the last one taken */
	for (int j = 0; j < n && got > 0; j++)
	{
		bool		taken = false;

		for (int i = 0; i < got; i++)
			taken |= idx[i] == j;
		if (!taken)
			FUZZ_ASSERT(key[j] < key[idx[got - 1]] ||
						(key[j] == key[idx[got - 1]] && j > idx[got - 1]));
	}
	free(idx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = fz_init(data, size);
	Font		font;
	double		width;
	int			max_lines;
	uint8_t		sel;
	char	   *levels[4];
	char	   *currency,
			   *month,
			   *color,
			   *word;
	size_t		tlen;
	const char *text;
	char	   *copy;

	for (int i = 0; i < 16; i += 2)
	{
		uint8_t		b = fz_u8(&in);

		font.w[i] = b & 15;
		font.w[i + 1] = b >> 4;
	}
	sel = fz_u8(&in);
	width = sel < 200 ? (double) (sel % 61) : fz_double(&in);
	max_lines = (int) fz_range(&in, 64);

	check_numbers(&in);
	for (int i = 0; i < 4; i++)
		levels[i] = fz_str(&in, 16);
	currency = fz_str(&in, 16);
	month = fz_str(&in, 16);
	color = fz_str(&in, 16);
	word = fz_str(&in, 400);	/* the checks format into 512 bytes */
	check_formats(&in, currency[0] == '\0' ? NULL : currency, month, color, word);
	check_risks(&in, levels);

	/* the rest is the text, in a block of exactly its size */
	text = (const char *) fz_bytes(&in, in.n, &tlen);
	copy = malloc(tlen ? tlen : 1);
	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, text, tlen);
	check_wrap(copy, tlen, width, &font, max_lines);
	FUZZ_ASSERT(qbr_wrap(NULL, 0, width, measure, &font, NULL, 0) == 0);

	free(copy);
	for (int i = 0; i < 4; i++)
		free(levels[i]);
	free(currency);
	free(month);
	free(color);
	free(word);
	return 0;
}
