/*
 * qbr_layout.h — pure layout helpers for the QBR PDF (src/qbr_layout.c):
 * UTF-8 text wrapping against any width function, pagination arithmetic,
 * chart axes, gauge angles, risk ranking and number formatting.  No libharu,
 * no PostgreSQL; unit-tested in tests/unit/test_qbr_layout.c.
 */
#ifndef ETOP_QBR_LAYOUT_H
#define ETOP_QBR_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "etop/qbr_pdf.h"

/* Width in points of s[0..len) (UTF-8) in some font and size. */
typedef double (*QbrMeasureFn) (void *arg, const char *s, size_t len);

/* One wrapped line: bytes [start, start+len) of the text. */
typedef struct QbrLine
{
	size_t		start;
	size_t		len;
	bool		para_end;		/* last line of a paragraph (a newline followed) */
} QbrLine;

/*
 * Greedy word wrap of text (UTF-8) into lines no wider than width.  Lines
 * break at spaces; a newline ends a paragraph; a word wider than a whole line
 * is broken between characters.  Leading/trailing spaces of a line are not
 * part of it.  Writes at most max_lines lines and returns how many lines the
 * text needs (call again with a bigger array if that is more than max_lines).
 * Empty text gives 0 lines.
 */
extern int	qbr_wrap(const char *text, size_t len, double width,
					 QbrMeasureFn measure, void *arg,
					 QbrLine *lines, int max_lines);

/* Bytes of the UTF-8 sequence starting with byte c (1 for invalid bytes). */
extern int	qbr_utf8_seqlen(unsigned char c);

/* How many lines of height line_h fit in avail points (never negative). */
extern int	qbr_lines_that_fit(double avail, double line_h);

/*
 * A tidy axis for a bar chart whose largest value is max: a step of 1, 2 or
 * 5 times a power of ten giving at most max_ticks intervals, and the axis top
 * (a multiple of step, >= max, > 0).  A max above QBR_AXIS_MAX is taken as
 * QBR_AXIS_MAX.
 */
#define QBR_AXIS_MAX 1000000000000000000L	/* 10^18 */
extern void qbr_nice_axis(long max, int max_ticks, long *step, long *top);

/*
 * Gauge: score 0..100 to the end angle of the arc (libharu degrees, 0 = up),
 * always within [-90, 90]: a score out of range (or NaN) is clamped.
 */
extern double qbr_gauge_angle(double score);

typedef enum QbrBand
{
	QBR_BAND_GOOD,
	QBR_BAND_FAIR,
	QBR_BAND_POOR
} QbrBand;

/*
 * Good/fair/poor for a score: higher-is-better scores are good at 80+ and
 * fair at 60+; risk (higher is worse) is good up to 20 and fair up to 40.
 */
extern QbrBand qbr_score_band(double score, bool higher_is_better);
extern const char *qbr_band_label(QbrBand band);

/* low/medium/high/critical (or a number "1".."5") to 1..4/1..5; 0 if unknown. */
extern int	qbr_level_rank(const char *level);

/*
 * Indexes of the k risks with the highest likelihood x impact, ties in
 * document order; returns how many were written (min(n, k)).
 */
extern int	qbr_top_risks(const QbrRisk *risks, int n, int k, int *idx);

/* 1234567 -> "1,234,567" */
extern void qbr_format_int(long v, char *buf, size_t size);

/* 48000, "USD" -> "$48,000"; unknown currencies print their code: "CHF 48,000" */
extern void qbr_format_money(double v, const char *currency, char *buf, size_t size);

/* 83 -> "83", 83.45 -> "83.5" */
extern void qbr_format_score(double score, char *buf, size_t size);

/* part of whole as "94.2%"; "n/a" when whole <= 0 */
extern void qbr_format_percent(long part, long whole, char *buf, size_t size);

/* "2025-01" -> "Jan" and year "2025"; the input itself when not YYYY-MM */
extern void qbr_month_label(const char *month, char *mon, size_t monsize,
							char *year, size_t yearsize);

/* "#1F4E79" -> rgb; false if not #RRGGBB */
extern bool qbr_parse_color(const char *s, unsigned char rgb[3]);

/* Capitalises the first ASCII letter: "open" -> "Open" (copies into buf). */
extern void qbr_capitalize(const char *s, char *buf, size_t size);

#endif							/* ETOP_QBR_LAYOUT_H */
