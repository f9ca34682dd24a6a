/*
 * sync.c — vendor syncs as background workers, and the helpers adapters use.
 *
 * etop.sync(connection, full) takes the next run id, starts a dynamic
 * background worker for it and returns at once; the worker records the run
 * in etop.sync_runs (so the run exists whatever the caller's transaction
 * does, as with pg_background), loads the adapter named in etop.adapters,
 * and lets it fetch pages into etop.sync_pages (one short transaction per
 * page, with progress).  Then, in ONE transaction, it runs the adapter's
 * normalization function and marks the run succeeded: a sync either commits
 * whole or leaves the normalized tables exactly as they were, and the run's
 * row says why (etop.sync_wait() returns the same object).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include <curl/curl.h>

#include "etop/adapter.h"
#include "etop/etop.h"
#include "etop/http_client.h"
#include "etop/json_util.h"
#include "etop/sync_registry.h"
#include "etop/sync_guard.h"

#include "common/hashfn.h"

/*
 * Paging limits (connection options max_pages, max_records): far above
 * what an MSP's vendors hold (50,000 tickets are 50 pages of 1000), low
 * enough that a vendor whose paging never ends fails the run instead of
 * filling etop.sync_pages.
 */
#define ETOP_SYNC_MAX_PAGES		100000L		/* per endpoint */
#define ETOP_SYNC_MAX_RECORDS	10000000L	/* per run */
/* JSON nested deeper than this is refused before parsing (vendors nest < 10) */
#define ETOP_SYNC_MAX_JSON_DEPTH 256

PGDLLEXPORT void etop_sync_worker_main(Datum main_arg);

/* What etop.sync() hands to the worker (bgw_extra). */
typedef struct SyncLaunch
{
	Oid			database;
	Oid			requested_by;
	int32		connection_id;
	bool		full;
	int			slot;			/* its slot in the sync registry (sync_registry.c) */
} SyncLaunch;

/* How a run ended, for the worker's last log line. */
typedef enum SyncOutcome
{
	SYNC_SUCCEEDED,
	SYNC_FAILED,
	SYNC_CANCELLED
} SyncOutcome;

#define SYNC_CANCELLED_ERROR "Sync cancelled"


struct EtopSyncContext
{
	int64		run_id;
	bool		full;
	char	   *connection;
	char	   *adapter;
	char	   *base_url;
	Jsonb	   *credentials;
	Jsonb	   *options;
	char	   *since;			/* ISO time of the last successful sync, or NULL */
	char	   *library;
	char	   *symbol;
	char	   *normalize;		/* regprocedure text, for messages */
	Oid			normalize_oid;	/* the normalization function */
	char	   *normalize_role; /* whose rights it runs with */
	char	   *vendor;			/* for messages: "ConnectWise" */
	char	   *required_scopes;	/* JSON array text, or NULL */
	char	   *error_json;		/* the error object of a failure, set before ereport */
	int			pages;
	int64		rows;
	int			skipped;		/* endpoints skipped (etop_sync_skip_endpoint) */
	MemoryContext cxt;
	MemoryContext page_cxt;		/* one page's parse and store; reset per page */
	Jsonb	   *page_records;	/* the last stored page's records, in page_cxt */
	etop_http_client *http;
	etop_paging_guard *guard;	/* pages, links and records seen (sync_guard.c) */
	int			slot;			/* this worker's slot in the sync registry */
};

/* ---------- small SPI helpers (each its own transaction) ---------- */

static void
begin_tx(const char *what)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
}

