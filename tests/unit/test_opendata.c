/*
 * The open data parser. Fixtures in tests/data/import/ pair each CSV file
 * with a .expected file holding everything the parser reports for it (the
 * return value, the counts, each good row, each message); adding a case is
 * adding two files. The real 2024/25 tables in the shared data folder are
 * parsed too and checked against totals computed by another tool.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opendata.h"

#define FIXTURES OFFSTAT_TEST_DATA "/import"
#define ENGLAND  OFFSTAT_SHARED_DATA "/prc-pfa-2024-25-england.csv"
#define NATIONAL OFFSTAT_SHARED_DATA "/prc-pfa-2024-25-national.csv"
#define SW88A    OFFSTAT_SHARED_DATA "/prc-88A-south-west-2024-25.csv"

/*
 * Force names as the Home Office tables write them, with the ONS codes of
 * police-force-areas.csv, the bodies with the codes of the bundled
 * dataset, and one alias to show that two names of one area meet.
 */
static const struct {
	const char *name, *code;
} forces[] = {
        {"Metropolitan Police", "E23000001"},
        {"Cumbria", "E23000002"},
        {"Lancashire", "E23000003"},
        {"Merseyside", "E23000004"},
        {"Greater Manchester", "E23000005"},
        {"Cheshire", "E23000006"},
        {"Northumbria", "E23000007"},
        {"Durham", "E23000008"},
        {"North Yorkshire", "E23000009"},
        {"West Yorkshire", "E23000010"},
        {"South Yorkshire", "E23000011"},
        {"Humberside", "E23000012"},
        {"Cleveland", "E23000013"},
        {"West Midlands", "E23000014"},
        {"Staffordshire", "E23000015"},
        {"West Mercia", "E23000016"},
        {"Warwickshire", "E23000017"},
        {"Derbyshire", "E23000018"},
        {"Nottinghamshire", "E23000019"},
        {"Lincolnshire", "E23000020"},
        {"Leicestershire", "E23000021"},
        {"Northamptonshire", "E23000022"},
        {"Cambridgeshire", "E23000023"},
        {"Norfolk", "E23000024"},
        {"Suffolk", "E23000025"},
        {"Bedfordshire", "E23000026"},
        {"Hertfordshire", "E23000027"},
        {"Essex", "E23000028"},
        {"Thames Valley", "E23000029"},
        {"Hampshire", "E23000030"},
        {"Surrey", "E23000031"},
        {"Kent", "E23000032"},
        {"Sussex", "E23000033"},
        {"London, City of", "E23000034"},
        {"Devon and Cornwall", "E23000035"},
        {"Avon and Somerset", "E23000036"},
        {"Gloucestershire", "E23000037"},
        {"Wiltshire", "E23000038"},
        {"Dorset", "E23000039"},
        {"British Transport Police", "BTP"},
        {"Action Fraud", "ACTION-FRAUD"},
        {"CIFAS", "CIFAS"},
        {"UK Finance", "UK-FINANCE"},
        {"Dorset Police", "E23000039"},
};
#define NFORCES  (sizeof(forces) / sizeof(forces[0]))
#define NENGLISH 39

/*
 * Counts its calls, and answers in a buffer it overwrites, so a parser
 * that kept the pointer instead of copying would show it.
 */
struct resolver {
	unsigned calls;
	char     buf[32];
};

static const char *
resolve(void *arg, const char *name)
{
	struct resolver *rs = arg;
	rs->calls++;
	memset(rs->buf, 'X', sizeof(rs->buf) - 1);
	for (size_t i = 0; i < NFORCES; i++) {
		if (strcmp(forces[i].name, name) == 0) {
			snprintf(rs->buf, sizeof(rs->buf), "%s",
			         forces[i].code);
			return (rs->buf);
		}
	}
	return (NULL);
}

/* The file in a buffer of exactly its size (NULL when absent). */
static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long  n;

	if (fp == NULL) {
		return (NULL);
	}
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((n = ftell(fp)) >= 0);
	rewind(fp);
	assert_non_null(buf = malloc(n > 0 ? (size_t)n : 1));
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return (buf);
}

typedef struct {
	char  *s;
	size_t len, cap;
} text;

