/*
 * How results look: one function per result type, each writing a table for
 * people, JSON or CSV on stdout. Every figure is shown with its flags and
 * its source; tables end with the notes and a legend of the sources.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* How many missing members a table note names before "and N more". */
#define MISSING_SHOWN 8

/* ---- Shared text -------------------------------------------------------- */

static const char *
kind_lower(int kind, char *out, size_t n)
{
	const char *name = offstat_area_kind_name(kind);

	snprintf(out, n, "%s", name != NULL ? name : "?");
	for (char *p = out; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
		}
	}
	return (out);
}

static const offstat_source *
find_source(const offstat_source *s, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s[i].id, id) == 0) {
			return (&s[i]);
		}
	}
	return (NULL);
}

/* "Sources:" and one aligned line per source: id, title, publisher, date. */
void
out_legend(FILE *f, const offstat_source *s, size_t n)
{
	int width = 0;

	if (n == 0) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int w = (int)strlen(s[i].id);
		width = w > width ? w : width;
	}
	fputs("\nSources:\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  %-*s  %s", width, s[i].id, s[i].title);
		if (s[i].publisher[0] != '\0' &&
		    strstr(s[i].title, s[i].publisher) == NULL) {
			fprintf(f, ", %s", s[i].publisher);
		}
		if (s[i].published[0] != '\0' &&
		    strstr(s[i].title, s[i].published) == NULL) {
			fprintf(f, ", %s", s[i].published);
		}
		if (s[i].url[0] != '\0') {
			fprintf(f, " <%s>", s[i].url);
		}
		fputc('\n', f);
	}
}

void
out_release(FILE *f, const char *release)
{
	if (release[0] != '\0') {
		fprintf(f, "\nRelease: %s\n", release);
	}
}

/* Numbered notes under a table: "[1] first line" and indented further
 * lines. */
struct notes {
	struct buf text;
	int        count;
	bool       open; /* A note is being written. */
};

static int
note_begin(struct notes *ns)
{
	ns->count++;
	ns->open = false;
	return (ns->count);
}