static void
end_tx(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

static void
exec_args(const char *sql, int n, Oid *types, Datum *values, int expect)
{
	int			rc = SPI_execute_with_args(sql, n, types, values, NULL, false, 0);

	if (rc != expect)
		elog(ERROR, "etop sync: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/* ---------- error objects ---------- */

/* Raise a sync error whose JSON object is stored on the run. */
static void sync_error(EtopSyncContext *ctx, const char *json, const char *message) pg_attribute_noreturn();

static void
sync_error(EtopSyncContext *ctx, const char *json, const char *message)
{
	MemoryContext old = MemoryContextSwitchTo(ctx->cxt);

	ctx->error_json = pstrdup(json);
	MemoryContextSwitchTo(old);
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("%s", message),
			 errdetail("Sync run " INT64_FORMAT " of connection \"%s\".", ctx->run_id, ctx->connection)));
}

static char *
json_str(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	escape_json(&b, s ? s : "");
	return b.data;
}

/*
 * s cut back to its last whole character, in place.  The HTTP client writes
 * the URL and its message into fixed-size buffers, which may end inside a
 * multibyte character of a vendor's link; the error object must stay valid
 * UTF-8 (it is stored as jsonb).
 */
static char *
whole_chars(char *s)
{
	int			len = (int) strlen(s);

	s[pg_mbcliplen(s, len, len)] = '\0';
	return s;
}

/* Map a failed HTTP exchange to the vendor error object. */
static void http_failure(EtopSyncContext *ctx, const etop_http_response *r, const char *url) pg_attribute_noreturn();

static void
http_failure(EtopSyncContext *ctx, const etop_http_response *r, const char *url)
{
	const char *v = ctx->vendor;
	char		where[512];
	char	   *details = whole_chars(pstrdup(r->message));
	char	   *msg,
			   *json;

	etop_http_sanitize_url(url, where, sizeof(where));
	whole_chars(where);
	if (r->error == ETOP_HTTP_4XX && r->status == 401)
	{
		msg = psprintf("%s authentication failed", v);
		json = psprintf("{\"error\": %s, \"details\": \"Invalid API credentials\", \"http_status\": 401}",
						json_str(msg));
	}
	else if (r->error == ETOP_HTTP_4XX && r->status == 403)
	{
		msg = psprintf("%s permission denied", v);
		json = psprintf("{\"error\": %s, \"http_status\": 403, \"url\": %s%s%s%s}", json_str(msg),
						json_str(where),
						ctx->required_scopes ? ", \"required_scopes\": " : "",
						ctx->required_scopes ? ctx->required_scopes : "",
						ctx->required_scopes
						? psprintf(", \"details\": %s",
								   json_str(psprintf("%s needs the application permission(s) %s, granted with admin consent",
													 where, ctx->required_scopes)))
						: "");
		msg = psprintf("%s permission denied for %s%s%s", v, where,
					   ctx->required_scopes ? ": needs " : "",
					   ctx->required_scopes ? ctx->required_scopes : "");
	}
	else if (r->error == ETOP_HTTP_4XX && r->status == 429)
	{
		msg = psprintf("%s rate limit exceeded", v);
		json = psprintf("{\"error\": %s, \"retry_after\": %ld, \"attempts\": %d, \"http_status\": 429}",
						json_str(msg), r->retry_after_s >= 0 ? r->retry_after_s : 60, r->attempts);
	}
	else if (r->error == ETOP_HTTP_4XX)
	{
		msg = psprintf("%s rejected the request (HTTP %ld)", v, r->status);
		json = psprintf("{\"error\": %s, \"http_status\": %ld, \"url\": %s}", json_str(msg), r->status,
						json_str(where));
	}
	else if (r->error == ETOP_HTTP_5XX)
	{
		msg = psprintf("%s API unavailable (HTTP %ld)", v, r->status);
		json = psprintf("{\"error\": %s, \"http_status\": %ld, \"attempts\": %d, \"url\": %s}",
						json_str(msg), r->status, r->attempts, json_str(where));
	}
	else if (r->error == ETOP_HTTP_TIMEOUT)
	{
		msg = psprintf("%s API timeout", v);
		json = psprintf("{\"error\": %s, \"attempts\": %d, \"url\": %s}", json_str(msg), r->attempts,
						json_str(where));
	}
	else if (r->error == ETOP_HTTP_TOO_LARGE)
	{
		msg = psprintf("%s response too large", v);
		json = psprintf("{\"error\": %s, \"url\": %s, \"details\": %s}", json_str(msg),
						json_str(where), json_str(details));
	}
	else if (r->error == ETOP_HTTP_ABORTED)
	{
		msg = psprintf("%s sync cancelled", v);
		json = psprintf("{\"error\": %s}", json_str(msg));
	}
	else if (r->error == ETOP_HTTP_TRANSPORT)
	{
		msg = psprintf("%s connection dropped", v);
		json = psprintf("{\"error\": %s, \"attempts\": %d, \"url\": %s, \"details\": %s}", json_str(msg),
						r->attempts, json_str(where), json_str(details));
	}
	else
	{
		msg = psprintf("%s API unreachable", v);
		json = psprintf("{\"error\": %s, \"url\": %s, \"details\": %s}", json_str(msg),
						json_str(where), json_str(details));
	}
	sync_error(ctx, json, msg);
}

/* ---------- cancel ---------- */

/*
 * The HTTP client's abort callback: SIGTERM, a query cancel, or
 * etop.sync_cancel() (a flag in the run's registry slot, set with the
 * worker's latch) stop a transfer within one poll slice (50 ms).
 */
static bool
sync_abort(void *arg)
{
	EtopSyncContext *ctx = arg;

	return ProcDiePending || QueryCancelPending || etop_sync_cancel_requested(ctx->slot);
}

/* Retry waits: a latch wait that etop.sync_cancel()'s SetLatch ends at once. */
static bool
sync_sleep(void *arg, long ms)
{
	return etop_latch_sleep_unless(ms, sync_abort, arg);
}

static void raise_cancelled(EtopSyncContext *ctx) pg_attribute_noreturn();

static void
raise_cancelled(EtopSyncContext *ctx)
{
	sync_error(ctx, "{\"error\": \"" SYNC_CANCELLED_ERROR "\", \"details\": \"cancelled by etop.sync_cancel()\"}",
			   "sync cancelled by etop.sync_cancel()");
}

/* ---------- the adapter API ---------- */

static const char *
jsonb_text(Jsonb *j, const char *key)
{
	return j ? etop_jsonb_text(&j->root, key) : NULL;
}

const char *
etop_sync_base_url(EtopSyncContext *ctx)
{
	return ctx->base_url;
}

const char *
etop_sync_credential(EtopSyncContext *ctx, const char *key)
{
	return jsonb_text(ctx->credentials, key);
}

const char *
etop_sync_option(EtopSyncContext *ctx, const char *key)
{
	return jsonb_text(ctx->options, key);
}

bool
etop_sync_full(EtopSyncContext *ctx)
{
	return ctx->full;
}

const char *
etop_sync_since(EtopSyncContext *ctx)
{
	return ctx->full ? NULL : ctx->since;
}

int64
etop_sync_run_id(EtopSyncContext *ctx)
{
	return ctx->run_id;
}

void
etop_sync_set_vendor(EtopSyncContext *ctx, const char *vendor, const char *required_scopes_json)
{
	ctx->vendor = MemoryContextStrdup(ctx->cxt, vendor);
	ctx->required_scopes = required_scopes_json ? MemoryContextStrdup(ctx->cxt, required_scopes_json) : NULL;
}

char *
etop_sync_urlencode(const char *s)
{
	char	   *e = curl_easy_escape(NULL, s, 0);
	char	   *r = pstrdup(e ? e : "");

	curl_free(e);
	return r;
}

/*
 * A whole-number option of 0 or more (0: the HTTP client's default), or dflt
 * when absent.  Anything else is refused: strtol() alone read "soon" as 0 and
 * "1e6" as 1, and a negative max_response_bytes, cast to size_t, lifted the
 * limit altogether.
 */
static long
option_long(EtopSyncContext *ctx, const char *key, long dflt)
{
	const char *v = etop_sync_option(ctx, key);
	char	   *end;
	long		n;

	if (v == NULL)
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("connection option \"%s\" must be a whole number of 0 or more", key),
				 errdetail("Connection \"%s\" has \"%s\".", ctx->connection, v),
				 errhint("Correct it in etop.connections.options.")));
	return n;
}

/* The length of the scheme://host[:port] that begins the connection's base URL. */
static int
origin_len(EtopSyncContext *ctx)
{
	const char *base = ctx->base_url;
	const char *host = strstr(base, "://");

	return host ? (int) (strcspn(host + 3, "/?#") + (host + 3 - base)) : (int) strlen(base);
}

/* Whether url is on the same scheme://host[:port] as the connection's base URL. */
static bool
same_origin(EtopSyncContext *ctx, const char *url)
{
	int			len = origin_len(ctx);

	return pg_strncasecmp(url, ctx->base_url, len) == 0 && strchr("/?#", url[len]) != NULL;
}

