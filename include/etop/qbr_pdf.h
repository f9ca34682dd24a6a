/*
 * qbr_pdf.h — the QBR document as plain C structs, and the PDF renderer.
 *
 * The renderer (src/qbr_pdf.c, src/qbr_pdf_sections.c, src/qbr_logo.c) is
 * pure C over libharu and libpng: no postgres.h, no global mutable state, no
 * longjmp out of it.  It takes a QbrDocument (see docs/qbr-document.md for
 * the JSON form, parsed by src/qbr_pdf_sql.c) and returns the PDF bytes in a
 * malloc'd buffer, or an error kind and message.  Everything it allocates is
 * freed before it returns, on every path.
 *
 * Strings are NUL-terminated UTF-8 and may be NULL (= absent); the renderer
 * never modifies or frees anything in the document.
 */
#ifndef ETOP_QBR_PDF_H
#define ETOP_QBR_PDF_H

#include <stdbool.h>
#include <stddef.h>

/* Where the DejaVu TrueType fonts live (Debian: fonts-dejavu-core). */
#ifndef QBR_PDF_FONT_DIR
#define QBR_PDF_FONT_DIR "/usr/share/fonts/truetype/dejavu"
#endif
#define QBR_PDF_FONT_REGULAR QBR_PDF_FONT_DIR "/DejaVuSans.ttf"
#define QBR_PDF_FONT_BOLD	 QBR_PDF_FONT_DIR "/DejaVuSans-Bold.ttf"

/* Largest logo accepted: bytes of PNG data, and decoded pixels. */
#define QBR_LOGO_MAX_BYTES	(4 * 1024 * 1024)
#define QBR_LOGO_MAX_PIXELS (4096 * 4096)

/*
 * Largest QBR document parts accepted (docs/qbr-document.md, "Limits"): bytes
 * of one string, and elements of one array.  They keep a render's time and
 * memory proportional to a real review: a quarter's narrative is a few KB and
 * a client has at most some thousands of devices.
 */
#define QBR_DOC_MAX_TEXT	(256 * 1024)
#define QBR_DOC_MAX_ITEMS	100000

typedef enum QbrPageSize
{
	QBR_PAGE_LETTER = 0,		/* 8.5 x 11 in, the default */
	QBR_PAGE_A4
} QbrPageSize;

/* A score: 0-100, or absent when data was insufficient. */
typedef struct QbrScore
{
	bool		present;
	double		score;
	const char *movement;		/* "Standards +5 vs. Q3 2025" */
} QbrScore;

typedef struct QbrRecommendation
{
	const char *title;
	const char *description;
	const char *priority;		/* high | medium | low */
	const char *effort;			/* high | medium | low */
	const char *cost_range;		/* "$12,000-$18,000" */
	const char **evidence;
	int			n_evidence;
} QbrRecommendation;

typedef struct QbrRisk
{
	const char *title;
	const char *business_impact;
	const char *status;			/* open | mitigated | accepted */
	const char *mitigation;
	const char *likelihood;		/* low | medium | high | critical, or "1".."5" */
	const char *impact;
} QbrRisk;

typedef struct QbrMonthCount
{
	const char *month;			/* "2025-01" */
	long		count;
} QbrMonthCount;

/* Service figures; -1 means "not known". */
typedef struct QbrService
{
	QbrMonthCount *months;
	int			n_months;
	long		sla_met;
	long		sla_total;
	long		reopened;
	long		total;
	long		after_hours;
} QbrService;

typedef struct QbrSecurityArea
{
	bool		present;		/* has a score */
	double		score;
	const char *summary;
	const char **citations;
	int			n_citations;
} QbrSecurityArea;

typedef struct QbrDevice
{
	const char *name;
	const char *type;
	const char *model;
	bool		has_age;
	double		age_years;
	const char *warranty_expires;	/* "2024-03-31" */
} QbrDevice;

typedef struct QbrRoadmapItem
{
	const char *title;
	const char *priority;
	const char *cost_range;
} QbrRoadmapItem;

typedef struct QbrAction
{
	const char *action;
	const char *owner;
	const char *due_date;
} QbrAction;

