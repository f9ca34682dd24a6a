/*
 * test_cadence.c — QBR cadence arithmetic: calendar helpers, month-end
 * clamping, due/overdue with a grace period, the spec's four scenarios and
 * the explanation wording.
 *
 * SOURCES: src/cadence.c
 */
#include "unit.h"

#include "etop/cadence.h"

static cadence_day
D(int y, int m, int d)
{
	return cadence_from_ymd(y, m, d);
}

static const char *
fmt(cadence_day day)
{
	static char buf[4][32];
	static int	i = 0;

	i = (i + 1) % 4;
	cadence_format_date(buf[i], sizeof(buf[i]), day);
	return buf[i];
}

static const char *
explain(int client_id, char segment, int has_last, cadence_day last,
		cadence_day as_of, int grace)
{
	static char buf[256];
	cadence_result r = cadence_evaluate(segment, has_last, last, as_of, grace);

	cadence_explain(buf, sizeof(buf), client_id, segment, last, &r);
	return buf;
}

int
main(void)
{
	cadence_day as_of = D(2026, 1, 15);
	cadence_result r;
	bool		defaulted;

	/* The epoch is PostgreSQL's: '2026-01-15'::date - '2000-01-01' = 9511. */
	CHECK(D(2000, 1, 1) == 0);
	CHECK(as_of == 9511);
	CHECK(D(1970, 1, 1) == -10957);
	CHECK(D(1999, 12, 31) == -1);

	/* Calendar helpers. */
	CHECK(cadence_is_leap_year(2024));
	CHECK(cadence_is_leap_year(2000));
	CHECK(!cadence_is_leap_year(1900));
	CHECK(!cadence_is_leap_year(2025));
	CHECK(cadence_days_in_month(2024, 2) == 29);
	CHECK(cadence_days_in_month(2025, 2) == 28);
	CHECK(cadence_days_in_month(2025, 11) == 30);
	CHECK(cadence_days_in_month(2025, 12) == 31);
	CHECK(cadence_days_in_month(2025, 13) == 0);

	/* Round trip over several centuries, either side of the epoch. */
	{
		int			bad = 0;
		cadence_day d;

		for (d = D(1600, 1, 1); d <= D(2400, 12, 31); d++)
		{
			int64_t		y;
			int			m,
						md;

			cadence_to_ymd(d, &y, &m, &md);
			if (D((int) y, m, md) != d || md < 1 || md > cadence_days_in_month(y, m))
				bad++;
		}
		CHECK(bad == 0);
	}

	CHECK_STR(fmt(D(2026, 1, 1)), "2026-01-01");
	CHECK_STR(fmt(D(999, 3, 7)), "0999-03-07");
	CHECK_STR(fmt(D(0, 6, 1)), "0001-06-01 BC");

	/* Segments. */
	CHECK(cadence_for_segment('A', &defaulted) == CADENCE_QUARTERLY && !defaulted);
	CHECK(cadence_for_segment('B', &defaulted) == CADENCE_QUARTERLY && !defaulted);
	CHECK(cadence_for_segment('C', &defaulted) == CADENCE_SEMIANNUALLY && !defaulted);
	CHECK(cadence_for_segment('D', &defaulted) == CADENCE_ANNUALLY && !defaulted);
	CHECK(cadence_for_segment('d', NULL) == CADENCE_ANNUALLY);
	CHECK(cadence_for_segment('\0', &defaulted) == CADENCE_QUARTERLY && defaulted);
	CHECK(cadence_for_segment('E', NULL) == CADENCE_INVALID);
	CHECK_STR(cadence_name(CADENCE_QUARTERLY), "quarterly");
	CHECK_STR(cadence_name(CADENCE_SEMIANNUALLY), "semiannually");
	CHECK_STR(cadence_name(CADENCE_ANNUALLY), "annually");

	/* Adding months, clamped to the end of a shorter month. */
	CHECK_STR(fmt(cadence_add_months(D(2025, 10, 1), 3)), "2026-01-01");
	CHECK_STR(fmt(cadence_add_months(D(2025, 8, 31), 3)), "2025-11-30");
	CHECK_STR(fmt(cadence_add_months(D(2025, 11, 30), 3)), "2026-02-28");
	CHECK_STR(fmt(cadence_add_months(D(2027, 11, 30), 3)), "2028-02-29");
	CHECK_STR(fmt(cadence_add_months(D(2025, 12, 31), 3)), "2026-03-31");
	CHECK_STR(fmt(cadence_add_months(D(2025, 8, 31), 6)), "2026-02-28");
	CHECK_STR(fmt(cadence_add_months(D(2024, 2, 29), 12)), "2025-02-28");
	CHECK_STR(fmt(cadence_add_months(D(2024, 2, 29), 48)), "2028-02-29");
	CHECK_STR(fmt(cadence_add_months(D(2023, 11, 29), 3)), "2024-02-29");
	CHECK_STR(fmt(cadence_add_months(D(2024, 5, 31), -3)), "2024-02-29");
	CHECK_STR(fmt(cadence_add_months(D(1999, 11, 15), 3)), "2000-02-15");

	/* The spec's four clients, as of 2026-01-15 with 14 grace days. */
	r = cadence_evaluate('A', true, D(2025, 10, 1), as_of, 14);
	CHECK(r.kind == CADENCE_QUARTERLY && r.due && !r.overdue);
	CHECK_STR(fmt(r.next_due), "2026-01-01");
	CHECK_STR(explain(1, 'A', 1, D(2025, 10, 1), as_of, 14),
			  "Client 1 (Segment A): Last QBR 2025-10-01, due quarterly, next due 2026-01-01");
	CHECK_STR(explain(2, 'B', 1, D(2025, 10, 1), as_of, 14),
			  "Client 2 (Segment B): Last QBR 2025-10-01, due quarterly, next due 2026-01-01");
	CHECK_STR(explain(3, 'C', 1, D(2025, 7, 1), as_of, 14),
			  "Client 3 (Segment C): Last QBR 2025-07-01, due semiannually, next due 2026-01-01");
	r = cadence_evaluate('D', true, D(2024, 10, 1), as_of, 14);
	CHECK(r.kind == CADENCE_ANNUALLY && r.due && r.overdue);
	CHECK_STR(explain(4, 'D', 1, D(2024, 10, 1), as_of, 14),
			  "Client 4 (Segment D): Last QBR 2024-10-01, due annually, next due 2025-10-01 (overdue)");

	/* Due from next_due on; overdue only after next_due + grace. */
	r = cadence_evaluate('A', true, D(2025, 10, 1), D(2025, 12, 31), 14);
	CHECK(!r.due && !r.overdue);
	r = cadence_evaluate('A', true, D(2025, 10, 1), D(2026, 1, 1), 14);
	CHECK(r.due && !r.overdue);
	r = cadence_evaluate('A', true, D(2025, 10, 1), D(2026, 1, 15), 14);
	CHECK(r.due && !r.overdue);
	CHECK_STR(fmt(r.overdue_after), "2026-01-15");
	r = cadence_evaluate('A', true, D(2025, 10, 1), D(2026, 1, 16), 14);
	CHECK(r.due && r.overdue);
	r = cadence_evaluate('A', true, D(2025, 10, 1), D(2026, 1, 2), 0);
	CHECK(r.due && r.overdue);
	r = cadence_evaluate('A', true, D(2025, 10, 1), D(2026, 1, 2), -5);	/* negative = 0 */
	CHECK(r.due && r.overdue);

	/* A QBR on Aug 31 is next due Nov 30. */
	r = cadence_evaluate('B', true, D(2025, 8, 31), D(2025, 11, 30), 14);
	CHECK(r.due && !r.overdue);
	r = cadence_evaluate('B', true, D(2025, 8, 31), D(2025, 11, 29), 14);
	CHECK(!r.due);

	/* Never had a QBR: due now, not overdue. */
	r = cadence_evaluate('C', false, 0, as_of, 14);
	CHECK(r.due && !r.overdue && r.next_due == as_of);
	CHECK_STR(explain(6, 'C', 0, 0, as_of, 14),
			  "Client 6 (Segment C): No QBR on record, due semiannually, first QBR due now");

	/* No segment: quarterly by default, and the sentence says so. */
	r = cadence_evaluate('\0', true, D(2025, 10, 1), as_of, 14);
	CHECK(r.kind == CADENCE_QUARTERLY && r.segment_defaulted && r.due && !r.overdue);
	CHECK_STR(explain(5, '\0', 1, D(2025, 10, 1), as_of, 14),
			  "Client 5 (no segment): Last QBR 2025-10-01, due quarterly by default, next due 2026-01-01");
	CHECK_STR(explain(7, '\0', 0, 0, as_of, 14),
			  "Client 7 (no segment): No QBR on record, due quarterly by default, first QBR due now");

	/* Not due yet: the same sentence (for the calendar), without "(overdue)". */
	CHECK_STR(explain(8, 'D', 1, D(2025, 12, 1), as_of, 14),
			  "Client 8 (Segment D): Last QBR 2025-12-01, due annually, next due 2026-12-01");

	/* An unknown segment is never due (the SQL layer rejects it first). */
	r = cadence_evaluate('E', true, D(2020, 1, 1), as_of, 14);
	CHECK(r.kind == CADENCE_INVALID && !r.due && !r.overdue);

	/* A truncated buffer still ends in a terminator and reports the length needed. */
	{
		char		small[16];
		cadence_result rr = cadence_evaluate('A', true, D(2025, 10, 1), as_of, 14);
		int			n = cadence_explain(small, sizeof(small), 1, 'A', D(2025, 10, 1), &rr);

		CHECK(n == (int) strlen("Client 1 (Segment A): Last QBR 2025-10-01, due quarterly, next due 2026-01-01"));
		CHECK(strlen(small) == sizeof(small) - 1);
	}

	UNIT_DONE();
}
