/*
 * test_sync_guard.c — the paging guard (repeated pages, repeated links,
 * page and record limits) and the JSON scan (nesting depth, \u0000 escapes).
 *
 * SOURCES: src/sync_guard.c
 */
#include <stdio.h>
#include <stdlib.h>

#include "etop/sync_guard.h"
#include "unit.h"

static long allocs = 0;

static void *
t_alloc(void *ctx, size_t size)
{
	(void) ctx;
	allocs++;
	return malloc(size);
}

static void
t_free(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

int
main(void)
{
	etop_guard_allocator a = {t_alloc, t_free, NULL};
	etop_paging_guard *g = etop_paging_guard_create(&a, 5, 100);
	long		no,
				earlier;

	/* distinct pages are fine, per endpoint */
	CHECK(etop_paging_page(g, "tickets", 10, 111, &no, &earlier) == ETOP_PAGE_OK && no == 1);
	CHECK(etop_paging_page(g, "tickets", 10, 222, &no, &earlier) == ETOP_PAGE_OK && no == 2);
	CHECK(etop_paging_page(g, "companies", 10, 111, &no, &earlier) == ETOP_PAGE_OK && no == 1);
	/* a page the endpoint had before: repeated, naming both pages */
	CHECK(etop_paging_page(g, "tickets", 10, 222, &no, &earlier) == ETOP_PAGE_REPEATED);
	CHECK(no == 3 && earlier == 2);
	CHECK(etop_paging_page(g, "tickets", 10, 111, &no, &earlier) == ETOP_PAGE_REPEATED && earlier == 1);
	/* a repeated page is not counted */
	CHECK(etop_paging_pages(g, "tickets") == 2);
	CHECK(etop_paging_records(g) == 30);
	/* same hash, other record count: another page */
	CHECK(etop_paging_page(g, "tickets", 9, 111, &no, &earlier) == ETOP_PAGE_OK && no == 3);
	/* empty pages never repeat */
	CHECK(etop_paging_page(g, "sites", 0, 5, &no, &earlier) == ETOP_PAGE_OK);
	CHECK(etop_paging_page(g, "sites", 0, 5, &no, &earlier) == ETOP_PAGE_OK && no == 2);
	/* page limit per endpoint: 5 */
	CHECK(etop_paging_page(g, "tickets", 1, 333, &no, &earlier) == ETOP_PAGE_OK && no == 4);
	CHECK(etop_paging_page(g, "tickets", 1, 334, &no, &earlier) == ETOP_PAGE_OK && no == 5);
	CHECK(etop_paging_page(g, "tickets", 1, 335, &no, &earlier) == ETOP_PAGE_TOO_MANY_PAGES && no == 6);
	/* record limit per run: 100 (41 so far) */
	CHECK(etop_paging_records(g) == 41);
	CHECK(etop_paging_page(g, "contacts", 59, 1, &no, &earlier) == ETOP_PAGE_OK);
	CHECK(etop_paging_page(g, "contacts", 1, 2, &no, &earlier) == ETOP_PAGE_TOO_MANY_RECORDS && no == 2);

	etop_paging_guard_destroy(g);
	g = etop_paging_guard_create(&a, 0, 0);
	/* links: the first URL (page 0), then next links */
	CHECK(etop_paging_link(g, "users", "https://g/v1.0/users?$top=999", &earlier) == ETOP_PAGE_OK);
	CHECK(etop_paging_page(g, "users", 50, 1, &no, &earlier) == ETOP_PAGE_OK);
	CHECK(etop_paging_link(g, "users", "https://g/v1.0/users?$skiptoken=A", &earlier) == ETOP_PAGE_OK);
	CHECK(etop_paging_page(g, "users", 23, 2, &no, &earlier) == ETOP_PAGE_OK);
	/* a cycle back to the first URL */
	CHECK(etop_paging_link(g, "users", "https://g/v1.0/users?$top=999", &earlier) == ETOP_PAGE_LINK_REPEATED);
	CHECK(earlier == 0);
	/* a link to itself: named by page 1 before */
	CHECK(etop_paging_link(g, "users", "https://g/v1.0/users?$skiptoken=A", &earlier) == ETOP_PAGE_LINK_REPEATED);
	CHECK(earlier == 1);
	CHECK(etop_paging_link(g, "users", NULL, &earlier) == ETOP_PAGE_OK);
	/* the same link on another endpoint is fine */
	CHECK(etop_paging_link(g, "other", "https://g/v1.0/users?$skiptoken=A", &earlier) == ETOP_PAGE_OK);

	etop_paging_guard_destroy(g);
	/* many pages: the sets grow */
	{
		etop_paging_guard *big = etop_paging_guard_create(&a, 0, 0);
		bool		all_ok = true;
		char		link[64];

		for (long i = 0; i < 20000 && all_ok; i++)
		{
			snprintf(link, sizeof(link), "https://x/p?page=%ld", i + 2);
			all_ok = etop_paging_page(big, "e", 1000, etop_guard_hash(&i, sizeof(i)), &no, &earlier) == ETOP_PAGE_OK
				&& etop_paging_link(big, "e", link, &earlier) == ETOP_PAGE_OK;
		}
		CHECK(all_ok);
		CHECK(etop_paging_pages(big, "e") == 20000);
		{
			long		i = 1234;

			CHECK(etop_paging_page(big, "e", 1000, etop_guard_hash(&i, sizeof(i)), &no, &earlier) == ETOP_PAGE_REPEATED);
			CHECK(earlier == 1235 && no == 20001);
		}
		CHECK(etop_paging_link(big, "e", "https://x/p?page=500", &earlier) == ETOP_PAGE_LINK_REPEATED && earlier == 499);
		etop_paging_guard_destroy(big);
	}

	/* FNV-1a test vectors */
	CHECK(etop_guard_hash("", 0) == UINT64_C(0xcbf29ce484222325));
	CHECK(etop_guard_hash("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));

	/* JSON scan: depth */
	{
		const char *flat = "[{\"a\": [1, 2]}, {\"b\": \"[[[[[[\"}]";
		long		nuls = -1;

		CHECK(etop_json_scan(flat, strlen(flat), 3, &nuls) == -1 && nuls == 0);
		CHECK(etop_json_scan(flat, strlen(flat), 2, &nuls) == 7);	/* the [ of "a" */
	}
	{
		size_t		n = 100000;
		char	   *deep = malloc(2 * n + 1);

		memset(deep, '[', n);
		memset(deep + n, ']', n);
		deep[2 * n] = '\0';
		CHECK(etop_json_scan(deep, 2 * n, 256, NULL) == 256);
		CHECK(etop_json_scan(deep, 2 * n, 100000, NULL) == -1);
		free(deep);
	}
	/* \u0000 escapes: only inside strings, not after an escaped backslash */
	{
		char		s[] = "[{\"a\": \"x\\u0000y\", \"b\": \"\\\\u0000\", \"c\\u0000\": \"\\u00001\", \"d\": \"\\u0001\"}]";
		long		nuls = -1;

		CHECK(etop_json_scan(s, strlen(s), 10, &nuls) == -1 && nuls == 3);
		CHECK(etop_json_replace_nul_escapes(s, strlen(s)) == 3);
		CHECK_STR(s, "[{\"a\": \"x\\uFFFDy\", \"b\": \"\\\\u0000\", \"c\\uFFFD\": \"\\uFFFD1\", \"d\": \"\\u0001\"}]");
		CHECK(etop_json_replace_nul_escapes(s, strlen(s)) == 0);
	}
	/* a truncated escape at the end is left alone */
	{
		char		s[] = "[\"\\u000";

		CHECK(etop_json_replace_nul_escapes(s, strlen(s)) == 0);
		CHECK_STR(s, "[\"\\u000");
	}
	UNIT_DONE();
}
