/*
 * citations.c — finds [Ticket #n], [Device: x], [Policy: x], [Risk: x] in text.
 *
 * Matching rules (docs/qbr.md): the tag is case-sensitive as the spec writes
 * it; a ticket reference is one or more digits; other references are the
 * text up to the closing bracket, trimmed, 1..255 bytes, without '[' or a
 * newline.  Anything else in brackets is ordinary text.
 */
#include <string.h>

#include "etop/citations.h"

static const struct
{
	const char *prefix;
	EtopCitationKind kind;
}			forms[] = {
	{"[Ticket #", ETOP_CITE_TICKET},
	{"[Device:", ETOP_CITE_DEVICE},
	{"[Policy:", ETOP_CITE_POLICY},
	{"[Risk:", ETOP_CITE_RISK},
};

const char *
etop_citation_kind_name(EtopCitationKind kind)
{
	switch (kind)
	{
		case ETOP_CITE_TICKET:
			return "Ticket";
		case ETOP_CITE_DEVICE:
			return "Device";
		case ETOP_CITE_POLICY:
			return "Policy";
		case ETOP_CITE_RISK:
			return "Risk";
	}
	return "?";
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Try to match one citation at text[i] ('['); 1 on success. */
static int
match_at(const char *text, size_t len, size_t i, EtopCitation *out)
{
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
	{
		size_t		plen = strlen(forms[f].prefix);
		size_t		j,
					start,
					end;

		if (len - i < plen || memcmp(text + i, forms[f].prefix, plen) != 0)
			continue;
		j = i + plen;
		while (j < len && is_space(text[j]))
			j++;
		start = j;
		while (j < len && text[j] != ']' && text[j] != '[' && text[j] != '\n' && text[j] != '\r')
		{
			if (forms[f].kind == ETOP_CITE_TICKET && (text[j] < '0' || text[j] > '9'))
				break;
			j++;
		}
		if (j >= len || text[j] != ']')
			continue;
		end = j;
		while (end > start && is_space(text[end - 1]))
			end--;
		if (end == start || end - start > ETOP_CITATION_MAX_REF)
			continue;
		out->kind = forms[f].kind;
		out->ref = text + start;
		out->ref_len = end - start;
		out->offset = i;
		out->len = j + 1 - i;
		return 1;
	}
	return 0;
}

int
etop_next_citation(const char *text, size_t len, size_t *pos, EtopCitation *out)
{
	for (size_t i = *pos; i < len; i++)
	{
		if (text[i] != '[')
			continue;
		if (match_at(text, len, i, out))
		{
			*pos = i + out->len;
			return 1;
		}
	}
	*pos = len;
	return 0;
}
