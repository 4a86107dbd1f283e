/*
 * Tokens: the file's lines old and new, expiry, and the times it holds.
 * Hashes are SHA-256 of the test tokens below (Python's hashlib), so the
 * file can be written by hand as an operator's tools would.
 */
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

#include "auth.h"

#define TOKEN_A                                                               \
	"ost_0000002a_"                                                       \
	"5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"
#define HASH_A                                                                \
	"b4db1ae049e5861741586833e50a2c73811ca66882aaf739992de4ebfb5f7209"
#define TOKEN_B                                                               \
	"ost_0000beef_"                                                       \
	"abababababababababababababababababababababababababababababababab"
#define HASH_B                                                                \
	"94f4aaa5cfe07dbfb603b4c56e2afb9c278252cdd10eb1d8134770a70d7c5b6a"

static char dir[64], path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/offstat-auth-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(path, sizeof(path), "%s/tokens", dir);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return (0);
}

static void
write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* What auth_check answers for token against the file now on disk. */
static int
check(const char *token)
{
	char  err[256], value[128];
	auth *a;
	int   role;

	assert_int_equal(auth_open(&a, path, err, sizeof(err)), 0);
	snprintf(value, sizeof(value), "Bearer %s", token);
	role = auth_check(a, value);
	auth_close(a);
	return (role);
}

/* The `token list` line of id, with the header checked. */
static void
list_line(const char *id, char *out, size_t len)
{
	char   err[256], *text = NULL, *p;
	size_t n   = 0;
	FILE  *mem = open_memstream(&text, &n);

	assert_non_null(mem);
	assert_int_equal(auth_list(path, mem, err, sizeof(err)), 0);
	fclose(mem);
	assert_true(strncmp(text, "ID ", 3) == 0);
	assert_non_null(strstr(text, "EXPIRES"));
	p = strstr(text, id);
	assert_non_null(p);
	snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
	free(text);
}

static void
test_old_lines(void **state)
{
	char line[256];
	(void)state;
	/* Written before tokens could expire: the label follows created. */
	write_file("# offstat tokens: id role sha256 created label\n"
	           "0000002a writer " HASH_A " 2026-01-01T00:00:00Z nightly "
	           "loader\n"
	           "0000beef reader " HASH_B " 2026-01-01T00:00:00Z\n");
	assert_int_equal(check(TOKEN_A), AUTH_WRITER);
	assert_int_equal(check(TOKEN_B), AUTH_READER);
	list_line("0000002a", line, sizeof(line));
	assert_non_null(strstr(line, " never "));
	assert_non_null(strstr(line, "nightly loader"));
	/* Under the old header, a label that starts with a date or "never"
	 * is still a label. */
	write_file("# offstat tokens: id role sha256 created label\n"
	           "0000002a writer " HASH_A " 2026-01-01T00:00:00Z "
	           "2026-01-01 loads\n"
	           "0000beef reader " HASH_B " 2026-01-01T00:00:00Z "
	           "never again\r\n");
	assert_int_equal(check(TOKEN_A), AUTH_WRITER);
	list_line("0000002a", line, sizeof(line));
	assert_non_null(strstr(line, " never "));
	assert_non_null(strstr(line, "2026-01-01 loads"));
	assert_int_equal(check(TOKEN_B), AUTH_READER);
	list_line("0000beef", line, sizeof(line));
	assert_non_null(strstr(line, "never again"));
	assert_null(strchr(line, '\r'));
}

/* A file whose expiry cannot be read is refused, never read as a token
 * that does not expire. */
static void
test_bad_expiry(void **state)
{
	static const char *const files[] = {
	        /* No header: a first word that starts like a time is one. */
	        "0000002a writer " HASH_A " 2026-01-01T00:00:00Z 2027-03-31\n",
	        "0000002a writer " HASH_A " 2026-01-01T00:00:00Z "
	        "2027-02-30T00:00:00Z x\n",
	        "0000002a writer " HASH_A " 2026-01-01T00:00:00Z "
	        "1970-01-01T00:00:00Z x\n",
	        /* The new header: the word must be "never" or a time. */
	        "# offstat tokens: id role sha256 created expires label\n"
	        "0000002a writer " HASH_A " 2026-01-01T00:00:00Z loader\n",
	        "# offstat tokens: id role sha256 created expires label\n"
	        "0000002a writer " HASH_A " 2026-01-01T00:00:00Z\n",
	};
	char  err[256];
	auth *a;
	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		write_file(files[i]);
		err[0] = '\0';
		if (auth_open(&a, path, err, sizeof(err)) == 0) {
			auth_close(a);
			fail_msg("file %zu was accepted", i);
		}
		assert_non_null(strstr(err, "expires"));
	}
	/* Without a header, a label that does not start like a time is a
	 * label, and a CRLF line's expiry is read. */
	write_file("0000002a writer " HASH_A " 2026-01-01T00:00:00Z "
	           "2020-01-01T00:00:00Z\r\n"
	           "0000beef reader " HASH_B
	           " 2026-01-01T00:00:00Z loader 2\n");
	assert_int_equal(check(TOKEN_A), AUTH_EXPIRED);
	assert_int_equal(check(TOKEN_B), AUTH_READER);
}

