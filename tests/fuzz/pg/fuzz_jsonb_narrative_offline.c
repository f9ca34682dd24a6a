/*
 * fuzz_narrative_offline.c — etop.narrative_offline(input jsonb) (src/narrative_offline.c)
 * on any JSON: what etop_reader may pass it.  Its output is read back
 * (jsonb_out) and must be an object; it builds its output as JSON text and
 * parses it with jsonb_in, so "invalid input syntax for type json" from the
 * composer means it wrote broken JSON: a finding.
 */
#include "fuzz_pg.h"

#include <stdio.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

extern Datum etop_narrative_offline(PG_FUNCTION_ARGS);

static void
run(Jsonb *jb, const char *text)
{
	Jsonb	   *out = DatumGetJsonbP(DirectFunctionCall1(etop_narrative_offline, JsonbPGetDatum(jb)));

	if (!JB_ROOT_IS_OBJECT(out))
		fuzz_finding("the narrative is not an object");
	{
		char	   *s = JsonbToCString(NULL, &out->root, VARSIZE(out));

		fuzz_touch(s);
		if (fuzz_verbose >= 2)
			printf("%s\n", s);
	}
}

static bool
error_is_finding(const ErrorData *e)
{
	return e->message && strncmp(e->message, "invalid input syntax for type json", 34) == 0;
}

const FuzzTarget fuzz_target = {"fuzz_jsonb_narrative_offline", run, error_is_finding};
