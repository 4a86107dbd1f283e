/*
 * The store, the bundled dataset, snapshots and the importer together:
 * what is written is what a snapshot reads back, a load is all or nothing,
 * and loading the same file twice changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "dataset.h"
#include "import.h"
#include "store.h"

static store *
seeded(const char *path)
{
	store *st;
	char   err[512];
	if (store_open(&st, path, err, sizeof(err)) != 0) {
		fail_msg("open: %s", err);
	}
	if (store_is_empty(st) && dataset_seed(st, err, sizeof(err)) != 0) {
		fail_msg("seed: %s", err);
	}
	return (st);
}

static snapshot *
load(store *st)
{
	snapshot *snap;
	char      err[512];
	if (store_load_snapshot(st, &snap, err, sizeof(err)) != 0) {
		fail_msg("snapshot: %s", err);
	}
	return (snap);
}

static uint64_t
cell_value(const snapshot *s, const char *area, const char *offence,
           const char *period_text)
{
	period p;
	size_t n;
	assert_int_equal(period_parse(period_text, &p), 0);
	int a = snapshot_area_by_code(s, area);
	int o = snapshot_offence_by_code(s, offence);
	assert_true(a >= 0 && o >= 0);
	const snap_entry *e =
	        snapshot_cell(s, (uint32_t)a, (uint32_t)o, &p, &n);
	assert_int_equal(n, 1);
	return (e[0].value);
}

static void
test_bundled(void **state)
{
	(void)state;
	store    *st   = seeded(":memory:");
	snapshot *snap = load(st);
	char      err[256];

	assert_int_equal(store_check(st, err, sizeof(err)), 0);
	assert_int_equal(snap->release, 1);
	size_t forces = 0, bodies = 0;
	for (size_t i = 0; i < snap->nareas; i++) {
		forces += snap->areas[i].kind == AREA_FORCE;
		bodies += snap->areas[i].kind == AREA_BODY;
	}
	assert_int_equal(forces, 43);
	assert_int_equal(bodies, 4);
	/* Names as the open data and ONS write them. */
	int dc = snapshot_find_area(snap, "Devon and Cornwall");
	assert_true(dc >= 0);
	assert_int_equal(snapshot_find_area(snap, "devon & cornwall"), dc);
	assert_string_equal(snap->areas[dc].code, "E23000035");
	assert_true(snapshot_find_area(snap, "London, City of") >= 0);
	assert_true(snapshot_find_area(snap, "Hampshire") >= 0);
	assert_int_equal(snapshot_find_area(snap, "Gondor"), -1);
	/* "West Midlands" names a force and a region: the force wins, as the
	 * open data means it; the region answers to its code and to "West
	 * Midlands region". */
	int wm = snapshot_find_area(snap, "West Midlands");
	assert_string_equal(snap->areas[wm].code, "E23000014");
	int wmr = snapshot_find_area(snap, "west midlands region");
	assert_string_equal(snap->areas[wmr].code, "E12000005");
	assert_int_equal(snapshot_find_area(snap, "E12000005"), wmr);
	/* The hierarchy: regions, countries, England and Wales, UK. */
	int dorset = snapshot_find_area(snap, "dorset");
	int sw     = snapshot_area_by_code(snap, "E12000009");
	int uk     = snapshot_area_by_code(snap, "K02000001");
	int ew     = snapshot_area_by_code(snap, "K04000001");
	int wales  = snapshot_area_by_code(snap, "W92000004");
	assert_int_equal(snap->areas[dorset].region, sw);
	assert_int_equal(snap->areas[sw].nmembers, 5);
	assert_int_equal(snap->areas[ew].nmembers, 43);
	/* The UK sums 43 forces plus Scotland and Northern Ireland. */
	assert_int_equal(snap->areas[uk].nmembers, 45);
	int gwent = snapshot_find_area(snap, "Gwent");
	assert_int_equal(snap->areas[gwent].region, wales);
	assert_int_equal(snap->areas[gwent].country, wales);
	/* Populations sum to the published totals. */
	uint64_t e = 0, w = 0;
	for (size_t i = 0; i < snap->nareas; i++) {
		if (snap->areas[i].kind != AREA_FORCE) {
			continue;
		}
		if (snap->areas[i].code[0] == 'E') {
			e += snap->areas[i].population;
		} else {
			w += snap->areas[i].population;
		}
	}
	assert_int_equal(e, 56550138);
	assert_int_equal(w, 3169586);
	/* Offence names: codes exact ("4.1" is not "4.10"). */
	size_t n;
	int    cands[4];
	int    o41  = snapshot_find_offence(snap, "4.1", cands, 4, &n);
	int    o410 = snapshot_find_offence(snap, "4.10", cands, 4, &n);
	assert_true(o41 >= 0 && o410 >= 0 && o41 != o410);
	assert_string_equal(snap->offences[o41].description, "Manslaughter");
	assert_int_equal(
	        snapshot_find_offence(snap, "sexual grooming", cands, 4, &n),
	        snapshot_offence_by_code(snap, "88A"));
	assert_int_equal(snapshot_find_offence(snap, "burglary", cands, 4, &n),
	                 -2);
	assert_true(n > 1);
	/* The conflicting Dorset figures are both kept, preferred first. */
	period p;
	period_parse("2018/19", &p);
	const snap_entry *ent = snapshot_cell(
	        snap, (uint32_t)dorset,
	        (uint32_t)snapshot_offence_by_code(snap, "S15A"), &p, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ent[0].value, 84);
	assert_int_equal(ent[1].value, 61);
	snapshot_unref(snap);
	store_close(st);
}

