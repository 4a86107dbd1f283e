/*
 * Ingest over the wire against a real offstatd: releases open, fill,
 * commit and abort; bad batches; idempotent retries; ownership; expiry;
 * reading as of a release, REVISED and series history; and reads that
 * carry on while a large ingest runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"
#include "ingest_util.h"

enum {
	OK        = OFFSTAT__V1__CODE__OK,
	INVALID   = OFFSTAT__V1__CODE__INVALID_ARGUMENT,
	NOT_FOUND = OFFSTAT__V1__CODE__NOT_FOUND,
	DENIED    = OFFSTAT__V1__CODE__PERMISSION_DENIED,
	PRECOND   = OFFSTAT__V1__CODE__FAILED_PRECONDITION,
	UNAUTH    = OFFSTAT__V1__CODE__UNAUTHENTICATED,
};

static harness_server srv;
static char           tokfile[256];
static char           writer[128], writer2[128], admin[128], reader[128];

static int
setup(void **state)
{
	(void)state;
	char dir[] = "/tmp/offstat-ingest-XXXXXX";
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(tokfile, sizeof(tokfile), "%s/tokens", dir);
	if (iu_token(tokfile, "writer", writer, sizeof(writer)) != 0 ||
	    iu_token(tokfile, "writer", writer2, sizeof(writer2)) != 0 ||
	    iu_token(tokfile, "admin", admin, sizeof(admin)) != 0 ||
	    iu_token(tokfile, "reader", reader, sizeof(reader)) != 0) {
		fprintf(stderr, "making tokens failed\n");
		return (-1);
	}
	const char *extra[] = {"--tokens", tokfile, "--ingest-expiry", "600",
	                       "--max-request", "4194304", NULL};
	return (harness_start(&srv, 0, extra));
}

static int
teardown(void **state)
{
	(void)state;
	return (harness_stop(&srv) == 0 ? 0 : -1);
}

static void
row(iu_row *r, const char *force, const char *code, unsigned q, uint64_t n)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->year, sizeof(r->year), "2024/25");
	r->quarter = q;
	snprintf(r->force, sizeof(r->force), "%s", force);
	snprintf(r->description, sizeof(r->description), "Sexual grooming");
	snprintf(r->group, sizeof(r->group), "Sexual offences");
	snprintf(r->subgroup, sizeof(r->subgroup), "Other sexual offences");
	snprintf(r->code, sizeof(r->code), "%s", code);
	r->count = n;
}

static uint64_t
open_release(const char *token, const char *label, const char *key)
{
	Offstat__V1__IngestResponse *resp;
	Offstat__V1__RpcResponse    *r =
	        iu_ingest(srv.url, token, 'o', label, 0, NULL, 0, key, &resp);
	assert_int_equal(iu_code(r), OK);
	assert_non_null(resp);
	assert_int_equal(resp->state, OFFSTAT__V1__RELEASE_STATE__RELEASE_OPEN);
	uint64_t id = resp->release;
	offstat__v1__ingest_response__free_unpacked(resp, NULL);
	assert_true(id > 0);
	return (id);
}

/* Every release, newest first, as the token may see them. */
static Offstat__V1__ListReleasesResponse *
releases(const char *token, bool all, int *code)
{
	Offstat__V1__ListReleasesRequest in =
	        OFFSTAT__V1__LIST_RELEASES_REQUEST__INIT;
	Offstat__V1__ListReleasesResponse *out = NULL;
	in.all                                 = all;
	Offstat__V1__RpcResponse *r =
	        iu_call(srv.url, "ListReleases", &in.base, token, 10000);
	assert_non_null(r);
	*code = r->status != NULL ? (int)r->status->code : 0;
	if (*code == OK) {
		out = offstat__v1__list_releases_response__unpack(
		        NULL, r->payload.len, r->payload.data);
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	return (out);
}

static int
state_of(uint64_t id)
{
	int                                code, st = -1;
	Offstat__V1__ListReleasesResponse *l = releases(admin, true, &code);
	assert_int_equal(code, OK);
	for (size_t i = 0; i < l->n_releases; i++) {
		if (l->releases[i]->id == id) {
			st = l->releases[i]->state;
		}
	}
	offstat__v1__list_releases_response__free_unpacked(l, NULL);
	return (st);
}

static uint64_t
count_of(const char *area, const char *off, unsigned q, uint64_t as_of,
         bool *revised)
{
	uint64_t n = 0;
	bool     present = false, rev = false;
	assert_int_equal(
	        iu_count(srv.url, area, off, 2024, q, as_of, &n, &present,
	                 &rev, NULL),
	        OK);
	assert_true(present);
	if (revised != NULL) {
		*revised = rev;
	}
	return (n);
}

/* Open, a batch, commit: the new figures appear only at the commit, with
 * REVISED; the old release still answers as it was. */
static void
test_lifecycle(void **state)
{
	(void)state;
	Offstat__V1__IngestResponse *resp;
	iu_row                       rows[4];
	bool                         rev;
	uint64_t                     before_rel = 0, n;
	bool                         present;

	assert_int_equal(iu_count(srv.url, "Dorset", "88A", 2024, 4, 0, &n,
	                          &present, &rev, &before_rel),
	                 OK);
	assert_int_equal(n, 28);
	assert_false(rev);

	uint64_t id = open_release(writer, "Dorset corrections", "life-1");
	/* Q1 and Q4 change; Q2 and Q3 are sent as they were. */
	row(&rows[0], "Dorset", "88A", 1, 11);
	row(&rows[1], "Dorset", "88A", 2, 12);
	row(&rows[2], "Dorset", "88A", 3, 14);
	row(&rows[3], "Dorset", "88A", 4, 30);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   rows, 4, "life-2", &resp)),
	                 OK);
	assert_non_null(resp);
	assert_int_equal(resp->rows_accepted, 4);
	assert_int_equal(resp->rows, 4);
	assert_int_equal(resp->changed, 2);
	assert_false(resp->replayed);
	offstat__v1__ingest_response__free_unpacked(resp, NULL);

	/* Not visible before the commit, not even to its writer's reads. */
	assert_int_equal(count_of("Dorset", "88A", 4, 0, NULL), 28);
	int                                code;
	Offstat__V1__ListReleasesResponse *l = releases(NULL, false, &code);
	assert_int_equal(code, OK);
	for (size_t i = 0; i < l->n_releases; i++) {
		assert_int_not_equal(l->releases[i]->id, id);
	}
	offstat__v1__list_releases_response__free_unpacked(l, NULL);
	assert_int_equal(state_of(id), OFFSTAT__V1__RELEASE_STATE__RELEASE_OPEN);

	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'c', NULL, id,
	                                   NULL, 0, "life-3", &resp)),
	                 OK);
	assert_int_equal(resp->state,
	                 OFFSTAT__V1__RELEASE_STATE__RELEASE_COMMITTED);
	assert_int_equal(strtoull(resp->served_release, NULL, 10), id);
	offstat__v1__ingest_response__free_unpacked(resp, NULL);

	uint64_t rel = 0;
	assert_int_equal(iu_count(srv.url, "Dorset", "88A", 2024, 4, 0, &n,
	                          &present, &rev, &rel),
	                 OK);
	assert_int_equal(n, 30);
	assert_true(rev);
	assert_int_equal(rel, id);
	assert_int_equal(count_of("Dorset", "88A", 2, 0, &rev), 12);
	assert_false(rev);
	/* The year sums the quarters: 11 + 12 + 14 + 30. */
	assert_int_equal(count_of("Dorset", "88A", 0, 0, NULL), 67);
	/* As the earlier release left it. */
	assert_int_equal(iu_count(srv.url, "Dorset", "88A", 2024, 4,
	                          before_rel, &n, &present, &rev, &rel),
	                 OK);
	assert_int_equal(n, 28);
	assert_false(rev);
	assert_int_equal(rel, before_rel);
	assert_int_equal(count_of("Dorset", "88A", 0, before_rel, NULL), 64);
	/* A release that does not exist, or is not committed. */
	assert_int_equal(iu_count(srv.url, "Dorset", "88A", 2024, 4, 999999,
	                          &n, &present, &rev, NULL),
	                 NOT_FOUND);

	/* The series with its history: Q4 was 28, then 30. */
	Offstat__V1__GetSeriesRequest sr = OFFSTAT__V1__GET_SERIES_REQUEST__INIT;
	Offstat__V1__Period           f  = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period           t  = OFFSTAT__V1__PERIOD__INIT;
	f.year = t.year = 2024;
	f.quarter       = 1;
	t.quarter       = 4;
	sr.area         = "Dorset";
	sr.offence      = "88A";
	sr.from         = &f;
	sr.to           = &t;
	sr.granularity  = OFFSTAT__V1__GRANULARITY__QUARTERLY;
	sr.history      = true;
	Offstat__V1__RpcResponse *r =
	        iu_call(srv.url, "GetSeries", &sr.base, NULL, 10000);
	assert_non_null(r);
	assert_true(r->status == NULL || (int)r->status->code == (int)OK);
	Offstat__V1__GetSeriesResponse *s =
	        offstat__v1__get_series_response__unpack(NULL, r->payload.len,
	                                                 r->payload.data);
	assert_non_null(s);
	assert_int_equal(s->n_points, 4);
	Offstat__V1__Value *q4 = s->points[3];
	assert_int_equal(q4->count, 30);
	assert_int_equal(q4->n_revisions, 2);
	assert_int_equal(q4->revisions[0]->count, 28);
	assert_int_equal(q4->revisions[1]->count, 30);
	assert_int_equal(q4->revisions[1]->release, id);
	assert_string_equal(q4->revisions[1]->release_label,
	                    "Dorset corrections");
	/* Q2 never changed: one revision. */
	assert_int_equal(s->points[1]->n_revisions, 1);
	offstat__v1__get_series_response__free_unpacked(s, NULL);
	offstat__v1__rpc_response__free_unpacked(r, NULL);

	/* A committed release takes no more writes. */
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   rows, 1, "life-4", NULL)),
	                 PRECOND);
}

