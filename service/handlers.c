/*
 * The methods of offstat.v1.OffenceStats, as protobuf-c service handlers.
 * Each decodes nothing itself (dispatch.c did) and builds its response in
 * the call's arena; the closure packs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dispatch.h"
#include "ingest.h"
#include "query.h"
#include "rank.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000
/* Bounds on what one request may ask for, whatever the wire allows. */
#define SERIES_MAX_POINTS 2000
#define COMPARATORS_MAX   16

static time_t started_at;

static void
out_of_memory(rpc_ctx *ctx)
{
	rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
	          "out of memory building the reply");
}

/*
 * Reads the call's data as committed release id left it (0: the latest).
 * Returns 0, or -1 with the status set when there is no such committed
 * release.
 */
static int
as_of(rpc_ctx *ctx, uint64_t id)
{
	const snap_release *r;

	if (id == 0) {
		return (0);
	}
	if ((r = snapshot_release(ctx->snap, id)) == NULL) {
		rpc_error(ctx, OFFSTAT__V1__CODE__NOT_FOUND,
		          "no committed release %llu (see ListReleases)",
		          (unsigned long long)id);
		return (-1);
	}
	ctx->as_of = r->seq < ctx->snap->seq ? r->seq : 0;
	return (0);
}

/* The release a reply answers from. */
static char *
release_of(rpc_ctx *ctx)
{
	uint64_t id = ctx->snap->release;
	for (size_t i = 0; ctx->as_of != 0 && i < ctx->snap->nreleases; i++) {
		if (ctx->snap->releases[i].seq == ctx->as_of) {
			id = ctx->snap->releases[i].id;
		}
	}
	return (arena_printf(&ctx->mem, "%llu", (unsigned long long)id));
}

static void
h_get_count(Offstat__V1__OffenceStats_Service    *service,
            const Offstat__V1__GetCountRequest   *in,
            Offstat__V1__GetCountResponse_Closure closure, void *closure_data)
{
	rpc_ctx                      *ctx = closure_data;
	Offstat__V1__GetCountResponse r =
	        OFFSTAT__V1__GET_COUNT_RESPONSE__INIT;
	q_sources qs;
	period    p;
	int       area, off, src;

	(void)service;
	if (as_of(ctx, in->as_of_release) != 0 ||
	    (area = q_find_area(ctx, in->area, "area")) < 0 ||
	    (off = q_find_offence(ctx, in->offence)) < 0 ||
	    (src = q_find_source(ctx, in->source)) < -1 ||
	    q_period(ctx, in->period, "the", true, &p) != 0) {
		closure(NULL, closure_data);
		return;
	}
	if (q_sources_init(ctx, &qs) != 0) {
		out_of_memory(ctx);
		closure(NULL, closure_data);
		return;
	}
	r.area    = q_area_msg(ctx, area);
	r.offence = q_offence_msg(ctx, off);
	r.value   = q_value(ctx, area, off, &p, src, &qs);
	r.sources = q_sources_list(ctx, &qs, &r.n_sources);
	r.release = release_of(ctx);
	closure(&r, closure_data);
}

/*
 * Each point's revisions: the series worked out as every committed release
 * up to the one answering left it, a revision kept wherever a point's
 * value differs from the release before. Sums and part-years follow the
 * releases of what they sum.
 */
