/*
 * fuzz.h — helpers shared by the libFuzzer harnesses of tests/fuzz.
 *
 * FuzzIn takes typed values off the front of the fuzz input.  Once the input
 * is used up every reader returns zeros (and fz_str an empty string), so any
 * byte string is a valid input and the harnesses never need to bail out.
 * Strings are copied into heap blocks of exactly their size, so
 * AddressSanitizer catches a read of even one byte past their end.
 *
 * FUZZ_ASSERT(cond) prints the broken invariant and aborts; libFuzzer then
 * saves the input as a crash.
 */
#ifndef ETOP_FUZZ_H
#define ETOP_FUZZ_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) \
	{ \
		fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

typedef struct FuzzIn
{
	const uint8_t *p;
	size_t		n;
} FuzzIn;

static inline FuzzIn
fz_init(const uint8_t *data, size_t size)
{
	FuzzIn		in = {data, size};

	return in;
}

static inline uint8_t
fz_u8(FuzzIn *in)
{
	uint8_t		v = 0;

	if (in->n > 0)
	{
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static inline bool
fz_bool(FuzzIn *in)
{
	return (fz_u8(in) & 1) != 0;
}

/* little-endian, zero-padded when the input runs out */
static inline uint64_t
fz_uint(FuzzIn *in, int bytes)
{
	uint64_t	v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t) fz_u8(in) << (8 * i);
	return v;
}

/* 0 .. max, both included */
static inline size_t
fz_range(FuzzIn *in, size_t max)
{
	if (max == 0)
		return 0;
	if (max < 256)
		return fz_u8(in) % (max + 1);
	return (size_t) (fz_uint(in, 4) % ((uint64_t) max + 1));
}

/* Any long: small values, the edges, or all 64 bits from the input. */
static inline long
fz_long(FuzzIn *in)
{
	static const long edge[] = {0, 1, -1, 2, 9, 10, 99, 100, 101, 999, 1000,
		1001, 1000000, 1000000000000000L, 0x7fffffffL, 0x80000000L,
		0x7fffffffffffffffL, -0x7fffffffffffffffL - 1, -0x7fffffffffffffffL};
	uint8_t		sel = fz_u8(in);

	if (sel < 96)
		return (long) sel - 16;
	if (sel < 160)
		return edge[sel % (sizeof(edge) / sizeof(edge[0]))];
	return (long) fz_uint(in, 8);
}

/* Any double, finite or not: small values, edges, or raw bits. */
static inline double
fz_double(FuzzIn *in)
{
	static const double edge[] = {0.0, -0.0, 0.5, 1.0, -1.0, 19.99, 20.0, 20.01,
		39.99, 40.0, 59.999, 60.0, 79.95, 80.0, 99.94, 99.95, 99.96, 100.0, 100.04,
		100.05, 140.0, 1e9, -1e9, 1e15, 1e18, 9.3e18, -9.3e18, 1e300, -1e300, 1e-300,
		INFINITY, -INFINITY, NAN};
	uint8_t		sel = fz_u8(in);
	uint64_t	bits;
	double		d;

	if (sel < 100)
		return (double) sel + (double) fz_u8(in) / 256.0 - 10.0;
	if (sel < 200)
		return edge[sel % (sizeof(edge) / sizeof(edge[0]))];
	bits = fz_uint(in, 8);
	memcpy(&d, &bits, sizeof(d));
	return d;
}

/*
 * The next string: bytes up to a NUL (consumed) or at most max bytes, as a
 * NUL-terminated heap copy of exactly that size.  The caller frees it.
 */
static inline char *
fz_str(FuzzIn *in, size_t max)
{
	size_t		len = 0;
	char	   *s;

	while (len < in->n && len < max && in->p[len] != '\0')
		len++;
	s = malloc(len + 1);
	FUZZ_ASSERT(s != NULL);
	memcpy(s, in->p, len);
	s[len] = '\0';
	in->p += len;
	in->n -= len;
	if (in->n > 0 && len < max)
	{
		/* the NUL that ended it */
		in->p++;
		in->n--;
	}
	return s;
}

/* The next len bytes (fewer at the end of the input), in place. */
static inline const uint8_t *
fz_bytes(FuzzIn *in, size_t want, size_t *len)
{
	const uint8_t *p = in->p;

	if (want > in->n)
		want = in->n;
	in->p += want;
	in->n -= want;
	*len = want;
	return p;
}

/* True if s[0..size) contains a NUL, i.e. is a terminated C string. */
static inline bool
fz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#endif							/* ETOP_FUZZ_H */