/* A batch with bad rows is refused whole, each bad row named; the release
 * stays open for a corrected batch; abort drops it all. */
static void
test_bad_batch(void **state)
{
	(void)state;
	Offstat__V1__IngestResponse *resp;
	iu_row                       rows[4];

	uint64_t id = open_release(writer, "bad rows", "bad-1");
	row(&rows[0], "Dorset", "88A", 1, 500);
	row(&rows[1], "Atlantis Constabulary", "88A", 1, 5);
	row(&rows[2], "Dorset", "88A", 2, 7);
	rows[2].quarter = 5;
	row(&rows[3], "Dorset", "8 8 A;DROP TABLE counts", 3, 7);
	Offstat__V1__RpcResponse *r =
	        iu_ingest(srv.url, writer, 'b', NULL, id, rows, 4, "bad-2", NULL);
	assert_non_null(r);
	assert_int_equal((int)r->status->code, (int)INVALID);
	assert_non_null(strstr(r->status->message, "3 of 4 rows are bad"));
	assert_int_equal(r->status->n_details, 3);
	assert_non_null(strstr(r->status->details[0], "row 2:"));
	assert_non_null(strstr(r->status->details[1], "row 3:"));
	assert_non_null(strstr(r->status->details[2], "row 4:"));
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	assert_int_equal(state_of(id), OFFSTAT__V1__RELEASE_STATE__RELEASE_OPEN);

	/* The corrected batch goes in. */
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   rows, 1, "bad-3", &resp)),
	                 OK);
	assert_int_equal(resp->rows, 1);
	offstat__v1__ingest_response__free_unpacked(resp, NULL);
	/* Aborted: nothing of it is ever seen. */
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'a', NULL, id,
	                                   NULL, 0, "bad-4", &resp)),
	                 OK);
	assert_int_equal(resp->state,
	                 OFFSTAT__V1__RELEASE_STATE__RELEASE_ABORTED);
	offstat__v1__ingest_response__free_unpacked(resp, NULL);
	assert_int_not_equal(count_of("Dorset", "88A", 1, 0, NULL), 500);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'c', NULL, id,
	                                   NULL, 0, "bad-5", NULL)),
	                 PRECOND);
	/* Unknown release; no key; nothing to do; too many rows. */
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, 987654,
	                                   rows, 1, "bad-6", NULL)),
	                 NOT_FOUND);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'o', "x", 0, NULL,
	                                   0, NULL, NULL)),
	                 INVALID);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, 0,
	                                   NULL, 0, "bad-7", NULL)),
	                 INVALID);
	id           = open_release(writer, "too many", "bad-8");
	iu_row *many = calloc(10001, sizeof(*many));
	for (size_t i = 0; i < 10001; i++) {
		row(&many[i], "Dorset", "88A", 1, i);
	}
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   many, 10001, "bad-9", NULL)),
	                 INVALID);
	free(many);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'a', NULL, id,
	                                   NULL, 0, "bad-10", NULL)),
	                 OK);
}

