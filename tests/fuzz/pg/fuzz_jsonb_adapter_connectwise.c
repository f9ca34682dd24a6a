/*
 * fuzz_adapter_connectwise.c — the ConnectWise adapter (adapters/connectwise.c)
 * reading the company ids of a company/companies?fields=id page: the fuzz
 * input is that page's body (fake_sync.c answers every other request with
 * an empty page).  Every company whose "id" is a string, number or boolean
 * must get exactly one request for its sites.
 */
#include "fuzz_pg.h"

#include <stdio.h>

#include "fake_sync.h"

PGDLLEXPORT void etop_adapter_connectwise(EtopSyncContext *ctx);

static bool
body_for(const EtopSyncRequest *req)
{
	return strstr(req->url, "/company/companies?page=1&") && strstr(req->url, "fields=id");
}

static int
expected_ids(Jsonb *jb)
{
	int			n = 0;

	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		return 0;
	for (int i = 0; i < (int) JB_ROOT_COUNT(jb); i++)
	{
		JsonbValue *rec = getIthJsonbValueFromContainer(&jb->root, i);
		JsonbValue *id = (rec && rec->type == jbvBinary && JsonContainerIsObject(rec->val.binary.data))
			? getKeyJsonValueFromContainer(rec->val.binary.data, "id", 2, NULL) : NULL;

		if (id && (id->type == jbvString || id->type == jbvNumeric || id->type == jbvBool))
			n++;
	}
	return n;
}

static int
count_sites(void)
{
	return fake_stats.requests - 5 /* endpoints */ - 1 /* fields=id, page 1 */ ;
}

static void
run(Jsonb *jb, const char *text)
{
	int			want = expected_ids(jb);
	static bool noted;

	etop_adapter_connectwise(fake_sync_begin(text, body_for));
	/* one more fields=id page when the first had 1000 or more elements */
	if (JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb) && JB_ROOT_COUNT(jb) >= 1000)
		fake_stats.requests--;
	if (count_sites() != want)
		fuzz_finding("%d company ids in the page, %d sites requests", want, count_sites());
	if (fake_stats.unencoded_urls && !noted)
	{
		noted = true;
		fprintf(stderr, "fuzz_pg connectwise: note: a company id went into a URL path without "
				"%%-encoding (first seen with this input; reported once)\n");
	}
}

const FuzzTarget fuzz_target = {"fuzz_jsonb_adapter_connectwise", run, NULL};
