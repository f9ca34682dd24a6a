/*
 * qbr_logo.c — decodes an MSP logo (PNG bytes) into pixels etop owns.
 *
 * libharu 2.3.0's own PNG reader is not safe on untrusted input: it installs
 * a libpng error handler that returns instead of jumping (libpng then falls
 * back to abort()), and its reader for interlaced images with transparency
 * frees the same row buffers twice (heap corruption: "double free detected",
 * "corrupted size vs. prev_size", SIGSEGV).  In PostgreSQL either one kills
 * the backend, and with it every session, through crash recovery.
 *
 * So libharu never sees PNG bytes.  This file decodes the PNG once, with
 * libpng's documented read path (png_read_info, transformations,
 * png_read_update_info, png_read_image) and its setjmp error handling
 * confined to this file, into two buffers it allocates itself:
 *
 *   rgb    width * height * 3 bytes, 8-bit RGB, rows top to bottom;
 *   alpha  width * height bytes of 8-bit opacity, or NULL when the image is
 *          fully opaque (no alpha channel, no tRNS chunk).
 *
 * Every colour type, bit depth and interlace method becomes that one shape
 * (palette and low-bit grey expanded, tRNS turned into alpha, 16-bit
 * stripped, grey copied into R, G and B), and the renderer hands it to
 * libharu as raw image data (HPDF_LoadRawImageFromMem, plus an SMask for the
 * alpha).  Anything libpng reports, error or warning, rejects the logo with
 * its reason.  Limits: QBR_LOGO_MAX_BYTES of PNG, QBR_LOGO_MAX_PIXELS pixels
 * (so the decoded buffers are at most 4 bytes a pixel: 64 MB), and 16384 in
 * either dimension.
 *
 * Pure C: no libharu, no PostgreSQL (fuzzed in tests/fuzz/fuzz_logo.c).
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
	/* freed after a longjmp, hence volatile */
	unsigned char *volatile pixels;
	png_bytep  *volatile rows;
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
 * Decodes the whole image into r->pixels as 8-bit RGB or RGBA rows.  All
 * libpng state is created and destroyed in here, and the longjmp target is in
 * this frame.  Returns the channel count (3 or 4), or 0 on any problem.
 */
static int
decode(LogoReader *r, unsigned *width, unsigned *height)
{
	png_structp png;
	png_infop	info;
	png_uint_32 w,
				h,
				y;
	int			depth,
				color,
				channels;
	size_t		rowbytes;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, logo_error, logo_warning);
	if (png == NULL)
	{
		snprintf(r->why, sizeof(r->why), "out of memory");
		return 0;
	}
	info = png_create_info_struct(png);
	if (info == NULL)
	{
		png_destroy_read_struct(&png, NULL, NULL);
		snprintf(r->why, sizeof(r->why), "out of memory");
		return 0;
	}
	if (setjmp(png_jmpbuf(png)))
	{
		png_destroy_read_struct(&png, &info, NULL);
		free(r->rows);
		r->rows = NULL;
		free(r->pixels);
		r->pixels = NULL;
		return 0;
	}
	png_set_read_fn(png, r, logo_read);
	png_set_user_limits(png, 16384, 16384);
	/* ancillary chunks (text, ICC profiles) may not be bigger than a logo */
	png_set_chunk_malloc_max(png, QBR_LOGO_MAX_BYTES);

	/*
	 * libpng reports "benign" errors as warnings and reads on; one of them
	 * is a chunk over the limit just set, which it then allocates and zeroes
	 * anyway (up to 2 GB for a 100-byte file: found by tests/fuzz).  Any
	 * warning rejects the logo below, so stop at the first one instead.
	 */
	png_set_benign_errors(png, 0);
	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &color, NULL, NULL, NULL);
	if ((unsigned long long) w * h > QBR_LOGO_MAX_PIXELS)
		png_error(png, "image is too large for a logo");

	/* one shape for every input: 8-bit RGB, plus alpha when there is any */
	png_set_expand(png);		/* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
	png_set_strip_16(png);
	png_set_gray_to_rgb(png);
	(void) png_set_interlace_handling(png);
	png_read_update_info(png, info);

	channels = png_get_channels(png, info);
	rowbytes = png_get_rowbytes(png, info);
	if (png_get_bit_depth(png, info) != 8 || (channels != 3 && channels != 4) ||
		rowbytes != (size_t) w * channels)
		png_error(png, "unsupported PNG pixel format");

	r->pixels = malloc(rowbytes * h);
	r->rows = malloc(sizeof(png_bytep) * h);
	if (r->pixels == NULL || r->rows == NULL)
		png_error(png, "out of memory");
	for (y = 0; y < h; y++)
		r->rows[y] = r->pixels + (size_t) y * rowbytes;
	png_read_image(png, r->rows);
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	free(r->rows);
	r->rows = NULL;
	if (r->warned)
	{
		free(r->pixels);
		r->pixels = NULL;
		return 0;
	}
	*width = w;
	*height = h;
	return channels;
}

bool
qbr_logo_decode(const unsigned char *data, size_t len, QbrLogo *logo,
				char *why, size_t whylen)
{
	LogoReader	r;
	int			channels;
	size_t		npix;

	memset(logo, 0, sizeof(*logo));
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
	channels = decode(&r, &logo->width, &logo->height);
	if (channels == 0)
	{
		snprintf(why, whylen, "%s", r.why[0] ? r.why : "PNG could not be decoded");
		return false;
	}
	npix = (size_t) logo->width * logo->height;
	if (channels == 3)
	{
		logo->rgb = r.pixels;	/* already the final shape */
		return true;
	}

	/* RGBA: split into RGB (in place, front to back) and a separate alpha */
	logo->alpha = malloc(npix);
	if (logo->alpha == NULL)
	{
		free(r.pixels);
		memset(logo, 0, sizeof(*logo));
		snprintf(why, whylen, "out of memory");
		return false;
	}
	{
		unsigned char *px = r.pixels;
		bool		opaque = true;

		for (size_t i = 0; i < npix; i++)
		{
			px[i * 3] = px[i * 4];
			px[i * 3 + 1] = px[i * 4 + 1];
			px[i * 3 + 2] = px[i * 4 + 2];
			logo->alpha[i] = px[i * 4 + 3];
			opaque &= (px[i * 4 + 3] == 0xFF);
		}
		if (opaque)
		{
			free(logo->alpha);
			logo->alpha = NULL;
		}
	}
	logo->rgb = r.pixels;		/* the first 3 * npix bytes */
	return true;
}

void
qbr_logo_free(QbrLogo *logo)
{
	free(logo->rgb);
	free(logo->alpha);
	memset(logo, 0, sizeof(*logo));
}

bool
qbr_logo_check(const unsigned char *data, size_t len,
			   unsigned *width, unsigned *height, char *why, size_t whylen)
{
	QbrLogo		logo;

	if (!qbr_logo_decode(data, len, &logo, why, whylen))
	{
		*width = *height = 0;
		return false;
	}
	*width = logo.width;
	*height = logo.height;
	qbr_logo_free(&logo);
	return true;
}
