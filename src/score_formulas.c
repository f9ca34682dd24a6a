/*
 * score_formulas.c — Standards, Risk and Experience scores (pure C).
 *
 * Each score is a weighted mean of components scored 0..100.  A component
 * whose source delivered no data is marked missing and its weight is shared
 * out over the components that are present, in proportion to their weights
 * (effective_weight = weight / sum of present weights); it is never scored as
 * 0 or 100.  docs/scoring.md states every formula with a worked example;
 * keep the two in step (and bump ETOP_FORMULA_VERSION) when changing one.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "etop/scores.h"

/* ---------- helpers ---------- */

double
etop_round1(double x)
{
	return round(x * 10.0) / 10.0;
}

static double
clamp100(double x)
{
	if (x < 0.0)
		return 0.0;
	if (x > 100.0)
		return 100.0;
	return x;
}

static double
pct(int part, int whole)
{
	return whole > 0 ? 100.0 * (double) part / (double) whole : 0.0;
}

/* "90", "37.5", "6.7", "-20": whole numbers without decimals, else one. */
void
etop_format_pct(char *buf, int buflen, double p)
{
	double		r = etop_round1(p);

	if (fabs(r - round(r)) < 1e-9)
		snprintf(buf, buflen, "%.0f", r);
	else
		snprintf(buf, buflen, "%.1f", r);
}

const char *
etop_risk_level(double score)
{
	if (score < 25.0)
		return "Low";
	if (score < 50.0)
		return "Medium";
	if (score < 75.0)
		return "High";
	return "Critical";
}

/*
 * Industry risk modifier, in points of the business_modifier component.
 * Regulated industries that attackers favour carry more inherent risk.
 */
void
etop_industry_modifier(const char *industry, double *points)
{
	static const struct
	{
		const char *name;
		double		points;
	}			table[] = {
		{"Healthcare", 10}, {"Financial Services", 10}, {"Legal", 5},
		{"Accounting", 5}, {"Education", 5}, {"Energy", 5},
	};

	*points = 0;
	if (industry == NULL)
		return;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcasecmp(industry, table[i].name) == 0)
			*points = table[i].points;
}

static EtopScoreComponent *
add_component(EtopScoreResult *r, const char *name, double weight)
{
	EtopScoreComponent *c = &r->components[r->n_components++];

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->weight = weight;
	return c;
}

static void
evidence(EtopScoreComponent *c, const char *key, double value)
{
	if (c->n_evidence < ETOP_MAX_EVIDENCE)
	{
		c->evidence[c->n_evidence].key = key;
		c->evidence[c->n_evidence].value = value;
		c->n_evidence++;
	}
}