/* A retry with the same key is applied once and answered the same; the
 * same key on another request is refused. */
static void
test_idempotency(void **state)
{
	(void)state;
	Offstat__V1__IngestResponse *a, *b;
	iu_row                       rows[2];

	uint64_t id  = open_release(writer, "retried", "idem-1");
	uint64_t id2 = open_release(writer, "retried", "idem-1");
	assert_int_equal(id, id2);
	row(&rows[0], "Dorset", "88A", 1, 101);
	row(&rows[1], "Dorset", "88A", 2, 102);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   rows, 2, "idem-2", &a)),
	                 OK);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   rows, 2, "idem-2", &b)),
	                 OK);
	assert_false(a->replayed);
	assert_true(b->replayed);
	assert_int_equal(a->rows, 2);
	assert_int_equal(b->rows, 2); /* not 4: applied once */
	assert_int_equal(a->changed, b->changed);
	offstat__v1__ingest_response__free_unpacked(a, NULL);
	offstat__v1__ingest_response__free_unpacked(b, NULL);
	/* The same key for other rows. */
	rows[1].count = 103;
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   rows, 2, "idem-2", NULL)),
	                 PRECOND);
	/* Keys belong to their writer: another writer's same key is new
	 * (and that writer may not touch this release). */
	assert_int_equal(iu_code(iu_ingest(srv.url, writer2, 'b', NULL, id,
	                                   rows, 2, "idem-2", NULL)),
	                 DENIED);
	/* An admin may finish anyone's release; a retried commit is
	 * answered as the first. */
	assert_int_equal(iu_code(iu_ingest(srv.url, admin, 'c', NULL, id,
	                                   NULL, 0, "idem-3", &a)),
	                 OK);
	assert_int_equal(iu_code(iu_ingest(srv.url, admin, 'c', NULL, id,
	                                   NULL, 0, "idem-3", &b)),
	                 OK);
	assert_true(b->replayed);
	assert_int_equal(b->state,
	                 OFFSTAT__V1__RELEASE_STATE__RELEASE_COMMITTED);
	offstat__v1__ingest_response__free_unpacked(a, NULL);
	offstat__v1__ingest_response__free_unpacked(b, NULL);
	assert_int_equal(count_of("Dorset", "88A", 1, 0, NULL), 101);
}

