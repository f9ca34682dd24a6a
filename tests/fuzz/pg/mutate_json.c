/*
 * mutate_json.c — a structure-aware mutation for the jsonb targets.
 *
 * Byte-level mutations of a 10 KB JSON document are nearly all rejected by
 * jsonb_in (over 90% in a first run), so few inputs reach the reader, and a
 * shape such as "an evidence element that is a number" (the input that once
 * crashed etop.narrative_offline) is rarely produced.  This mutation parses the
 * input with PostgreSQL's jsonb_in, picks one node of the document and
 * writes the document back as JSON text with that node changed:
 *   - replaced by another scalar (null, booleans, numbers from 0 to 1e400,
 *     strings including the four citation forms) or by an empty/one-element
 *     container, or by a scalar seen elsewhere in the same document;
 *   - deleted (an array element, or an object member with its key);
 *   - its key renamed to another key of the same document;
 *   - a new element inserted before it, or (a scalar array element) doubled.
 * The result is always valid JSON.  fuzz_pg.c's custom mutator uses it for
 * part of the mutations and libFuzzer's byte mutations for the rest (those
 * still reach the lexer's and the string handling's corners).
 */
#include "fuzz_pg.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

static uint64 rng;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (unsigned) (rng % n) : 0;
}

static const char *const scalars[] = {
	"null", "true", "false", "0", "-1", "1", "2.5", "85", "100", "101", "-0", "1e15", "1e16",
	"1e400", "1e-400", "123456789012345678901234567890", "\"\"", "\"x\"", "\" \"",
	"\"[Ticket #1]\"", "\"[Device: D]\"", "\"[Policy: P]\"", "\"[Risk: R]\"",
	"\"[Ticket #\"", "\"critical\"", "\"identity\"", "\"#1F6FB2\"", "\"a4\"", "\"2025-01\"",
	"\"\\u00e9\\ud83d\\ude00\"", "{}", "[]", "[null]", "[1]", "[\"[Ticket #2]\"]", "{\"title\":\"t\"}",
	"{\"score\":50}", "{\"name\":\"n\"}", "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]"
};

#define MAX_SEEN 64

typedef struct Doc
{
	/* from the first pass */
	int			n_nodes;
	char	   *seen_scalars[MAX_SEEN];
	int			n_seen_scalars;
	char	   *seen_keys[MAX_SEEN];
	int			n_seen_keys;
} Doc;

static char *
scalar_text(JsonbValue *v)
{
	StringInfoData b;

	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return v->val.boolean ? "true" : "false";
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvString:
			initStringInfo(&b);
			escape_json(&b, pnstrdup(v->val.string.val, v->val.string.len));
			return b.data;
		default:
			return "null";
	}
}

static void
remember(char **arr, int *n, int *count, char *s)
{
	/* reservoir sampling: every one seen has the same chance to be kept */
	(*count)++;
	if (*n < MAX_SEEN)
		arr[(*n)++] = s;
	else
	{
		unsigned	j = rnd(*count);

		if (j < MAX_SEEN)
			arr[j] = s;
	}
}

static void
first_pass(Jsonb *jb, Doc *d)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0,
				n_scalars = 0,
				n_keys = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (depth++ > 0)
					d->n_nodes++;
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				depth--;
				break;
			case WJB_KEY:
				remember(d->seen_keys, &d->n_seen_keys, &n_keys, scalar_text(&v));
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				d->n_nodes++;
				remember(d->seen_scalars, &d->n_seen_scalars, &n_scalars, scalar_text(&v));
				break;
			default:
				break;
		}
	}
}

typedef enum
{
	OP_REPLACE, OP_TRANSPLANT, OP_DELETE, OP_RENAME, OP_INSERT, OP_DOUBLE, N_OPS
} Op;

