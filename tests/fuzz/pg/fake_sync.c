/*
 * fake_sync.c — a stand-in for the sync framework (src/sync.c) as an adapter
 * sees it (include/etop/adapter.h), so the adapters' C code runs unchanged
 * outside a sync worker, with no SPI and no HTTP.
 *
 * The adapters read records themselves in one place each: ConnectWise reads
 * the company ids of company/companies?fields=id (company_ids(), which parses
 * the body with jsonb_in), Immy.Bot the computer ids of the page just stored
 * (collect_ids(), through etop_sync_page_records()).  Those static readers are
 * reachable only through the adapter's entry point, so the harness calls the
 * entry point and this fake answers the request whose records the adapter
 * reads with the fuzz input (fake_set_body) and every other request with
 * an empty page, which ends each endpoint's paging at its first page.
 *
 * etop_sync_store_page parses and checks a page exactly as sync.c does
 * (etop_jsonb_parse, the records array, its count, the same errors), minus
 * the INSERT.
 */
#include "fuzz_pg.h"

#include <stdio.h>

#include "miscadmin.h"
#include "utils/builtins.h"

#include "etop/adapter.h"
#include "etop/json_util.h"
#include "fake_sync.h"

struct EtopSyncContext
{
	const char *vendor;
	Jsonb	   *page_records;
};

static EtopSyncContext the_ctx;
static const char *fuzz_body;
static bool (*fuzz_body_for) (const EtopSyncRequest *req);
FakeSyncStats fake_stats;

EtopSyncContext *
fake_sync_begin(const char *body, bool (*body_for) (const EtopSyncRequest *req))
{
	memset(&the_ctx, 0, sizeof(the_ctx));
	memset(&fake_stats, 0, sizeof(fake_stats));
	the_ctx.vendor = "fake";
	fuzz_body = body;
	fuzz_body_for = body_for;
	return &the_ctx;
}

const char *
etop_sync_base_url(EtopSyncContext *ctx)
{
	return "https://vendor.invalid/api";
}

const char *
etop_sync_credential(EtopSyncContext *ctx, const char *key)
{
	return "secret";
}

const char *
etop_sync_option(EtopSyncContext *ctx, const char *key)
{
	return NULL;				/* every option at its default */
}

bool
etop_sync_full(EtopSyncContext *ctx)
{
	return false;
}

const char *
etop_sync_since(EtopSyncContext *ctx)
{
	return "2025-01-01T00:00:00Z";
}

int64
etop_sync_run_id(EtopSyncContext *ctx)
{
	return 1;
}

void
etop_sync_set_vendor(EtopSyncContext *ctx, const char *vendor, const char *required_scopes_json)
{
	ctx->vendor = vendor;
}

char *
etop_sync_http(EtopSyncContext *ctx, const EtopSyncRequest *req, char **link_out)
{
	CHECK_FOR_INTERRUPTS();
	if (req->url == NULL)
		fuzz_finding("a request without a URL");
	fuzz_touch(req->url);
	fuzz_touch(req->body);
	fake_stats.requests++;
	if (fuzz_verbose >= 2)
		printf("%s %s%s%s\n", req->method ? req->method : "GET", req->url,
			   req->body ? " " : "", req->body ? req->body : "");
	if (req->method && strcmp(req->method, "POST") == 0)
		fake_stats.post_body = req->body ? pstrdup(req->body) : NULL;
	if (strstr(req->url, "/maintenance-actions/latest-for-tenant/") != NULL)
		fake_stats.tenant_requests++;
	for (const char *p = req->url; *p; p++)
		if (!isalnum((unsigned char) *p) && !strchr("-._~:/?#[]@!$&'()*+,;=%", *p))
		{
			fake_stats.unencoded_urls++;
			break;
		}
	if (link_out)
		*link_out = NULL;
	if (fuzz_body_for(req))
	{
		fake_stats.fuzz_bodies++;
		return pstrdup(fuzz_body);
	}
	return pstrdup(strstr(req->url, "/computers/paged") ? "{\"results\": []}" : "[]");
}

char *
etop_sync_oauth_token(EtopSyncContext *ctx, const char *authority, const char *tenant,
					  const char *client_id, const char *client_secret, const char *scope)
{
	return pstrdup("token");
}

char *
etop_sync_urlencode(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	for (; *s; s++)
	{
		if (isalnum((unsigned char) *s) || strchr("-._~", *s))
			appendStringInfoChar(&b, *s);
		else
			appendStringInfo(&b, "%%%02X", (unsigned char) *s);
	}
	return b.data;
}

static void
sync_error(const char *message)
{
	ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE), errmsg("%s", message)));
}

int
etop_sync_store_page(EtopSyncContext *ctx, const char *endpoint, int page, const char *body,
					 const char *array_key, const char *next_key, char **next_out)
{
	char	   *why;
	Jsonb	   *page_doc = etop_jsonb_parse(body, &why);
	Jsonb	   *recs = page_doc;
	char	   *next = NULL;

	CHECK_FOR_INTERRUPTS();
	ctx->page_records = NULL;
	if (page_doc == NULL)
		sync_error(psprintf("%s returned malformed JSON (%s, page %d)", ctx->vendor, endpoint, page));
	if (array_key)
	{
		JsonbValue *v = etop_jsonb_key(&page_doc->root, array_key);

		recs = (v && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
			? JsonbValueToJsonb(v) : NULL;
	}
	if (next_key)
		next = etop_jsonb_text(&page_doc->root, next_key);
	if (recs == NULL || !JB_ROOT_IS_ARRAY(recs) || JB_ROOT_IS_SCALAR(recs))
		sync_error(psprintf("%s returned an unexpected response (%s, page %d)", ctx->vendor, endpoint, page));
	ctx->page_records = recs;
	fake_stats.pages++;
	if (next_out)
		*next_out = next;
	return JB_ROOT_COUNT(recs);
}

const JsonbContainer *
etop_sync_page_records(EtopSyncContext *ctx)
{
	return ctx->page_records ? &ctx->page_records->root : NULL;
}

/*
 * The link-paging and parse-only calls (adapter.h): the fake HTTP layer
 * sends no Link header, so there is never a next link; a page that is only
 * read (ConnectWise's company ids) is parsed like a stored one.
 */
void
etop_sync_follow(EtopSyncContext *ctx, const char *endpoint, const char *url)
{
	CHECK_FOR_INTERRUPTS();
	if (url == NULL)
		fuzz_finding("etop_sync_follow without a URL");
	fuzz_touch(endpoint);
	fuzz_touch(url);
}

char *
etop_sync_next_link(EtopSyncContext *ctx, const char *endpoint, const char *link_header)
{
	fuzz_touch(endpoint);
	if (link_header)
		fuzz_touch(link_header);
	return NULL;
}

const JsonbContainer *
etop_sync_parse_page(EtopSyncContext *ctx, const char *endpoint, int page, const char *body,
					 const char *array_key)
{
	(void) etop_sync_store_page(ctx, endpoint, page, body, array_key, NULL, NULL);
	fake_stats.pages--;			/* parsed, not stored */
	return etop_sync_page_records(ctx);
}
