/*
 * test_qbr_layout.c — the pure layout helpers of the QBR PDF: wrapping,
 * pagination arithmetic, chart axes, gauges, risk ranking, formatting.
 * Text is measured with a fixed-width "font" (every character 1 point wide,
 * counting UTF-8 characters, not bytes), so line breaks are easy to predict.
 *
 * SOURCES: src/qbr_layout.c
 */
#include "unit.h"

#include "etop/qbr_layout.h"

static double
mono(void *arg, const char *s, size_t len)
{
	double		w = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			w += 1;
	return w;
}

/* line i of a wrap, as a string */
static const char *
line(const char *text, const QbrLine *lines, int i)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%.*s", (int) lines[i].len, text + lines[i].start);
	return buf;
}

static void
test_wrap(void)
{
	QbrLine		l[16];
	const char *t;
	int			n;

	/* fits on one line */
	t = "hello world";
	n = qbr_wrap(t, strlen(t), 20, mono, NULL, l, 16);
	CHECK(n == 1);
	CHECK_STR(line(t, l, 0), "hello world");
	CHECK(l[0].para_end);

	/* greedy breaks at spaces; the space is on neither line */
	t = "the quick brown fox jumps";
	n = qbr_wrap(t, strlen(t), 10, mono, NULL, l, 16);
	CHECK(n == 3);
	CHECK_STR(line(t, l, 0), "the quick");
	CHECK_STR(line(t, l, 1), "brown fox");
	CHECK_STR(line(t, l, 2), "jumps");

	/* exactly the width fits */
	t = "abcde fghij";
	n = qbr_wrap(t, strlen(t), 5, mono, NULL, l, 16);
	CHECK(n == 2);
	CHECK_STR(line(t, l, 1), "fghij");

	/* a word longer than a line is broken between characters */
	t = "abcdefghijklm xy";
	n = qbr_wrap(t, strlen(t), 5, mono, NULL, l, 16);
	CHECK(n == 4);
	CHECK_STR(line(t, l, 0), "abcde");
	CHECK_STR(line(t, l, 1), "fghij");
	CHECK_STR(line(t, l, 2), "klm");
	CHECK_STR(line(t, l, 3), "xy");

	/* ... never inside a UTF-8 character */
	t = "ÄÖÜäöüß";
	n = qbr_wrap(t, strlen(t), 3, mono, NULL, l, 16);
	CHECK(n == 3);
	CHECK_STR(line(t, l, 0), "ÄÖÜ");
	CHECK_STR(line(t, l, 1), "äöü");
	CHECK_STR(line(t, l, 2), "ß");

	/* newlines end paragraphs; blank lines and extra spaces collapse */
	t = "one two\n\n  three   four \nfive";
	n = qbr_wrap(t, strlen(t), 40, mono, NULL, l, 16);
	CHECK(n == 3);
	CHECK_STR(line(t, l, 0), "one two");
	CHECK(l[0].para_end);
	CHECK_STR(line(t, l, 1), "three   four");
	CHECK(l[1].para_end);
	CHECK_STR(line(t, l, 2), "five");

	/* tabs and other control characters separate words like spaces */
	t = "a\tb\rc";
	n = qbr_wrap(t, strlen(t), 1, mono, NULL, l, 16);
	CHECK(n == 3);

	/* empty and blank texts need no lines */
	CHECK(qbr_wrap("", 0, 10, mono, NULL, l, 16) == 0);
	CHECK(qbr_wrap("   \n \n", 6, 10, mono, NULL, l, 16) == 0);
	CHECK(qbr_wrap(NULL, 0, 10, mono, NULL, l, 16) == 0);

	/* too small an array: the count is still right, nothing overflows */
	t = "a b c d e f g h";
	CHECK(qbr_wrap(t, strlen(t), 1, mono, NULL, l, 3) == 8);
	CHECK(qbr_wrap(t, strlen(t), 1, mono, NULL, NULL, 0) == 8);

	/* a non-positive width still makes progress, one character a line */
	t = "abc";
	CHECK(qbr_wrap(t, strlen(t), 0, mono, NULL, l, 16) == 3);
}

static void
test_pagination(void)
{
	CHECK(qbr_lines_that_fit(100, 12) == 8);
	CHECK(qbr_lines_that_fit(96, 12) == 8);	/* exact */
	CHECK(qbr_lines_that_fit(95.99, 12) == 7);
	CHECK(qbr_lines_that_fit(5, 12) == 0);
	CHECK(qbr_lines_that_fit(-3, 12) == 0);
	CHECK(qbr_lines_that_fit(100, 0) == 0);
}

static void
test_axis(void)
{
	long		step,
				top;

	qbr_nice_axis(108, 5, &step, &top);
	CHECK(step == 50 && top == 150);
	qbr_nice_axis(100, 5, &step, &top);
	CHECK(step == 20 && top == 100);
	qbr_nice_axis(7, 5, &step, &top);
	CHECK(step == 2 && top == 8);
	qbr_nice_axis(1, 5, &step, &top);
	CHECK(step == 1 && top == 1);
	qbr_nice_axis(0, 5, &step, &top);
	CHECK(step == 1 && top == 1);
	qbr_nice_axis(123456, 5, &step, &top);
	CHECK(step == 50000 && top == 150000);
	CHECK(top / step <= 5);
}