static void
report_count(void *arg, const char *msg)
{
	(void)msg;
	(*(int *)arg)++;
}

static void
test_import_rejects_whole_file(void **state)
{
	(void)state;
	static const char bad[] =
	        "Financial Year,Financial Quarter,Force Name,Offence "
	        "Description,"
	        "Offence Group,Offence Subgroup,Offence Code,Number of "
	        "Offences\n"
	        "2023/24,1,Dorset,Sexual grooming,Sexual offences,"
	        "Other sexual offences,88A,11\n"
	        "2023/24,2,Atlantis,Sexual grooming,Sexual offences,"
	        "Other sexual offences,88A,12\n"
	        "2023/24,3,Dorset,Sexual grooming,Sexual offences,"
	        "Other sexual offences,88A,-4\n";
	store        *st     = seeded(":memory:");
	snapshot     *snap   = load(st);
	size_t        before = snap->nentries;
	import_result r;
	import_opts   o    = {0};
	int           nbad = 0;
	char          err[512];

	assert_int_equal(import_buffer(st, snap, "bad.csv", bad,
	                               sizeof(bad) - 1, &o, report_count,
	                               &nbad, &r, err, sizeof(err)),
	                 -1);
	assert_int_equal(nbad, 2);
	assert_int_equal(r.bad, 2);
	assert_non_null(strstr(err, "nothing imported"));
	snapshot_unref(snap);
	snap = load(st);
	assert_int_equal(snap->nentries, before);
	assert_int_equal(snap->release, 1);

	/* With skip_bad the good row goes in and the bad are reported. */
	o.skip_bad = true;
	nbad       = 0;
	assert_int_equal(import_buffer(st, snap, "bad.csv", bad,
	                               sizeof(bad) - 1, &o, report_count,
	                               &nbad, &r, err, sizeof(err)),
	                 0);
	assert_int_equal(nbad, 2);
	assert_int_equal(r.changed, 1);
	snapshot_unref(snap);
	snap = load(st);
	assert_int_equal(snap->nentries, before + 1);
	assert_int_equal(cell_value(snap, "E23000039", "88A", "2023/24 Q1"),
	                 11);

	/* An unknown source is refused before anything is read. */
	o.source = "no-such-source";
	assert_int_equal(import_buffer(st, snap, "bad.csv", bad,
	                               sizeof(bad) - 1, &o, NULL, NULL, &r,
	                               err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "unknown source"));
	snapshot_unref(snap);
	store_close(st);
}

/* Writes one figure for Dorset 88A 2024/25 quarter q into the open
 * release; returns store_put_count's change. */
static int
put_q(store *st, unsigned q, uint64_t v)
{
	store_count c = {.area    = "E23000039",
	                 .offence = "88A",
	                 .period  = {.year = 2024, .quarter = (uint8_t)q,
	                             .kind = PERIOD_QUARTER},
	                 .source  = "ho-prc-open-data",
	                 .value   = v};
	int         changed;
	char        err[256];
	if (store_put_count(st, &c, &changed, err, sizeof(err)) != 0) {
		fail_msg("put: %s", err);
	}
	return (changed);
}

