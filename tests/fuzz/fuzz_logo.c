/*
 * fuzz_logo.c — libFuzzer harness for the MSP logo decoder qbr_logo_decode()
 * / qbr_logo_free() (src/qbr_logo.c), and for the raw-pixel hand-over to
 * libharu exactly as load_logo() in src/qbr_pdf.c does it.  The input is the
 * PNG file itself; corpus/fuzz_logo is written by gen_png_seeds.py.
 *
 * SOURCES: src/qbr_logo.c
 * LIBS: -lhpdf -lpng -lz
 *
 * Invariants, beyond "no sanitizer report, no leak":
 *   - a failed decode leaves the logo empty and says why (a terminated
 *     message within the caller's buffer, whatever its size);
 *   - a decoded logo is 1..16384 pixels each way, at most
 *     QBR_LOGO_MAX_PIXELS, from at most QBR_LOGO_MAX_BYTES of PNG; rgb holds
 *     at least width * height * 3 bytes and alpha (when not NULL) exactly
 *     width * height, and alpha is NULL for a fully opaque image;
 *   - qbr_logo_check() agrees with qbr_logo_decode();
 *   - libharu accepts the pixels: HPDF_LoadRawImageFromMem (RGB, 8 bit),
 *     the alpha as a DeviceGray image and HPDF_Image_AddSMask all succeed
 *     without an error reaching the error handler.
 */
#include <hpdf.h>
#include <sanitizer/allocator_interface.h>

#include "fuzz.h"

#include "etop/qbr_pdf.h"

typedef struct HpdfErrors
{
	int			count;
	HPDF_STATUS first;
	HPDF_STATUS detail;
} HpdfErrors;

/* like src/qbr_pdf.c: record, never jump */
static void
on_hpdf_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user_data)
{
	HpdfErrors *e = (HpdfErrors *) user_data;

	if (e->count++ == 0)
	{
		e->first = error_no;
		e->detail = detail_no;
	}
}

static void
to_libharu(const QbrLogo *logo)
{
	HpdfErrors	errors = {0, 0, 0};
	HPDF_Doc	pdf = HPDF_New(on_hpdf_error, &errors);
	HPDF_Image	image;

	FUZZ_ASSERT(pdf != NULL);
	image = HPDF_LoadRawImageFromMem(pdf, logo->rgb, logo->width, logo->height,
									 HPDF_CS_DEVICE_RGB, 8);
	FUZZ_ASSERT(image != NULL);
	if (logo->alpha != NULL)
	{
		HPDF_Image	mask = HPDF_LoadRawImageFromMem(pdf, logo->alpha, logo->width,
													logo->height, HPDF_CS_DEVICE_GRAY, 8);

		FUZZ_ASSERT(mask != NULL);
		FUZZ_ASSERT(HPDF_Image_AddSMask(image, mask) == HPDF_OK);
	}
	FUZZ_ASSERT(HPDF_Image_GetWidth(image) == logo->width);
	FUZZ_ASSERT(HPDF_Image_GetHeight(image) == logo->height);
	if (errors.count != 0)
		fprintf(stderr, "libharu error 0x%04X detail %u\n",
				(unsigned) errors.first, (unsigned) errors.detail);
	FUZZ_ASSERT(errors.count == 0);
	HPDF_Free(pdf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the caller's message buffer: any size from 1 to 160, exactly allocated */
	size_t		whylen = 1 + size % 160;
	char	   *why = malloc(whylen);
	QbrLogo		logo;
	unsigned	cw = 1,
				ch = 1;
	bool		ok,
				checked;

	FUZZ_ASSERT(why != NULL);
	memset(&logo, 0x5A, sizeof(logo));	/* the decoder must set every field */
	memset(why, 0x5A, whylen);
	ok = qbr_logo_decode(data, size, &logo, why, whylen);
	checked = qbr_logo_check(data, size, &cw, &ch, why, whylen);
	FUZZ_ASSERT(ok == checked);		/* deterministic, and the two agree */

	if (!ok)
	{
		FUZZ_ASSERT(logo.rgb == NULL && logo.alpha == NULL);
		FUZZ_ASSERT(logo.width == 0 && logo.height == 0);
		FUZZ_ASSERT(cw == 0 && ch == 0);
		FUZZ_ASSERT(fz_terminated(why, whylen));
		FUZZ_ASSERT(whylen == 1 || why[0] != '\0');
		free(why);
		return 0;
	}

	FUZZ_ASSERT(size <= QBR_LOGO_MAX_BYTES);
	FUZZ_ASSERT(logo.width >= 1 && logo.width <= 16384);
	FUZZ_ASSERT(logo.height >= 1 && logo.height <= 16384);
	FUZZ_ASSERT((unsigned long long) logo.width * logo.height <= QBR_LOGO_MAX_PIXELS);
	FUZZ_ASSERT(cw == logo.width && ch == logo.height);
	{
		size_t		npix = (size_t) logo.width * logo.height;
		bool		opaque = true;

		FUZZ_ASSERT(logo.rgb != NULL);
		FUZZ_ASSERT(__sanitizer_get_ownership(logo.rgb));
		FUZZ_ASSERT(__sanitizer_get_allocated_size(logo.rgb) >= npix * 3);
		/* every byte is readable (ASan checks these reads too) */
		FUZZ_ASSERT(logo.rgb[0] == logo.rgb[0] && logo.rgb[npix * 3 - 1] == logo.rgb[npix * 3 - 1]);
		if (logo.alpha != NULL)
		{
			FUZZ_ASSERT(__sanitizer_get_ownership(logo.alpha));
			FUZZ_ASSERT(__sanitizer_get_allocated_size(logo.alpha) == npix);
			for (size_t i = 0; i < npix; i++)
				opaque &= logo.alpha[i] == 0xFF;
			FUZZ_ASSERT(!opaque);	/* fully opaque images have no alpha */
		}
	}
	to_libharu(&logo);
	qbr_logo_free(&logo);
	FUZZ_ASSERT(logo.rgb == NULL && logo.alpha == NULL);
	free(why);
	return 0;
}
