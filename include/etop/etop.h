/*
 * etop.h — declarations shared by every part of the extension.
 */
#ifndef ETOP_ETOP_H
#define ETOP_ETOP_H

#define ETOP_VERSION "0.1.0"

/* settings.c: the etop.* configuration parameters (see docs/operations.md) */
extern char *etop_database_name;	/* database the background workers use */
extern char *etop_output_dir;		/* where QBR PDFs are written, '' = nowhere */

extern void etop_define_settings(void);
extern bool etop_is_preloaded(void);

#endif							/* ETOP_ETOP_H */
