/*
 * fuzz_adapter_immy.c — the Immy.Bot adapter (adapters/immy.c) reading the
 * tenant ids of the first tenants page: the fuzz input is that page's body
 * (fake_sync.c answers every other request with an empty page, and stores
 * pages exactly as sync.c checks them).  The adapter must then ask for the
 * latest maintenance actions of every tenant whose "id" is an integer that
 * fits an int32 (GET maintenance-actions/latest-for-tenant/{id}), once
 * each, and of nothing else; a page that is not an array must fail the run.
 */
#include "fuzz_pg.h"

#include "etop/json_util.h"
#include "fake_sync.h"

PGDLLEXPORT void etop_adapter_immy(EtopSyncContext *ctx);

static bool
body_for(const EtopSyncRequest *req)
{
	return strstr(req->url, "/tenants?page=1&") != NULL;
}

/* how many records of the page have an int32 "id" (collect_ids' rule), or -1 */
static int
expected_tenants(Jsonb *jb)
{
	int			n = 0;

	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		return -1;
	for (int i = 0; i < (int) JB_ROOT_COUNT(jb); i++)
	{
		JsonbValue *rec = getIthJsonbValueFromContainer(&jb->root, i);
		JsonbValue *id;
		char	   *txt,
				   *end;
		long		v;

		if (rec == NULL || rec->type != jbvBinary || !JsonContainerIsObject(rec->val.binary.data))
			continue;
		id = getKeyJsonValueFromContainer(rec->val.binary.data, "id", 2, NULL);
		if (id == NULL || id->type != jbvNumeric)
			continue;
		txt = etop_jsonb_text(rec->val.binary.data, "id");
		if (txt == NULL)
			continue;
		errno = 0;
		v = strtol(txt, &end, 10);
		if (errno == 0 && *end == '\0' && v >= PG_INT32_MIN && v <= PG_INT32_MAX)
			n++;
	}
	return n;
}

static void
run(Jsonb *jb, const char *text)
{
	int			want = expected_tenants(jb);

	etop_adapter_immy(fake_sync_begin(text, body_for));
	if (want < 0)
		fuzz_finding("a tenants page that is not an array was accepted");
	if (fake_stats.tenant_requests != want)
		fuzz_finding("%d latest-for-tenant requests for %d tenants with integer ids",
					 fake_stats.tenant_requests, want);
}

const FuzzTarget fuzz_target = {"fuzz_jsonb_adapter_immy", run, NULL};
