/*
 * Unit tests of the citation parser (no database).
 * SOURCES: src/citations.c
 */
#include <stdlib.h>

#include "unit.h"
#include "etop/citations.h"

static int
all(const char *text, EtopCitation *out, int max)
{
	size_t		pos = 0;
	int			n = 0;

	while (n < max && etop_next_citation(text, strlen(text), &pos, &out[n]))
		n++;
	return n;
}

static int
ref_is(const EtopCitation *c, const char *s)
{
	return c->ref_len == strlen(s) && memcmp(c->ref, s, c->ref_len) == 0;
}

int
main(void)
{
	EtopCitation c[16];
	int			n;

	n = all("Printers failed [Ticket #12345] on [Device: WS-ACCT-01]; see [Policy: MFA Enforcement] "
			"and [Risk: Unpatched Exchange Server].", c, 16);
	CHECK(n == 4);
	CHECK(c[0].kind == ETOP_CITE_TICKET && ref_is(&c[0], "12345"));
	CHECK(c[1].kind == ETOP_CITE_DEVICE && ref_is(&c[1], "WS-ACCT-01"));
	CHECK(c[2].kind == ETOP_CITE_POLICY && ref_is(&c[2], "MFA Enforcement"));
	CHECK(c[3].kind == ETOP_CITE_RISK && ref_is(&c[3], "Unpatched Exchange Server"));
	CHECK_STR(etop_citation_kind_name(c[3].kind), "Risk");

	/* spaces are trimmed; adjacent citations; UTF-8 passes through */
	n = all("[Device:   FW-MAIN-99  ][Device: Müller-PC]", c, 16);
	CHECK(n == 2);
	CHECK(ref_is(&c[0], "FW-MAIN-99"));
	CHECK(ref_is(&c[1], "Müller-PC"));
	CHECK(c[1].offset == strlen("[Device:   FW-MAIN-99  ]"));

	/* not citations: wrong case, empty, no digits, unclosed, newline, other tags */
	CHECK(all("[device: x] [Device: ] [Ticket #] [Ticket #12a] [Device: a", c, 16) == 0);
	CHECK(all("[Device: a\nb] [Note: hi] [Ticket 123] plain text", c, 16) == 0);
	CHECK(all("", c, 16) == 0);
	/* a nested bracket ends the candidate; the inner one still counts */
	n = all("[Device: [Device: SRV-DC-01]", c, 16);
	CHECK(n == 1 && ref_is(&c[0], "SRV-DC-01"));
	/* references longer than 255 bytes are not citations */
	{
		char		buf[400];

		memset(buf, 'x', sizeof(buf));
		memcpy(buf, "[Risk: ", 7);
		buf[300] = ']';
		buf[301] = '\0';
		CHECK(all(buf, c, 16) == 0);
	}
	/* random bytes never crash or read past the end (a poor man's fuzz) */
	srand(42);
	{
		int			bad = 0,
					found = 0;

		for (int round = 0; round < 20000; round++)
		{
			/* pieces of citations, so that whole ones turn up as well as broken ones */
			static const char *const pieces[] = {
				"[", "]", "#", ": ", " ", "\n", "1", "42", "x", "Ticket ", "Device", "Policy", "Risk",
				"[Ticket #", "[Device: ", "[Policy: ", "[Risk: ", "WS-01", "MFA"
			};
			char		buf[64];
			size_t		len = 0,
						want = (size_t) (rand() % 64);
			size_t		pos = 0;

			while (len < want)
			{
				const char *p = pieces[rand() % (int) (sizeof(pieces) / sizeof(pieces[0]))];
				size_t		n = strlen(p);

				if (len + n > want)
					n = want - len;
				memcpy(buf + len, p, n);
				len += n;
			}
			for (;;)
			{
				size_t		before = pos;

				if (!etop_next_citation(buf, len, &pos, &c[0]))
					break;
				found++;
				/* inside the input, and always moving forward (no endless loop) */
				if (c[0].offset + c[0].len > len || c[0].ref + c[0].ref_len > buf + len || pos <= before)
				{
					bad++;
					break;
				}
			}
		}
		CHECK(bad == 0);
		CHECK(found > 0);		/* the alphabet does make citations now and then */
	}
	UNIT_DONE();
}