static void note_line(struct notes *ns, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

static void
note_line(struct notes *ns, const char *fmt, ...)
{
	va_list ap;
	char   *line;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (line = malloc((size_t)n + 1)) == NULL) {
		ns->text.failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (!ns->open) {
		buf_printf(&ns->text, "[%d] %s\n", ns->count, line);
		ns->open = true;
	} else {
		buf_printf(&ns->text, "    %s\n", line);
	}
	free(line);
}

static void
print_notes(FILE *f, struct notes *ns)
{
	if (ns->count > 0) {
		fputc('\n', f);
		fputs(buf_str(&ns->text), f);
	}
}

/* "E23000001, E23000002, ... and 35 more" */
static void
missing_text(struct buf *b, char *const *codes, size_t n)
{
	for (size_t i = 0; i < n && i < MISSING_SHOWN; i++) {
		buf_printf(b, "%s%s", i > 0 ? ", " : "", codes[i]);
	}
	if (n > MISSING_SHOWN) {
		buf_printf(b, " and %zu more", n - MISSING_SHOWN);
	}
}

static void
coverage_cell(struct buf *b, const offstat_coverage *cov)
{
	switch (cov->method) {
	case OFFSTAT_COVERAGE_PUBLISHED:
		buf_add(b, "published");
		break;
	case OFFSTAT_COVERAGE_SUM:
		buf_printf(b, "%u/%u members", cov->members_present,
		           cov->members_expected);
		break;
	default:
		break;
	}
}

/* Notes about one value: its note, the other sources' figures, members
 * missing from its sum. Returns the note's number, or 0 if nothing. */
static int
value_notes(struct notes *ns, const offstat_value *v, const char *prefix)
{
	struct buf b   = {0};
	bool       any = v->note[0] != '\0' || v->n_alternatives > 0 ||
	           v->coverage.n_missing > 0;

	if (!any) {
		return (0);
	}
	if (prefix == NULL) {
		note_begin(ns);
		prefix = "";
	}
	if (v->note[0] != '\0') {
		note_line(ns, "%s%s", prefix, v->note);
	}
	for (size_t i = 0; i < v->n_alternatives; i++) {
		const offstat_alternative *a = &v->alternatives[i];
		note_line(ns, "%salso %" PRIu64 " from %s%s%s", prefix,
		          a->count, a->source_id,
		          a->note[0] != '\0' ? ": " : "", a->note);
	}
	if (v->coverage.n_missing > 0) {
		missing_text(&b, v->coverage.missing, v->coverage.n_missing);
		note_line(ns, "%smissing %zu of %u members: %s", prefix,
		          v->coverage.n_missing, v->coverage.members_expected,
		          buf_str(&b));
		buf_free(&b);
	}
	return (ns->count);
}

/* ---- JSON pieces -------------------------------------------------------- */

static void
json_strings(struct json *j, const char *key, char *const *v, size_t n)
{
	json_begin_array(j, key);
	for (size_t i = 0; i < n; i++) {
		json_string(j, NULL, v[i]);
	}
	json_end_array(j);
}

static void
json_flags(struct json *j, const char *key, unsigned flags)
{
	json_begin_array(j, key);
	for (unsigned i = 0; i < 32; i++) {
		unsigned bit = 1u << i;
		char     other[16];
		if ((flags & bit) == 0) {
			continue;
		}
		if (offstat_flag_name(bit) != NULL) {
			json_string(j, NULL, offstat_flag_name(bit));
		} else {
			snprintf(other, sizeof(other), "FLAG_%u", i + 1);
			json_string(j, NULL, other);
		}
	}
	json_end_array(j);
}

static void
json_period(struct json *j, const char *key, const offstat_period *p)
{
	json_begin_object(j, key);
	json_string(j, "text", p->text);
	json_uint(j, "year", p->year);
	json_uint(j, "quarter", p->quarter);
	json_string(j, "kind", fmt_period_kind(p->kind));
	json_end_object(j);
}

/* Populations of 0 mean unknown, which JSON says as null. */
static void
json_population(struct json *j, const char *key, uint64_t v)
{
	if (v == 0) {
		json_null(j, key);
	} else {
		json_uint(j, key, v);
	}
}

static void
json_area(struct json *j, const char *key, const offstat_area *a)
{
	const char *kind = offstat_area_kind_name(a->kind);

	json_begin_object(j, key);
	json_string(j, "code", a->code);
	json_string(j, "name", a->name);
	json_string(j, "kind", kind != NULL ? kind : "UNKNOWN");
	json_string(j, "parent_code", a->parent_code);
	json_string(j, "region_code", a->region_code);
	json_string(j, "country_code", a->country_code);
	json_strings(j, "aliases", a->aliases, a->n_aliases);
	json_population(j, "population", a->population);
	json_population(j, "population_under18", a->population_under18);
	json_string(j, "population_source", a->population_source);
	json_strings(j, "members", a->members, a->n_members);
	json_end_object(j);
}

static void
json_offence(struct json *j, const char *key, const offstat_offence *o)
{
	char label[16];

	json_begin_object(j, key);
	json_string(j, "code", o->code);
	json_string(j, "description", o->description);
	json_string(j, "group", o->group);
	json_string(j, "subgroup", o->subgroup);
	json_string(j, "note", o->note);
	json_begin_array(j, "breaks");
	for (size_t i = 0; i < o->n_breaks; i++) {
		fmt_period_year(label, sizeof(label), o->breaks[i].year);
		json_begin_object(j, NULL);
		json_uint(j, "year", o->breaks[i].year);
		json_string(j, "period", label);
		json_string(j, "note", o->breaks[i].note);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}

static void
json_source(struct json *j, const offstat_source *s)
{
	const char *kind = offstat_source_kind_name(s->kind);

	json_begin_object(j, NULL);
	json_string(j, "id", s->id);
	json_string(j, "title", s->title);
	json_string(j, "publisher", s->publisher);
	json_string(j, "published", s->published);
	json_string(j, "url", s->url);
	json_string(j, "kind", kind != NULL ? kind : "UNKNOWN");
	json_string(j, "note", s->note);
	json_end_object(j);
}

static void
json_sources(struct json *j, const offstat_source *s, size_t n)
{
	json_begin_array(j, "sources");
	for (size_t i = 0; i < n; i++) {
		json_source(j, &s[i]);
	}
	json_end_array(j);
}

static void
json_coverage(struct json *j, const char *key, const offstat_coverage *c)
{
	if (c->method == OFFSTAT_COVERAGE_NONE && c->members_expected == 0 &&
	    c->n_missing == 0) {
		json_null(j, key);
		return;
	}
	json_begin_object(j, key);
	json_string(j, "method", fmt_coverage_method(c->method));
	json_uint(j, "members_expected", c->members_expected);
	json_uint(j, "members_present", c->members_present);
	json_strings(j, "missing", c->missing, c->n_missing);
	json_end_object(j);
}

/* A rate, or null numbers with known false. */
static void
json_rate(struct json *j, const char *key, const offstat_rate *r)
{
	json_begin_object(j, key);
	json_bool(j, "known", r->known);
	if (r->known) {
		json_double(j, "per_100k", r->per_100k);
		json_double(j, "lower", r->lower);
		json_double(j, "upper", r->upper);
		json_uint(j, "population", r->population);
	} else {
		json_null(j, "per_100k");
		json_null(j, "lower");
		json_null(j, "upper");
		json_null(j, "population");
	}
	json_string(j, "population_source", r->population_source);
	json_end_object(j);
}

/* A test; its numbers are null when it is not known. An upper bound of
 * +infinity is null too (JSON has no infinity). */
static void
json_test(struct json *j, const char *key, const offstat_ratio_test *t)
{
	json_begin_object(j, key);
	json_bool(j, "known", t->known);
	if (t->known) {
		json_double(j, "estimate", t->estimate);
		json_double(j, "lower", t->lower);
		json_double(j, "upper", t->upper);
		json_double(j, "p_value", t->p_value);
	} else {
		json_null(j, "estimate");
		json_null(j, "lower");
		json_null(j, "upper");
		json_null(j, "p_value");
	}
	json_double(j, "confidence", t->confidence);
	json_string(j, "verdict", t->verdict);
	json_string(j, "note", t->note);
	json_end_object(j);
}

static void
json_value(struct json *j, const char *key, const offstat_value *v)
{
	json_begin_object(j, key);
	json_period(j, "period", &v->period);
	json_bool(j, "present", v->present);
	if (v->present) {
		json_uint(j, "count", v->count);
	} else {
		json_null(j, "count");
	}
	json_flags(j, "flags", v->flags);
	json_string(j, "source_id", v->source_id);
	json_string(j, "note", v->note);
	json_begin_array(j, "alternatives");
	for (size_t i = 0; i < v->n_alternatives; i++) {
		json_begin_object(j, NULL);
		json_uint(j, "count", v->alternatives[i].count);
		json_string(j, "source_id", v->alternatives[i].source_id);
		json_string(j, "note", v->alternatives[i].note);
		json_end_object(j);
	}
	json_end_array(j);
	json_coverage(j, "coverage", &v->coverage);
	json_begin_object(j, "rates");
	json_rate(j, "people", &v->rates.people);
	json_rate(j, "under18", &v->rates.under18);
	json_end_object(j);
	json_begin_array(j, "revisions");
	for (size_t i = 0; i < v->n_revisions; i++) {
		const offstat_revision *r = &v->revisions[i];
		json_begin_object(j, NULL);
		json_uint(j, "release", r->release);
		json_string(j, "release_label", r->release_label);
		json_string(j, "committed_at", r->committed_at);
		json_bool(j, "present", r->present);
		if (r->present) {
			json_uint(j, "count", r->count);
		} else {
			json_null(j, "count");
		}
		json_string(j, "source_id", r->source_id);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}

/* comparator: whether versus_subject means anything (else null). */
static void
json_trend(struct json *j, const char *key, const offstat_trend *t,
           bool comparator)
{
	json_begin_object(j, key);
	json_area(j, "area", &t->area);
	json_value(j, "base", &t->base);
	json_value(j, "end", &t->end);
	if (t->has_change) {
		json_int(j, "change", t->change);
	} else {
		json_null(j, "change");
	}
	if (t->has_percent) {
		json_double(j, "percent_change", t->percent_change);
	} else {
		json_null(j, "percent_change");
	}
	if (t->has_difference) {
		json_double(j, "difference_pp", t->difference_pp);
	} else {
		json_null(j, "difference_pp");
	}
	json_flags(j, "flags", t->flags);
	json_string(j, "note", t->note);
	json_coverage(j, "coverage", &t->coverage);
	json_begin_array(j, "published_changes");
	for (size_t i = 0; i < t->n_published; i++) {
		const offstat_published_change *p = &t->published[i];
		json_begin_object(j, NULL);
		json_period(j, "from", &p->from);
		json_period(j, "to", &p->to);
		json_double(j, "percent", p->percent);
		json_string(j, "source_id", p->source_id);
		json_string(j, "note", p->note);
		json_end_object(j);
	}
	json_end_array(j);
	json_test(j, "change_test", &t->change_test);
	if (comparator) {
		json_test(j, "versus_subject", &t->versus_subject);
	} else {
		json_null(j, "versus_subject");
	}
	json_end_object(j);
}

/* ---- CSV pieces --------------------------------------------------------- */

static void
csv_joined(struct csv *c, char *const *v, size_t n)
{
	struct buf b = {0};

	for (size_t i = 0; i < n; i++) {
		buf_printf(&b, "%s%s", i > 0 ? ";" : "", v[i]);
	}
	csv_field(c, buf_str(&b));
	buf_free(&b);
}

static void
csv_flags(struct csv *c, unsigned flags)
{
	struct buf b = {0};

	fmt_flags(&b, flags, ";");
	csv_field(c, buf_str(&b));
	buf_free(&b);
}

/* Four fields: the rate, its interval and its population; empty when
 * unknown. */
static void
csv_rate(struct csv *c, const offstat_rate *r)
{
	csv_double(c, r->known, r->per_100k);
	csv_double(c, r->known, r->lower);
	csv_double(c, r->known, r->upper);
	if (r->known) {
		csv_uint(c, r->population);
	} else {
		csv_field(c, "");
	}
}

/* Five fields: a test's estimate, interval, p-value and verdict. */
static void
csv_test(struct csv *c, const offstat_ratio_test *t)
{
	csv_double(c, t->known, t->estimate);
	csv_double(c, t->known, t->lower);
	csv_double(c, t->known, t->upper);
	csv_double(c, t->known, t->p_value);
	csv_field(c, t->verdict);
}

static void
csv_header(struct csv *c, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		csv_field(c, names[i]);
	}
	csv_end_row(c);
}

/* The columns every value row of count and series has. */
static const char *const value_columns[] = {"area_code",
                                            "area_name",
                                            "offence_code",
                                            "period",
                                            "year",
                                            "quarter",
                                            "present",
                                            "count",
                                            "flags",
                                            "source_id",
                                            "source_title",
                                            "note",
                                            "alternatives",
                                            "coverage_method",
                                            "members_expected",
                                            "members_present",
                                            "missing",
                                            "rate_per_100k",
                                            "rate_lower",
                                            "rate_upper",
                                            "population",
                                            "rate_under18_per_100k",
                                            "rate_under18_lower",
                                            "rate_under18_upper",
                                            "population_under18",
                                            "revisions"};

static void
csv_value(struct csv *c, const offstat_area *area,
          const offstat_offence *offence, const offstat_value *v,
          const offstat_source *sources, size_t n_sources)
{
	const offstat_source *src =
	        find_source(sources, n_sources, v->source_id);
	struct buf alt = {0};

	csv_field(c, area->code);
	csv_field(c, area->name);
	csv_field(c, offence->code);
	csv_field(c, v->period.text);
	csv_uint(c, v->period.year);
	csv_uint(c, v->period.quarter);
	csv_field(c, v->present ? "true" : "false");
	if (v->present) {
		csv_uint(c, v->count);
	} else {
		csv_field(c, "");
	}
	csv_flags(c, v->flags);
	csv_field(c, v->source_id);
	csv_field(c, src != NULL ? src->title : "");
	csv_field(c, v->note);
	for (size_t i = 0; i < v->n_alternatives; i++) {
		buf_printf(&alt, "%s%" PRIu64 " %s", i > 0 ? ";" : "",
		           v->alternatives[i].count,
		           v->alternatives[i].source_id);
	}
	csv_field(c, buf_str(&alt));
	csv_field(c, v->coverage.method != OFFSTAT_COVERAGE_NONE
	                     ? fmt_coverage_method(v->coverage.method)
	                     : "");
	csv_uint(c, v->coverage.members_expected);
	csv_uint(c, v->coverage.members_present);
	csv_joined(c, v->coverage.missing, v->coverage.n_missing);
	csv_rate(c, &v->rates.people);
	csv_rate(c, &v->rates.under18);
	/* Oldest first, "release:count", "-" for no figure. */
	buf_reset(&alt);
	for (size_t i = 0; i < v->n_revisions; i++) {
		const offstat_revision *r = &v->revisions[i];
		buf_printf(&alt, "%s%" PRIu64 ":", i > 0 ? ";" : "",
		           r->release);
		if (r->present) {
			buf_printf(&alt, "%" PRIu64, r->count);
		} else {
			buf_add(&alt, "-");
		}
	}
	csv_field(c, buf_str(&alt));
	buf_free(&alt);
	csv_end_row(c);
}

/* ---- Value tables (count and series) ------------------------------------ */

/* "1.10 to 2.59": an interval, with two decimals. */
static void
interval_text(char *out, size_t n, double lower, double upper)
{
	char lo[32];
	char up[32];

	fmt_fixed(lo, sizeof(lo), lower, 2);
	fmt_fixed(up, sizeof(up), upper, 2);
	snprintf(out, n, "%s to %s", lo, up);
}

/* Two cells: a rate per 100,000 and its interval, or "-" and "". */
static void
rate_cells(struct table *t, const offstat_rate *r)
{
	char text[80];

	if (!r->known) {
		table_cell(t, "-");
		table_cell(t, "");
		return;
	}
	fmt_fixed(text, sizeof(text), r->per_100k, 2);
	table_cell(t, text);
	interval_text(text, sizeof(text), r->lower, r->upper);
	table_cell(t, text);
}

void
out_heading(FILE *f, const offstat_area *a, const offstat_offence *o,
            const char *extra)
{
	fprintf(f, "%s (%s), %s: %s%s\n\n", a->name, a->code, o->code,
	        o->description, extra != NULL ? extra : "");
}

/* Rows of period, count, flags, source, coverage (when any value has
 * one) and a note reference; the notes and the source legend follow. */
/* "64 (release 3) ← 60 (release 2)": newest first, as a reader asks
 * "what is it now, and what was it before". */
static void
revisions_cell(struct buf *b, const offstat_value *v)
{
	for (size_t i = v->n_revisions; i-- > 0;) {
		const offstat_revision *r = &v->revisions[i];
		if (i + 1 < v->n_revisions) {
			buf_add(b, " \xe2\x86\x90 ");
		}
		if (r->present) {
			buf_printf(b, "%" PRIu64, r->count);
		} else {
			buf_add(b, "no figure");
		}
		buf_printf(b, " (release %" PRIu64 ")", r->release);
	}
}

static int
print_values(FILE *f, const offstat_value *v, size_t n,
             const offstat_offence *offence, const offstat_source *sources,
             size_t n_sources, bool history)
{
	const char   *cols[9];
	size_t        ncols = 0;
	struct notes  ns    = {{0}, 0, false};
	struct buf    b     = {0};
	bool          cov   = false;
	bool          rates = false;
	struct table *t;
	int           rv = 0;

	for (size_t i = 0; i < n; i++) {
		cov   = cov || v[i].coverage.method != OFFSTAT_COVERAGE_NONE;
		rates = rates || v[i].rates.people.known;
	}
	cols[ncols++] = "PERIOD";
	cols[ncols++] = "COUNT";
	if (rates) {
		cols[ncols++] = "RATE";
		cols[ncols++] = "95% INTERVAL";
	}
	cols[ncols++] = "FLAGS";
	cols[ncols++] = "SOURCE";
	if (cov) {
		cols[ncols++] = "COVERAGE";
	}
	if (history) {
		cols[ncols++] = "REVISIONS";
	}
	cols[ncols++] = "NOTE";
	if ((t = table_new(ncols, cols)) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	table_right(t, 1);
	if (rates) {
		table_right(t, 2);
	}
	for (size_t i = 0; i < n; i++) {
		int note = value_notes(&ns, &v[i], NULL);
		table_row(t);
		table_cell(t, v[i].period.text);
		if (v[i].present) {
			table_cellf(t, "%" PRIu64, v[i].count);
		} else {
			table_cell(t, "-");
		}
		if (rates) {
			rate_cells(t, &v[i].rates.people);
		}
		buf_reset(&b);
		fmt_flags(&b, v[i].flags, ",");
		table_cell(t, buf_str(&b));
		table_cell(t, v[i].source_id[0] != '\0' ? v[i].source_id
		              : v[i].coverage.method == OFFSTAT_COVERAGE_SUM
		                      ? "(sum)"
		                      : "");
		if (cov) {
			buf_reset(&b);
			coverage_cell(&b, &v[i].coverage);
			table_cell(t, buf_str(&b));
		}
		if (history) {
			buf_reset(&b);
			revisions_cell(&b, &v[i]);
			table_cell(t, buf_str(&b));
		}
		if (note > 0) {
			table_cellf(t, "[%d]", note);
		} else {
			table_cell(t, "");
		}
	}
	/* Definition changes inside the range, or flagged on a point. */
	for (size_t i = 0; i < offence->n_breaks; i++) {
		const offstat_series_break *br      = &offence->breaks[i];
		bool                        flagged = false;
		bool inside = n > 1 && br->year > v[0].period.year &&
		              br->year <= v[n - 1].period.year;
		char label[16];
		for (size_t k = 0; k < n; k++) {
			flagged = flagged || (v[k].flags &
			                      OFFSTAT_FLAG_SERIES_BREAK) != 0;
		}
		if (inside || flagged) {
			fmt_period_year(label, sizeof(label), br->year);
			note_begin(&ns);
			note_line(&ns, "series break from %s: %s", label,
			          br->note);
		}
	}
	table_print(t, f);
	if (rates) {
		fputs("\nRATE: per 100,000 people (mid-2020 population), with "
		      "its exact Poisson\ninterval.\n",
		      f);
	}
	if (history) {
		fputs("\nREVISIONS: the figure as each release that changed "
		      "it left it, newest\nfirst, up to the release "
		      "answering.\n",
		      f);
	}
	print_notes(f, &ns);
	out_legend(f, sources, n_sources);
	if (table_failed(t) || ns.text.failed || b.failed) {
		rv = OFFSTAT_ENOMEM;
	}
	table_free(t);
	buf_free(&ns.text);
	buf_free(&b);
	return (rv);
}

/* "37 in 2017/18", or "no figure for 2017/18". */
static void
value_phrase(struct buf *b, const offstat_value *v)
{
	if (v->present) {
		buf_printf(b, "%" PRIu64 " in %s", v->count, v->period.text);
	} else {
		buf_printf(b, "no figure for %s", v->period.text);
	}
}

/* "Dorset: 37 in 2017/18 → 62 in 2020/21, +25 (+67.6%)" */
static void
headline(struct buf *b, const offstat_trend *t)
{
	buf_printf(b, "%s: ", t->area.name);
	value_phrase(b, &t->base);
	buf_add(b, " \xe2\x86\x92 ");
	value_phrase(b, &t->end);
	if (t->has_change) {
		buf_printf(b, ", %+" PRId64, t->change);
		if (t->has_percent) {
			buf_printf(b, " (%+.1f%%)", t->percent_change);
		}
	} else if (t->base.present && t->end.present) {
		buf_add(b, " (not comparable)");
	}
}

static void
published_phrase(struct buf *b, const offstat_published_change *p)
{
	buf_printf(b, "%+.1f%% (%s to %s, %s)", p->percent, p->from.text,
	           p->to.text, p->source_id);
}

/* The notes of one row of the comparison. Returns its number, or 0. */
static int
trend_notes(struct notes *ns, const offstat_trend *t)
{
	const offstat_coverage *cov = &t->coverage;
	struct buf              b   = {0};
	char                    base_prefix[64];
	char                    end_prefix[64];
	/* What a test compared, when it ran: "Dorset's change against the
	 * rest of the South West (180 to 154)". */
	bool tested =
	        t->versus_subject.known && t->versus_subject.note[0] != '\0';
	bool any = tested || t->note[0] != '\0' || t->n_published > 0 ||
	           cov->n_missing > 0 || t->base.note[0] != '\0' ||
	           t->end.note[0] != '\0' || t->base.n_alternatives > 0 ||
	           t->end.n_alternatives > 0 ||
	           (cov->method == OFFSTAT_COVERAGE_NONE &&
	            (t->base.coverage.n_missing > 0 ||
	             t->end.coverage.n_missing > 0));

	if (!any) {
		return (0);
	}
	note_begin(ns);
	note_line(ns, "%s:%s%s", t->area.name, t->note[0] != '\0' ? " " : "",
	          t->note);
	if (tested) {
		note_line(ns, "tested: %s", t->versus_subject.note);
	}
	for (size_t i = 0; i < t->n_published; i++) {
		buf_reset(&b);
		published_phrase(&b, &t->published[i]);
		note_line(ns, "published change %s%s%s", buf_str(&b),
		          t->published[i].note[0] != '\0' ? ": " : "",
		          t->published[i].note);
	}
	if (cov->n_missing > 0) {
		buf_reset(&b);
		missing_text(&b, cov->missing, cov->n_missing);
		note_line(ns, "like for like: missing %zu of %u members: %s",
		          cov->n_missing, cov->members_expected, buf_str(&b));
	}
	snprintf(base_prefix, sizeof(base_prefix),
	         "%s: ", t->base.period.text);
	snprintf(end_prefix, sizeof(end_prefix), "%s: ", t->end.period.text);
	if (cov->method != OFFSTAT_COVERAGE_NONE) {
		/* The trend's own coverage says it; the values' would repeat
		 * it. */
		offstat_value base      = t->base;
		offstat_value end       = t->end;
		base.coverage.n_missing = 0;
		end.coverage.n_missing  = 0;
		value_notes(ns, &base, base_prefix);
		value_notes(ns, &end, end_prefix);
	} else {
		value_notes(ns, &t->base, base_prefix);
		value_notes(ns, &t->end, end_prefix);
	}
	buf_free(&b);
	return (ns->count);
}

/* A value's rate per 100,000 people, or "-". */
static void
rate_cell(struct table *t, const offstat_value *v)
{
	char text[32];

	if (!v->rates.people.known) {
		table_cell(t, "-");
		return;
	}
	fmt_fixed(text, sizeof(text), v->rates.people.per_100k, 2);
	table_cell(t, text);
}

/* Four cells of a test: estimate, interval, p-value, verdict; "-" and
 * "not tested" when it could not be computed. */
static void
test_cells(struct table *t, const offstat_ratio_test *test)
{
	char text[80];

	if (!test->known) {
		table_cell(t, "-");
		table_cell(t, "");
		table_cell(t, "");
		table_cell(t, "not tested");
		return;
	}
	fmt_fixed(text, sizeof(text), test->estimate, 2);
	table_cell(t, text);
	interval_text(text, sizeof(text), test->lower, test->upper);
	table_cell(t, text);
	fmt_p_value(text, sizeof(text), test->p_value);
	table_cell(t, text);
	table_cell(t, test->verdict);
}

/* A row of the tests table: the area's change, and for a comparator the
 * subject's change against the rest of it. */
static void
test_row(struct table *t, const offstat_trend *tr, bool subject)
{
	table_row(t);
	table_cell(t, tr->area.name);
	test_cells(t, &tr->change_test);
	if (!subject) {
		test_cells(t, &tr->versus_subject);
	}
}

static void
trend_row(struct table *t, struct notes *ns, const offstat_trend *tr,
          bool subject)
{
	struct buf b = {0};
	int        note;

	note = trend_notes(ns, tr);
	table_row(t);
	table_cell(t, tr->area.name);
	if (tr->base.present) {
		table_cellf(t, "%" PRIu64, tr->base.count);
	} else {
		table_cell(t, "-");
	}
	if (tr->end.present) {
		table_cellf(t, "%" PRIu64, tr->end.count);
	} else {
		table_cell(t, "-");
	}
	if (tr->has_change) {
		table_cellf(t, tr->change == 0 ? "%" PRId64 : "%+" PRId64,
		            tr->change);
	} else {
		table_cell(t, "");
	}
	if (tr->has_percent) {
		table_cellf(t, "%+.1f%%", tr->percent_change);
	} else if (tr->n_published == 1) {
		/* Parenthesised: published, not computed from counts. */
		table_cellf(t, "(%+.1f%%)", tr->published[0].percent);
	} else {
		table_cell(t, "");
	}
	if (subject) {
		table_cell(t, "");
	} else if (tr->has_difference) {
		table_cellf(t, "%+.1f", tr->difference_pp);
	} else {
		table_cell(t, "");
	}
	rate_cell(t, &tr->base);
	rate_cell(t, &tr->end);
	coverage_cell(&b, &tr->coverage);
	if (b.len == 0) {
		coverage_cell(&b, &tr->base.coverage);
	}
	if (b.len == 0) {
		coverage_cell(&b, &tr->end.coverage);
	}
	table_cell(t, buf_str(&b));
	buf_reset(&b);
	fmt_flags(&b, tr->flags | tr->base.flags | tr->end.flags, ",");
	table_cell(t, buf_str(&b));
	buf_reset(&b);
	if (tr->base.source_id[0] != '\0') {
		buf_add(&b, tr->base.source_id);
	}
	if (tr->end.source_id[0] != '\0' &&
	    strcmp(tr->end.source_id, tr->base.source_id) != 0) {
		buf_printf(&b, "%s%s", b.len > 0 ? "," : "",
		           tr->end.source_id);
	}
	for (size_t i = 0; i < tr->n_published; i++) {
		if (strstr(buf_str(&b), tr->published[i].source_id) == NULL) {
			buf_printf(&b, "%s%s", b.len > 0 ? "," : "",
			           tr->published[i].source_id);
		}
	}
	if (b.len == 0 && (tr->base.present || tr->end.present)) {
		buf_add(&b, "(sum)");
	}
	table_cell(t, buf_str(&b));
	if (note > 0) {
		table_cellf(t, "[%d]", note);
	} else {
		table_cell(t, "");
	}
	buf_free(&b);
}

static void
csv_trend(struct csv *c, const char *role, const offstat_trend *t)
{
	struct buf b = {0};

	csv_field(c, role);
	csv_field(c, t->area.code);
	csv_field(c, t->area.name);
	csv_field(c, t->base.period.text);
	if (t->base.present) {
		csv_uint(c, t->base.count);
	} else {
		csv_field(c, "");
	}
	csv_flags(c, t->base.flags);
	csv_field(c, t->base.source_id);
	csv_field(c, t->end.period.text);
	if (t->end.present) {
		csv_uint(c, t->end.count);
	} else {
		csv_field(c, "");
	}
	csv_flags(c, t->end.flags);
	csv_field(c, t->end.source_id);
	if (t->has_change) {
		char text[24];
		snprintf(text, sizeof(text), "%" PRId64, t->change);
		csv_field(c, text);
	} else {
		csv_field(c, "");
	}
	csv_double(c, t->has_percent, t->percent_change);
	csv_double(c, t->has_difference, t->difference_pp);
	csv_flags(c, t->flags);
	csv_field(c, t->coverage.method != OFFSTAT_COVERAGE_NONE
	                     ? fmt_coverage_method(t->coverage.method)
	                     : "");
	csv_uint(c, t->coverage.members_expected);
	csv_uint(c, t->coverage.members_present);
	csv_joined(c, t->coverage.missing, t->coverage.n_missing);
	for (size_t i = 0; i < t->n_published; i++) {
		char pct[32];
		fmt_double(pct, sizeof(pct), t->published[i].percent);
		buf_printf(&b, "%s%s %s %s %s", i > 0 ? ";" : "", pct,
		           t->published[i].from.text, t->published[i].to.text,
		           t->published[i].source_id);
	}
	csv_field(c, buf_str(&b));
	csv_field(c, t->note);
	csv_rate(c, &t->base.rates.people);
	csv_rate(c, &t->end.rates.people);
	csv_rate(c, &t->base.rates.under18);
	csv_rate(c, &t->end.rates.under18);
	csv_test(c, &t->change_test);
	csv_test(c, &t->versus_subject);
	csv_double(c, true, t->change_test.confidence);
	csv_end_row(c);
	buf_free(&b);
}

static void
iso_time(char *out, size_t n, uint64_t secs)
{
	time_t    t = (time_t)secs;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(out, n, "%" PRIu64, secs);
	}
}

/* ---- The result writers ------------------------------------------------ */

int
out_info(enum cli_format format, const char *url,
         const offstat_server_info *info)
{
	int  rv = 0;
	char started[32];

	iso_time(started, sizeof(started), info->started_at);

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "url", url);
		json_string(&j, "version", info->version);
		json_string(&j, "api", info->api);
		json_string(&j, "release", info->release);
		json_string(&j, "release_loaded_at", info->release_loaded_at);
		json_uint(&j, "areas", info->areas);
		json_uint(&j, "offences", info->offences);
		json_uint(&j, "sources", info->sources);
		json_uint(&j, "counts", info->counts);
		json_uint(&j, "started_at", info->started_at);
		json_uint(&j, "uptime_seconds", info->uptime_seconds);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {
		        "url",        "version",           "api",
		        "release",    "release_loaded_at", "areas",
		        "offences",   "sources",           "counts",
		        "started_at", "uptime_seconds"};
		struct csv c;
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		csv_field(&c, url);
		csv_field(&c, info->version);
		csv_field(&c, info->api);
		csv_field(&c, info->release);
		csv_field(&c, info->release_loaded_at);
		csv_uint(&c, info->areas);
		csv_uint(&c, info->offences);
		csv_uint(&c, info->sources);
		csv_uint(&c, info->counts);
		csv_uint(&c, info->started_at);
		csv_uint(&c, info->uptime_seconds);
		csv_end_row(&c);
	} else {
		printf("Service    %s\n", url);
		printf("Version    offstatd %s, API %s\n", info->version,
		       info->api);
		printf("Release    %s", info->release);
		if (info->release_loaded_at[0] != '\0') {
			printf(", loaded %s", info->release_loaded_at);
		}
		printf("\nCatalogue  %" PRIu64 " areas, %" PRIu64
		       " offences, %" PRIu64 " sources, %" PRIu64 " figures\n",
		       info->areas, info->offences, info->sources,
		       info->counts);
		printf("Started    %s (up %" PRIu64 " s)\n", started,
		       info->uptime_seconds);
	}
	return (rv);
}

