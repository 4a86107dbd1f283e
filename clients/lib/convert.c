#include <stdint.h>
#include <string.h>

#include "convert.h"
#include "result.h"

/* What a failed string copy points at; the result is discarded anyway. */
static char empty[1];

static void *
conv_alloc(offstat__conv *cv, size_t n, size_t size)
{
	void *p;

	if (n == 0 || cv->failed) {
		return (NULL);
	}
	if (n > SIZE_MAX / size) {
		cv->failed = true;
		return (NULL);
	}
	if ((p = offstat__result_alloc(cv->result, n * size)) == NULL) {
		cv->failed = true;
	}
	return (p);
}

char *
offstat__conv_str(offstat__conv *cv, const char *s)
{
	size_t len;
	char  *p;

	if (s == NULL) {
		s = "";
	}
	len = strlen(s);
	if (cv->failed ||
	    (p = offstat__result_alloc(cv->result, len + 1)) == NULL) {
		cv->failed = true;
		return (empty);
	}
	memcpy(p, s, len + 1);
	return (p);
}

static void
conv_strs(offstat__conv *cv, char ***dst, size_t *n_dst, char *const *src,
          size_t n)
{
	char **v = conv_alloc(cv, n, sizeof(*v));

	*dst   = v;
	*n_dst = v != NULL ? n : 0;
	for (size_t i = 0; i < *n_dst; i++) {
		v[i] = offstat__conv_str(cv, src[i]);
	}
}

/* Flag n of the .proto is bit n-1; 0 (never sent) and unknown high values
 * beyond the mask are dropped. */
static unsigned
conv_flags(const Offstat__V1__Flag *flags, size_t n)
{
	unsigned bits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned f = (unsigned)flags[i];
		if (f >= 1 && f <= 32) {
			bits |= 1u << (f - 1);
		}
	}
	return (bits);
}

static void
conv_period(offstat__conv *cv, offstat_period *dst,
            const Offstat__V1__Period *src)
{
	if (src == NULL) {
		dst->text = offstat__conv_str(cv, "");
		return;
	}
	dst->year    = src->year;
	dst->quarter = src->quarter;
	dst->kind    = (offstat_period_kind)src->kind;
	dst->text    = offstat__conv_str(cv, src->text);
}

static void
conv_coverage(offstat__conv *cv, offstat_coverage *dst,
              const Offstat__V1__Coverage *src)
{
	if (src == NULL) {
		return;
	}
	dst->method           = (offstat_coverage_method)src->method;
	dst->members_expected = src->members_expected;
	dst->members_present  = src->members_present;
	conv_strs(cv, &dst->missing, &dst->n_missing, src->missing,
	          src->n_missing);
}

void
offstat__conv_source(offstat__conv *cv, offstat_source *dst,
                     const Offstat__V1__Source *src)
{
	dst->id        = offstat__conv_str(cv, src->id);
	dst->title     = offstat__conv_str(cv, src->title);
	dst->publisher = offstat__conv_str(cv, src->publisher);
	dst->published = offstat__conv_str(cv, src->published);
	dst->url       = offstat__conv_str(cv, src->url);
	dst->kind      = (offstat_source_kind)src->kind;
	dst->note      = offstat__conv_str(cv, src->note);
}

void
offstat__conv_area(offstat__conv *cv, offstat_area *dst,
                   const Offstat__V1__Area *src)
{
	static const Offstat__V1__Area none = OFFSTAT__V1__AREA__INIT;

	if (src == NULL) {
		src = &none;
	}
	dst->code         = offstat__conv_str(cv, src->code);
	dst->name         = offstat__conv_str(cv, src->name);
	dst->kind         = (offstat_area_kind)src->kind;
	dst->parent_code  = offstat__conv_str(cv, src->parent_code);
	dst->region_code  = offstat__conv_str(cv, src->region_code);
	dst->country_code = offstat__conv_str(cv, src->country_code);
	conv_strs(cv, &dst->aliases, &dst->n_aliases, src->aliases,
	          src->n_aliases);
	dst->population         = src->population;
	dst->population_under18 = src->population_under18;
	dst->population_source = offstat__conv_str(cv, src->population_source);
	conv_strs(cv, &dst->members, &dst->n_members, src->members,
	          src->n_members);
}