/* etop_sync_http(); with refusal_out, a 403 returns NULL and its body there */
static char *
sync_http(EtopSyncContext *ctx, const EtopSyncRequest *sreq, char **link_out, char **refusal_out)
{
	etop_http_request req;
	etop_http_response resp;
	etop_http_allocator alloc = {etop_context_alloc, etop_context_free, CurrentMemoryContext};
	const char *ca = etop_sync_option(ctx, "ca_file");
	char	   *body;

	CHECK_FOR_INTERRUPTS();
	/*
	 * Credentials go to the vendor's own host only: a next-page link in a
	 * reply ("@odata.nextLink") could name any host.
	 */
	if ((sreq->bearer_token || sreq->basic_user) && !same_origin(ctx, sreq->url))
		sync_error(ctx, psprintf("{\"error\": %s, \"details\": \"credentials are sent only to the host of the connection base URL\"}",
								 json_str(psprintf("%s sent a link to another host", ctx->vendor))),
				   psprintf("%s sent a link to another host", ctx->vendor));
	etop_http_request_init(&req);
	req.method = sreq->method ? sreq->method : "GET";
	req.url = sreq->url;
	req.headers = sreq->headers;
	req.body = sreq->body;
	req.body_len = sreq->body ? strlen(sreq->body) : 0;
	req.basic_user = sreq->basic_user;
	req.basic_password = sreq->basic_password;
	req.bearer_token = sreq->bearer_token;
	req.connect_timeout_ms = option_long(ctx, "connect_timeout_ms", 10000);
	req.timeout_ms = option_long(ctx, "timeout_ms", 60000);
	req.max_attempts = (int) Min(option_long(ctx, "max_attempts", 4), INT_MAX);
	req.retry_base_ms = option_long(ctx, "retry_base_ms", 1000);
	req.retry_after_max_ms = option_long(ctx, "retry_after_max_ms", 120000);
	req.max_response_bytes = (size_t) option_long(ctx, "max_response_bytes", 64L * 1024 * 1024);
	req.ca_file = ca;
	req.allocator = &alloc;
	req.abort_cb = sync_abort;
	req.sleep_cb = sync_sleep;
	req.cb_arg = ctx;

	etop_http_perform(ctx->http, &req, &resp);
	CHECK_FOR_INTERRUPTS();		/* SIGTERM during the request: stop here */
	if (resp.error == ETOP_HTTP_ABORTED && etop_sync_cancel_requested(ctx->slot))
	{
		etop_http_response_free(&resp);
		raise_cancelled(ctx);
	}
	if (resp.error == ETOP_HTTP_4XX && resp.status == 403 && refusal_out)
	{
		/* the vendor's words (error code) decide what the adapter does */
		*refusal_out = resp.body ? resp.body : pstrdup("");
		if (link_out)
			*link_out = NULL;
		if (resp.link)
			pfree(resp.link);
		return NULL;
	}
	if (resp.error != ETOP_HTTP_OK)
	{
		etop_http_response_free(&resp);	/* body and link; the rest says what failed */
		http_failure(ctx, &resp, sreq->url);
	}
	/* the body (and link) were allocated in this context: hand them over */
	body = resp.body ? resp.body : pstrdup("");
	if (link_out)
		*link_out = resp.link;
	else if (resp.link)
		pfree(resp.link);
	return body;
}

char *
etop_sync_http(EtopSyncContext *ctx, const EtopSyncRequest *sreq, char **link_out)
{
	return sync_http(ctx, sreq, link_out, NULL);
}

char *
etop_sync_http_refusable(EtopSyncContext *ctx, const EtopSyncRequest *sreq, char **link_out,
						 char **refusal_out)
{
	Assert(refusal_out != NULL);
	*refusal_out = NULL;
	return sync_http(ctx, sreq, link_out, refusal_out);
}

void
etop_sync_refused(EtopSyncContext *ctx, const char *url)
{
	etop_http_response r;

	memset(&r, 0, sizeof(r));
	r.error = ETOP_HTTP_4XX;
	r.status = 403;
	r.attempts = 1;
	http_failure(ctx, &r, url);
}

void
etop_sync_skip_endpoint(EtopSyncContext *ctx, const char *endpoint, const char *property,
						const char *reason, const char *needs, const char *vendor_code)
{
	Oid			types[3] = {INT8OID, INT4OID, TEXTOID};
	Datum		values[3];
	bool		licence = reason && strcmp(reason, "licence") == 0;
	const char *what = property ? psprintf("%s (property %s)", endpoint, property) : endpoint;
	char	   *rec;

	CHECK_FOR_INTERRUPTS();
	if (!licence && (reason == NULL || strcmp(reason, "permission") != 0))
		elog(ERROR, "etop_sync_skip_endpoint: reason must be \"licence\" or \"permission\", not \"%s\"",
			 reason ? reason : "(null)");
	rec = psprintf("[{\"endpoint\": %s, \"property\": %s, \"reason\": %s, \"needs\": %s, "
				   "\"status\": 403, \"code\": %s}]",
				   json_str(endpoint), property ? json_str(property) : "null", json_str(reason),
				   json_str(needs ? needs : ""), vendor_code ? json_str(vendor_code) : "null");
	ereport(WARNING,
			(errmsg("%s: skipped %s: %s %s", ctx->vendor, what,
					licence ? "the tenant has no" : "the app lacks the permission",
					licence ? psprintf("%s licence", needs ? needs : "required") : (needs ? needs : "")),
			 errdetail("Sync run " INT64_FORMAT " of connection \"%s\" got HTTP 403%s%s; the rest of the sync goes on.",
					   ctx->run_id, ctx->connection, vendor_code ? " " : "", vendor_code ? vendor_code : ""),
			 errhint("%s",
					 licence
					 ? "Scores leave out what this endpoint provides (re-weighted, explained in the breakdown) until the licence is there."
					 : "Grant the application permission with admin consent in Entra ID; until then scores leave out what this endpoint provides.")));
	ctx->skipped++;
	values[0] = Int64GetDatum(ctx->run_id);
	values[1] = Int32GetDatum(ctx->skipped);
	values[2] = CStringGetTextDatum(rec);
	begin_tx("etop sync: recording a skipped endpoint");
	exec_args("INSERT INTO etop.sync_pages (run_id, endpoint, page, records, payload)"
			  " VALUES ($1, 'etop:skipped', $2, 1, $3::jsonb)"
			  " ON CONFLICT (run_id, endpoint, page) DO UPDATE SET payload = excluded.payload",
			  3, types, values, SPI_OK_INSERT);
	end_tx();
}