int
out_areas(enum cli_format format, const offstat_area_list *list)
{
	int rv = 0;

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_uint(&j, "total", list->total);
		json_string(&j, "release", list->release);
		json_begin_array(&j, "areas");
		for (size_t i = 0; i < list->n_areas; i++) {
			json_area(&j, NULL, &list->areas[i]);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {"code",
		                                   "name",
		                                   "kind",
		                                   "parent_code",
		                                   "region_code",
		                                   "country_code",
		                                   "population",
		                                   "population_under18",
		                                   "population_source",
		                                   "aliases",
		                                   "members"};
		struct csv               c;
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		for (size_t i = 0; i < list->n_areas; i++) {
			const offstat_area *a = &list->areas[i];
			const char *name = offstat_area_kind_name(a->kind);
			csv_field(&c, a->code);
			csv_field(&c, a->name);
			csv_field(&c, name != NULL ? name : "UNKNOWN");
			csv_field(&c, a->parent_code);
			csv_field(&c, a->region_code);
			csv_field(&c, a->country_code);
			if (a->population > 0) {
				csv_uint(&c, a->population);
			} else {
				csv_field(&c, "");
			}
			if (a->population_under18 > 0) {
				csv_uint(&c, a->population_under18);
			} else {
				csv_field(&c, "");
			}
			csv_field(&c, a->population_source);
			csv_joined(&c, a->aliases, a->n_aliases);
			csv_joined(&c, a->members, a->n_members);
			csv_end_row(&c);
		}
	} else {
		static const char *const cols[] = {"CODE",       "NAME",
		                                   "KIND",       "PARENT",
		                                   "POPULATION", "UNDER 18"};
		struct table            *t      = table_new(6, cols);
		char                     kind_text[16];
		if (t == NULL) {
			return (OFFSTAT_ENOMEM);
		}
		table_right(t, 4);
		table_right(t, 5);
		for (size_t i = 0; i < list->n_areas; i++) {
			const offstat_area *a = &list->areas[i];
			table_row(t);
			table_cell(t, a->code);
			table_cell(t, a->name);
			table_cell(t, kind_lower(a->kind, kind_text,
			                         sizeof(kind_text)));
			table_cell(t, a->parent_code);
			if (a->population > 0) {
				table_cellf(t, "%" PRIu64, a->population);
			} else {
				table_cell(t, "-");
			}
			if (a->population_under18 > 0) {
				table_cellf(t, "%" PRIu64,
				            a->population_under18);
			} else {
				table_cell(t, "-");
			}
		}
		table_print(t, stdout);
		printf("\n%zu area%s\n", list->n_areas,
		       list->n_areas == 1 ? "" : "s");
		if (table_failed(t)) {
			rv = OFFSTAT_ENOMEM;
		}
		table_free(t);
	}
	return (rv);
}