void
offstat__conv_offence(offstat__conv *cv, offstat_offence *dst,
                      const Offstat__V1__Offence *src)
{
	static const Offstat__V1__Offence none = OFFSTAT__V1__OFFENCE__INIT;
	offstat_series_break             *b;

	if (src == NULL) {
		src = &none;
	}
	dst->code        = offstat__conv_str(cv, src->code);
	dst->description = offstat__conv_str(cv, src->description);
	dst->group       = offstat__conv_str(cv, src->group);
	dst->subgroup    = offstat__conv_str(cv, src->subgroup);
	dst->note        = offstat__conv_str(cv, src->note);
	b                = conv_alloc(cv, src->n_breaks, sizeof(*b));
	dst->breaks      = b;
	dst->n_breaks    = b != NULL ? src->n_breaks : 0;
	for (size_t i = 0; i < dst->n_breaks; i++) {
		b[i].year = src->breaks[i]->year;
		b[i].note = offstat__conv_str(cv, src->breaks[i]->note);
	}
}

static void
conv_rate(offstat__conv *cv, offstat_rate *dst, const Offstat__V1__Rate *src)
{
	/* Strings are never NULL, even in a rate that is not there. */
	dst->population_source = offstat__conv_str(
	        cv, src != NULL ? src->population_source : "");
	if (src == NULL || !src->known) {
		return;
	}
	dst->known      = true;
	dst->per_100k   = src->per_100k;
	dst->lower      = src->lower;
	dst->upper      = src->upper;
	dst->population = src->population;
}

static void
conv_rates(offstat__conv *cv, offstat_rates *dst,
           const Offstat__V1__Rates *src)
{
	conv_rate(cv, &dst->people, src != NULL ? src->people : NULL);
	conv_rate(cv, &dst->under18, src != NULL ? src->under18 : NULL);
}

static void
conv_test(offstat__conv *cv, offstat_ratio_test *dst,
          const Offstat__V1__RatioTest *src)
{
	static const Offstat__V1__RatioTest none =
	        OFFSTAT__V1__RATIO_TEST__INIT;

	if (src == NULL) {
		src = &none;
	}
	dst->known      = src->known != 0;
	dst->estimate   = src->estimate;
	dst->lower      = src->lower;
	dst->upper      = src->upper;
	dst->p_value    = src->p_value;
	dst->confidence = src->confidence;
	dst->verdict    = offstat__conv_str(cv, src->verdict);
	dst->note       = offstat__conv_str(cv, src->note);
}

void
offstat__conv_value(offstat__conv *cv, offstat_value *dst,
                    const Offstat__V1__Value *src)
{
	static const Offstat__V1__Value none = OFFSTAT__V1__VALUE__INIT;
	offstat_alternative            *a;
	offstat_revision               *r;

	if (src == NULL) {
		src = &none;
	}
	conv_period(cv, &dst->period, src->period);
	dst->present        = src->present != 0;
	dst->count          = src->count;
	dst->flags          = conv_flags(src->flags, src->n_flags);
	dst->source_id      = offstat__conv_str(cv, src->source_id);
	dst->note           = offstat__conv_str(cv, src->note);
	a                   = conv_alloc(cv, src->n_alternatives, sizeof(*a));
	dst->alternatives   = a;
	dst->n_alternatives = a != NULL ? src->n_alternatives : 0;
	for (size_t i = 0; i < dst->n_alternatives; i++) {
		const Offstat__V1__Alternative *s = src->alternatives[i];
		a[i].count                        = s->count;
		a[i].source_id = offstat__conv_str(cv, s->source_id);
		a[i].note      = offstat__conv_str(cv, s->note);
	}
	conv_coverage(cv, &dst->coverage, src->coverage);
	conv_rates(cv, &dst->rates, src->rates);
	r                = conv_alloc(cv, src->n_revisions, sizeof(*r));
	dst->revisions   = r;
	dst->n_revisions = r != NULL ? src->n_revisions : 0;
	for (size_t i = 0; i < dst->n_revisions; i++) {
		const Offstat__V1__Revision *s = src->revisions[i];
		r[i].release                   = s->release;
		r[i].release_label = offstat__conv_str(cv, s->release_label);
		r[i].committed_at  = offstat__conv_str(cv, s->committed_at);
		r[i].present       = s->present != 0;
		r[i].count         = s->count;
		r[i].source_id     = offstat__conv_str(cv, s->source_id);
	}
}

