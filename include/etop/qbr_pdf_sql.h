/*
 * qbr_pdf_sql.h — the QBR document reader of src/qbr_pdf_sql.c, for the code
 * (and the fuzz targets in tests/fuzz/pg/) that needs a document without
 * rendering it.  Backend-only.
 */
#ifndef ETOP_QBR_PDF_SQL_H
#define ETOP_QBR_PDF_SQL_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "etop/qbr_pdf.h"

/*
 * Parses a QBR document (docs/qbr-document.md) into *doc, palloc'd in the
 * current memory context; a malformed document raises an ERROR naming the
 * offending field.  No SPI, no I/O.
 */
extern void etop_qbr_parse_document(Jsonb *jb, QbrDocument *doc);

#endif							/* ETOP_QBR_PDF_SQL_H */