static void putf(text *t, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
putf(text *t, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		assert_non_null(t->s = realloc(t->s, t->cap));
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Everything od_parse() reported, in the .expected files' format. */
static char *
dump(int rc, const od_file *f)
{
	text t = {0};

	putf(&t, "rc %d\nrows %zu\nbad %zu\n", rc, f->nrows, f->nbad);
	for (size_t i = 0; i < f->nrows; i++) {
		const od_row *r = &f->rows[i];
		putf(&t, "row %u|%u/%02u Q%u|%s|%s|%s|%s|%s|%s|%llu\n",
		     r->line, r->year, (r->year + 1) % 100, r->quarter,
		     r->area, r->force, r->description, r->group, r->subgroup,
		     r->code, (unsigned long long)r->count);
	}
	for (size_t i = 0; i < f->nerrors; i++) {
		putf(&t, "error %s\n", f->errors[i]);
	}
	return (t.s);
}

static int
by_name(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * Compares got with the .expected file at path, whose lines starting with
 * '#' are comments, and prints the first difference with its line number
 * in that file. Returns 0 when they agree.
 */
static int
compare(const char *path, const char *got)
{
	size_t   len;
	char    *want = read_file(path, &len);
	unsigned line = 0;
	size_t   i    = 0;
	int      rv   = 0;

	if (want == NULL) {
		printf("%s is missing\n", path);
		return (1);
	}
	while (i < len || *got != '\0') {
		const char *nl =
		        i < len ? memchr(want + i, '\n', len - i) : NULL;
		size_t end  = nl ? (size_t)(nl - want) : len;
		size_t glen = strcspn(got, "\n");
		line++;
		if (i < len && want[i] == '#') {
			i = end + 1;
			continue;
		}
		if (i >= len || glen != end - i ||
		    memcmp(got, want + i, glen) != 0) {
			printf("%s line %u:\n  expected: %.*s\n  got:      "
			       "%.*s\n",
			       path, line, (int)(i < len ? end - i : 0),
			       i < len ? want + i : "", (int)glen, got);
			rv = 1;
			break;
		}
		got += glen + (got[glen] == '\n');
		i = end + 1;
	}
	free(want);
	return (rv);
}

static void
test_fixtures(void **state)
{
	DIR           *d = opendir(FIXTURES);
	struct dirent *e;
	char          *names[256];
	size_t         n = 0, failed = 0, good = 0, bad = 0;
	(void)state;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".csv") == 0) {
			assert_true(n < sizeof(names) / sizeof(names[0]));
			names[n] = malloc(len - 3);
			assert_non_null(names[n]);
			memcpy(names[n], e->d_name, len - 4);
			names[n++][len - 4] = '\0';
		}
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		char            path[512];
		size_t          len;
		struct resolver rs = {0};
		od_file         f;
		snprintf(path, sizeof(path), "%s/%s.csv", FIXTURES, names[i]);
		char *buf = read_file(path, &len);
		assert_non_null(buf);
		int rc = od_parse(buf, len, resolve, &rs, &f);
		free(buf);
		char *got = dump(rc, &f);
		snprintf(path, sizeof(path), "%s/%s.expected", FIXTURES,
		         names[i]);
		failed += (size_t)compare(path, got);
		good += f.nbad == 0 && rc == 0;
		bad += f.nbad != 0 || rc != 0;
		free(got);
		od_file_free(&f);
		free(names[i]);
	}
	printf("%zu fixtures: %zu good, %zu bad\n", n, good, bad);
	assert_int_equal(failed, 0);
	/* An emptied folder must not pass quietly. */
	assert_true(good >= 5 && bad >= 10);
}

static od_file
parse_fixture(const char *name, struct resolver *rs)
{
	char    path[512];
	size_t  len;
	od_file f;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	char *buf = read_file(path, &len);
	assert_non_null(buf);
	assert_int_equal(od_parse(buf, len, resolve, rs, &f), 0);
	free(buf);
	return (f);
}

/*
 * Strings are the file's own: copied from the resolver's answer, and
 * shared between rows, so equal strings are one pointer. Codes are kept
 * as written ("4.1" and "4.10" differ).
 */
