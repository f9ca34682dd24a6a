/*
 * fuzz_pg.c — the libFuzzer entry point shared by the jsonb targets.
 *
 * Each input is JSON text.  As in a real backend, text that is not valid
 * UTF-8 (the database encoding here) or holds a NUL byte never reaches
 * jsonb_in (the client connection would have refused it), so it is skipped.
 * The rest goes through PostgreSQL's real jsonb_in; an ERROR there is a
 * rejected input.  Then the target runs its reader on the jsonb.  An ERROR
 * longjmps back here and counts as rejected too, except:
 *   - an elog(ERROR) (SQLSTATE XX000, "can't happen"), in PostgreSQL's code,
 *     etop's or the stubs', aborts: it is a finding;
 *   - whatever the target's error_is_finding() says must never happen.
 * After each input, every palloc'd byte is freed (fuzz_free_all), as the end
 * of a statement resets its memory context.
 *
 * Environment: FUZZ_PG_VERBOSE=1 prints each input's outcome and the ERROR's
 * message (to check a reproducer against a real backend's message); 2 also
 * prints what the reader made of it, where the target can (to compare with
 * the same SQL call in a real backend).
 */
#include "fuzz_pg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/elog.h"

int			fuzz_verbose;
static bool bytes_only;		/* FUZZ_PG_BYTES_ONLY: no structure-aware mutations */
static long n_inputs,
			n_skipped,			/* not UTF-8, or a NUL byte */
			n_rejected,			/* ERROR in jsonb_in */
			n_errors,			/* ERROR in the reader */
			n_ok;

static void
report(void)
{
	fprintf(stderr, "fuzz_pg %s: %ld inputs: %ld read without error, %ld ERROR in the reader, "
			"%ld rejected by jsonb_in, %ld not UTF-8 or with a NUL byte\n",
			fuzz_target.name, n_inputs, n_ok, n_errors, n_rejected, n_skipped);
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t		LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t		LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
									unsigned int seed);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* a UTF-8 database, as etop's clusters are */
	SetDatabaseEncoding(PG_UTF8);
	fuzz_verbose = getenv("FUZZ_PG_VERBOSE") ? atoi(getenv("FUZZ_PG_VERBOSE")) : 0;
	bytes_only = getenv("FUZZ_PG_BYTES_ONLY") != NULL;
	atexit(report);
	return 0;
}

/*
 * Otherwise libFuzzer's own mutations, then every NUL byte and every byte that does not
 * start a valid UTF-8 sequence made ASCII: half of the raw mutations were
 * inputs a backend never sees (skipped above), now nearly none are.  Valid
 * multibyte characters (from the seeds and the dictionary) are kept.  What is
 * stored in the corpus is exactly what the reader gets.
 */
size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	/* two times in three, a structure-aware mutation (mutate_json.c) */
	if (seed % 3 != 0 && !bytes_only)
	{
		size_t		n = fuzz_mutate_json(data, size, max_size, seed / 3);

		if (n > 0)
			return n;
	}
	size = LLVMFuzzerMutate(data, size, max_size);
	for (size_t i = 0; i < size;)
	{
		int			len = data[i] < 0x80 ? 1 : pg_utf_mblen(&data[i]);

		if (data[i] == 0)
			data[i] = ' ';
		else if (len > 1 && i + len <= size && pg_utf8_islegal(&data[i], len))
		{
			i += len;
			continue;
		}
		else if (data[i] >= 0x80)
			data[i] = (data[i] & 0x7f) ? (data[i] & 0x7f) : ' ';
		i++;
	}
	return size;
}

void
fuzz_finding(const char *fmt,...)
{
	va_list		args;

	fprintf(stderr, "fuzz_pg %s: FINDING: ", fuzz_target.name);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	abort();
}

void
fuzz_touch(const char *s)
{
	volatile size_t n = 0;

	if (s)
		n = strlen(s);
	(void) n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sigjmp_buf jmp;
	static volatile bool in_reader;

	n_inputs++;
	if (memchr(data, '\0', size) != NULL ||
		!pg_verifymbstr((const char *) data, (int) size, true))
	{
		n_skipped++;
		return 0;
	}
	fuzz_set_stack_base();
	in_reader = false;
	if (sigsetjmp(jmp, 0) == 0)
	{
		char	   *text;
		Jsonb	   *jb;

		PG_exception_stack = &jmp;
		text = palloc(size + 1);
		memcpy(text, data, size);
		text[size] = '\0';
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
		in_reader = true;
		fuzz_target.run(jb, text);
		n_ok++;
		if (fuzz_verbose)
			fprintf(stderr, "fuzz_pg %s: read without error\n", fuzz_target.name);
	}
	else
	{
		ErrorData  *e = fuzz_current_error();

		if (e == NULL)
			fuzz_finding("longjmp without an error");
		if (fuzz_verbose)
			fprintf(stderr, "fuzz_pg %s: ERROR in %s: %s (SQLSTATE %s)%s%s\n", fuzz_target.name,
					in_reader ? "the reader" : "jsonb_in", e->message ? e->message : "",
					unpack_sql_state(e->sqlerrcode),
					e->detail ? "; DETAIL: " : "", e->detail ? e->detail : "");
		if (e->sqlerrcode == ERRCODE_INTERNAL_ERROR)
			fuzz_finding("elog(ERROR) in %s at %s:%d: %s", in_reader ? "the reader" : "jsonb_in",
						 e->filename ? e->filename : "?", e->lineno,
						 e->message ? e->message : "");
		if (in_reader && fuzz_target.error_is_finding && fuzz_target.error_is_finding(e))
			fuzz_finding("unexpected ERROR in the reader at %s:%d: %s",
						 e->filename ? e->filename : "?", e->lineno,
						 e->message ? e->message : "");
		if (in_reader)
			n_errors++;
		else
			n_rejected++;
	}
	PG_exception_stack = NULL;
	error_context_stack = NULL;
	FlushErrorState();
	fuzz_free_all();
	return 0;
}