int
out_offences(enum cli_format format, const offstat_offence_list *list)
{
	char label[16];
	int  rv = 0;

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_uint(&j, "total", list->total);
		json_string(&j, "release", list->release);
		json_begin_array(&j, "offences");
		for (size_t i = 0; i < list->n_offences; i++) {
			json_offence(&j, NULL, &list->offences[i]);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {"code",  "description",
		                                   "group", "subgroup",
		                                   "note",  "series_breaks"};
		struct csv               c;
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		for (size_t i = 0; i < list->n_offences; i++) {
			const offstat_offence *o = &list->offences[i];
			struct buf             b = {0};
			csv_field(&c, o->code);
			csv_field(&c, o->description);
			csv_field(&c, o->group);
			csv_field(&c, o->subgroup);
			csv_field(&c, o->note);
			for (size_t k = 0; k < o->n_breaks; k++) {
				fmt_period_year(label, sizeof(label),
				                o->breaks[k].year);
				buf_printf(&b, "%s%s", k > 0 ? ";" : "",
				           label);
			}
			csv_field(&c, buf_str(&b));
			buf_free(&b);
			csv_end_row(&c);
		}
	} else {
		static const char *const cols[] = {
		        "CODE", "DESCRIPTION", "GROUP", "SUBGROUP", "BREAK"};
		struct table *t = table_new(5, cols);
		if (t == NULL) {
			return (OFFSTAT_ENOMEM);
		}
		for (size_t i = 0; i < list->n_offences; i++) {
			const offstat_offence *o = &list->offences[i];
			table_row(t);
			table_cell(t, o->code);
			table_cell(t, o->description);
			table_cell(t, o->group);
			table_cell(t, o->subgroup);
			if (o->n_breaks > 0) {
				fmt_period_year(label, sizeof(label),
				                o->breaks[0].year);
				table_cellf(t, "%s%s", label,
				            o->n_breaks > 1 ? ", ..." : "");
			} else {
				table_cell(t, "");
			}
		}
		table_print(t, stdout);
		printf("\n%zu offence%s", list->n_offences,
		       list->n_offences == 1 ? "" : "s");
		printf("%s\n", list->n_offences > 0
		                       ? "; BREAK: first year of a new "
		                         "definition, not "
		                         "comparable with earlier ones"
		                       : "");
		if (table_failed(t)) {
			rv = OFFSTAT_ENOMEM;
		}
		table_free(t);
	}
	return (rv);
}

