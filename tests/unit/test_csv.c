/*
 * The CSV reader: RFC 4180 quoting, line ends, line numbers, and what it
 * does with malformed input (report the record, carry on at the next
 * line, never read past the buffer, never allocate without bound).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"

typedef struct {
	char  *s;
	size_t len, cap;
} text;

static void
put(text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s   = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void putf(text *t, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
putf(text *t, const char *fmt, ...)
{
	char    buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(buf));
	put(t, buf, (size_t)n);
}

/*
 * Reads all of buf[0..len) and writes what the reader saw, one line per
 * record: "<line>[field][field]" with CR and LF shown as \r and \n, or
 * "<line>!<error>". The input is copied to a buffer of exactly len bytes
 * so that a read past its end trips the sanitizers and valgrind.
 */
static char *
read_all(const char *in, size_t len)
{
	char              *buf = malloc(len ? len : 1);
	csv_reader        *r;
	const char *const *f;
	size_t             nf;
	unsigned           line, last = 0;
	int                rc;
	text               out = {0};

	assert_non_null(buf);
	memcpy(buf, in, len);
	assert_int_equal(csv_open(&r, buf, len), 0);
	put(&out, "", 0);
	while ((rc = csv_next(r, &nf, &f, &line)) != 0) {
		/* Records start on strictly increasing lines. */
		assert_true(line > last);
		last = line;
		if (rc < 0) {
			assert_int_equal(rc, -1);
			assert_int_equal(nf, 0);
			putf(&out, "%u!%s\n", line, csv_error(r));
			continue;
		}
		assert_true(nf >= 1 && nf <= CSV_MAX_FIELDS);
		putf(&out, "%u", line);
		for (size_t i = 0; i < nf; i++) {
			assert_int_equal(csv_lengths(r)[i], strlen(f[i]));
			put(&out, "[", 1);
			for (const char *p = f[i]; *p != '\0'; p++) {
				if (*p == '\n') {
					put(&out, "\\n", 2);
				} else if (*p == '\r') {
					put(&out, "\\r", 2);
				} else {
					put(&out, p, 1);
				}
			}
			put(&out, "]", 1);
		}
		put(&out, "\n", 1);
	}
	/* The end stays the end. */
	assert_int_equal(csv_next(r, &nf, &f, &line), 0);
	csv_close(r);
	free(buf);
	return (out.s);
}

static void
assert_prefix(const char *got, const char *want)
{
	if (strncmp(got, want, strlen(want)) != 0) {
		fail_msg("expected to start with:\n%sgot:\n%.400s", want, got);
	}
}

#define CASE(in, out)                                                         \
	{                                                                     \
		in, sizeof(in) - 1, out                                       \
	}

