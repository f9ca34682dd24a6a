/*
 * Unit tests of the pure score formulas (no database).
 * SOURCES: src/score_formulas.c
 */
#include "unit.h"
#include "etop/scores.h"

static const EtopScoreComponent *
comp(const EtopScoreResult *r, const char *name)
{
	for (int i = 0; i < r->n_components; i++)
		if (strcmp(r->components[i].name, name) == 0)
			return &r->components[i];
	return NULL;
}

static bool
has_citation(const EtopScoreComponent *c, const char *text)
{
	for (int i = 0; c && i < c->n_citations; i++)
		if (strcmp(c->citations[i], text) == 0)
			return true;
	return false;
}

/* The spec's client 1 (all three Backgrounds). */
static EtopClientMetrics
spec_client(void)
{
	EtopClientMetrics m;

	memset(&m, 0, sizeof(m));
	m.devices_total = 50;
	m.devices_managed = 45;
	m.has_immy = true;
	m.devices_assessed = 45;
	m.devices_passing = 40;
	m.devices_patched_30d = 42;
	m.devices_edr_healthy = 48;
	m.devices_patch_known = 50;
	m.devices_edr_known = 50;
	m.has_secure_score = true;
	m.secure_score_controls = 28;
	m.secure_score_current = 36;
	m.secure_score_max = 50;
	m.users_total = 50;
	m.users_mfa = 45;
	m.users_high_risk = 2;
	m.email_alerts_90d = 3;
	m.open_critical = 1;
	m.quarter_year = 2025;
	m.quarter = 4;
	m.quarter_days_elapsed = 92;
	m.quarter_days_total = 92;
	m.tickets_quarter = 120;
	m.tickets_prev_quarter = 150;
	m.tickets_sla_known = 120;
	m.tickets_sla_met = 108;
	m.tickets_reopened = 5;
	m.tickets_repeat = 8;
	m.tickets_after_hours = 12;
	return m;
}

static void
test_spec_numbers(void)
{
	EtopClientMetrics m = spec_client();
	EtopScoreResult r;

	etop_standards_score(&m, &r);
	CHECK(r.has_score);
	CHECK_NEAR(r.score, 84, 0);		/* 18 + 24 + 16.8 + 14.4 + 10.8 */
	CHECK_NEAR(comp(&r, "device_coverage")->score, 90, 1e-9);
	CHECK_NEAR(comp(&r, "immy_compliance")->score, 80, 1e-9);
	CHECK_NEAR(comp(&r, "patch_compliance")->score, 84, 1e-9);
	CHECK_NEAR(comp(&r, "edr_health")->score, 96, 1e-9);
	CHECK_NEAR(comp(&r, "m365_secure_score")->score, 72, 1e-9);

	etop_risk_score(&m, &r);
	CHECK_NEAR(r.score, 16, 0);		/* 3.15 + 4.5 + 2 + 6 = 15.65 */
	CHECK_STR(r.level, "Low");
	CHECK_NEAR(comp(&r, "identity_risk")->score, 10.5, 1e-9);
	CHECK_STR(comp(&r, "business_modifier")->level, "Medium");
	CHECK(has_citation(comp(&r, "identity_risk"), "45/50 users (90%) have MFA enabled"));
	CHECK(has_citation(comp(&r, "identity_risk"), "2 users flagged as high risk by Entra ID"));

	etop_experience_score(&m, &r);
	CHECK_NEAR(r.score, 83, 0);		/* 82.67 */
	CHECK(has_citation(comp(&r, "tickets_per_user_trend"), "Q3 2025: 3.0 tickets/user"));
	CHECK(has_citation(comp(&r, "tickets_per_user_trend"), "Q4 2025: 2.4 tickets/user"));
	CHECK(has_citation(comp(&r, "tickets_per_user_trend"), "Improvement: -20%"));
	CHECK(has_citation(comp(&r, "sla_performance"), "108/120 tickets (90%) met SLA"));
}