static const snap_entry *
q_entry(const snapshot *s, unsigned q, uint64_t as_of, arena *mem)
{
	period p = {.year = 2024, .quarter = (uint8_t)q,
	            .kind = PERIOD_QUARTER};
	size_t n;
	const snap_entry *e = snapshot_cell_as_of(
	        s, (uint32_t)snapshot_area_by_code(s, "E23000039"),
	        (uint32_t)snapshot_offence_by_code(s, "88A"), &p, as_of, mem,
	        &n);
	return (n > 0 ? e : NULL);
}

/* Releases keep versions: a commit makes them newest, REVISED marks a
 * changed figure, the data as an older release left it stays readable,
 * and a dropped release leaves no trace. */
static void
test_releases(void **state)
{
	(void)state;
	store   *st = seeded(":memory:");
	char     err[512];
	uint64_t id, id2, seq;
	arena    mem;

	arena_init(&mem);
	snapshot *s1 = load(st);
	assert_int_equal(s1->nreleases, 1);
	assert_int_equal(q_entry(s1, 4, 0, &mem)->value, 28);

	/* Without an open release nothing can be written. */
	store_count c = {.area = "E23000039", .offence = "88A",
	                 .period = {2024, 4, PERIOD_QUARTER},
	                 .source = "ho-prc-open-data", .value = 1};
	int changed;
	assert_int_equal(store_put_count(st, &c, &changed, err, sizeof(err)),
	                 -1);

	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(store_release_open(st, "r2", "ho-prc-open-data",
	                                    "ost_00000001", &id, err,
	                                    sizeof(err)),
	                 0);
	assert_int_equal(put_q(st, 4, 28), 0);  /* as committed: no change */
	assert_int_equal(put_q(st, 4, 31), 1);  /* a new version */
	assert_int_equal(put_q(st, 4, 30), 0);  /* its own version updated */
	assert_int_equal(put_q(st, 1, 11), 1);
	assert_int_equal(put_q(st, 1, 10), -1); /* back as committed */
	assert_int_equal(store_release_add(st, id, 5, 1, err, sizeof(err)), 0);
	assert_int_equal(store_commit(st, err, sizeof(err)), 0);

	/* Open: invisible. */
	snapshot *s2 = load(st);
	assert_int_equal(s2->release, s1->release);
	assert_int_equal(q_entry(s2, 4, 0, &mem)->value, 28);
	snapshot_unref(s2);

	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(store_release_commit(st, id, &seq, err, sizeof(err)),
	                 0);
	assert_int_equal(store_commit(st, err, sizeof(err)), 0);
	assert_int_equal(seq, 2);
	s2 = load(st);
	assert_int_equal(s2->release, id);
	assert_int_equal(s2->nreleases, 2);
	const snap_entry *e = q_entry(s2, 4, 0, &mem);
	assert_int_equal(e->value, 30);
	assert_true(e->flags & FLAG_REVISED);
	assert_int_equal(e->nhist, 1);
	assert_int_equal(e->hist[0].value, 28);
	/* Q1 was put back: one version, not revised. */
	e = q_entry(s2, 1, 0, &mem);
	assert_int_equal(e->value, 10);
	assert_false(e->flags & FLAG_REVISED);
	/* As release 1 left it. */
	e = q_entry(s2, 4, 1, &mem);
	assert_int_equal(e->value, 28);
	assert_false(e->flags & FLAG_REVISED);
	/* A committed release is closed to writes. */
	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(store_release_commit(st, id, &seq, err, sizeof(err)),
	                 1);
	assert_int_equal(store_release_drop(st, id, RELEASE_ABORTED, err,
	                                    sizeof(err)),
	                 1);
	store_rollback(st);

	/* A dropped release and a new code it brought leave nothing. */
	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(store_release_open(st, "r3", "ho-prc-open-data",
	                                    NULL, &id2, err, sizeof(err)),
	                 0);
	store_offence o = {.code = "ZZ1", .description = "New",
	                   .group = "G", .subgroup = "S"};
	assert_int_equal(store_put_offence(st, &o, err, sizeof(err)), 0);
	assert_int_equal(put_q(st, 4, 99), 1);
	assert_int_equal(store_commit(st, err, sizeof(err)), 0);
	snapshot *s3 = load(st);
	assert_true(snapshot_offence_by_code(s3, "ZZ1") < 0);
	snapshot_unref(s3);
	assert_int_equal(store_begin(st, err, sizeof(err)), 0);
	assert_int_equal(store_release_drop(st, id2, RELEASE_EXPIRED, err,
	                                    sizeof(err)),
	                 0);
	assert_int_equal(store_commit(st, err, sizeof(err)), 0);
	s3 = load(st);
	assert_int_equal(s3->release, id);
	assert_int_equal(q_entry(s3, 4, 0, &mem)->value, 30);
	assert_true(snapshot_offence_by_code(s3, "ZZ1") < 0);
	assert_int_equal(s3->nentries, s2->nentries);
	store_release r;
	assert_int_equal(store_release_get(st, id2, &r, err, sizeof(err)), 0);
	assert_int_equal(r.state, RELEASE_EXPIRED);
	assert_int_equal(store_check(st, err, sizeof(err)), 0);

	snapshot_unref(s1);
	snapshot_unref(s2);
	snapshot_unref(s3);
	arena_fini(&mem);
	store_close(st);
}

