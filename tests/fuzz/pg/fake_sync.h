/* fake_sync.h — the fake sync framework of fake_sync.c. */
#ifndef ETOP_FAKE_SYNC_H
#define ETOP_FAKE_SYNC_H

#include "etop/adapter.h"

typedef struct FakeSyncStats
{
	int			requests;		/* etop_sync_http calls */
	int			fuzz_bodies;	/* answered with the fuzz input */
	int			pages;			/* pages stored */
	int			unencoded_urls; /* URLs with a character that needs %-encoding */
	char	   *post_body;		/* the body of the last POST */
	int			tenant_requests;	/* GETs of Immy.Bot's maintenance-actions/latest-for-tenant/{id} */
} FakeSyncStats;

extern FakeSyncStats fake_stats;

/* A fresh context; requests for which body_for() is true get body. */
extern EtopSyncContext *fake_sync_begin(const char *body,
										bool (*body_for) (const EtopSyncRequest *req));

#endif							/* ETOP_FAKE_SYNC_H */
