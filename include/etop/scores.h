/*
 * scores.h — the three composite health scores as pure functions.
 *
 * Everything here is plain C over plain structs: no PostgreSQL headers, no
 * memory allocation, no I/O.  src/scores_sql.c loads a client's metrics with
 * one set-based query and serializes the results to jsonb; tests/unit/
 * test_score_formulas.c exercises the formulas directly.  Every formula,
 * weight and threshold is documented in docs/scoring.md.
 */
#ifndef ETOP_SCORES_H
#define ETOP_SCORES_H

#include <stdbool.h>

#define ETOP_FORMULA_VERSION "2026.1"

#define ETOP_MAX_EVIDENCE	8		/* numeric evidence items per component */
#define ETOP_MAX_CITATIONS	4		/* human-readable evidence strings per component */
#define ETOP_CITATION_LEN	160
#define ETOP_MAX_COMPONENTS 5

/* A list of names (devices, users) shown as examples in the evidence. */
typedef struct EtopNameList
{
	const char *const *names;
	int			count;			/* names available (at most 10 are loaded) */
	int			total;			/* how many there are in all */
} EtopNameList;

/*
 * Everything the formulas need about one client at one as_of date.  Counts
 * are plain integers; "has_*" flags say whether a source delivered any data
 * at all, so a missing source is never mistaken for a perfect or a zero one.
 */
typedef struct EtopClientMetrics
{
	int			client_id;

	/* devices (any source) */
	int			devices_total;
	int			devices_managed;
	int			devices_patched_30d;	/* last_patched_at within 30 days of as_of */
	int			devices_edr_healthy;	/* EDR installed and reporting healthy */
	int			devices_edr_unhealthy;	/* EDR installed but not healthy */
	int			devices_patch_known;	/* devices some source reports patching for */
	int			devices_edr_known;		/* devices some source reports EDR state for */
	EtopNameList unmanaged_devices;
	EtopNameList unpatched_devices;
	EtopNameList missing_edr_devices;

	/* Immy.Bot baselines (controls with control_type = 'immy_baseline') */
	bool		has_immy;
	int			devices_assessed;		/* devices with at least one baseline result */
	int			devices_passing;		/* devices whose every baseline result passes */
	EtopNameList failing_devices;

	/* Microsoft Secure Score (controls with control_type = 'm365_secure_score') */
	bool		has_secure_score;
	int			secure_score_controls;
	double		secure_score_current;
	double		secure_score_max;

	/* identity (users) */
	int			users_total;			/* enabled accounts */
	int			users_mfa;
	int			users_high_risk;
	int			users_medium_risk;
	int			users_stale;			/* enabled, no sign-in for 90 days */
	EtopNameList users_without_mfa;

	/*
	 * Microsoft 365 sources the tenant does not give (etop.unavailable_sources):
	 * why, e.g. "tenant has no Microsoft Entra ID P2 licence", or NULL when
	 * available.  Scores leave them out (missing-source rule), never 0 or 100.
	 */
	const char *unavailable_mfa;	/* userRegistrationDetails */
	const char *unavailable_user_risk;	/* riskyUsers */
	const char *unavailable_sign_ins;	/* users' signInActivity */
	const char *unavailable_secure_score;	/* secureScores / control profiles */
	const char *unavailable_alerts; /* alerts_v2 */

	/* risks */
	int			email_alerts_90d;		/* email risks detected in the 90 days to as_of */
	int			endpoint_open_high;		/* open endpoint risks of high/critical severity */
	int			open_critical;			/* open risks: severity critical, or high x high */
	int			open_high;				/* other open risks of high severity */
	const char *industry;				/* may be NULL */
	int			compliance_regimes;

	/* tickets: the quarter of as_of (to as_of) and the quarter before */
	int			quarter_year;
	int			quarter;				/* 1..4 */
	int			quarter_days_elapsed;	/* days of the quarter up to as_of */
	int			quarter_days_total;
	int			tickets_quarter;
	int			tickets_prev_quarter;
	int			tickets_sla_known;
	int			tickets_sla_met;
	int			tickets_reopened;
	int			tickets_repeat;			/* same device and category within 30 days */
	int			tickets_after_hours;
} EtopClientMetrics;

typedef struct EtopEvidenceItem
{
	const char *key;
	double		value;
} EtopEvidenceItem;

typedef struct EtopScoreComponent
{
	const char *name;			/* "device_coverage", ... */
	double		weight;			/* nominal weight, 0..1 */
	double		effective_weight;	/* after redistribution of missing components */
	bool		missing;		/* the source delivered no data */
	double		score;			/* 0..100, rounded to 0.1; undefined if missing */
	const char *level;			/* risk components: Low/Medium/High/Critical */
	int			n_evidence;
	EtopEvidenceItem evidence[ETOP_MAX_EVIDENCE];
	int			n_citations;
	char		citations[ETOP_MAX_CITATIONS][ETOP_CITATION_LEN];
	const char *samples_key;	/* e.g. "unpatched_devices" */
	const EtopNameList *samples;
} EtopScoreComponent;

typedef struct EtopScoreResult
{
	const char *kind;			/* "standards", "risk", "experience" */
	bool		has_score;
	double		score;			/* 0..100, rounded to an integer */
	const char *level;			/* risk only */
	char		error[ETOP_CITATION_LEN];	/* when !has_score */
	int			n_components;
	EtopScoreComponent components[ETOP_MAX_COMPONENTS];
} EtopScoreResult;

extern void etop_standards_score(const EtopClientMetrics *m, EtopScoreResult *out);
extern void etop_risk_score(const EtopClientMetrics *m, EtopScoreResult *out);
extern void etop_experience_score(const EtopClientMetrics *m, EtopScoreResult *out);

/* helpers shared with the SQL layer and the tests */
extern const char *etop_risk_level(double score);
extern double etop_round1(double x);
extern void etop_format_pct(char *buf, int buflen, double pct);
extern void etop_industry_modifier(const char *industry, double *points);

#endif							/* ETOP_SCORES_H */
