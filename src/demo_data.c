/*
 * demo_data.c — pure generation of etop's high-volume demo rows: users,
 * devices (with their Immy.Bot baseline result), Microsoft Secure Score
 * controls and tickets.
 *
 * No PostgreSQL headers: this file is also linked into the unit tests
 * (tests/unit/test_demo_data.c).  src/demo_data_sql.c turns the structs into
 * table rows.  See include/etop/demo_data.h for the contract.
 *
 * Every value comes from a DemoRng stream keyed by (seed, salt, key), where
 * the salt names what is generated and the key is built from the client's
 * ordinal and the row's ordinal, so rows never depend on each other's draws
 * (except where the text says so, e.g. e-mail addresses made unique within
 * a client).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etop/demo_data.h"

/* Salts: one per kind of stream.  Never renumber (it changes every row). */
enum
{
	SALT_PROFILE = 1,
	SALT_USER = 2,
	SALT_DEVICE = 3,
	SALT_SERIAL = 4,
	SALT_TICKET_TIME = 5,
	SALT_TICKET = 6,
	SALT_VENDOR = 7,
	SALT_SECURE_SCORE = 8
};

#define lengthof(a) ((int) (sizeof(a) / sizeof((a)[0])))

/* ---- pseudo-random numbers (the generator itself is in demo_data.h) ---------- */

/* Index into cumulative weights (the last one is the total). */
static int
pick_weighted(DemoRng *rng, const int *cumulative, int n)
{
	int			x = demo_below(rng, cumulative[n - 1]);
	int			i = 0;

	while (i < n - 1 && x >= cumulative[i])
		i++;
	return i;
}

/* ---- calendar --------------------------------------------------------------- */

int
demo_isodow(DemoDate d)
{
	/* 2000-01-01 was a Saturday (ISO 6) */
	int			m = (int) (((int64_t) d % 7 + 7) % 7);

	return (m + 5) % 7 + 1;
}

DemoDate
demo_date_of(DemoTime t)
{
	DemoTime	q = t / DEMO_USECS_PER_DAY;

	if (t < 0 && q * DEMO_USECS_PER_DAY != t)
		q--;
	return (DemoDate) q;
}

static inline DemoTime
at_midnight(DemoDate d)
{
	return (DemoTime) d * DEMO_USECS_PER_DAY;
}

/* ---- per-client profile ------------------------------------------------------- */

void
demo_profile(const DemoClient *c, uint32_t seed, DemoProfile *p)
{
	DemoRng		r = demo_rng(seed, SALT_PROFILE, (uint64_t) c->ord);
	double		per_user_year = 6.5 + 5.0 * demo_unit(&r);
	double		reopen_a = demo_unit(&r);
	int64_t		n;

	/* 6.5 to 11.5 tickets per user and year, over two years */
	n = (int64_t) (c->n_users * per_user_year * 2.0 + 0.5);
	if (n < 20)
		n = 20;
	if (n > DEMO_MAX_TICKETS)
		n = DEMO_MAX_TICKETS;
	p->n_tickets = (int32_t) n;
	p->sla_rate = 0.75 + 0.23 * demo_unit(&r);
	p->reopen_rate = 0.02 + 0.12 * reopen_a * demo_unit(&r);
	p->after_hours_rate = 0.05 + 0.15 * demo_unit(&r);
	p->trend = 0.7 + 0.6 * demo_unit(&r);
	p->mfa_rate = 0.55 + 0.45 * demo_unit(&r);
	p->managed_rate = 0.82 + 0.18 * demo_unit(&r);
	p->edr_rate = 0.85 + 0.15 * demo_unit(&r);
	p->patch_rate = 0.80 + 0.18 * demo_unit(&r);
	p->baseline_pass_rate = 0.78 + 0.20 * demo_unit(&r);
	p->secure_score_rate = 0.35 + 0.55 * demo_unit(&r);
}

/* ---- users ------------------------------------------------------------------ */

static const char *const first_names[] = {
	"Anna", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hassan", "Ines", "Jonas",
	"Keiko", "Liam", "Maria", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tomas",
	"Uma", "Victor", "Wendy", "Xavier", "Yusuf", "Zoe", "Aaron", "Beatriz", "Chen", "Diana",
	"Emil", "Fatima", "George", "Hannah", "Ivan", "Julia", "Kevin", "Laura", "Mateo", "Nina"
};