int
out_sources(enum cli_format format, const offstat_source_list *list)
{
	int rv = 0;

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_uint(&j, "total", list->total);
		json_string(&j, "release", list->release);
		json_sources(&j, list->sources, list->n_sources);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {
		        "id",  "title", "publisher", "published",
		        "url", "kind",  "note"};
		struct csv c;
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		for (size_t i = 0; i < list->n_sources; i++) {
			const offstat_source *s = &list->sources[i];
			const char *kind = offstat_source_kind_name(s->kind);
			csv_field(&c, s->id);
			csv_field(&c, s->title);
			csv_field(&c, s->publisher);
			csv_field(&c, s->published);
			csv_field(&c, s->url);
			csv_field(&c, kind != NULL ? kind : "UNKNOWN");
			csv_field(&c, s->note);
			csv_end_row(&c);
		}
	} else {
		static const char *const cols[] = {"ID", "KIND", "PUBLISHED",
		                                   "TITLE"};
		struct table            *t      = table_new(4, cols);
		char                     kind[16];
		if (t == NULL) {
			return (OFFSTAT_ENOMEM);
		}
		for (size_t i = 0; i < list->n_sources; i++) {
			const offstat_source *s = &list->sources[i];
			const char *name = offstat_source_kind_name(s->kind);
			snprintf(kind, sizeof(kind), "%s",
			         name != NULL ? name : "?");
			for (char *p = kind; *p != '\0'; p++) {
				*p = *p == '_' ? ' '
				     : (*p >= 'A' && *p <= 'Z')
				             ? (char)(*p - 'A' + 'a')
				             : *p;
			}
			table_row(t);
			table_cell(t, s->id);
			table_cell(t, kind);
			table_cell(t, s->published);
			table_cell(t, s->title);
		}
		table_print(t, stdout);
		printf("\n%zu source%s\n", list->n_sources,
		       list->n_sources == 1 ? "" : "s");
		if (table_failed(t)) {
			rv = OFFSTAT_ENOMEM;
		}
		table_free(t);
	}
	return (rv);
}

int
out_count(enum cli_format format, const offstat_count *r)
{
	int rv = 0;

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_area(&j, "area", &r->area);
		json_offence(&j, "offence", &r->offence);
		json_value(&j, "value", &r->value);
		json_sources(&j, r->sources, r->n_sources);
		json_string(&j, "release", r->release);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		struct csv c;
		csv_init(&c, stdout);
		csv_header(&c, value_columns,
		           sizeof(value_columns) / sizeof(value_columns[0]));
		csv_value(&c, &r->area, &r->offence, &r->value, r->sources,
		          r->n_sources);
	} else {
		out_heading(stdout, &r->area, &r->offence, NULL);
		rv = print_values(stdout, &r->value, 1, &r->offence,
		                  r->sources, r->n_sources, false);
		out_release(stdout, r->release);
	}
	return (rv);
}

int
out_series(enum cli_format format, const offstat_series *r, bool quarterly,
           bool history)
{
	int rv = 0;

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_area(&j, "area", &r->area);
		json_offence(&j, "offence", &r->offence);
		json_string(&j, "granularity",
		            quarterly ? "QUARTERLY" : "YEARLY");
		json_begin_array(&j, "points");
		for (size_t i = 0; i < r->n_points; i++) {
			json_value(&j, NULL, &r->points[i]);
		}
		json_end_array(&j);
		json_sources(&j, r->sources, r->n_sources);
		json_string(&j, "release", r->release);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		struct csv c;
		csv_init(&c, stdout);
		csv_header(&c, value_columns,
		           sizeof(value_columns) / sizeof(value_columns[0]));
		for (size_t i = 0; i < r->n_points; i++) {
			csv_value(&c, &r->area, &r->offence, &r->points[i],
			          r->sources, r->n_sources);
		}
	} else {
		struct buf extra = {0};
		buf_add(&extra, quarterly ? ", quarterly" : ", yearly");
		if (r->n_points > 0) {
			buf_printf(&extra, ", %s to %s",
			           r->points[0].period.text,
			           r->points[r->n_points - 1].period.text);
		}
		out_heading(stdout, &r->area, &r->offence, buf_str(&extra));
		buf_free(&extra);
		if (r->n_points == 0) {
			printf("No periods in this range.\n");
		} else {
			rv = print_values(stdout, r->points, r->n_points,
			                  &r->offence, r->sources,
			                  r->n_sources, history);
		}
		out_release(stdout, r->release);
	}
	return (rv);
}