static void
cite(EtopScoreComponent *c, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
cite(EtopScoreComponent *c, const char *fmt,...)
{
	va_list		ap;

	if (c->n_citations >= ETOP_MAX_CITATIONS)
		return;
	va_start(ap, fmt);
	vsnprintf(c->citations[c->n_citations++], ETOP_CITATION_LEN, fmt, ap);
	va_end(ap);
}

/* "45/50 users (90%) have MFA enabled" */
static void
cite_ratio(EtopScoreComponent *c, int part, int whole, const char *noun, const char *what)
{
	char		p[16];

	etop_format_pct(p, sizeof(p), pct(part, whole));
	cite(c, "%d/%d %s (%s%%) %s", part, whole, noun, p, what);
}

static void
missing(EtopScoreComponent *c, const char *why)
{
	c->missing = true;
	cite(c, "%s", why);
}

static void
set_score(EtopScoreComponent *c, double s)
{
	c->score = etop_round1(clamp100(s));
}

/* Weighted mean over present components; sets effective weights. */
static void
combine(EtopScoreResult *r)
{
	double		wsum = 0.0,
				total = 0.0;

	for (int i = 0; i < r->n_components; i++)
		if (!r->components[i].missing)
			wsum += r->components[i].weight;

	for (int i = 0; i < r->n_components; i++)
	{
		EtopScoreComponent *c = &r->components[i];

		c->effective_weight = (!c->missing && wsum > 0) ? c->weight / wsum : 0.0;
		if (!c->missing)
			total += c->effective_weight * c->score;
	}

	if (wsum <= 0.0)
	{
		r->has_score = false;
		snprintf(r->error, sizeof(r->error), "Insufficient data: no component has data");
		return;
	}
	r->has_score = true;
	r->score = round(clamp100(total));
}

static void
init_result(EtopScoreResult *r, const char *kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
}

static void
insufficient(EtopScoreResult *r, const char *msg)
{
	r->has_score = false;
	r->n_components = 0;
	snprintf(r->error, sizeof(r->error), "%s", msg);
}

/* ---------- Standards Compliance (higher = better) ---------- */

void
etop_standards_score(const EtopClientMetrics *m, EtopScoreResult *r)
{
	EtopScoreComponent *c;
	int			total = m->devices_total;

	init_result(r, "standards");
	if (total <= 0)
	{
		insufficient(r, "Insufficient data: no devices found");
		return;
	}

	/* device_coverage 20%: share of devices under management */
	c = add_component(r, "device_coverage", 0.20);
	set_score(c, pct(m->devices_managed, total));
	evidence(c, "managed_devices", m->devices_managed);
	evidence(c, "total_devices", total);
	cite_ratio(c, m->devices_managed, total, "devices", "are under management");
	c->samples_key = "unmanaged_devices";
	c->samples = &m->unmanaged_devices;

	/* immy_compliance 30%: share of all devices passing every baseline */
	c = add_component(r, "immy_compliance", 0.30);
	if (!m->has_immy)
		missing(c, "No Immy.Bot baseline results: component left out");
	else
	{
		set_score(c, pct(m->devices_passing, total));
		evidence(c, "passing_devices", m->devices_passing);
		evidence(c, "assessed_devices", m->devices_assessed);
		evidence(c, "total_devices", total);
		cite_ratio(c, m->devices_passing, total, "devices", "pass their Immy.Bot baselines");
		if (m->devices_assessed < total)
			cite(c, "%d devices have no baseline result", total - m->devices_assessed);
		c->samples_key = "failing_devices";
		c->samples = &m->failing_devices;
	}

	/* patch_compliance 20%: patched within 30 days of as_of */
	c = add_component(r, "patch_compliance", 0.20);
	if (m->devices_patch_known <= 0)
		missing(c, "No source reports patch dates: component left out");
	else
	{
		set_score(c, pct(m->devices_patched_30d, total));
		evidence(c, "patched_devices", m->devices_patched_30d);
		evidence(c, "total_devices", total);
		evidence(c, "window_days", 30);
		cite_ratio(c, m->devices_patched_30d, total, "devices", "patched within 30 days");
		c->samples_key = "unpatched_devices";
		c->samples = &m->unpatched_devices;
	}

	/* edr_health 15%: healthy EDR counts fully, installed-but-unhealthy half */
	c = add_component(r, "edr_health", 0.15);
	if (m->devices_edr_known <= 0)
		missing(c, "No source reports EDR state: component left out");
	else
	{
		set_score(c, 100.0 * (m->devices_edr_healthy + 0.5 * m->devices_edr_unhealthy) / total);
		evidence(c, "edr_healthy", m->devices_edr_healthy);
		evidence(c, "edr_unhealthy", m->devices_edr_unhealthy);
		evidence(c, "total_devices", total);
		cite_ratio(c, m->devices_edr_healthy, total, "devices", "have healthy EDR");
		if (m->devices_edr_unhealthy > 0)
			cite(c, "%d devices have EDR installed but not reporting healthy",
				 m->devices_edr_unhealthy);
		c->samples_key = "missing_edr_devices";
		c->samples = &m->missing_edr_devices;
	}

	/* m365_secure_score 15%: Microsoft Secure Score as a percentage */
	c = add_component(r, "m365_secure_score", 0.15);
	if (m->unavailable_secure_score)
	{
		char		why[ETOP_CITATION_LEN];

		snprintf(why, sizeof(why), "Microsoft Secure Score not available: %s: component left out",
				 m->unavailable_secure_score);
		missing(c, why);
	}
	else if (!m->has_secure_score || m->secure_score_max <= 0.0)
		missing(c, "No Microsoft Secure Score data: component left out");
	else
	{
		char		p[16];
		double		s = 100.0 * m->secure_score_current / m->secure_score_max;

		set_score(c, s);
		evidence(c, "current_score", m->secure_score_current);
		evidence(c, "max_score", m->secure_score_max);
		evidence(c, "controls", m->secure_score_controls);
		etop_format_pct(p, sizeof(p), s);
		cite(c, "Microsoft Secure Score %s%% (%.1f of %.1f points, %d controls)",
			 p, m->secure_score_current, m->secure_score_max, m->secure_score_controls);
	}

	combine(r);
}

/* ---------- Risk (higher = more risk) ---------- */

void
etop_risk_score(const EtopClientMetrics *m, EtopScoreResult *r)
{
	EtopScoreComponent *c;
	bool		has_m365 = m->users_total > 0 || m->has_secure_score;

	init_result(r, "risk");
	if (m->users_total <= 0 && m->devices_total <= 0)
	{
		insufficient(r, "Insufficient data: no users or devices found");
		return;
	}

	/*
	 * identity_risk 30%: 0.75 x MFA gap + 0.15 x risky users (10 points per
	 * high-risk, 5 per medium-risk user, at most 100) + 0.10 x stale share.
	 */
	/*
	 * A term whose source the tenant does not give (licence, permission) is
	 * left out and the others divided by the sum of the present terms'
	 * weights; with none present the component is missing.
	 */
	c = add_component(r, "identity_risk", 0.30);
	if (m->users_total <= 0)
		missing(c, "No identity data (no users synced): component left out");
	else if (m->unavailable_mfa && m->unavailable_user_risk && m->unavailable_sign_ins)
	{
		char		why[ETOP_CITATION_LEN];

		snprintf(why, sizeof(why), "MFA, risk and sign-in data not available: %s: component left out",
				 m->unavailable_mfa);
		missing(c, why);
	}
	else
	{
		double		sum = 0.0,
					wsum = 0.0;

		evidence(c, "users", m->users_total);
		if (!m->unavailable_mfa)
		{
			sum += 0.75 * (100.0 - pct(m->users_mfa, m->users_total));
			wsum += 0.75;
			evidence(c, "mfa_enabled", m->users_mfa);
			cite_ratio(c, m->users_mfa, m->users_total, "users", "have MFA enabled");
			c->samples_key = "users_without_mfa";
			c->samples = &m->users_without_mfa;
		}
		else
			cite(c, "MFA state not available: %s (left out, the other terms re-weighted)",
				 m->unavailable_mfa);
		if (!m->unavailable_user_risk)
		{
			sum += 0.15 * clamp100(10.0 * m->users_high_risk + 5.0 * m->users_medium_risk);
			wsum += 0.15;
			evidence(c, "high_risk_users", m->users_high_risk);
			evidence(c, "medium_risk_users", m->users_medium_risk);
			cite(c, "%d user%s flagged as high risk by Entra ID", m->users_high_risk,
				 m->users_high_risk == 1 ? "" : "s");
		}
		else
			cite(c, "User risk levels not available: %s (left out, the other terms re-weighted)",
				 m->unavailable_user_risk);
		if (!m->unavailable_sign_ins)
		{
			sum += 0.10 * pct(m->users_stale, m->users_total);
			wsum += 0.10;
			evidence(c, "stale_accounts", m->users_stale);
			if (m->users_stale > 0)
				cite(c, "%d enabled account%s without a sign-in for 90 days", m->users_stale,
					 m->users_stale == 1 ? "" : "s");
		}
		else
			cite(c, "Sign-in activity not available: %s (left out, the other terms re-weighted)",
				 m->unavailable_sign_ins);
		set_score(c, sum / wsum);
	}

	/* email_risk 25%: 6 points per email threat in the last 90 days */
	c = add_component(r, "email_risk", 0.25);
	if (m->unavailable_alerts)
	{
		char		why[ETOP_CITATION_LEN];

		snprintf(why, sizeof(why), "Microsoft Defender alerts not available: %s: component left out",
				 m->unavailable_alerts);
		missing(c, why);
	}
	else if (!has_m365)
		missing(c, "No Microsoft 365 data: component left out");
	else
	{
		set_score(c, 6.0 * m->email_alerts_90d);
		evidence(c, "email_alerts_90d", m->email_alerts_90d);
		cite(c, "%d email threat%s flagged by Microsoft Defender in the last 90 days",
			 m->email_alerts_90d, m->email_alerts_90d == 1 ? "" : "s");
	}

	/*
	 * endpoint_risk 25%: 0.4 x unpatched share + 0.4 x share without EDR +
	 * 0.2 x open high-severity detections (25 points each, at most 100); a
	 * term whose source reports nothing is left out and the others are
	 * reweighted (sum of present term weights).
	 */
	c = add_component(r, "endpoint_risk", 0.25);
	if (m->devices_total <= 0)
		missing(c, "No device data: component left out");
	else
	{
		int			total = m->devices_total;
		int			unpatched = total - m->devices_patched_30d;
		int			no_edr = total - m->devices_edr_healthy - m->devices_edr_unhealthy;
		double		wsum = 0.2,
					sum = 0.2 * clamp100(25.0 * m->endpoint_open_high);

		if (m->devices_patch_known > 0)
		{
			wsum += 0.4;
			sum += 0.4 * pct(unpatched, total);
		}
		if (m->devices_edr_known > 0)
		{
			wsum += 0.4;
			sum += 0.4 * pct(no_edr, total);
		}
		set_score(c, sum / wsum);
		evidence(c, "devices", total);
		evidence(c, "open_high_detections", m->endpoint_open_high);
		if (m->devices_edr_known > 0)
		{
			evidence(c, "devices_missing_edr", no_edr);
			cite_ratio(c, no_edr, total, "devices", "have no EDR agent");
		}
		if (m->devices_patch_known > 0)
		{
			evidence(c, "unpatched_devices", unpatched);
			cite_ratio(c, unpatched, total, "devices", "not patched within 30 days");
		}
		if (m->endpoint_open_high > 0)
			cite(c, "%d open high-severity endpoint detection%s", m->endpoint_open_high,
				 m->endpoint_open_high == 1 ? "" : "s");
		if (m->devices_edr_known > 0)
		{
			c->samples_key = "missing_edr_devices";
			c->samples = &m->missing_edr_devices;
		}
	}

	/*
	 * business_modifier 20%: industry points + 5 per compliance regime (at
	 * most 15) + 30 per open critical risk + 10 per other open high risk.
	 */
	c = add_component(r, "business_modifier", 0.20);
	{
		double		ind;
		double		comp = m->compliance_regimes * 5.0;

		etop_industry_modifier(m->industry, &ind);
		if (comp > 15.0)
			comp = 15.0;
		set_score(c, ind + comp + 30.0 * m->open_critical + 10.0 * m->open_high);
		evidence(c, "industry_points", ind);
		evidence(c, "compliance_regimes", m->compliance_regimes);
		evidence(c, "open_critical_risks", m->open_critical);
		evidence(c, "open_high_risks", m->open_high);
		cite(c, "%d open critical risk%s", m->open_critical, m->open_critical == 1 ? "" : "s");
		if (m->industry && ind > 0)
			cite(c, "Industry: %s (+%.0f)", m->industry, ind);
		if (m->compliance_regimes > 0)
			cite(c, "%d compliance regime%s (+%.0f)", m->compliance_regimes,
				 m->compliance_regimes == 1 ? "" : "s", comp);
	}

	for (int i = 0; i < r->n_components; i++)
		if (!r->components[i].missing)
			r->components[i].level = etop_risk_level(r->components[i].score);
	combine(r);
	if (r->has_score)
		r->level = etop_risk_level(r->score);
}

/* ---------- Experience (higher = better) ---------- */

void
etop_experience_score(const EtopClientMetrics *m, EtopScoreResult *r)
{
	EtopScoreComponent *c;
	int			n = m->tickets_quarter;
	int			prev_q = m->quarter == 1 ? 4 : m->quarter - 1;
	int			prev_y = m->quarter == 1 ? m->quarter_year - 1 : m->quarter_year;

	init_result(r, "experience");
	if (n <= 0)
	{
		char		msg[ETOP_CITATION_LEN];

		snprintf(msg, sizeof(msg), "Insufficient data: no tickets found in Q%d %d",
				 m->quarter, m->quarter_year);
		insufficient(r, msg);
		return;
	}

	/*
	 * tickets_per_user_trend 25%: tickets per user this quarter (a quarter in
	 * progress is projected to its full length) against last quarter;
	 * score = 75 - 0.5 x change%.
	 */
	c = add_component(r, "tickets_per_user_trend", 0.25);
	if (m->users_total <= 0)
		missing(c, "No user count: component left out");
	else if (m->tickets_prev_quarter <= 0)
		missing(c, "No tickets in the previous quarter: component left out");
	else
	{
		double		scale = (m->quarter_days_elapsed > 0 &&
							 m->quarter_days_elapsed < m->quarter_days_total)
			? (double) m->quarter_days_total / m->quarter_days_elapsed : 1.0;
		double		now = (double) n / m->users_total * scale;
		double		before = (double) m->tickets_prev_quarter / m->users_total;
		double		change = 100.0 * (now - before) / before;
		char		p[16];

		set_score(c, 75.0 - 0.5 * change);
		evidence(c, "tickets_previous_quarter", m->tickets_prev_quarter);
		evidence(c, "tickets_this_quarter", n);
		evidence(c, "users", m->users_total);
		evidence(c, "tickets_per_user_previous", round(before * 100) / 100);
		evidence(c, "tickets_per_user_this", round(now * 100) / 100);
		evidence(c, "change_pct", etop_round1(change));
		cite(c, "Q%d %d: %.1f tickets/user", prev_q, prev_y, before);
		if (scale != 1.0)
			cite(c, "Q%d %d: %.1f tickets/user (projected from %d of %d days)",
				 m->quarter, m->quarter_year, now, m->quarter_days_elapsed,
				 m->quarter_days_total);
		else
			cite(c, "Q%d %d: %.1f tickets/user", m->quarter, m->quarter_year, now);
		etop_format_pct(p, sizeof(p), change);
		if (etop_round1(change) < 0)
			cite(c, "Improvement: %s%%", p);
		else if (etop_round1(change) > 0)
			cite(c, "Increase: +%s%%", p);
		else
			cite(c, "No change: 0%%");
	}

	/* repeat_issue_rate 20%: score = 100 - 4 x repeat share */
	c = add_component(r, "repeat_issue_rate", 0.20);
	set_score(c, 100.0 - 4.0 * pct(m->tickets_repeat, n));
	evidence(c, "repeat_tickets", m->tickets_repeat);
	evidence(c, "tickets", n);
	cite_ratio(c, m->tickets_repeat, n, "tickets", "were repeat issues");

	/* sla_performance 25%: share of tickets (with an SLA outcome) that met it */
	c = add_component(r, "sla_performance", 0.25);
	if (m->tickets_sla_known <= 0)
		missing(c, "No SLA outcomes recorded: component left out");
	else
	{
		set_score(c, pct(m->tickets_sla_met, m->tickets_sla_known));
		evidence(c, "sla_met", m->tickets_sla_met);
		evidence(c, "tickets_with_sla", m->tickets_sla_known);
		cite_ratio(c, m->tickets_sla_met, m->tickets_sla_known, "tickets", "met SLA");
	}

	/* reopen_rate 15%: score = 100 - 2 x reopen share */
	c = add_component(r, "reopen_rate", 0.15);
	set_score(c, 100.0 - 2.0 * pct(m->tickets_reopened, n));
	evidence(c, "reopened", m->tickets_reopened);
	evidence(c, "tickets", n);
	cite_ratio(c, m->tickets_reopened, n, "tickets", "were reopened");

	/* after_hours_incidents 15%: score = 100 - 3 x after-hours share */
	c = add_component(r, "after_hours_incidents", 0.15);
	set_score(c, 100.0 - 3.0 * pct(m->tickets_after_hours, n));
	evidence(c, "after_hours", m->tickets_after_hours);
	evidence(c, "tickets", n);
	cite_ratio(c, m->tickets_after_hours, n, "tickets", "were raised after hours");

	combine(r);
}
