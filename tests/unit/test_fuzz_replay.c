/*
 * Replays the fuzz seed corpus and every input fuzzing has found
 * (tests/fuzz/regressions/<target>/) through the fuzz targets' own entry
 * points, without libFuzzer: no crash, and each reply well-formed. A case
 * goes into regressions/ when it is found, before it is fixed.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fuzz/entry.h"

#define FUZZ_DIR OFFSTAT_TEST_DATA "/../fuzz"

typedef const char *(*entry_fn)(const uint8_t *data, size_t size);

/* The file in a malloc'd buffer of exactly its size. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE    *fp = fopen(path, "rb");
	uint8_t *buf;
	long     n;

	if (fp == NULL) {
		return (NULL);
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return (NULL);
	}
	*len = fread(buf, 1, (size_t)n, fp);
	fclose(fp);
	if (*len != (size_t)n) {
		free(buf);
		return (NULL);
	}
	return (buf);
}

/* Feeds every file of FUZZ_DIR/<root>/<name>/ to fn; returns how many. */
static size_t
replay_dir(const char *root, const char *name, entry_fn fn)
{
	char           dir[1024], path[2048];
	DIR           *d;
	struct dirent *e;
	size_t         n = 0;

	snprintf(dir, sizeof(dir), "%s/%s/%s", FUZZ_DIR, root, name);
	if ((d = opendir(dir)) == NULL) {
		return (0);
	}
	while ((e = readdir(d)) != NULL) {
		uint8_t    *buf;
		size_t      len = 0;
		const char *why;

		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		/* Named first: a crash leaves no other trace of which. */
		print_message("%s/%s/%s\n", root, name, e->d_name);
		if ((buf = slurp(path, &len)) == NULL) {
			closedir(d);
			fail_msg("cannot read %s", path);
		}
		why = fn(buf, len);
		free(buf);
		if (why != NULL) {
			closedir(d); /* e goes with it; path holds the name */
			fail_msg("%s: %s", path + strlen(FUZZ_DIR) + 1, why);
		}
		n++;
	}
	closedir(d);
	return (n);
}

/* The seeds must be there (a replay of nothing would prove nothing); the
 * regressions may not be, for a target that has found nothing yet. */
static void
replay(const char *name, entry_fn fn)
{
	size_t seeds = replay_dir("corpus", name, fn);
	size_t found = replay_dir("regressions", name, fn);
	if (seeds == 0) {
		fail_msg("no seed corpus in %s/corpus/%s", FUZZ_DIR, name);
	}
	print_message("%s: %zu seeds, %zu regressions\n", name, seeds, found);
}

static int
setup(void **state)
{
	(void)state;
	return (fuzz_dispatch_init());
}

static int
teardown(void **state)
{
	(void)state;
	fuzz_dispatch_fini();
	return (0);
}

static void
test_dispatch(void **state)
{
	(void)state;
	replay("dispatch", fuzz_dispatch_one);
}

static void
test_methods(void **state)
{
	(void)state;
	replay("methods", fuzz_methods_one);
}

static void
test_csv(void **state)
{
	(void)state;
	replay("csv", fuzz_csv_one);
}

static void
test_opendata(void **state)
{
	(void)state;
	replay("opendata", fuzz_opendata_one);
}

static void
test_tokens(void **state)
{
	(void)state;
	replay("tokens", fuzz_tokens_one);
}

static void
test_period(void **state)
{
	(void)state;
	replay("period", fuzz_period_one);
}

static void
test_import(void **state)
{
	(void)state;
	replay("import", fuzz_import_one);
	fuzz_import_fini();
}

static void
test_config(void **state)
{
	(void)state;
	replay("config", fuzz_config_one);
}

/* The checks themselves: a reply that breaks a rule is caught. */
static void
test_checks_fail(void **state)
{
	(void)state;
	Offstat__V1__RpcResponse r      = OFFSTAT__V1__RPC_RESPONSE__INIT;
	Offstat__V1__RpcStatus   status = OFFSTAT__V1__RPC_STATUS__INIT;
	dispatch_info            info   = {.code = 5, .method = "GetCount"};
	uint8_t                  buf[256];
	size_t                   n;

	r.status       = &status;
	status.code    = OFFSTAT__V1__CODE__NOT_FOUND;
	status.message = "unknown area 'caf\xc3'";
	n              = offstat__v1__rpc_response__pack(&r, buf);
	assert_non_null(fuzz_check_reply(buf, n, &info, NULL));
	status.message = "unknown area";
	r.payload.data = buf;
	r.payload.len  = 1;
	n              = offstat__v1__rpc_response__pack(&r, buf + 128);
	assert_non_null(fuzz_check_reply(buf + 128, n, &info, NULL));
	r.payload.len = 0;
	n             = offstat__v1__rpc_response__pack(&r, buf);
	assert_null(fuzz_check_reply(buf, n, &info, NULL));
	assert_non_null(fuzz_check_reply(buf, n, &info, "other-id"));
	info.code = 3;
	assert_non_null(fuzz_check_reply(buf, n, &info, NULL));
	assert_non_null(fuzz_check_reply("\xff", 1, &info, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_checks_fail),
	        cmocka_unit_test(test_period),
	        cmocka_unit_test(test_tokens),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_import),
	        cmocka_unit_test(test_csv),
	        cmocka_unit_test(test_opendata),
	        cmocka_unit_test(test_methods),
	        cmocka_unit_test(test_dispatch),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
