#ifndef OFFSTAT_RANK_H
#define OFFSTAT_RANK_H

#include "dispatch.h"

/*
 * RankAreas: the areas of one kind (inside one area when asked) ordered by
 * count, rate or change, each with its exact interval; areas without the
 * figures to rank are listed apart. Fills *out from the call's arena and
 * returns 0, or sets the call's status and returns -1.
 */
int rank_areas(rpc_ctx *ctx, const Offstat__V1__RankAreasRequest *in,
               Offstat__V1__RankAreasResponse *out);

/* The caution every ranking carries. */
extern const char rank_caution[];

#endif
