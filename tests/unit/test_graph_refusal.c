/*
 * test_graph_refusal.c — a Graph 403: licence or permission?
 *
 * SOURCES: adapters/graph_refusal.c
 */
#include "etop/graph_refusal.h"
#include "unit.h"

int
main(void)
{
	char		code[64];

	/* users?$select=...signInActivity in a tenant without Entra ID P1/P2 */
	CHECK(graph_refusal_kind("{\"error\":{\"code\":\"Authentication_RequestFromNonPremiumTenantOrB2CTenant\","
							 "\"message\":\"Neither tenant is B2C or tenant doesn't have premium license\","
							 "\"innerError\":{\"date\":\"2026-01-15T12:00:00\"}}}", code, sizeof(code))
		  == GRAPH_REFUSED_LICENCE);
	CHECK_STR(code, "Authentication_RequestFromNonPremiumTenantOrB2CTenant");
	/* spaced out, code after message */
	CHECK(graph_refusal_kind("{ \"error\" : { \"message\" : \"x \\\"quoted\\\" code\", \"code\" : \"missingLicense\" } }",
							 code, sizeof(code)) == GRAPH_REFUSED_LICENCE);
	CHECK_STR(code, "missingLicense");
	/* the app lacks the permission */
	CHECK(graph_refusal_kind("{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":"
							 "\"Insufficient privileges to complete the operation.\"}}", code, sizeof(code))
		  == GRAPH_REFUSED_PERMISSION);
	CHECK_STR(code, "Authorization_RequestDenied");
	/* no body, not JSON, cut short: permission, no code */
	CHECK(graph_refusal_kind(NULL, code, sizeof(code)) == GRAPH_REFUSED_PERMISSION);
	CHECK(graph_refusal_kind("", code, sizeof(code)) == GRAPH_REFUSED_PERMISSION);
	CHECK_STR(code, "");
	CHECK(graph_refusal_kind("{\"error\":{\"code\":\"Forbid", code, sizeof(code)) == GRAPH_REFUSED_PERMISSION);
	CHECK(graph_refusal_kind("<html>403 Forbidden</html>", code, sizeof(code)) == GRAPH_REFUSED_PERMISSION);
	/* a long code is cut to the buffer */
	CHECK(graph_refusal_kind("{\"error\":{\"code\":\"Authentication_RequestFromNonPremiumTenantOrB2CTenant\"}}",
							 code, 8) == GRAPH_REFUSED_PERMISSION);
	CHECK_STR(code, "Authent");
	UNIT_DONE();
}
