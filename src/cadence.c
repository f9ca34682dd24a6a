/*
 * cadence.c — QBR cadence arithmetic (pure C, no database).
 *
 * Segment A and B clients meet quarterly, C semiannually, D annually; a
 * client without a segment is treated as quarterly.  The next QBR is due
 * the cadence's number of months after the last one, clamped to the end of
 * a shorter month (Aug 31 -> Nov 30).  A client is due from that day on and
 * overdue once the grace period after it has passed.  docs/cadence.md is the
 * reader's version of these rules; src/cadence_sql.c exposes them to SQL.
 */
#include "etop/cadence.h"

#include <inttypes.h>
#include <stdio.h>

/* Days from 1970-01-01 (the civil-date algorithm's epoch) to 2000-01-01. */
#define DAYS_1970_TO_2000 10957

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

cadence_kind
cadence_for_segment(char segment, bool *defaulted)
{
	if (defaulted)
		*defaulted = false;
	switch (segment)
	{
		case 'A':
		case 'a':
		case 'B':
		case 'b':
			return CADENCE_QUARTERLY;
		case 'C':
		case 'c':
			return CADENCE_SEMIANNUALLY;
		case 'D':
		case 'd':
			return CADENCE_ANNUALLY;
		case '\0':
			if (defaulted)
				*defaulted = true;
			return CADENCE_QUARTERLY;
		default:
			return CADENCE_INVALID;
	}
}

const char *
cadence_name(cadence_kind kind)
{
	switch (kind)
	{
		case CADENCE_QUARTERLY:
			return "quarterly";
		case CADENCE_SEMIANNUALLY:
			return "semiannually";
		case CADENCE_ANNUALLY:
			return "annually";
		default:
			return "invalid";
	}
}

bool
cadence_is_leap_year(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
cadence_days_in_month(int64_t year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && cadence_is_leap_year(year))
		return 29;
	return days[month - 1];
}

/*
 * Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian,
 * astronomical year numbering: year 0 is 1 BC), shifted to the 2000 epoch.
 */
cadence_day
cadence_from_ymd(int64_t year, int month, int day)
{
	int64_t		y = year - (month <= 2);
	int64_t		era = floor_div(y, 400);
	int64_t		yoe = y - era * 400;
	int64_t		doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468 - DAYS_1970_TO_2000;
}

void
cadence_to_ymd(cadence_day day, int64_t *year, int *month, int *mday)
{
	int64_t		z = day + DAYS_1970_TO_2000 + 719468;
	int64_t		era = floor_div(z, 146097);
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;
	int			d = (int) (doy - (153 * mp + 2) / 5 + 1);
	int			m = (int) (mp < 10 ? mp + 3 : mp - 9);

	*year = yoe + era * 400 + (m <= 2);
	*month = m;
	*mday = d;
}

cadence_day
cadence_add_months(cadence_day day, int months)
{
	int64_t		y;
	int			m;
	int			d;
	int64_t		total;
	int64_t		ny;
	int			nm;
	int			last;

	cadence_to_ymd(day, &y, &m, &d);
	total = y * 12 + (m - 1) + months;
	ny = floor_div(total, 12);
	nm = (int) (total - ny * 12) + 1;
	last = cadence_days_in_month(ny, nm);
	return cadence_from_ymd(ny, nm, d > last ? last : d);
}

int
cadence_format_date(char *buf, size_t len, cadence_day day)
{
	int64_t		y;
	int			m;
	int			d;

	cadence_to_ymd(day, &y, &m, &d);
	if (y >= 1)
		return snprintf(buf, len, "%04" PRId64 "-%02d-%02d", y, m, d);
	/* as PostgreSQL prints them: year 0 is 1 BC */
	return snprintf(buf, len, "%04" PRId64 "-%02d-%02d BC", 1 - y, m, d);
}

cadence_result
cadence_evaluate(char segment, bool has_last, cadence_day last,
				 cadence_day as_of, int grace_days)
{
	cadence_result r;

	r.kind = cadence_for_segment(segment, &r.segment_defaulted);
	r.has_last = has_last;
	if (grace_days < 0)
		grace_days = 0;

	if (r.kind == CADENCE_INVALID)
	{
		r.next_due = as_of;
		r.overdue_after = as_of;
		r.due = false;
		r.overdue = false;
		return r;
	}

	if (!has_last)
	{
		/* Never had a QBR: the first one is due now, and cannot be late yet. */
		r.next_due = as_of;
		r.overdue_after = as_of + grace_days;
		r.due = true;
		r.overdue = false;
		return r;
	}

	r.next_due = cadence_add_months(last, (int) r.kind);
	r.overdue_after = r.next_due + grace_days;
	r.due = as_of >= r.next_due;
	r.overdue = as_of > r.overdue_after;
	return r;
}

int
cadence_explain(char *buf, size_t len, int64_t client_id, char segment,
				cadence_day last, const cadence_result *r)
{
	char		who[64];
	char		last_s[32];
	char		next_s[32];
	const char *how = r->segment_defaulted ? " by default" : "";

	if (r->segment_defaulted)
		snprintf(who, sizeof(who), "Client %" PRId64 " (no segment)", client_id);
	else
		snprintf(who, sizeof(who), "Client %" PRId64 " (Segment %c)", client_id,
				 (segment >= 'a' && segment <= 'z') ? segment - 'a' + 'A' : segment);

	if (!r->has_last)
		return snprintf(buf, len, "%s: No QBR on record, due %s%s, first QBR due now",
						who, cadence_name(r->kind), how);

	cadence_format_date(last_s, sizeof(last_s), last);
	cadence_format_date(next_s, sizeof(next_s), r->next_due);
	return snprintf(buf, len, "%s: Last QBR %s, due %s%s, next due %s%s",
					who, last_s, cadence_name(r->kind), how, next_s,
					r->overdue ? " (overdue)" : "");
}