char *
etop_sync_oauth_token(EtopSyncContext *ctx, const char *authority, const char *tenant,
					  const char *client_id, const char *client_secret, const char *scope)
{
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
	"Accept: application/json", NULL};
	EtopSyncRequest req = {0};
	char	   *url,
			   *body,
			   *reply;
	Jsonb	   *j;
	const char *token;
	char	   *why;

	if (!tenant || !client_id || !client_secret)
		sync_error(ctx, psprintf("{\"error\": %s, \"details\": \"credentials need tenant_id, client_id and client_secret\"}",
								 json_str(psprintf("%s authentication failed", ctx->vendor))),
				   psprintf("%s authentication failed: credentials incomplete", ctx->vendor));
	url = psprintf("%s/%s/oauth2/v2.0/token", authority, etop_sync_urlencode(tenant));
	body = psprintf("grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s",
					etop_sync_urlencode(client_id), etop_sync_urlencode(client_secret),
					etop_sync_urlencode(scope));
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body;
	PG_TRY();
	{
		reply = etop_sync_http(ctx, &req, NULL);
	}
	PG_CATCH();
	{
		/* the token endpoint answers 400/401 for bad client credentials */
		if (ctx->error_json && strstr(ctx->error_json, "rejected the request") != NULL)
		{
			FlushErrorState();
			sync_error(ctx, psprintf("{\"error\": %s, \"details\": \"Invalid API credentials\"}",
									 json_str(psprintf("%s authentication failed", ctx->vendor))),
					   psprintf("%s authentication failed", ctx->vendor));
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	j = etop_jsonb_parse(reply, &why);		/* not JSON: no token either */
	token = j ? jsonb_text(j, "access_token") : NULL;
	if (token == NULL)
		sync_error(ctx, psprintf("{\"error\": %s, \"details\": \"token response without access_token\"}",
								 json_str(psprintf("%s authentication failed", ctx->vendor))),
				   psprintf("%s authentication failed", ctx->vendor));
	return pstrdup(token);
}

/* ---------- paging checks (the pure logic is in sync_guard.c) ---------- */

static void *
guard_alloc(void *cxt, size_t size)
{
	return MemoryContextAlloc((MemoryContext) cxt, size);
}

static void
guard_free(void *cxt, void *ptr)
{
	pfree(ptr);
}

/* A paging limit option: a whole number of 1 or more (0 or absent: the default). */
static long
paging_option(EtopSyncContext *ctx, const char *key, long dflt)
{
	long		v = option_long(ctx, key, dflt);

	return v == 0 ? dflt : v;
}

static etop_paging_guard *
paging_guard(EtopSyncContext *ctx)
{
	if (ctx->guard == NULL)
	{
		etop_guard_allocator a = {guard_alloc, guard_free, ctx->cxt};

		ctx->guard = etop_paging_guard_create(&a, paging_option(ctx, "max_pages", ETOP_SYNC_MAX_PAGES),
											  paging_option(ctx, "max_records", ETOP_SYNC_MAX_RECORDS));
	}
	return ctx->guard;
}

/* Fail the run because paging went wrong: the error object names endpoint, page and what to do. */
static void paging_error(EtopSyncContext *ctx, const char *endpoint, long page, const char *message,
						 const char *option, const char *hint) pg_attribute_noreturn();

static void
paging_error(EtopSyncContext *ctx, const char *endpoint, long page, const char *message,
			 const char *option, const char *hint)
{
	MemoryContext old = MemoryContextSwitchTo(ctx->cxt);

	ctx->error_json = psprintf("{\"error\": %s, \"endpoint\": %s, \"page\": %ld%s%s, \"hint\": %s}",
							   json_str(message), json_str(endpoint), page,
							   option ? ", \"option\": " : "", option ? json_str(option) : "",
							   json_str(hint));
	MemoryContextSwitchTo(old);
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("%s", message),
			 errdetail("Sync run " INT64_FORMAT " of connection \"%s\".", ctx->run_id, ctx->connection),
			 errhint("%s", hint)));
}

static const char *
raise_option_hint(EtopSyncContext *ctx, const char *option, long long value)
{
	return psprintf("If the vendor really holds that much, raise connection option %s (now %lld), e.g. "
					"UPDATE etop.connections SET options = options || '{\"%s\": %lld}' WHERE name = '%s'; "
					"otherwise the vendor's paging does not end. Nothing was normalized.",
					option, value, option, value * 10, ctx->connection);
}

void
etop_sync_follow(EtopSyncContext *ctx, const char *endpoint, const char *url)
{
	long		earlier;

	CHECK_FOR_INTERRUPTS();
	if (url == NULL)
		return;
	if (etop_paging_link(paging_guard(ctx), endpoint, url, &earlier) == ETOP_PAGE_LINK_REPEATED)
	{
		long		page = etop_paging_pages(ctx->guard, endpoint);

		paging_error(ctx, endpoint, page,
					 psprintf("%s paging does not end: the next-page link of %s page %ld leads back to page %ld",
							  ctx->vendor, endpoint, page, earlier + 1),
					 NULL,
					 "The vendor's next-page links go round in a circle (a link to the page itself, or back "
					 "to an earlier page); the run stops instead of fetching forever. Nothing was normalized.");
	}
}

char *
etop_sync_next_link(EtopSyncContext *ctx, const char *endpoint, const char *link_header)
{
	char		buf[8192];
	char	   *url;

	if (link_header == NULL || !etop_http_link_find(link_header, "next", buf, sizeof(buf)) || buf[0] == '\0')
		return NULL;
	/* a path is on the vendor's host: scheme://host[:port] of the base URL */
	url = buf[0] == '/' ? psprintf("%.*s%s", origin_len(ctx), ctx->base_url, buf) : pstrdup(buf);
	etop_sync_follow(ctx, endpoint, url);
	return url;
}

/* The paging guard's verdict on a page of n records (in page_cxt: recs is the records array). */
static void
check_page(EtopSyncContext *ctx, const char *endpoint, Jsonb *recs, int n)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) VARDATA(recs),
										   (int) (VARSIZE(recs) - VARHDRSZ), 0x65746f70);
	long		no,
				earlier;

	switch (etop_paging_page(paging_guard(ctx), endpoint, n, hash, &no, &earlier))
	{
		case ETOP_PAGE_OK:
		case ETOP_PAGE_LINK_REPEATED:
			break;
		case ETOP_PAGE_REPEATED:
			paging_error(ctx, endpoint, no,
						 psprintf("%s paging does not end: %s page %ld is page %ld again",
								  ctx->vendor, endpoint, no, earlier),
						 NULL,
						 "The vendor ignores the paging parameters (page, skip, pageId) or its next-page "
						 "links lead back; the run stops instead of fetching the same records forever. "
						 "Nothing was normalized.");
		case ETOP_PAGE_TOO_MANY_PAGES:
			paging_error(ctx, endpoint, no,
						 psprintf("%s %s has more than %ld pages (connection option max_pages)",
								  ctx->vendor, endpoint, paging_option(ctx, "max_pages", ETOP_SYNC_MAX_PAGES)),
						 "max_pages",
						 raise_option_hint(ctx, "max_pages", paging_option(ctx, "max_pages", ETOP_SYNC_MAX_PAGES)));
		case ETOP_PAGE_TOO_MANY_RECORDS:
			paging_error(ctx, endpoint, no,
						 psprintf("%s sent more than %ld records in one run, at %s page %ld (connection option max_records)",
								  ctx->vendor, paging_option(ctx, "max_records", ETOP_SYNC_MAX_RECORDS), endpoint, no),
						 "max_records",
						 raise_option_hint(ctx, "max_records", paging_option(ctx, "max_records", ETOP_SYNC_MAX_RECORDS)));
	}
}

/*
 * Parse a vendor page (in the current context, page_cxt) and take out its
 * records array; every problem fails the run naming vendor, endpoint and
 * page.  JSON nested deeper than ETOP_SYNC_MAX_JSON_DEPTH is refused before
 * the parser recurses into it; a "\u0000" escape inside a string (valid JSON
 * that jsonb cannot store) becomes U+FFFD.
 */
