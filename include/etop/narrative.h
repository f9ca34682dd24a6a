/*
 * narrative.h — QBR narratives: citation checking (citations_sql.c) and the
 * offline composer (narrative_offline.c).  Backend-only declarations.
 */
#ifndef ETOP_NARRATIVE_H
#define ETOP_NARRATIVE_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

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

#endif							/* ETOP_NARRATIVE_H */
