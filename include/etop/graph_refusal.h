/*
 * graph_refusal.h — what a Microsoft Graph HTTP 403 means (pure C, no
 * PostgreSQL headers; unit tested in tests/unit/test_graph_refusal.c).
 *
 * Graph answers 403 both when the app lacks an application permission
 * (error code Authorization_RequestDenied, "Insufficient privileges to
 * complete the operation.") and when the tenant lacks the Entra ID P1/P2
 * licence a feature needs (Authentication_RequestFromNonPremiumTenantOrB2CTenant,
 * "Neither tenant is B2C or tenant doesn't have premium license"; some APIs
 * say missingLicense).  The adapter skips the endpoint either way; what it
 * records (and what an MSP must do) differs.
 */
#ifndef ETOP_GRAPH_REFUSAL_H
#define ETOP_GRAPH_REFUSAL_H

#include <stddef.h>

typedef enum GraphRefusal
{
	GRAPH_REFUSED_PERMISSION,	/* grant the application permission */
	GRAPH_REFUSED_LICENCE		/* the tenant needs a licence */
} GraphRefusal;

/*
 * Classify a Graph 403 error body ({"error": {"code": ..., "message": ...}});
 * the error code (possibly empty) is copied into code (codelen bytes, always
 * NUL-terminated).  A body that is no Graph error is a permission refusal.
 */
extern GraphRefusal graph_refusal_kind(const char *body, char *code, size_t codelen);

#endif							/* ETOP_GRAPH_REFUSAL_H */