static const struct {
	const char *in;
	size_t      len;
	const char *out;
} cases[] = {
        CASE("", ""),
        CASE("a,b,c", "1[a][b][c]\n"),
        CASE("a,b\n", "1[a][b]\n"),
        CASE("a,b\r\nc,d\r\n", "1[a][b]\n2[c][d]\n"),
        CASE("a\nb\r\nc", "1[a]\n2[b]\n3[c]\n"),
        /* A lone CR ends a line too, as old spreadsheets write them. */
        CASE("a\rb\r", "1[a]\n2[b]\n"),
        CASE("\xEF\xBB\xBF"
             "a,b\n",
             "1[a][b]\n"),
        CASE("\xEF\xBB\xBF", ""),
        /* Only a BOM at the very start is one. */
        CASE("x\n\xEF\xBB\xBF"
             "a",
             "1[x]\n2[\xEF\xBB\xBF"
             "a]\n"),
        CASE("\xEF\xBB", "1[\xEF\xBB]\n"),
        /* Blank lines are records of one empty field. */
        CASE("\n\n", "1[]\n2[]\n"),
        CASE("a\r\n\r\nb", "1[a]\n2[]\n3[b]\n"),
        CASE("a,\n", "1[a][]\n"),
        CASE(",", "1[][]\n"),
        CASE(" a , b ", "1[ a ][ b ]\n"),
        /* Quoting. */
        CASE("\"a,b\",c\n", "1[a,b][c]\n"),
        CASE("\"Public fear, alarm or distress\",9A",
             "1[Public fear, alarm or distress][9A]\n"),
        CASE("\"a\"\"b\"\n", "1[a\"b]\n"),
        CASE("\"\"\"\"", "1[\"]\n"),
        CASE("\"\",\"\"\n", "1[][]\n"),
        CASE("\"x\"", "1[x]\n"),
        CASE("\"a\"\r\nb", "1[a]\n2[b]\n"),
        CASE("\"a\nb\",c\nd\n", "1[a\\nb][c]\n3[d]\n"),
        CASE("\"a\r\nb\"\r\nc", "1[a\\r\\nb]\n3[c]\n"),
        CASE("\"a\rb\"\nc", "1[a\\rb]\n3[c]\n"),
        CASE("\"\n\n\n\"\nz", "1[\\n\\n\\n]\n5[z]\n"),
        /* Malformed records are reported, and reading goes on. */
        CASE("a\"b,c\nd\n", "1!field 1: quote in unquoted field\n2[d]\n"),
        CASE(" \"a\"\nd", "1!field 1: quote in unquoted field\n2[d]\n"),
        CASE("x,\"a\"b,c\nd\n", "1!field 2: text after closing quote\n2[d]\n"),
        CASE("\"a\" \nd", "1!field 1: text after closing quote\n2[d]\n"),
        CASE("ok\n\"abc", "1[ok]\n2!field 1: quote never closed\n"),
        CASE("ok\n\"abc\n", "1[ok]\n2!field 1: quote never closed\n"),
        CASE("a,b,\"c\r\n", "1!field 3: quote never closed\n"),
        /* A missing closing quote swallows the lines after it until the
         * next quote; those lines are read again on their own. */
        CASE("\"abc\nd,e\nf\n",
             "1!field 1: quote never closed\n2[d][e]\n3[f]\n"),
        CASE("1,\"abc\n2,x\n3,\"q, r\",s\n4\n",
             "1!field 2: text after closing quote (on line 3)\n2[2][x]\n"
             "3[3][q, r][s]\n4[4]\n"),
        CASE("a,\"b\nc\"x\nd\n",
             "1!field 2: text after closing quote (on line 2)\n"
             "2!field 1: quote in unquoted field\n3[d]\n"),
        CASE("a\0b,c\nd", "1!field 1: NUL byte\n2[d]\n"),
        CASE("\"a\0b\"\nd", "1!field 1: NUL byte\n2[d]\n"),
        CASE("\"a\"\0\nd", "1!field 1: text after closing quote\n2[d]\n"),
        CASE("a\n\0", "1[a]\n2!field 1: NUL byte\n"),
        CASE("a,b\n\"c\r\n\"\"\r\nd\"\r\ne,f\r\n",
             "1[a][b]\n2[c\\r\\n\"\\r\\nd]\n5[e][f]\n"),
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = read_all(cases[i].in, cases[i].len);
		if (strcmp(got, cases[i].out) != 0) {
			fail_msg("case %zu:\nexpected:\n%sgot:\n%s", i,
			         cases[i].out, got);
		}
		free(got);
	}
}

/* Builds n copies of unit, then tail. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail,
       size_t *len)
{
	text t = {0};
	put(&t, head, strlen(head));
	for (size_t i = 0; i < n; i++) {
		put(&t, unit, strlen(unit));
	}
	put(&t, tail, strlen(tail));
	*len = t.len;
	return (t.s);
}

static void
test_field_count(void **state)
{
	size_t len;
	char  *in, *got;
	(void)state;

	/* 64 fields are fine, 65 are not; the next line still reads. */
	in  = repeat("x", ",x", CSV_MAX_FIELDS - 1, "\ny\n", &len);
	got = read_all(in, len);
	assert_prefix(got, "1[x][x]");
	assert_non_null(strstr(got, "\n2[y]\n"));
	free(in);
	free(got);

	in  = repeat("x", ",x", CSV_MAX_FIELDS, "\ny\n", &len);
	got = read_all(in, len);
	assert_string_equal(got, "1!more than 64 fields\n2[y]\n");
	free(in);
	free(got);

	/* Thousands of commas cost one error, not thousands. */
	in  = repeat("", ",", 100000, "\ny", &len);
	got = read_all(in, len);
	assert_string_equal(got, "1!more than 64 fields\n2[y]\n");
	free(in);
	free(got);
}