static const char *const last_names[] = {
	"Schmidt", "Johnson", "Garcia", "Nguyen", "Okafor", "Rossi", "Kowalski", "Brown", "Tanaka",
	"Mueller", "Dubois", "Patel", "Lee", "Silva", "Jansen", "Andersen", "Becker", "Cohen",
	"Davies", "Evans", "Fischer", "Gonzalez", "Hoffmann", "Ivanova", "Jones", "Kim", "Larsen",
	"Martin", "Novak", "OBrien", "Petrov", "Quinlan", "Ramirez", "Smith", "Taylor", "Walker",
	"Wagner", "Young", "Zimmermann", "Moreau"
};

/* Lower-case ASCII copy of a name for an e-mail address. */
static void
append_lower(char *dst, size_t size, const char *src)
{
	size_t		len = strlen(dst);

	for (; *src && len + 1 < size; src++)
	{
		char		ch = *src;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char) (ch - 'A' + 'a');
		dst[len++] = ch;
	}
	dst[len] = '\0';
}

int
demo_users(const DemoClient *c, uint32_t seed, DemoDate as_of, DemoUser *out)
{
	DemoProfile p;
	unsigned char used[lengthof(first_names)][lengthof(last_names)];
	DemoTime	now = at_midnight(as_of);
	int			n = c->n_users;

	if (n < 1)
		return 0;
	if (n > DEMO_MAX_USERS)
		n = DEMO_MAX_USERS;
	demo_profile(c, seed, &p);
	memset(used, 0, sizeof(used));

	for (int u = 1; u <= n; u++)
	{
		DemoUser   *o = &out[u - 1];
		DemoRng		r = demo_rng(seed, SALT_USER, (uint64_t) c->ord * 1000 + (uint64_t) u);
		int			fn = demo_below(&r, lengthof(first_names));
		int			ln = demo_below(&r, lengthof(last_names));
		double		risk = demo_unit(&r);
		bool		stale;
		const char *mailbox = NULL;

		o->ordinal = u;
		o->account_enabled = demo_unit(&r) > 0.04;
		o->mfa_enabled = demo_unit(&r) < p.mfa_rate;
		o->risk_level = risk < 0.02 ? "high" : risk < 0.05 ? "medium" : risk < 0.12 ? "low" : "none";
		stale = !o->account_enabled || demo_unit(&r) < 0.06;
		o->last_sign_in = now - (DemoTime) (demo_unit(&r) * (stale ? 4000 : 300) * 60) * DEMO_USECS_PER_MINUTE;

		/* Most tenants also have a scanner account and a shared reception login, without MFA. */
		if (u == n && n >= 10)
		{
			snprintf(o->display_name, sizeof(o->display_name), "Scan to Email");
			mailbox = "scanner";
			o->mfa_enabled = false;
			o->risk_level = "none";
		}
		else if (u == n - 1 && n >= 25)
		{
			snprintf(o->display_name, sizeof(o->display_name), "Reception");
			mailbox = "reception";
			o->mfa_enabled = o->mfa_enabled && demo_unit(&r) < 0.5;
		}

		o->email[0] = '\0';
		if (mailbox)
			append_lower(o->email, sizeof(o->email), mailbox);
		else
		{
			snprintf(o->display_name, sizeof(o->display_name), "%s %s",
					 first_names[fn], last_names[ln]);
			append_lower(o->email, sizeof(o->email), first_names[fn]);
			append_lower(o->email, sizeof(o->email), ".");
			append_lower(o->email, sizeof(o->email), last_names[ln]);
			/* a second Anna Schmidt in the same company gets anna.schmidt2@ */
			if (used[fn][ln] < 255)
				used[fn][ln]++;
			if (used[fn][ln] > 1)
			{
				char		num[8];

				snprintf(num, sizeof(num), "%d", used[fn][ln]);
				append_lower(o->email, sizeof(o->email), num);
			}
		}
		append_lower(o->email, sizeof(o->email), "@");
		append_lower(o->email, sizeof(o->email), c->domain ? c->domain : "example.com");
	}
	return n;
}

/* ---- devices ------------------------------------------------------------------ */

static const char *const departments[] = {"ACCT", "SALES", "OPS", "HR", "EXEC", "ENG", "FRONT"};

