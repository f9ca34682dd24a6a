/*
 * sync_guard.c — pure paging and JSON checks for vendor syncs (see
 * include/etop/sync_guard.h).  No PostgreSQL headers: unit tested in
 * tests/unit/test_sync_guard.c.
 */
#include "etop/sync_guard.h"

#include <string.h>

/* open-addressing set of 64-bit hashes, each with a value (a page number) */
typedef struct hash_set
{
	uint64_t   *keys;			/* 0 = empty slot */
	long	   *values;
	size_t		cap;			/* a power of 2, or 0 */
	size_t		used;
} hash_set;

typedef struct endpoint_state
{
	struct endpoint_state *next;
	char	   *name;
	long		pages;
	hash_set	page_hashes;
	hash_set	links;
} endpoint_state;

struct etop_paging_guard
{
	etop_guard_allocator a;
	long		max_pages;
	long long	max_records;
	long long	records;
	endpoint_state *endpoints;
};

uint64_t
etop_guard_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t	h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static void
set_grow(const etop_guard_allocator *a, hash_set *s)
{
	size_t		cap = s->cap ? s->cap * 2 : 64;
	uint64_t   *keys = a->alloc(a->ctx, cap * sizeof(uint64_t));
	long	   *values = a->alloc(a->ctx, cap * sizeof(long));

	memset(keys, 0, cap * sizeof(uint64_t));
	for (size_t i = 0; i < s->cap; i++)
	{
		if (s->keys[i] != 0)
		{
			size_t		j = (size_t) s->keys[i] & (cap - 1);

			while (keys[j] != 0)
				j = (j + 1) & (cap - 1);
			keys[j] = s->keys[i];
			values[j] = s->values[i];
		}
	}
	if (s->cap)
	{
		a->free(a->ctx, s->keys);
		a->free(a->ctx, s->values);
	}
	s->keys = keys;
	s->values = values;
	s->cap = cap;
}

/* Adds key with value; returns false (and *old = its value) if it was there. */
static bool
set_add(const etop_guard_allocator *a, hash_set *s, uint64_t key, long value, long *old)
{
	size_t		j;

	if (key == 0)
		key = 1;
	if ((s->used + 1) * 2 > s->cap)
		set_grow(a, s);
	j = (size_t) key & (s->cap - 1);
	while (s->keys[j] != 0)
	{
		if (s->keys[j] == key)
		{
			if (old)
				*old = s->values[j];
			return false;
		}
		j = (j + 1) & (s->cap - 1);
	}
	s->keys[j] = key;
	s->values[j] = value;
	s->used++;
	return true;
}

etop_paging_guard *
etop_paging_guard_create(const etop_guard_allocator *a, long max_pages, long long max_records)
{
	etop_paging_guard *g = a->alloc(a->ctx, sizeof(etop_paging_guard));

	memset(g, 0, sizeof(*g));
	g->a = *a;
	g->max_pages = max_pages;
	g->max_records = max_records;
	return g;
}

void
etop_paging_guard_destroy(etop_paging_guard *g)
{
	endpoint_state *e = g->endpoints;

	while (e)
	{
		endpoint_state *next = e->next;

		if (e->page_hashes.cap)
		{
			g->a.free(g->a.ctx, e->page_hashes.keys);
			g->a.free(g->a.ctx, e->page_hashes.values);
		}
		if (e->links.cap)
		{
			g->a.free(g->a.ctx, e->links.keys);
			g->a.free(g->a.ctx, e->links.values);
		}
		g->a.free(g->a.ctx, e->name);
		g->a.free(g->a.ctx, e);
		e = next;
	}
	g->a.free(g->a.ctx, g);
}

static endpoint_state *
find_endpoint(const etop_paging_guard *g, const char *name)
{
	for (endpoint_state *e = g->endpoints; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static endpoint_state *
get_endpoint(etop_paging_guard *g, const char *name)
{
	endpoint_state *e = find_endpoint(g, name);
	size_t		len = strlen(name);

	if (e)
		return e;
	e = g->a.alloc(g->a.ctx, sizeof(endpoint_state));
	memset(e, 0, sizeof(*e));
	e->name = g->a.alloc(g->a.ctx, len + 1);
	memcpy(e->name, name, len + 1);
	e->next = g->endpoints;
	g->endpoints = e;
	return e;
}

etop_page_verdict
etop_paging_page(etop_paging_guard *g, const char *endpoint, long records, uint64_t hash,
				 long *page_no, long *earlier)
{
	endpoint_state *e = get_endpoint(g, endpoint);
	long		no = e->pages + 1;

	*page_no = no;
	if (earlier)
		*earlier = 0;
	if (g->max_pages > 0 && no > g->max_pages)
		return ETOP_PAGE_TOO_MANY_PAGES;
	if (g->max_records > 0 && g->records + (records > 0 ? records : 0) > g->max_records)
		return ETOP_PAGE_TOO_MANY_RECORDS;
	if (records > 0 && !set_add(&g->a, &e->page_hashes, hash ^ (uint64_t) records, no, earlier))
		return ETOP_PAGE_REPEATED;
	e->pages = no;
	g->records += records > 0 ? records : 0;
	return ETOP_PAGE_OK;
}

etop_page_verdict
etop_paging_link(etop_paging_guard *g, const char *endpoint, const char *link, long *earlier)
{
	endpoint_state *e = get_endpoint(g, endpoint);

	*earlier = 0;
	if (link == NULL)
		return ETOP_PAGE_OK;
	if (!set_add(&g->a, &e->links, etop_guard_hash(link, strlen(link)), e->pages, earlier))
		return ETOP_PAGE_LINK_REPEATED;
	return ETOP_PAGE_OK;
}

long
etop_paging_pages(const etop_paging_guard *g, const char *endpoint)
{
	endpoint_state *e = find_endpoint(g, endpoint);

	return e ? e->pages : 0;
}

long long
etop_paging_records(const etop_paging_guard *g)
{
	return g->records;
}

/* ---------- JSON scan ---------- */

static bool
is_nul_escape(const char *s, size_t len, size_t i)
{
	/* s[i] == 'u' after a backslash */
	return i + 4 < len && s[i + 1] == '0' && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0';
}

/*
 * One pass over JSON text, outside and inside strings: stops at the first
 * '[' or '{' deeper than max_depth (0: no limit) and returns its offset, or
 * -1; counts the "\u0000" escapes inside strings and, when rewrite is set,
 * writes "FFFD" over their digits (s is then the same buffer, writable).
 */
static long
json_walk(const char *s, char *rewrite, size_t len, int max_depth, long *nul_escapes)
{
	int			depth = 0;
	bool		in_string = false;
	long		nuls = 0;
	long		stop = -1;

	for (size_t i = 0; i < len && stop < 0; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\' && i + 1 < len)
			{
				i++;
				if (s[i] == 'u' && is_nul_escape(s, len, i))
				{
					nuls++;
					if (rewrite)
						memcpy(rewrite + i + 1, "FFFD", 4);
					i += 4;
				}
			}
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
		{
			if (++depth > max_depth && max_depth > 0)
				stop = (long) i;
		}
		else if (c == ']' || c == '}')
			depth--;
	}
	if (nul_escapes)
		*nul_escapes = nuls;
	return stop;
}

long
etop_json_scan(const char *s, size_t len, int max_depth, long *nul_escapes)
{
	return json_walk(s, NULL, len, max_depth, nul_escapes);
}

long
etop_json_replace_nul_escapes(char *s, size_t len)
{
	long		n;

	(void) json_walk(s, s, len, 0, &n);
	return n;
}
