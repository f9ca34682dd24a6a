/*
 * sync_guard.h — pure checks on what a vendor sends while a sync pages
 * through it (no PostgreSQL; unit tested in tests/unit/test_sync_guard.c).
 *
 * Paging guard: per endpoint, the pages stored, a set of the hashes of its
 * non-empty pages and a set of its next-page links; for the run, the records
 * stored.  It says when a page repeats an earlier page of the endpoint (a
 * server that ignores page/skip), when a next-page link was followed before
 * (a link to itself, or a cycle), and when an endpoint has more pages or the
 * run more records than allowed.  Memory comes from the caller's allocator
 * (palloc in the server), so nothing leaks when the run fails.
 *
 * JSON scan: the nesting depth of a JSON text (to refuse a page nested so
 * deeply that parsing or processing it would exhaust the stack) and the
 * "\u0000" escapes in its strings, which jsonb cannot store.
 */
#ifndef ETOP_SYNC_GUARD_H
#define ETOP_SYNC_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct etop_guard_allocator
{
	void	   *(*alloc) (void *ctx, size_t size);	/* never returns NULL (or raises) */
	void		(*free) (void *ctx, void *ptr);
	void	   *ctx;
} etop_guard_allocator;

typedef enum etop_page_verdict
{
	ETOP_PAGE_OK = 0,
	ETOP_PAGE_REPEATED,			/* same records as an earlier page of the endpoint */
	ETOP_PAGE_LINK_REPEATED,	/* this next-page link was seen before */
	ETOP_PAGE_TOO_MANY_PAGES,	/* more than max_pages pages of the endpoint */
	ETOP_PAGE_TOO_MANY_RECORDS	/* more than max_records records in the run */
} etop_page_verdict;

typedef struct etop_paging_guard etop_paging_guard;

/* max_pages per endpoint and max_records per run; 0 or less = no limit */
extern etop_paging_guard *etop_paging_guard_create(const etop_guard_allocator *a,
												   long max_pages, long long max_records);
extern void etop_paging_guard_destroy(etop_paging_guard *g);

/*
 * A page of `records` records whose content hashes to `hash` arrives for
 * `endpoint`.  OK: it is counted (page number *page_no).  REPEATED: *page_no
 * is this page's number and *earlier the page it repeats.  TOO_MANY_*:
 * *page_no is this page's number.  Empty pages are counted but never
 * "repeated" (an empty page ends paging anyway).
 */
extern etop_page_verdict etop_paging_page(etop_paging_guard *g, const char *endpoint,
										  long records, uint64_t hash,
										  long *page_no, long *earlier);

/*
 * The endpoint's latest page (0: none yet, i.e. the endpoint's first URL)
 * names `link` as the next page.  LINK_REPEATED: *earlier is the page that
 * named it before (0: it was the endpoint's first URL).
 */
extern etop_page_verdict etop_paging_link(etop_paging_guard *g, const char *endpoint,
										  const char *link, long *earlier);

extern long etop_paging_pages(const etop_paging_guard *g, const char *endpoint);
extern long long etop_paging_records(const etop_paging_guard *g);

/* 64-bit FNV-1a */
extern uint64_t etop_guard_hash(const void *data, size_t len);

/*
 * One pass over a JSON text: returns the byte offset at which nesting
 * exceeds max_depth, or -1; *nul_escapes (if given) receives the number of
 * "\u0000" escapes inside strings (counted up to where the scan stopped).
 */
extern long etop_json_scan(const char *s, size_t len, int max_depth, long *nul_escapes);

/* Replace every "\u0000" escape inside a string by "\uFFFD" (same length), in place; returns how many. */
extern long etop_json_replace_nul_escapes(char *s, size_t len);

#endif							/* ETOP_SYNC_GUARD_H */
