/*
 * citations.h — finding evidence citations in narrative text (pure C).
 *
 * A QBR narrative may only state facts it can cite.  Four citation forms are
 * recognised, exactly as the spec writes them:
 *     [Ticket #12345]   [Device: WS-ACCT-01]   [Policy: MFA Enforcement]
 *     [Risk: Unpatched Exchange Server]
 * The parser only finds them; src/citations_sql.c checks each one against the
 * client's rows.  No allocation: results point into the caller's text.
 */
#ifndef ETOP_CITATIONS_H
#define ETOP_CITATIONS_H

#include <stddef.h>

typedef enum EtopCitationKind
{
	ETOP_CITE_TICKET,
	ETOP_CITE_DEVICE,
	ETOP_CITE_POLICY,
	ETOP_CITE_RISK
} EtopCitationKind;

typedef struct EtopCitation
{
	EtopCitationKind kind;
	const char *ref;			/* start of the reference inside the text */
	size_t		ref_len;		/* trimmed length */
	size_t		offset;			/* offset of '[' in the text */
	size_t		len;			/* length of the whole "[...]" */
} EtopCitation;

#define ETOP_CITATION_MAX_REF 255	/* longer references are not citations */

/*
 * Find the next citation in text[0..len) starting at *pos.  Returns 1 and
 * fills *out (advancing *pos past it) or 0 when there is none left.
 */
extern int	etop_next_citation(const char *text, size_t len, size_t *pos, EtopCitation *out);

/* "Ticket", "Device", "Policy", "Risk" */
extern const char *etop_citation_kind_name(EtopCitationKind kind);

#endif							/* ETOP_CITATIONS_H */
