/*
 * http_client.c — etop's shared HTTP client over libcurl (see
 * include/etop/http_client.h for the contract).
 *
 * Plain C without postgres.h, so the unit tests (tests/unit/
 * test_http_client.c) run it against the mock servers of tests/mock, and a
 * background worker can use it through the allocator / abort / sleep
 * callbacks.
 *
 * How a request runs: each attempt drives one easy handle through a multi
 * handle, polling at most every POLL_SLICE_MS so the abort callback is
 * checked even while connecting or while the server is silent (libcurl's own
 * progress callback alone may wait up to a second).  The body is collected
 * by write_body() up to max_response_bytes; the header callback keeps
 * Retry-After and Link.  After a failed attempt, classify() decides the
 * error category and whether it is worth retrying; the backoff is
 * exponential with equal jitter, never shorter than Retry-After, and a
 * Retry-After longer than retry_after_max_ms ends the retries at once.
 */
#include <curl/curl.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "etop/http_client.h"

#define DEFAULT_CONNECT_TIMEOUT_MS	10000L
#define DEFAULT_TIMEOUT_MS			60000L
#define DEFAULT_MAX_RESPONSE_BYTES	((size_t) 64 * 1024 * 1024)
#define DEFAULT_MAX_ATTEMPTS		4
#define DEFAULT_RETRY_BASE_MS		1000L
#define DEFAULT_RETRY_MAX_MS		30000L
#define DEFAULT_RETRY_AFTER_MAX_MS	120000L
#define DEFAULT_USER_AGENT			"etop/0.1 (libcurl)"
#define POLL_SLICE_MS				50
#define MAX_LINK_BYTES				65536
#define MAX_RETRY_AFTER_S			(365L * 86400L)	/* a longer Retry-After is a year */
#define MIN_SECRET_LEN				3

struct etop_http_client
{
	CURL	   *easy;
	CURLM	   *multi;
	unsigned int seed;
};

/* State of one attempt, shared with the libcurl callbacks. */
typedef struct attempt_state
{
	const etop_http_request *req;
	etop_http_response *resp;
	CURL	   *easy;
	size_t		cap;			/* bytes allocated for resp->body */
	size_t		max;			/* max_response_bytes */
	size_t		link_len;
	bool		too_large;
	bool		out_of_memory;
	bool		aborted;
} attempt_state;

static bool curl_ready = false;

void
etop_http_global_init(void)
{
	if (!curl_ready)
	{
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl_ready = true;
	}
}

static void *
malloc_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

static void
malloc_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long) ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void
etop_http_request_init(etop_http_request *req)
{
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	req->timeout_ms = DEFAULT_TIMEOUT_MS;
	req->max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES;
	req->max_attempts = DEFAULT_MAX_ATTEMPTS;
	req->retry_base_ms = DEFAULT_RETRY_BASE_MS;
	req->retry_max_ms = DEFAULT_RETRY_MAX_MS;
	req->retry_after_max_ms = DEFAULT_RETRY_AFTER_MAX_MS;
}

etop_http_client *
etop_http_client_create(void)
{
	etop_http_client *c;

	etop_http_global_init();
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->easy = curl_easy_init();
	c->multi = curl_multi_init();
	if (c->easy == NULL || c->multi == NULL)
	{
		etop_http_client_destroy(c);
		return NULL;
	}
	c->seed = (unsigned int) (now_ms() ^ ((long) getpid() << 16) ^ (long) (uintptr_t) c);
	if (c->seed == 0)
		c->seed = 0x9E3779B9u;
	return c;
}

void
etop_http_client_destroy(etop_http_client *client)
{
	if (client == NULL)
		return;
	if (client->easy)
		curl_easy_cleanup(client->easy);
	if (client->multi)
		curl_multi_cleanup(client->multi);
	free(client);
}

static void
release(etop_http_response *resp, char **ptr)
{
	if (*ptr != NULL)
		resp->alloc_.free(resp->alloc_.ctx, *ptr);
	*ptr = NULL;
}

void
etop_http_response_free(etop_http_response *resp)
{
	if (resp == NULL || resp->alloc_.free == NULL)
		return;
	release(resp, &resp->body);
	release(resp, &resp->link);
	resp->body_len = 0;
}

