/*
 * fuzz_citations.c — the walk of etop.validate_citations() before its query
 * (etop_narrative_citations, src/citations_sql.c) on any JSON: every string
 * of the document scanned for citations, each distinct one with the path
 * where it was first seen, and every recommendation checked for an evidence
 * citation.  Everything it returns is read back in full.
 */
#include "fuzz_pg.h"

#include <stdio.h>

#include "etop/narrative.h"

static void
run(Jsonb *jb, const char *text)
{
	List	   *violations = NIL;
	List	   *found = etop_narrative_citations(jb, &violations);
	ListCell   *lc;

	foreach(lc, found)
	{
		EtopViolation *v = lfirst(lc);

		if (v->citation == NULL || v->kind == NULL || v->reference == NULL || v->path == NULL)
			fuzz_finding("a citation with a NULL field");
		fuzz_touch(v->citation);
		fuzz_touch(v->kind);
		fuzz_touch(v->reference);
		fuzz_touch(v->path);
		if (fuzz_verbose >= 2)
			printf("%s\t%s\t%s\t%s\n", v->citation, v->kind, v->reference, v->path);
	}
	foreach(lc, violations)
	{
		EtopViolation *v = lfirst(lc);

		if (v->kind == NULL || v->path == NULL || v->message == NULL)
			fuzz_finding("a violation with a NULL field");
		fuzz_touch(v->reference);
		fuzz_touch(v->path);
		fuzz_touch(v->message);
		if (fuzz_verbose >= 2)
			printf("\t%s\t%s\t%s\t%s\n", v->kind, v->reference, v->path, v->message);
	}
	if (violations != NIL && !JB_ROOT_IS_OBJECT(jb))
		fuzz_finding("a recommendation violation in a document that is not an object");
}

const FuzzTarget fuzz_target = {"fuzz_jsonb_citations", run, NULL};