static void
test_strings(void **state)
{
	struct resolver rs = {0};
	(void)state;

	od_file f = parse_fixture("good-basic.csv", &rs);
	assert_int_equal(f.nrows, 8);
	assert_int_equal(f.nbad, 0);
	/* Four distinct force names, each resolved once. */
	assert_int_equal(rs.calls, 4);
	const od_row *r = f.rows;
	assert_string_equal(r[0].area, "E23000039");
	assert_ptr_not_equal(r[0].area, rs.buf);
	assert_ptr_equal(r[0].area, r[1].area);
	assert_ptr_equal(r[0].force, r[4].force);
	assert_ptr_equal(r[0].description, r[4].description);
	assert_ptr_equal(r[0].code, r[4].code);
	assert_ptr_equal(r[2].group, r[3].group);
	assert_string_equal(r[2].code, "4.1");
	assert_string_equal(r[3].code, "4.10");
	assert_string_equal(r[1].description,
	                    "Public fear, alarm or distress");
	assert_string_equal(r[5].force, "London, City of");
	od_file_free(&f);
	/* Freeing zeroes, so freeing again is harmless. */
	assert_null(f.rows);
	od_file_free(&f);
	od_file_free(NULL);
}

static void
test_not_a_file(void **state)
{
	struct resolver rs = {0};
	od_file         f;
	(void)state;

	assert_int_equal(od_parse(NULL, 0, resolve, &rs, &f), -1);
	assert_int_equal(f.nerrors, 1);
	assert_int_equal(f.nbad, 0);
	assert_string_equal(f.errors[0],
	                    "line 1: expected the header \"" OD_HEADER
	                    "\"; the file is empty");
	od_file_free(&f);

	/* Binary junk fails on its header, whatever it holds. */
	char junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++) {
		junk[i] = (char)(i * 7919 % 251);
	}
	assert_int_equal(od_parse(junk, sizeof(junk), resolve, &rs, &f), -1);
	assert_int_equal(f.nerrors, 1);
	assert_int_equal(
	        strncmp(f.errors[0], "line 1: expected the header", 27), 0);
	od_file_free(&f);
}

/* Every bad line counts; the first OD_MAX_ERRORS get a message. */
static void
test_error_cap(void **state)
{
	text            t  = {0};
	struct resolver rs = {0};
	od_file         f;
	(void)state;

	putf(&t, "%s\n", OD_HEADER);
	for (unsigned i = 0; i < 1500; i++) {
		putf(&t, "2024/25,%u,Gotham,Offence,Group,Subgroup,C%u,1\n",
		     i % 4 + 1, i);
		putf(&t, "2024/25,%u,Dorset,Offence,Group,Subgroup,C%u,1\n",
		     i % 4 + 1, i);
	}
	assert_int_equal(od_parse(t.s, t.len, resolve, &rs, &f), 0);
	assert_int_equal(f.nrows, 1500);
	assert_int_equal(f.nbad, 1500);
	assert_int_equal(f.nerrors, OD_MAX_ERRORS);
	assert_string_equal(
	        f.errors[0],
	        "line 2: Force Name 'Gotham' is not a known force");
	assert_string_equal(
	        f.errors[OD_MAX_ERRORS - 1],
	        "line 2000: Force Name 'Gotham' is not a known force");
	/* An unknown name is asked about once, like a known one. */
	assert_int_equal(rs.calls, 2);
	od_file_free(&f);
	free(t.s);
}

/*
 * A table the size of every year since 2012/13 (13 years, 39 forces,
 * 144 codes, by quarter), with duplicates of its first and a middle row at
 * the end: the duplicate check must find them without a scan per row.
 */
