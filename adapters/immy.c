/*
 * immy.c — the Immy.Bot adapter (https://<instance>.immy.bot/api/v1).
 *
 * base_url: https://<instance>.immy.bot
 * credentials: {"tenant_id", "client_id", "client_secret"} of the Entra ID app
 * options: {"authority": "https://login.microsoftonline.com",
 *           "scope": "https://<instance>.immy.bot/.default",
 *           "tenant_map": {"<immy tenant id>": "<ConnectWise company id>"}}
 * OAuth2 client credentials from Entra ID, then tenants (paged: page /
 * pageSize until an empty page), computers/paged (skip/take),
 * target-assignments (the baselines) and, per tenant, the latest
 * maintenance actions (drift/compliance results) with
 * GET maintenance-actions/latest-for-tenant/{tenantId} (stored as endpoint
 * "maintenance-actions/latest-for-tenant/{tenantId}").  (The POST
 * latest-action-for-computers answers per maintenance item: its body needs
 * maintenanceIdentifier and maintenanceType.)
 * Normalization: etop.normalize_immy.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "etop/adapter.h"
#include "etop/json_util.h"

PGDLLEXPORT void etop_adapter_immy(EtopSyncContext *ctx);

#define IMMY_TAKE 500
#define IMMY_TENANT_PAGE 100

/* integer ids (member "id") of the records of the page just stored, appended to ids */
static List *
collect_ids(EtopSyncContext *ctx, List *ids)
{
	const JsonbContainer *arr = etop_sync_page_records(ctx);

	for (int i = 0; arr && i < (int) JsonContainerSize(arr); i++)
	{
		JsonbValue *rec = getIthJsonbValueFromContainer((JsonbContainer *) arr, i);
		JsonbValue *id = (rec && rec->type == jbvBinary)
			? etop_jsonb_key(rec->val.binary.data, "id") : NULL;
		const char *txt;
		char	   *end;
		long		v;

		CHECK_FOR_INTERRUPTS();
		if (!id || id->type != jbvNumeric)
			continue;
		txt = etop_jsonb_text(rec->val.binary.data, "id");
		errno = 0;
		v = strtol(txt, &end, 10);
		/* an id that is no int32 is left to the normalization, which names it */
		if (errno == 0 && *end == '\0' && v >= PG_INT32_MIN && v <= PG_INT32_MAX)
			ids = lappend_int(ids, (int) v);
	}
	return ids;
}

void
etop_adapter_immy(EtopSyncContext *ctx)
{
	const char *authority = etop_sync_option(ctx, "authority");
	const char *scope = etop_sync_option(ctx, "scope");
	const char *base = etop_sync_base_url(ctx);
	const char *headers[] = {"Accept: application/json", NULL};
	char	   *token;
	List	   *tenant_ids = NIL;
	ListCell   *lc;
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

	/*
	 * Tenants are paged (page, pageSize); the server may cap pageSize, so ask
	 * until a page is empty.  A server that ignores page repeats page 1,
	 * which the paging guard stops.
	 */
	for (page = 1;; page++)
	{
		int			n;

		req.url = psprintf("%s/api/v1/tenants?page=%d&pageSize=%d", base, page, IMMY_TENANT_PAGE);
		body = etop_sync_http(ctx, &req, NULL);
		n = etop_sync_store_page(ctx, "tenants", page, body, NULL, NULL, NULL);
		pfree(body);
		if (n == 0)
			break;
		tenant_ids = collect_ids(ctx, tenant_ids);
	}

	for (page = 0;; page++)
	{
		int			n;

		req.url = psprintf("%s/api/v1/computers/paged?skip=%d&take=%d", base, page * IMMY_TAKE, IMMY_TAKE);
		body = etop_sync_http(ctx, &req, NULL);
		n = etop_sync_store_page(ctx, "computers", page + 1, body, "results", NULL, NULL);
		pfree(body);
		if (n < IMMY_TAKE)
			break;
	}

	for (page = 1;; page++)
	{
		int			n;

		req.url = psprintf("%s/api/v1/target-assignments?page=%d&pageSize=1000", base, page);
		n = etop_sync_store_page(ctx, "target-assignments", page, etop_sync_http(ctx, &req, NULL),
								 NULL, NULL, NULL);
		if (n < 1000)
			break;
	}

	/* the latest maintenance actions (compliance results) of every tenant */
	foreach(lc, tenant_ids)
	{
		int			tenant = lfirst_int(lc);
		char	   *endpoint = psprintf("maintenance-actions/latest-for-tenant/%d", tenant);

		CHECK_FOR_INTERRUPTS();
		req.url = psprintf("%s/api/v1/%s", base, endpoint);
		body = etop_sync_http(ctx, &req, NULL);
		etop_sync_store_page(ctx, endpoint, 1, body, NULL, NULL, NULL);
		pfree(body);
	}
}
