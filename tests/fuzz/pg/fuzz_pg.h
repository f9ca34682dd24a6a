/*
 * fuzz_pg.h — the harness shared by the jsonb fuzz targets (fuzz_pg.c) and
 * what the backend stand-ins (stubs.c) offer it.
 */
#ifndef ETOP_FUZZ_PG_H
#define ETOP_FUZZ_PG_H

#include "postgres.h"

#include <stddef.h>
#include <stdint.h>

#include "utils/jsonb.h"

/* ---- stubs.c ---- */
extern void fuzz_free_all(void);	/* frees every palloc'd chunk */
extern size_t fuzz_live_bytes(void);
extern ErrorData *fuzz_current_error(void); /* the thrown ERROR, or NULL */
extern void fuzz_set_stack_base(void);

/* ---- fuzz_pg.c ---- */

/*
 * A target: the reader under test, given the fuzz input as PostgreSQL's
 * jsonb_in made it (and the text it was made from).  An ERROR it raises is
 * an ordinary rejected input unless error_is_finding (may be NULL) says it
 * must never happen; a crash or sanitizer report is always a finding.
 */
typedef struct FuzzTarget
{
	const char *name;
	void		(*run) (Jsonb *jb, const char *text);
	bool		(*error_is_finding) (const ErrorData *e);
} FuzzTarget;

/* ---- mutate_json.c: a structure-aware mutation; 0 = not JSON, use another ---- */
extern size_t fuzz_mutate_json(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* FUZZ_PG_VERBOSE: 1 = outcomes, 2 = also the reader's result */
extern int	fuzz_verbose;

/* Each target file defines this one. */
extern const FuzzTarget fuzz_target;

/* Aborts (a finding) with a message, printf-style. */
extern void fuzz_finding(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* Touches every byte of a string, so AddressSanitizer checks its bounds. */
extern void fuzz_touch(const char *s);

#endif							/* ETOP_FUZZ_PG_H */
