/*
 * fuzz_http.c — libFuzzer harness for the pure helpers of the HTTP client
 * (src/http_client.c): etop_http_link_find, etop_http_sanitize_url,
 * etop_http_parse_retry_after, etop_http_backoff_ms and
 * etop_http_header_value (the header-line parser of the libcurl header
 * callback).  No request is ever made.
 *
 * SOURCES: src/http_client.c
 * LIBS: -lcurl
 *
 * Input layout (fuzz.h readers; zeros once the input runs out):
 *   u8 link_outlen, u16 url_outlen, u64 now (mod 2^33: "now" up to 2242),
 *   u32 retry, fz_long base, fz_long max, u32 seed,
 *   then NUL-separated strings: Link header, rel, URL, Retry-After value,
 *   header name, and the rest: header lines, each ending at '\n'.
 *
 * Invariants, beyond "no sanitizer report, no leak":
 *   link_find   true only with a terminated URL within outlen that appears as
 *               "<url>" in the header, with rel in the parameters after it;
 *               the same URL with outlen = strlen + 1, false with one less;
 *   sanitize    always terminated within outlen, a prefix of the untruncated
 *               result; that is "(invalid URL)" or scheme://host[:port]/path
 *               with no userinfo ('@' before the path), query, fragment or
 *               control character; outlen 0 writes nothing;
 *   retry_after -1 or >= 0, at most 365 days in either form (the caller
 *               multiplies by 1000); plain digits always parse;
 *   backoff     in [d/2, d] with d = base * 2^(retry-1) capped at max (and
 *               at LONG_MAX); the seed stays non-zero;
 *   header      true exactly when the line starts with "name:" (any case);
 *               the value lies inside the line, without leading blanks or
 *               trailing blanks, CR or LF, and only those were cut off.
 */
#include <limits.h>
#include <strings.h>

#include "fuzz.h"

#include "etop/http_client.h"

#define BIG 8192

static void
check_link(const char *link, const char *rel, size_t outlen)
{
	char	   *out = malloc(outlen ? outlen : 1);
	char	   *full = malloc(BIG);
	bool		ok,
				ok_full;

	FUZZ_ASSERT(out != NULL && full != NULL);
	ok = etop_http_link_find(link, rel, out, outlen);
	ok_full = etop_http_link_find(link, rel, full, BIG);
	if (outlen == 0 || rel[0] == '\0')
		FUZZ_ASSERT(!ok);
	if (ok_full)
	{
		size_t		n = strlen(full);
		char	   *bracketed = malloc(n + 3);
		const char *at;
		const char *params;
		const char *next;

		FUZZ_ASSERT(n < BIG && bracketed != NULL);
		FUZZ_ASSERT(strchr(full, '>') == NULL);
		bracketed[0] = '<';
		memcpy(bracketed + 1, full, n);
		bracketed[n + 1] = '>';
		bracketed[n + 2] = '\0';
		/* some "<url>" in the header has rel among the parameters after it */
		{
			size_t		rlen = strlen(rel);
			bool		found = false;

			for (at = strstr(link, bracketed); at != NULL && !found;
				 at = strstr(at + 1, bracketed))
			{
				size_t		plen;

				params = at + n + 2;
				next = strchr(params, '<');
				plen = next ? (size_t) (next - params) : strlen(params);
				for (size_t i = 0; i + rlen <= plen && !found; i++)
					found = strncasecmp(params + i, rel, rlen) == 0;
			}
			FUZZ_ASSERT(found);
		}
		free(bracketed);

		/* exactly big enough works, one byte less does not */
		{
			char	   *exact = malloc(n + 1);

			FUZZ_ASSERT(exact != NULL);
			FUZZ_ASSERT(etop_http_link_find(link, rel, exact, n + 1));
			FUZZ_ASSERT(strcmp(exact, full) == 0);
			if (n > 0)
				FUZZ_ASSERT(!etop_http_link_find(link, rel, exact, n));
			free(exact);
		}
		FUZZ_ASSERT(ok == (outlen > n));
		if (ok)
			FUZZ_ASSERT(strcmp(out, full) == 0);
	}
	else
		FUZZ_ASSERT(!ok);
	free(out);
	free(full);
}

static void
check_sanitize(const char *url, size_t outlen)
{
	char	   *full = malloc(BIG);
	char	   *out = malloc(outlen ? outlen : 1);
	size_t		n;

	FUZZ_ASSERT(full != NULL && out != NULL);
	etop_http_sanitize_url(url, full, BIG);
	FUZZ_ASSERT(fz_terminated(full, BIG));
	n = strlen(full);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT((unsigned char) full[i] >= 0x20 && full[i] != 0x7F);
	if (strcmp(full, "(invalid URL)") != 0)
	{
		const char *authority = strstr(full, "://");
		const char *path;

		FUZZ_ASSERT(authority != NULL);
		authority += 3;
		path = strchr(authority, '/');
		FUZZ_ASSERT(path != NULL);
		FUZZ_ASSERT(memchr(authority, '@', (size_t) (path - authority)) == NULL);
		FUZZ_ASSERT(strchr(full, '?') == NULL && strchr(full, '#') == NULL);
	}

	out[0] = 'X';
	etop_http_sanitize_url(url, out, outlen);
	if (outlen == 0)
		FUZZ_ASSERT(out[0] == 'X');
	else
	{
		size_t		k = n < outlen - 1 ? n : outlen - 1;

		FUZZ_ASSERT(fz_terminated(out, outlen));
		FUZZ_ASSERT(strlen(out) == k && memcmp(out, full, k) == 0);
	}
	free(full);
	free(out);
}