static int
series_history(rpc_ctx *ctx, Offstat__V1__GetSeriesResponse *r, int area,
               int off, int src, bool quarterly, int first, q_sources *qs)
{
	const snapshot *snap  = ctx->snap;
	uint64_t        upto  = ctx->as_of != 0 ? ctx->as_of : snap->seq;
	size_t          nrel  = 0;
	size_t          cap   = 0;
	uint64_t        saved = ctx->as_of;

	for (size_t k = 0; k < snap->nreleases; k++) {
		nrel += snap->releases[k].seq <= upto;
	}
	if (nrel * r->n_points > 200000) {
		rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
		          "a history of %zu points over %zu releases is too "
		          "long; ask for fewer points",
		          r->n_points, nrel);
		return (-1);
	}
	cap = nrel + 1;
	for (size_t i = 0; i < r->n_points; i++) {
		Offstat__V1__Value *v = r->points[i];
		if ((v->revisions = arena_calloc(&ctx->mem, cap,
		                                 sizeof(*v->revisions))) ==
		    NULL) {
			out_of_memory(ctx);
			return (-1);
		}
	}
	for (size_t k = 0; k < snap->nreleases; k++) {
		const snap_release *rel = &snap->releases[k];
		if (rel->seq > upto) {
			break;
		}
		ctx->as_of = rel->seq;
		for (size_t i = 0; i < r->n_points; i++) {
			int    j = first + (int)i;
			period p = quarterly ? (period){(uint16_t)(j / 4),
			                                (uint8_t)(j % 4 + 1),
			                                PERIOD_QUARTER}
			                     : (period){(uint16_t)j, 0,
			                                PERIOD_YEAR};
			Offstat__V1__Value *pt = r->points[i];
			Offstat__V1__Value *v =
			        q_value(ctx, area, off, &p, src, qs);
			if (v == NULL) {
				ctx->as_of = saved;
				out_of_memory(ctx);
				return (-1);
			}
			Offstat__V1__Revision *prev =
			        pt->n_revisions > 0
			                ? pt->revisions[pt->n_revisions - 1]
			                : NULL;
			if (prev == NULL ? !v->present
			                 : prev->present == v->present &&
			                           prev->count == v->count) {
				continue;
			}
			Offstat__V1__Revision *rv =
			        arena_alloc(&ctx->mem, sizeof(*rv));
			if (rv == NULL) {
				ctx->as_of = saved;
				out_of_memory(ctx);
				return (-1);
			}
			offstat__v1__revision__init(rv);
			rv->release       = rel->id;
			rv->release_label = (char *)rel->label;
			rv->committed_at  = (char *)rel->committed_at;
			rv->present       = v->present;
			rv->count         = v->count;
			rv->source_id     = v->source_id;
			pt->revisions[pt->n_revisions++] = rv;
		}
	}
	ctx->as_of = saved;
	return (0);
}