/* A version-1 database (one figure per cell, releases as a log) opens as
 * version 2 with its figures and releases kept. */
static void
test_migrate_v1(void **state)
{
	(void)state;
	char     path[] = "/tmp/offstat-v1-XXXXXX";
	int      fd     = mkstemp(path);
	sqlite3 *db;
	char     err[512];

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	        sqlite3_exec(
	                db,
	                "CREATE TABLE areas (code TEXT PRIMARY KEY, name TEXT "
	                "NOT NULL, kind INTEGER NOT NULL, parent TEXT, aliases "
	                "TEXT NOT NULL DEFAULT '', members TEXT NOT NULL "
	                "DEFAULT '');"
	                "CREATE TABLE populations (area TEXT NOT NULL, year "
	                "INTEGER NOT NULL, total INTEGER NOT NULL, under18 "
	                "INTEGER NOT NULL, source TEXT NOT NULL, PRIMARY KEY "
	                "(area, year));"
	                "CREATE TABLE offences (code TEXT PRIMARY KEY, "
	                "description TEXT NOT NULL, grp TEXT NOT NULL, "
	                "subgroup TEXT NOT NULL, break_year INTEGER NOT NULL "
	                "DEFAULT 0, break_note TEXT NOT NULL DEFAULT '', note "
	                "TEXT NOT NULL DEFAULT '');"
	                "CREATE TABLE sources (id TEXT PRIMARY KEY, kind "
	                "INTEGER NOT NULL, title TEXT NOT NULL, publisher TEXT "
	                "NOT NULL DEFAULT '', published TEXT NOT NULL DEFAULT "
	                "'', url TEXT NOT NULL DEFAULT '', note TEXT NOT NULL "
	                "DEFAULT '');"
	                "CREATE TABLE counts (area TEXT NOT NULL, offence TEXT "
	                "NOT NULL, year INTEGER NOT NULL, quarter INTEGER NOT "
	                "NULL, kind INTEGER NOT NULL, source TEXT NOT NULL, "
	                "value INTEGER NOT NULL, rank INTEGER NOT NULL DEFAULT "
	                "0, flags INTEGER NOT NULL DEFAULT 0, note TEXT NOT "
	                "NULL DEFAULT '', PRIMARY KEY (area, offence, year, "
	                "quarter, kind, source)) WITHOUT ROWID;"
	                "CREATE TABLE changes (area TEXT NOT NULL, offence TEXT "
	                "NOT NULL, from_year INTEGER NOT NULL, from_quarter "
	                "INTEGER NOT NULL, from_kind INTEGER NOT NULL, to_year "
	                "INTEGER NOT NULL, to_quarter INTEGER NOT NULL, "
	                "to_kind INTEGER NOT NULL, percent REAL NOT NULL, "
	                "source TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', "
	                "PRIMARY KEY (area, offence, from_year, from_quarter, "
	                "from_kind, to_year, to_quarter, to_kind, source));"
	                "CREATE TABLE releases (id INTEGER PRIMARY KEY, label "
	                "TEXT NOT NULL, source TEXT NOT NULL, loaded_at TEXT "
	                "NOT NULL, rows INTEGER NOT NULL);"
	                "INSERT INTO areas VALUES ('E23000039', 'Dorset', 1, "
	                "NULL, '', '');"
	                "INSERT INTO offences VALUES ('88A', 'Sexual "
	                "grooming', 'Sexual offences', 'Other', 0, '', '');"
	                "INSERT INTO sources VALUES ('s', 1, 'A source', '', "
	                "'', '', '');"
	                "INSERT INTO counts VALUES ('E23000039', '88A', 2024, "
	                "4, 2, 's', 28, 0, 0, '');"
	                "INSERT INTO releases VALUES (1, 'bundled', 'bundled', "
	                "'2026-01-01T00:00:00Z', 1);"
	                "INSERT INTO releases VALUES (2, 'import x', 's', "
	                "'2026-02-01T00:00:00Z', 1);"
	                "PRAGMA user_version = 1;",
	                NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);

	store *st;
	assert_int_equal(store_open(&st, path, err, sizeof(err)), 0);
	snapshot *s = load(st);
	assert_int_equal(s->nreleases, 2);
	assert_int_equal(s->release, 2);
	assert_int_equal(cell_value(s, "E23000039", "88A", "2024/25 Q4"), 28);
	snapshot_unref(s);
	assert_int_equal(store_check(st, err, sizeof(err)), 0);
	store_close(st);
	/* Opening it again changes nothing. */
	assert_int_equal(store_open(&st, path, err, sizeof(err)), 0);
	s = load(st);
	assert_int_equal(s->nreleases, 2);
	snapshot_unref(s);
	store_close(st);
	unlink(path);
}

