/*
 * test_http_client.c — the shared HTTP client against the mock servers of
 * tests/mock (started here with fork/exec python3, stopped with SIGTERM).
 *
 * SOURCES: src/http_client.c
 * LIBS: -lcurl
 *
 * Covers: success, Link paging, 401 (no retry, no credentials in the
 * message), 429 then success honouring Retry-After, 429 exhausted, 500/503
 * retried, a Retry-After beyond the limit, timeouts, dropped and empty
 * replies, too-large bodies (declared and streamed), the abort callback
 * (during a transfer and during a backoff wait), connection refused, TLS
 * verification (self-signed certificate refused by default), http_proxy from
 * the environment, bearer auth and
 * POST bodies, the allocator callback, and the small parsers.
 * Runs in a few seconds; the mocks exit by themselves after 60 s anyway.
 */
#include <curl/curl.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etop/http_client.h"
#include "unit.h"

#define CW_USER		"etopdemo+etopPublicKey"
#define CW_PASS		"etopPrivateKey"
#define CW_CLIENT	"clientId: 5e1a7e1c-0000-4000-8000-00000000e70b"
#define CW_API		"/v4_6_release/apis/3.0"

typedef struct mock
{
	pid_t		pid;
	int			port;
	char		base[64];
	char		dir[64];
} mock;

static const char *cw_headers[] = {CW_CLIENT, "Accept: application/json", NULL};

static long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long) ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* $ETOP_PYTHON, else Debian's interpreter (a version-manager shim on PATH
 * can take seconds to start), else python3 from PATH. */
static const char *
python(void)
{
	const char *p = getenv("ETOP_PYTHON");

	if (p && *p)
		return p;
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static const char *
mock_dir(void)
{
	const char *d = getenv("ETOP_MOCK_DIR");

	return d ? d : "../mock";
}

/* Starts tests/mock/<script> on a free port; false if it did not come up. */
static bool
mock_start(mock *m, const char *script, const char *extra1, const char *extra2)
{
	char		script_path[512];
	char		port_file[128];
	long		deadline;
	FILE	   *f;

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "/tmp/etop-http-test-XXXXXX");
	if (mkdtemp(m->dir) == NULL)
		return false;
	snprintf(port_file, sizeof(port_file), "%s/port", m->dir);
	snprintf(script_path, sizeof(script_path), "%s/%s", mock_dir(), script);
	m->pid = fork();
	if (m->pid < 0)
		return false;
	if (m->pid == 0)
	{
		const char *argv[12];
		int			n = 0;

		argv[n++] = python();
		argv[n++] = script_path;
		argv[n++] = "--port";
		argv[n++] = "0";
		argv[n++] = "--port-file";
		argv[n++] = port_file;
		argv[n++] = "--max-seconds";
		argv[n++] = "60";
		if (extra1)
			argv[n++] = extra1;
		if (extra2)
			argv[n++] = extra2;
		argv[n] = NULL;
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execvp(argv[0], (char *const *) argv);
		_exit(127);
	}
	deadline = mono_ms() + 20000;
	while (mono_ms() < deadline)
	{
		int			status;

		if ((f = fopen(port_file, "r")) != NULL)
		{
			int			ok = fscanf(f, "%d", &m->port);

			fclose(f);
			if (ok == 1 && m->port > 0)
			{
				snprintf(m->base, sizeof(m->base), "http://127.0.0.1:%d", m->port);
				return true;
			}
		}
		if (waitpid(m->pid, &status, WNOHANG) == m->pid)
		{
			m->pid = 0;
			return false;
		}
		usleep(20000);
	}
	return false;
}