static void
h_get_series(Offstat__V1__OffenceStats_Service     *service,
             const Offstat__V1__GetSeriesRequest   *in,
             Offstat__V1__GetSeriesResponse_Closure closure,
             void                                  *closure_data)
{
	rpc_ctx                       *ctx = closure_data;
	Offstat__V1__GetSeriesResponse r =
	        OFFSTAT__V1__GET_SERIES_RESPONSE__INIT;
	q_sources qs;
	period    from, to;
	int       area, off, src, rf, rt;
	bool      quarterly =
	        in->granularity == OFFSTAT__V1__GRANULARITY__QUARTERLY;

	(void)service;
	if (as_of(ctx, in->as_of_release) != 0 ||
	    (area = q_find_area(ctx, in->area, "area")) < 0 ||
	    (off = q_find_offence(ctx, in->offence)) < 0 ||
	    (src = q_find_source(ctx, in->source)) < -1 ||
	    (rf = q_period(ctx, in->from, "the from", false, &from)) < 0 ||
	    (rt = q_period(ctx, in->to, "the to", false, &to)) < 0) {
		closure(NULL, closure_data);
		return;
	}
	if (in->granularity !=
	            OFFSTAT__V1__GRANULARITY__GRANULARITY_UNSPECIFIED &&
	    in->granularity != OFFSTAT__V1__GRANULARITY__YEARLY &&
	    !quarterly) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "granularity %d is not YEARLY or QUARTERLY",
		          (int)in->granularity);
		closure(NULL, closure_data);
		return;
	}
	/* An open end of the range is where the offence's data ends. */
	const snap_offence *o  = &ctx->snap->offences[off];
	unsigned            y0 = rf == 0 ? from.year : o->min_year;
	unsigned            y1 = rt == 0 ? to.year : o->max_year;
	int q0 = quarterly && rf == 0 && from.kind == PERIOD_QUARTER
	                 ? from.quarter
	                 : 1;
	int q1 = quarterly && rt == 0 && to.kind == PERIOD_QUARTER ? to.quarter
	                                                           : 4;
	int first = quarterly ? period_qindex(y0, (unsigned)q0) : (int)y0;
	int last  = quarterly ? period_qindex(y1, (unsigned)q1) : (int)y1;
	if (y0 == 0 || y1 == 0) {
		first = 0;
		last  = -1; /* no data at all: an empty series */
	} else if (last < first) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "the series ends before it starts");
		closure(NULL, closure_data);
		return;
	} else if (last - first + 1 > SERIES_MAX_POINTS) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "a series may hold at most %d points",
		          SERIES_MAX_POINTS);
		closure(NULL, closure_data);
		return;
	}
	if (q_sources_init(ctx, &qs) != 0 ||
	    (r.points = arena_calloc(&ctx->mem, (size_t)(last - first + 2),
	                             sizeof(*r.points))) == NULL) {
		out_of_memory(ctx);
		closure(NULL, closure_data);
		return;
	}
	for (int i = first; i <= last; i++) {
		period p = quarterly ? (period){(uint16_t)(i / 4),
		                                (uint8_t)(i % 4 + 1),
		                                PERIOD_QUARTER}
		                     : (period){(uint16_t)i, 0, PERIOD_YEAR};
		r.points[r.n_points++] = q_value(ctx, area, off, &p, src, &qs);
	}
	if (in->history &&
	    series_history(ctx, &r, area, off, src, quarterly, first, &qs) !=
	            0) {
		closure(NULL, closure_data);
		return;
	}
	r.area    = q_area_msg(ctx, area);
	r.offence = q_offence_msg(ctx, off);
	r.sources = q_sources_list(ctx, &qs, &r.n_sources);
	r.release = release_of(ctx);
	closure(&r, closure_data);
}

static void
h_compare_trend(Offstat__V1__OffenceStats_Service        *service,
                const Offstat__V1__CompareTrendRequest   *in,
                Offstat__V1__CompareTrendResponse_Closure closure,
                void                                     *closure_data)
{
	rpc_ctx                          *ctx = closure_data;
	Offstat__V1__CompareTrendResponse r =
	        OFFSTAT__V1__COMPARE_TREND_RESPONSE__INIT;
	q_sources qs;
	period    base, end;
	int       area, off, src;
	int       comps[COMPARATORS_MAX];
	size_t    ncomps = 0;

	(void)service;
	if (as_of(ctx, in->as_of_release) != 0 ||
	    (area = q_find_area(ctx, in->area, "area")) < 0 ||
	    (off = q_find_offence(ctx, in->offence)) < 0 ||
	    (src = q_find_source(ctx, in->source)) < -1 ||
	    q_period(ctx, in->base_period, "the base", true, &base) != 0 ||
	    q_period(ctx, in->end_period, "the end", true, &end) != 0) {
		closure(NULL, closure_data);
		return;
	}
	if (in->confidence != 0.0 &&
	    !(in->confidence >= 0.5 && in->confidence <= 0.999)) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "confidence %g is not between 0.5 and 0.999",
		          in->confidence);
		closure(NULL, closure_data);
		return;
	}
	if (in->confidence != 0.0) {
		ctx->confidence = in->confidence;
	}
	r.confidence = ctx->confidence;
	if (in->n_comparators > COMPARATORS_MAX) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "at most %d comparators", COMPARATORS_MAX);
		closure(NULL, closure_data);
		return;
	}
	for (size_t i = 0; i < in->n_comparators; i++) {
		if ((comps[ncomps++] = q_find_area(ctx, in->comparators[i],
		                                   "comparator")) < 0) {
			closure(NULL, closure_data);
			return;
		}
	}
	if (in->n_comparators == 0) {
		/* By default, every area the subject sums into. */
		for (int p = ctx->snap->areas[area].parent;
		     p >= 0 && ncomps < COMPARATORS_MAX;
		     p = ctx->snap->areas[p].parent) {
			comps[ncomps++] = p;
		}
	}
	if (q_sources_init(ctx, &qs) != 0 ||
	    (r.comparators = arena_calloc(&ctx->mem, ncomps + 1,
	                                  sizeof(*r.comparators))) == NULL) {
		out_of_memory(ctx);
		closure(NULL, closure_data);
		return;
	}
	r.offence = q_offence_msg(ctx, off);
	r.subject = q_trend(ctx, area, off, &base, &end, src, area, &qs);
	if (r.subject == NULL) {
		out_of_memory(ctx);
		closure(NULL, closure_data);
		return;
	}
	for (size_t i = 0; i < ncomps; i++) {
		Offstat__V1__Trend *t = q_trend(ctx, comps[i], off, &base,
		                                &end, src, area, &qs);
		if (t == NULL) {
			out_of_memory(ctx);
			closure(NULL, closure_data);
			return;
		}
		if (r.subject->percent_known && t->percent_known) {
			t->difference_known = true;
			t->difference_pp =
			        r.subject->percent_change - t->percent_change;
		}
		q_versus(ctx, r.subject, area, t, comps[i]);
		r.comparators[r.n_comparators++] = t;
	}
	r.summary = (char *)q_summary(ctx, off, r.subject, r.comparators,
	                              r.n_comparators);
	r.sources = q_sources_list(ctx, &qs, &r.n_sources);
	r.release = release_of(ctx);
	closure(&r, closure_data);
}

