/*
 * test_demo_data.c — the pure demo generator: determinism, shapes and
 * distributions of users, devices, controls and tickets.
 *
 * SOURCES: src/demo_data.c
 */
#include <stdlib.h>

#include "etop/demo_data.h"
#include "unit.h"

/* days since 2000-01-01 of a civil date (Howard Hinnant's algorithm) */
static DemoDate
civil(int y, int m, int d)
{
	int			era;
	unsigned	yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (unsigned) ((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (DemoDate) (era * 146097 + (int) doe - 719468 - 10957);
}

static DemoClient
client(int ord, int users, int devices)
{
	DemoClient	c = {ord, users, devices, "harboraccounting1.example"};

	return c;
}

static void
test_rng(void)
{
	DemoRng		a = demo_rng(1, 2, 3);
	DemoRng		b = demo_rng(1, 2, 3);
	DemoRng		c = demo_rng(1, 2, 4);
	DemoRng		d = demo_rng(2, 2, 3);
	double		sum = 0;
	int			buckets[10] = {0};
	int			ok_range = 1;

	CHECK(demo_next(&a) == demo_next(&b));
	CHECK(demo_hash(1, 2, 3) == demo_hash(1, 2, 3));
	/* pinned: a change to the hash changes every demo data set (and the expected outputs) */
	CHECK(demo_hash(1, 2, 3) == 0x745e41d1af4fbd24ULL);
	CHECK(demo_hash(1, 2, 3) != demo_hash(1, 2, 4));
	CHECK(demo_hash(1, 2, 3) != demo_hash(1, 3, 3));
	CHECK(demo_hash(1, 2, 3) != demo_hash(2, 2, 3));
	CHECK(demo_next(&c) != demo_next(&d));

	for (int i = 0; i < 100000; i++)
	{
		double		u = demo_unit(&a);
		int			k = demo_below(&a, 10);

		ok_range &= u >= 0.0 && u < 1.0 && k >= 0 && k < 10;
		sum += u;
		buckets[k]++;
	}
	CHECK(ok_range);
	CHECK_NEAR(sum / 100000, 0.5, 0.01);
	for (int k = 0; k < 10; k++)
		CHECK(buckets[k] > 9500 && buckets[k] < 10500);
	CHECK(demo_below(&a, 1) == 0);
	CHECK(demo_below(&a, 0) == 0);
}

static void
test_calendar(void)
{
	CHECK(civil(2000, 1, 1) == 0);
	CHECK(demo_isodow(0) == 6);						/* Saturday */
	CHECK(demo_isodow(civil(2026, 1, 15)) == 4);	/* Thursday */
	CHECK(demo_isodow(civil(2024, 2, 29)) == 4);
	CHECK(demo_isodow(civil(1999, 12, 27)) == 1);	/* before 2000: Monday */
	CHECK(demo_date_of(0) == 0);
	CHECK(demo_date_of(DEMO_USECS_PER_DAY - 1) == 0);
	CHECK(demo_date_of(-1) == -1);
	CHECK(demo_date_of(-DEMO_USECS_PER_DAY) == -1);
}

static void
test_profile(void)
{
	int			ok = 1;

	for (int ord = 1; ord <= 500; ord++)
	{
		DemoClient	c = client(ord, 5 + ord % 116, 40 + ord % 121);
		DemoProfile p;

		demo_profile(&c, 1, &p);
		ok &= p.n_tickets >= 20 && p.n_tickets <= DEMO_MAX_TICKETS;
		ok &= p.n_tickets >= c.n_users * 13 - 1 && p.n_tickets <= c.n_users * 23 + 1;
		ok &= p.sla_rate >= 0.75 && p.sla_rate <= 0.98;
		ok &= p.reopen_rate >= 0.02 && p.reopen_rate <= 0.14;
		ok &= p.after_hours_rate >= 0.05 && p.after_hours_rate <= 0.20;
		ok &= p.trend >= 0.7 && p.trend <= 1.3;
		ok &= p.mfa_rate >= 0.55 && p.mfa_rate <= 1.0;
		ok &= p.secure_score_rate >= 0.35 && p.secure_score_rate <= 0.9;
	}
	CHECK(ok);
}

static void
test_users(void)
{
	static DemoUser u1[DEMO_MAX_USERS];
	static DemoUser u2[DEMO_MAX_USERS];
	DemoClient	c = client(7, 120, 100);
	DemoDate	as_of = civil(2026, 1, 15);
	int			n = demo_users(&c, 1, as_of, u1);
	int			unique = 1,
				lower = 1,
				domain = 1,
				recent = 1,
				mfa = 0;

	CHECK(n == 120);
	CHECK(demo_users(&c, 1, as_of, u2) == n);
	CHECK(memcmp(u1, u2, sizeof(DemoUser) * n) == 0);	/* deterministic */

	for (int i = 0; i < n; i++)
	{
		const char *at = strchr(u1[i].email, '@');

		CHECK(u1[i].ordinal == i + 1);
		domain &= at != NULL && strcmp(at + 1, "harboraccounting1.example") == 0;
		for (const char *p = u1[i].email; *p; p++)
			lower &= !(*p >= 'A' && *p <= 'Z');
		for (int j = 0; j < i; j++)
			unique &= strcmp(u1[i].email, u1[j].email) != 0;
		recent &= u1[i].last_sign_in <= (DemoTime) as_of * DEMO_USECS_PER_DAY
			&& u1[i].last_sign_in > (DemoTime) (as_of - 200) * DEMO_USECS_PER_DAY;
		mfa += u1[i].mfa_enabled;
		CHECK(strcmp(u1[i].risk_level, "none") == 0 || strcmp(u1[i].risk_level, "low") == 0 ||
			  strcmp(u1[i].risk_level, "medium") == 0 || strcmp(u1[i].risk_level, "high") == 0);
	}
	CHECK(unique);
	CHECK(lower);
	CHECK(domain);
	CHECK(recent);
	CHECK(mfa > 0 && mfa < n);
	/* the shared accounts at the end of the list, without MFA for the scanner */
	CHECK_STR(u1[n - 1].display_name, "Scan to Email");
	CHECK_STR(u1[n - 1].email, "scanner@harboraccounting1.example");
	CHECK(!u1[n - 1].mfa_enabled);
	CHECK_STR(u1[n - 2].display_name, "Reception");
	CHECK(strchr(u1[0].display_name, ' ') != NULL);	/* "First Last" */

	/* another seed, other people */
	demo_users(&c, 2, as_of, u2);
	CHECK(strcmp(u1[0].email, u2[0].email) != 0 || strcmp(u1[1].email, u2[1].email) != 0);
}

static void
test_devices(void)
{
	static DemoDevice d1[DEMO_MAX_DEVICES];
	static DemoDevice d2[DEMO_MAX_DEVICES];
	DemoDate	as_of = civil(2026, 1, 15);
	int			total = 0,
				managed = 0,
				aging = 0,
				win10_old = 0,
				old = 0,
				ok = 1;

	for (int ord = 1; ord <= 50; ord++)
	{
		DemoClient	c = client(ord, 60, 40 + ord * 2);
		int			n = demo_devices(&c, 1, as_of, d1);

		CHECK(n == c.n_devices);
		if (ord == 1)
		{
			CHECK(demo_devices(&c, 1, as_of, d2) == n);
			CHECK(memcmp(d1, d2, sizeof(DemoDevice) * n) == 0);
			CHECK_STR(d1[0].name, "FW-MAIN-01");
			CHECK_STR(d1[0].manufacturer, "Fortinet");
			CHECK(strncmp(d1[0].serial_number, "FGT60F", 6) == 0);
			CHECK_STR(d1[1].name, "SW-CORE-01");
			CHECK_STR(d1[2].name, "AP-OFFICE-01");
			CHECK_STR(d1[3].name, "SRV-DC-01");
			CHECK_STR(d1[3].type, "server");
			CHECK_STR(d1[5].name, "SRV-APP-01");
			CHECK_STR(d1[6].name + 2, "-ACCT-01");	/* WS-ACCT-01 or LT-ACCT-01 */
			CHECK_STR(d1[13].name + 2, "-ACCT-02");
			CHECK_STR(d1[6].type, "endpoint");
		}
		for (int i = 0; i < n; i++)
		{
			const DemoDevice *d = &d1[i];
			int			age = as_of - d->purchase_date;
			bool		endpoint = strcmp(d->type, "endpoint") == 0;

			total++;
			ok &= d->ordinal == i + 1;
			ok &= age >= 0 && age < 7 * 365;
			ok &= d->warranty_expires - d->purchase_date == (endpoint ? 3 : 5) * 365;
			ok &= d->last_seen <= (DemoTime) as_of * DEMO_USECS_PER_DAY;
			ok &= d->managed == d->has_last_patched;
			ok &= d->managed == (d->baseline_status != NULL);
			ok &= !d->edr_installed || (d->managed && strcmp(d->type, "network") != 0);
			ok &= !d->edr_healthy || d->edr_installed;
			ok &= strlen(d->serial_number) >= 7;
			if (d->managed)
			{
				ok &= d->last_patched_at < (DemoTime) as_of * DEMO_USECS_PER_DAY;
				ok &= (strcmp(d->baseline_status, "fail") == 0) == (d->baseline_drift_items > 0);
			}
			managed += d->managed;
			aging += age > 4 * 365;
			if (endpoint && age > 4 * 365 && strcmp(d->manufacturer, "Apple") != 0)
			{
				old++;
				win10_old += strncmp(d->os, "Windows 10", 10) == 0;
			}
		}
	}
	CHECK(ok);
	CHECK(managed > total * 0.8 && managed < total);
	CHECK(aging > total / 5);					/* aging hardware */
	CHECK(win10_old > old / 2);					/* and it still runs Windows 10 */
}

static void
test_secure_score(void)
{
	DemoSecureScore s[DEMO_SECURE_SCORE_CONTROLS];
	DemoClient	c = client(3, 40, 60);
	int			pass = 0,
				ok = 1;

	CHECK(demo_secure_score(&c, 1, s) == 28);
	CHECK_STR(s[0].title, "MFA Enforcement");
	for (int i = 0; i < DEMO_SECURE_SCORE_CONTROLS; i++)
	{
		ok &= s[i].n == i + 1;
		ok &= s[i].score >= 0 && s[i].score <= s[i].max_score;
		ok &= strcmp(s[i].status, s[i].score == s[i].max_score ? "pass" : s[i].score == 0 ? "fail" : "unknown") == 0;
		pass += strcmp(s[i].status, "pass") == 0;
	}
	CHECK(ok);
	CHECK(pass > 0 && pass < 28);
}

static void
test_tickets(void)
{
	static DemoTicket t1[DEMO_MAX_TICKETS];
	static DemoTicket t2[DEMO_MAX_TICKETS];
	DemoDate	as_of = civil(2026, 1, 15);
	DemoTime	start = (DemoTime) (as_of - 730) * DEMO_USECS_PER_DAY;
	DemoTime	snapshot = (DemoTime) as_of * DEMO_USECS_PER_DAY + 8 * DEMO_USECS_PER_HOUR;
	long		total = 0,
				after_hours = 0,
				sla = 0,
				reopened = 0,
				open = 0,
				falling_clients = 0,
				csat = 0;
	double		expected_after_hours = 0;
	long		per_dow[8] = {0};
	int			ok = 1,
				sorted = 1,
				rising_clients = 0,
				rising_expected = 0;

	for (int ord = 1; ord <= 200; ord++)
	{
		DemoClient	c = client(ord, 30 + ord % 90, 80);
		DemoProfile p;
		int			n = demo_tickets(&c, 1, as_of, t1);
		long		recent = 0;

		demo_profile(&c, 1, &p);
		CHECK(n == p.n_tickets);
		if (ord == 1)
		{
			CHECK(demo_tickets(&c, 1, as_of, t2) == n);
			CHECK(memcmp(t1, t2, sizeof(DemoTicket) * n) == 0);
			demo_tickets(&c, 2, as_of, t2);
			CHECK(t1[0].created != t2[0].created || t1[1].created != t2[1].created);
		}
		for (int i = 0; i < n; i++)
		{
			const DemoTicket *t = &t1[i];
			DemoDate	day = demo_date_of(t->created);
			int			dow = demo_isodow(day);
			int			hour = (int) ((t->created - (DemoTime) day * DEMO_USECS_PER_DAY) / DEMO_USECS_PER_HOUR);

			ok &= t->number == 100000 + (int64_t) ord * 5000 + i + 1;
			if (i > 0)
				sorted &= t->created >= t1[i - 1].created;
			ok &= t->created >= start && t->created < snapshot;
			ok &= t->after_hours == (dow >= 6 || hour < 8 || hour >= 18);
			ok &= t->hours_cents > 0 && t->hours_cents % 25 == 0;
			ok &= t->reopen_count >= 0 && t->reopen_count <= 2;
			ok &= t->csat_score >= 0 && t->csat_score <= 5;
			ok &= t->closed == (strcmp(t->status, "Closed") == 0);
			if (t->closed)
				ok &= t->closed_at > t->created && t->closed_at <= snapshot;
			else
				ok &= t->csat_score == 0 && t->created > snapshot - 28 * DEMO_USECS_PER_DAY;
			ok &= strcmp(t->priority, "critical") == 0 || strcmp(t->priority, "high") == 0 ||
				strcmp(t->priority, "medium") == 0 || strcmp(t->priority, "low") == 0;
			ok &= t->summary != NULL && t->category != NULL;
			total++;
			per_dow[dow]++;
			after_hours += t->after_hours;
			sla += t->sla_met;
			reopened += t->reopen_count > 0;
			open += !t->closed;
			csat += t->csat_score > 0;
			recent += t->created >= start + 365 * DEMO_USECS_PER_DAY;
		}
		falling_clients += p.trend < 0.85 && recent < n - recent;
		expected_after_hours += p.after_hours_rate * n;
		if (p.trend > 1.15)
		{
			rising_expected++;
			rising_clients += recent > n - recent;
		}
	}
	CHECK(ok);
	CHECK(sorted);
	/* after hours: the late tickets (weekend ones included), within a point or two */
	CHECK_NEAR((double) after_hours / total, expected_after_hours / total, 0.02);
	CHECK((double) sla / total > 0.75 && (double) sla / total < 0.95);
	CHECK((double) reopened / total > 0.02 && (double) reopened / total < 0.10);
	CHECK((double) csat / total > 0.2 && (double) csat / total < 0.4);
	CHECK(open > 0 && open < total / 50);
	/* weekdays alike, weekends quiet */
	for (int d = 2; d <= 5; d++)
		CHECK(per_dow[d] > per_dow[1] * 0.9 && per_dow[d] < per_dow[1] * 1.1);
	CHECK(per_dow[6] < per_dow[1] / 5 && per_dow[7] < per_dow[1] / 5);
	CHECK(rising_expected > 0 && rising_clients == rising_expected);	/* growing clients grow */
	CHECK(falling_clients > 0);					/* and some need fewer tickets */
}

int
main(void)
{
	test_rng();
	test_calendar();
	test_profile();
	test_users();
	test_devices();
	test_secure_score();
	test_tickets();
	UNIT_DONE();
}