static void
mock_stop(mock *m)
{
	char		path[128];
	int			status = 0;

	if (m->pid > 0)
	{
		kill(m->pid, SIGTERM);
		waitpid(m->pid, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	snprintf(path, sizeof(path), "%s/port", m->dir);
	unlink(path);
	rmdir(m->dir);
}

/* POST /__control with a JSON body (through the client under test). */
static void
control(mock *m, const char *json)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[128];
	const char *hdrs[] = {"Content-Type: application/json", NULL};

	etop_http_request_init(&req);
	snprintf(url, sizeof(url), "%s/__control", m->base);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = json;
	req.body_len = strlen(json);
	req.max_attempts = 1;
	etop_http_perform(NULL, &req, &resp);
	if (resp.status != 200)
		fprintf(stderr, "control %s failed: %s\n", json, resp.message);
	etop_http_response_free(&resp);
}

static void
cw_request(etop_http_request *req, char *url, size_t urllen, mock *m, const char *rel)
{
	etop_http_request_init(req);
	snprintf(url, urllen, "%s%s/%s", m->base, CW_API, rel);
	req->url = url;
	req->headers = cw_headers;
	req->basic_user = CW_USER;
	req->basic_password = CW_PASS;
	req->retry_base_ms = 10;
	req->retry_max_ms = 40;
	req->connect_timeout_ms = 2000;
	req->timeout_ms = 5000;
}

static int
count_of(const char *hay, const char *needle)
{
	int			n = 0;
	const char *p = hay;

	while (p && (p = strstr(p, needle)) != NULL)
	{
		n++;
		p += strlen(needle);
	}
	return n;
}

/* Sleep callback that does not sleep: records what it was asked to wait. */
typedef struct sleeps
{
	int			n;
	long		ms[16];
} sleeps;

static bool
record_sleep(void *arg, long ms)
{
	sleeps	   *s = arg;

	if (s->n < 16)
		s->ms[s->n] = ms;
	s->n++;
	return true;
}

/* Abort callback: true once the deadline (ms, monotonic) has passed. */
static bool
abort_after(void *arg)
{
	return mono_ms() >= *(long *) arg;
}

/* Counting allocator. */
typedef struct counting
{
	int			allocs;
	int			frees;
} counting;

static void *
count_alloc(void *ctx, size_t size)
{
	((counting *) ctx)->allocs++;
	return malloc(size);
}

static void
count_free(void *ctx, void *ptr)
{
	((counting *) ctx)->frees++;
	free(ptr);
}

static bool
no_secret(const char *msg)
{
	return strstr(msg, CW_PASS) == NULL && strstr(msg, "PublicKey") == NULL &&
		strstr(msg, "Authorization") == NULL && strstr(msg, "sk-test") == NULL &&
		strstr(msg, "Basic ") == NULL && strstr(msg, "Bearer") == NULL;
}

static void
test_parsers(void)
{
	char		out[256];
	unsigned int seed = 12345;
	int			i;
	const char *link = "<http://h/x?page=3&pageSize=40>; rel=\"next\", "
		"<http://h/x?page=4&pageSize=40>; rel=\"last\", "
		"<http://h/x?page=1&pageSize=40>; rel=first";

	CHECK(etop_http_link_find(link, "next", out, sizeof(out)));
	CHECK_STR(out, "http://h/x?page=3&pageSize=40");
	CHECK(etop_http_link_find(link, "last", out, sizeof(out)));
	CHECK_STR(out, "http://h/x?page=4&pageSize=40");
	CHECK(etop_http_link_find(link, "first", out, sizeof(out)));
	CHECK_STR(out, "http://h/x?page=1&pageSize=40");
	CHECK(!etop_http_link_find(link, "prev", out, sizeof(out)));
	CHECK(!etop_http_link_find(link, "next", out, 10));	/* too long */
	CHECK(etop_http_link_find("<http://a/b>; rel=\"prev next\"", "next", out, sizeof(out)));
	CHECK(!etop_http_link_find(NULL, "next", out, sizeof(out)));

	CHECK(etop_http_parse_retry_after("60", 0) == 60);
	CHECK(etop_http_parse_retry_after(" 7 ", 0) == 7);
	CHECK(etop_http_parse_retry_after("soon", 0) == -1);
	CHECK(etop_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470L) == 10);
	CHECK(etop_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490L) == 0);

	for (i = 1; i <= 8; i++)
	{
		long		d = etop_http_backoff_ms(i, 100, 1000, &seed);
		long		full = 100L << (i - 1);

		if (full > 1000)
			full = 1000;
		CHECK(d >= full / 2 && d <= full);
	}

	etop_http_sanitize_url("https://user:pw@example.com:8443/a/b?key=secret#frag", out, sizeof(out));
	CHECK_STR(out, "https://example.com:8443/a/b");
	etop_http_sanitize_url("::not a url::", out, sizeof(out));
	CHECK_STR(out, "(invalid URL)");
	CHECK_STR(etop_http_error_name(ETOP_HTTP_TOO_LARGE), "too_large");
}