/* Page bounds from a request; -1 with the status set when invalid. */
static int
paging(rpc_ctx *ctx, const Offstat__V1__PageRequest *pg, size_t total,
       size_t *off, size_t *size)
{
	*off  = 0;
	*size = PAGE_DEFAULT;
	if (pg == NULL) {
		return (0);
	}
	if (pg->page_size > PAGE_MAX) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "page_size %u is over the limit of %d",
		          pg->page_size, PAGE_MAX);
		return (-1);
	}
	if (pg->page_size > 0) {
		*size = pg->page_size;
	}
	if (pg->page_token[0] != '\0') {
		char         *end;
		unsigned long v = strtoul(pg->page_token, &end, 10);
		if (*end != '\0' || pg->page_token[0] < '0' ||
		    pg->page_token[0] > '9' || v > total) {
			rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
			          "page_token '%.20s' is not one this service "
			          "gave",
			          pg->page_token);
			return (-1);
		}
		*off = v;
	}
	return (0);
}

static char *
next_token(rpc_ctx *ctx, size_t off, size_t n, size_t total)
{
	return (off + n < total ? arena_printf(&ctx->mem, "%zu", off + n)
	                        : (char *)"");
}

static void
h_list_areas(Offstat__V1__OffenceStats_Service     *service,
             const Offstat__V1__ListAreasRequest   *in,
             Offstat__V1__ListAreasResponse_Closure closure,
             void                                  *closure_data)
{
	rpc_ctx                       *ctx  = closure_data;
	const snapshot                *snap = ctx->snap;
	Offstat__V1__ListAreasResponse r =
	        OFFSTAT__V1__LIST_AREAS_RESPONSE__INIT;
	int    parent = -1;
	size_t off, size, total = 0;
	bool  *match;

	(void)service;
	if (in->parent[0] != '\0' &&
	    (parent = q_find_area(ctx, in->parent, "parent")) < 0) {
		closure(NULL, closure_data);
		return;
	}
	if ((int)in->kind < 0 || in->kind > OFFSTAT__V1__AREA_KIND__BODY) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "unknown area kind %d", (int)in->kind);
		closure(NULL, closure_data);
		return;
	}
	if ((match = arena_calloc(&ctx->mem, snap->nareas + 1, 1)) == NULL) {
		out_of_memory(ctx);
		closure(NULL, closure_data);
		return;
	}
	for (size_t i = 0; i < snap->nareas; i++) {
		match[i] = (in->kind == 0 ||
		            snap->areas[i].kind == (int)in->kind) &&
		           (parent < 0 ||
		            ((int)i != parent &&
		             snapshot_area_within(snap, (int)i, parent)));
		total += match[i];
	}
	if (paging(ctx, in->page, total, &off, &size) != 0) {
		closure(NULL, closure_data);
		return;
	}
	r.areas = arena_calloc(&ctx->mem, size + 1, sizeof(*r.areas));
	for (size_t i = 0, k = 0; r.areas != NULL && i < snap->nareas; i++) {
		if (!match[i]) {
			continue;
		}
		if (k >= off && r.n_areas < size) {
			r.areas[r.n_areas++] = q_area_msg(ctx, (int)i);
		}
		k++;
	}
	r.total           = (uint32_t)total;
	r.next_page_token = next_token(ctx, off, r.n_areas, total);
	r.release         = release_of(ctx);
	closure(&r, closure_data);
}