/* Roles: readers cannot write or list open releases. */
static void
test_roles(void **state)
{
	(void)state;
	int code;
	assert_int_equal(iu_code(iu_ingest(srv.url, reader, 'o', "r", 0, NULL,
	                                   0, "role-1", NULL)),
	                 DENIED);
	assert_int_equal(iu_code(iu_ingest(srv.url, NULL, 'o', "r", 0, NULL,
	                                   0, "role-2", NULL)),
	                 UNAUTH);
	assert_null(releases(reader, true, &code));
	assert_int_equal(code, DENIED);
	Offstat__V1__ListReleasesResponse *l = releases(reader, false, &code);
	assert_int_equal(code, OK);
	assert_true(l->n_releases >= 2);
	/* Newest first, committed only. */
	for (size_t i = 0; i < l->n_releases; i++) {
		assert_int_equal(l->releases[i]->state,
		                 OFFSTAT__V1__RELEASE_STATE__RELEASE_COMMITTED);
		if (i > 0) {
			assert_true(l->releases[i - 1]->id > l->releases[i]->id);
		}
	}
	offstat__v1__list_releases_response__free_unpacked(l, NULL);
}

/* An open release nobody writes to expires: a service of its own with
 * --ingest-expiry 1. */
static void
test_expiry(void **state)
{
	(void)state;
	iu_row         rows[1];
	harness_server main_srv = srv;
	const char    *extra[]  = {"--tokens", tokfile, "--ingest-expiry", "1",
	                           NULL};
	assert_int_equal(harness_start(&srv, 0, extra), 0);
	uint64_t id = open_release(writer, "abandoned", "exp-1");
	row(&rows[0], "Dorset", "88A", 3, 999);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL, id,
	                                   rows, 1, "exp-2", NULL)),
	                 OK);
	int st = 0;
	for (int i = 0; i < 100; i++) {
		if ((st = state_of(id)) !=
		    OFFSTAT__V1__RELEASE_STATE__RELEASE_OPEN) {
			break;
		}
		nanosleep(&(struct timespec){0, 100000000L}, NULL);
	}
	assert_int_equal(st, OFFSTAT__V1__RELEASE_STATE__RELEASE_EXPIRED);
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'c', NULL, id,
	                                   NULL, 0, "exp-3", NULL)),
	                 PRECOND);
	assert_int_not_equal(count_of("Dorset", "88A", 3, 0, NULL), 999);
	assert_int_equal(harness_stop(&srv), 0);
	srv = main_srv;
}

/* ---- Reads during a large ingest ------------------------------------ */

typedef struct {
	atomic_int      stop;
	atomic_ullong   reads;
	uint64_t        failures, over_100ms;
	double       max_ms;
	double      *lat;
	size_t       nlat, caplat;
	uint64_t     releases_seen[2];
} reader_state;

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