/* Writes text wrapped at 79 columns, each line after the first indented
 * by indent spaces. */
void
out_para(FILE *f, const char *text, int indent)
{
	int  col   = 0;
	bool first = true; /* No word on this line yet. */

	while (*text != '\0') {
		int len = (int)strcspn(text, " ");
		int w   = (int)text_width_n(text, (size_t)len);
		if (!first && col + 1 + w > 79) {
			fprintf(f, "\n%*s", indent, "");
			col   = indent;
			first = true;
		}
		if (!first) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", len, text);
		col += w;
		first = false;
		text += len;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

/* "DORSET'S CHANGE WAS": the header of the subject-against-comparator
 * verdict. */
static void
versus_header(struct buf *b, const char *name)
{
	size_t start = b->len;

	buf_printf(b, "%s%s CHANGE WAS", name,
	           name[0] != '\0' && name[strlen(name) - 1] == 's' ? "'"
	                                                            : "'s");
	for (size_t i = start; !b->failed && i < b->len; i++) {
		if (b->s[i] >= 'a' && b->s[i] <= 'z') {
			b->s[i] = (char)(b->s[i] - 'a' + 'A');
		}
	}
}

/*
 * The comparison for people: the service's summary sentence, the subject's
 * change in figures, a table of counts and rates, a table of the exact
 * tests with their verdicts, then notes, sources and release.
 */
static int
print_comparison(FILE *f, const offstat_comparison *r)
{
	const offstat_trend *s    = &r->subject;
	struct buf           head = {0};
	struct buf           text = {0};
	struct notes         ns   = {{0}, 0, false};
	struct table        *t;
	struct table        *tt;
	char                 level[16];
	char                 interval[32];
	char                 base_rate[64];
	char                 end_rate[64];
	const char          *cols[12];
	const char          *tcols[9];
	bool                 versus = false;
	int                  rv     = 0;

	fmt_level(level, sizeof(level), r->confidence);
	snprintf(interval, sizeof(interval), "%s INTERVAL", level);
	if (r->summary[0] != '\0') {
		fprintf(f, "%s\n", r->summary);
	}
	headline(&head, s);
	fprintf(f, "%s\n\n", buf_str(&head));

	snprintf(base_rate, sizeof(base_rate), "RATE %s", s->base.period.text);
	snprintf(end_rate, sizeof(end_rate), "RATE %s", s->end.period.text);
	cols[0]  = "AREA";
	cols[1]  = s->base.period.text;
	cols[2]  = s->end.period.text;
	cols[3]  = "CHANGE";
	cols[4]  = "% CHANGE";
	cols[5]  = "DIFF (PP)";
	cols[6]  = base_rate;
	cols[7]  = end_rate;
	cols[8]  = "COVERAGE";
	cols[9]  = "FLAGS";
	cols[10] = "SOURCES";
	cols[11] = "NOTE";
	versus_header(&text, s->area.name);
	tcols[0] = "AREA";
	tcols[1] = "RATE RATIO";
	tcols[2] = interval;
	tcols[3] = "P-VALUE";
	tcols[4] = "CHANGE";
	tcols[5] = "RATIO VS REST";
	tcols[6] = interval;
	tcols[7] = "P-VALUE";
	tcols[8] = buf_str(&text);
	if ((t = table_new(12, cols)) == NULL ||
	    (tt = table_new(9, tcols)) == NULL) {
		table_free(t);
		buf_free(&head);
		buf_free(&text);
		return (OFFSTAT_ENOMEM);
	}
	for (size_t i = 1; i <= 7; i++) {
		table_right(t, i);
	}
	table_right(tt, 1);
	table_right(tt, 3);
	table_right(tt, 5);
	table_right(tt, 7);

	trend_row(t, &ns, s, true);
	test_row(tt, s, true);
	for (size_t i = 0; i < r->n_comparators; i++) {
		const offstat_trend *c = &r->comparators[i];
		trend_row(t, &ns, c, false);
		test_row(tt, c, false);
		versus = versus || c->versus_subject.known;
	}
	table_print(t, f);
	buf_reset(&head);
	buf_printf(&head,
	           "DIFF (PP): %s's %% change minus the comparator's, in "
	           "percentage points. RATE: per 100,000 people (mid-2020 "
	           "population); -: no figure or no population.",
	           s->area.name);
	for (size_t i = 0; i < r->n_comparators; i++) {
		const offstat_trend *c = &r->comparators[i];
		if (!c->has_percent && c->n_published == 1) {
			buf_printf(
			        &head,
			        " (%+.1f%%): a change published without the "
			        "counts behind it.",
			        c->published[0].percent);
			break;
		}
	}
	fputc('\n', f);
	out_para(f, buf_str(&head), 0);

	fprintf(f, "\nExact tests at %s confidence:\n\n", level);
	table_print(tt, f);
	buf_reset(&head);
	buf_printf(&head,
	           "RATE RATIO: the rate in %s over the rate in %s, with its "
	           "exact interval; P-VALUE: the chance of a change at least "
	           "this large if the underlying rate had not changed; "
	           "CHANGE: rose, fell or no distinguishable change.",
	           s->end.period.text, s->base.period.text);
	if (r->n_comparators > 0) {
		buf_printf(&head,
		           " %s: %s's ratio against that of the rest of each "
		           "comparator (the comparator without %s), by "
		           "Fisher's exact test; RATIO VS REST above 1: %s's "
		           "change "
		           "was the higher.",
		           buf_str(&text), s->area.name, s->area.name,
		           s->area.name);
	}
	if (!versus && r->n_comparators > 0) {
		buf_add(&head, " No comparator has figures to test against.");
	}
	fputc('\n', f);
	out_para(f, buf_str(&head), 0);

	print_notes(f, &ns);
	out_legend(f, r->sources, r->n_sources);
	out_release(f, r->release);
	if (table_failed(t) || table_failed(tt) || ns.text.failed ||
	    head.failed || text.failed) {
		rv = OFFSTAT_ENOMEM;
	}
	table_free(t);
	table_free(tt);
	buf_free(&ns.text);
	buf_free(&head);
	buf_free(&text);
	return (rv);
}

int
out_comparison(enum cli_format format, const offstat_comparison *r)
{
	int rv = 0;

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_offence(&j, "offence", &r->offence);
		json_string(&j, "summary", r->summary);
		json_double(&j, "confidence", r->confidence);
		json_trend(&j, "subject", &r->subject, false);
		json_begin_array(&j, "comparators");
		for (size_t i = 0; i < r->n_comparators; i++) {
			json_trend(&j, NULL, &r->comparators[i], true);
		}
		json_end_array(&j);
		json_sources(&j, r->sources, r->n_sources);
		json_string(&j, "release", r->release);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {
		        "role",
		        "area_code",
		        "area_name",
		        "base_period",
		        "base_count",
		        "base_flags",
		        "base_source",
		        "end_period",
		        "end_count",
		        "end_flags",
		        "end_source",
		        "change",
		        "percent_change",
		        "difference_pp",
		        "flags",
		        "coverage_method",
		        "members_expected",
		        "members_present",
		        "missing",
		        "published_changes",
		        "note",
		        "base_rate_per_100k",
		        "base_rate_lower",
		        "base_rate_upper",
		        "base_population",
		        "end_rate_per_100k",
		        "end_rate_lower",
		        "end_rate_upper",
		        "end_population",
		        "base_rate_under18_per_100k",
		        "base_rate_under18_lower",
		        "base_rate_under18_upper",
		        "base_population_under18",
		        "end_rate_under18_per_100k",
		        "end_rate_under18_lower",
		        "end_rate_under18_upper",
		        "end_population_under18",
		        "rate_ratio",
		        "rate_ratio_lower",
		        "rate_ratio_upper",
		        "p_value",
		        "verdict",
		        "versus_subject_ratio",
		        "versus_subject_lower",
		        "versus_subject_upper",
		        "versus_subject_p_value",
		        "versus_subject_verdict",
		        "confidence"};
		struct csv c;
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		csv_trend(&c, "subject", &r->subject);
		for (size_t i = 0; i < r->n_comparators; i++) {
			csv_trend(&c, "comparator", &r->comparators[i]);
		}
	} else {
		rv = print_comparison(stdout, r);
	}
	return (rv);
}

/* ---- rank --------------------------------------------------------------- */

/* "count", "rate per 100,000 people", ... for headings. */
static const char *
rank_by_words(offstat_rank_by by)
{
	switch (by) {
	case OFFSTAT_RANK_RATE:
		return ("rate per 100,000 people");
	case OFFSTAT_RANK_RATE_UNDER18:
		return ("rate per 100,000 under-18s");
	case OFFSTAT_RANK_CHANGE:
		return ("percentage change");
	default:
		return ("count");
	}
}

/* A score and its interval as the table shows them: counts with one
 * decimal in the interval, rates with two, changes as signed percents. */
static void
score_cells(struct table *t, const offstat_ranked_area *a, offstat_rank_by by)
{
	char lo[32];
	char up[32];
	char text[80];

	switch (by) {
	case OFFSTAT_RANK_CHANGE:
		fmt_fixed(lo, sizeof(lo), a->lower, 1);
		fmt_fixed(up, sizeof(up), a->upper, 1);
		table_cellf(t, "%+.1f%%", a->score);
		table_cellf(t, "%s%s%% to %s%s%%", a->lower >= 0 ? "+" : "",
		            lo, a->upper >= 0 ? "+" : "", up);
		break;
	case OFFSTAT_RANK_RATE:
	case OFFSTAT_RANK_RATE_UNDER18:
		fmt_fixed(lo, sizeof(lo), a->score, 2);
		table_cell(t, lo);
		interval_text(text, sizeof(text), a->lower, a->upper);
		table_cell(t, text);
		break;
	default:
		table_cellf(t, "%.0f", a->score);
		fmt_fixed(lo, sizeof(lo), a->lower, 1);
		fmt_fixed(up, sizeof(up), a->upper, 1);
		table_cellf(t, "%s to %s", lo, up);
		break;
	}
}

static void
count_cell(struct table *t, const offstat_value *v)
{
	if (v->present) {
		table_cellf(t, "%" PRIu64, v->count);
	} else {
		table_cell(t, "-");
	}
}

/*
 * The ranking for people: a heading, the table (rank, area, score and
 * interval, what the score rests on, flags, source), the areas left out,
 * the caution, sources and release.
 */
static int
print_ranking(FILE *f, const offstat_ranking *r, const char *within)
{
	const offstat_ranked_area *first =
	        r->n_areas > 0 ? &r->areas[0] : NULL;
	struct buf    b = {0};
	struct table *t;
	char          level[16];
	char          interval[32];
	char          score_col[48];
	const char   *cols[11];
	size_t        ncols = 0;
	int           rv    = 0;

	fmt_level(level, sizeof(level), r->confidence);
	snprintf(interval, sizeof(interval), "%s INTERVAL", level);
	buf_printf(&b, "%s: %s", r->offence.code, r->offence.description);
	if (first != NULL) {
		buf_printf(&b, ", %s", first->value.period.text);
		if (first->has_trend) {
			buf_printf(&b, " against %s",
			           first->trend.base.period.text);
		}
	}
	buf_printf(&b, ", ranked by %s", rank_by_words(r->by));
	if (within != NULL && within[0] != '\0') {
		buf_printf(&b, ", within %s", within);
	}
	out_para(f, buf_str(&b), 0);
	fputc('\n', f);

	cols[ncols++] = "RANK";
	cols[ncols++] = "AREA";
	switch (r->by) {
	case OFFSTAT_RANK_CHANGE:
		snprintf(score_col, sizeof(score_col), "%s",
		         first != NULL ? first->trend.base.period.text
		                       : "BASE");
		cols[ncols++] = score_col;
		cols[ncols++] =
		        first != NULL ? first->value.period.text : "END";
		cols[ncols++] = "% CHANGE";
		cols[ncols++] = interval;
		cols[ncols++] = "P-VALUE";
		cols[ncols++] = "CHANGE";
		break;
	case OFFSTAT_RANK_RATE:
	case OFFSTAT_RANK_RATE_UNDER18:
		cols[ncols++] =
		        r->by == OFFSTAT_RANK_RATE ? "RATE" : "RATE UNDER 18";
		cols[ncols++] = interval;
		cols[ncols++] = "COUNT";
		cols[ncols++] = r->by == OFFSTAT_RANK_RATE ? "POPULATION"
		                                           : "UNDER 18S";
		break;
	default:
		cols[ncols++] = "COUNT";
		cols[ncols++] = interval;
		break;
	}
	cols[ncols++] = "FLAGS";
	cols[ncols++] = "SOURCE";
	if ((t = table_new(ncols, cols)) == NULL) {
		buf_free(&b);
		return (OFFSTAT_ENOMEM);
	}
	/* Numbers to the right: all but the verdict, flags and source. */
	table_right(t, 0);
	for (size_t i = 2; i + 2 < ncols; i++) {
		if (r->by != OFFSTAT_RANK_CHANGE || i + 3 != ncols) {
			table_right(t, i);
		}
	}
	for (size_t i = 0; i < r->n_areas; i++) {
		const offstat_ranked_area *a = &r->areas[i];
		const offstat_rate *rate  = r->by == OFFSTAT_RANK_RATE_UNDER18
		                                    ? &a->value.rates.under18
		                                    : &a->value.rates.people;
		unsigned            flags = a->value.flags;

		table_row(t);
		table_cellf(t, "%u", a->rank);
		table_cell(t, a->area.name);
		switch (r->by) {
		case OFFSTAT_RANK_CHANGE:
			count_cell(t, &a->trend.base);
			count_cell(t, &a->trend.end);
			score_cells(t, a, r->by);
			if (a->trend.change_test.known) {
				char p[16];
				fmt_p_value(p, sizeof(p),
				            a->trend.change_test.p_value);
				table_cell(t, p);
				table_cell(t, a->trend.change_test.verdict);
			} else {
				table_cell(t, "");
				table_cell(t, "not tested");
			}
			flags |= a->trend.flags | a->trend.base.flags;
			break;
		case OFFSTAT_RANK_RATE:
		case OFFSTAT_RANK_RATE_UNDER18:
			score_cells(t, a, r->by);
			count_cell(t, &a->value);
			if (rate->known) {
				table_cellf(t, "%" PRIu64, rate->population);
			} else {
				table_cell(t, "-");
			}
			break;
		default:
			score_cells(t, a, r->by);
			break;
		}
		buf_reset(&b);
		fmt_flags(&b, flags, ",");
		table_cell(t, buf_str(&b));
		table_cell(t, a->value.source_id[0] != '\0'
		                      ? a->value.source_id
		                      : "(sum)");
	}
	if (r->n_areas > 0) {
		table_print(t, f);
	} else {
		fputs("No area has the figures to rank.\n", f);
	}

	if (r->n_missing > 0) {
		buf_reset(&b);
		buf_printf(&b, "Not ranked, without the figures (%zu):",
		           r->n_missing);
		for (size_t i = 0; i < r->n_missing; i++) {
			buf_printf(&b, " %s%s", r->missing[i].name,
			           i + 1 < r->n_missing ? "," : ".");
		}
		fputc('\n', f);
		out_para(f, buf_str(&b), 2);
	}
	if (r->caution[0] != '\0') {
		buf_reset(&b);
		buf_printf(&b, "Caution: %s", r->caution);
		fputc('\n', f);
		out_para(f, buf_str(&b), 0);
	}
	out_legend(f, r->sources, r->n_sources);
	out_release(f, r->release);
	if (table_failed(t) || b.failed) {
		rv = OFFSTAT_ENOMEM;
	}
	table_free(t);
	buf_free(&b);
	return (rv);
}

static void
json_ranked_area(struct json *j, const offstat_ranked_area *a)
{
	json_begin_object(j, NULL);
	json_uint(j, "rank", a->rank);
	json_area(j, "area", &a->area);
	json_value(j, "value", &a->value);
	json_double(j, "score", a->score);
	json_double(j, "lower", a->lower);
	json_double(j, "upper", a->upper);
	if (a->has_trend) {
		json_trend(j, "trend", &a->trend, false);
	} else {
		json_null(j, "trend");
	}
	json_end_object(j);
}

/* One CSV row: a ranked area, or (a == NULL) one left out. */
static void
csv_ranked(struct csv *c, const offstat_ranked_area *a,
           const offstat_area *area)
{
	const offstat_value *v = a != NULL ? &a->value : NULL;

	csv_field(c, a != NULL ? "true" : "false");
	if (a != NULL) {
		csv_uint(c, a->rank);
	} else {
		csv_field(c, "");
	}
	csv_field(c, area->code);
	csv_field(c, area->name);
	csv_field(c, offstat_area_kind_name(area->kind) != NULL
	                     ? offstat_area_kind_name(area->kind)
	                     : "UNKNOWN");
	if (v == NULL) {
		/* period .. verdict: 22 empty fields. */
		for (int i = 0; i < 22; i++) {
			csv_field(c, "");
		}
		csv_end_row(c);
		return;
	}
	csv_field(c, v->period.text);
	if (v->present) {
		csv_uint(c, v->count);
	} else {
		csv_field(c, "");
	}
	csv_flags(c, v->flags);
	csv_field(c, v->source_id);
	csv_double(c, true, a->score);
	csv_double(c, true, a->lower);
	csv_double(c, true, a->upper);
	csv_rate(c, &v->rates.people);
	csv_rate(c, &v->rates.under18);
	if (a->has_trend) {
		csv_field(c, a->trend.base.period.text);
		if (a->trend.base.present) {
			csv_uint(c, a->trend.base.count);
		} else {
			csv_field(c, "");
		}
		csv_test(c, &a->trend.change_test);
	} else {
		for (int i = 0; i < 7; i++) {
			csv_field(c, "");
		}
	}
	csv_end_row(c);
}

int
out_ranking(enum cli_format format, const offstat_ranking *r,
            const char *within)
{
	const char *by = offstat_rank_by_name(r->by);

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_offence(&j, "offence", &r->offence);
		json_string(&j, "by", by != NULL ? by : "UNKNOWN");
		json_double(&j, "confidence", r->confidence);
		json_begin_array(&j, "areas");
		for (size_t i = 0; i < r->n_areas; i++) {
			json_ranked_area(&j, &r->areas[i]);
		}
		json_end_array(&j);
		json_begin_array(&j, "missing");
		for (size_t i = 0; i < r->n_missing; i++) {
			json_area(&j, NULL, &r->missing[i]);
		}
		json_end_array(&j);
		json_string(&j, "caution", r->caution);
		json_sources(&j, r->sources, r->n_sources);
		json_string(&j, "release", r->release);
		json_end_object(&j);
		json_finish(&j);
		return (0);
	}
	if (format == CLI_CSV) {
		static const char *const cols[] = {"ranked",
		                                   "rank",
		                                   "area_code",
		                                   "area_name",
		                                   "area_kind",
		                                   "period",
		                                   "count",
		                                   "flags",
		                                   "source_id",
		                                   "score",
		                                   "lower",
		                                   "upper",
		                                   "rate_per_100k",
		                                   "rate_lower",
		                                   "rate_upper",
		                                   "population",
		                                   "rate_under18_per_100k",
		                                   "rate_under18_lower",
		                                   "rate_under18_upper",
		                                   "population_under18",
		                                   "base_period",
		                                   "base_count",
		                                   "rate_ratio",
		                                   "rate_ratio_lower",
		                                   "rate_ratio_upper",
		                                   "p_value",
		                                   "verdict"};
		struct csv               c;
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		for (size_t i = 0; i < r->n_areas; i++) {
			csv_ranked(&c, &r->areas[i], &r->areas[i].area);
		}
		for (size_t i = 0; i < r->n_missing; i++) {
			csv_ranked(&c, NULL, &r->missing[i]);
		}
		return (0);
	}
	return (print_ranking(stdout, r, within));
}

