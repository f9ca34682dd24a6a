/*
 * narrative.h — QBR narratives: citation checking (citations_sql.c) and the
 * offline composer (narrative_offline.c).  Backend-only declarations.
 */
#ifndef ETOP_NARRATIVE_H
#define ETOP_NARRATIVE_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/*
 * The offline composer copies at most this many evidence strings from a
 * planned roadmap item into a recommendation (the first ones that are
 * strings); a QBR page shows a handful, and an item with a million of them
 * must not cost a million of anything.
 */
#define NARRATIVE_MAX_EVIDENCE 10

/* One reason a narrative may not be published as it is. */
typedef struct EtopViolation
{
	char	   *citation;		/* "[Device: FW-MAIN-99]", or NULL */
	char	   *kind;			/* Ticket, Device, Policy, Risk, Recommendation */
	char	   *reference;		/* "FW-MAIN-99" */
	char	   *path;			/* where in the narrative: "recommendations[0].evidence[0]" */
	char	   *message;		/* "Hallucination detected: Device \"FW-MAIN-99\" ..." */
} EtopViolation;

/* Violations of a narrative for one client (uses SPI; not connected on entry). */
extern List *etop_find_violations(Jsonb *narrative, int32 client_id);

/*
 * The pure first half of etop_find_violations(), without SPI (used by
 * tests/fuzz/pg/): the distinct citations of a narrative in document order,
 * as EtopViolation with message NULL (citation, kind, reference and the path
 * where each was first seen), and in *violations the recommendations without
 * an evidence citation, as etop_find_violations() reports them.
 */
extern List *etop_narrative_citations(Jsonb *narrative, List **violations);

#endif							/* ETOP_NARRATIVE_H */
