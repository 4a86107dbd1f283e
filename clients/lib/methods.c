/* One public function per service method: build the request, call, copy
 * the reply into the plain result structs. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "convert.h"
#include "result.h"

/* The most pages a *_all call follows: 1000 pages of 1000 items. */
#define MAX_PAGES 1000

/* protobuf-c wants char * for strings it only reads; NULL means "". */
static char *
field(const char *s)
{
	return ((char *)(s != NULL ? s : ""));
}

static int
missing(offstat_status *st, const char *what)
{
	return (offstat__status_local(st, OFFSTAT_EINVAL, "%s", what));
}

/*
 * The checks and the result every list call starts with: a result pointer
 * and a client, a page size within bounds. Returns the new result, or
 * NULL with the status set and its code in *rc.
 */
static void *
list_start(const void *out, const offstat_client *c, unsigned size,
           size_t res_size, const char *fn, offstat_status *st, int *rc)
{
	void *res;

	offstat__status_reset(st);
	if (out == NULL || c == NULL) {
		*rc = offstat__status_local(st, OFFSTAT_EINVAL,
		                            "%s needs a result pointer and a "
		                            "client",
		                            fn);
		return (NULL);
	}
	if (size > OFFSTAT_MAX_PAGE_SIZE) {
		*rc = offstat__status_local(st, OFFSTAT_EINVAL,
		                            "page size %u is over %d", size,
		                            OFFSTAT_MAX_PAGE_SIZE);
		return (NULL);
	}
	if ((res = offstat__result_new(res_size)) == NULL) {
		*rc = offstat__status_local(st, OFFSTAT_ENOMEM, "out of memory");
	}
	return (res);
}

/* The options a call uses: the caller's, or the defaults for NULL. */
static const offstat_query_opts *
options(const offstat_query_opts *opts)
{
	static const offstat_query_opts defaults = OFFSTAT_QUERY_OPTS_INIT;

	return (opts != NULL ? opts : &defaults);
}

/* ---- GetCount ---------------------------------------------------------- */