/* ---- Releases and ingest ------------------------------------------------ */

/* "committed", "open": a state as the tables write it. */
static const char *
state_lower(int state, char *out, size_t n)
{
	const char *name = offstat_release_state_name(state);

	snprintf(out, n, "%s", name != NULL ? name : "unknown");
	for (char *p = out; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
		}
	}
	return (out);
}

int
out_releases(enum cli_format format, const offstat_release_list *list,
             bool all)
{
	char state[16];
	int  rv = 0;

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_uint(&j, "total", list->total);
		json_string(&j, "release", list->release);
		json_begin_array(&j, "releases");
		for (size_t i = 0; i < list->n_releases; i++) {
			const offstat_release *r = &list->releases[i];
			const char            *name =
			        offstat_release_state_name(r->state);
			json_begin_object(&j, NULL);
			json_uint(&j, "id", r->id);
			json_string(&j, "label", r->label);
			json_string(&j, "source_id", r->source_id);
			json_string(&j, "state",
			            name != NULL ? name : "UNKNOWN");
			json_string(&j, "opened_at", r->opened_at);
			json_string(&j, "committed_at", r->committed_at);
			json_string(&j, "loaded_by", r->loaded_by);
			json_uint(&j, "rows", r->rows);
			json_uint(&j, "changed", r->changed);
			json_uint(&j, "sequence", r->sequence);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {
		        "id",        "state",   "committed_at", "label",
		        "source_id", "rows",    "changed",      "loaded_by",
		        "opened_at", "sequence"};
		struct csv c;
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		for (size_t i = 0; i < list->n_releases; i++) {
			const offstat_release *r = &list->releases[i];
			const char            *name =
			        offstat_release_state_name(r->state);
			csv_uint(&c, r->id);
			csv_field(&c, name != NULL ? name : "UNKNOWN");
			csv_field(&c, r->committed_at);
			csv_field(&c, r->label);
			csv_field(&c, r->source_id);
			csv_uint(&c, r->rows);
			csv_uint(&c, r->changed);
			csv_field(&c, r->loaded_by);
			csv_field(&c, r->opened_at);
			csv_uint(&c, r->sequence);
			csv_end_row(&c);
		}
	} else {
		static const char *const cols[] = {
		        "ID",     "STATE", "COMMITTED", "LABEL",
		        "SOURCE", "ROWS",  "CHANGED",   "BY"};
		struct table *t = table_new(8, cols);
		if (t == NULL) {
			return (OFFSTAT_ENOMEM);
		}
		table_right(t, 0);
		table_right(t, 5);
		table_right(t, 6);
		for (size_t i = 0; i < list->n_releases; i++) {
			const offstat_release *r = &list->releases[i];
			table_row(t);
			table_cellf(t, "%" PRIu64, r->id);
			table_cell(t, state_lower(r->state, state,
			                          sizeof(state)));
			table_cell(t, r->committed_at[0] != '\0'
			                      ? r->committed_at
			                      : "-");
			table_cell(t, r->label);
			table_cell(t, r->source_id);
			table_cellf(t, "%" PRIu64, r->rows);
			table_cellf(t, "%" PRIu64, r->changed);
			table_cell(t, r->loaded_by);
		}
		table_print(t, stdout);
		printf("\n%zu %srelease%s; readers see release %s\n",
		       list->n_releases, all ? "" : "committed ",
		       list->n_releases == 1 ? "" : "s", list->release);
		if (table_failed(t)) {
			rv = OFFSTAT_ENOMEM;
		}
		table_free(t);
	}
	return (rv);
}

