/*
 * adapter.h — what a vendor adapter sees of etop.
 *
 * An adapter is a row in etop.adapters naming a shared library, the symbol
 * of its fetch function (type EtopAdapterFetch) and its set-based
 * normalization SQL function.  The three built-in adapters register exactly
 * like a third-party one (see docs/adapters.md and tests/adapter_example/).
 *
 * The fetch function runs in a sync background worker, outside any
 * transaction.  It only talks to its vendor: it reads the connection's
 * base URL, credentials and options, pages through the endpoints with
 * etop_sync_http(), and hands each page to etop_sync_store_page().  The
 * framework does everything else: retries, timeouts, progress in
 * etop.sync_runs, cancellation, clear errors for 401/403/429/5xx/timeouts/
 * malformed JSON, and normalization plus the run's outcome in one
 * transaction, so a failed sync leaves the normalized tables as they were.
 * Errors are raised with ereport(ERROR) (the helpers do it for you); never
 * catch them.
 */
#ifndef ETOP_ADAPTER_H
#define ETOP_ADAPTER_H

#include "postgres.h"
#include "utils/jsonb.h"

typedef struct EtopSyncContext EtopSyncContext;

/* The adapter entry point named by etop.adapters.symbol. */
typedef void (*EtopAdapterFetch) (EtopSyncContext *ctx);

/* ---- what the run is about ---- */
extern const char *etop_sync_base_url(EtopSyncContext *ctx);	/* no trailing '/' */
/* A credential or option value (strings; numbers and booleans as text), or NULL. */
extern const char *etop_sync_credential(EtopSyncContext *ctx, const char *key);
extern const char *etop_sync_option(EtopSyncContext *ctx, const char *key);
extern bool etop_sync_full(EtopSyncContext *ctx);
/* Incremental syncs: ISO 8601 UTC time of the last successful sync, else NULL. */
extern const char *etop_sync_since(EtopSyncContext *ctx);
extern int64 etop_sync_run_id(EtopSyncContext *ctx);

/*
 * How errors name the vendor ("ConnectWise" gives "ConnectWise
 * authentication failed") and, for HTTP 403, which permissions to ask for
 * (a JSON array text, e.g. "[\"User.Read.All\"]"), or NULL.
 */
extern void etop_sync_set_vendor(EtopSyncContext *ctx, const char *vendor,
								 const char *required_scopes_json);

/* ---- HTTP ---- */
typedef struct EtopSyncRequest
{
	const char *method;			/* NULL = GET */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" */
	const char *body;			/* form or JSON body, or NULL */
	const char *basic_user;		/* HTTP Basic when both set */
	const char *basic_password;
	const char *bearer_token;
} EtopSyncRequest;

/*
 * Perform a request with the connection's timeouts and retries; returns the
 * body (NUL-terminated, palloc'd) of a 2xx response.  Any other outcome
 * raises the vendor error ("<vendor> authentication failed", "... rate limit
 * exceeded" with retry_after, "... permission denied" with required_scopes,
 * "... API unavailable", "... API timeout", ...).  *link_out, if given,
 * receives the Link header (or NULL).
 */
extern char *etop_sync_http(EtopSyncContext *ctx, const EtopSyncRequest *req, char **link_out);

/*
 * Like etop_sync_http(), but an HTTP 403 does not fail the run: it returns
 * NULL and *refusal_out receives the vendor's error body (palloc'd, "" when
 * there was none).  For endpoints a customer's licence or the app's
 * permissions may refuse while the rest of the sync is still worth having:
 * the adapter then calls etop_sync_skip_endpoint().
 */
extern char *etop_sync_http_refusable(EtopSyncContext *ctx, const EtopSyncRequest *req,
									  char **link_out, char **refusal_out);

/*
 * A refusal the adapter cannot do without (etop_sync_http_refusable()
 * returned NULL for it): fails the run with the same "permission denied"
 * error etop_sync_http() raises for a 403, naming the URL and the
 * permission (etop_sync_set_vendor), without asking the vendor again.
 */
extern void etop_sync_refused(EtopSyncContext *ctx, const char *url) pg_attribute_noreturn();

/*
 * Record that the run went on without an endpoint (property NULL) or
 * without one property of it, and why: reason "licence" (needs names the
 * licence, e.g. "Microsoft Entra ID P2") or "permission" (needs names the
 * permission(s)); vendor_code is the vendor's error code, or NULL.  Logged as
 * a WARNING, and kept with the run's pages (endpoint "etop:skipped") so that
 * the normalization function can report it (etop.sync_skipped(run)) and the
 * scores leave out what the endpoint would have provided.
 */
extern void etop_sync_skip_endpoint(EtopSyncContext *ctx, const char *endpoint, const char *property,
									const char *reason, const char *needs, const char *vendor_code);

/* OAuth2 client-credentials token from {authority}/{tenant}/oauth2/v2.0/token. */
extern char *etop_sync_oauth_token(EtopSyncContext *ctx, const char *authority, const char *tenant,
								   const char *client_id, const char *client_secret,
								   const char *scope);

/*
 * Store one page.  body is the vendor's JSON; array_key names the member
 * holding the records ("value" for Graph, "results" ...), or NULL when the
 * body is the array itself.  If next_key is given, *next_out receives that
 * top-level string member ("@odata.nextLink") or NULL.  Returns the number of
 * records.  Malformed JSON raises "<vendor> returned malformed JSON", JSON
 * nested deeper than 256 levels "<vendor> returned JSON nested too deeply",
 * a body without the records array "<vendor> returned an unexpected
 * response", all naming endpoint and page; a "\u0000" escape inside a string
 * (which jsonb cannot store) is stored as U+FFFD.  Also checks for
 * cancellation, records progress, and stops paging that never ends: a page
 * with the same records as an earlier page of the endpoint, a next-page link
 * followed before (next_key's, or etop_sync_follow()'s), more pages of the
 * endpoint than connection option max_pages (100000) or more records in
 * the run than max_records (10000000) fail the run with
 * "<vendor> paging does not end: ..." or a message naming the option.
 */
extern int	etop_sync_store_page(EtopSyncContext *ctx, const char *endpoint, int page,
								 const char *body, const char *array_key,
								 const char *next_key, char **next_out);

/*
 * The records array of the page just stored (read-only), valid until the
 * next etop_sync_store_page(): for an adapter that needs something from a
 * page (the ids to ask a later endpoint about) without parsing it again.
 */
extern const JsonbContainer *etop_sync_page_records(EtopSyncContext *ctx);

/*
 * Parse a page the adapter only reads (ids to ask about later), with every
 * check etop_sync_store_page() makes, without storing it.  Returns its
 * records array, valid until the next parse or store.
 */
extern const JsonbContainer *etop_sync_parse_page(EtopSyncContext *ctx, const char *endpoint,
												  int page, const char *body, const char *array_key);

/*
 * Paging by links: call etop_sync_follow() with an endpoint's first URL;
 * etop_sync_next_link() takes the Link header etop_sync_http() returned and
 * gives the rel="next" URL (palloc'd; a path is made absolute on the base
 * URL's host) or NULL when there is none.  Both fail the run when the URL
 * was already followed for that endpoint (a cycle).
 */
extern void etop_sync_follow(EtopSyncContext *ctx, const char *endpoint, const char *url);
extern char *etop_sync_next_link(EtopSyncContext *ctx, const char *endpoint, const char *link_header);

/* URL-encode a query value (palloc'd). */
extern char *etop_sync_urlencode(const char *s);

#endif							/* ETOP_ADAPTER_H */
