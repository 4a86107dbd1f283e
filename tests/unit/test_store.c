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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bundled),
	        cmocka_unit_test(test_import_rejects_whole_file),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
