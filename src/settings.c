/*
 * settings.c — the etop.* configuration parameters.
 *
 * Every parameter is documented in docs/operations.md.  Parameters that
 * decide which database the background workers attach to can only be set
 * at server start, as with pg_cron's cron.database_name.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "etop/etop.h"

char	   *etop_database_name = NULL;
char	   *etop_output_dir = NULL;
int			etop_qbr_workers = 1;
int			etop_qbr_poll_interval_ms = 1000;
/* read by the queue's SQL through current_setting(), not by C */
static int	etop_qbr_visibility_timeout = 600;
static int	etop_qbr_retry_base_seconds = 30;
static char *etop_narrative_provider = NULL;
char	   *etop_llm_base_url = NULL;
char	   *etop_llm_model = NULL;
char	   *etop_llm_api_key = NULL;
int			etop_llm_timeout = 60;

static bool
check_provider(char **newval, void **extra, GucSource source)
{
	if (strcmp(*newval, "offline") == 0 || strcmp(*newval, "openai") == 0)
		return true;
	GUC_check_errdetail("etop.narrative_provider must be \"offline\" or \"openai\".");
	return false;
}

/* The API key is never shown, not even to superusers: only whether one is set. */
static const char *
show_api_key(void)
{
	return (etop_llm_api_key && etop_llm_api_key[0]) ? "(set)" : "(not set)";
}

/* Set once, in the postmaster, while shared_preload_libraries is processed. */
static bool loaded_by_preload = false;

bool
etop_is_preloaded(void)
{
	return loaded_by_preload;
}

void
etop_define_settings(void)
{
	/*
	 * PostgreSQL refuses, with FATAL, to define a PGC_POSTMASTER parameter
	 * after server start, i.e. whenever etop is loaded by a backend because
	 * shared_preload_libraries does not name it.  Then there are no
	 * background workers and these parameters mean nothing, so they are
	 * defined as reloadable instead: the backend lives, and everything that
	 * runs in a session (scores, narratives, PDF rendering) works.
	 */
	GucContext	startup_only = process_shared_preload_libraries_in_progress ?
		PGC_POSTMASTER : PGC_SIGHUP;

	loaded_by_preload = process_shared_preload_libraries_in_progress;

	DefineCustomStringVariable("etop.database_name",
							   "Database in which etop's background workers run.",
							   "The etop extension must be created in this database.",
							   &etop_database_name,
							   "postgres",
							   startup_only,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("etop.output_dir",
							   "Directory where generated QBR PDFs are also written as files.",
							   "Empty (the default) keeps PDFs in the database only.",
							   &etop_output_dir,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("etop.qbr_workers",
							"Number of background workers that generate QBRs.",
							"0 disables the queue workers (jobs then wait).",
							&etop_qbr_workers, 1, 0, 16,
							startup_only, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("etop.qbr_poll_interval",
							"How long an idle QBR worker waits before looking for jobs again.",
							NULL,
							&etop_qbr_poll_interval_ms, 1000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("etop.qbr_visibility_timeout",
							"Time after which an active QBR job whose worker went silent is claimed again.",
							"A worker extends the lease at every step.",
							&etop_qbr_visibility_timeout, 600, 5, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("etop.qbr_retry_base_seconds",
							"Base of the exponential backoff between QBR job attempts.",
							"Attempt n waits base x 2^(n-1) seconds: 30, 60, 120 by default.",
							&etop_qbr_retry_base_seconds, 30, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomStringVariable("etop.narrative_provider",
							   "Where QBR narratives come from: offline (built in) or openai.",
							   "openai means any OpenAI-compatible chat-completions endpoint, see etop.llm_base_url.",
							   &etop_narrative_provider, "offline",
							   PGC_SIGHUP, 0, check_provider, NULL, NULL);

	DefineCustomStringVariable("etop.llm_base_url",
							   "Base URL of the OpenAI-compatible API, e.g. https://api.openai.com/v1.",
							   NULL,
							   &etop_llm_base_url, "https://api.openai.com/v1",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("etop.llm_model",
							   "Chat model used for QBR narratives.",
							   NULL,
							   &etop_llm_model, "gpt-4o",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("etop.llm_api_key",
							   "API key for the LLM provider (superuser only, never shown).",
							   NULL,
							   &etop_llm_api_key, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, show_api_key);

	DefineCustomIntVariable("etop.llm_timeout",
							"Timeout of one LLM request.",
							NULL,
							&etop_llm_timeout, 60, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
}
