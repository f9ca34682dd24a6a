/*
 * fuzz_citations.c — libFuzzer harness for the citation parser
 * etop_next_citation() (src/citations.c).  The input is the narrative text
 * itself (any bytes, NULs included).
 *
 * SOURCES: src/citations.c
 *
 * Invariants, beyond "no sanitizer report":
 *   - every call moves *pos forward and never past len; 0 leaves *pos == len
 *     (so a caller's loop always ends);
 *   - a citation lies inside the text, after the start position and after
 *     the previous one: '[' at offset, ']' at its end, the tag of its kind
 *     right after the '[', and the reference inside the brackets, 1..255
 *     bytes, trimmed, without '[' ']' CR or LF (digits only for a ticket);
 *   - a citation's own bytes, parsed on their own, are exactly that one
 *     citation;
 *   - starting in the middle finds only citations at or after the start.
 */
#include "fuzz.h"

#include "etop/citations.h"

static const char *const tag[] = {
	[ETOP_CITE_TICKET] = "[Ticket #",
	[ETOP_CITE_DEVICE] = "[Device:",
	[ETOP_CITE_POLICY] = "[Policy:",
	[ETOP_CITE_RISK] = "[Risk:",
};

static void
check_citation(const char *text, size_t len, size_t start, const EtopCitation *c)
{
	size_t		taglen,
				ref_off;

	FUZZ_ASSERT(c->kind >= ETOP_CITE_TICKET && c->kind <= ETOP_CITE_RISK);
	FUZZ_ASSERT(strcmp(etop_citation_kind_name(c->kind), "?") != 0);
	taglen = strlen(tag[c->kind]);
	FUZZ_ASSERT(c->offset >= start);
	FUZZ_ASSERT(c->len > taglen && c->offset + c->len <= len);
	FUZZ_ASSERT(memcmp(text + c->offset, tag[c->kind], taglen) == 0);
	FUZZ_ASSERT(text[c->offset + c->len - 1] == ']');

	FUZZ_ASSERT(c->ref >= text && c->ref <= text + len);
	ref_off = (size_t) (c->ref - text);
	FUZZ_ASSERT(ref_off >= c->offset + taglen);
	FUZZ_ASSERT(ref_off + c->ref_len <= c->offset + c->len - 1);
	FUZZ_ASSERT(c->ref_len >= 1 && c->ref_len <= ETOP_CITATION_MAX_REF);
	FUZZ_ASSERT(c->ref[0] != ' ' && c->ref[0] != '\t');
	FUZZ_ASSERT(c->ref[c->ref_len - 1] != ' ' && c->ref[c->ref_len - 1] != '\t');
	for (size_t i = 0; i < c->ref_len; i++)
	{
		char		ch = c->ref[i];

		FUZZ_ASSERT(ch != '[' && ch != ']' && ch != '\n' && ch != '\r');
		if (c->kind == ETOP_CITE_TICKET)
			FUZZ_ASSERT(ch >= '0' && ch <= '9');
	}
}

/* Parses text from *start; returns how many citations were found. */
static size_t
parse_all(const char *text, size_t len, size_t start, bool deep)
{
	size_t		pos = start;
	size_t		prev_end = start;
	size_t		n = 0;
	EtopCitation c;

	for (;;)
	{
		size_t		before = pos;

		if (!etop_next_citation(text, len, &pos, &c))
		{
			FUZZ_ASSERT(pos == len);
			break;
		}
		FUZZ_ASSERT(pos > before && pos <= len);
		check_citation(text, len, start, &c);
		FUZZ_ASSERT(c.offset >= prev_end);	/* in order, not overlapping */
		FUZZ_ASSERT(pos == c.offset + c.len);
		prev_end = pos;
		n++;

		if (deep)
		{
			/* the citation's bytes alone: one citation, the same one */
			char	   *alone = malloc(c.len);
			size_t		p2 = 0;
			EtopCitation c2;

			FUZZ_ASSERT(alone != NULL);
			memcpy(alone, text + c.offset, c.len);
			FUZZ_ASSERT(etop_next_citation(alone, c.len, &p2, &c2) == 1);
			FUZZ_ASSERT(c2.kind == c.kind && c2.offset == 0 && c2.len == c.len);
			FUZZ_ASSERT(c2.ref - alone == c.ref - (text + c.offset) && c2.ref_len == c.ref_len);
			FUZZ_ASSERT(p2 == c.len);
			FUZZ_ASSERT(etop_next_citation(alone, c.len, &p2, &c2) == 0 && p2 == c.len);
			free(alone);
		}
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	size_t		all,
				again;

	/* libFuzzer's buffer is exactly size bytes: any over-read is reported */
	all = parse_all(text, size, 0, true);
	again = parse_all(text, size, 0, false);
	FUZZ_ASSERT(all == again);	/* deterministic */
	if (size > 0)
		(void) parse_all(text, size, size / 3, false);
	/* a start at or past the end finds nothing */
	(void) parse_all(text, size, size, false);
	return 0;
}