int
out_ingest(enum cli_format format, const offstat_ingest_result *r,
           const char *label, const char *const *files, size_t n_files,
           double seconds)
{
	const char *state = offstat_release_state_name(r->state);
	char        text[32];

	if (state == NULL) {
		state = "UNKNOWN";
	}
	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_uint(&j, "release", r->release);
		json_string(&j, "label", label);
		json_string(&j, "state", state);
		json_begin_array(&j, "files");
		for (size_t i = 0; i < n_files; i++) {
			json_string(&j, NULL, files[i]);
		}
		json_end_array(&j);
		json_uint(&j, "rows", r->rows_sent);
		json_uint(&j, "batches", r->batches);
		json_uint(&j, "changed", r->changed);
		json_uint(&j, "retries", r->retries);
		json_uint(&j, "splits", r->splits);
		json_double(&j, "elapsed_seconds", seconds);
		json_string(&j, "served_release", r->served_release);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {
		        "release",         "label",         "state",
		        "files",           "rows",          "batches",
		        "changed",         "retries",       "splits",
		        "elapsed_seconds", "served_release"};
		struct csv c;
		struct buf b = {0};
		csv_init(&c, stdout);
		csv_header(&c, cols, sizeof(cols) / sizeof(cols[0]));
		csv_uint(&c, r->release);
		csv_field(&c, label);
		csv_field(&c, state);
		for (size_t i = 0; i < n_files; i++) {
			buf_printf(&b, "%s%s", i > 0 ? ";" : "", files[i]);
		}
		csv_field(&c, buf_str(&b));
		csv_uint(&c, r->rows_sent);
		csv_uint(&c, r->batches);
		csv_uint(&c, r->changed);
		csv_uint(&c, r->retries);
		csv_uint(&c, r->splits);
		csv_double(&c, true, seconds);
		csv_field(&c, r->served_release);
		csv_end_row(&c);
		if (b.failed) {
			buf_free(&b);
			return (OFFSTAT_ENOMEM);
		}
		buf_free(&b);
	} else {
		char lower[16];
		printf("Release  %" PRIu64 " (%s), %s\n", r->release, label,
		       state_lower(r->state, lower, sizeof(lower)));
		printf("Rows     %" PRIu64 " in %" PRIu64 " batch%s from %zu "
		       "file%s\n",
		       r->rows_sent, r->batches, r->batches == 1 ? "" : "es",
		       n_files, n_files == 1 ? "" : "s");
		if (r->splits > 0) {
			printf("         %u batch%s halved to fit the "
			       "service's "
			       "request size limit\n",
			       r->splits, r->splits == 1 ? "" : "es");
		}
		if (r->retries > 0) {
			printf("         %u request%s sent again after a "
			       "failure, applied once\n",
			       r->retries, r->retries == 1 ? "" : "s");
		}
		printf("Changed  %" PRIu64 " figure%s\n", r->changed,
		       r->changed == 1 ? "" : "s");
		fmt_fixed(text, sizeof(text), seconds, 2);
		printf("Elapsed  %s s", text);
		if (seconds > 0) {
			fmt_grouped(
			        text, sizeof(text),
			        (uint64_t)((double)r->rows_sent / seconds));
			printf(" (%s rows/s)", text);
		}
		printf("\nServing  release %s\n", r->served_release);
	}
	return (0);
}
