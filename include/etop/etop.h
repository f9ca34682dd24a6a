/*
 * etop.h — declarations shared by every part of the extension.
 */
#ifndef ETOP_ETOP_H
#define ETOP_ETOP_H

/* The extension's version: from etop.control, through the Makefile. */
#ifndef ETOP_VERSION
#define ETOP_VERSION "unknown (built outside the Makefile)"
#endif

/* settings.c: the etop.* configuration parameters (see docs/operations.md) */
extern char *etop_database_name;	/* database the background workers use */
extern char *etop_output_dir;		/* where QBR PDFs are written, '' = nowhere */

/* QBR queue workers (qbr_worker.c) */
extern int	etop_qbr_workers;			/* how many, at server start */
extern int	etop_qbr_poll_interval_ms;	/* idle wait between claims */

/* LLM provider (narrative_llm.c) */
extern char *etop_llm_base_url;
extern char *etop_llm_model;
extern char *etop_llm_api_key;			/* superuser-only, never shown */
extern int	etop_llm_timeout;			/* seconds per request */

extern void etop_define_settings(void);
extern void etop_register_qbr_workers(void);
extern bool etop_is_preloaded(void);
extern void etop_worker_tune_malloc(void);	/* etop.c: first call of each etop worker */

/*
 * etop.c: callbacks that let the pure-C HTTP client and PDF renderer live in
 * a backend: interrupts (a query cancel or SIGTERM) stop them, waits are
 * latch waits, and memory comes from a memory context (given as the arg).
 */
extern bool etop_interrupt_pending(void *arg);
extern bool etop_latch_sleep(void *arg, long ms);	/* false when interrupted */
/* Sleep ms on the latch in 100 ms slices; false as soon as abort_cb(arg) says so. */
extern bool etop_latch_sleep_unless(long ms, bool (*abort_cb) (void *arg), void *arg);
extern void *etop_context_alloc(void *cxt, size_t size);	/* NULL when out of memory */
extern void etop_context_free(void *cxt, void *p);

#endif							/* ETOP_ETOP_H */
