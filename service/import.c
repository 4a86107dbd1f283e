#include "import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opendata.h"

const char *
import_resolve_force(void *arg, const char *name)
{
	const snapshot *snap = arg;
	int             i    = snapshot_find_area(snap, name);
	/* Only forces and the recording bodies have rows of their own. */
	if (i < 0 || (snap->areas[i].kind != AREA_FORCE &&
	              snap->areas[i].kind != AREA_BODY)) {
		return (NULL);
	}
	return (snap->areas[i].code);
}

/* Orders rows as the counts table's key: area, code, year, quarter. */
static int
cmp_row(const void *pa, const void *pb)
{
	const od_row *a = *(const od_row *const *)pa;
	const od_row *b = *(const od_row *const *)pb;
	int           c;

	if (a->area != b->area && (c = strcmp(a->area, b->area)) != 0) {
		return (c);
	}
	if (a->code != b->code && (c = strcmp(a->code, b->code)) != 0) {
		return (c);
	}
	if (a->year != b->year) {
		return (a->year < b->year ? -1 : 1);
	}
	return (a->quarter < b->quarter ? -1 : a->quarter > b->quarter);
}

int
import_rows(store *s, const snapshot *snap, const od_file *f,
            const char *source, const char *name, int64_t *changes,
            char *err, size_t errlen)
{
	const od_row **order = malloc((f->nrows + 1) * sizeof(*order));

	*changes = 0;
	if (order == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return (-1);
	}
	/* In key order, each write lands next to the one before: SQLite
	 * appends to B-tree pages it holds rather than visiting pages all
	 * over the table (the files come ordered by period). Strings equal
	 * in a file share a pointer, which spares most comparisons. */
	for (size_t i = 0; i < f->nrows; i++) {
		order[i] = &f->rows[i];
	}
	qsort(order, f->nrows, sizeof(*order), cmp_row);
	/* An area and offence with no figures stored yet (a first import)
	 * need no look at earlier versions row by row: one look per pair
	 * tells that they are all new, but for a row that repeats the one
	 * before it (same key), which finds the first's version. */
	bool any = true;
	for (size_t i = 0; i < f->nrows; i++) {
		const od_row *r = order[i];
		const od_row *prev = i > 0 ? order[i - 1] : NULL;
		int           changed;
		char          msg[256];
		bool          same_pair = prev != NULL &&
		                 (prev->area == r->area ||
		                  strcmp(prev->area, r->area) == 0) &&
		                 (prev->code == r->code ||
		                  strcmp(prev->code, r->code) == 0);
		store_offence o = {
		        .code        = r->code,
		        .description = r->description,
		        .group       = r->group,
		        .subgroup    = r->subgroup,
		};
		store_count c = {
		        .area    = r->area,
		        .offence = r->code,
		        .period  = {.year    = (uint16_t)r->year,
		                    .quarter = (uint8_t)r->quarter,
		                    .kind    = PERIOD_QUARTER},
		        .source  = source,
		        .value   = r->count,
		};
		if (!same_pair && store_counts_any(s, r->area, r->code, &any,
		                                   msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s line %u: %s", name, r->line,
			         msg);
			free(order);
			return (-1);
		}
		bool repeat = same_pair && cmp_row(&prev, &r) == 0;
		/* New codes join the catalogue; known ones keep theirs. */
		if ((snapshot_offence_by_code(snap, r->code) < 0 &&
		     store_put_offence(s, &o, msg, sizeof(msg)) != 0) ||
		    (!any && !repeat ? store_put_new_count(s, &c, &changed,
		                                           msg, sizeof(msg))
		                     : store_put_count(s, &c, &changed, msg,
		                                       sizeof(msg))) != 0) {
			snprintf(err, errlen, "%s line %u: %s", name, r->line,
			         msg);
			free(order);
			return (-1);
		}
		*changes += changed;
	}
	free(order);
	return (0);
}

int
import_buffer(store *s, const snapshot *snap, const char *name,
              const char *buf, size_t len, const import_opts *opts,
              import_report_fn report, void *arg, import_result *res,
              char *err, size_t errlen)
{
	od_file     f;
	const char *source =
	        opts->source ? opts->source : IMPORT_DEFAULT_SOURCE;
	char     label[512];
	int      rv      = -1;
	int64_t  changes = 0;
	uint64_t id, seq;

	memset(res, 0, sizeof(*res));
	if (snapshot_source_by_id(snap, source) < 0) {
		snprintf(err, errlen, "unknown source '%s'", source);
		return (-1);
	}
	if (od_parse(buf, len, import_resolve_force, (void *)snap, &f) != 0) {
		for (size_t i = 0; report != NULL && i < f.nerrors; i++) {
			report(arg, f.errors[i]);
		}
		snprintf(err, errlen, "%s: not in the open data format", name);
		od_file_free(&f);
		return (-1);
	}
	res->rows = f.nrows;
	res->bad  = f.nbad;
	for (size_t i = 0; report != NULL && i < f.nerrors; i++) {
		report(arg, f.errors[i]);
	}
	if (f.nbad > f.nerrors && report != NULL) {
		char more[64];
		snprintf(more, sizeof(more), "… and %zu more bad rows",
		         f.nbad - f.nerrors);
		report(arg, more);
	}
	if (f.nbad > 0 && !opts->skip_bad) {
		snprintf(err, errlen, "%s: %zu bad rows; nothing imported",
		         name, f.nbad);
		goto done;
	}
	if (opts->label != NULL) {
		snprintf(label, sizeof(label), "%s", opts->label);
	} else {
		const char *base = strrchr(name, '/');
		snprintf(label, sizeof(label), "import %s",
		         base ? base + 1 : name);
	}
	/* Before the transaction: SQLite changes foreign key checking only
	 * outside one. */
	store_bulk(s, true);
	if (store_begin(s, err, errlen) != 0) {
		goto done;
	}
	if (store_release_open(s, label, source, NULL, &id, err, errlen) !=
	    0) {
		store_rollback(s);
		goto done;
	}
	if (import_rows(s, snap, &f, source, name, &changes, err, errlen) !=
	    0) {
		store_rollback(s);
		goto done;
	}
	if (changes <= 0) {
		/* Nothing new: no release either. */
		store_rollback(s);
		rv = 0;
		goto done;
	}
	res->changed = (uint64_t)changes;
	if (store_release_add(s, id, f.nrows, changes, err, errlen) != 0 ||
	    store_release_commit(s, id, &seq, err, errlen) != 0) {
		store_rollback(s);
		goto done;
	}
	res->release = id;
	rv = store_commit(s, err, errlen);
done:
	store_bulk(s, false);
	od_file_free(&f);
	return (rv);
}
