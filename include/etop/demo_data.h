/*
 * demo_data.h — pure generation of etop's demo rows (no PostgreSQL headers).
 *
 * etop.demo_seed() creates clients, sites, contacts, agreements, risks and
 * recommendations in SQL; the high-volume rows (users, devices with their
 * Immy.Bot baseline results, tickets) come from here, one client at a time,
 * as plain structs that src/demo_data_sql.c turns into table rows.
 *
 * Every value is a function of (seed, client ordinal, row ordinal) only,
 * through a small hash-based generator, so the same arguments always give
 * the same rows, in the same order, whatever else happens in the server.
 *
 * Time is PostgreSQL's: a DemoDate counts days and a DemoTime microseconds
 * since 2000-01-01 00:00.  Times are local wall-clock time (tickets arrive
 * during the client's business hours); the SQL side interprets them in the
 * session's time zone, as a cast from timestamp to timestamptz does.
 */
#ifndef ETOP_DEMO_DATA_H
#define ETOP_DEMO_DATA_H

#include <stdbool.h>
#include <stdint.h>

typedef int32_t DemoDate;		/* days since 2000-01-01 */
typedef int64_t DemoTime;		/* microseconds since 2000-01-01 00:00 */

#define DEMO_USECS_PER_MINUTE	INT64_C(60000000)
#define DEMO_USECS_PER_HOUR		INT64_C(3600000000)
#define DEMO_USECS_PER_DAY		INT64_C(86400000000)

/*
 * The most rows of one kind that one client can have.  Users and devices
 * are numbered with three digits in their external ids (USR-7-001), so that
 * a client's rows are written in the order of their ids.
 */
#define DEMO_MAX_USERS			999
#define DEMO_MAX_DEVICES		999
#define DEMO_MAX_TICKETS		5000

/* ---- pseudo-random numbers ---------------------------------------------- */

/*
 * A stream of pseudo-random numbers for one (seed, salt, key): splitmix64
 * over a state derived from the three by hashing.  Independent streams for
 * different keys; cheap enough for millions of rows.
 */
typedef struct DemoRng
{
	uint64_t	state;
} DemoRng;

/* the splitmix64 / MurmurHash3 finalizer: every input bit affects every output bit */
static inline uint64_t
demo_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A hash of (seed, salt, key). */
static inline uint64_t
demo_hash(uint32_t seed, uint32_t salt, uint64_t key)
{
	uint64_t	h = demo_mix64(((uint64_t) seed << 32 | salt) ^ UINT64_C(0x6a09e667f3bcc909));

	return demo_mix64(h ^ demo_mix64(key * UINT64_C(0xd1b54a32d192ed03) + UINT64_C(0x9e3779b97f4a7c15)));
}

static inline DemoRng
demo_rng(uint32_t seed, uint32_t salt, uint64_t key)
{
	DemoRng		r;

	r.state = demo_hash(seed, salt, key);
	return r;
}

static inline uint64_t
demo_next(DemoRng *rng)
{
	rng->state += UINT64_C(0x9e3779b97f4a7c15);
	return demo_mix64(rng->state);
}

