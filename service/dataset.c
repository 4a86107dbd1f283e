#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

/* One file: its name, the exact header, and a function per row. */
typedef int (*row_fn)(store *s, const char *const *f, char *err,
                      size_t errlen);

static const char *const kind_names[] = {
        NULL, "force", "region", "country", "group", "nation", "body"};
static const char *const source_kinds[] = {NULL, "open_data", "foi", "press",
                                           "reference"};
static const char *const flag_names[]   = {
          NULL,        "PROVISIONAL",  "REVISED",    "SERIES_BREAK",
          "ESTIMATED", "SMALL_NUMBER", "INCOMPLETE", "CONFLICT"};

static int
lookup(const char *const *names, int n, const char *v)
{
	for (int i = 1; i < n; i++) {
		if (strcmp(names[i], v) == 0) {
			return (i);
		}
	}
	return (-1);
}

unsigned
dataset_flag_bit(const char *name)
{
	int i = lookup(flag_names, FLAG_LAST + 1, name);
	return (i > 0 ? 1u << i : 0);
}

static int
parse_u64(const char *s, uint64_t *v, bool empty_is_zero)
{
	char *end;
	if (*s == '\0' && empty_is_zero) {
		*v = 0;
		return (0);
	}
	if (*s < '0' || *s > '9') {
		return (-1);
	}
	errno                = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return (-1);
	}
	*v = x;
	return (0);
}

static int
bad(char *err, size_t errlen, const char *what, const char *value)
{
	snprintf(err, errlen, "%s '%s'", what, value);
	return (-1);
}

static int
area_row(store *s, const char *const *f, char *err, size_t errlen)
{
	store_area a = {
	        .code              = f[0],
	        .name              = f[1],
	        .parent            = f[3],
	        .aliases           = f[4],
	        .members           = f[5],
	        .population_year   = 2020,
	        .population_source = f[8],
	};
	if ((a.kind = lookup(kind_names, 7, f[2])) < 0) {
		return (bad(err, errlen, "unknown area kind", f[2]));
	}
	if (f[0][0] == '\0' || f[1][0] == '\0') {
		return (bad(err, errlen, "empty code or name", f[0]));
	}
	if (parse_u64(f[6], &a.population, true) != 0 ||
	    parse_u64(f[7], &a.under18, true) != 0) {
		return (bad(err, errlen, "bad population", f[6]));
	}
	if (a.under18 > a.population) {
		return (bad(err, errlen, "under-18s above population", f[7]));
	}
	return (store_put_area(s, &a, err, errlen));
}

static int
offence_row(store *s, const char *const *f, char *err, size_t errlen)
{
	uint64_t      y;
	store_offence o = {
	        .code        = f[0],
	        .description = f[1],
	        .group       = f[2],
	        .subgroup    = f[3],
	        .break_note  = f[5],
	        .note        = f[6],
	};
	if (f[0][0] == '\0' || f[1][0] == '\0') {
		return (bad(err, errlen, "empty code or description", f[0]));
	}
	if (parse_u64(f[4], &y, true) != 0 ||
	    (y != 0 && (y < PERIOD_MIN_YEAR || y > PERIOD_MAX_YEAR))) {
		return (bad(err, errlen, "bad break year", f[4]));
	}
	o.break_year = (unsigned)y;
	return (store_put_offence(s, &o, err, errlen));
}

static int
source_row(store *s, const char *const *f, char *err, size_t errlen)
{
	store_source src = {
	        .id        = f[0],
	        .title     = f[2],
	        .publisher = f[3],
	        .published = f[4],
	        .url       = f[5],
	        .note      = f[6],
	};
	if ((src.kind = lookup(source_kinds, 5, f[1])) < 0) {
		return (bad(err, errlen, "unknown source kind", f[1]));
	}
	if (f[0][0] == '\0' || f[2][0] == '\0') {
		return (bad(err, errlen, "empty id or title", f[0]));
	}
	return (store_put_source(s, &src, err, errlen));
}

static int
parse_flags(const char *text, unsigned *flags)
{
	char buf[256];
	*flags = 0;
	if (strlen(text) >= sizeof(buf)) {
		return (-1);
	}
	strcpy(buf, text);
	for (char *save = NULL, *t = strtok_r(buf, ";", &save); t != NULL;
	     t = strtok_r(NULL, ";", &save)) {
		unsigned bit = dataset_flag_bit(t);
		if (bit == 0) {
			return (-1);
		}
		*flags |= bit;
	}
	return (0);
}