static void
test_gauge(void)
{
	CHECK_NEAR(qbr_gauge_angle(0), -90, 1e-9);
	CHECK_NEAR(qbr_gauge_angle(50), 0, 1e-9);
	CHECK_NEAR(qbr_gauge_angle(100), 90, 1e-9);
	CHECK_NEAR(qbr_gauge_angle(83), 59.4, 1e-9);
	CHECK_NEAR(qbr_gauge_angle(140), 90, 1e-9);
	CHECK_NEAR(qbr_gauge_angle(-5), -90, 1e-9);

	CHECK(qbr_score_band(83, true) == QBR_BAND_GOOD);
	CHECK(qbr_score_band(78, true) == QBR_BAND_FAIR);
	CHECK(qbr_score_band(59.9, true) == QBR_BAND_POOR);
	CHECK(qbr_score_band(15, false) == QBR_BAND_GOOD);
	CHECK(qbr_score_band(40, false) == QBR_BAND_FAIR);
	CHECK(qbr_score_band(41, false) == QBR_BAND_POOR);
	CHECK_STR(qbr_band_label(QBR_BAND_POOR), "Needs attention");
}

static void
test_risks(void)
{
	QbrRisk		r[7] = {
		{"a", NULL, NULL, NULL, "low", "low"},	/* 1 */
		{"b", NULL, NULL, NULL, "high", "high"},	/* 9 */
		{"c", NULL, NULL, NULL, "medium", "HIGH"},	/* 6 */
		{"d", NULL, NULL, NULL, NULL, NULL},	/* 0 */
		{"e", NULL, NULL, NULL, "High", "medium"},	/* 6 */
		{"f", NULL, NULL, NULL, "critical", "high"},	/* 12 */
		{"g", NULL, NULL, NULL, "3", "2"},	/* 6 */
	};
	int			idx[7];

	CHECK(qbr_level_rank("Moderate") == 2);
	CHECK(qbr_level_rank("5") == 5);
	CHECK(qbr_level_rank("banana") == 0);
	CHECK(qbr_top_risks(r, 7, 5, idx) == 5);
	/* by likelihood x impact, ties in document order */
	CHECK(idx[0] == 5 && idx[1] == 1 && idx[2] == 2 && idx[3] == 4 && idx[4] == 6);
	CHECK(qbr_top_risks(r, 2, 5, idx) == 2);
	CHECK(idx[0] == 1 && idx[1] == 0);
	CHECK(qbr_top_risks(r, 0, 5, idx) == 0);
}

static void
test_format(void)
{
	char		b[64],
				y[16];
	unsigned char rgb[3];

	qbr_format_int(0, b, sizeof(b));
	CHECK_STR(b, "0");
	qbr_format_int(999, b, sizeof(b));
	CHECK_STR(b, "999");
	qbr_format_int(1000, b, sizeof(b));
	CHECK_STR(b, "1,000");
	qbr_format_int(1234567, b, sizeof(b));
	CHECK_STR(b, "1,234,567");
	qbr_format_int(-45000, b, sizeof(b));
	CHECK_STR(b, "-45,000");

	qbr_format_money(48000, "USD", b, sizeof(b));
	CHECK_STR(b, "$48,000");
	qbr_format_money(18400.4, "eur", b, sizeof(b));
	CHECK_STR(b, "€18,400");
	qbr_format_money(31200.5, "GBP", b, sizeof(b));
	CHECK_STR(b, "£31,201");
	qbr_format_money(5000, "CHF", b, sizeof(b));
	CHECK_STR(b, "CHF 5,000");
	qbr_format_money(5000, NULL, b, sizeof(b));
	CHECK_STR(b, "$5,000");

	qbr_format_score(83, b, sizeof(b));
	CHECK_STR(b, "83");
	qbr_format_score(83.45, b, sizeof(b));
	CHECK_STR(b, "83.5");
	qbr_format_score(99.96, b, sizeof(b));
	CHECK_STR(b, "100");

	qbr_format_percent(942, 1000, b, sizeof(b));
	CHECK_STR(b, "94.2%");
	qbr_format_percent(1, 3, b, sizeof(b));
	CHECK_STR(b, "33.3%");
	qbr_format_percent(5, 0, b, sizeof(b));
	CHECK_STR(b, "n/a");

	qbr_month_label("2025-01", b, sizeof(b), y, sizeof(y));
	CHECK_STR(b, "Jan");
	CHECK_STR(y, "2025");
	qbr_month_label("2025-12-01", b, sizeof(b), y, sizeof(y));
	CHECK_STR(b, "Dec");
	qbr_month_label("2025-13", b, sizeof(b), y, sizeof(y));
	CHECK_STR(b, "2025-13");
	CHECK_STR(y, "");
	qbr_month_label("Week 3", b, sizeof(b), y, sizeof(y));
	CHECK_STR(b, "Week 3");

	CHECK(qbr_parse_color("#1F4e79", rgb) && rgb[0] == 0x1F && rgb[1] == 0x4E && rgb[2] == 0x79);
	CHECK(!qbr_parse_color("1F4E79", rgb));
	CHECK(!qbr_parse_color("#1F4E7", rgb));
	CHECK(!qbr_parse_color("#1F4E7G", rgb));
	CHECK(!qbr_parse_color(NULL, rgb));

	qbr_capitalize("open", b, sizeof(b));
	CHECK_STR(b, "Open");
	qbr_capitalize(NULL, b, sizeof(b));
	CHECK_STR(b, "");
	CHECK(qbr_utf8_seqlen(0xC3) == 2 && qbr_utf8_seqlen(0xE2) == 3 && qbr_utf8_seqlen('a') == 1);
}

int
main(void)
{
	test_wrap();
	test_pagination();
	test_axis();
	test_gauge();
	test_risks();
	test_format();
	UNIT_DONE();
}