static void
test_field_length(void **state)
{
	size_t len;
	char  *in, *got;
	text   want = {0};
	(void)state;

	in  = repeat("", "x", CSV_MAX_FIELD, "\ny", &len);
	got = read_all(in, len);
	put(&want, "1[", 2);
	put(&want, in, CSV_MAX_FIELD);
	put(&want, "]\n2[y]\n", 7);
	assert_string_equal(got, want.s);
	free(in);
	free(got);
	free(want.s);

	in  = repeat("", "x", CSV_MAX_FIELD + 1, "\ny", &len);
	got = read_all(in, len);
	assert_string_equal(got, "1!field 1: longer than 65536 bytes\n2[y]\n");
	free(in);
	free(got);

	in  = repeat("a,\"", "x", CSV_MAX_FIELD + 1, "\"\ny", &len);
	got = read_all(in, len);
	assert_string_equal(
	        got,
	        "1!field 2: quoted field longer than 65536 bytes\n2[y]\n");
	free(in);
	free(got);

	/* A quote left open in a long file gives up after the bound and
	 * the lines after it are read on their own. */
	in  = repeat("\"abc\n", "xxxxxxx\n", 20000, "", &len);
	got = read_all(in, len);
	assert_prefix(got, "1!field 1: quoted field longer than 65536 bytes\n"
	                   "2[xxxxxxx]\n3[xxxxxxx]\n");
	assert_non_null(strstr(got, "\n20001[xxxxxxx]\n"));
	free(in);
	free(got);
}

/* The largest record: every field at the bound, read whole. */
static void
test_largest_record(void **state)
{
	text t = {0};
	(void)state;

	char *field = malloc(CSV_MAX_FIELD);
	assert_non_null(field);
	memset(field, 'z', CSV_MAX_FIELD);
	for (size_t i = 0; i < CSV_MAX_FIELDS; i++) {
		put(&t, i ? "," : "", i ? 1 : 0);
		put(&t, field, CSV_MAX_FIELD);
	}
	put(&t, "\nend", 4);

	csv_reader        *r;
	const char *const *f;
	size_t             nf;
	unsigned           line;
	assert_int_equal(csv_open(&r, t.s, t.len), 0);
	assert_int_equal(csv_next(r, &nf, &f, &line), 1);
	assert_int_equal(nf, CSV_MAX_FIELDS);
	for (size_t i = 0; i < nf; i++) {
		assert_int_equal(csv_lengths(r)[i], CSV_MAX_FIELD);
		assert_memory_equal(f[i], field, CSV_MAX_FIELD);
	}
	assert_int_equal(csv_next(r, &nf, &f, &line), 1);
	assert_int_equal(line, 2);
	assert_string_equal(f[0], "end");
	assert_int_equal(csv_next(r, &nf, &f, &line), 0);
	csv_close(r);
	free(field);
	free(t.s);
}

/* Every bad line is reported, each once, with its own number. */
static void
test_many_bad_lines(void **state)
{
	size_t len;
	(void)state;

	char *in  = repeat("", "a\"\n", 10000, "", &len);
	char *got = read_all(in, len);
	char *p   = got;
	for (unsigned i = 1; i <= 10000; i++) {
		char want[64];
		int  n = snprintf(want, sizeof(want),
		                  "%u!field 1: quote in unquoted field\n", i);
		assert_int_equal(strncmp(p, want, (size_t)n), 0);
		p += n;
	}
	assert_string_equal(p, "");
	free(in);
	free(got);

	/* Lines that each open a quote close the one before: still one
	 * report per line, in linear time. */
	in  = repeat("", "\"a\n", 10000, "", &len);
	got = read_all(in, len);
	assert_prefix(got,
	              "1!field 1: text after closing quote (on line 2)\n"
	              "2!field 1: text after closing quote (on line 3)\n");
	assert_non_null(strstr(got, "\n9999!field 1: text after closing "
	                            "quote (on line 10000)\n"
	                            "10000!field 1: quote never closed\n"));
	free(in);
	free(got);
}

static void
test_api_edges(void **state)
{
	csv_reader        *r;
	const char *const *f;
	size_t             nf = 7;
	unsigned           line;
	(void)state;

	csv_close(NULL);
	assert_int_equal(csv_open(&r, NULL, 0), 0);
	assert_string_equal(csv_error(r), "");
	assert_int_equal(csv_next(r, &nf, &f, &line), 0);
	assert_int_equal(nf, 0);
	assert_null(f);
	csv_close(r);

	/* Fields stay put until the next call, which reuses the space. */
	const char in[] = "a,b\nc,d\n";
	assert_int_equal(csv_open(&r, in, sizeof(in) - 1), 0);
	assert_int_equal(csv_next(r, &nf, &f, &line), 1);
	const char *a = f[0];
	assert_string_equal(a, "a");
	assert_string_equal(f[1], "b");
	assert_int_equal(csv_next(r, &nf, &f, &line), 1);
	assert_string_equal(f[0], "c");
	assert_int_equal(line, 2);
	csv_close(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cases),
	        cmocka_unit_test(test_field_count),
	        cmocka_unit_test(test_field_length),
	        cmocka_unit_test(test_largest_record),
	        cmocka_unit_test(test_many_bad_lines),
	        cmocka_unit_test(test_api_edges),
	};
	return (cmocka_run_group_tests_name("csv", tests, NULL, NULL));
}