static void
test_whole_table(void **state)
{
	text            t  = {0};
	struct resolver rs = {0};
	od_file         f;
	struct timespec t0, t1;
	size_t          n = 0;
	(void)state;

	putf(&t, "%s\n", OD_HEADER);
	for (unsigned y = 2012; y <= 2024; y++) {
		for (unsigned q = 1; q <= 4; q++) {
			for (size_t i = 0; i < NENGLISH; i++) {
				for (unsigned c = 0; c < 144; c++) {
					putf(&t,
					     "%u/%02u,%u,\"%s\",Offence "
					     "number "
					     "%u,Group %u,Subgroup "
					     "%u,%u%c,%u\n",
					     y, (y + 1) % 100, q,
					     forces[i].name, c, c % 10, c % 30,
					     c / 2, c % 2 ? 'A' : 'B',
					     (unsigned)(n++ % 997));
				}
			}
		}
	}
	putf(&t, "2012/13,1,\"Metropolitan Police\",Offence number 0,"
	         "Group 0,Subgroup 0,0B,5\n");
	putf(&t, "2018/19,3,Dorset,Offence number 77,Group 7,Subgroup 17,"
	         "38A,5\n");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(od_parse(t.s, t.len, resolve, &rs, &f), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%zu rows, %.1f MB: %.1f ms\n", n, t.len / 1e6,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

	assert_int_equal(f.nrows, n);
	assert_int_equal(f.nbad, 2);
	assert_int_equal(f.nerrors, 2);
	char want[256];
	snprintf(want, sizeof(want),
	         "line %zu: same force, code and quarter as line 2 "
	         "(Metropolitan Police, 0B, 2012/13 Q1)",
	         n + 2);
	assert_string_equal(f.errors[0], want);
	/* 2018/19 Q3 is the 27th quarter; Dorset the 39th force. */
	size_t first = 2 + ((6 * 4 + 2) * NENGLISH + 38) * 144 + 77;
	snprintf(want, sizeof(want),
	         "line %zu: same force, code and quarter as line %zu "
	         "(Dorset, 38A, 2018/19 Q3)",
	         n + 3, first);
	assert_string_equal(f.errors[1], want);
	assert_string_equal(f.rows[first - 2].code, "38A");
	assert_int_equal(rs.calls, NENGLISH);
	od_file_free(&f);
	free(t.s);
}

/* The real tables, read in place. */
static od_file
parse_shared(const char *path, struct resolver *rs)
{
	size_t  len;
	od_file f;
	char   *buf = read_file(path, &len);

	if (buf == NULL) {
		fail_msg("%s went missing", path);
	}
	assert_int_equal(od_parse(buf, len, resolve, rs, &f), 0);
	free(buf);
	for (size_t i = 0; i < f.nerrors && i < 10; i++) {
		printf("%s\n", f.errors[i]);
	}
	return (f);
}

/*
 * Totals computed independently with Python's csv module:
 *   r = list(csv.DictReader(open(path, encoding="utf-8-sig")))
 *   sum(int(x["Number of Offences"]) for x in r
 *       if x["Financial Quarter"] == q)
 * and likewise for the code and force totals. The shoplifting, Met and
 * Dorset 88A figures are also those the data folder's README states.
 */
static void
test_england(void **state)
{
	struct resolver rs = {0};
	struct timespec t0, t1;
	(void)state;

	size_t len;
	char  *buf = read_file(ENGLAND, &len);
	assert_non_null(buf);
	od_file f;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(od_parse(buf, len, resolve, &rs, &f), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(buf);
	printf("%zu rows: %.1f ms\n", f.nrows,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

	assert_int_equal(f.nbad, 0);
	assert_int_equal(f.nerrors, 0);
	assert_int_equal(f.nrows, 22464);
	assert_int_equal(rs.calls, NENGLISH);

	static const uint64_t quarter[4] = {1282415, 1288370, 1229793,
	                                    1165901};
	uint64_t              q[4] = {0}, shop = 0, met = 0, all = 0;
	uint64_t              dorset[4]   = {0};
	unsigned              dorset_rows = 0;
	for (size_t i = 0; i < f.nrows; i++) {
		const od_row *r = &f.rows[i];
		assert_int_equal(r->year, 2024);
		q[r->quarter - 1] += r->count;
		all += r->count;
		if (strcmp(r->code, "46") == 0) {
			shop += r->count;
		}
		if (strcmp(r->area, "E23000001") == 0) {
			met += r->count;
		}
		if (strcmp(r->area, "E23000039") == 0 &&
		    strcmp(r->code, "88A") == 0) {
			dorset[r->quarter - 1] = r->count;
			dorset_rows++;
			assert_string_equal(r->description, "Sexual grooming");
			assert_string_equal(r->group, "Sexual offences");
			assert_string_equal(r->subgroup,
			                    "Other sexual offences");
		}
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(q[i], quarter[i]);
	}
	assert_int_equal(all, 4966479);
	assert_int_equal(dorset_rows, 4);
	assert_int_equal(dorset[0], 10);
	assert_int_equal(dorset[1], 12);
	assert_int_equal(dorset[2], 14);
	assert_int_equal(dorset[3], 28);
	assert_int_equal(shop, 500896);
	assert_int_equal(met, 943924);
	/* The first row and the last, as the file has them. */
	assert_int_equal(f.rows[0].line, 2);
	assert_string_equal(f.rows[0].force, "Avon and Somerset");
	assert_string_equal(f.rows[0].code, "80");
	assert_int_equal(f.rows[f.nrows - 1].line, 22465);
	assert_string_equal(f.rows[f.nrows - 1].force, "Wiltshire");
	assert_int_equal(f.rows[f.nrows - 1].count, 0);

	/* The separate South West 88A file agrees row for row. */
	od_file sw = parse_shared(SW88A, &rs);
	assert_int_equal(sw.nbad, 0);
	assert_true(sw.nrows > 0);
	for (size_t i = 0; i < sw.nrows; i++) {
		const od_row *s     = &sw.rows[i];
		size_t        found = 0;
		for (size_t j = 0; j < f.nrows; j++) {
			const od_row *r = &f.rows[j];
			if (strcmp(r->area, s->area) == 0 &&
			    strcmp(r->code, s->code) == 0 &&
			    r->year == s->year && r->quarter == s->quarter) {
				assert_int_equal(r->count, s->count);
				found++;
			}
		}
		assert_int_equal(found, 1);
	}
	od_file_free(&sw);
	od_file_free(&f);
}

static void
test_national(void **state)
{
	struct resolver rs = {0};
	(void)state;

	od_file f = parse_shared(NATIONAL, &rs);
	assert_int_equal(f.nbad, 0);
	assert_int_equal(f.nrows, 588);
	assert_int_equal(rs.calls, 4);

	static const uint64_t quarter[4] = {342343, 324640, 345353, 351014};
	uint64_t              q[4]       = {0};
	unsigned              btp = 0, af = 0, cifas = 0, ukf = 0;
	for (size_t i = 0; i < f.nrows; i++) {
		const od_row *r = &f.rows[i];
		q[r->quarter - 1] += r->count;
		btp += strcmp(r->area, "BTP") == 0;
		af += strcmp(r->area, "ACTION-FRAUD") == 0 &&
		      strcmp(r->code, "AF") == 0;
		cifas += strcmp(r->area, "CIFAS") == 0 &&
		         strcmp(r->code, "CIFAS") == 0;
		ukf += strcmp(r->area, "UK-FINANCE") == 0 &&
		       strcmp(r->code, "UK Finance") == 0;
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(q[i], quarter[i]);
	}
	assert_int_equal(btp, 576);
	assert_int_equal(af, 4);
	assert_int_equal(cifas, 4);
	assert_int_equal(ukf, 4);
	od_file_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixtures),
	        cmocka_unit_test(test_strings),
	        cmocka_unit_test(test_not_a_file),
	        cmocka_unit_test(test_error_cap),
	        cmocka_unit_test(test_whole_table),
	};
	const struct CMUnitTest shared[] = {
	        cmocka_unit_test(test_england),
	        cmocka_unit_test(test_national),
	};
	const char *need[] = {ENGLAND, NATIONAL, SW88A};
	int         rv;

	if ((rv = cmocka_run_group_tests_name("opendata", tests, NULL,
	                                      NULL)) != 0) {
		return (rv);
	}
	/* Without the real tables the run is a skip, never a pass. */
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (access(need[i], R_OK) != 0) {
			printf("skipped: the real-data tests need %s\n",
			       need[i]);
			return (77);
		}
	}
	return (cmocka_run_group_tests_name("opendata (real data)", shared,
	                                    NULL, NULL));
}