const char *
etop_http_error_name(etop_http_error err)
{
	switch (err)
	{
		case ETOP_HTTP_OK:
			return "ok";
		case ETOP_HTTP_4XX:
			return "http_4xx";
		case ETOP_HTTP_5XX:
			return "http_5xx";
		case ETOP_HTTP_TIMEOUT:
			return "timeout";
		case ETOP_HTTP_CONNECT:
			return "connect";
		case ETOP_HTTP_TOO_LARGE:
			return "too_large";
		case ETOP_HTTP_TRANSPORT:
			return "transport";
		case ETOP_HTTP_ABORTED:
			return "aborted";
	}
	return "unknown";
}

/* ---------------------------------------------------------------------
 * Small parsers (exported for the adapters and the unit tests)
 * --------------------------------------------------------------------- */

long
etop_http_parse_retry_after(const char *value, long now_epoch)
{
	const char *p = value;
	char	   *end;
	long		secs;
	time_t		when;

	if (value == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p >= '0' && *p <= '9')
	{
		secs = strtol(p, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end != '\0')
			return -1;
		if (secs > MAX_RETRY_AFTER_S)
			secs = MAX_RETRY_AFTER_S;
		return secs;
	}
	when = curl_getdate(p, NULL);
	if (when == (time_t) -1)
		return -1;
	if ((long) when <= now_epoch)
		return 0;
	/* dates up to the year 2^31 parse: the caller's "* 1000L" overflowed */
	secs = (long) when - now_epoch;
	return secs > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : secs;
}