static void
test_success_and_paging(mock *cw)
{
	etop_http_client *client = etop_http_client_create();
	etop_http_request req;
	etop_http_response resp;
	char		url[1024];
	int			pages = 0,
				tickets = 0;
	counting	cnt = {0, 0};
	etop_http_allocator alloc = {count_alloc, count_free, &cnt};

	CHECK(client != NULL);
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.allocator = &alloc;
	CHECK(etop_http_perform(client, &req, &resp) == ETOP_HTTP_OK);
	CHECK(resp.status == 200);
	CHECK(resp.attempts == 1);
	CHECK(resp.body && strstr(resp.body, "Contoso Dental Group") != NULL);
	CHECK(resp.body && resp.body[resp.body_len] == '\0');
	CHECK(strncmp(resp.content_type, "application/json", 16) == 0);
	CHECK(resp.message[0] == '\0');
	CHECK(count_of(resp.body, "\"identifier\":\"") >= 5);
	etop_http_response_free(&resp);
	CHECK(cnt.allocs > 0 && cnt.allocs == cnt.frees);

	/* Follow the Link header: 150 tickets in pages of 40 = 4 pages. */
	cw_request(&req, url, sizeof(url), cw, "service/tickets?pageSize=40");
	for (;;)
	{
		char		next[1024];

		if (etop_http_perform(client, &req, &resp) != ETOP_HTTP_OK)
		{
			fprintf(stderr, "paging: %s\n", resp.message);
			CHECK(false);
			etop_http_response_free(&resp);
			break;
		}
		pages++;
		tickets += count_of(resp.body, "\"recordType\":\"ServiceTicket\"");
		if (!etop_http_link_find(resp.link, "next", next, sizeof(next)))
		{
			CHECK(resp.link != NULL && strstr(resp.link, "rel=\"first\"") != NULL);
			etop_http_response_free(&resp);
			break;
		}
		etop_http_response_free(&resp);
		snprintf(url, sizeof(url), "%s", next);
	}
	CHECK(pages == 4);
	CHECK(tickets == 150);
	etop_http_client_destroy(client);
}

/* http_proxy from the environment is used (libcurl's default, kept): the
 * mock answers absolute-form requests like a forward proxy would. */
static void
test_env_proxy(mock *cw)
{
	etop_http_request req;
	etop_http_response resp;

	setenv("http_proxy", cw->base, 1);
	etop_http_request_init(&req);
	req.url = "http://psa.example.invalid" CW_API "/system/info";
	req.headers = cw_headers;
	req.basic_user = CW_USER;
	req.basic_password = CW_PASS;
	req.max_attempts = 1;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
	CHECK(resp.body && strstr(resp.body, "isCloud") != NULL);
	etop_http_response_free(&resp);
	unsetenv("http_proxy");
	CHECK(etop_http_perform(NULL, &req, &resp) != ETOP_HTTP_OK);	/* .invalid does not resolve */
	etop_http_response_free(&resp);
}

static void
test_401(mock *cw)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[256];

	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.basic_password = "etopPrivateKey-but-wrong";
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_4XX);
	CHECK(resp.status == 401);
	CHECK(resp.attempts == 1);	/* 401 is not retried */
	CHECK(resp.body && strstr(resp.body, "Unauthorized") != NULL);
	CHECK(strstr(resp.message, "HTTP 401 Unauthorized") != NULL);
	CHECK(strstr(resp.message, "/v4_6_release/apis/3.0/company/companies") != NULL);
	CHECK(no_secret(resp.message));
	CHECK(strstr(resp.message, "wrong") == NULL);
	etop_http_response_free(&resp);
}