static void *
reader_main(void *arg)
{
	reader_state *r = arg;
	while (!r->stop) {
		uint64_t n, rel = 0;
		bool     present, rev;
		double   t0 = now_ms();
		int code = iu_count(srv.url, "Dorset", "88A", 2024, 4, 0, &n,
		                    &present, &rev, &rel);
		double ms = now_ms() - t0;
		r->reads++;
		if (code != OK) {
			r->failures++;
			continue;
		}
		if (ms > r->max_ms) {
			r->max_ms = ms;
		}
		r->over_100ms += ms > 100;
		if (r->nlat < r->caplat) {
			r->lat[r->nlat++] = ms;
		}
	}
	return (NULL);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x < y ? -1 : x > y);
}

static void
test_reads_during_ingest(void **state)
{
	(void)state;
	char     forces[64][64];
	size_t   nf   = iu_forces(srv.url, forces, 64);
	size_t   per  = 5000;
	size_t   nb   = 12;
	iu_row  *rows = calloc(per, sizeof(*rows));
	char     key[64];
	uint64_t before;
	bool     present, rev;
	uint64_t n;

	assert_true(nf >= 40);
	assert_int_equal(iu_count(srv.url, "Dorset", "88A", 2024, 4, 0, &n,
	                          &present, &rev, &before),
	                 OK);
	uint64_t id = open_release(writer, "large", "big-open");
	reader_state rs = {.caplat = 1000000};
	rs.lat          = calloc(rs.caplat, sizeof(double));
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rs), 0);
	double t0 = now_ms();
	/* 60,000 rows: forces x 300 made-up codes x 4 quarters of 2023/24. */
	size_t k = 0;
	for (size_t b = 0; b < nb; b++) {
		for (size_t i = 0; i < per; i++, k++) {
			size_t f = k % nf, c = (k / nf) % 300,
			       q = k / (nf * 300);
			row(&rows[i], forces[f], "T", (unsigned)(q % 4 + 1),
			    k % 97);
			snprintf(rows[i].code, sizeof(rows[i].code), "T%zu",
			         c);
			snprintf(rows[i].year, sizeof(rows[i].year), "%u/%02u",
			         2023 - (unsigned)(q / 4),
			         (24 - (unsigned)(q / 4)) % 100);
			snprintf(rows[i].description,
			         sizeof(rows[i].description),
			         "Test offence %zu", c);
		}
		snprintf(key, sizeof(key), "big-%zu", b);
		assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'b', NULL,
		                                   id, rows, per, key, NULL)),
		                 OK);
	}
	double mid = now_ms();
	uint64_t reads_before_commit = rs.reads;
	assert_int_equal(iu_code(iu_ingest(srv.url, writer, 'c', NULL, id,
	                                   NULL, 0, "big-commit", NULL)),
	                 OK);
	double t1 = now_ms();
	rs.stop   = 1;
	pthread_join(th, NULL);
	qsort(rs.lat, rs.nlat, sizeof(double), cmp_double);
	double p50 = rs.nlat ? rs.lat[rs.nlat / 2] : 0;
	double p99 = rs.nlat ? rs.lat[rs.nlat * 99 / 100] : 0;
	printf("ingest of %zu rows in %zu batches: %.0f ms (commit %.0f ms); "
	       "%llu reads meanwhile, p50 %.2f ms, p99 %.2f ms, max %.1f ms, "
	       "%llu over 100 ms, %llu failed\n",
	       per * nb, nb, t1 - t0, t1 - mid,
	       (unsigned long long)rs.reads, p50, p99, rs.max_ms,
	       (unsigned long long)rs.over_100ms,
	       (unsigned long long)rs.failures);
	/* Reads kept being answered all through, none failed, and none
	 * waited for the ingest: a read that waited for a batch or the
	 * commit would take as long as they do. */
	assert_int_equal(rs.failures, 0);
	assert_true(reads_before_commit >= 50);
	assert_true(rs.max_ms < (t1 - t0) / 2);
	assert_true(rs.max_ms < 2000);
	/* And now the new codes are there. */
	Offstat__V1__GetCountRequest in = OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period          p  = OFFSTAT__V1__PERIOD__INIT;
	p.year                          = 2023;
	p.quarter                       = 1;
	in.area                         = forces[0];
	in.offence                      = "T0";
	in.period                       = &p;
	assert_int_equal(
	        iu_code(iu_call(srv.url, "GetCount", &in.base, NULL, 10000)),
	        OK);
	free(rs.lat);
	free(rows);
	(void)before;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lifecycle),
	        cmocka_unit_test(test_bad_batch),
	        cmocka_unit_test(test_idempotency),
	        cmocka_unit_test(test_roles),
	        cmocka_unit_test(test_expiry),
	        cmocka_unit_test(test_reads_during_ingest),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