/*
 * A first import of an area and offence writes without reading earlier
 * versions: a new pair, a new offence code, the same file again and a
 * corrected one count as a row-by-row import would.
 */
static void
test_import_fresh_pairs(void **state)
{
	(void)state;
	static const char head[] =
	        "Financial Year,Financial Quarter,Force Name,Offence "
	        "Description,Offence Group,Offence Subgroup,Offence Code,"
	        "Number of Offences\n";
	static const char rows[] =
	        "2023/24,1,Kent,Sexual grooming,Sexual offences,"
	        "Other sexual offences,88A,20\n"
	        "2023/24,2,Kent,Sexual grooming,Sexual offences,"
	        "Other sexual offences,88A,30\n"
	        "2023/24,1,Kent,Made-up offence,Other,Other,999Z,5\n";
	static const char fixed[] =
	        "2023/24,2,Kent,Sexual grooming,Sexual offences,"
	        "Other sexual offences,88A,31\n";
	store        *st   = seeded(":memory:");
	snapshot     *snap = load(st);
	import_result r;
	import_opts   o = {0};
	char          err[512], buf[2048];

	snprintf(buf, sizeof(buf), "%s%s", head, rows);
	if (import_buffer(st, snap, "a.csv", buf, strlen(buf), &o, NULL, NULL,
	                  &r, err, sizeof(err)) != 0) {
		fail_msg("import: %s", err);
	}
	assert_int_equal(r.rows, 3);
	assert_int_equal(r.changed, 3);
	assert_true(r.release > 0);
	snapshot_unref(snap);
	snap = load(st);
	assert_int_equal(cell_value(snap, "E23000032", "88A", "2023/24 Q1"),
	                 20);
	assert_int_equal(cell_value(snap, "E23000032", "88A", "2023/24 Q2"),
	                 30);
	assert_int_equal(cell_value(snap, "E23000032", "999Z", "2023/24 Q1"),
	                 5);

	/* The same rows again change nothing. */
	assert_int_equal(import_buffer(st, snap, "a.csv", buf, strlen(buf), &o,
	                               NULL, NULL, &r, err, sizeof(err)),
	                 0);
	assert_int_equal(r.changed, 0);
	assert_int_equal(r.release, 0);

	/* A corrected figure is one change. */
	snprintf(buf, sizeof(buf), "%s%s", head, fixed);
	assert_int_equal(import_buffer(st, snap, "b.csv", buf, strlen(buf), &o,
	                               NULL, NULL, &r, err, sizeof(err)),
	                 0);
	assert_int_equal(r.changed, 1);
	snapshot_unref(snap);
	snap = load(st);
	assert_int_equal(cell_value(snap, "E23000032", "88A", "2023/24 Q2"),
	                 31);
	snapshot_unref(snap);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bundled),
	        cmocka_unit_test(test_import_rejects_whole_file),
	        cmocka_unit_test(test_releases),
	        cmocka_unit_test(test_import_fresh_pairs),
	        cmocka_unit_test(test_migrate_v1),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