static void
test_429(mock *cw)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[256];
	sleeps		s = {0};
	long		t0;

	/* Twice 429 with Retry-After: 1, then OK; the waits honour Retry-After. */
	control(cw, "{\"scenario\": \"429\", \"times\": 2, \"retry_after\": 1}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.sleep_cb = record_sleep;
	req.cb_arg = &s;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
	CHECK(resp.status == 200);
	CHECK(resp.attempts == 3);
	CHECK(s.n == 2);
	CHECK(s.ms[0] >= 1000 && s.ms[1] >= 1000);
	etop_http_response_free(&resp);

	/* The same with the built-in sleeper: really waits >= 1 s. */
	control(cw, "{\"scenario\": \"429\", \"times\": 1, \"retry_after\": 1}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	t0 = mono_ms();
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
	CHECK(mono_ms() - t0 >= 1000);
	CHECK(resp.attempts == 2);
	etop_http_response_free(&resp);

	/* Always 429: give up after max_attempts, keep status and Retry-After. */
	control(cw, "{\"scenario\": \"429\", \"retry_after\": 1}");
	memset(&s, 0, sizeof(s));
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.max_attempts = 4;
	req.sleep_cb = record_sleep;
	req.cb_arg = &s;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_4XX);
	CHECK(resp.status == 429);
	CHECK(resp.attempts == 4);
	CHECK(s.n == 3);
	CHECK(resp.retry_after_s == 1);
	CHECK(strstr(resp.message, "HTTP 429 Too Many Requests (Retry-After: 1 s) after 4 attempts") != NULL);
	CHECK(no_secret(resp.message));
	etop_http_response_free(&resp);

	/* Retry-After: 60 beyond a 10 s limit: no waiting, report at once. */
	control(cw, "{\"scenario\": \"429\", \"retry_after\": 60}");
	memset(&s, 0, sizeof(s));
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.retry_after_max_ms = 10000;
	req.sleep_cb = record_sleep;
	req.cb_arg = &s;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_4XX);
	CHECK(resp.attempts == 1 && s.n == 0);
	CHECK(resp.retry_after_s == 60);
	CHECK(strstr(resp.message, "exceeds the 10 s limit") != NULL);
	etop_http_response_free(&resp);
	control(cw, "{\"clear\": true}");
}

static void
test_5xx(mock *cw)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[256];
	sleeps		s = {0};

	control(cw, "{\"scenario\": \"500\", \"times\": 2}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.retry_base_ms = 100;
	req.retry_max_ms = 1000;
	req.sleep_cb = record_sleep;
	req.cb_arg = &s;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
	CHECK(resp.attempts == 3);
	CHECK(s.n == 2);
	/* exponential with equal jitter: [50,100] then [100,200] */
	CHECK(s.ms[0] >= 50 && s.ms[0] <= 100);
	CHECK(s.ms[1] >= 100 && s.ms[1] <= 200);
	etop_http_response_free(&resp);

	control(cw, "{\"scenario\": \"503\"}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.max_attempts = 3;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_5XX);
	CHECK(resp.status == 503 && resp.attempts == 3);
	CHECK(resp.body != NULL && strstr(resp.body, "ServiceUnavailable") != NULL);
	CHECK(strstr(resp.message, "HTTP 503 Service Unavailable after 3 attempts") != NULL);
	etop_http_response_free(&resp);
	control(cw, "{\"clear\": true}");
}

static void
test_timeout_and_drops(mock *cw)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[256];
	long		t0;

	/* A server that never answers: the total timeout ends the attempt. */
	control(cw, "{\"scenario\": \"hang\", \"delay\": 5}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.timeout_ms = 300;
	req.max_attempts = 2;
	t0 = mono_ms();
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TIMEOUT);
	CHECK(mono_ms() - t0 < 2000);
	CHECK(resp.attempts == 2);
	CHECK(resp.status == 0 && resp.body == NULL);
	CHECK(strstr(resp.message, "timed out after 300 ms after 2 attempts") != NULL);
	etop_http_response_free(&resp);

	/* Headers, then half the body, then the connection drops. */
	control(cw, "{\"scenario\": \"drop\", \"times\": 1}");
	cw_request(&req, url, sizeof(url), cw, "service/tickets?pageSize=100");
	req.max_attempts = 1;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TRANSPORT);
	CHECK(resp.body == NULL);
	CHECK(strstr(resp.message, "connection dropped") != NULL);
	etop_http_response_free(&resp);

	/* ... and a retry gets the whole page. */
	control(cw, "{\"scenario\": \"drop\", \"times\": 1}");
	cw_request(&req, url, sizeof(url), cw, "service/tickets?pageSize=100");
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
	CHECK(resp.attempts == 2);
	CHECK(count_of(resp.body, "\"recordType\":\"ServiceTicket\"") == 100);
	etop_http_response_free(&resp);

	/* The connection closes without any response. */
	control(cw, "{\"scenario\": \"close\", \"times\": 1}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.max_attempts = 1;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TRANSPORT);
	etop_http_response_free(&resp);
	control(cw, "{\"clear\": true}");
}

