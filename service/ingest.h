#ifndef OFFSTAT_INGEST_H
#define OFFSTAT_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dispatch.h"
#include "store.h"

/*
 * Ingest: releases written over the wire (open, batches, commit or abort),
 * with idempotency keys and expiry of abandoned releases; and the list of
 * releases for ListReleases. Writes run on the writer thread (writer.h);
 * ListReleases reads a copy of the releases table kept here.
 */

/* Rows one Ingest batch may carry. */
#define INGEST_MAX_ROWS 10000
/* Longest idempotency key and release label, in bytes. */
#define INGEST_MAX_KEY   128
#define INGEST_MAX_LABEL 200
/* How long a reply is kept for retries under its key (seconds). */
#define INGEST_KEY_TTL (7 * 24 * 3600)

/*
 * Serves writes to st (which must outlive ingest_fini()). An open release
 * with no write for expiry_s seconds is rolled back by ingest_sweep().
 * Returns 0, or -1 with err.
 */
int  ingest_init(store *st, unsigned expiry_s, char *err, size_t errlen);
void ingest_fini(void);
/* Expires idle open releases and forgets old idempotency keys. */
void ingest_sweep(void);

/* The Ingest method; 0, or -1 with the status set. */
int ingest_handle(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in,
                  Offstat__V1__IngestResponse *out);
/* Releases newest first, in ctx's arena: committed ones, or with all
 * (writers and admins only) every one. */
int ingest_releases(rpc_ctx *ctx, bool all, Offstat__V1__Release ***out,
                    size_t *n);

/* Totals since start, for ServerInfo and metrics. */
typedef struct {
	uint64_t batches;
	uint64_t rows;
	uint64_t commits;
	uint64_t aborts;
	uint64_t expired;
	uint64_t replays;
	uint64_t rejected; /* batches refused for bad rows */
} ingest_totals;
void ingest_get_totals(ingest_totals *t);

#endif