static void
test_boundaries(void)
{
	EtopClientMetrics m;
	EtopScoreResult r;

	/* nothing at all: every score refuses, nothing divides by zero */
	memset(&m, 0, sizeof(m));
	m.quarter = 1;
	m.quarter_year = 2026;
	etop_standards_score(&m, &r);
	CHECK(!r.has_score);
	CHECK_STR(r.error, "Insufficient data: no devices found");
	CHECK(r.n_components == 0);
	etop_risk_score(&m, &r);
	CHECK(!r.has_score);
	CHECK_STR(r.error, "Insufficient data: no users or devices found");
	etop_experience_score(&m, &r);
	CHECK(!r.has_score);
	CHECK_STR(r.error, "Insufficient data: no tickets found in Q1 2026");

	/* 100%: perfect standards, no sources missing */
	m = spec_client();
	m.devices_managed = m.devices_passing = m.devices_patched_30d = m.devices_edr_healthy = 50;
	m.secure_score_current = 50;
	etop_standards_score(&m, &r);
	CHECK_NEAR(r.score, 100, 0);

	/* 0 users: identity and trend are missing, not zero */
	m = spec_client();
	m.users_total = 0;
	m.users_mfa = 0;
	m.has_secure_score = false;
	etop_risk_score(&m, &r);
	CHECK(comp(&r, "identity_risk")->missing);
	CHECK(comp(&r, "email_risk")->missing);
	CHECK_NEAR(comp(&r, "identity_risk")->effective_weight, 0, 0);
	CHECK_NEAR(comp(&r, "endpoint_risk")->effective_weight, 0.25 / 0.45, 1e-9);
	CHECK(r.has_score);
	etop_experience_score(&m, &r);
	CHECK(comp(&r, "tickets_per_user_trend")->missing);

	/* missing components redistribute: weights of present ones sum to 1 */
	m = spec_client();
	m.has_immy = false;
	m.has_secure_score = false;
	etop_standards_score(&m, &r);
	{
		double		sum = 0;

		for (int i = 0; i < r.n_components; i++)
			sum += r.components[i].effective_weight;
		CHECK_NEAR(sum, 1.0, 1e-9);
		/* (0.2*90 + 0.2*84 + 0.15*96) / 0.55 = 89.45 */
		CHECK_NEAR(r.score, 89, 0);
	}

	/* no source reports patching or EDR: missing, and endpoint risk uses detections only */
	m = spec_client();
	m.devices_patch_known = 0;
	m.devices_edr_known = 0;
	m.devices_patched_30d = 0;
	m.devices_edr_healthy = 0;
	etop_standards_score(&m, &r);
	CHECK(comp(&r, "patch_compliance")->missing);
	CHECK(comp(&r, "edr_health")->missing);
	CHECK(r.has_score);
	etop_risk_score(&m, &r);
	CHECK_NEAR(comp(&r, "endpoint_risk")->score, 0, 1e-9);
	m.endpoint_open_high = 2;
	etop_risk_score(&m, &r);
	CHECK_NEAR(comp(&r, "endpoint_risk")->score, 50, 1e-9);

	/* a secure score with no maximum is missing, not a division by zero */
	m = spec_client();
	m.secure_score_max = 0;
	etop_standards_score(&m, &r);
	CHECK(comp(&r, "m365_secure_score")->missing);

	/* no SLA outcomes recorded */
	m = spec_client();
	m.tickets_sla_known = 0;
	m.tickets_sla_met = 0;
	etop_experience_score(&m, &r);
	CHECK(comp(&r, "sla_performance")->missing);

	/* scores never leave 0..100 */
	m = spec_client();
	m.tickets_reopened = 120;
	m.tickets_repeat = 120;
	m.tickets_after_hours = 120;
	m.tickets_prev_quarter = 1;
	etop_experience_score(&m, &r);
	for (int i = 0; i < r.n_components; i++)
		CHECK(r.components[i].score >= 0 && r.components[i].score <= 100);
	m = spec_client();
	m.open_critical = 10;
	m.email_alerts_90d = 1000;
	m.users_high_risk = 50;
	etop_risk_score(&m, &r);
	CHECK(r.score <= 100);
	CHECK_NEAR(comp(&r, "business_modifier")->score, 100, 0);
	/* the level follows the documented bands (docs/scoring.md), restated here */
	CHECK_STR(r.level, r.score >= 75 ? "Critical" : r.score >= 50 ? "High" : r.score >= 25 ? "Medium" : "Low");
	CHECK(r.score >= 50);		/* ten open criticals and a thousand phishing alerts are not "Low" */

	/* a quarter in progress is projected to its full length */
	m = spec_client();
	m.quarter_days_elapsed = 46;
	m.tickets_quarter = 60;
	etop_experience_score(&m, &r);
	CHECK(has_citation(comp(&r, "tickets_per_user_trend"),
					   "Q4 2025: 2.4 tickets/user (projected from 46 of 92 days)"));
	/* increase wording */
	m = spec_client();
	m.tickets_quarter = 165;
	etop_experience_score(&m, &r);
	CHECK(has_citation(comp(&r, "tickets_per_user_trend"), "Increase: +10%"));
	/* Q1 compares with Q4 of the year before */
	m = spec_client();
	m.quarter = 1;
	m.quarter_year = 2026;
	etop_experience_score(&m, &r);
	CHECK(has_citation(comp(&r, "tickets_per_user_trend"), "Q4 2025: 3.0 tickets/user"));
}