static Jsonb *
parse_page(EtopSyncContext *ctx, const char *endpoint, int page, const char *body,
		   const char *array_key, const char *next_key, char **next_link, MemoryContext caller)
{
	size_t		len = strlen(body);
	long		nuls = 0;
	long		deep = etop_json_scan(body, len, ETOP_SYNC_MAX_JSON_DEPTH, &nuls);
	char	   *why;
	Jsonb	   *parsed;
	Jsonb	   *recs;

	if (deep >= 0)
		sync_error(ctx, psprintf("{\"error\": %s, \"endpoint\": %s, \"page\": %d, \"details\": %s}",
								 json_str(psprintf("%s returned JSON nested too deeply", ctx->vendor)),
								 json_str(endpoint), page,
								 json_str(psprintf("more than %d levels of arrays and objects (at byte %ld)",
												   ETOP_SYNC_MAX_JSON_DEPTH, deep))),
				   psprintf("%s returned JSON nested too deeply (%s, page %d): more than %d levels",
							ctx->vendor, endpoint, page, ETOP_SYNC_MAX_JSON_DEPTH));
	if (nuls > 0)
	{
		char	   *copy = pnstrdup(body, len);

		nuls = etop_json_replace_nul_escapes(copy, len);
		ereport(LOG,
				(errmsg("etop: sync run " INT64_FORMAT ": %s %s page %d had %ld \\u0000 escape(s) in strings, stored as U+FFFD",
						ctx->run_id, ctx->vendor, endpoint, page, nuls)));
		body = copy;
	}
	parsed = etop_jsonb_parse(body, &why);
	if (parsed == NULL)
		sync_error(ctx, psprintf("{\"error\": %s, \"endpoint\": %s, \"page\": %d, \"details\": %s}",
								 json_str(psprintf("%s returned malformed JSON", ctx->vendor)),
								 json_str(endpoint), page, json_str(why)),
				   psprintf("%s returned malformed JSON (%s, page %d): %s", ctx->vendor, endpoint, page, why));

	/*
	 * The records array and the next-page link are taken from the parsed
	 * page here, so the INSERT gets the array as its parameter and the
	 * multi-megabyte value is not copied through a CTE.
	 */
	recs = parsed;
	if (array_key)
	{
		JsonbValue *v = etop_jsonb_key(&parsed->root, array_key);

		/* an array member is a jbvBinary that points into parsed */
		recs = (v && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
			? JsonbValueToJsonb(v) : NULL;
	}
	if (next_key && next_link)
	{
		char	   *link = etop_jsonb_text(&parsed->root, next_key);

		*next_link = link ? MemoryContextStrdup(caller, link) : NULL;
	}
	/* (a scalar page is a one-element "raw scalar" array to jsonb) */
	if (recs == NULL || !JB_ROOT_IS_ARRAY(recs) || JB_ROOT_IS_SCALAR(recs))
		sync_error(ctx, psprintf("{\"error\": %s, \"endpoint\": %s, \"page\": %d, \"details\": %s}",
								 json_str(psprintf("%s returned an unexpected response", ctx->vendor)),
								 json_str(endpoint), page,
								 json_str(array_key ? psprintf("no \"%s\" array in the response", array_key)
										  : "the response is not an array")),
				   psprintf("%s returned an unexpected response (%s, page %d)", ctx->vendor, endpoint, page));
	return recs;
}

/* page_cxt, reset for the next page, made current; returns the caller's context */
static MemoryContext
enter_page_cxt(EtopSyncContext *ctx)
{
	/*
	 * Parsing a page allocates several times its size (jsonb_in's tree, the
	 * jsonb, the records array).  All of it goes into a context that is
	 * reset for the next page, so a run's memory stays at about one page's
	 * worth and the worker reuses the same, already mapped memory for every
	 * page (see etop_worker_tune_malloc()).
	 */
	if (ctx->page_cxt == NULL)
		ctx->page_cxt = AllocSetContextCreate(ctx->cxt, "etop sync page", ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(ctx->page_cxt);
	ctx->page_records = NULL;
	return MemoryContextSwitchTo(ctx->page_cxt);
}

const JsonbContainer *
etop_sync_parse_page(EtopSyncContext *ctx, const char *endpoint, int page, const char *body,
					 const char *array_key)
{
	MemoryContext caller;
	Jsonb	   *recs;

	CHECK_FOR_INTERRUPTS();
	caller = enter_page_cxt(ctx);
	recs = parse_page(ctx, endpoint, page, body, array_key, NULL, NULL, caller);
	check_page(ctx, endpoint, recs, JB_ROOT_COUNT(recs));
	ctx->page_records = recs;
	MemoryContextSwitchTo(caller);
	return &recs->root;
}

int
etop_sync_store_page(EtopSyncContext *ctx, const char *endpoint, int page, const char *body,
					 const char *array_key, const char *next_key, char **next_out)
{
	Oid			types[5] = {INT8OID, TEXTOID, INT4OID, JSONBOID, INT4OID};
	Datum		values[5];
	int			n = 0;
	char	   *next = NULL;
	MemoryContext caller;
	Jsonb	   *recs;

	CHECK_FOR_INTERRUPTS();
	caller = enter_page_cxt(ctx);

	values[0] = Int64GetDatum(ctx->run_id);
	values[1] = CStringGetTextDatum(endpoint);
	values[2] = Int32GetDatum(page);

	/* parsed once, here; the page goes to SQL as jsonb */
	recs = parse_page(ctx, endpoint, page, body, array_key, next_key, &next, caller);
	n = JB_ROOT_COUNT(recs);
	/* a page seen before, too many pages or records: the run stops here */
	check_page(ctx, endpoint, recs, n);
	ctx->page_records = recs;
	values[3] = JsonbPGetDatum(recs);
	values[4] = Int32GetDatum(n);

	begin_tx("etop sync: storing a page");
	/* staging is transient (and the table unlogged): a crash loses at most
	 * pages the run would redo */
	SPI_execute("SET LOCAL synchronous_commit = off", false, 0);
	exec_args("INSERT INTO etop.sync_pages (run_id, endpoint, page, records, payload)"
			  " VALUES ($1, $2, $3, $5, $4)"
			  " ON CONFLICT (run_id, endpoint, page) DO UPDATE"
			  "    SET records = excluded.records, payload = excluded.payload",
			  5, types, values, SPI_OK_INSERT);
	ctx->pages++;
	ctx->rows += n;
	{
		Oid			ptypes[2] = {INT8OID, TEXTOID};
		Datum		pvalues[2];
		bool		isnull;

		pvalues[0] = Int64GetDatum(ctx->run_id);
		pvalues[1] = CStringGetTextDatum(psprintf("{\"endpoint\": %s, \"page\": %d, \"pages_fetched\": %d, "
												  "\"rows_so_far\": " INT64_FORMAT "}",
												  json_str(endpoint), page, ctx->pages, ctx->rows));
		exec_args("UPDATE etop.sync_runs SET progress = $2::jsonb WHERE id = $1 RETURNING cancel_requested",
				  2, ptypes, pvalues, SPI_OK_UPDATE_RETURNING);
		if (SPI_processed == 1 &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) && !isnull)
			sync_error(ctx, "{\"error\": \"Sync cancelled\", \"details\": \"etop.sync_cancel() was called\"}",
					   "sync cancelled");
	}
	end_tx();
	MemoryContextSwitchTo(caller);
	/* a next-page link seen before: the paging goes round in a circle */
	if (next)
		etop_sync_follow(ctx, endpoint, next);
	if (next_out)
		*next_out = next;
	return n;
}

const JsonbContainer *
etop_sync_page_records(EtopSyncContext *ctx)
{
	return ctx->page_records ? &ctx->page_records->root : NULL;
}

/* ---------- the worker ---------- */

/* Record the run and load everything the adapter needs; false if the connection vanished. */
static bool
load_run(EtopSyncContext *ctx, const SyncLaunch *launch)
{
	Oid			types[4] = {INT8OID, INT4OID, BOOLOID, OIDOID};
	Datum		values[4];
	bool		found = false;

	values[0] = Int64GetDatum(ctx->run_id);
	values[1] = Int32GetDatum(launch->connection_id);
	values[2] = BoolGetDatum(launch->full);
	values[3] = ObjectIdGetDatum(launch->requested_by);

	begin_tx("etop sync: starting");
	exec_args("INSERT INTO etop.sync_runs (id, connection_id, connection, adapter, full_sync, status,"
			  "  requested_by, worker_pid, started_at)"
			  " SELECT $1, c.id, c.name, c.adapter, $3, 'running',"
			  "        coalesce((SELECT rolname FROM pg_roles WHERE oid = $4), 'unknown'),"
			  "        pg_backend_pid(), now()"
			  "   FROM etop.connections c WHERE c.id = $2",
			  4, types, values, SPI_OK_INSERT);
	if (SPI_processed == 1)
	{
		int			rc = SPI_execute_with_args(
											   "SELECT c.name, c.adapter, rtrim(c.base_url, '/'), c.credentials::text,"
											   "       c.options::text,"
											   "       to_char(c.sync_cursor AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
											   "       a.library, a.symbol, a.normalize_function::text,"
											   "       a.normalize_function::oid, a.normalize_role"
											   "  FROM etop.connections c JOIN etop.adapters a ON a.name = c.adapter"
											   " WHERE c.id = $2",
											   2, types, values, NULL, true, 1);

		if (rc == SPI_OK_SELECT && SPI_processed == 1)
		{
			HeapTuple	t = SPI_tuptable->vals[0];
			TupleDesc	d = SPI_tuptable->tupdesc;
			MemoryContext old = MemoryContextSwitchTo(ctx->cxt);
			char	   *cred = SPI_getvalue(t, d, 4),
					   *opt = SPI_getvalue(t, d, 5);

			ctx->connection = pstrdup(SPI_getvalue(t, d, 1));
			ctx->adapter = pstrdup(SPI_getvalue(t, d, 2));
			ctx->base_url = pstrdup(SPI_getvalue(t, d, 3));
			ctx->credentials = DatumGetJsonbPCopy(DirectFunctionCall1(jsonb_in, CStringGetDatum(cred)));
			ctx->options = DatumGetJsonbPCopy(DirectFunctionCall1(jsonb_in, CStringGetDatum(opt)));
			ctx->since = SPI_getvalue(t, d, 6) ? pstrdup(SPI_getvalue(t, d, 6)) : NULL;
			ctx->library = pstrdup(SPI_getvalue(t, d, 7));
			ctx->symbol = pstrdup(SPI_getvalue(t, d, 8));
			ctx->normalize = SPI_getvalue(t, d, 9) ? pstrdup(SPI_getvalue(t, d, 9)) : NULL;
			{
				bool		isnull;
				Datum		oid = SPI_getbinval(t, d, 10, &isnull);

				ctx->normalize_oid = isnull ? InvalidOid : DatumGetObjectId(oid);
			}
			ctx->normalize_role = pstrdup(SPI_getvalue(t, d, 11));
			ctx->vendor = pstrdup(ctx->adapter);
			MemoryContextSwitchTo(old);
			found = true;
		}
	}
	end_tx();
	return found;
}

/*
 * Calls the adapter's normalization function for the run, as its
 * normalize_role (etop_internal.adapters_guard(): the role that registered it), never
 * with the worker's superuser rights: a security-restricted operation, like
 * an index expression, so the function cannot SET ROLE back, and with its
 * setting changes undone afterwards.  The function is named by OID, never by
 * text from the registry.  Returns its result (the record counts) as text.
 */
static char *
call_normalize(EtopSyncContext *ctx)
{
	Oid			role = get_role_oid(ctx->normalize_role, true);
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(ctx->run_id)};
	char	   *sql;
	char	   *result;

	if (!OidIsValid(ctx->normalize_oid) || !SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(ctx->normalize_oid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("adapter \"%s\" has no normalization function", ctx->adapter),
				 errhint("Set etop.adapters.normalize_function for it.")));
	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role \"%s\" that set adapter \"%s\"'s normalization function no longer exists",
						ctx->normalize_role, ctx->adapter),
				 errhint("Set etop.adapters.normalize_function again, as the role it should run as.")));
	sql = psprintf("SELECT %s($1)::text",
				   quote_qualified_identifier(get_namespace_name(get_func_namespace(ctx->normalize_oid)),
											  get_func_name(ctx->normalize_oid)));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	/* an error aborts the transaction, which restores the user and the settings */
	exec_args(sql, 1, types, values, SPI_OK_SELECT);
	result = (SPI_processed == 1) ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return result;
}

