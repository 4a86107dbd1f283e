/*
 * The importer on the Home Office's real 2024/25 files, read in place from
 * the shared data folder. The test is reported as skipped (exit 77, which
 * ctest shows as skipped, never as passed) when the files are absent.
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

#define ENGLAND  OFFSTAT_SHARED_DATA "/prc-pfa-2024-25-england.csv"
#define NATIONAL OFFSTAT_SHARED_DATA "/prc-pfa-2024-25-national.csv"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long  n;
	if (f == NULL) {
		return (NULL);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return (NULL);
	}
	fclose(f);
	buf[n] = '\0';
	*len   = (size_t)n;
	return (buf);
}

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
report_count(void *arg, const char *msg)
{
	(void)msg;
	(*(int *)arg)++;
}

static void
test_import_real_file(void **state)
{
	(void)state;
	size_t len;
	char  *buf = slurp(ENGLAND, &len);
	assert_non_null(buf);
	char          path[] = "/tmp/offstat-store-XXXXXX";
	char          db[64], err[512];
	import_result r;
	import_opts   o    = {0};
	int           nbad = 0;
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/t.db", path);

	store    *st   = seeded(db);
	snapshot *snap = load(st);
	if (import_buffer(st, snap, ENGLAND, buf, len, &o, report_count, &nbad,
	                  &r, err, sizeof(err)) != 0) {
		fail_msg("import: %s", err);
	}
	assert_int_equal(nbad, 0);
	assert_int_equal(r.rows, 22464);
	assert_int_equal(r.bad, 0);
	/* The 20 South West 88A rows were bundled already, unchanged. */
	assert_int_equal(r.changed, 22464 - 20);
	assert_int_equal(r.release, 2);
	snapshot_unref(snap);

	/* Read back, after closing and reopening the database. */
	store_close(st);
	st   = seeded(db);
	snap = load(st);
	assert_int_equal(snap->release, 2);
	assert_int_equal(cell_value(snap, "E23000039", "88A", "2024/25 Q1"),
	                 10);
	assert_int_equal(cell_value(snap, "E23000039", "88A", "2024/25 Q4"),
	                 28);
	/* Per-quarter totals over every force and offence, as computed
	 * independently with python3's csv module over the same file. */
	const uint64_t want[4] = {1282415, 1288370, 1229793, 1165901};
	uint64_t       got[4]  = {0};
	uint64_t       met = 0, shoplifting = 0;
	int            s46  = snapshot_offence_by_code(snap, "46");
	int            ho   = snapshot_source_by_id(snap, "ho-prc-open-data");
	int            metp = snapshot_area_by_code(snap, "E23000001");
	for (size_t a = 0; a < snap->nareas; a++) {
		for (size_t off = 0; off < snap->noffences; off++) {
			for (unsigned q = 1; q <= 4; q++) {
				period p = {2024, (uint8_t)q, PERIOD_QUARTER};
				size_t n;
				const snap_entry *e =
				        snapshot_cell(snap, (uint32_t)a,
				                      (uint32_t)off, &p, &n);
				for (size_t k = 0; k < n; k++) {
					if ((int)e[k].source != ho) {
						continue;
					}
					got[q - 1] += e[k].value;
					met += (int)a == metp ? e[k].value : 0;
					shoplifting += (int)off == s46
					                       ? e[k].value
					                       : 0;
				}
			}
		}
	}
	for (int q = 0; q < 4; q++) {
		assert_int_equal(got[q], want[q]);
	}
	assert_int_equal(met, 943924);
	assert_int_equal(shoplifting, 500896);

	/* The same file again: nothing changes, no release. */
	if (import_buffer(st, snap, ENGLAND, buf, len, &o, NULL, NULL, &r, err,
	                  sizeof(err)) != 0) {
		fail_msg("import again: %s", err);
	}
	assert_int_equal(r.changed, 0);
	assert_int_equal(r.release, 0);
	snapshot_unref(snap);
	snap = load(st);
	assert_int_equal(snap->release, 2);
	assert_int_equal(store_check(st, err, sizeof(err)), 0);
	snapshot_unref(snap);
	store_close(st);
	free(buf);
	unlink(db);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	assert_int_equal(system(cmd), 0);
}

static void
test_import_national(void **state)
{
	(void)state;
	size_t len;
	char  *buf = slurp(NATIONAL, &len);
	assert_non_null(buf);
	store        *st   = seeded(":memory:");
	snapshot     *snap = load(st);
	import_result r;
	import_opts   o = {0};
	char          err[512];
	if (import_buffer(st, snap, NATIONAL, buf, len, &o, NULL, NULL, &r,
	                  err, sizeof(err)) != 0) {
		fail_msg("import: %s", err);
	}
	assert_int_equal(r.rows, 588);
	assert_int_equal(r.changed, 588);
	snapshot_unref(snap);
	snap = load(st);
	/* Bodies belong to no region, and fraud codes are kept as written. */
	int btp = snapshot_area_by_code(snap, "BTP");
	assert_true(btp >= 0);
	assert_int_equal(snap->areas[btp].parent, -1);
	assert_true(snapshot_offence_by_code(snap, "UK Finance") >= 0);
	snapshot_unref(snap);
	store_close(st);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_import_real_file),
	        cmocka_unit_test(test_import_national),
	};
	if (access(ENGLAND, R_OK) != 0 || access(NATIONAL, R_OK) != 0) {
		printf("skipped: the Home Office files are not in %s\n",
		       OFFSTAT_SHARED_DATA);
		return (77);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
