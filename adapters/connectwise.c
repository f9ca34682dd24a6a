/*
 * connectwise.c — the ConnectWise Manage adapter (REST API 3.0).
 *
 * base_url: https://<site>/v4_6_release/apis/3.0 (the codebase path included)
 * credentials: {"company_id", "public_key", "private_key", "client_id"}
 *   Basic auth "company_id+public_key:private_key" plus the clientId header.
 * options: {"page_size": 1000} (at most 1000), and the shared HTTP and
 * paging options.  Pages through company/companies,
 * company/companies/{id}/sites, company/contacts, finance/agreements,
 * service/tickets and company/configurations with page/pageSize, following
 * the Link header's rel="next" when there is one; incremental runs ask only for
 * records with lastUpdated after the last successful sync
 * (conditions=lastUpdated>[...]).  Normalization: etop.normalize_connectwise.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "etop/adapter.h"
#include "etop/json_util.h"

PGDLLEXPORT void etop_adapter_connectwise(EtopSyncContext *ctx);

typedef struct CwAuth
{
	char	   *user;
	const char *password;
	char	   *client_header;
} CwAuth;

/* The page_size option: records per page asked for (1..1000). */
static long
page_size(EtopSyncContext *ctx)
{
	const char *opt = etop_sync_option(ctx, "page_size");
	long		size = 1000;

	if (opt)
	{
		char	   *end;

		/* strtol() alone read "abc" as 0, then 1: a request per record */
		errno = 0;
		size = strtol(opt, &end, 10);
		if (errno != 0 || end == opt || *end != '\0' || size < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ConnectWise option \"page_size\" must be a whole number of at least 1"),
					 errdetail("Found \"%s\"; values above 1000 mean 1000.", opt)));
		size = Min(1000, size);
	}
	return size;
}

/*
 * Every page of one endpoint: stored in sync_pages under `stage` (page
 * numbers continue from *page_no), or, with ids != NULL, only read for the
 * records' "id"s.  ConnectWise sends a Link header with rel="next" while
 * there are more pages: it is followed when present (a server may cap
 * pageSize lower than asked, so a short page is not the last one then);
 * only without a Link header does a page shorter than asked end the paging.
 * query: the request's parameters after page and pageSize.  Returns records.
 */
static int64
fetch_all(EtopSyncContext *ctx, const CwAuth *auth, const char *path, const char *stage,
		  int *page_no, const char *query, List **ids)
{
	const char *headers[] = {auth->client_header, "Accept: application/json", NULL};
	long		size = ids ? 1000 : page_size(ctx);
	int64		total = 0;
	char	   *url;

	url = psprintf("%s/%s?page=1&pageSize=%ld%s", etop_sync_base_url(ctx), path, size, query);
	etop_sync_follow(ctx, stage, url);
	for (int page = 1;; page++)
	{
		EtopSyncRequest req = {0};
		char	   *body,
				   *link = NULL,
				   *next;
		int			n;

		CHECK_FOR_INTERRUPTS();
		req.url = url;
		req.headers = headers;
		req.basic_user = auth->user;
		req.basic_password = auth->password;
		body = etop_sync_http(ctx, &req, &link);
		++(*page_no);
		if (ids)
		{
			const JsonbContainer *recs = etop_sync_parse_page(ctx, stage, *page_no, body, NULL);

			n = (int) JsonContainerSize(recs);
			for (int i = 0; i < n; i++)
			{
				JsonbValue *rec = getIthJsonbValueFromContainer((JsonbContainer *) recs, i);
				char	   *id = (rec && rec->type == jbvBinary)
					? etop_jsonb_text(rec->val.binary.data, "id") : NULL;

				CHECK_FOR_INTERRUPTS();
				if (id)
					*ids = lappend(*ids, id);
			}
		}
		else
			n = etop_sync_store_page(ctx, stage, *page_no, body, NULL, NULL, NULL);
		total += n;
		pfree(body);
		next = etop_sync_next_link(ctx, stage, link);
		if (link != NULL && link[0] != '\0')
		{
			/* the server says whether there is a next page */
			if (next == NULL)
				break;
			url = next;
		}
		else
		{
			if (n < size)
				break;
			url = psprintf("%s/%s?page=%d&pageSize=%ld%s", etop_sync_base_url(ctx), path, page + 1,
						   size, query);
			etop_sync_follow(ctx, stage, url);
		}
	}
	return total;
}

void
etop_adapter_connectwise(EtopSyncContext *ctx)
{
	const char *company = etop_sync_credential(ctx, "company_id");
	const char *pub = etop_sync_credential(ctx, "public_key");
	const char *priv = etop_sync_credential(ctx, "private_key");
	const char *client = etop_sync_credential(ctx, "client_id");
	CwAuth		auth;
	static const char *const endpoints[] = {
		"company/companies", "company/contacts", "finance/agreements",
		"company/configurations", "service/tickets"
	};
	ListCell   *lc;
	int			site_pages = 0;
	int			id_pages = 0;
	List	   *ids = NIL;
	const char *since;
	const char *incremental;

	etop_sync_set_vendor(ctx, "ConnectWise", NULL);
	if (!company || !pub || !priv || !client)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ConnectWise credentials need company_id, public_key, private_key and client_id"),
				 errhint("Recreate the connection with etop.connection_create().")));
	auth.user = psprintf("%s+%s", company, pub);
	auth.password = priv;
	auth.client_header = psprintf("clientId: %s", client);

	since = etop_sync_since(ctx);
	incremental = since
		? psprintf("&conditions=%s", etop_sync_urlencode(psprintf("lastUpdated>[%s]", since)))
		: "";
	for (int i = 0; i < (int) lengthof(endpoints); i++)
	{
		int			page = 0;

		fetch_all(ctx, &auth, endpoints[i], endpoints[i], &page, incremental, NULL);
	}

	/*
	 * The ids of all the client's companies (fields=id), for the
	 * per-company sites: an incremental run stores only the companies that
	 * changed.  Read with every check a stored page gets.
	 */
	fetch_all(ctx, &auth, "company/companies", "company ids", &id_pages,
			  "&fields=id&orderBy=id%20asc", &ids);

	/*
	 * Sites live under their company in the real API.  The id is the
	 * vendor's: encoded, so that it stays one path segment ("1/../x?y" is
	 * not a path of its own choosing on the host we send credentials to).
	 */
	foreach(lc, ids)
	{
		CHECK_FOR_INTERRUPTS();
		fetch_all(ctx, &auth,
				  psprintf("company/companies/%s/sites", etop_sync_urlencode((char *) lfirst(lc))),
				  "company/sites", &site_pages, "", NULL);
	}
}