/* uniform in [0, 1) */
static inline double
demo_unit(DemoRng *rng)
{
	return (double) (demo_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [0, n), n >= 1 */
static inline int
demo_below(DemoRng *rng, int n)
{
	if (n <= 1)
		return 0;
	return (int) (((demo_next(rng) >> 32) * (uint64_t) n) >> 32);
}

/* ---- calendar helpers ----------------------------------------------------- */

/* ISO day of week of a date: 1 = Monday ... 7 = Sunday. */
extern int	demo_isodow(DemoDate d);

/* Date of a time (floor division, also before 2000). */
extern DemoDate demo_date_of(DemoTime t);

/* ---- one client ------------------------------------------------------------ */

/*
 * What the generators need to know about a client: its ordinal (1-based,
 * the N of DEMO-0000N), its size, and its e-mail domain (for users).
 */
typedef struct DemoClient
{
	int32_t		ord;
	int32_t		n_users;		/* 1 .. DEMO_MAX_USERS */
	int32_t		n_devices;		/* 1 .. DEMO_MAX_DEVICES: 3 network, 3 servers, endpoints */
	const char *domain;			/* "harboraccounting1.example" */
} DemoClient;

/*
 * Per-client character: the same client always has the same habits, which
 * is what makes one client's scores differ from another's.
 */
typedef struct DemoProfile
{
	int32_t		n_tickets;		/* tickets over the two years before as_of */
	double		sla_rate;		/* share of tickets meeting their SLA */
	double		reopen_rate;	/* share of tickets reopened */
	double		after_hours_rate;	/* share raised outside business hours */
	double		trend;			/* > 1: more tickets in recent quarters */
	double		mfa_rate;		/* share of users with MFA */
	double		managed_rate;	/* share of devices under management */
	double		edr_rate;		/* share of managed devices with EDR */
	double		patch_rate;		/* share of managed devices patched within 30 days */
	double		baseline_pass_rate; /* share of Immy.Bot baselines passing */
	double		secure_score_rate;	/* share of Secure Score controls fully implemented */
} DemoProfile;

extern void demo_profile(const DemoClient *c, uint32_t seed, DemoProfile *p);

/* ---- users (Entra ID accounts) ---------------------------------------------- */

typedef struct DemoUser
{
	int32_t		ordinal;		/* 1-based; external id USR-<ord>-<ordinal, 3 digits> */
	char		display_name[64];
	char		email[128];		/* also the UPN */
	bool		account_enabled;
	bool		mfa_enabled;
	const char *risk_level;		/* none, low, medium, high */
	DemoTime	last_sign_in;
} DemoUser;

/* Fills out[0 .. c->n_users - 1]; returns the count. */
extern int	demo_users(const DemoClient *c, uint32_t seed, DemoDate as_of, DemoUser *out);

/* ---- devices and their Immy.Bot baseline result ----------------------------- */

typedef struct DemoDevice
{
	int32_t		ordinal;		/* 1-based; external id CFG-<ord>-<ordinal, 3 digits> */
	char		name[24];		/* FW-MAIN-01, SRV-DC-01, WS-ACCT-01, LT-SALES-02 */
	const char *type;			/* network, server, endpoint */
	const char *os;
	const char *manufacturer;
	const char *model;
	char		serial_number[24];
	bool		managed;
	const char *health_status;	/* healthy, warning, critical */
	DemoTime	last_seen;
	DemoDate	purchase_date;
	DemoDate	warranty_expires;
	bool		has_last_patched;	/* managed devices only */
	DemoTime	last_patched_at;
	bool		edr_installed;
	bool		edr_healthy;
	/* the device's Immy.Bot baseline result (managed devices only) */
	const char *baseline_title;
	const char *baseline_status;	/* pass, fail, unknown */
	int32_t		baseline_drift_items;
	DemoTime	baseline_checked;
} DemoDevice;

/* Fills out[0 .. c->n_devices - 1]; returns the count. */
extern int	demo_devices(const DemoClient *c, uint32_t seed, DemoDate as_of, DemoDevice *out);

/* ---- Microsoft Secure Score controls ------------------------------------------ */

#define DEMO_SECURE_SCORE_CONTROLS 28

typedef struct DemoSecureScore
{
	int32_t		n;				/* 1-based; external id SSC-<ord>-<n, 2 digits> */
	const char *title;
	const char *category;		/* Identity, Apps, Data, Device */
	int32_t		max_score;
	int32_t		score;
	const char *status;			/* pass (full score), fail (none), unknown (partial) */
} DemoSecureScore;

/* Fills out[0 .. DEMO_SECURE_SCORE_CONTROLS - 1]; returns the count. */
extern int	demo_secure_score(const DemoClient *c, uint32_t seed, DemoSecureScore *out);

/* ---- tickets ----------------------------------------------------------------- */

typedef struct DemoTicket
{
	int64_t		number;			/* ticket number, the external id; rises with time */
	const char *summary;
	const char *category;
	const char *priority;		/* critical, high, medium, low */
	const char *status;			/* Closed, New, In Progress, Waiting on Client */
	int32_t		hours_cents;	/* hours spent x 100 */
	bool		sla_met;
	int32_t		reopen_count;
	int32_t		csat_score;		/* 1..5, 0 = no survey answer */
	bool		after_hours;
	DemoTime	created;
	bool		closed;			/* closed_at is valid */
	DemoTime	closed_at;
} DemoTicket;

/*
 * Fills out[0 .. n-1] with the client's tickets of the two years before
 * as_of, in order of creation (ticket numbers rise with time); n is the
 * profile's n_tickets (at most DEMO_MAX_TICKETS).  Returns n.
 */
extern int	demo_tickets(const DemoClient *c, uint32_t seed, DemoDate as_of, DemoTicket *out);

#endif							/* ETOP_DEMO_DATA_H */
