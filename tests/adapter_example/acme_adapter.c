/*
 * acme_adapter.c — a fourth adapter, built OUTSIDE the etop engine, as a
 * third party would ship one: its own shared library, using only
 * include/etop/adapter.h, registered with one row in etop.adapters.
 *
 * "Acme Helpdesk" serves tickets at GET {base}/api/tickets?page=N (50 per
 * page, an "items" array and a "next_page" number or null), with an API key
 * in the X-Api-Key header.  Normalization is acme_normalize(run) in SQL
 * (tests/adapter_example/acme_adapter.sql).
 */
#include "postgres.h"

#include "fmgr.h"

#include "etop/adapter.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void acme_fetch(EtopSyncContext *ctx);

void
acme_fetch(EtopSyncContext *ctx)
{
	const char *key = etop_sync_credential(ctx, "api_key");
	char	   *header = psprintf("X-Api-Key: %s", key ? key : "");
	const char *headers[] = {header, "Accept: application/json", NULL};
	char	   *next = "1";
	int			page = 0;

	etop_sync_set_vendor(ctx, "Acme Helpdesk", NULL);
	while (next != NULL)
	{
		EtopSyncRequest req = {0};
		char	   *body;

		req.url = psprintf("%s/api/tickets?page=%s", etop_sync_base_url(ctx), next);
		req.headers = headers;
		body = etop_sync_http(ctx, &req, NULL);
		etop_sync_store_page(ctx, "tickets", ++page, body, "items", "next_page", &next);
	}
}
