/*
 * http_client.h — etop's one HTTP client (libcurl), shared by the vendor
 * adapters and the LLM narrative provider.
 *
 * Plain C, no postgres.h: it is unit-tested on its own (tests/unit) and is
 * safe in a background worker as long as the callbacks below follow the
 * rules in their comments (no ereport/longjmp out of a callback).
 *
 * One call, etop_http_perform(), does a whole request: connect and total
 * timeouts per attempt, a bounded response body, retries with exponential
 * backoff and jitter that honour Retry-After, TLS verification (on unless
 * explicitly turned off), proxies from the environment (http_proxy,
 * https_proxy, no_proxy — libcurl's default), and an abort callback polled
 * at least every 50 ms so SIGTERM ends a transfer or a backoff wait promptly.
 *
 * Errors come back as a category plus a human message that never contains
 * credentials: no Authorization header, password, bearer token or URL query
 * string/userinfo is ever put into it.
 *
 * Typical use in an adapter:
 *
 *     etop_http_request req;
 *     etop_http_response resp;
 *     const char *hdrs[] = {"clientId: ...", "Accept: application/json", NULL};
 *
 *     etop_http_request_init(&req);
 *     req.url = url;
 *     req.headers = hdrs;
 *     req.basic_user = user;              // "companyId+publicKey"
 *     req.basic_password = private_key;
 *     req.abort_cb = my_abort;            // e.g. checks ShutdownRequestPending
 *     req.sleep_cb = my_sleep;            // e.g. WaitLatch(..., ms, ...)
 *     if (etop_http_perform(client, &req, &resp) != ETOP_HTTP_OK)
 *         report(resp.status, resp.retry_after_s, resp.message);
 *     ... resp.body / resp.body_len / resp.link ...
 *     etop_http_response_free(&resp);
 */
#ifndef ETOP_HTTP_CLIENT_H
#define ETOP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* What went wrong, if anything (the final attempt's outcome). */
typedef enum etop_http_error
{
	ETOP_HTTP_OK = 0,			/* a final status below 400 */
	ETOP_HTTP_4XX,				/* HTTP 400-499 (401, 403, 404, 429 ...) */
	ETOP_HTTP_5XX,				/* HTTP 500-599 */
	ETOP_HTTP_TIMEOUT,			/* connect or total timeout of an attempt */
	ETOP_HTTP_CONNECT,			/* DNS, refused, unreachable, TLS handshake or
								 * certificate verification */
	ETOP_HTTP_TOO_LARGE,		/* body larger than max_response_bytes */
	ETOP_HTTP_TRANSPORT,		/* dropped connection, empty reply, bad URL,
								 * out of memory, other libcurl errors */
	ETOP_HTTP_ABORTED			/* the abort callback asked to stop */
} etop_http_error;

/*
 * Where the response body and Link header live.  alloc returns NULL on
 * failure and must not throw (in a backend: MemoryContextAllocExtended(cxt,
 * size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM) and pfree).  NULL allocator =
 * malloc/free.  The body grows by alloc + copy + free, so no realloc is
 * needed.
 */
typedef struct etop_http_allocator
{
	void	   *(*alloc) (void *ctx, size_t size);
	void		(*free) (void *ctx, void *ptr);
	void	   *ctx;
} etop_http_allocator;

/* Return true to abort the request now (polled during transfers and waits). */
typedef bool (*etop_http_abort_fn) (void *arg);

/*
 * Wait ms milliseconds before a retry; return false if woken to stop (the
 * request then ends with ETOP_HTTP_ABORTED).  NULL = nanosleep in 50 ms
 * slices, polling abort_cb.
 */
typedef bool (*etop_http_sleep_fn) (void *arg, long ms);

