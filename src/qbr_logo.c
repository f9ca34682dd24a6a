/*
 * qbr_logo.c — checks an MSP logo (PNG bytes) before libharu sees it.
 *
 * libharu 2.3.0 installs a libpng error handler that returns instead of
 * jumping, so libpng falls back to abort(): a corrupt PNG handed to
 * HPDF_LoadPngImageFromMem() kills the whole process (in PostgreSQL: the
 * backend, and with it every session, through crash recovery).  So the
 * renderer decodes the PNG here first, completely, with libpng's proper
 * setjmp error handling confined to this file, and passes on only data that
 * decoded without a single error or warning (libharu treats libpng warnings
 * as errors too).  Pure C: no libharu, no PostgreSQL.
 */
#include "etop/qbr_pdf.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct LogoReader
{
	const unsigned char *data;
	size_t		len;
	size_t		pos;
	bool		warned;
	char		why[160];
	unsigned char *volatile row;	/* freed after a longjmp, hence volatile */
} LogoReader;

static void
logo_read(png_structp png, png_bytep out, png_size_t n)
{
	LogoReader *r = (LogoReader *) png_get_io_ptr(png);

	if (r->len - r->pos < n)
		png_error(png, "PNG data is truncated");
	memcpy(out, r->data + r->pos, n);
	r->pos += n;
}

static void
logo_error(png_structp png, png_const_charp msg)
{
	LogoReader *r = (LogoReader *) png_get_error_ptr(png);

	snprintf(r->why, sizeof(r->why), "%s", msg);
	png_longjmp(png, 1);
}

static void
logo_warning(png_structp png, png_const_charp msg)
{
	LogoReader *r = (LogoReader *) png_get_error_ptr(png);

	if (!r->warned)
		snprintf(r->why, sizeof(r->why), "%s", msg);
	r->warned = true;
}

/*
 * Decodes every row; returns true when the PNG is clean.  All libpng state
 * is created and destroyed in here, and the longjmp target is in this frame.
 */
static bool
decode(LogoReader *r, unsigned *width, unsigned *height)
{
	png_structp png;
	png_infop	info;
	png_uint_32 w,
				h;
	int			depth,
				color,
				passes,
				pass;
	png_uint_32 y;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, logo_error, logo_warning);
	if (png == NULL)
	{
		snprintf(r->why, sizeof(r->why), "out of memory");
		return false;
	}
	info = png_create_info_struct(png);
	if (info == NULL)
	{
		png_destroy_read_struct(&png, NULL, NULL);
		snprintf(r->why, sizeof(r->why), "out of memory");
		return false;
	}
	if (setjmp(png_jmpbuf(png)))
	{
		png_destroy_read_struct(&png, &info, NULL);
		free(r->row);
		r->row = NULL;
		return false;
	}
	png_set_read_fn(png, r, logo_read);
	png_set_user_limits(png, 16384, 16384);
	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &color, NULL, NULL, NULL);
	if ((unsigned long long) w * h > QBR_LOGO_MAX_PIXELS)
		png_error(png, "image is too large for a logo");
	if (depth == 16)
		png_set_strip_16(png);	/* as libharu does */
	passes = png_set_interlace_handling(png);
	png_read_update_info(png, info);
	r->row = malloc(png_get_rowbytes(png, info) + 1);
	if (r->row == NULL)
		png_error(png, "out of memory");
	for (pass = 0; pass < passes; pass++)
		for (y = 0; y < h; y++)
			png_read_row(png, r->row, NULL);
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	free(r->row);
	r->row = NULL;
	*width = w;
	*height = h;
	return !r->warned;
}

bool
qbr_logo_check(const unsigned char *data, size_t len,
			   unsigned *width, unsigned *height, char *why, size_t whylen)
{
	LogoReader	r;
	bool		ok;

	*width = *height = 0;
	if (data == NULL || len < 8 || png_sig_cmp((png_const_bytep) data, 0, 8) != 0)
	{
		snprintf(why, whylen, "not a PNG image (the PNG signature is missing)");
		return false;
	}
	if (len > QBR_LOGO_MAX_BYTES)
	{
		snprintf(why, whylen, "PNG is %zu bytes; a logo may have at most %d",
				 len, QBR_LOGO_MAX_BYTES);
		return false;
	}
	memset(&r, 0, sizeof(r));
	r.data = data;
	r.len = len;
	ok = decode(&r, width, height);
	if (!ok)
		snprintf(why, whylen, "%s", r.why[0] ? r.why : "PNG could not be decoded");
	return ok;
}
