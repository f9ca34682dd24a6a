/*
 * cadence.h — QBR cadence arithmetic: when is a client's next quarterly
 * business review due, is it due or overdue, and the sentence that says so.
 *
 * Pure C (no postgres.h), unit-tested in tests/unit/test_cadence.c; the SQL
 * wrappers are in src/cadence_sql.c and the rules are documented in
 * docs/cadence.md.
 *
 * Dates are whole days since 2000-01-01, the epoch of PostgreSQL's date type,
 * so a DateADT converts without arithmetic.  They are 64-bit here so that the
 * arithmetic never overflows; the SQL layer checks the result's range.
 */
#ifndef ETOP_CADENCE_H
#define ETOP_CADENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t cadence_day;	/* days since 2000-01-01 */

/* A cadence is the number of months between two QBRs. */
typedef enum cadence_kind
{
	CADENCE_INVALID = 0,
	CADENCE_QUARTERLY = 3,		/* segments A and B, and clients without a segment */
	CADENCE_SEMIANNUALLY = 6,	/* segment C */
	CADENCE_ANNUALLY = 12		/* segment D */
} cadence_kind;

/*
 * The cadence of a segment letter ('A'..'D', either case).  segment == 0
 * means "no segment": quarterly, with *defaulted set to true so the
 * explanation can say so.  Any other letter gives CADENCE_INVALID.
 */
extern cadence_kind cadence_for_segment(char segment, bool *defaulted);

/* "quarterly", "semiannually", "annually" (or "invalid"). */
extern const char *cadence_name(cadence_kind kind);

/* Proleptic Gregorian calendar helpers. */
extern bool cadence_is_leap_year(int64_t year);
extern int	cadence_days_in_month(int64_t year, int month);
extern cadence_day cadence_from_ymd(int64_t year, int month, int day);
extern void cadence_to_ymd(cadence_day day, int64_t *year, int *month, int *mday);

/*
 * day + months, clamped to the end of the target month when that month is
 * shorter: Aug 31 + 3 months = Nov 30, Feb 29 2024 + 12 months = Feb 28 2025
 * (the same rule as PostgreSQL's date + interval).  months may be negative.
 */
extern cadence_day cadence_add_months(cadence_day day, int months);

/* YYYY-MM-DD (ISO 8601, whatever the server's DateStyle); returns snprintf's result. */
extern int	cadence_format_date(char *buf, size_t len, cadence_day day);

/* Where one client stands on a given day. */
typedef struct cadence_result
{
	cadence_kind kind;			/* the cadence that applies */
	bool		segment_defaulted;	/* no segment: quarterly by default */
	bool		has_last;		/* a last QBR date is on record */
	cadence_day next_due;		/* last + cadence; as_of when no QBR is on record */
	cadence_day overdue_after;	/* next_due + grace days: overdue from the day after */
	bool		due;			/* as_of >= next_due */
	bool		overdue;		/* as_of > next_due + grace days */
} cadence_result;

/*
 * Evaluate a client.  A client with no QBR on record is due on as_of itself
 * and never overdue (there is no date to be late against).  grace_days < 0
 * is treated as 0.
 */
extern cadence_result cadence_evaluate(char segment, bool has_last, cadence_day last,
									   cadence_day as_of, int grace_days);

/*
 * The explanation sentence, in the spec's wording:
 *   Client 1 (Segment A): Last QBR 2025-10-01, due quarterly, next due 2026-01-01
 *   Client 4 (Segment D): Last QBR 2024-10-01, due annually, next due 2025-10-01 (overdue)
 *   Client 5 (no segment): Last QBR 2025-10-01, due quarterly by default, next due 2026-01-01
 *   Client 6 (Segment C): No QBR on record, due semiannually, first QBR due now
 * Returns snprintf's result (the length it needed).
 */
extern int	cadence_explain(char *buf, size_t len, int64_t client_id, char segment,
							cadence_day last, const cadence_result *r);

#endif							/* ETOP_CADENCE_H */
