/*
 * unit.h — a minimal unit-test harness for etop's pure C modules (no
 * database).  Each tests/unit/test_*.c is one binary; it declares the pure
 * sources it links with in a line of the form
 *     SOURCES: src/score_formulas.c
 * inside its header comment, calls CHECK*() and ends with UNIT_DONE(), which
 * prints "N passed, N failed" and returns non-zero on failure.
 */
#ifndef ETOP_UNIT_H
#define ETOP_UNIT_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int	unit_passed = 0;
static int	unit_failed = 0;

#define CHECK(cond) do { \
	if (cond) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_NEAR(a, b, eps) do { \
	double _a = (a), _b = (b); \
	if (fabs(_a - _b) <= (eps)) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "%s:%d: %s = %.6f, expected %.6f (+/- %g)\n", \
								  __FILE__, __LINE__, #a, _a, _b, (double) (eps)); } \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (_a && _b && strcmp(_a, _b) == 0) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "%s:%d: %s = \"%s\", expected \"%s\"\n", \
								  __FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)"); } \
} while (0)

#define UNIT_DONE() do { \
	printf("%s: %d passed, %d failed\n", __FILE__, unit_passed, unit_failed); \
	return unit_failed == 0 ? 0 : 1; \
} while (0)

#endif
