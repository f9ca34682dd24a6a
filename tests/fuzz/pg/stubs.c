/*
 * stubs.c — the smallest stand-ins for the PostgreSQL backend that etop's
 * jsonb readers need, so they can run outside the server with PostgreSQL's
 * OWN jsonb implementation (jsonb.c, jsonb_util.c, jsonapi.c, numeric.c ...,
 * fetched by fetch-pg-source.sh and compiled unchanged).
 *
 * What is stubbed here, and how (each as small as it can be):
 *
 *  - memory contexts (palloc & co.): malloc with a small header; every chunk
 *    is on one list and fuzz_free_all() frees them all after each input, as
 *    the end of a statement resets its memory context.  So LeakSanitizer
 *    only reports memory that escapes palloc (a real leak), and AddressSanitizer
 *    sees every chunk's exact bounds.  All contexts are the same pool.
 *  - ereport/elog: errstart .. errfinish collect an ErrorData; an ERROR
 *    siglongjmps to PG_exception_stack (PG_TRY/PG_CATCH and the harness's
 *    own sigsetjmp work as in the backend); below ERROR nothing is kept;
 *    FATAL/PANIC abort (a crash: always a finding).
 *  - fmgr: DirectFunctionCall1..3 (as fmgr.c), pg_detoast_datum for
 *    plain 4-byte-header values (all a jsonb_in result has).
 *  - interrupts: the InterruptPending globals (never set), check_stack_depth
 *    measuring the real stack against max_stack_depth's default (2 MB).
 *
 * A function the linker asks for but that etop's readers must never reach
 * is a stub that aborts with "unexpected call": reaching it is a finding
 * (or a stub to write), never silently ignored.
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "fuzz_pg.h"

/* ------------------------------------------------------------ memory */

/*
 * Chunk header: the list links, the size, and (last, right before the
 * user's pointer, where GetMemoryChunkContext() looks) the context.
 * 32 bytes, so the user's pointer keeps malloc's 16-byte alignment.
 */
typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	size_t		size;
	MemoryContext context;
} Chunk;

static Chunk chunks = {&chunks, &chunks, 0, NULL};
static size_t live_bytes;

static MemoryContextData the_context;	/* one pool for every context */
MemoryContext CurrentMemoryContext = &the_context;
MemoryContext TopMemoryContext = &the_context;
MemoryContext ErrorContext = &the_context;

size_t
fuzz_live_bytes(void)
{
	return live_bytes;
}

void
fuzz_free_all(void)
{
	Chunk	   *c = chunks.next;

	while (c != &chunks)
	{
		Chunk	   *next = c->next;

		free(c);
		c = next;
	}
	chunks.next = chunks.prev = &chunks;
	live_bytes = 0;
}

static void *
chunk_alloc(Size size, int flags)
{
	Chunk	   *c;

	if (!((flags & MCXT_ALLOC_HUGE) ? AllocHugeSizeIsValid(size) : AllocSizeIsValid(size)))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = (flags & MCXT_ALLOC_ZERO) ? calloc(1, sizeof(Chunk) + size) : malloc(sizeof(Chunk) + size);
	if (c == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", size)));
	}
	c->size = size;
	c->context = &the_context;
	c->prev = &chunks;
	c->next = chunks.next;
	chunks.next->prev = c;
	chunks.next = c;
	live_bytes += size;
	return c + 1;
}

static void
chunk_unlink(Chunk *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	live_bytes -= c->size;
}

void *
palloc(Size size)
{
	return chunk_alloc(size, 0);
}

void *
palloc0(Size size)
{
	return chunk_alloc(size, MCXT_ALLOC_ZERO);
}

