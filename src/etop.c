/*
 * etop.c — module entry point: _PG_init (settings) and build information.
 *
 * Everything that needs shared_preload_libraries (background workers for
 * syncs and the QBR queue) is registered from _PG_init; the extension also
 * works without preloading for everything that runs in a user backend
 * (scores, PDF rendering, SQL functions).
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/guc.h"
#include "lib/stringinfo.h"

#include <curl/curl.h>
#include <hpdf.h>

#include "etop/etop.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	etop_define_settings();
	MarkGUCPrefixReserved("etop");
	if (process_shared_preload_libraries_in_progress)
		etop_register_qbr_workers();
}

PG_FUNCTION_INFO_V1(etop_build_info);

/*
 * etop.build_info() returns jsonb: the versions etop was built and runs with,
 * so a DBA can tell at a glance which libcurl and libharu a server uses.
 */
Datum
etop_build_info(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "{\"etop\": \"%s\", \"postgres\": \"%s\", \"libcurl\": \"%s\", "
					 "\"libcurl_ssl\": \"%s\", \"libharu\": \"%s\", "
					 "\"preloaded\": %s}",
					 ETOP_VERSION, PG_VERSION, cv->version,
					 cv->ssl_version ? cv->ssl_version : "none",
					 HPDF_GetVersion(),
					 etop_is_preloaded() ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