/* Normalize the pages and close the run, all in one transaction. */
static void
finish_run(EtopSyncContext *ctx)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(ctx->run_id), (Datum) 0};
	char	   *counts;

	begin_tx("etop sync: normalizing");
	/* where the time went: fetching (start to here) and normalizing (here to the end) */
	exec_args("UPDATE etop.sync_runs SET progress = progress || jsonb_build_object('fetch_seconds',"
			  " round(extract(epoch FROM clock_timestamp() - started_at)::numeric, 3)) WHERE id = $1",
			  1, types, values, SPI_OK_UPDATE);
	counts = call_normalize(ctx);
	/* cancelled while normalizing: nothing of it is committed */
	if (etop_sync_cancel_requested(ctx->slot))
		raise_cancelled(ctx);
	values[1] = counts ? CStringGetTextDatum(counts) : (Datum) 0;
	exec_args(counts ?
			  "UPDATE etop.sync_runs r SET status = 'succeeded', record_counts = $2::jsonb,"
			  "        finished_at = clock_timestamp(),"
			  "        progress = progress || jsonb_build_object('step', 'done', 'normalize_seconds',"
			  "            round((extract(epoch FROM clock_timestamp() - r.started_at)"
			  "                   - (progress->>'fetch_seconds')::numeric)::numeric, 3))"
			  "  WHERE r.id = $1" :
			  "UPDATE etop.sync_runs r SET status = 'succeeded', finished_at = clock_timestamp(),"
			  "        progress = progress || jsonb_build_object('step', 'done')"
			  "  WHERE r.id = $1",
			  counts ? 2 : 1, types, values, SPI_OK_UPDATE);
	exec_args("UPDATE etop.connections c SET last_sync_at = r.finished_at, sync_cursor = r.started_at"
			  "  FROM etop.sync_runs r WHERE r.id = $1 AND c.id = r.connection_id",
			  1, types, values, SPI_OK_UPDATE);
	exec_args("DELETE FROM etop.sync_pages WHERE run_id = $1", 1, types, values, SPI_OK_DELETE);
	end_tx();
	etop_sync_set_phase(ctx->slot, ETOP_SYNC_RECORDED);
}

