/*
 * unexpected.c — functions the linker asks for that etop's jsonb readers
 * can never reach: PostgreSQL code kept by the linker (jsonb.c's and json.c's
 * to_jsonb/to_json of dates and times, reached only from SQL functions that
 * --gc-sections cannot prove dead because they share a section with live
 * code) names them.  Each aborts with "unexpected call": reaching one is a
 * finding (or a stub to write), never silently ignored.  No PostgreSQL
 * header is included, so the signatures need not match.
 */
#include <stdio.h>
#include <stdlib.h>

#define UNEXPECTED(name) \
	void name(void); \
	void name(void) { fprintf(stderr, "fuzz stubs: unexpected call to %s\n", #name); abort(); }

UNEXPECTED(EncodeDateOnly)
UNEXPECTED(EncodeDateTime)
UNEXPECTED(EncodeSpecialDate)
UNEXPECTED(EncodeSpecialTimestamp)
UNEXPECTED(EncodeTimeOnly)
UNEXPECTED(FindDefaultConversionProc)
UNEXPECTED(FunctionCall6Coll)
UNEXPECTED(IsTransactionState)
UNEXPECTED(j2date)
UNEXPECTED(OidFunctionCall6Coll)
UNEXPECTED(time2tm)
UNEXPECTED(timestamp2tm)
UNEXPECTED(timetz2tm)