void
offstat__conv_trend(offstat__conv *cv, offstat_trend *dst,
                    const Offstat__V1__Trend *src)
{
	static const Offstat__V1__Trend none = OFFSTAT__V1__TREND__INIT;
	offstat_published_change       *p;

	if (src == NULL) {
		src = &none;
	}
	offstat__conv_area(cv, &dst->area, src->area);
	offstat__conv_value(cv, &dst->base, src->base_value);
	offstat__conv_value(cv, &dst->end, src->end_value);
	dst->has_change     = src->change_known != 0;
	dst->change         = src->change;
	dst->has_percent    = src->percent_known != 0;
	dst->percent_change = src->percent_change;
	dst->has_difference = src->difference_known != 0;
	dst->difference_pp  = src->difference_pp;
	dst->flags          = conv_flags(src->flags, src->n_flags);
	dst->note           = offstat__conv_str(cv, src->note);
	p              = conv_alloc(cv, src->n_published_changes, sizeof(*p));
	dst->published = p;
	dst->n_published = p != NULL ? src->n_published_changes : 0;
	for (size_t i = 0; i < dst->n_published; i++) {
		const Offstat__V1__PublishedChange *s =
		        src->published_changes[i];
		conv_period(cv, &p[i].from, s->from);
		conv_period(cv, &p[i].to, s->to);
		p[i].percent   = s->percent;
		p[i].source_id = offstat__conv_str(cv, s->source_id);
		p[i].note      = offstat__conv_str(cv, s->note);
	}
	conv_coverage(cv, &dst->coverage, src->coverage);
	conv_test(cv, &dst->change_test, src->change_test);
	conv_test(cv, &dst->versus_subject, src->versus_subject);
}

void
offstat__conv_ranked_area(offstat__conv *cv, offstat_ranked_area *dst,
                          const Offstat__V1__RankedArea *src)
{
	dst->rank = src->rank;
	offstat__conv_area(cv, &dst->area, src->area);
	offstat__conv_value(cv, &dst->value, src->value);
	dst->score     = src->score;
	dst->lower     = src->lower;
	dst->upper     = src->upper;
	dst->has_trend = src->trend != NULL;
	/* Converted even when absent, so that its strings are not NULL. */
	offstat__conv_trend(cv, &dst->trend, src->trend);
}

void
offstat__conv_server_info(offstat__conv *cv, offstat_server_info *dst,
                          const Offstat__V1__ServerInfoResponse *src)
{
	dst->version           = offstat__conv_str(cv, src->version);
	dst->api               = offstat__conv_str(cv, src->api);
	dst->release           = offstat__conv_str(cv, src->release);
	dst->areas             = src->areas;
	dst->offences          = src->offences;
	dst->sources           = src->sources;
	dst->counts            = src->counts;
	dst->uptime_seconds    = src->uptime_seconds;
	dst->started_at        = src->started_at;
	dst->release_loaded_at = offstat__conv_str(cv, src->release_loaded_at);
}

void
offstat__conv_sources(offstat__conv *cv, offstat_source **dst, size_t *n_dst,
                      Offstat__V1__Source *const *src, size_t n)
{
	offstat_source *v = conv_alloc(cv, n, sizeof(*v));

	*dst   = v;
	*n_dst = v != NULL ? n : 0;
	for (size_t i = 0; i < *n_dst; i++) {
		offstat__conv_source(cv, &v[i], src[i]);
	}
}

void
offstat__conv_areas(offstat__conv *cv, offstat_area **dst, size_t *n_dst,
                    Offstat__V1__Area *const *src, size_t n)
{
	offstat_area *v = conv_alloc(cv, n, sizeof(*v));

	*dst   = v;
	*n_dst = v != NULL ? n : 0;
	for (size_t i = 0; i < *n_dst; i++) {
		offstat__conv_area(cv, &v[i], src[i]);
	}
}

void
offstat__conv_offences(offstat__conv *cv, offstat_offence **dst, size_t *n_dst,
                       Offstat__V1__Offence *const *src, size_t n)
{
	offstat_offence *v = conv_alloc(cv, n, sizeof(*v));

	*dst   = v;
	*n_dst = v != NULL ? n : 0;
	for (size_t i = 0; i < *n_dst; i++) {
		offstat__conv_offence(cv, &v[i], src[i]);
	}
}

void
offstat__conv_release(offstat__conv *cv, offstat_release *dst,
                      const Offstat__V1__Release *src)
{
	dst->id           = src->id;
	dst->label        = offstat__conv_str(cv, src->label);
	dst->source_id    = offstat__conv_str(cv, src->source_id);
	dst->state        = (offstat_release_state)src->state;
	dst->opened_at    = offstat__conv_str(cv, src->opened_at);
	dst->committed_at = offstat__conv_str(cv, src->committed_at);
	dst->loaded_by    = offstat__conv_str(cv, src->loaded_by);
	dst->rows         = src->rows;
	dst->changed      = src->changed;
	dst->sequence     = src->sequence;
}