/* key: "value", for an error object under construction */
static void
append_key(StringInfo b, const char *key, const char *value)
{
	if (value == NULL)
		return;
	appendStringInfo(b, ", \"%s\": ", key);
	escape_json(b, value);
}

/*
 * Record a run that ended in an error as failed or cancelled, and log it.
 * The error object is the vendor's (ctx->error_json, built where the error
 * was raised) or {"error", "detail", "hint", "sqlstate"} of the ERROR (a
 * normalization function's RAISE ... USING DETAIL, HINT: the hint naming
 * the option that fixes it is what the DBA needs).
 */
static SyncOutcome
record_failure(EtopSyncContext *ctx, ErrorData *e)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	StringInfoData b;
	bool		cancelled;
	const char *by = NULL;

	if (etop_sync_cancel_requested(ctx->slot) ||
		(ctx->error_json && strstr(ctx->error_json, "\"" SYNC_CANCELLED_ERROR "\"") != NULL))
		by = "cancelled by etop.sync_cancel()";
	else if (e->sqlerrcode == ERRCODE_QUERY_CANCELED)
		by = "cancelled by pg_cancel_backend() on the sync worker";
	cancelled = (by != NULL);

	initStringInfo(&b);
	if (cancelled)
	{
		appendStringInfoString(&b, "{\"error\": \"" SYNC_CANCELLED_ERROR "\"");
		append_key(&b, "details", psprintf("%s; no normalized row was changed", by));
		appendStringInfoChar(&b, '}');
	}
	else if (ctx->error_json)
		appendStringInfoString(&b, ctx->error_json);
	else
	{
		appendStringInfoString(&b, "{\"error\": ");
		escape_json(&b, e->message ? e->message : "unknown error");
		append_key(&b, "detail", e->detail);
		append_key(&b, "hint", e->hint);
		append_key(&b, "sqlstate", unpack_sql_state(e->sqlerrcode));
		appendStringInfoChar(&b, '}');
	}

	values[0] = Int64GetDatum(ctx->run_id);
	values[1] = CStringGetTextDatum(b.data);
	values[2] = CStringGetTextDatum(cancelled ? "cancelled" : "failed");
	begin_tx("etop sync: recording failure");
	exec_args("UPDATE etop.sync_runs SET status = $3, error = $2::jsonb, finished_at = clock_timestamp()"
			  " WHERE id = $1 AND status = 'running'", 3, types, values, SPI_OK_UPDATE);
	/* keep only this connection's latest failed pages, for diagnosis */
	exec_args("DELETE FROM etop.sync_pages p USING etop.sync_runs r, etop.sync_runs me"
			  " WHERE me.id = $1 AND r.id = p.run_id AND r.connection_id = me.connection_id AND r.id <> $1",
			  1, types, values, SPI_OK_DELETE);
	end_tx();
	etop_sync_set_phase(ctx->slot, ETOP_SYNC_RECORDED);
	if (cancelled)
		ereport(LOG, (errmsg("etop: sync run " INT64_FORMAT " of \"%s\" cancelled after %d pages, " INT64_FORMAT " records fetched; nothing normalized",
							 ctx->run_id, ctx->connection ? ctx->connection : "?", ctx->pages, ctx->rows),
					  errdetail("%s.", by)));
	else
		ereport(LOG, (errmsg("etop: sync run " INT64_FORMAT " of \"%s\" failed: %s",
							 ctx->run_id, ctx->connection ? ctx->connection : "?",
							 e->message ? e->message : "unknown error"),
					  e->detail ? errdetail("%s", e->detail) : 0,
					  e->hint ? errhint("%s", e->hint) : 0));
	return cancelled ? SYNC_CANCELLED : SYNC_FAILED;
}

/*
 * before_shmem_exit: the worker is leaving (SIGTERM from a fast shutdown or
 * pg_terminate_backend(), or another FATAL) with its run still "running".
 * proc_exit() has cleared the pending interrupts and holds them, so one more
 * short transaction records the outcome (a fast shutdown waits for the
 * worker).  If even that fails, the reaper (etop_internal.sync_reap()) does
 * it at the next look.  Runs before ShutdownPostgres (registered later).
 */
static void
record_unfinished(int code, Datum arg)
{
	int			slot = DatumGetInt32(arg);
	int64		run = etop_sync_slot_run(slot);
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	if (run == 0 || etop_sync_phase(slot) != ETOP_SYNC_RUNNING)
		return;
	PG_TRY();
	{
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(TopMemoryContext);
		values[0] = Int64GetDatum(run);
		values[1] = CStringGetTextDatum(psprintf("{\"error\": \"Sync worker was terminated\", \"details\": "
												 "\"The sync worker (pid %d) was stopped before it finished: "
												 "the server shut down, or pg_terminate_backend() ended it; "
												 "no normalized row was changed. Run the sync again.\"}",
												 MyProcPid));
		begin_tx("etop sync: recording termination");
		exec_args("UPDATE etop.sync_runs SET status = 'failed', error = $2::jsonb, finished_at = clock_timestamp()"
				  " WHERE id = $1 AND status = 'running'", 2, types, values, SPI_OK_UPDATE);
		end_tx();
		etop_sync_set_phase(slot, ETOP_SYNC_RECORDED);
		ereport(LOG, (errmsg("etop: sync run " INT64_FORMAT " failed: its worker was terminated (server shutdown or pg_terminate_backend())",
							 run)));
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
}

/* on_shmem_exit: free the worker's registry slot, however it exits. */
static void
release_slot(int code, Datum arg)
{
	etop_sync_release(DatumGetInt32(arg));
}

void
etop_sync_worker_main(Datum main_arg)
{
	SyncLaunch	launch;
	EtopSyncContext ctx;
	MemoryContext cxt;
	SyncOutcome outcome = SYNC_FAILED;
	int64		run_id = DatumGetInt64(main_arg);

	etop_worker_tune_malloc();
	memcpy(&launch, MyBgworkerEntry->bgw_extra, sizeof(launch));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* the slot etop_internal._sync_launch() reserved; gone if it gave up waiting */
	if (!etop_sync_claim(launch.slot, run_id, launch.database))
	{
		elog(LOG, "etop: sync run " INT64_FORMAT " not started: its launch was abandoned", run_id);
		proc_exit(0);
	}
	on_shmem_exit(release_slot, Int32GetDatum(launch.slot));
	BackgroundWorkerInitializeConnectionByOid(launch.database, InvalidOid, 0);
	before_shmem_exit(record_unfinished, Int32GetDatum(launch.slot));
	pgstat_report_appname("etop sync worker");

	cxt = AllocSetContextCreate(TopMemoryContext, "etop sync", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	memset(&ctx, 0, sizeof(ctx));
	ctx.run_id = run_id;
	ctx.full = launch.full;
	ctx.cxt = cxt;
	ctx.slot = launch.slot;

	if (!load_run(&ctx, &launch))
	{
		elog(LOG, "etop: sync run " INT64_FORMAT ": connection %d no longer exists",
			 ctx.run_id, launch.connection_id);
		proc_exit(0);
	}
	etop_sync_set_phase(ctx.slot, ETOP_SYNC_RUNNING);
	/* load_run committed, which leaves TopMemoryContext current: the adapter works in the run's */
	MemoryContextSwitchTo(cxt);
	ctx.http = etop_http_client_create();

	PG_TRY();
	{
		EtopAdapterFetch fetch;

		if (etop_sync_cancel_requested(ctx.slot))
			raise_cancelled(&ctx);	/* cancelled before it started */
		fetch = (EtopAdapterFetch) load_external_function(ctx.library, ctx.symbol, true, NULL);
		fetch(&ctx);
		MemoryContextSwitchTo(cxt);
		finish_run(&ctx);
		outcome = SYNC_SUCCEEDED;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (ProcDiePending)
			proc_exit(1);		/* terminated: record_unfinished() records it */
		outcome = record_failure(&ctx, e);
	}
	PG_END_TRY();
	if (ctx.http)
		etop_http_client_destroy(ctx.http);
	if (outcome == SYNC_SUCCEEDED)
		elog(LOG, "etop: sync run " INT64_FORMAT " of \"%s\" finished: %d pages, " INT64_FORMAT " records",
			 ctx.run_id, ctx.connection, ctx.pages, ctx.rows);
	proc_exit(0);
}

/* ---------- SQL: etop_internal._sync_launch(run bigint, connection_id int, full bool) ---------- */

static void
require_registry(void)
{
	if (!etop_sync_registry_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("etop cannot run syncs: etop is not in shared_preload_libraries"),
				 errdetail("Sync runs are background workers that etop tracks in shared memory set up at server start."),
				 errhint("Add etop to shared_preload_libraries in postgresql.conf "
						 "(e.g. shared_preload_libraries = 'etop,pg_cron') and restart PostgreSQL.")));
}

/* A connection's name, for messages ("#id" if it is gone). */
static char *
connection_name(int32 connection_id)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(connection_id)};
	char	   *name = NULL;

	SPI_connect();
	if (SPI_execute_with_args("SELECT name FROM etop.connections WHERE id = $1", 1, types, values,
							  NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *n = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		name = n ? MemoryContextStrdup(TopTransactionContext, n) : NULL;
	}
	SPI_finish();
	return name ? name : psprintf("#%d", connection_id);
}

