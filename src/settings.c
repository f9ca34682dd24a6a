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
	loaded_by_preload = process_shared_preload_libraries_in_progress;

	DefineCustomStringVariable("etop.database_name",
							   "Database in which etop's background workers run.",
							   "The etop extension must be created in this database.",
							   &etop_database_name,
							   "postgres",
							   PGC_POSTMASTER,
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
}
