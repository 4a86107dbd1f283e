#include "rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "stats.h"

const char rank_caution[] =
        "Recorded crime measures what police record: it depends on what "
        "victims report and on each force's recording practice as well as "
        "on how much crime happens, and forces differ in size, in who "
        "travels into them and in how they record. A ranking of forces is "
        "not a ranking of safety; areas whose intervals overlap are not "
        "distinguishable, and counts under 10 rank at random.";

typedef struct {
	Offstat__V1__RankedArea *ra;
	bool                     known;
} entry;

static int
by_score(const void *a, const void *b)
{
	const Offstat__V1__RankedArea *x = ((const entry *)a)->ra;
	const Offstat__V1__RankedArea *y = ((const entry *)b)->ra;
	if (x->score != y->score) {
		return (x->score < y->score ? 1 : -1);
	}
	return (strcmp(x->area->code, y->area->code));
}

/* The score of one area and its interval; false when it has none. */
static bool
score(rpc_ctx *ctx, Offstat__V1__RankBy by, Offstat__V1__RankedArea *ra)
{
	const Offstat__V1__Value *v = ra->value;
	double                    lo, hi;

	switch (by) {
	case OFFSTAT__V1__RANK_BY__CHANGE: {
		const Offstat__V1__Trend     *t  = ra->trend;
		const Offstat__V1__RatioTest *ct = t->change_test;
		if (!t->percent_known || ct == NULL || !ct->known) {
			return (false);
		}
		/* The ratio's interval, as a percentage change. */
		ra->score = t->percent_change;
		ra->lower = (ct->lower - 1.0) * 100.0;
		ra->upper = (ct->upper - 1.0) * 100.0;
		return (true);
	}
	case OFFSTAT__V1__RANK_BY__RATE:
	case OFFSTAT__V1__RANK_BY__RATE_UNDER18: {
		const Offstat__V1__Rate *r = v->rates == NULL ? NULL
		                             : by == OFFSTAT__V1__RANK_BY__RATE
		                                     ? v->rates->people
		                                     : v->rates->under18;
		if (r == NULL || !r->known) {
			return (false);
		}
		ra->score = r->per_100k;
		ra->lower = r->lower;
		ra->upper = r->upper;
		return (true);
	}
	default:
		if (!v->present || stats_poisson_ci(v->count, ctx->confidence,
		                                    &lo, &hi) != 0) {
			return (false);
		}
		ra->score = (double)v->count;
		ra->lower = lo;
		ra->upper = hi;
		return (true);
	}
}

int
rank_areas(rpc_ctx *ctx, const Offstat__V1__RankAreasRequest *in,
           Offstat__V1__RankAreasResponse *out)
{
	const snapshot     *snap = ctx->snap;
	Offstat__V1__RankBy by =
	        in->by == 0 ? OFFSTAT__V1__RANK_BY__COUNT : in->by;
	int       kind = in->kind == 0 ? AREA_FORCE : (int)in->kind;
	int       off, within = -1, src;
	period    p, base;
	q_sources qs;
	entry    *all;
	size_t    n = 0;

	if ((off = q_find_offence(ctx, in->offence)) < 0 ||
	    (src = q_find_source(ctx, in->source)) < -1 ||
	    q_period(ctx, in->period, "the", true, &p) != 0) {
		return (-1);
	}
	if (by < OFFSTAT__V1__RANK_BY__COUNT ||
	    by > OFFSTAT__V1__RANK_BY__CHANGE) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "unknown ranking %d", (int)in->by);
		return (-1);
	}
	if (kind < AREA_FORCE || kind > AREA_BODY) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "unknown area kind %d", (int)in->kind);
		return (-1);
	}
	if (by == OFFSTAT__V1__RANK_BY__CHANGE &&
	    q_period(ctx, in->base_period, "the base", true, &base) != 0) {
		return (-1);
	}
	if (in->confidence != 0.0) {
		if (!(in->confidence >= 0.5 && in->confidence <= 0.999)) {
			rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
			          "confidence %g is not between 0.5 and 0.999",
			          in->confidence);
			return (-1);
		}
		ctx->confidence = in->confidence;
	}
	if (in->within[0] != '\0' &&
	    (within = q_find_area(ctx, in->within, "within")) < 0) {
		return (-1);
	}
	if (q_sources_init(ctx, &qs) != 0 ||
	    (all = arena_calloc(&ctx->mem, snap->nareas + 1, sizeof(*all))) ==
	            NULL ||
	    (out->areas = arena_calloc(&ctx->mem, snap->nareas + 1,
	                               sizeof(*out->areas))) == NULL ||
	    (out->missing = arena_calloc(&ctx->mem, snap->nareas + 1,
	                                 sizeof(*out->missing))) == NULL) {
		rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
		          "out of memory");
		return (-1);
	}
	for (size_t i = 0; i < snap->nareas; i++) {
		const snap_area *a = &snap->areas[i];
		if (a->kind != kind ||
		    (within >= 0 &&
		     ((int)i == within ||
		      !snapshot_area_within(snap, (int)i, within)))) {
			continue;
		}
		Offstat__V1__RankedArea *ra =
		        arena_alloc(&ctx->mem, sizeof(*ra));
		if (ra == NULL) {
			rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
			          "out of memory");
			return (-1);
		}
		offstat__v1__ranked_area__init(ra);
		ra->area = q_area_msg(ctx, (int)i);
		if (by == OFFSTAT__V1__RANK_BY__CHANGE) {
			ra->trend = q_trend(ctx, (int)i, off, &base, &p, src,
			                    (int)i, &qs);
			ra->value = ra->trend != NULL ? ra->trend->end_value
			                              : NULL;
		} else {
			ra->value = q_value(ctx, (int)i, off, &p, src, &qs);
		}
		if (ra->value == NULL) {
			rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
			          "out of memory");
			return (-1);
		}
		all[n].ra    = ra;
		all[n].known = score(ctx, by, ra);
		n++;
	}
	/* Ranked first, then the rest apart: never silently dropped. */
	size_t nknown = 0;
	for (size_t i = 0; i < n; i++) {
		if (all[i].known) {
			all[nknown++] = all[i];
		} else {
			out->missing[out->n_missing++] = all[i].ra->area;
		}
	}
	qsort(all, nknown, sizeof(*all), by_score);
	for (size_t i = 0; i < nknown; i++) {
		if (in->limit != 0 && i >= in->limit) {
			break;
		}
		all[i].ra->rank            = (uint32_t)(i + 1);
		out->areas[out->n_areas++] = all[i].ra;
	}
	out->caution    = (char *)rank_caution;
	out->confidence = ctx->confidence;
	out->offence    = q_offence_msg(ctx, off);
	out->by         = by;
	out->sources    = q_sources_list(ctx, &qs, &out->n_sources);
	out->release    = arena_printf(&ctx->mem, "%llu",
	                               (unsigned long long)snap->release);
	return (0);
}