static void
test_expiry(void **state)
{
	char  line[256], err[256];
	auth *a;
	(void)state;
	write_file("0000002a writer " HASH_A " 2019-01-01T00:00:00Z "
	           "2020-01-01T00:00:00Z old loader\n"
	           "0000beef reader " HASH_B " 2026-01-01T00:00:00Z "
	           "2999-01-01T00:00:00Z far off\n");
	assert_int_equal(check(TOKEN_A), AUTH_EXPIRED);
	assert_int_equal(check(TOKEN_B), AUTH_READER);
	list_line("0000002a", line, sizeof(line));
	assert_non_null(strstr(line, "2020-01-01T00:00:00Z (expired)"));
	assert_non_null(strstr(line, "old loader"));
	list_line("0000beef", line, sizeof(line));
	assert_non_null(strstr(line, "2999-01-01T00:00:00Z "));
	assert_null(strstr(line, "(expired)"));
	/* An expired token counts as a failure; a wrong secret for its id is
	 * invalid, not expired (nothing is told about a token not shown). */
	assert_int_equal(auth_open(&a, path, err, sizeof(err)), 0);
	assert_int_equal(auth_check(a, "Bearer " TOKEN_A), AUTH_EXPIRED);
	assert_int_equal(
	        auth_check(a, "Bearer ost_0000002a_"
	                      "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"
	                      "5eed5eed5eed5eed5eee"),
	        AUTH_INVALID);
	assert_int_equal(auth_check(a, "Bearer " TOKEN_B), AUTH_READER);
	assert_int_equal(auth_failures(a), 2);
	auth_close(a);
	/* "never" is written for tokens that do not expire. */
	write_file("0000002a admin " HASH_A
	           " 2026-01-01T00:00:00Z never ops\n");
	assert_int_equal(check(TOKEN_A), AUTH_ADMIN);
	list_line("0000002a", line, sizeof(line));
	assert_non_null(strstr(line, "ops"));
	assert_null(strstr(line, "never ops"));
}

static void
test_add(void **state)
{
	char   token[AUTH_TOKEN_LEN + 1], err[256], line[256], text[1024];
	time_t later = time(NULL) + 3600;
	FILE  *f;
	size_t n;
	(void)state;
	unlink(path);
	assert_int_equal(auth_add(path, AUTH_READER, "past", time(NULL) - 1,
	                          token, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "passed"));
	assert_int_equal(access(path, F_OK), -1); /* nothing written */
	assert_int_equal(auth_add(path, AUTH_WRITER, "an hour", later, token,
	                          err, sizeof(err)),
	                 0);
	assert_int_equal(check(token), AUTH_WRITER);
	assert_int_equal(auth_add(path, AUTH_READER, "for ever", 0, token, err,
	                          sizeof(err)),
	                 0);
	assert_int_equal(check(token), AUTH_READER);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "created expires label"));
	assert_non_null(strstr(text, "Z never for ever\n"));
	auth_time_format(later, line, sizeof(line));
	assert_non_null(strstr(text, line));
}

static void
test_times(void **state)
{
	time_t t;
	char   back[32];
	(void)state;
	assert_int_equal(auth_time_parse("2027-03-31T18:00:00Z", &t), 0);
	auth_time_format(t, back, sizeof(back));
	assert_string_equal(back, "2027-03-31T18:00:00Z");
	/* 0 means "never": the epoch itself is refused. */
	assert_int_equal(auth_time_parse("1970-01-01T00:00:00Z", &t), -1);
	assert_int_equal(auth_time_parse("1970-01-01T00:00:01Z", &t), 0);
	assert_int_equal(t, 1);
	assert_int_equal(auth_time_parse("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(auth_time_parse("2027-02-31T00:00:00Z", &t), -1);
	assert_int_equal(auth_time_parse("2023-02-29T00:00:00Z", &t), -1);
	assert_int_equal(auth_time_parse("2027-03-31T24:00:00Z", &t), -1);
	assert_int_equal(auth_time_parse("2027-03-31T18:00:00", &t), -1);
	assert_int_equal(auth_time_parse("2027-03-31T18:00:00Zx", &t), -1);
	assert_int_equal(auth_time_parse("2027-03-31", &t), -1);
	assert_int_equal(auth_time_parse("1969-12-31T23:59:59Z", &t), -1);
	assert_int_equal(auth_time_parse("+027-03-31T18:00:00Z", &t), -1);
	assert_int_equal(auth_time_parse("", &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_old_lines),
	        cmocka_unit_test(test_expiry),
	        cmocka_unit_test(test_bad_expiry),
	        cmocka_unit_test(test_add),
	        cmocka_unit_test(test_times),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
