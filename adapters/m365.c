/*
 * m365.c — the Microsoft 365 adapter (Microsoft Graph v1.0).
 *
 * base_url: https://graph.microsoft.com
 * credentials: {"tenant_id", "client_id", "client_secret"}
 * options: {"authority": "https://login.microsoftonline.com", "client_id": n
 *   or "client_external_id"/"client_source" (which etop client the tenant is)}
 * OAuth2 client credentials (scope https://graph.microsoft.com/.default),
 * then every page (@odata.nextLink) of users (with signInActivity),
 * userRegistrationDetails, riskyUsers, secureScores,
 * secureScoreControlProfiles and alerts_v2.  Normalization:
 * etop.normalize_m365.
 *
 * A tenant syncs what it allows.  A 403 on an endpoint (the tenant lacks the
 * Entra ID licence it needs, or the app the permission) skips that endpoint
 * and is recorded with the run (etop_sync_skip_endpoint); users are asked
 * for again without signInActivity when that property is refused.  Only the
 * users themselves are required: without User.Read.All the run fails.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "etop/adapter.h"
#include "etop/graph_refusal.h"

PGDLLEXPORT void etop_adapter_m365(EtopSyncContext *ctx);

#define M365_USER_FIELDS "id,displayName,mail,userPrincipalName,accountEnabled,userType"

/*
 * Each endpoint with the least-privileged application permission Microsoft
 * documents for it (learn.microsoft.com/graph/api/...) and the Entra ID
 * licence it needs (NULL: none).  The $top values are Graph's maxima; Graph
 * may return fewer per page (users with signInActivity: at most 120), so
 * paging always follows @odata.nextLink.
 */
static const struct
{
	const char *stage;
	const char *query;
	const char *scopes;			/* JSON array, for the error of a required endpoint */
	const char *permission;		/* in words, for a skipped one */
	const char *licence;
	bool		required;
}			m365_endpoints[] = {
	{"users", "users?$select=" M365_USER_FIELDS ",signInActivity&$top=999",
		"[\"User.Read.All\", \"AuditLog.Read.All\"]", "User.Read.All and AuditLog.Read.All",
	"Microsoft Entra ID P1 or P2", true},
	{"reports/authenticationMethods/userRegistrationDetails",
		"reports/authenticationMethods/userRegistrationDetails?$top=999",
	"[\"AuditLog.Read.All\"]", "AuditLog.Read.All", "Microsoft Entra ID P1 or P2", false},
	{"identityProtection/riskyUsers", "identityProtection/riskyUsers?$top=500",
	"[\"IdentityRiskyUser.Read.All\"]", "IdentityRiskyUser.Read.All", "Microsoft Entra ID P2", false},
	{"security/secureScores", "security/secureScores?$top=1", "[\"SecurityEvents.Read.All\"]",
	"SecurityEvents.Read.All", NULL, false},
	{"security/secureScoreControlProfiles", "security/secureScoreControlProfiles?$top=999",
	"[\"SecurityEvents.Read.All\"]", "SecurityEvents.Read.All", NULL, false},
	{"security/alerts_v2", "security/alerts_v2?$top=999", "[\"SecurityAlert.Read.All\"]",
	"SecurityAlert.Read.All", NULL, false},
};

/* GET url; NULL when refused with 403 (*kind and code say why) */
static char *
get_page(EtopSyncContext *ctx, const char *url, const char *bearer, GraphRefusal *kind,
		 char *code, size_t codelen)
{
	const char *headers[] = {"Accept: application/json", NULL};
	EtopSyncRequest req = {0};
	char	   *refusal = NULL;
	char	   *body;

	req.url = url;
	req.headers = headers;
	req.bearer_token = bearer;
	body = etop_sync_http_refusable(ctx, &req, NULL, &refusal);
	if (body == NULL)
	{
		*kind = graph_refusal_kind(refusal, code, codelen);
		pfree(refusal);
	}
	return body;
}

void
etop_adapter_m365(EtopSyncContext *ctx)
{
	const char *authority = etop_sync_option(ctx, "authority");
	char	   *bearer;

	etop_sync_set_vendor(ctx, "Microsoft Graph", NULL);
	bearer = etop_sync_oauth_token(ctx, authority ? authority : "https://login.microsoftonline.com",
								   etop_sync_credential(ctx, "tenant_id"),
								   etop_sync_credential(ctx, "client_id"),
								   etop_sync_credential(ctx, "client_secret"),
								   "https://graph.microsoft.com/.default");
	for (int i = 0; i < (int) lengthof(m365_endpoints); i++)
	{
		const char *stage = m365_endpoints[i].stage;
		char	   *url = psprintf("%s/v1.0/%s", etop_sync_base_url(ctx), m365_endpoints[i].query);
		int			page = 0;

		CHECK_FOR_INTERRUPTS();
		etop_sync_set_vendor(ctx, "Microsoft Graph", m365_endpoints[i].scopes);
		/* the first URL too: a next-page link back to it is a cycle */
		etop_sync_follow(ctx, stage, url);
		while (url != NULL)
		{
			char	   *body,
					   *next = NULL;
			GraphRefusal kind;
			char		code[128];

			body = get_page(ctx, url, bearer, &kind, code, sizeof(code));
			if (body == NULL && page == 0 && strcmp(stage, "users") == 0)
			{
				/*
				 * signInActivity needs Entra ID P1/P2 and AuditLog.Read.All:
				 * ask for the users without it.  Only when that works is the
				 * property recorded as skipped; without User.Read.All there
				 * are no users at all and the run fails naming that.
				 */
				GraphRefusal first = kind;
				char	   *first_code = code[0] ? pstrdup(code) : NULL;

				etop_sync_set_vendor(ctx, "Microsoft Graph", "[\"User.Read.All\"]");
				url = psprintf("%s/v1.0/users?$select=" M365_USER_FIELDS "&$top=999",
							   etop_sync_base_url(ctx));
				etop_sync_follow(ctx, stage, url);
				body = get_page(ctx, url, bearer, &kind, code, sizeof(code));
				if (body == NULL)
					etop_sync_refused(ctx, url);
				etop_sync_skip_endpoint(ctx, stage, "signInActivity",
										first == GRAPH_REFUSED_LICENCE ? "licence" : "permission",
										first == GRAPH_REFUSED_LICENCE ? "Microsoft Entra ID P1 or P2"
										: "AuditLog.Read.All", first_code);
			}
			else if (body == NULL && page == 0 && !m365_endpoints[i].required)
			{
				etop_sync_skip_endpoint(ctx, stage, NULL,
										kind == GRAPH_REFUSED_LICENCE ? "licence" : "permission",
										kind == GRAPH_REFUSED_LICENCE && m365_endpoints[i].licence
										? m365_endpoints[i].licence
										: kind == GRAPH_REFUSED_LICENCE ? "a Microsoft Entra ID licence"
										: m365_endpoints[i].permission,
										code[0] ? code : NULL);
				break;
			}
			else if (body == NULL)
				/* refused after the first page: not a licence matter; fail as before */
				etop_sync_refused(ctx, url);
			etop_sync_store_page(ctx, stage, ++page, body, "value", "@odata.nextLink", &next);
			pfree(body);
			url = next;
		}
	}
}