typedef struct etop_http_request
{
	const char *method;			/* "GET" (default), "POST", "PUT", "PATCH",
								 * "DELETE", "HEAD" */
	const char *url;			/* http:// or https:// only */
	const char *const *headers; /* NULL-terminated "Name: value" strings */
	const char *body;			/* request body (may contain NULs) */
	size_t		body_len;

	const char *basic_user;		/* HTTP Basic when both are set */
	const char *basic_password;
	const char *bearer_token;	/* Authorization: Bearer (not sent on a
								 * redirect to another host) */

	long		connect_timeout_ms; /* per attempt; 0 = 10 000 */
	long		timeout_ms;		/* whole attempt; 0 = 60 000 */
	size_t		max_response_bytes; /* 0 = 64 MiB */

	int			max_attempts;	/* including the first; 0 = 4 (3 retries) */
	long		retry_base_ms;	/* first backoff; 0 = 1000, doubled per retry */
	long		retry_max_ms;	/* cap of one backoff; 0 = 30 000 */
	long		retry_after_max_ms; /* longest Retry-After honoured; a longer
									 * one ends the retries at once (the
									 * caller reschedules); 0 = 120 000 */

	bool		tls_insecure;	/* skip certificate checks (tests only!) */
	const char *ca_file;		/* extra CA bundle (PEM), optional */
	const char *user_agent;		/* 0 = "etop/<version> libcurl" */

	const etop_http_allocator *allocator;	/* NULL = malloc/free */
	etop_http_abort_fn abort_cb;	/* optional */
	etop_http_sleep_fn sleep_cb;	/* optional */
	void	   *cb_arg;			/* passed to abort_cb and sleep_cb */
} etop_http_request;

typedef struct etop_http_response
{
	etop_http_error error;
	long		status;			/* final HTTP status, 0 if none was received */
	char	   *body;			/* NUL-terminated (body_len excludes it); kept
								 * for HTTP errors, NULL after transport
								 * errors */
	size_t		body_len;
	char	   *link;			/* the Link header(s), comma-joined, or NULL */
	long		retry_after_s;	/* last Retry-After in seconds, -1 if none */
	char		content_type[128];
	int			attempts;		/* attempts made */
	long		elapsed_ms;		/* including backoff waits */
	char		message[512];	/* "" when OK; never contains credentials */
	/* private */
	etop_http_allocator alloc_;
} etop_http_response;

/* A reusable connection cache (keep-alive, TLS sessions) for one thread. */
typedef struct etop_http_client etop_http_client;

/* Fills *req with zeros and the defaults above. */
extern void etop_http_request_init(etop_http_request *req);

/* NULL if out of memory.  Destroy with etop_http_client_destroy. */
extern etop_http_client *etop_http_client_create(void);
extern void etop_http_client_destroy(etop_http_client *client);

/*
 * Performs the request (client may be NULL: a one-off connection).  Always
 * fills *resp, which must then be released with etop_http_response_free,
 * whatever the result.  Returns resp->error.
 */
extern etop_http_error etop_http_perform(etop_http_client *client,
										 const etop_http_request *req,
										 etop_http_response *resp);
extern void etop_http_response_free(etop_http_response *resp);

/* "ok", "http_4xx", "http_5xx", "timeout", "connect", "too_large",
 * "transport", "aborted" */
extern const char *etop_http_error_name(etop_http_error err);

/*
 * The URL of the Link header entry with this rel ("next", "last", ...),
 * copied into out; false if absent or longer than outlen - 1.
 */
extern bool etop_http_link_find(const char *link, const char *rel,
								char *out, size_t outlen);

/* Retry-After value (delta-seconds or HTTP-date) -> seconds from now, -1 if
 * unparsable; a date in the past gives 0, anything beyond a year a year. */
extern long etop_http_parse_retry_after(const char *value, long now_epoch);

/*
 * Backoff before retry number retry (1 = first retry): base * 2^(retry-1)
 * capped at max, then "equal jitter" — a value in [d/2, d].  *seed is an
 * xorshift state (never 0).
 */
extern long etop_http_backoff_ms(int retry, long base_ms, long max_ms,
								 unsigned int *seed);

/*
 * If line[0..len) — one response header line as libcurl hands it over: not
 * NUL-terminated, CR LF included or not — is header name (compared without
 * case), points *value at its value inside line, without leading or
 * trailing blanks, CR or LF, sets *vlen and returns true.
 */
extern bool etop_http_header_value(const char *line, size_t len, const char *name,
								   const char **value, size_t *vlen);

/* scheme://host[:port]/path of url — no userinfo, query or fragment — for
 * logs and messages.  Writes "(invalid URL)" if it cannot be parsed. */
extern void etop_http_sanitize_url(const char *url, char *out, size_t outlen);

/* curl_global_init, once per process (called lazily by the functions above;
 * call it early, e.g. from _PG_init, if other threads may exist). */
extern void etop_http_global_init(void);

#endif							/* ETOP_HTTP_CLIENT_H */