/* Endpoint vendors: an MSP standardises each client on one, with strays. */
typedef struct EndpointVendor
{
	const char *name;
	const char *laptop;
	const char *desktop;
	const char *serial_prefix;
	int			serial_len;		/* characters after the prefix */
} EndpointVendor;

static const EndpointVendor vendors[] = {
	{"Dell", "Latitude 5440", "OptiPlex 7090", "", 7},
	{"Lenovo", "ThinkPad T14 Gen 3", "ThinkCentre M70q", "PF", 6},
	{"HP", "EliteBook 840 G8", "EliteDesk 800 G6", "5CG", 7},
	{"Apple", "MacBook Pro 14", "iMac 24", "C02", 9}
};

/* How often each vendor is a client's standard, cumulative (as in vendors[]). */
static const int vendor_cum[] = {40, 70, 95, 100};

static const char serial_alnum[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
static const char serial_digits[] = "0123456789";
static const char serial_hex[] = "0123456789ABCDEF";

/* prefix + len characters drawn from chars */
static void
make_serial(char *dst, size_t size, const char *prefix, int len, const char *chars, DemoRng *r)
{
	size_t		pos = strlen(prefix);
	int			nchars = (int) strlen(chars);

	if (pos + (size_t) len + 1 > size)
		len = (int) (size - pos - 1);
	memcpy(dst, prefix, pos);
	for (int i = 0; i < len; i++)
		dst[pos++] = chars[demo_below(r, nchars)];
	dst[pos] = '\0';
}

int
demo_devices(const DemoClient *c, uint32_t seed, DemoDate as_of, DemoDevice *out)
{
	DemoProfile p;
	DemoTime	now = at_midnight(as_of);
	DemoRng		vr = demo_rng(seed, SALT_VENDOR, (uint64_t) c->ord);
	int			standard = pick_weighted(&vr, vendor_cum, lengthof(vendor_cum));
	int			n = c->n_devices;

	if (n < 1)
		return 0;
	if (n > DEMO_MAX_DEVICES)
		n = DEMO_MAX_DEVICES;
	demo_profile(c, seed, &p);

	for (int d = 1; d <= n; d++)
	{
		DemoDevice *o = &out[d - 1];
		DemoRng		r = demo_rng(seed, SALT_DEVICE, (uint64_t) c->ord * 1000 + (uint64_t) d);
		DemoRng		sr = demo_rng(seed, SALT_SERIAL, (uint64_t) c->ord * 1000 + (uint64_t) d);
		int			age_days = (int) (demo_unit(&r) * 7 * 365);
		double		health = demo_unit(&r);
		double		kind = demo_unit(&r);
		double		osr = demo_unit(&r);

		o->ordinal = d;
		o->purchase_date = as_of - age_days;

		if (d <= 3)
		{
			static const char *const names[] = {"FW-MAIN-01", "SW-CORE-01", "AP-OFFICE-01"};
			static const char *const mfrs[] = {"Fortinet", "Cisco", "Ubiquiti"};
			static const char *const models[] = {"FortiGate 60F", "Catalyst 9200L", "U6-Pro"};
			static const char *const fortios[] = {"FortiOS 7.4", "FortiOS 7.2", "FortiOS 7.0", "FortiOS 6.4"};
			static const char *const iosxe[] = {"Cisco IOS-XE 17.12", "Cisco IOS-XE 17.9", "Cisco IOS-XE 17.6"};
			static const char *const unifi[] = {"UniFi OS 3.2", "UniFi OS 3.1", "UniFi OS 2.5"};

			snprintf(o->name, sizeof(o->name), "%s", names[d - 1]);
			o->type = "network";
			o->manufacturer = mfrs[d - 1];
			o->model = models[d - 1];
			/* older firmware on older boxes */
			if (d == 1)
				o->os = fortios[age_days > 4 * 365 ? 2 + (osr < 0.5) : (osr < 0.6 ? 0 : 1)];
			else if (d == 2)
				o->os = iosxe[age_days > 4 * 365 ? 2 : (osr < 0.5 ? 0 : 1)];
			else
				o->os = unifi[age_days > 4 * 365 ? 1 + (osr < 0.5) : 0];
			if (d == 1)
				make_serial(o->serial_number, sizeof(o->serial_number), "FGT60F", 10, serial_digits, &sr);
			else if (d == 2)
				make_serial(o->serial_number, sizeof(o->serial_number), "FOC", 8, serial_alnum, &sr);
			else
				make_serial(o->serial_number, sizeof(o->serial_number), "F4E2C6", 6, serial_hex, &sr);
		}
		else if (d <= 6)
		{
			static const char *const names[] = {"SRV-DC-01", "SRV-FILE-01", "SRV-APP-01"};
			static const char *const models[] = {"PowerEdge R740", "PowerEdge R650", "PowerEdge T440"};

			snprintf(o->name, sizeof(o->name), "%s", names[d - 4]);
			o->type = "server";
			o->manufacturer = "Dell";
			o->model = models[demo_below(&r, lengthof(models))];
			o->os = age_days > 5 * 365 ? "Windows Server 2016"
				: age_days > 3 * 365 ? (osr < 0.7 ? "Windows Server 2019" : "Windows Server 2016")
				: (osr < 0.75 ? "Windows Server 2022" : "Windows Server 2019");
			make_serial(o->serial_number, sizeof(o->serial_number), "", 7, serial_alnum, &sr);
		}
		else
		{
			bool		laptop = kind < 0.45;
			const EndpointVendor *v = &vendors[demo_unit(&r) < 0.75 ? standard
											   : pick_weighted(&r, vendor_cum, lengthof(vendor_cum))];

			snprintf(o->name, sizeof(o->name), "%s-%s-%02d", laptop ? "LT" : "WS",
					 departments[(d - 7) % lengthof(departments)],
					 (d - 7) / lengthof(departments) + 1);
			o->type = "endpoint";
			o->manufacturer = v->name;
			o->model = laptop ? v->laptop : v->desktop;
			if (strcmp(v->name, "Apple") == 0)
				o->os = osr < 0.7 ? "macOS 14 Sonoma" : "macOS 13 Ventura";
			else if (age_days > 4 * 365)
				o->os = osr < 0.65 ? "Windows 10 Pro 22H2" : "Windows 11 Pro 22H2";
			else
				o->os = osr < 0.6 ? "Windows 11 Pro 23H2" : osr < 0.9 ? "Windows 11 Pro 22H2" : "Windows 10 Pro 22H2";
			make_serial(o->serial_number, sizeof(o->serial_number), v->serial_prefix,
						v->serial_len, serial_alnum, &sr);
		}

		o->warranty_expires = o->purchase_date + (strcmp(o->type, "endpoint") == 0 ? 3 : 5) * 365;
		o->managed = demo_unit(&r) < p.managed_rate;
		/* older hardware is more often unwell */
		health -= age_days > 5 * 365 ? 0.08 : 0.0;
		o->health_status = health < 0.03 ? "critical" : health < 0.20 ? "warning" : "healthy";
		o->last_seen = now - (DemoTime) (demo_unit(&r) * 96 * 60) * DEMO_USECS_PER_MINUTE
			- (o->managed ? 0 : (DemoTime) demo_below(&r, 30) * DEMO_USECS_PER_DAY);

		o->has_last_patched = o->managed;
		{
			double		pr = demo_unit(&r);
			double		pd = demo_unit(&r);
			int			days = pr < p.patch_rate ? 1 + (int) (pd * 29) : 31 + (int) (pd * 90);

			/* patches install at night, between 02:00 and 04:00 */
			o->last_patched_at = at_midnight(as_of - days) + 2 * DEMO_USECS_PER_HOUR
				+ (DemoTime) demo_below(&r, 120) * DEMO_USECS_PER_MINUTE;
			if (!o->managed)
				o->last_patched_at = 0;
		}
		/* EDR only on Windows and macOS machines under management */
		o->edr_installed = o->managed && strcmp(o->type, "network") != 0 && demo_unit(&r) < p.edr_rate;
		o->edr_healthy = o->edr_installed && demo_unit(&r) < 0.95;

		if (o->managed)
		{
			double		b = demo_unit(&r);

			o->baseline_title = strcmp(o->type, "server") == 0 ? "Server Baseline"
				: strcmp(o->type, "network") == 0 ? "Network Baseline" : "Workstation Baseline";
			o->baseline_status = b < p.baseline_pass_rate ? "pass" : b < 0.985 ? "fail" : "unknown";
			o->baseline_drift_items = strcmp(o->baseline_status, "fail") == 0 ? 1 + demo_below(&r, 6) : 0;
			o->baseline_checked = now - (DemoTime) (demo_unit(&r) * 20 * 60) * DEMO_USECS_PER_MINUTE;
		}
		else
		{
			o->baseline_title = NULL;
			o->baseline_status = NULL;
			o->baseline_drift_items = 0;
			o->baseline_checked = 0;
		}
	}
	return n;
}

/* ---- Microsoft Secure Score ------------------------------------------------------ */

static const struct
{
	const char *title;
	int			max;
	const char *category;
}			secure_score_profiles[DEMO_SECURE_SCORE_CONTROLS] = {
	{"MFA Enforcement", 10, "Identity"}, {"Block Legacy Authentication", 8, "Identity"},
	{"Admin MFA Required", 10, "Identity"}, {"Self-Service Password Reset", 1, "Identity"},
	{"Sign-in Risk Policy", 7, "Identity"}, {"User Risk Policy", 7, "Identity"},
	{"Limited Global Admins", 1, "Identity"}, {"Password Expiration Disabled", 8, "Identity"},
	{"Safe Links for Office", 9, "Apps"}, {"Safe Attachments", 8, "Apps"},
	{"Anti-Phishing Policy", 9, "Apps"}, {"DKIM Signing", 1, "Apps"},
	{"DMARC Policy", 1, "Apps"}, {"External Email Tagging", 1, "Apps"},
	{"Mailbox Auditing", 1, "Apps"}, {"Customer Lockbox", 1, "Data"},
	{"Data Loss Prevention", 3, "Data"}, {"Sensitivity Labels", 3, "Data"},
	{"OneDrive Sync Restriction", 2, "Data"}, {"External Sharing Limits", 3, "Data"},
	{"Defender for Endpoint Onboarding", 10, "Device"}, {"Attack Surface Reduction Rules", 9, "Device"},
	{"BitLocker Encryption", 5, "Device"}, {"Windows Firewall Enabled", 4, "Device"},
	{"Tamper Protection", 5, "Device"}, {"Audit Log Search", 3, "Apps"},
	{"Guest Access Review", 2, "Identity"}, {"Privileged Identity Management", 3, "Identity"}
};

int
demo_secure_score(const DemoClient *c, uint32_t seed, DemoSecureScore *out)
{
	DemoProfile p;

	demo_profile(c, seed, &p);
	for (int i = 0; i < DEMO_SECURE_SCORE_CONTROLS; i++)
	{
		DemoSecureScore *o = &out[i];
		DemoRng		r = demo_rng(seed, SALT_SECURE_SCORE, (uint64_t) c->ord * 100 + (uint64_t) i + 1);
		int			max = secure_score_profiles[i].max;
		double		done = demo_unit(&r);
		double		none = demo_unit(&r);

		o->n = i + 1;
		o->title = secure_score_profiles[i].title;
		o->category = secure_score_profiles[i].category;
		o->max_score = max;
		/* implemented fully, not at all, or part of the way */
		o->score = done < p.secure_score_rate ? max : none < 0.5 ? 0 : (int) (max * demo_unit(&r));
		o->status = o->score >= max ? "pass" : o->score == 0 ? "fail" : "unknown";
	}
	return DEMO_SECURE_SCORE_CONTROLS;
}

/* ---- tickets ------------------------------------------------------------------ */

typedef struct TicketCategory
{
	const char *name;
	int			priority[4];	/* cumulative % critical, high, medium, low */
	int			hours_min;		/* hours x 100 */
	int			hours_span;
	const char *summaries[4];
} TicketCategory;

static const TicketCategory categories[] = {
	{"Password Reset", {0, 10, 60, 100}, 25, 75,
	 {"Locked out after password expiry", "Password reset requested", "MFA prompt not arriving on new phone",
	  "Account locked after failed sign-ins"}},
	{"Email / Outlook", {2, 20, 75, 100}, 25, 175,
	 {"Outlook keeps asking for password", "Shared mailbox not showing in Outlook", "Emails stuck in outbox",
	  "Calendar sharing for assistant"}},
	{"Printer", {0, 10, 60, 100}, 25, 175,
	 {"Printer offline on second floor", "Scan to email not working", "Print jobs stuck in queue",
	  "Install driver for new printer"}},
	{"VPN / Remote Access", {3, 30, 80, 100}, 50, 250,
	 {"VPN disconnects every few minutes", "Cannot reach file share from home", "Remote desktop connection fails",
	  "VPN profile for new contractor"}},
	{"Hardware Failure", {5, 30, 80, 100}, 50, 550,
	 {"Laptop will not power on", "Monitor flickering", "Docking station not detecting screens",
	  "Disk health warning on workstation"}},
	{"Software Install", {0, 5, 50, 100}, 25, 175,
	 {"Install Adobe Acrobat Pro", "Update line-of-business client", "Teams add-in missing",
	  "Request for Visio licence"}},
	{"Network Outage", {30, 75, 95, 100}, 100, 500,
	 {"Internet down at main office", "Wi-Fi drops in conference room", "Slow network at branch office",
	  "Switch port not working"}},
	{"New User Setup", {0, 20, 80, 100}, 100, 300,
	 {"New starter Monday: account and laptop", "New hire needs mailbox and Teams",
	  "Set up workstation for new employee", "Onboard seasonal staff"}},
	{"User Offboarding", {0, 20, 80, 100}, 50, 150,
	 {"Leaver: disable account and forward mail", "Offboard departing employee", "Collect laptop from leaver",
	  "Convert leaver mailbox to shared"}},
	{"Phishing Report", {15, 55, 90, 100}, 25, 275,
	 {"Suspicious invoice email reported", "User clicked phishing link", "Spoofed CEO email received",
	  "Fake Microsoft sign-in page reported"}},
	{"Backup Failure", {10, 50, 90, 100}, 50, 350,
	 {"Nightly backup job failed", "Backup storage nearly full", "Restore deleted project folder",
	  "Cloud backup agent offline"}},
	{"Line-of-Business App", {5, 30, 80, 100}, 50, 350,
	 {"Accounting software slow", "Practice management app error on login", "CRM cannot connect to database",
	  "Report broken after app update"}}
};

/* How often each category comes up, cumulative out of 100 (in the order above). */
static const int category_cum[] = {15, 29, 37, 44, 51, 63, 67, 74, 79, 87, 90, 100};

_Static_assert(lengthof(category_cum) == lengthof(categories), "one weight per ticket category");

static const char *const priorities[] = {"critical", "high", "medium", "low"};

/* Minutes to resolve, by priority: shortest and longest. */
static const int resolve_min[] = {30, 60, 120, 240};
static const int resolve_max[] = {480, 1440, 4320, 8640};

/*
 * Ticket creation times are sorted by counting them into days and sorting
 * each day's few by insertion: a key is (microseconds since the first day,
 * stream number), so equal times keep a fixed order.
 */
#define TICKET_DAYS		733		/* 730 days of history, with room for the night after */
#define TICKET_DRAW_BITS 13

_Static_assert(DEMO_MAX_TICKETS < (1 << TICKET_DRAW_BITS), "stream numbers fit in a key");

static void
sort_ticket_keys(uint64_t *keys, int n)
{
	static const uint64_t day_keys = (uint64_t) DEMO_USECS_PER_DAY << TICKET_DRAW_BITS;
	int			start[TICKET_DAYS + 1];
	uint64_t	tmp[DEMO_MAX_TICKETS];

	memset(start, 0, sizeof(start));
	for (int i = 0; i < n; i++)
		start[keys[i] / day_keys + 1]++;
	for (int d = 0; d < TICKET_DAYS; d++)
		start[d + 1] += start[d];
	for (int i = 0; i < n; i++)
		tmp[start[keys[i] / day_keys]++] = keys[i];
	/* start[d] is now the end of day d; each day's keys are few */
	for (int i = 1; i < n; i++)
	{
		uint64_t	k = tmp[i];
		int			j = i;

		while (j > 0 && tmp[j - 1] > k)
		{
			tmp[j] = tmp[j - 1];
			j--;
		}
		tmp[j] = k;
	}
	memcpy(keys, tmp, sizeof(uint64_t) * n);
}

int
demo_tickets(const DemoClient *c, uint32_t seed, DemoDate as_of, DemoTicket *out)
{
	DemoProfile p;
	uint64_t	keys[DEMO_MAX_TICKETS];
	DemoDate	first = as_of - 730;	/* two years of history */
	DemoTime	snapshot = at_midnight(as_of) + 8 * DEMO_USECS_PER_HOUR;
	int			n;

	demo_profile(c, seed, &p);
	n = p.n_tickets;

	/*
	 * When: a day in the two years before as_of (a trend above 1 puts more
	 * tickets in recent quarters), on a weekday between 08:00 and 18:00, or,
	 * for the client's after-hours share, in the evening or night (18:30 to
	 * 02:30, weekends included).
	 */
	for (int i = 0; i < n; i++)
	{
		DemoRng		r = demo_rng(seed, SALT_TICKET_TIME, (uint64_t) c->ord * 100000 + (uint64_t) i);
		DemoDate	day = first + (int) (730.0 * pow(demo_unit(&r), 1.0 / p.trend));
		bool		late = demo_unit(&r) < p.after_hours_rate;
		int			minute;

		if (late)
			minute = 1110 + demo_below(&r, 480);
		else
		{
			int			dow = demo_isodow(day);

			/* a weekend day stands for any weekday of its week (within range) */
			if (dow >= 6)
			{
				day = day - (dow - 1) + demo_below(&r, 5);
				if (day < first)
					day += 7;
				else if (day >= as_of)
					day -= 7;
			}
			minute = 480 + demo_below(&r, 600);
		}
		keys[i] = (uint64_t) ((DemoTime) (day - first) * DEMO_USECS_PER_DAY
							  + (DemoTime) minute * DEMO_USECS_PER_MINUTE
							  + (DemoTime) demo_below(&r, 60) * 1000000) << TICKET_DRAW_BITS | (uint64_t) i;
	}
	sort_ticket_keys(keys, n);

	for (int t = 0; t < n; t++)
	{
		DemoTicket *o = &out[t];
		DemoRng		r = demo_rng(seed, SALT_TICKET, (uint64_t) c->ord * 100000 + (uint64_t) t);
		const TicketCategory *cat = &categories[pick_weighted(&r, category_cum, lengthof(categories))];
		int			prio = pick_weighted(&r, cat->priority, 4);
		double		effort = demo_unit(&r);
		double		speed = demo_unit(&r);
		int			quarters;
		DemoTime	resolve;
		bool		waiting;
		int			dow;
		int			hour;

		o->number = 100000 + (int64_t) c->ord * 5000 + t + 1;
		o->category = cat->name;
		o->summary = cat->summaries[demo_below(&r, 4)];
		o->priority = priorities[prio];

		/* time is billed in quarter hours */
		quarters = (int) ((cat->hours_min + effort * effort * cat->hours_span + 24) / 25);
		o->hours_cents = quarters * 25;

		o->created = at_midnight(first) + (DemoTime) (keys[t] >> TICKET_DRAW_BITS);
		dow = demo_isodow(demo_date_of(o->created));
		hour = (int) ((o->created - at_midnight(demo_date_of(o->created))) / DEMO_USECS_PER_HOUR);
		o->after_hours = dow >= 6 || hour < 8 || hour >= 18;

		o->sla_met = demo_unit(&r) < p.sla_rate * (prio == 0 ? 0.92 : 1.0);
		o->reopen_count = demo_unit(&r) < p.reopen_rate ? 1 + (demo_unit(&r) < 0.3) : 0;

		/*
		 * Open when it would not have been resolved by the morning of as_of.
		 * A few wait on the client or a vendor for one to four weeks.
		 */
		waiting = demo_unit(&r) < 0.04;
		resolve = waiting
			? (DemoTime) (7 + speed * 21) * DEMO_USECS_PER_DAY
			: (DemoTime) (resolve_min[prio] + speed * speed * (resolve_max[prio] - resolve_min[prio]))
			* DEMO_USECS_PER_MINUTE;
		o->closed = o->created + resolve <= snapshot;
		o->closed_at = o->closed ? o->created + resolve : 0;
		if (o->closed)
			o->status = "Closed";
		else
		{
			double		s = demo_unit(&r);

			o->status = waiting ? "Waiting on Client" : s < 0.3 ? "New" : "In Progress";
		}

		/* about 30% answer the survey sent when a ticket closes */
		o->csat_score = 0;
		if (o->closed && demo_unit(&r) < 0.3)
		{
			double		s = demo_unit(&r);

			if (o->sla_met && o->reopen_count == 0)
				o->csat_score = s < 0.65 ? 5 : s < 0.93 ? 4 : 3;
			else
				o->csat_score = o->reopen_count > 1 ? 1 + (int) (s * 3) : 2 + (int) (s * 3);
		}
	}
	return n;
}
