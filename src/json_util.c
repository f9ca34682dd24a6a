/*
 * json_util.c — small jsonb helpers (see include/etop/json_util.h).
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "etop/json_util.h"

JsonbValue *
etop_jsonb_key(JsonbContainer *c, const char *key)
{
	JsonbValue	k;

	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(c, JB_FOBJECT, &k);
}

char *
etop_jsonb_text(JsonbContainer *c, const char *key)
{
	JsonbValue *v = etop_jsonb_key(c, key);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

Jsonb *
etop_jsonb_parse(const char *text, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *volatile j = NULL;

	*error = NULL;
	PG_TRY();
	{
		/*
		 * JSON is UTF-8 (RFC 8259), and jsonb_in, like every input function,
		 * trusts its argument to be valid in the server encoding: a vendor's
		 * or a model's invalid bytes would be stored as they came.  Verify
		 * (and, on a server that is not UTF-8, convert) first.
		 */
		char	   *s = pg_any_to_server(text, strlen(text), PG_UTF8);

		j = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		/*
		 * Bad input is: not UTF-8 or not JSON (22xxx), too large (54000), or
		 * nested too deeply for the parser ("stack depth limit exceeded",
		 * 54001).
		 */
		if (ERRCODE_TO_CATEGORY(e->sqlerrcode) != ERRCODE_DATA_EXCEPTION &&
			e->sqlerrcode != ERRCODE_PROGRAM_LIMIT_EXCEEDED &&
			e->sqlerrcode != ERRCODE_STATEMENT_TOO_COMPLEX)
			PG_RE_THROW();
		FlushErrorState();
		*error = e->message;
	}
	PG_END_TRY();
	return j;
}
