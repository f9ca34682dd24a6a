/*
 * connectwise.c — the ConnectWise Manage adapter (REST API 3.0).
 *
 * base_url: https://<site>/v4_6_release/apis/3.0 (the codebase path included)
 * credentials: {"company_id", "public_key", "private_key", "client_id"}
 *   Basic auth "company_id+public_key:private_key" plus the clientId header.
 * options: {"page_size": 1000} (at most 1000), and the shared HTTP options.
 * Pages through company/companies, company/companies/{id}/sites,
 * company/contacts, finance/agreements, service/tickets and
 * company/configurations with page/pageSize; incremental runs ask only for
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

/* Fetch every page of one endpoint into sync_pages under `stage`; returns records. */
static int64
fetch_all(EtopSyncContext *ctx, const CwAuth *auth, const char *path, const char *stage,
		  int *page_no, bool incremental)
{
	const char *headers[] = {auth->client_header, "Accept: application/json", NULL};
	long		size = 1000;
	const char *opt = etop_sync_option(ctx, "page_size");
	const char *since = incremental ? etop_sync_since(ctx) : NULL;
	int64		total = 0;

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
	for (int page = 1;; page++)
	{
		EtopSyncRequest req = {0};
		char	   *url,
				   *body;
		int			n;

		url = psprintf("%s/%s?page=%d&pageSize=%ld%s%s", etop_sync_base_url(ctx),
					   path, page, size, since ? "&conditions=" : "",
					   since ? etop_sync_urlencode(psprintf("lastUpdated>[%s]", since)) : "");
		req.url = url;
		req.headers = headers;
		req.basic_user = auth->user;
		req.basic_password = auth->password;
		body = etop_sync_http(ctx, &req, NULL);
		n = etop_sync_store_page(ctx, stage, ++(*page_no), body, NULL, NULL, NULL);
		total += n;
		pfree(body);
		pfree(url);
		if (n < size)
			break;
	}
	return total;
}

/*
 * The ids of all the client's companies (fields=id), for the per-company
 * sites: an incremental run stores only the companies that changed.
 */
static List *
company_ids(EtopSyncContext *ctx, const CwAuth *auth)
{
	const char *headers[] = {auth->client_header, "Accept: application/json", NULL};
	List	   *ids = NIL;

	for (int page = 1;; page++)
	{
		EtopSyncRequest req = {0};
		char	   *body;
		char	   *why;
		Jsonb	   *j;
		int			n;

		req.url = psprintf("%s/company/companies?page=%d&pageSize=1000&fields=id&orderBy=id%%20asc",
						   etop_sync_base_url(ctx), page);
		req.headers = headers;
		req.basic_user = auth->user;
		req.basic_password = auth->password;
		body = etop_sync_http(ctx, &req, NULL);
		/* not stored as a page, so not checked by etop_sync_store_page(): say whose fault */
		j = etop_jsonb_parse(body, &why);
		if (j == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("ConnectWise returned malformed JSON (company ids, page %d): %s", page, why)));
		if (!JB_ROOT_IS_ARRAY(j) || JB_ROOT_IS_SCALAR(j))
			break;
		n = JB_ROOT_COUNT(j);
		for (int i = 0; i < n; i++)
		{
			JsonbValue *rec = getIthJsonbValueFromContainer(&j->root, i);
			char	   *id = (rec && rec->type == jbvBinary)
				? etop_jsonb_text(rec->val.binary.data, "id") : NULL;

			CHECK_FOR_INTERRUPTS();

			if (id)
				ids = lappend(ids, id);
		}
		if (n < 1000)
			break;
	}
	return ids;
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

	etop_sync_set_vendor(ctx, "ConnectWise", NULL);
	if (!company || !pub || !priv || !client)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ConnectWise credentials need company_id, public_key, private_key and client_id"),
				 errhint("Recreate the connection with etop.connection_create().")));
	auth.user = psprintf("%s+%s", company, pub);
	auth.password = priv;
	auth.client_header = psprintf("clientId: %s", client);

	for (int i = 0; i < (int) lengthof(endpoints); i++)
	{
		int			page = 0;

		fetch_all(ctx, &auth, endpoints[i], endpoints[i], &page, true);
	}
	/*
	 * Sites live under their company in the real API.  The id is the
	 * vendor's: encoded, so that it stays one path segment ("1/../x?y" is
	 * not a path of its own choosing on the host we send credentials to).
	 */
	foreach(lc, company_ids(ctx, &auth))
		fetch_all(ctx, &auth,
				  psprintf("company/companies/%s/sites", etop_sync_urlencode((char *) lfirst(lc))),
				  "company/sites", &site_pages, false);
}
