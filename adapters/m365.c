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
 */
#include "postgres.h"

#include "fmgr.h"

#include "etop/adapter.h"

PGDLLEXPORT void etop_adapter_m365(EtopSyncContext *ctx);

/*
 * A 403 names the endpoint and the least-privileged application permission
 * Microsoft documents for it (learn.microsoft.com/graph/api/...): users with
 * signInActivity need AuditLog.Read.All besides User.Read.All.
 */
void
etop_adapter_m365(EtopSyncContext *ctx)
{
	static const struct
	{
		const char *stage;
		const char *query;
		const char *scopes;		/* JSON array */
	}			endpoints[] = {
		{"users", "users?$select=id,displayName,mail,userPrincipalName,accountEnabled,signInActivity&$top=999",
		"[\"User.Read.All\", \"AuditLog.Read.All\"]"},
		{"reports/authenticationMethods/userRegistrationDetails",
			"reports/authenticationMethods/userRegistrationDetails?$top=999",
		"[\"AuditLog.Read.All\"]"},
		{"identityProtection/riskyUsers", "identityProtection/riskyUsers?$top=500",
		"[\"IdentityRiskyUser.Read.All\"]"},
		{"security/secureScores", "security/secureScores?$top=1", "[\"SecurityEvents.Read.All\"]"},
		{"security/secureScoreControlProfiles", "security/secureScoreControlProfiles?$top=999",
		"[\"SecurityEvents.Read.All\"]"},
		{"security/alerts_v2", "security/alerts_v2?$top=999", "[\"SecurityAlert.Read.All\"]"},
	};
	const char *authority = etop_sync_option(ctx, "authority");
	char	   *token;
	char	   *bearer;

	etop_sync_set_vendor(ctx, "Microsoft Graph", NULL);
	token = etop_sync_oauth_token(ctx, authority ? authority : "https://login.microsoftonline.com",
								  etop_sync_credential(ctx, "tenant_id"),
								  etop_sync_credential(ctx, "client_id"),
								  etop_sync_credential(ctx, "client_secret"),
								  "https://graph.microsoft.com/.default");
	bearer = token;
	for (int i = 0; i < (int) lengthof(endpoints); i++)
	{
		char	   *url = psprintf("%s/v1.0/%s", etop_sync_base_url(ctx), endpoints[i].query);
		int			page = 0;
		const char *headers[] = {"Accept: application/json", NULL};

		etop_sync_set_vendor(ctx, "Microsoft Graph", endpoints[i].scopes);
		/* the first URL too: a next-page link back to it is a cycle */
		etop_sync_follow(ctx, endpoints[i].stage, url);
		while (url != NULL)
		{
			EtopSyncRequest req = {0};
			char	   *body,
					   *next = NULL;

			req.url = url;
			req.headers = headers;
			req.bearer_token = bearer;
			body = etop_sync_http(ctx, &req, NULL);
			etop_sync_store_page(ctx, endpoints[i].stage, ++page, body, "value",
								 "@odata.nextLink", &next);
			pfree(body);
			url = next;
		}
	}
}