void *
palloc_extended(Size size, int flags)
{
	return chunk_alloc(size, flags);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return chunk_alloc(size, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return chunk_alloc(size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocZeroAligned(MemoryContext context, Size size)
{
	return chunk_alloc(size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return chunk_alloc(size, flags);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return chunk_alloc(size, MCXT_ALLOC_HUGE);
}

void
pfree(void *pointer)
{
	Chunk	   *c = ((Chunk *) pointer) - 1;

	chunk_unlink(c);
	free(c);
}

static void *
chunk_realloc(void *pointer, Size size, int flags)
{
	Chunk	   *c = ((Chunk *) pointer) - 1,
			   *n;

	if (!((flags & MCXT_ALLOC_HUGE) ? AllocHugeSizeIsValid(size) : AllocSizeIsValid(size)))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	chunk_unlink(c);
	n = realloc(c, sizeof(Chunk) + size);
	if (n == NULL)
		c->size = 0;			/* relinked below, still owned by the pool */
	else
	{
		c = n;
		c->size = size;
	}
	c->prev = &chunks;
	c->next = chunks.next;
	chunks.next->prev = c;
	chunks.next = c;
	live_bytes += c->size;
	if (n == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", size)));
	return c + 1;
}

void *
repalloc(void *pointer, Size size)
{
	return chunk_realloc(pointer, size, 0);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return chunk_realloc(pointer, size, MCXT_ALLOC_HUGE);
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	size_t		len = strlen(string) + 1;
	char	   *s = chunk_alloc(len, 0);

	memcpy(s, string, len);
	return s;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

/* A "new" context is the same pool: its memory goes at the end of the input. */
MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name,
							  Size minContextSize, Size initBlockSize, Size maxBlockSize)
{
	return &the_context;
}

void
MemoryContextReset(MemoryContext context)
{
}

void
MemoryContextResetOnly(MemoryContext context)
{
}

void
MemoryContextDelete(MemoryContext context)
{
}

/* ------------------------------------------------------------ errors */

sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

static ErrorData error;			/* the error being built or thrown */
static bool error_pending;		/* error holds a thrown, unflushed ERROR */
static int	error_depth;		/* > 0 while an ereport is being built */

int			fuzz_last_sqlerrcode;	/* of the last ERROR, for the harness */

bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;			/* notices and warnings go nowhere */
	if (error_depth > 0)
	{
		/* an ERROR while building one (PostgreSQL's "recursion trouble") */
		fprintf(stderr, "fuzz stubs: ereport inside ereport\n");
		abort();
	}
	error_depth++;
	memset(&error, 0, sizeof(error));
	error.elevel = elevel;
	error.domain = domain;
	error.sqlerrcode = ERRCODE_INTERNAL_ERROR;
	error.saved_errno = errno;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

bool
message_level_is_interesting(int elevel)
{
	return elevel >= ERROR;
}

bool
in_error_recursion_trouble(void)
{
	return false;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	ErrorContextCallback *econtext;

	error.filename = filename;
	error.lineno = lineno;
	error.funcname = funcname;
	/* as elog.c: collect the CONTEXT lines (json_ereport_error has some) */
	for (econtext = error_context_stack; econtext != NULL; econtext = econtext->previous)
		econtext->callback(econtext->arg);
	error_depth--;
	if (error.elevel >= FATAL)
	{
		fprintf(stderr, "fuzz stubs: %s at %s:%d: %s\n",
				error.elevel == FATAL ? "FATAL" : "PANIC", filename, lineno,
				error.message ? error.message : "(no message)");
		abort();
	}
	error_pending = true;
	fuzz_last_sqlerrcode = error.sqlerrcode;
	pg_re_throw();
}

void
pg_re_throw(void)
{
	if (PG_exception_stack == NULL)
	{
		fprintf(stderr, "fuzz stubs: ERROR with no handler: %s\n",
				error.message ? error.message : "(no message)");
		abort();
	}
	siglongjmp(*PG_exception_stack, 1);
}

ErrorData *
fuzz_current_error(void)
{
	return error_pending ? &error : NULL;
}

ErrorData *
CopyErrorData(void)
{
	ErrorData  *e = palloc(sizeof(ErrorData));

	*e = error;					/* the strings stay valid until the input ends */
	return e;
}

void
FreeErrorData(ErrorData *edata)
{
	pfree(edata);
}

void
FlushErrorState(void)
{
	error_pending = false;
	error_depth = 0;
	memset(&error, 0, sizeof(error));
}

int
errcode(int sqlerrcode)
{
	error.sqlerrcode = sqlerrcode;
	return 0;
}

/* vsnprintf into a palloc'd string, as elog.c's EVALUATE_MESSAGE does */
static char *
format(const char *fmt, va_list args)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		copy;
		int			needed;

		errno = error.saved_errno;	/* for %m */
		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}

#define SET_FIELD(field, fmt) \
	do { \
		va_list args; \
		va_start(args, fmt); \
		error.field = format(fmt, args); \
		va_end(args); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	SET_FIELD(message, fmt);
	error.message_id = fmt;
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	SET_FIELD(message, fmt);
	error.message_id = fmt;
	return 0;
}

int
errdetail(const char *fmt,...)
{
	SET_FIELD(detail, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	SET_FIELD(detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	SET_FIELD(hint, fmt);
	return 0;
}

int
errcontext_msg(const char *fmt,...)
{
	char	   *old = error.context;

	SET_FIELD(context, fmt);
	if (old)
		error.context = psprintf("%s\n%s", old, error.context);
	return 0;
}

int
set_errcontext_domain(const char *domain)
{
	error.context_domain = domain;
	return 0;
}

int
errposition(int cursorpos)
{
	error.cursorpos = cursorpos;
	return 0;
}

/* ------------------------------------------------------------ fmgr */

/* As fmgr.c: call a V1 function directly; a NULL result is an error. */
Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

Datum
DirectFunctionCall2Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 2, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = arg2;
	fcinfo->args[1].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

Datum
DirectFunctionCall3Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2, Datum arg3)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 3, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = arg2;
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = arg3;
	fcinfo->args[2].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

/*
 * Values here are never toasted: jsonb_in returns a 4-byte-header varlena.
 * A 1-byte-header one is copied out as the backend would; anything else
 * (compressed, external) cannot happen and aborts.
 */
struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_4B_U(datum))
		return datum;
	if (VARATT_IS_1B(datum) && !VARATT_IS_1B_E(datum))
	{
		Size		len = VARSIZE_1B(datum) - VARHDRSZ_SHORT;
		struct varlena *copy = palloc(len + VARHDRSZ);

		SET_VARSIZE(copy, len + VARHDRSZ);
		memcpy(VARDATA(copy), VARDATA_1B(datum), len);
		return copy;
	}
	fprintf(stderr, "fuzz stubs: unexpected toasted datum\n");
	abort();
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	if (VARATT_IS_1B(datum) && !VARATT_IS_1B_E(datum))
		return datum;
	return pg_detoast_datum(datum);
}

/* ------------------------------------------------------------ interrupts, stack */

volatile sig_atomic_t InterruptPending = false;
volatile sig_atomic_t QueryCancelPending = false;
volatile sig_atomic_t ProcDiePending = false;
volatile uint32 InterruptHoldoffCount = 0;
volatile uint32 QueryCancelHoldoffCount = 0;
volatile uint32 CritSectionCount = 0;

/* Never called: InterruptPending is never set (no signals here). */
void
ProcessInterrupts(void)
{
}

static char *stack_base;

void
fuzz_set_stack_base(void)
{
	stack_base = __builtin_frame_address(0);
}

/*
 * As postgres.c with max_stack_depth = 2MB (the default), measured with the
 * frame address: under AddressSanitizer a local's address may be on its fake
 * stack.  Frames are bigger under the sanitizers, so the limit comes at a
 * smaller depth than in the server; the outcome (this error) is the same.
 */
void
check_stack_depth(void)
{
	char	   *here = __builtin_frame_address(0);
	long		depth = (long) (stack_base - here);

	if (depth < 0)
		depth = -depth;
	if (stack_base != NULL && depth > 2048L * 1024L)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("stack depth limit exceeded"),
				 errhint("Increase the configuration parameter \"max_stack_depth\" (currently %dkB), "
						 "after ensuring the platform's stack depth limit is adequate.",
						 2048)));
}

/* As elog.c: the five-character SQLSTATE of an error code. */
char *
unpack_sql_state(int sql_state)
{
	static char buf[12];
	int			i;

	for (i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sql_state);
		sql_state >>= 6;
	}
	buf[i] = '\0';
	return buf;
}