/* The document as JSON text, with node number `target` changed by `op`. */
static char *
rewrite(Jsonb *jb, Doc *d, int target, Op op)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData out;
	bool		first[1024];
	int			depth = 0,
				node = -1,
				skip_to = -1;	/* skipping a replaced/deleted container: until depth is this */
	char	   *key = NULL;
	bool		raw = false;

	initStringInfo(&out);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		bool		is_node = false;
		bool		container = (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT);

		if (skip_to >= 0)
		{
			if (container)
				depth++;
			else if (tok == WJB_END_ARRAY || tok == WJB_END_OBJECT)
			{
				depth--;
				if (depth == skip_to)
					skip_to = -1;
			}
			continue;
		}
		if (tok == WJB_KEY)
		{
			key = scalar_text(&v);
			continue;
		}
		if (tok == WJB_END_ARRAY || tok == WJB_END_OBJECT)
		{
			depth--;
			if (!(raw && depth == 0))
				appendStringInfoChar(&out, tok == WJB_END_ARRAY ? ']' : '}');
			continue;
		}
		if (container && depth == 0)
		{
			raw = (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar);
			if (!raw)
				appendStringInfoChar(&out, tok == WJB_BEGIN_ARRAY ? '[' : '{');
			first[depth++] = true;
			continue;
		}
		is_node = true;
		node++;
		if (depth >= (int) lengthof(first))
			return NULL;		/* deeper than this mutation handles */

		/* a node (scalar or nested container) at depth > 0 */
		if (node == target && op == OP_DELETE && !raw)
		{
			key = NULL;			/* an object member goes with its key */
			if (container)
			{
				skip_to = depth;
				depth++;
			}
			continue;
		}
		if (!(raw && depth == 1))
		{
			if (!first[depth - 1])
				appendStringInfoChar(&out, ',');
			first[depth - 1] = false;
		}
		if (node == target && op == OP_INSERT && key == NULL && !raw)
		{
			appendStringInfoString(&out, scalars[rnd(lengthof(scalars))]);
			appendStringInfoChar(&out, ',');
		}
		if (key)
		{
			if (node == target && op == OP_RENAME && d->n_seen_keys > 0)
				appendStringInfoString(&out, d->seen_keys[rnd(d->n_seen_keys)]);
			else
				appendStringInfoString(&out, key);
			appendStringInfoChar(&out, ':');
			key = NULL;
		}
		if (node == target && (op == OP_REPLACE || op == OP_TRANSPLANT))
		{
			if (op == OP_TRANSPLANT && d->n_seen_scalars > 0)
				appendStringInfoString(&out, d->seen_scalars[rnd(d->n_seen_scalars)]);
			else
				appendStringInfoString(&out, scalars[rnd(lengthof(scalars))]);
			if (container)
			{
				skip_to = depth;
				depth++;
			}
			continue;
		}
		if (container)
		{
			appendStringInfoChar(&out, tok == WJB_BEGIN_ARRAY ? '[' : '{');
			first[depth++] = true;
			continue;
		}
		appendStringInfoString(&out, scalar_text(&v));
		if (node == target && op == OP_DOUBLE && tok == WJB_ELEM && !raw)
		{
			appendStringInfoChar(&out, ',');
			appendStringInfoString(&out, scalar_text(&v));
		}
		(void) is_node;
	}
	return out.data;
}

/*
 * Mutates data in place; returns the new size, or 0 when the input is not a
 * jsonb document (or the result would not fit), for the caller to fall back
 * on byte mutations.  Frees everything it palloc'd.
 */
size_t
fuzz_mutate_json(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	static sigjmp_buf jmp;
	volatile size_t result = 0;
	sigjmp_buf *saved = PG_exception_stack;

	rng = (uint64) seed * 0x9E3779B97F4A7C15ULL + 1;
	if (size == 0 || memchr(data, '\0', size) != NULL)
		return 0;
	if (sigsetjmp(jmp, 0) == 0)
	{
		char	   *text = palloc(size + 1);
		Jsonb	   *jb;
		Doc			d;
		char	   *out;

		PG_exception_stack = &jmp;
		fuzz_set_stack_base();
		memcpy(text, data, size);
		text[size] = '\0';
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
		memset(&d, 0, sizeof(d));
		first_pass(jb, &d);
		if (d.n_nodes > 0)
		{
			out = rewrite(jb, &d, (int) rnd(d.n_nodes), (Op) rnd(N_OPS));
			if (out && strlen(out) <= max_size)
			{
				memcpy(data, out, strlen(out));
				result = strlen(out);
			}
		}
	}
	PG_exception_stack = saved;
	FlushErrorState();
	fuzz_free_all();
	return result;
}
