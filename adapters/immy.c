/*
 * immy.c — the Immy.Bot adapter (https://<instance>.immy.bot/api/v1).
 *
 * base_url: https://<instance>.immy.bot
 * credentials: {"tenant_id", "client_id", "client_secret"} of the Entra ID app
 * options: {"authority": "https://login.microsoftonline.com",
 *           "scope": "https://<instance>.immy.bot/.default",
 *           "tenant_map": {"<immy tenant id>": "<ConnectWise company id>"}}
 * OAuth2 client credentials from Entra ID, then tenants, computers/paged
 * (skip/take), target-assignments (the baselines) and the latest
 * maintenance action (drift/compliance result) for every computer.
 * Normalization: etop.normalize_immy.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "etop/adapter.h"
#include "etop/json_util.h"

PGDLLEXPORT void etop_adapter_immy(EtopSyncContext *ctx);

#define IMMY_TAKE 500

/* ids (member "id") of the records of the page just stored, appended to buf as a JSON list */
static void
collect_ids(EtopSyncContext *ctx, StringInfo buf)
{
	const JsonbContainer *arr = etop_sync_page_records(ctx);

	for (int i = 0; arr && i < (int) JsonContainerSize(arr); i++)
	{
		JsonbValue *rec = getIthJsonbValueFromContainer((JsonbContainer *) arr, i);
		JsonbValue *id = (rec && rec->type == jbvBinary)
			? etop_jsonb_key(rec->val.binary.data, "id") : NULL;

		CHECK_FOR_INTERRUPTS();
		if (id && id->type == jbvNumeric)
			appendStringInfo(buf, "%s%s", buf->len > 1 ? ", " : "",
							 etop_jsonb_text(rec->val.binary.data, "id"));
	}
}

void
etop_adapter_immy(EtopSyncContext *ctx)
{
	const char *authority = etop_sync_option(ctx, "authority");
	const char *scope = etop_sync_option(ctx, "scope");
	const char *base = etop_sync_base_url(ctx);
	const char *headers[] = {"Accept: application/json", NULL};
	const char *post_headers[] = {"Accept: application/json", "Content-Type: application/json", NULL};
	char	   *token;
	StringInfoData ids;
	EtopSyncRequest req = {0};
	char	   *body;
	int			page;

	etop_sync_set_vendor(ctx, "Immy.Bot", NULL);
	token = etop_sync_oauth_token(ctx, authority ? authority : "https://login.microsoftonline.com",
								  etop_sync_credential(ctx, "tenant_id"),
								  etop_sync_credential(ctx, "client_id"),
								  etop_sync_credential(ctx, "client_secret"),
								  scope ? scope : psprintf("%s/.default", base));
	req.headers = headers;
	req.bearer_token = token;

	req.url = psprintf("%s/api/v1/tenants", base);
	etop_sync_store_page(ctx, "tenants", 1, etop_sync_http(ctx, &req, NULL), NULL, NULL, NULL);

	initStringInfo(&ids);
	appendStringInfoChar(&ids, '[');
	for (page = 0;; page++)
	{
		int			n;

		req.url = psprintf("%s/api/v1/computers/paged?skip=%d&take=%d", base, page * IMMY_TAKE, IMMY_TAKE);
		body = etop_sync_http(ctx, &req, NULL);
		n = etop_sync_store_page(ctx, "computers", page + 1, body, "results", NULL, NULL);
		pfree(body);
		collect_ids(ctx, &ids);
		if (n < IMMY_TAKE)
			break;
	}
	appendStringInfoChar(&ids, ']');

	for (page = 1;; page++)
	{
		int			n;

		req.url = psprintf("%s/api/v1/target-assignments?page=%d&pageSize=1000", base, page);
		n = etop_sync_store_page(ctx, "target-assignments", page, etop_sync_http(ctx, &req, NULL),
								 NULL, NULL, NULL);
		if (n < 1000)
			break;
	}

	/* the latest maintenance action (compliance result) of every computer */
	req.method = "POST";
	req.headers = post_headers;
	req.url = psprintf("%s/api/v1/maintenance-actions/latest-action-for-computers", base);
	req.body = psprintf("{\"computerIds\": %s}", ids.data);
	etop_sync_store_page(ctx, "maintenance-actions", 1, etop_sync_http(ctx, &req, NULL),
						 NULL, NULL, NULL);
}