static int
conv_count(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__GetCountResponse *r   = (const void *)m;
	offstat_count                      **out = arg;
	offstat_count                       *res;
	offstat__conv                        cv;

	if ((res = offstat__result_new(sizeof(*res))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	cv = (offstat__conv){res, false};
	offstat__conv_area(&cv, &res->area, r->area);
	offstat__conv_offence(&cv, &res->offence, r->offence);
	offstat__conv_value(&cv, &res->value, r->value);
	offstat__conv_sources(&cv, &res->sources, &res->n_sources, r->sources,
	                      r->n_sources);
	res->release = offstat__conv_str(&cv, r->release);
	if (cv.failed) {
		offstat__result_free(res);
		return (OFFSTAT_ENOMEM);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_get_count(offstat_count **out, offstat_client *c, const char *area,
                  const char *offence, const char *period, const char *source,
                  offstat_status *st)
{
	offstat_query_opts opts = OFFSTAT_QUERY_OPTS_INIT;

	opts.source = source;
	return (offstat_get_count_opts(out, c, area, offence, period, &opts,
	                               st));
}

int
offstat_get_count_opts(offstat_count **out, offstat_client *c,
                       const char *area, const char *offence,
                       const char *period, const offstat_query_opts *opts,
                       offstat_status *st)
{
	Offstat__V1__GetCountRequest req =
	        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period p = OFFSTAT__V1__PERIOD__INIT;

	offstat__status_reset(st);
	if (out == NULL || c == NULL || area == NULL || offence == NULL ||
	    period == NULL) {
		return (missing(st, "offstat_get_count needs a result "
		                    "pointer, a client, an area, an offence "
		                    "and a period"));
	}
	opts              = options(opts);
	p.text            = field(period);
	req.area          = field(area);
	req.offence       = field(offence);
	req.period        = &p;
	req.source        = field(opts->source);
	req.as_of_release = opts->as_of_release;
	return (offstat__call(c, "GetCount", &req.base,
	                      &offstat__v1__get_count_response__descriptor,
	                      conv_count, out, st));
}

void
offstat_count_free(offstat_count *count)
{
	offstat__result_free(count);
}

/* ---- GetSeries --------------------------------------------------------- */

static int
conv_series(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__GetSeriesResponse *r   = (const void *)m;
	offstat_series                      **out = arg;
	offstat_series                       *res;
	offstat__conv                         cv;

	if ((res = offstat__result_new(sizeof(*res))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	cv = (offstat__conv){res, false};
	offstat__conv_area(&cv, &res->area, r->area);
	offstat__conv_offence(&cv, &res->offence, r->offence);
	if (r->n_points > 0 &&
	    (res->points = offstat__result_alloc(
	             res, r->n_points * sizeof(*res->points))) == NULL) {
		cv.failed = true;
	}
	for (size_t i = 0; !cv.failed && i < r->n_points; i++) {
		offstat__conv_value(&cv, &res->points[i], r->points[i]);
		res->n_points = i + 1;
	}
	offstat__conv_sources(&cv, &res->sources, &res->n_sources, r->sources,
	                      r->n_sources);
	res->release = offstat__conv_str(&cv, r->release);
	if (cv.failed) {
		offstat__result_free(res);
		return (OFFSTAT_ENOMEM);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_get_series(offstat_series **out, offstat_client *c, const char *area,
                   const char *offence, const char *from, const char *to,
                   offstat_granularity granularity, const char *source,
                   offstat_status *st)
{
	offstat_query_opts opts = OFFSTAT_QUERY_OPTS_INIT;

	opts.source = source;
	return (offstat_get_series_opts(out, c, area, offence, from, to,
	                                granularity, &opts, st));
}

int
offstat_get_series_opts(offstat_series **out, offstat_client *c,
                        const char *area, const char *offence,
                        const char *from, const char *to,
                        offstat_granularity       granularity,
                        const offstat_query_opts *opts, offstat_status *st)
{
	Offstat__V1__GetSeriesRequest req =
	        OFFSTAT__V1__GET_SERIES_REQUEST__INIT;
	Offstat__V1__Period pf = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period pt = OFFSTAT__V1__PERIOD__INIT;

	offstat__status_reset(st);
	if (out == NULL || c == NULL || area == NULL || offence == NULL) {
		return (missing(st, "offstat_get_series needs a result "
		                    "pointer, a client, an area and an "
		                    "offence"));
	}
	switch (granularity) {
	case OFFSTAT_YEARLY:
		req.granularity = OFFSTAT__V1__GRANULARITY__YEARLY;
		break;
	case OFFSTAT_QUARTERLY:
		req.granularity = OFFSTAT__V1__GRANULARITY__QUARTERLY;
		break;
	default:
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "unknown granularity %d",
		                              (int)granularity));
	}
	req.area    = field(area);
	req.offence = field(offence);
	if (from != NULL && from[0] != '\0') {
		pf.text  = field(from);
		req.from = &pf;
	}
	if (to != NULL && to[0] != '\0') {
		pt.text = field(to);
		req.to  = &pt;
	}
	opts              = options(opts);
	req.source        = field(opts->source);
	req.as_of_release = opts->as_of_release;
	req.history       = opts->history;
	return (offstat__call(c, "GetSeries", &req.base,
	                      &offstat__v1__get_series_response__descriptor,
	                      conv_series, out, st));
}

void
offstat_series_free(offstat_series *series)
{
	offstat__result_free(series);
}

/* ---- CompareTrend ------------------------------------------------------ */

static int
conv_comparison(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__CompareTrendResponse *r   = (const void *)m;
	offstat_comparison                     **out = arg;
	offstat_comparison                      *res;
	offstat__conv                            cv;

	if ((res = offstat__result_new(sizeof(*res))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	cv = (offstat__conv){res, false};
	offstat__conv_offence(&cv, &res->offence, r->offence);
	offstat__conv_trend(&cv, &res->subject, r->subject);
	if (r->n_comparators > 0 &&
	    (res->comparators = offstat__result_alloc(
	             res, r->n_comparators * sizeof(*res->comparators))) ==
	            NULL) {
		cv.failed = true;
	}
	for (size_t i = 0; !cv.failed && i < r->n_comparators; i++) {
		offstat__conv_trend(&cv, &res->comparators[i],
		                    r->comparators[i]);
		res->n_comparators = i + 1;
	}
	res->summary = offstat__conv_str(&cv, r->summary);
	offstat__conv_sources(&cv, &res->sources, &res->n_sources, r->sources,
	                      r->n_sources);
	res->release    = offstat__conv_str(&cv, r->release);
	res->confidence = r->confidence;
	if (cv.failed) {
		offstat__result_free(res);
		return (OFFSTAT_ENOMEM);
	}
	*out = res;
	return (OFFSTAT_OK);
}

/* 0 (the service's default) or a level below 1; the service checks the
 * range it accepts. */
static bool
confidence_ok(double confidence)
{
	return (confidence == 0 || (confidence > 0 && confidence < 1));
}

int
offstat_compare_trend(offstat_comparison **out, offstat_client *c,
                      const char *area, const char *offence, const char *base,
                      const char *end, const char *const *comparators,
                      size_t n_comparators, const char *source,
                      offstat_status *st)
{
	return (offstat_compare_trend_ex(out, c, area, offence, base, end,
	                                 comparators, n_comparators, source, 0,
	                                 st));
}

int
offstat_compare_trend_ex(offstat_comparison **out, offstat_client *c,
                         const char *area, const char *offence,
                         const char *base, const char *end,
                         const char *const *comparators, size_t n_comparators,
                         const char *source, double confidence,
                         offstat_status *st)
{
	offstat_query_opts opts = OFFSTAT_QUERY_OPTS_INIT;

	opts.source     = source;
	opts.confidence = confidence;
	return (offstat_compare_trend_opts(out, c, area, offence, base, end,
	                                   comparators, n_comparators, &opts,
	                                   st));
}

int
offstat_compare_trend_opts(offstat_comparison **out, offstat_client *c,
                           const char *area, const char *offence,
                           const char *base, const char *end,
                           const char *const        *comparators,
                           size_t                    n_comparators,
                           const offstat_query_opts *opts, offstat_status *st)
{
	Offstat__V1__CompareTrendRequest req =
	        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
	Offstat__V1__Period pb = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period pe = OFFSTAT__V1__PERIOD__INIT;
	double              confidence;
	int                 rv;

	offstat__status_reset(st);
	opts       = options(opts);
	confidence = opts->confidence;
	if (out == NULL || c == NULL || area == NULL || offence == NULL ||
	    base == NULL || end == NULL ||
	    (comparators == NULL && n_comparators > 0)) {
		return (missing(st, "offstat_compare_trend needs a result "
		                    "pointer, a client, an area, an offence "
		                    "and two periods"));
	}
	for (size_t i = 0; i < n_comparators; i++) {
		if (comparators[i] == NULL) {
			return (missing(st, "a comparator is NULL"));
		}
	}
	if (!confidence_ok(confidence)) {
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "confidence %g is not a level "
		                              "between 0 and 1",
		                              confidence));
	}
	req.confidence    = confidence;
	pb.text           = field(base);
	pe.text           = field(end);
	req.area          = field(area);
	req.offence       = field(offence);
	req.base_period   = &pb;
	req.end_period    = &pe;
	req.source        = field(opts->source);
	req.as_of_release = opts->as_of_release;
	req.n_comparators = n_comparators;
	req.comparators   = NULL;
	if (n_comparators > 0) {
		/* protobuf-c's field is char **; the strings are only read. */
		req.comparators = calloc(n_comparators, sizeof(char *));
		if (req.comparators == NULL) {
			return (offstat__status_local(st, OFFSTAT_ENOMEM,
			                              "out of memory"));
		}
		for (size_t i = 0; i < n_comparators; i++) {
			req.comparators[i] = field(comparators[i]);
		}
	}
	rv = offstat__call(c, "CompareTrend", &req.base,
	                   &offstat__v1__compare_trend_response__descriptor,
	                   conv_comparison, out, st);
	free(req.comparators);
	return (rv);
}

void
offstat_comparison_free(offstat_comparison *comparison)
{
	offstat__result_free(comparison);
}

/* ---- RankAreas --------------------------------------------------------- */

static int
conv_ranking(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__RankAreasResponse *r   = (const void *)m;
	offstat_ranking                     **out = arg;
	offstat_ranking                      *res;
	offstat__conv                         cv;

	if ((res = offstat__result_new(sizeof(*res))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	cv = (offstat__conv){res, false};
	offstat__conv_offence(&cv, &res->offence, r->offence);
	/* The service's default ordering is by count. */
	res->by = r->by == OFFSTAT__V1__RANK_BY__RANK_BY_UNSPECIFIED
	                  ? OFFSTAT_RANK_COUNT
	                  : (offstat_rank_by)r->by;
	if (r->n_areas > 0 &&
	    (res->areas = offstat__result_alloc(
	             res, r->n_areas * sizeof(*res->areas))) == NULL) {
		cv.failed = true;
	}
	for (size_t i = 0; !cv.failed && i < r->n_areas; i++) {
		offstat__conv_ranked_area(&cv, &res->areas[i], r->areas[i]);
		res->n_areas = i + 1;
	}
	offstat__conv_areas(&cv, &res->missing, &res->n_missing, r->missing,
	                    r->n_missing);
	res->caution = offstat__conv_str(&cv, r->caution);
	offstat__conv_sources(&cv, &res->sources, &res->n_sources, r->sources,
	                      r->n_sources);
	res->release    = offstat__conv_str(&cv, r->release);
	res->confidence = r->confidence;
	if (cv.failed) {
		offstat__result_free(res);
		return (OFFSTAT_ENOMEM);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_rank_areas(offstat_ranking **out, offstat_client *c,
                   const char *offence, const char *period, offstat_rank_by by,
                   const char *base_period, offstat_area_kind kind,
                   const char *within, unsigned limit, double confidence,
                   const char *source, offstat_status *st)
{
	offstat_query_opts opts = OFFSTAT_QUERY_OPTS_INIT;

	opts.source     = source;
	opts.confidence = confidence;
	return (offstat_rank_areas_opts(out, c, offence, period, by,
	                                base_period, kind, within, limit,
	                                &opts, st));
}

int
offstat_rank_areas_opts(offstat_ranking **out, offstat_client *c,
                        const char *offence, const char *period,
                        offstat_rank_by by, const char *base_period,
                        offstat_area_kind kind, const char *within,
                        unsigned limit, const offstat_query_opts *opts,
                        offstat_status *st)
{
	Offstat__V1__RankAreasRequest req =
	        OFFSTAT__V1__RANK_AREAS_REQUEST__INIT;
	Offstat__V1__Period pp = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period pb = OFFSTAT__V1__PERIOD__INIT;
	double              confidence;

	offstat__status_reset(st);
	opts       = options(opts);
	confidence = opts->confidence;
	if (out == NULL || c == NULL || offence == NULL || period == NULL) {
		return (missing(st, "offstat_rank_areas needs a result "
		                    "pointer, a client, an offence and a "
		                    "period"));
	}
	if (offstat_rank_by_name(by) == NULL) {
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "unknown ranking order %d",
		                              (int)by));
	}
	if (offstat_area_kind_name(kind) == NULL) {
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "unknown area kind %d",
		                              (int)kind));
	}
	if (by == OFFSTAT_RANK_CHANGE &&
	    (base_period == NULL || base_period[0] == '\0')) {
		return (missing(st, "a ranking by change needs a base "
		                    "period"));
	}
	if (!confidence_ok(confidence)) {
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "confidence %g is not a level "
		                              "between 0 and 1",
		                              confidence));
	}
	pp.text     = field(period);
	req.offence = field(offence);
	req.period  = &pp;
	req.by      = (Offstat__V1__RankBy)by;
	if (by == OFFSTAT_RANK_CHANGE) {
		pb.text         = field(base_period);
		req.base_period = &pb;
	}
	req.kind          = (Offstat__V1__AreaKind)kind;
	req.within        = field(within);
	req.limit         = limit;
	req.confidence    = confidence;
	req.source        = field(opts->source);
	req.as_of_release = opts->as_of_release;
	return (offstat__call(c, "RankAreas", &req.base,
	                      &offstat__v1__rank_areas_response__descriptor,
	                      conv_ranking, out, st));
}

void
offstat_ranking_free(offstat_ranking *ranking)
{
	offstat__result_free(ranking);
}

/* ---- The catalogue ----------------------------------------------------- */

/*
 * A list being filled, one page per call. The items of every page go into
 * the same result region; the array is reallocated inside it as it grows.
 */
struct pages {
	void     *res;   /* The list result (its region). */
	void    **items; /* &res->areas and so on. */
	size_t   *n;     /* &res->n_areas and so on. */
	size_t    cap;
	size_t    elem;
	char    **next_token;
	unsigned *total;
	char    **release;
};

/* Makes room for add more items; false when memory runs out. */
static bool
pages_grow(struct pages *pg, offstat__conv *cv, size_t add)
{
	size_t need = *pg->n + add;
	void  *p;

	if (need <= pg->cap) {
		return (true);
	}
	if (pg->cap < need) {
		size_t cap = pg->cap > 0 ? pg->cap : 16;
		while (cap < need) {
			cap *= 2;
		}
		if ((p = offstat__result_alloc(pg->res, cap * pg->elem)) ==
		    NULL) {
			cv->failed = true;
			return (false);
		}
		if (*pg->n > 0) {
			memcpy(p, *pg->items, *pg->n * pg->elem);
		}
		*pg->items = p;
		pg->cap    = cap;
	}
	return (true);
}

/* Every page's token and release are kept in the region, which is
 * freed whole: a list of many pages holds a few strings too many. */
static int
pages_done(struct pages *pg, offstat__conv *cv, const char *next,
           unsigned total, const char *release)
{
	*pg->next_token = offstat__conv_str(cv, next);
	*pg->total      = total;
	*pg->release    = offstat__conv_str(cv, release);
	return (cv->failed ? OFFSTAT_ENOMEM : OFFSTAT_OK);
}

static int
conv_area_page(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__ListAreasResponse *r  = (const void *)m;
	struct pages                         *pg = arg;
	offstat__conv                         cv = {pg->res, false};
	offstat_area                         *v;

	if (pages_grow(pg, &cv, r->n_areas)) {
		v = *pg->items;
		for (size_t i = 0; i < r->n_areas && !cv.failed; i++) {
			offstat__conv_area(&cv, &v[*pg->n], r->areas[i]);
			(*pg->n)++;
		}
	}
	return (pages_done(pg, &cv, r->next_page_token, r->total, r->release));
}

static int
conv_offence_page(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__ListOffencesResponse *r  = (const void *)m;
	struct pages                            *pg = arg;
	offstat__conv                            cv = {pg->res, false};
	offstat_offence                         *v;

	if (pages_grow(pg, &cv, r->n_offences)) {
		v = *pg->items;
		for (size_t i = 0; i < r->n_offences && !cv.failed; i++) {
			offstat__conv_offence(&cv, &v[*pg->n], r->offences[i]);
			(*pg->n)++;
		}
	}
	return (pages_done(pg, &cv, r->next_page_token, r->total, r->release));
}

static int
conv_source_page(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__ListSourcesResponse *r  = (const void *)m;
	struct pages                           *pg = arg;
	offstat__conv                           cv = {pg->res, false};
	offstat_source                         *v;

	if (pages_grow(pg, &cv, r->n_sources)) {
		v = *pg->items;
		for (size_t i = 0; i < r->n_sources && !cv.failed; i++) {
			offstat__conv_source(&cv, &v[*pg->n], r->sources[i]);
			(*pg->n)++;
		}
	}
	return (pages_done(pg, &cv, r->next_page_token, r->total, r->release));
}

static int
conv_release_page(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__ListReleasesResponse *r  = (const void *)m;
	struct pages                            *pg = arg;
	offstat__conv                            cv = {pg->res, false};
	offstat_release                         *v;

	if (pages_grow(pg, &cv, r->n_releases)) {
		v = *pg->items;
		for (size_t i = 0; i < r->n_releases && !cv.failed; i++) {
			offstat__conv_release(&cv, &v[*pg->n], r->releases[i]);
			(*pg->n)++;
		}
	}
	return (pages_done(pg, &cv, r->next_page_token, r->total, r->release));
}

/* Something that makes one page request: a list call's own arguments. */
typedef int (*page_fn)(offstat_client *c, const void *args, unsigned size,
                       const char *token, struct pages *pg,
                       offstat_status *st);

/*
 * Calls fetch once (all false) or until the last page (all true), filling
 * one result. A token that repeats or a list that never ends is EPROTO.
 */
static int
fetch_pages(offstat_client *c, page_fn fetch, const void *args, unsigned size,
            const char *token, bool all, struct pages *pg, offstat_status *st)
{
	const char *prev = NULL;
	int         rv;

	for (int page = 0;; page++) {
		if (page == MAX_PAGES) {
			return (offstat__status_local(
			        st, OFFSTAT_EPROTO,
			        "the list from %s has more than %d pages",
			        offstat_client_url(c), MAX_PAGES));
		}
		if ((rv = fetch(c, args, size, token, pg, st)) != 0) {
			return (rv);
		}
		token = *pg->next_token;
		if (!all || token[0] == '\0') {
			return (OFFSTAT_OK);
		}
		if (prev != NULL && strcmp(prev, token) == 0) {
			return (offstat__status_local(
			        st, OFFSTAT_EPROTO,
			        "the list from %s repeats page token '%s'",
			        offstat_client_url(c), token));
		}
		prev = token;
	}
}

struct area_args {
	offstat_area_kind kind;
	const char       *parent;
};

static int
fetch_areas(offstat_client *c, const void *args, unsigned size,
            const char *token, struct pages *pg, offstat_status *st)
{
	const struct area_args       *a = args;
	Offstat__V1__ListAreasRequest req =
	        OFFSTAT__V1__LIST_AREAS_REQUEST__INIT;
	Offstat__V1__PageRequest page = OFFSTAT__V1__PAGE_REQUEST__INIT;

	page.page_size  = size;
	page.page_token = field(token);
	req.page        = &page;
	req.kind        = (Offstat__V1__AreaKind)a->kind;
	req.parent      = field(a->parent);
	return (offstat__call(c, "ListAreas", &req.base,
	                      &offstat__v1__list_areas_response__descriptor,
	                      conv_area_page, pg, st));
}

static int
list_areas(offstat_area_list **out, offstat_client *c, offstat_area_kind kind,
           const char *parent, unsigned size, const char *token, bool all,
           offstat_status *st)
{
	struct area_args   args = {kind, parent};
	offstat_area_list *res;
	struct pages       pg;
	int                rv;

	if ((res = list_start(out, c, size, sizeof(*res), "offstat_list_areas", st,
	                      &rv)) == NULL) {
		return (rv);
	}
	pg = (struct pages){
	        res,         (void **)&res->areas, &res->n_areas,
	        0,           sizeof(offstat_area), &res->next_page_token,
	        &res->total, &res->release};
	rv = fetch_pages(c, fetch_areas, &args, size, token, all, &pg, st);
	if (rv != OFFSTAT_OK) {
		offstat__result_free(res);
		return (rv);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_list_areas(offstat_area_list **out, offstat_client *c,
                   offstat_area_kind kind, const char *parent,
                   unsigned page_size, const char *page_token,
                   offstat_status *st)
{
	return (list_areas(out, c, kind, parent, page_size, page_token, false,
	                   st));
}

int
offstat_list_areas_all(offstat_area_list **out, offstat_client *c,
                       offstat_area_kind kind, const char *parent,
                       offstat_status *st)
{
	return (list_areas(out, c, kind, parent, OFFSTAT_MAX_PAGE_SIZE, NULL,
	                   true, st));
}

void
offstat_area_list_free(offstat_area_list *list)
{
	offstat__result_free(list);
}

struct offence_args {
	const char *group;
	const char *query;
};

static int
fetch_offences(offstat_client *c, const void *args, unsigned size,
               const char *token, struct pages *pg, offstat_status *st)
{
	const struct offence_args       *a = args;
	Offstat__V1__ListOffencesRequest req =
	        OFFSTAT__V1__LIST_OFFENCES_REQUEST__INIT;
	Offstat__V1__PageRequest page = OFFSTAT__V1__PAGE_REQUEST__INIT;

	page.page_size  = size;
	page.page_token = field(token);
	req.page        = &page;
	req.group       = field(a->group);
	req.query       = field(a->query);
	return (offstat__call(c, "ListOffences", &req.base,
	                      &offstat__v1__list_offences_response__descriptor,
	                      conv_offence_page, pg, st));
}

static int
list_offences(offstat_offence_list **out, offstat_client *c, const char *group,
              const char *query, unsigned size, const char *token, bool all,
              offstat_status *st)
{
	struct offence_args   args = {group, query};
	offstat_offence_list *res;
	struct pages          pg;
	int                   rv;

	if ((res = list_start(out, c, size, sizeof(*res), "offstat_list_offences", st,
	                      &rv)) == NULL) {
		return (rv);
	}
	pg = (struct pages){res,
	                    (void **)&res->offences,
	                    &res->n_offences,
	                    0,
	                    sizeof(offstat_offence),
	                    &res->next_page_token,
	                    &res->total,
	                    &res->release};
	rv = fetch_pages(c, fetch_offences, &args, size, token, all, &pg, st);
	if (rv != OFFSTAT_OK) {
		offstat__result_free(res);
		return (rv);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_list_offences(offstat_offence_list **out, offstat_client *c,
                      const char *group, const char *query, unsigned page_size,
                      const char *page_token, offstat_status *st)
{
	return (list_offences(out, c, group, query, page_size, page_token,
	                      false, st));
}

int
offstat_list_offences_all(offstat_offence_list **out, offstat_client *c,
                          const char *group, const char *query,
                          offstat_status *st)
{
	return (list_offences(out, c, group, query, OFFSTAT_MAX_PAGE_SIZE,
	                      NULL, true, st));
}

void
offstat_offence_list_free(offstat_offence_list *list)
{
	offstat__result_free(list);
}

static int
fetch_sources(offstat_client *c, const void *args, unsigned size,
              const char *token, struct pages *pg, offstat_status *st)
{
	Offstat__V1__ListSourcesRequest req =
	        OFFSTAT__V1__LIST_SOURCES_REQUEST__INIT;
	Offstat__V1__PageRequest page = OFFSTAT__V1__PAGE_REQUEST__INIT;

	(void)args;
	page.page_size  = size;
	page.page_token = field(token);
	req.page        = &page;
	return (offstat__call(c, "ListSources", &req.base,
	                      &offstat__v1__list_sources_response__descriptor,
	                      conv_source_page, pg, st));
}

static int
list_sources(offstat_source_list **out, offstat_client *c, unsigned size,
             const char *token, bool all, offstat_status *st)
{
	offstat_source_list *res;
	struct pages         pg;
	int                  rv;

	if ((res = list_start(out, c, size, sizeof(*res), "offstat_list_sources", st,
	                      &rv)) == NULL) {
		return (rv);
	}
	pg = (struct pages){
	        res,         (void **)&res->sources, &res->n_sources,
	        0,           sizeof(offstat_source), &res->next_page_token,
	        &res->total, &res->release};
	rv = fetch_pages(c, fetch_sources, NULL, size, token, all, &pg, st);
	if (rv != OFFSTAT_OK) {
		offstat__result_free(res);
		return (rv);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_list_sources(offstat_source_list **out, offstat_client *c,
                     unsigned page_size, const char *page_token,
                     offstat_status *st)
{
	return (list_sources(out, c, page_size, page_token, false, st));
}

int
offstat_list_sources_all(offstat_source_list **out, offstat_client *c,
                         offstat_status *st)
{
	return (list_sources(out, c, OFFSTAT_MAX_PAGE_SIZE, NULL, true, st));
}

void
offstat_source_list_free(offstat_source_list *list)
{
	offstat__result_free(list);
}

/* ---- ServerInfo -------------------------------------------------------- */

static int
conv_info(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__ServerInfoResponse *r   = (const void *)m;
	offstat_server_info                  **out = arg;
	offstat_server_info                   *res;
	offstat__conv                          cv;

	if ((res = offstat__result_new(sizeof(*res))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	cv = (offstat__conv){res, false};
	offstat__conv_server_info(&cv, res, r);
	if (cv.failed) {
		offstat__result_free(res);
		return (OFFSTAT_ENOMEM);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_get_server_info(offstat_server_info **out, offstat_client *c,
                        offstat_status *st)
{
	Offstat__V1__ServerInfoRequest req =
	        OFFSTAT__V1__SERVER_INFO_REQUEST__INIT;

	offstat__status_reset(st);
	if (out == NULL || c == NULL) {
		return (missing(st, "offstat_get_server_info needs a result "
		                    "pointer and a client"));
	}
	return (offstat__call(c, "ServerInfo", &req.base,
	                      &offstat__v1__server_info_response__descriptor,
	                      conv_info, out, st));
}

void
offstat_server_info_free(offstat_server_info *info)
{
	offstat__result_free(info);
}

/* ---- ListReleases ------------------------------------------------------ */

static int
fetch_releases(offstat_client *c, const void *args, unsigned size,
               const char *token, struct pages *pg, offstat_status *st)
{
	const bool                      *all = args;
	Offstat__V1__ListReleasesRequest req =
	        OFFSTAT__V1__LIST_RELEASES_REQUEST__INIT;
	Offstat__V1__PageRequest page = OFFSTAT__V1__PAGE_REQUEST__INIT;

	page.page_size  = size;
	page.page_token = field(token);
	req.page        = &page;
	req.all         = *all;
	return (offstat__call(c, "ListReleases", &req.base,
	                      &offstat__v1__list_releases_response__descriptor,
	                      conv_release_page, pg, st));
}

static int
list_releases(offstat_release_list **out, offstat_client *c, bool all_states,
              unsigned size, const char *token, bool all, offstat_status *st)
{
	offstat_release_list *res;
	struct pages          pg;
	int                   rv;

	if ((res = list_start(out, c, size, sizeof(*res), "offstat_list_releases", st,
	                      &rv)) == NULL) {
		return (rv);
	}
	pg = (struct pages){res,
	                    (void **)&res->releases,
	                    &res->n_releases,
	                    0,
	                    sizeof(offstat_release),
	                    &res->next_page_token,
	                    &res->total,
	                    &res->release};
	rv = fetch_pages(c, fetch_releases, &all_states, size, token, all, &pg,
	                 st);
	if (rv != OFFSTAT_OK) {
		offstat__result_free(res);
		return (rv);
	}
	*out = res;
	return (OFFSTAT_OK);
}

int
offstat_list_releases(offstat_release_list **out, offstat_client *c, bool all,
                      unsigned page_size, const char *page_token,
                      offstat_status *st)
{
	return (list_releases(out, c, all, page_size, page_token, false, st));
}

int
offstat_list_releases_all(offstat_release_list **out, offstat_client *c,
                          bool all, offstat_status *st)
{
	return (list_releases(out, c, all, OFFSTAT_MAX_PAGE_SIZE, NULL, true,
	                      st));
}

void
offstat_release_list_free(offstat_release_list *list)
{
	offstat__result_free(list);
}