static int
count_row(store *s, const char *const *f, char *err, size_t errlen)
{
	store_count c = {
	        .area    = f[0],
	        .offence = f[1],
	        .source  = f[4],
	        .note    = f[7],
	};
	uint64_t rank;
	int      changed;

	if (period_parse(f[2], &c.period) != 0) {
		return (bad(err, errlen, "bad period", f[2]));
	}
	if (parse_u64(f[3], &c.value, false) != 0) {
		return (bad(err, errlen, "bad count", f[3]));
	}
	if (parse_u64(f[5], &rank, true) != 0 || rank > 100) {
		return (bad(err, errlen, "bad rank", f[5]));
	}
	c.rank = (unsigned)rank;
	if (parse_flags(f[6], &c.flags) != 0) {
		return (bad(err, errlen, "bad flags", f[6]));
	}
	return (store_put_count(s, &c, &changed, err, errlen));
}

static int
change_row(store *s, const char *const *f, char *err, size_t errlen)
{
	period from, to;
	char  *end;
	double pct;

	if (period_parse(f[2], &from) != 0) {
		return (bad(err, errlen, "bad period", f[2]));
	}
	if (period_parse(f[3], &to) != 0) {
		return (bad(err, errlen, "bad period", f[3]));
	}
	errno = 0;
	pct   = strtod(f[4], &end);
	if (errno != 0 || end == f[4] || *end != '\0') {
		return (bad(err, errlen, "bad percent", f[4]));
	}
	return (store_put_change(s, f[0], f[1], &from, &to, pct, f[5], f[6],
	                         err, errlen));
}

static const struct {
	const char *name;
	const char *header;
	row_fn      fn;
} files[] = {
        /* Order matters: rows refer to areas, offences and sources. */
        {"areas.csv",
         "code,name,kind,parent,aliases,members,population_mid2020,"
         "under18_mid2020,population_source",
         area_row},
        {"offences.csv",
         "code,description,group,subgroup,break_year,break_note,note",
         offence_row},
        {"sources.csv", "id,kind,title,publisher,published,url,note",
         source_row},
        {"counts.csv", "area,offence,period,count,source,rank,flags,note",
         count_row},
        {"changes.csv", "area,offence,from,to,percent,source,note",
         change_row},
};

static const struct offstat__embedded_file *
find_file(const char *name)
{
	for (const struct offstat__embedded_file *e = offstat__embedded;
	     e->name != NULL; e++) {
		if (strcmp(e->name, name) == 0) {
			return (e);
		}
	}
	return (NULL);
}

/* Counts the header's columns and checks each against it. */
static int
load_file(store *s, size_t i, uint64_t *rows, char *err, size_t errlen)
{
	const struct offstat__embedded_file *e = find_file(files[i].name);
	csv_reader                          *r;
	const char *const                   *f;
	size_t                               nf, ncols = 1;
	unsigned                             line;
	char                                 msg[512];
	int                                  rc, rv = 0;

	if (e == NULL) {
		snprintf(err, errlen, "bundled %s missing", files[i].name);
		return (-1);
	}
	for (const char *p = files[i].header; *p != '\0'; p++) {
		ncols += *p == ',';
	}
	if (csv_open(&r, e->data, e->size) != 0) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	bool header = true;
	while ((rc = csv_next(r, &nf, &f, &line)) != 0) {
		if (rc < 0) {
			snprintf(err, errlen, "%s line %u: %s", e->name, line,
			         csv_error(r));
			rv = -1;
			break;
		}
		if (nf == 1 && f[0][0] == '\0') {
			continue;
		}
		if (header) {
			/* Rebuild the header line to compare it whole. */
			size_t n = 0;
			msg[0]   = '\0';
			for (size_t k = 0; k < nf && n < sizeof(msg); k++) {
				n += (size_t)snprintf(msg + n, sizeof(msg) - n,
				                      "%s%s", k ? "," : "",
				                      f[k]);
			}
			if (strcmp(msg, files[i].header) != 0) {
				snprintf(err, errlen,
				         "%s line 1: header must be '%s'",
				         e->name, files[i].header);
				rv = -1;
				break;
			}
			header = false;
			continue;
		}
		if (nf != ncols) {
			snprintf(err, errlen,
			         "%s line %u: %zu fields, not %zu", e->name,
			         line, nf, ncols);
			rv = -1;
			break;
		}
		if (files[i].fn(s, f, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s line %u: %s", e->name, line,
			         msg);
			rv = -1;
			break;
		}
		(*rows)++;
	}
	csv_close(r);
	return (rv);
}

int
dataset_seed(store *s, char *err, size_t errlen)
{
	uint64_t rows = 0, id, seq;

	if (store_begin(s, err, errlen) != 0) {
		return (-1);
	}
	if (store_release_open(s, "offstat bundled dataset", "bundled", NULL,
	                       &id, err, errlen) != 0) {
		store_rollback(s);
		return (-1);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (load_file(s, i, &rows, err, errlen) != 0) {
			store_rollback(s);
			return (-1);
		}
	}
	if (store_release_add(s, id, rows, (int64_t)rows, err, errlen) != 0 ||
	    store_release_commit(s, id, &seq, err, errlen) != 0) {
		store_rollback(s);
		return (-1);
	}
	return (store_commit(s, err, errlen));
}