static bool
offence_matches(const snap_offence *o, const char *group, const char *query)
{
	if (group[0] != '\0' && strcasecmp(o->group, group) != 0) {
		return (false);
	}
	if (query[0] == '\0') {
		return (true);
	}
	size_t n = strlen(query);
	if (strcasecmp(o->code, query) == 0) {
		return (true);
	}
	for (const char *p = o->description; *p != '\0'; p++) {
		if (strncasecmp(p, query, n) == 0) {
			return (true);
		}
	}
	return (false);
}

static void
h_list_offences(Offstat__V1__OffenceStats_Service        *service,
                const Offstat__V1__ListOffencesRequest   *in,
                Offstat__V1__ListOffencesResponse_Closure closure,
                void                                     *closure_data)
{
	rpc_ctx                          *ctx  = closure_data;
	const snapshot                   *snap = ctx->snap;
	Offstat__V1__ListOffencesResponse r =
	        OFFSTAT__V1__LIST_OFFENCES_RESPONSE__INIT;
	size_t off, size, total = 0;

	(void)service;
	for (size_t i = 0; i < snap->noffences; i++) {
		total += offence_matches(&snap->offences[i], in->group,
		                         in->query);
	}
	if (paging(ctx, in->page, total, &off, &size) != 0) {
		closure(NULL, closure_data);
		return;
	}
	r.offences = arena_calloc(&ctx->mem, size + 1, sizeof(*r.offences));
	for (size_t i = 0, k = 0; r.offences != NULL && i < snap->noffences;
	     i++) {
		if (!offence_matches(&snap->offences[i], in->group,
		                     in->query)) {
			continue;
		}
		if (k >= off && r.n_offences < size) {
			r.offences[r.n_offences++] =
			        q_offence_msg(ctx, (int)i);
		}
		k++;
	}
	r.total           = (uint32_t)total;
	r.next_page_token = next_token(ctx, off, r.n_offences, total);
	r.release         = release_of(ctx);
	closure(&r, closure_data);
}

static void
h_list_sources(Offstat__V1__OffenceStats_Service       *service,
               const Offstat__V1__ListSourcesRequest   *in,
               Offstat__V1__ListSourcesResponse_Closure closure,
               void                                    *closure_data)
{
	rpc_ctx                         *ctx  = closure_data;
	const snapshot                  *snap = ctx->snap;
	Offstat__V1__ListSourcesResponse r =
	        OFFSTAT__V1__LIST_SOURCES_RESPONSE__INIT;
	size_t off, size;

	(void)service;
	if (paging(ctx, in->page, snap->nsources, &off, &size) != 0) {
		closure(NULL, closure_data);
		return;
	}
	r.sources = arena_calloc(&ctx->mem, size + 1, sizeof(*r.sources));
	for (size_t i = off;
	     r.sources != NULL && i < snap->nsources && r.n_sources < size;
	     i++) {
		r.sources[r.n_sources++] = q_source_msg(ctx, (int)i);
	}
	r.total           = (uint32_t)snap->nsources;
	r.next_page_token = next_token(ctx, off, r.n_sources, snap->nsources);
	r.release         = release_of(ctx);
	closure(&r, closure_data);
}