static void
test_helpers(void)
{
	char		b[16];
	double		p;

	etop_format_pct(b, sizeof(b), 90);
	CHECK_STR(b, "90");
	etop_format_pct(b, sizeof(b), 37.5);
	CHECK_STR(b, "37.5");
	etop_format_pct(b, sizeof(b), 100.0 * 8 / 120);
	CHECK_STR(b, "6.7");
	etop_format_pct(b, sizeof(b), -20.0000001);
	CHECK_STR(b, "-20");
	CHECK_STR(etop_risk_level(0), "Low");
	CHECK_STR(etop_risk_level(24.9), "Low");
	CHECK_STR(etop_risk_level(25), "Medium");
	CHECK_STR(etop_risk_level(50), "High");
	CHECK_STR(etop_risk_level(75), "Critical");
	etop_industry_modifier("healthcare", &p);
	CHECK_NEAR(p, 10, 0);
	etop_industry_modifier(NULL, &p);
	CHECK_NEAR(p, 0, 0);
	etop_industry_modifier("Retail", &p);
	CHECK_NEAR(p, 0, 0);
}

/* Microsoft 365 sources the tenant does not give: left out, never 0 or 100 */
static void
test_unavailable_sources(void)
{
	EtopClientMetrics m = spec_client();
	EtopScoreResult r;
	const EtopScoreComponent *c;

	/* no Entra ID P2: the risk term is left out, MFA and stale re-weighted */
	m.unavailable_user_risk = "tenant has no Microsoft Entra ID P2 licence";
	etop_risk_score(&m, &r);
	c = comp(&r, "identity_risk");
	CHECK(!c->missing);
	CHECK_NEAR(c->score, (0.75 * 10 + 0.10 * 0) / 0.85, 0.05);	/* 8.8 */
	CHECK(has_citation(c, "User risk levels not available: tenant has no Microsoft Entra ID P2 licence "
					   "(left out, the other terms re-weighted)"));
	CHECK(!has_citation(c, "2 users flagged as high risk by Entra ID"));

	/* no premium licence at all: identity_risk is missing, weight shared out */
	m.unavailable_mfa = m.unavailable_sign_ins = "tenant has no Microsoft Entra ID P1 or P2 licence";
	etop_risk_score(&m, &r);
	c = comp(&r, "identity_risk");
	CHECK(c->missing);
	CHECK_NEAR(c->effective_weight, 0, 0);
	CHECK(has_citation(c, "MFA, risk and sign-in data not available: tenant has no Microsoft Entra ID P1 "
					   "or P2 licence: component left out"));
	CHECK(r.has_score);

	/* no SecurityAlert.Read.All: email_risk missing; no Secure Score permission */
	m = spec_client();
	m.unavailable_alerts = "the app lacks the permission SecurityAlert.Read.All";
	m.unavailable_secure_score = "the app lacks the permission SecurityEvents.Read.All";
	etop_risk_score(&m, &r);
	CHECK(comp(&r, "email_risk")->missing);
	CHECK(has_citation(comp(&r, "email_risk"), "Microsoft Defender alerts not available: the app lacks the "
					   "permission SecurityAlert.Read.All: component left out"));
	etop_standards_score(&m, &r);
	CHECK(comp(&r, "m365_secure_score")->missing);
	CHECK_NEAR(r.score, 86, 0);		/* (18 + 24 + 16.8 + 14.4) / 0.85 = 86.1 */
}

int
main(void)
{
	test_unavailable_sources();
	test_spec_numbers();
	test_boundaries();
	test_helpers();
	UNIT_DONE();
}