static void
check_retry_after(const char *value, long now)
{
	long		r = etop_http_parse_retry_after(value, now);
	const char *p = value;

	FUZZ_ASSERT(r >= -1);
	/* at most a year, either form (etop_http_perform multiplies by 1000) */
	FUZZ_ASSERT(r <= 365L * 86400L);
	while (*p == ' ' || *p == '\t')
		p++;
	/* digits: delta-seconds, which always parse when nothing follows */
	if (*p >= '0' && *p <= '9' && p[strspn(p, "0123456789")] == '\0')
		FUZZ_ASSERT(r >= 0);
	FUZZ_ASSERT(etop_http_parse_retry_after(value, now) == r);
}

static void
check_backoff(int retry, long base, long max, unsigned int seed)
{
	unsigned int s = seed;
	long		r = etop_http_backoff_ms(retry, base, max, &s);
	__int128	d = base > 0 ? base : 0;

	/* d = min(base * 2^(retry-1), max when > 0, LONG_MAX), in 128 bits */
	for (int i = 1; i < retry && d > 0 && d < LONG_MAX && (max <= 0 || d < max); i++)
		d *= 2;
	if (d > LONG_MAX)
		d = LONG_MAX;
	if (max > 0 && d > max)
		d = max;

	FUZZ_ASSERT(s != 0);
	FUZZ_ASSERT(r >= (long) (d / 2) && r <= (long) d);
}

static void
check_header(const char *line, size_t len, const char *name, long now)
{
	const char *value = NULL;
	size_t		vlen = 0;
	size_t		n = strlen(name);
	bool		ok = etop_http_header_value(line, len, name, &value, &vlen);
	bool		expect = len > n && line[n] == ':';

	for (size_t i = 0; i < n && expect && i < len; i++)
		expect = line[i] != '\0' && strncasecmp(line + i, name + i, 1) == 0;
	FUZZ_ASSERT(ok == expect);
	if (!ok)
		return;
	FUZZ_ASSERT(value >= line + n + 1 && value + vlen <= line + len);
	for (const char *c = line + n + 1; c < value; c++)
		FUZZ_ASSERT(*c == ' ' || *c == '\t');
	for (const char *c = value + vlen; c < line + len; c++)
		FUZZ_ASSERT(*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n');
	if (vlen > 0)
	{
		char		last = value[vlen - 1];

		FUZZ_ASSERT(value[0] != ' ' && value[0] != '\t');
		FUZZ_ASSERT(last != ' ' && last != '\t' && last != '\r' && last != '\n');
	}

	/* what read_header() does with the value next */
	{
		char	   *v = malloc(vlen + 1);

		FUZZ_ASSERT(v != NULL);
		memcpy(v, value, vlen);
		v[vlen] = '\0';
		if (strcasecmp(name, "Retry-After") == 0 && vlen < 128)
			check_retry_after(v, now);
		else if (strcasecmp(name, "Link") == 0)
			check_link(v, "next", 256);
		free(v);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = fz_init(data, size);
	size_t		link_outlen = fz_u8(&in);
	size_t		url_outlen = (size_t) fz_uint(&in, 2) % 600;
	long		now = (long) (fz_uint(&in, 8) % (1ULL << 33));
	int			retry = (int) (uint32_t) fz_uint(&in, 4);
	long		base = fz_long(&in);
	long		max = fz_long(&in);
	unsigned int seed = (unsigned int) fz_uint(&in, 4);
	char	   *link = fz_str(&in, 4096);
	char	   *rel = fz_str(&in, 64);
	char	   *url = fz_str(&in, 4096);
	char	   *retry_after = fz_str(&in, 256);
	char	   *name = fz_str(&in, 64);

	check_link(link, rel, link_outlen);
	check_link(link, "next", link_outlen);
	check_sanitize(url, url_outlen);
	check_retry_after(retry_after, now);
	check_backoff(retry, base, max, seed);

	/* the rest: header lines as libcurl delivers them (exact-size, no NUL) */
	while (in.n > 0)
	{
		size_t		len = 0;
		const uint8_t *p;
		char	   *line;

		while (len < in.n && in.p[len] != '\n')
			len++;
		if (len < in.n)
			len++;				/* with its '\n' */
		p = fz_bytes(&in, len, &len);
		line = malloc(len ? len : 1);
		FUZZ_ASSERT(line != NULL);
		memcpy(line, p, len);
		check_header(line, len, "Retry-After", now);
		check_header(line, len, "Link", now);
		check_header(line, len, name, now);
		free(line);
	}

	/* fixed edge cases */
	FUZZ_ASSERT(etop_http_parse_retry_after(NULL, now) == -1);
	FUZZ_ASSERT(!etop_http_link_find(NULL, "next", link, 1));

	free(link);
	free(rel);
	free(url);
	free(retry_after);
	free(name);
	return 0;
}