static void
test_too_large(mock *cw)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[256];

	/* Content-Length announces 32 MiB: refused before reading it. */
	control(cw, "{\"scenario\": \"huge\", \"times\": 1, \"size\": 33554432}");
	cw_request(&req, url, sizeof(url), cw, "service/tickets");
	req.max_response_bytes = 1 << 20;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TOO_LARGE);
	CHECK(resp.attempts == 1);	/* not retried */
	CHECK(resp.body == NULL && resp.body_len == 0);
	CHECK(strstr(resp.message, "exceeds the limit of 1048576 bytes") != NULL);
	etop_http_response_free(&resp);

	/* No Content-Length, the body just keeps coming: cut off while reading. */
	control(cw, "{\"scenario\": \"huge-stream\", \"times\": 1, \"size\": 33554432}");
	cw_request(&req, url, sizeof(url), cw, "service/tickets");
	req.max_response_bytes = 1 << 20;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TOO_LARGE);
	CHECK(resp.body == NULL);
	etop_http_response_free(&resp);

	/* A body exactly within the limit is fine. */
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.max_response_bytes = 1 << 20;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
	CHECK(resp.body_len < (1 << 20));
	etop_http_response_free(&resp);
	control(cw, "{\"clear\": true}");
}

static void
test_abort(mock *cw)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[256];
	long		deadline;
	long		t0;

	/* Abort while the server hangs (SIGTERM in a worker). */
	control(cw, "{\"scenario\": \"hang\", \"delay\": 10}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	req.timeout_ms = 20000;
	t0 = mono_ms();
	deadline = t0 + 200;
	req.abort_cb = abort_after;
	req.cb_arg = &deadline;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_ABORTED);
	CHECK(mono_ms() - t0 < 700);
	CHECK(resp.attempts == 1);
	CHECK(strstr(resp.message, "aborted") != NULL);
	etop_http_response_free(&resp);

	/* Abort during a long Retry-After wait (built-in sleeper). */
	control(cw, "{\"scenario\": \"429\", \"retry_after\": 30}");
	cw_request(&req, url, sizeof(url), cw, "company/companies");
	t0 = mono_ms();
	deadline = t0 + 300;
	req.abort_cb = abort_after;
	req.cb_arg = &deadline;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_ABORTED);
	CHECK(mono_ms() - t0 < 900);
	CHECK(strstr(resp.message, "aborted while waiting to retry") != NULL);
	etop_http_response_free(&resp);
	control(cw, "{\"clear\": true}");
}

static void
test_connect_refused(void)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[128];
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t	alen = sizeof(a);
	sleeps		s = {0};

	/* a port that was free a moment ago and has no listener */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *) &a, &alen) == 0);
	close(fd);
	etop_http_request_init(&req);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1.0/users?$select=id", ntohs(a.sin_port));
	req.url = url;
	req.bearer_token = "token-that-must-not-leak";
	req.max_attempts = 2;
	req.sleep_cb = record_sleep;
	req.cb_arg = &s;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_CONNECT);
	CHECK(resp.attempts == 2 && s.n == 1);
	CHECK(strstr(resp.message, "could not connect") != NULL);
	CHECK(strstr(resp.message, "token-that-must-not-leak") == NULL);
	CHECK(strstr(resp.message, "$select") == NULL);
	etop_http_response_free(&resp);

	etop_http_request_init(&req);
	req.url = "ftp://127.0.0.1/x";
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TRANSPORT);
	CHECK(resp.attempts == 1);
	etop_http_response_free(&resp);

	etop_http_request_init(&req);
	req.url = "http://127.0.0.1/";
	req.method = "GET\r\nX-Injected: 1";
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TRANSPORT);
	etop_http_response_free(&resp);
}

/*
 * TLS: a self-signed certificate is refused by default, accepted with its
 * certificate as ca_file, and with tls_insecure.  Skipped without openssl.
 */