typedef struct QbrDocument
{
	/* client and period */
	const char *client_name;	/* required */
	const char *client_segment;
	const char *client_industry;
	const char *period;			/* "Q4 2025", required */
	const char *as_of;			/* "2025-12-31" */

	/* the MSP's branding */
	const char *msp_name;
	unsigned char accent[3];	/* RGB */
	const unsigned char *logo_png;	/* PNG bytes or NULL */
	size_t		logo_png_len;

	bool		draft;			/* prints "DRAFT — pending approval" */
	QbrPageSize page_size;

	QbrScore	standards;
	QbrScore	risk;
	QbrScore	experience;

	/* narrative */
	const char *executive_summary;	/* paragraphs separated by newlines */
	const char *trends;
	QbrRecommendation *recommendations;
	int			n_recommendations;
	const char **discussion_points;
	int			n_discussion_points;

	QbrRisk    *risks;
	int			n_risks;
	const char **wins;
	int			n_wins;

	QbrService	service;

	QbrSecurityArea identity;
	QbrSecurityArea email;
	QbrSecurityArea endpoint;

	/* lifecycle */
	QbrDevice  *devices;
	int			n_devices;
	bool		has_budget[3];	/* 12, 24, 36 months */
	double		budget[3];
	const char *currency;		/* "USD", "EUR", ... */

	/* roadmap: now, next, later */
	QbrRoadmapItem *roadmap[3];
	int			n_roadmap[3];

	QbrAction  *actions;
	int			n_actions;
} QbrDocument;

typedef enum QbrPdfError
{
	QBR_PDF_OK = 0,
	QBR_PDF_ERR_FONT,			/* a font file is missing or unusable */
	QBR_PDF_ERR_LOGO,			/* the logo is not a usable PNG */
	QBR_PDF_ERR_NOMEM,			/* out of memory */
	QBR_PDF_ERR_CANCELLED,		/* the cancel callback said stop */
	QBR_PDF_ERR_LIBHARU			/* any other libharu error */
} QbrPdfError;

typedef struct QbrPdfOptions
{
	const char *font_regular;	/* NULL: QBR_PDF_FONT_REGULAR */
	const char *font_bold;		/* NULL: QBR_PDF_FONT_BOLD */
	bool		no_compression; /* leave streams uncompressed (debugging) */

	/*
	 * Called now and then while rendering; returning true stops the render
	 * with QBR_PDF_ERR_CANCELLED.  It must not longjmp.
	 */
	bool		(*cancel) (void *arg);
	void	   *cancel_arg;
} QbrPdfOptions;

typedef struct QbrPdfResult
{
	unsigned char *data;		/* malloc'd PDF bytes; qbr_pdf_result_free() */
	size_t		size;
	int			pages;
	QbrPdfError error;
	char		message[256];	/* what went wrong, when error != QBR_PDF_OK */
	char		detail[256];
} QbrPdfResult;

/*
 * Renders doc.  Returns QBR_PDF_OK and fills res->data/size/pages, or an
 * error kind with res->message (and res->detail) set and res->data NULL.
 */
extern QbrPdfError qbr_pdf_render(const QbrDocument *doc, const QbrPdfOptions *opts,
								  QbrPdfResult *res);
extern void qbr_pdf_result_free(QbrPdfResult *res);

/* A document with every field empty and the default accent colour. */
extern void qbr_document_init(QbrDocument *doc);

/*
 * An MSP logo decoded by libpng into buffers etop owns (qbr_logo.c): 8-bit
 * RGB rows top to bottom, and 8-bit opacity or NULL when fully opaque.
 * libharu only ever receives these raw pixels, never PNG bytes: its own PNG
 * reader aborts the process on a corrupt PNG and corrupts the heap on
 * interlaced PNGs with transparency.
 */
typedef struct QbrLogo
{
	unsigned	width;
	unsigned	height;
	unsigned char *rgb;			/* width * height * 3 (malloc) */
	unsigned char *alpha;		/* width * height, or NULL (malloc) */
} QbrLogo;

/*
 * Decodes PNG bytes completely.  Returns true with *logo filled (free it with
 * qbr_logo_free), or false with a reason in why and *logo empty.
 */
extern bool qbr_logo_decode(const unsigned char *data, size_t len, QbrLogo *logo,
							char *why, size_t whylen);
extern void qbr_logo_free(QbrLogo *logo);

/* qbr_logo_decode, keeping only the size: true when the PNG is usable. */
extern bool qbr_logo_check(const unsigned char *data, size_t len,
						   unsigned *width, unsigned *height,
						   char *why, size_t whylen);

#endif							/* ETOP_QBR_PDF_H */
