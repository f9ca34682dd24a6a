/*
 * graph_refusal.c — what a Microsoft Graph HTTP 403 means (see
 * include/etop/graph_refusal.h).  No PostgreSQL headers: unit tested in
 * tests/unit/test_graph_refusal.c.
 */
#include "etop/graph_refusal.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/*
 * The string value of the first member named key in body (a JSON object
 * text), copied into out; false when there is none.  Enough for Graph's
 * error object, whose "code" and "message" are plain strings; escapes are
 * kept as they are (codes have none).
 */
static bool
string_member(const char *body, const char *key, char *out, size_t outlen)
{
	size_t		klen = strlen(key);
	const char *p = body;

	if (outlen == 0)
		return false;
	out[0] = '\0';
	while ((p = strchr(p, '"')) != NULL)
	{
		const char *q = p + 1;
		size_t		n = 0;

		if (strncmp(q, key, klen) != 0 || q[klen] != '"')
		{
			/* skip this string */
			for (q = p + 1; *q && *q != '"'; q++)
				if (*q == '\\' && q[1])
					q++;
			if (!*q)
				return false;
			p = q + 1;
			continue;
		}
		q += klen + 1;
		while (isspace((unsigned char) *q))
			q++;
		if (*q != ':')
		{
			p = q;
			continue;
		}
		q++;
		while (isspace((unsigned char) *q))
			q++;
		if (*q != '"')
			return false;
		for (q++; *q && *q != '"'; q++)
		{
			if (*q == '\\' && q[1])
				q++;
			if (n + 1 < outlen)
				out[n++] = *q;
		}
		out[n] = '\0';
		return true;
	}
	return false;
}

/* whether s contains word, ignoring case */
static bool
contains_ci(const char *s, const char *word)
{
	size_t		wl = strlen(word);

	for (; *s; s++)
		if (strncasecmp(s, word, wl) == 0)
			return true;
	return false;
}

GraphRefusal
graph_refusal_kind(const char *body, char *code, size_t codelen)
{
	char		message[512];

	if (codelen > 0)
		code[0] = '\0';
	if (body == NULL)
		return GRAPH_REFUSED_PERMISSION;
	string_member(body, "code", code, codelen);
	string_member(body, "message", message, sizeof(message));
	if (strcmp(code, "Authentication_RequestFromNonPremiumTenantOrB2CTenant") == 0 ||
		contains_ci(code, "license") || contains_ci(code, "licence") ||
		contains_ci(message, "premium license") || contains_ci(message, "not licensed"))
		return GRAPH_REFUSED_LICENCE;
	return GRAPH_REFUSED_PERMISSION;
}