static void
test_tls(void)
{
	char		dir[] = "/tmp/etop-tls-XXXXXX";
	char		cmd[1024],
				cert[128],
				key[128],
				certarg[160],
				keyarg[160],
				url[256];
	mock		m;
	etop_http_request req;
	etop_http_response resp;

	if (access("/usr/bin/openssl", X_OK) != 0 || mkdtemp(dir) == NULL)
	{
		fprintf(stderr, "test_tls: skipped (no openssl)\n");
		return;
	}
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
			 "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
			 "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1", key, cert);
	CHECK(system(cmd) == 0);
	snprintf(certarg, sizeof(certarg), "--tls-cert=%s", cert);
	snprintf(keyarg, sizeof(keyarg), "--tls-key=%s", key);
	if (mock_start(&m, "cw_mock.py", certarg, keyarg))
	{
		snprintf(url, sizeof(url), "https://127.0.0.1:%d%s/system/info", m.port, CW_API);
		etop_http_request_init(&req);
		req.url = url;
		req.headers = cw_headers;
		req.basic_user = CW_USER;
		req.basic_password = CW_PASS;
		req.max_attempts = 3;
		req.retry_base_ms = 10;
		CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_CONNECT);
		CHECK(resp.attempts == 1);	/* a verification failure is not retried */
		CHECK(strstr(resp.message, "TLS verification failed") != NULL);
		CHECK(no_secret(resp.message));
		etop_http_response_free(&resp);

		req.ca_file = cert;
		CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
		CHECK(resp.body && strstr(resp.body, "isCloud") != NULL);
		etop_http_response_free(&resp);

		req.ca_file = NULL;
		req.tls_insecure = true;
		CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
		etop_http_response_free(&resp);
		mock_stop(&m);
	}
	else
		CHECK(false);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

static void
test_bearer_post(mock *llm)
{
	etop_http_request req;
	etop_http_response resp;
	char		url[128];
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	const char *body = "{\"model\": \"gpt-4o\", \"response_format\": {\"type\": \"json_object\"}, "
		"\"messages\": [{\"role\": \"user\", \"content\": \"PROVIDED DATA:\\n"
		"{\\\"lifecycle_items\\\": [{\\\"name\\\": \\\"WS-ACCT-01\\\"}]}\"}]}";

	etop_http_request_init(&req);
	snprintf(url, sizeof(url), "%s/v1/chat/completions", llm->base);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = strlen(body);
	req.bearer_token = "sk-test-123";
	req.timeout_ms = 5000;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_OK);
	CHECK(resp.status == 200);
	CHECK(resp.body && strstr(resp.body, "chat.completion") != NULL);
	CHECK(resp.body && strstr(resp.body, "[Device: WS-ACCT-01]") != NULL);
	CHECK(resp.body && strstr(resp.body, "\"usage\"") != NULL);
	etop_http_response_free(&resp);

	req.bearer_token = "sk-test-wrong";
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_4XX);
	CHECK(resp.status == 401 && resp.attempts == 1);
	CHECK(no_secret(resp.message));
	etop_http_response_free(&resp);

	/* The slow LLM: the 60 s timeout scenario, scaled down. */
	control(llm, "{\"scenario\": \"slow\", \"delay\": 3}");
	req.bearer_token = "sk-test-123";
	req.timeout_ms = 250;
	req.max_attempts = 3;
	req.retry_base_ms = 10;
	CHECK(etop_http_perform(NULL, &req, &resp) == ETOP_HTTP_TIMEOUT);
	CHECK(resp.attempts == 3);
	etop_http_response_free(&resp);
	control(llm, "{\"clear\": true}");
}

int
main(void)
{
	mock		cw,
				llm;
	bool		cw_up,
				llm_up;

	/* the mocks are on 127.0.0.1: never via a proxy from the environment
	 * (test_env_proxy sets its own) */
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	signal(SIGPIPE, SIG_IGN);
	etop_http_global_init();

	test_parsers();
	test_connect_refused();

	cw_up = mock_start(&cw, "cw_mock.py", NULL, NULL);
	CHECK(cw_up);
	if (cw_up)
	{
		test_success_and_paging(&cw);
		test_401(&cw);
		test_env_proxy(&cw);
		test_429(&cw);
		test_5xx(&cw);
		test_timeout_and_drops(&cw);
		test_too_large(&cw);
		test_abort(&cw);
		mock_stop(&cw);
	}
	test_tls();
	llm_up = mock_start(&llm, "openai_mock.py", "--api-key", "sk-test-123");
	CHECK(llm_up);
	if (llm_up)
	{
		test_bearer_post(&llm);
		mock_stop(&llm);
	}
	curl_global_cleanup();
	UNIT_DONE();
}