static void
h_server_info(Offstat__V1__OffenceStats_Service      *service,
              const Offstat__V1__ServerInfoRequest   *in,
              Offstat__V1__ServerInfoResponse_Closure closure,
              void                                   *closure_data)
{
	rpc_ctx                        *ctx  = closure_data;
	const snapshot                 *snap = ctx->snap;
	Offstat__V1__ServerInfoResponse r =
	        OFFSTAT__V1__SERVER_INFO_RESPONSE__INIT;
	time_t now = time(NULL);

	(void)service;
	(void)in;
	r.version        = OFFSTAT_VERSION_STRING;
	r.api            = "offstat.v1";
	r.release        = arena_printf(&ctx->mem, "%llu (%s)",
	                                (unsigned long long)snap->release,
	                                snap->release_label);
	r.areas          = snap->nareas;
	r.offences       = snap->noffences;
	r.sources        = snap->nsources;
	r.counts         = snap->nentries;
	r.started_at     = (uint64_t)started_at;
	r.uptime_seconds = now > started_at ? (uint64_t)(now - started_at) : 0;
	r.release_loaded_at = (char *)snap->loaded_at;
	closure(&r, closure_data);
}

static void
h_rank_areas(Offstat__V1__OffenceStats_Service     *service,
             const Offstat__V1__RankAreasRequest   *in,
             Offstat__V1__RankAreasResponse_Closure closure,
             void                                  *closure_data)
{
	Offstat__V1__RankAreasResponse r =
	        OFFSTAT__V1__RANK_AREAS_RESPONSE__INIT;
	(void)service;
	if (as_of(closure_data, in->as_of_release) != 0 ||
	    rank_areas(closure_data, in, &r) != 0) {
		closure(NULL, closure_data);
		return;
	}
	r.release = release_of(closure_data);
	closure(&r, closure_data);
}

static void
h_ingest(Offstat__V1__OffenceStats_Service  *service,
         const Offstat__V1__IngestRequest   *in,
         Offstat__V1__IngestResponse_Closure closure, void *closure_data)
{
	Offstat__V1__IngestResponse r = OFFSTAT__V1__INGEST_RESPONSE__INIT;

	(void)service;
	if (ingest_handle(closure_data, in, &r) != 0) {
		closure(NULL, closure_data);
		return;
	}
	closure(&r, closure_data);
}

static void
h_list_releases(Offstat__V1__OffenceStats_Service        *service,
                const Offstat__V1__ListReleasesRequest   *in,
                Offstat__V1__ListReleasesResponse_Closure closure,
                void                                     *closure_data)
{
	rpc_ctx                          *ctx = closure_data;
	Offstat__V1__ListReleasesResponse r =
	        OFFSTAT__V1__LIST_RELEASES_RESPONSE__INIT;
	Offstat__V1__Release **all;
	size_t                 n, off, size;

	(void)service;
	if (ingest_releases(ctx, in->all, &all, &n) != 0 ||
	    paging(ctx, in->page, n, &off, &size) != 0) {
		closure(NULL, closure_data);
		return;
	}
	r.releases        = all + off;
	r.n_releases      = n - off < size ? n - off : size;
	r.total           = (uint32_t)n;
	r.next_page_token = next_token(ctx, off, r.n_releases, n);
	r.release         = release_of(ctx);
	closure(&r, closure_data);
}

Offstat__V1__OffenceStats_Service offstat__service =
        OFFSTAT__V1__OFFENCE_STATS__INIT(h_);

void
handlers_started(void)
{
	started_at = time(NULL);
}