static unsigned int
xorshift(unsigned int *state)
{
	unsigned int x = *state ? *state : 0x9E3779B9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

long
etop_http_backoff_ms(int retry, long base_ms, long max_ms, unsigned int *seed)
{
	long		d = base_ms > 0 ? base_ms : 0;
	long		half;
	int			i;

	if (max_ms > 0 && d > max_ms)
		d = max_ms;
	/* doubling saturates at LONG_MAX (and stops at once when d is 0) */
	for (i = 1; i < retry && d > 0 && d < LONG_MAX && (max_ms <= 0 || d < max_ms); i++)
		d = d > LONG_MAX / 2 ? LONG_MAX : d * 2;
	if (max_ms > 0 && d > max_ms)
		d = max_ms;
	half = d / 2;
	return half + (long) (xorshift(seed) % (unsigned long) (d - half + 1));
}

static bool
rel_matches(const char *params, size_t len, const char *rel)
{
	size_t		i = 0;
	size_t		rlen = strlen(rel);

	while (i + 3 <= len)
	{
		if (strncasecmp(params + i, "rel", 3) == 0 &&
			(i == 0 || params[i - 1] == ';' || params[i - 1] == ' ' || params[i - 1] == '\t'))
		{
			size_t		j = i + 3;
			size_t		vend;
			bool		quoted = false;

			while (j < len && (params[j] == ' ' || params[j] == '\t'))
				j++;
			if (j < len && params[j] == '=')
			{
				j++;
				while (j < len && (params[j] == ' ' || params[j] == '\t'))
					j++;
				if (j < len && params[j] == '"')
				{
					quoted = true;
					j++;
				}
				vend = j;
				while (vend < len && (quoted ? params[vend] != '"' : (params[vend] != ';' && params[vend] != ',' && params[vend] != ' ')))
					vend++;
				/* the value may list several relation types (never empty
				 * ones: rel="" matches nothing) */
				while (j < vend)
				{
					size_t		w = j;

					while (w < vend && params[w] != ' ')
						w++;
					if (w > j && w - j == rlen && strncasecmp(params + j, rel, rlen) == 0)
						return true;
					j = w;
					while (j < vend && params[j] == ' ')
						j++;
				}
			}
		}
		i++;
	}
	return false;
}

bool
etop_http_link_find(const char *link, const char *rel, char *out, size_t outlen)
{
	const char *p = link;

	if (link == NULL || rel == NULL || out == NULL || outlen == 0)
		return false;
	while ((p = strchr(p, '<')) != NULL)
	{
		const char *url = p + 1;
		const char *gt = strchr(url, '>');
		const char *next;

		if (gt == NULL)
			return false;
		next = strchr(gt + 1, '<');
		if (rel_matches(gt + 1, next ? (size_t) (next - gt - 1) : strlen(gt + 1), rel))
		{
			size_t		n = (size_t) (gt - url);

			if (n + 1 > outlen)
				return false;
			memcpy(out, url, n);
			out[n] = '\0';
			return true;
		}
		p = gt + 1;
	}
	return false;
}

void
etop_http_sanitize_url(const char *url, char *out, size_t outlen)
{
	CURLU	   *u;
	char	   *scheme = NULL,
			   *host = NULL,
			   *port = NULL,
			   *path = NULL;

	if (outlen == 0)
		return;
	etop_http_global_init();
	u = curl_url();
	if (url == NULL || u == NULL ||
		curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		snprintf(out, outlen, "(invalid URL)");
	else
	{
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
			port = NULL;
		if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
			path = NULL;
		snprintf(out, outlen, "%s://%s%s%s%s", scheme, host, port ? ":" : "",
				 port ? port : "", path ? path : "/");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	if (u)
		curl_url_cleanup(u);
}

/* ---------------------------------------------------------------------
 * libcurl callbacks
 * --------------------------------------------------------------------- */

static size_t
write_body(char *data, size_t size, size_t nmemb, void *arg)
{
	attempt_state *st = arg;
	etop_http_response *resp = st->resp;
	size_t		n = size * nmemb;
	size_t		need;

	if (n > st->max || resp->body_len > st->max - n)
	{
		st->too_large = true;
		return 0;
	}
	need = resp->body_len + n + 1;
	if (need > st->cap)
	{
		size_t		cap = st->cap ? st->cap : 16384;
		char	   *grown;
		curl_off_t	announced = -1;

		/* First chunk: size the buffer from Content-Length when there is one
		 * (one allocation, no copies, far fewer page faults for big pages). */
		if (st->cap == 0 &&
			curl_easy_getinfo(st->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
			announced > 0 && (size_t) announced < st->max && (size_t) announced + 1 >= need)
			cap = (size_t) announced + 1;
		while (cap < need)
			cap *= 2;
		if (cap > st->max + 1)
			cap = st->max + 1;
		grown = resp->alloc_.alloc(resp->alloc_.ctx, cap);
		if (grown == NULL)
		{
			st->out_of_memory = true;
			return 0;
		}
		if (resp->body_len > 0)
			memcpy(grown, resp->body, resp->body_len);
		release(resp, &resp->body);
		resp->body = grown;
		st->cap = cap;
	}
	memcpy(resp->body + resp->body_len, data, n);
	resp->body_len += n;
	resp->body[resp->body_len] = '\0';
	return n;
}

bool
etop_http_header_value(const char *line, size_t len, const char *name,
					   const char **value, size_t *vlen)
{
	size_t		n = strlen(name);
	size_t		end = len;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (*line == ' ' || *line == '\t'))
	{
		line++;
		len--;
	}
	end = len;
	while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
					   line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	*value = line;
	*vlen = end;
	return true;
}

static size_t
read_header(char *line, size_t size, size_t nitems, void *arg)
{
	attempt_state *st = arg;
	etop_http_response *resp = st->resp;
	size_t		len = size * nitems;
	const char *value;
	size_t		vlen;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		/* a new response (redirect, 100 Continue): forget the previous one */
		resp->retry_after_s = -1;
		release(resp, &resp->link);
		st->link_len = 0;
	}
	else if (etop_http_header_value(line, len, "Retry-After", &value, &vlen))
	{
		char		buf[128];

		if (vlen < sizeof(buf))
		{
			memcpy(buf, value, vlen);
			buf[vlen] = '\0';
			resp->retry_after_s = etop_http_parse_retry_after(buf, (long) time(NULL));
		}
	}
	else if (etop_http_header_value(line, len, "Link", &value, &vlen) && vlen > 0 &&
			 st->link_len + vlen + 3 <= MAX_LINK_BYTES)
	{
		size_t		sep = st->link_len ? 2 : 0;
		char	   *joined = resp->alloc_.alloc(resp->alloc_.ctx, st->link_len + sep + vlen + 1);

		if (joined != NULL)
		{
			if (st->link_len)
			{
				memcpy(joined, resp->link, st->link_len);
				memcpy(joined + st->link_len, ", ", 2);
			}
			memcpy(joined + st->link_len + sep, value, vlen);
			joined[st->link_len + sep + vlen] = '\0';
			release(resp, &resp->link);
			resp->link = joined;
			st->link_len += sep + vlen;
		}
	}
	return len;
}

static int
progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	attempt_state *st = arg;

	(void) dltotal;
	(void) dlnow;
	(void) ultotal;
	(void) ulnow;
	if (st->req->abort_cb && st->req->abort_cb(st->req->cb_arg))
	{
		st->aborted = true;
		return 1;				/* CURLE_ABORTED_BY_CALLBACK */
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * One attempt
 * --------------------------------------------------------------------- */

static bool
valid_method(const char *m)
{
	if (m == NULL || *m == '\0' || strlen(m) > 16)
		return false;
	for (; *m; m++)
		if (!((*m >= 'A' && *m <= 'Z') || (*m >= 'a' && *m <= 'z')))
			return false;
	return true;
}

static CURLcode
set_options(CURL *easy, const etop_http_request *req, struct curl_slist *headers,
			attempt_state *st, char *errbuf, long connect_ms, long timeout_ms)
{
	const char *m = req->method ? req->method : "GET";
	CURLcode	rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(easy, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET(CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, 5L);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) st->max);
	SET(CURLOPT_WRITEFUNCTION, write_body);
	SET(CURLOPT_WRITEDATA, st);
	SET(CURLOPT_HEADERFUNCTION, read_header);
	SET(CURLOPT_HEADERDATA, st);
	SET(CURLOPT_XFERINFOFUNCTION, progress);
	SET(CURLOPT_XFERINFODATA, st);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_USERAGENT, req->user_agent ? req->user_agent : DEFAULT_USER_AGENT);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_BUFFERSIZE, 131072L);
	/* TLS verification stays on unless a test explicitly turns it off */
	SET(CURLOPT_SSL_VERIFYPEER, req->tls_insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, req->tls_insecure ? 0L : 2L);
	if (req->ca_file)
		SET(CURLOPT_CAINFO, req->ca_file);

	if (strcasecmp(m, "GET") == 0)
		SET(CURLOPT_HTTPGET, 1L);
	else if (strcasecmp(m, "HEAD") == 0)
		SET(CURLOPT_NOBODY, 1L);
	else
	{
		if (strcasecmp(m, "POST") == 0)
			SET(CURLOPT_POST, 1L);
		else
			SET(CURLOPT_CUSTOMREQUEST, m);
		if (req->body != NULL || strcasecmp(m, "POST") == 0)
		{
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (req->body ? req->body_len : 0));
			SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
	}

	/* Credentials go through libcurl's auth options, never a literal header,
	 * so they are not forwarded when a redirect leaves the host. */
	if (req->basic_user && req->basic_password)
	{
		SET(CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, req->basic_user);
		SET(CURLOPT_PASSWORD, req->basic_password);
	}
	else if (req->bearer_token)
	{
		SET(CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
		SET(CURLOPT_XOAUTH2_BEARER, req->bearer_token);
	}
#undef SET
	return rc;
}

static CURLcode
run_attempt(etop_http_client *client, const etop_http_request *req,
			struct curl_slist *headers, attempt_state *st, char *errbuf,
			long connect_ms, long timeout_ms)
{
	CURL	   *easy = client->easy;
	CURLcode	result = CURLE_OK;
	CURLMcode	mc;
	CURLMsg    *msg;
	int			running = 1;
	int			left;
	char	   *ctype = NULL;

	curl_easy_reset(easy);
	st->easy = easy;
	errbuf[0] = '\0';
	result = set_options(easy, req, headers, st, errbuf, connect_ms, timeout_ms);
	if (result != CURLE_OK)
		return result;
	if (curl_multi_add_handle(client->multi, easy) != CURLM_OK)
		return CURLE_FAILED_INIT;

	for (;;)
	{
		mc = curl_multi_perform(client->multi, &running);
		if (mc != CURLM_OK || running == 0)
			break;
		if (req->abort_cb && req->abort_cb(req->cb_arg))
		{
			st->aborted = true;
			break;
		}
		mc = curl_multi_poll(client->multi, NULL, 0, POLL_SLICE_MS, NULL);
		if (mc != CURLM_OK)
			break;
	}

	if (st->aborted)
		result = CURLE_ABORTED_BY_CALLBACK;
	else if (mc != CURLM_OK)
	{
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_multi_strerror(mc));
		result = CURLE_FAILED_INIT;
	}
	else
	{
		result = CURLE_GOT_NOTHING;
		while ((msg = curl_multi_info_read(client->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
				result = msg->data.result;
	}
	curl_multi_remove_handle(client->multi, easy);

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st->resp->status);
	if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		snprintf(st->resp->content_type, sizeof(st->resp->content_type), "%s", ctype);
	return result;
}

static const char *
reason_phrase(long status)
{
	switch (status)
	{
		case 400:
			return "Bad Request";
		case 401:
			return "Unauthorized";
		case 403:
			return "Forbidden";
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 408:
			return "Request Timeout";
		case 409:
			return "Conflict";
		case 413:
			return "Content Too Large";
		case 422:
			return "Unprocessable Content";
		case 429:
			return "Too Many Requests";
		case 500:
			return "Internal Server Error";
		case 501:
			return "Not Implemented";
		case 502:
			return "Bad Gateway";
		case 503:
			return "Service Unavailable";
		case 504:
			return "Gateway Timeout";
	}
	return status >= 500 ? "Server Error" : "Client Error";
}

/*
 * The error category of an attempt, a detail text, and whether another
 * attempt may succeed.
 */
static etop_http_error
classify(CURLcode rc, attempt_state *st, const char *errbuf, long connect_ms,
		 long timeout_ms, bool connected, char *detail, size_t dlen, bool *retryable)
{
	long		status = st->resp->status;

	*retryable = false;
	if (st->aborted || rc == CURLE_ABORTED_BY_CALLBACK)
	{
		snprintf(detail, dlen, "aborted");
		return ETOP_HTTP_ABORTED;
	}
	if (st->too_large || rc == CURLE_FILESIZE_EXCEEDED)
	{
		snprintf(detail, dlen, "response body exceeds the limit of %zu bytes", st->max);
		return ETOP_HTTP_TOO_LARGE;
	}
	if (st->out_of_memory)
	{
		snprintf(detail, dlen, "out of memory reading the response");
		return ETOP_HTTP_TRANSPORT;
	}
	switch (rc)
	{
		case CURLE_OK:
			if (status >= 400)
			{
				snprintf(detail, dlen, "HTTP %ld %s", status, reason_phrase(status));
				*retryable = status == 408 || status == 429 ||
					(status >= 500 && status != 501 && status != 505);
				return status >= 500 ? ETOP_HTTP_5XX : ETOP_HTTP_4XX;
			}
			detail[0] = '\0';
			return ETOP_HTTP_OK;
		case CURLE_OPERATION_TIMEDOUT:
			*retryable = true;
			if (!connected)
				snprintf(detail, dlen, "connect timed out after %ld ms", connect_ms);
			else
				snprintf(detail, dlen, "timed out after %ld ms", timeout_ms);
			return ETOP_HTTP_TIMEOUT;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
			*retryable = true;
			snprintf(detail, dlen, "could not connect: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
			return ETOP_HTTP_CONNECT;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
			snprintf(detail, dlen, "TLS verification failed: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
			return ETOP_HTTP_CONNECT;
		case CURLE_PARTIAL_FILE:
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			*retryable = true;
			snprintf(detail, dlen, "connection dropped: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
			return ETOP_HTTP_TRANSPORT;
		default:
			snprintf(detail, dlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
			return ETOP_HTTP_TRANSPORT;
	}
}

/* Replace every occurrence of secret in msg by "***" (never longer). */
static void
scrub(char *msg, const char *secret, size_t slen)
{
	char	   *hit;

	if (secret == NULL || slen < MIN_SECRET_LEN)
		return;
	while ((hit = strstr(msg, secret)) != NULL)
	{
		memcpy(hit, "***", 3);
		memmove(hit + 3, hit + slen, strlen(hit + slen) + 1);
	}
}

static bool
sensitive_header(const char *h, size_t namelen)
{
	static const char *const words[] = {"authorization", "key", "secret", "token",
	"cookie", "password", "signature", NULL};
	int			i;
	size_t		j;

	for (i = 0; words[i]; i++)
	{
		size_t		wl = strlen(words[i]);

		for (j = 0; j + wl <= namelen; j++)
			if (strncasecmp(h + j, words[i], wl) == 0)
				return true;
	}
	return false;
}

/* Remove anything secret that could have slipped into the message. */
static void
scrub_message(char *msg, const etop_http_request *req)
{
	const char *const *h;
	CURLU	   *u;
	static const CURLUPart parts[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_QUERY,
	CURLUPART_FRAGMENT};
	size_t		i;

	if (req->basic_password)
		scrub(msg, req->basic_password, strlen(req->basic_password));
	if (req->basic_user)
		scrub(msg, req->basic_user, strlen(req->basic_user));
	if (req->bearer_token)
		scrub(msg, req->bearer_token, strlen(req->bearer_token));
	for (h = req->headers; h && *h; h++)
	{
		const char *colon = strchr(*h, ':');

		if (colon && sensitive_header(*h, (size_t) (colon - *h)))
		{
			const char *v = colon + 1;

			while (*v == ' ')
				v++;
			scrub(msg, v, strlen(v));
		}
	}
	u = req->url ? curl_url() : NULL;
	if (u && curl_url_set(u, CURLUPART_URL, req->url, 0) == CURLUE_OK)
	{
		for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		{
			char	   *v = NULL;

			if (curl_url_get(u, parts[i], &v, 0) == CURLUE_OK && v)
				scrub(msg, v, strlen(v));
			curl_free(v);
		}
	}
	if (u)
		curl_url_cleanup(u);
}

static bool
wait_before_retry(const etop_http_request *req, long ms)
{
	if (req->abort_cb && req->abort_cb(req->cb_arg))
		return false;
	if (req->sleep_cb)
		return req->sleep_cb(req->cb_arg, ms) &&
			!(req->abort_cb && req->abort_cb(req->cb_arg));
	while (ms > 0)
	{
		long		slice = ms < POLL_SLICE_MS ? ms : POLL_SLICE_MS;
		struct timespec ts;

		ts.tv_sec = slice / 1000;
		ts.tv_nsec = (slice % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		ms -= slice;
		if (req->abort_cb && req->abort_cb(req->cb_arg))
			return false;
	}
	return true;
}

etop_http_error
etop_http_perform(etop_http_client *client, const etop_http_request *req,
				  etop_http_response *resp)
{
	etop_http_client *own = NULL;
	struct curl_slist *headers = NULL;
	const char *const *h;
	bool		have_expect = false;
	char		errbuf[CURL_ERROR_SIZE];
	char		detail[CURL_ERROR_SIZE + 64];
	char		where[256];
	const char *note = "";
	char		notebuf[128];
	etop_http_error err = ETOP_HTTP_TRANSPORT;
	long		start = now_ms();
	long		connect_ms,
				timeout_ms;
	int			max_attempts;
	long		base_ms,
				max_ms,
				ra_max_ms;
	int			attempt;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	if (req != NULL && req->allocator != NULL && req->allocator->alloc && req->allocator->free)
		resp->alloc_ = *req->allocator;
	else
	{
		resp->alloc_.alloc = malloc_alloc;
		resp->alloc_.free = malloc_free;
	}
	snprintf(detail, sizeof(detail), "invalid request");
	if (req == NULL || req->url == NULL)
		goto done;
	if (!valid_method(req->method ? req->method : "GET"))
	{
		snprintf(detail, sizeof(detail), "invalid HTTP method");
		goto done;
	}
	etop_http_global_init();
	if (client == NULL)
	{
		own = client = etop_http_client_create();
		if (client == NULL)
		{
			snprintf(detail, sizeof(detail), "out of memory creating the HTTP client");
			goto done;
		}
	}

	for (h = req->headers; h && *h; h++)
	{
		struct curl_slist *next;

		if (strncasecmp(*h, "Expect:", 7) == 0)
			have_expect = true;
		next = curl_slist_append(headers, *h);
		if (next == NULL)
		{
			snprintf(detail, sizeof(detail), "out of memory building the request");
			goto done;
		}
		headers = next;
	}
	if (!have_expect && req->body != NULL)
	{
		/* no "100 Continue" round trip before sending a body */
		struct curl_slist *next = curl_slist_append(headers, "Expect:");

		if (next == NULL)
			goto done;
		headers = next;
	}

	connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	max_attempts = req->max_attempts > 0 ? req->max_attempts : DEFAULT_MAX_ATTEMPTS;
	base_ms = req->retry_base_ms > 0 ? req->retry_base_ms : DEFAULT_RETRY_BASE_MS;
	max_ms = req->retry_max_ms > 0 ? req->retry_max_ms : DEFAULT_RETRY_MAX_MS;
	ra_max_ms = req->retry_after_max_ms > 0 ? req->retry_after_max_ms : DEFAULT_RETRY_AFTER_MAX_MS;

	for (attempt = 1;; attempt++)
	{
		attempt_state st;
		CURLcode	rc;
		bool		retryable;
		long		delay;
		curl_off_t	connect_us = 0;

		memset(&st, 0, sizeof(st));
		st.req = req;
		st.resp = resp;
		st.max = req->max_response_bytes > 0 ? req->max_response_bytes : DEFAULT_MAX_RESPONSE_BYTES;
		release(resp, &resp->body);
		release(resp, &resp->link);
		resp->body_len = 0;
		resp->status = 0;
		resp->retry_after_s = -1;
		resp->content_type[0] = '\0';
		resp->attempts = attempt;

		if (req->abort_cb && req->abort_cb(req->cb_arg))
		{
			snprintf(detail, sizeof(detail), "aborted");
			err = ETOP_HTTP_ABORTED;
			break;
		}
		rc = run_attempt(client, req, headers, &st, errbuf, connect_ms, timeout_ms);
		curl_easy_getinfo(client->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
		err = classify(rc, &st, errbuf, connect_ms, timeout_ms,
					   connect_us > 0 || resp->status > 0, detail, sizeof(detail), &retryable);
		if (err == ETOP_HTTP_OK || !retryable || attempt >= max_attempts)
			break;

		delay = etop_http_backoff_ms(attempt, base_ms, max_ms, &client->seed);
		if (resp->retry_after_s >= 0)
		{
			long		ra_ms = resp->retry_after_s * 1000L;

			if (ra_ms > ra_max_ms)
			{
				snprintf(notebuf, sizeof(notebuf),
						 "; not retried: Retry-After %ld s exceeds the %ld s limit",
						 resp->retry_after_s, ra_max_ms / 1000);
				note = notebuf;
				break;
			}
			if (ra_ms > delay)
				delay = ra_ms;
		}
		if (!wait_before_retry(req, delay))
		{
			snprintf(detail, sizeof(detail), "aborted while waiting to retry");
			err = ETOP_HTTP_ABORTED;
			break;
		}
	}

done:
	resp->error = err;
	resp->elapsed_ms = now_ms() - start;
	if (err != ETOP_HTTP_OK)
	{
		char		tail[64] = "";
		char		attempts_txt[32] = "";
		char		full[1024];
		size_t		len;

		if (err != ETOP_HTTP_4XX && err != ETOP_HTTP_5XX)
		{
			/* a partial or absent body is no use to anyone */
			release(resp, &resp->body);
			resp->body_len = 0;
		}
		if (resp->retry_after_s >= 0 && (err == ETOP_HTTP_4XX || err == ETOP_HTTP_5XX))
			snprintf(tail, sizeof(tail), " (Retry-After: %ld s)", resp->retry_after_s);
		etop_http_sanitize_url(req ? req->url : NULL, where, sizeof(where));
		if (resp->attempts > 1)
			snprintf(attempts_txt, sizeof(attempts_txt), " after %d attempts", resp->attempts);
		snprintf(full, sizeof(full), "%s %s: %s%s%s%s",
				 req == NULL || req->method == NULL ? "GET" :
				 valid_method(req->method) ? req->method : "(invalid method)",
				 where, detail, tail,
				 attempts_txt, note);
		/* scrub before truncating, so no secret survives half-cut */
		if (req)
			scrub_message(full, req);
		len = strlen(full);
		if (len >= sizeof(resp->message))
			len = sizeof(resp->message) - 1;
		memcpy(resp->message, full, len);
		resp->message[len] = '\0';
	}
	curl_slist_free_all(headers);
	etop_http_client_destroy(own);
	return err;
}