/* Whether etop.sync_runs already has this run id. */
static bool
run_row_exists(int64 run)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run)};
	bool		exists;

	SPI_connect();
	exists = SPI_execute_with_args("SELECT 1 FROM etop.sync_runs WHERE id = $1", 1, types, values,
								   NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1;
	SPI_finish();
	return exists;
}

PG_FUNCTION_INFO_V1(etop_sync_launch);

/*
 * Reserves the connection's slot in the sync registry (refusing when it has
 * a run: at most one run per connection, also when two sessions, or two
 * calls in one statement, start one at once, and also when an etop_admin
 * calls this directly), then starts the worker.
 */
Datum
etop_sync_launch(PG_FUNCTION_ARGS)
{
	int64		run = PG_GETARG_INT64(0);
	SyncLaunch	launch;
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	pid_t		pid = 0;
	int64		busy = 0;
	int			slot;

	require_registry();
	memset(&launch, 0, sizeof(launch));
	launch.database = MyDatabaseId;
	launch.requested_by = GetUserId();
	launch.connection_id = PG_GETARG_INT32(1);
	launch.full = PG_GETARG_BOOL(2);

	slot = (run <= 0 || run_row_exists(run)) ? ETOP_SYNC_RUN_TAKEN
		: etop_sync_reserve(MyDatabaseId, launch.connection_id, run, &busy);
	if (slot == ETOP_SYNC_BUSY)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("a sync of connection \"%s\" is already running (run " INT64_FORMAT ")",
						connection_name(launch.connection_id), busy),
				 errdetail("A connection has at most one running sync."),
				 errhint("Wait for it with SELECT etop.sync_wait(" INT64_FORMAT "), or stop it with SELECT etop.sync_cancel(" INT64_FORMAT ").",
						 busy, busy)));
	if (slot == ETOP_SYNC_RUN_TAKEN)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("sync run " INT64_FORMAT " already exists", run),
				 errhint("Start syncs with etop.sync(connection); it takes a new run id.")));
	if (slot == ETOP_SYNC_NO_SLOT)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a sync worker"),
				 errdetail("As many syncs are running as there are background worker slots (max_worker_processes)."),
				 errhint("Wait for running syncs to finish, or raise max_worker_processes.")));
	launch.slot = slot;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "etop");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "etop_sync_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "etop sync run " INT64_FORMAT, run);
	snprintf(w.bgw_type, BGW_MAXLEN, "etop sync worker");
	w.bgw_main_arg = Int64GetDatum(run);
	w.bgw_notify_pid = MyProcPid;
	memcpy(w.bgw_extra, &launch, sizeof(launch));

	PG_TRY();
	{
		if (!RegisterDynamicBackgroundWorker(&w, &handle))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start a sync worker"),
					 errdetail("All background worker slots are in use."),
					 errhint("Raise max_worker_processes, or wait for running syncs to finish.")));
		status = WaitForBackgroundWorkerStartup(handle, &pid);
	}
	PG_CATCH();
	{
		/* a worker that starts after this finds its slot gone and exits */
		etop_sync_unreserve(slot, run);
		PG_RE_THROW();
	}
	PG_END_TRY();
	/* stopped already: fine if it claimed its slot (it ran), else it never started */
	if (status != BGWH_STARTED && etop_sync_unreserve(slot, run))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("the sync worker did not start"),
				 errhint("Check the server log.")));
	PG_RETURN_INT32(pid);
}

/* ---------- SQL: the registry, for sync_wait(), sync_reap(), sync_cancel() ---------- */

PG_FUNCTION_INFO_V1(etop_sync_alive);

/* etop_internal._sync_alive(run): whether the run has a worker (or one starting) */
Datum
etop_sync_alive(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(etop_sync_alive_run(MyDatabaseId, PG_GETARG_INT64(0)));
}

PG_FUNCTION_INFO_V1(etop_sync_signal_cancel);

/* etop_internal._sync_signal_cancel(run): flag the run's worker and wake it */
Datum
etop_sync_signal_cancel(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(etop_sync_request_cancel(MyDatabaseId, PG_GETARG_INT64(0)));
}

PG_FUNCTION_INFO_V1(etop_sync_registry_started_at);

/* etop_internal._sync_registry_started(): when shared memory was (re)initialised (NULL: not preloaded) */
Datum
etop_sync_registry_started_at(PG_FUNCTION_ARGS)
{
	if (!etop_sync_registry_available())
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(etop_sync_registry_started());
}
