/*
 * json_util.h — small jsonb helpers shared by the C files that read
 * documents (narratives, vendor replies, connection settings).
 */
#ifndef ETOP_JSON_UTIL_H
#define ETOP_JSON_UTIL_H

#include "utils/jsonb.h"

/* The value of key in an object container, or NULL (also when c is not an object). */
extern JsonbValue *etop_jsonb_key(JsonbContainer *c, const char *key);

/* A string/number/boolean member as text (palloc'd), or NULL. */
extern char *etop_jsonb_text(JsonbContainer *c, const char *key);

/*
 * Parse text (UTF-8, as JSON is) as jsonb.  Bad input (PostgreSQL's own
 * message, e.g. "invalid input syntax for type json", "invalid byte sequence
 * for encoding \"UTF8\": 0xc3 0x22", or "stack depth limit exceeded" for
 * nesting too deep to parse) comes back in *error with NULL, for the caller
 * to report as the vendor's or the model's fault; any other error (out of
 * memory, a cancel) is raised as usual.
 */
extern Jsonb *etop_jsonb_parse(const char *text, char **error);

#endif							/* ETOP_JSON_UTIL_H */
