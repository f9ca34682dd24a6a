/*
 * fuzz_adapter_immy.c — the Immy.Bot adapter (adapters/immy.c) reading the
 * computer ids of a computers/paged page: the fuzz input is that page's body
 * (fake_sync.c answers every other request with an empty page, and stores
 * pages exactly as sync.c checks them).  The body the adapter then POSTs to
 * maintenance-actions must be valid JSON naming every computer whose "id" is
 * a number.
 */
#include "fuzz_pg.h"

#include "etop/json_util.h"
#include "fake_sync.h"

PGDLLEXPORT void etop_adapter_immy(EtopSyncContext *ctx);

static bool
body_for(const EtopSyncRequest *req)
{
	return strstr(req->url, "/computers/paged?skip=0&") != NULL;
}

static int
expected_ids(Jsonb *jb)
{
	JsonbValue *res;
	JsonbContainer *arr;
	int			n = 0;

	if (!JB_ROOT_IS_OBJECT(jb))
		return -1;
	res = getKeyJsonValueFromContainer(&jb->root, "results", 7, NULL);
	if (res == NULL || res->type != jbvBinary || !JsonContainerIsArray(res->val.binary.data))
		return -1;
	arr = res->val.binary.data;
	for (int i = 0; i < (int) JsonContainerSize(arr); i++)
	{
		JsonbValue *rec = getIthJsonbValueFromContainer(arr, i);
		JsonbValue *id = (rec && rec->type == jbvBinary && JsonContainerIsObject(rec->val.binary.data))
			? getKeyJsonValueFromContainer(rec->val.binary.data, "id", 2, NULL) : NULL;

		if (id && id->type == jbvNumeric)
			n++;
	}
	return n;
}

static void
run(Jsonb *jb, const char *text)
{
	int			want = expected_ids(jb);
	char	   *why;
	Jsonb	   *post;
	JsonbValue *ids;

	etop_adapter_immy(fake_sync_begin(text, body_for));
	if (want < 0)
		fuzz_finding("a page without a \"results\" array was accepted");
	if (fake_stats.post_body == NULL)
		fuzz_finding("no maintenance-actions request");
	post = etop_jsonb_parse(fake_stats.post_body, &why);
	if (post == NULL)
		fuzz_finding("the maintenance-actions body is not JSON (%s): %.200s", why, fake_stats.post_body);
	ids = etop_jsonb_key(&post->root, "computerIds");
	if (ids == NULL || ids->type != jbvBinary || !JsonContainerIsArray(ids->val.binary.data) ||
		(int) JsonContainerSize(ids->val.binary.data) != want)
		fuzz_finding("computerIds does not list the %d numeric ids: %.200s", want, fake_stats.post_body);
}

const FuzzTarget fuzz_target = {"fuzz_jsonb_adapter_immy", run, NULL};
