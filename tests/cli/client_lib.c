/*
 * liboffstat against a real offstatd, driven by cli_test.py:
 *
 *     client_lib URL
 *
 * checks results, statuses, paging and calls from several threads on one
 * client, then prints "ready" and waits for a line on stdin; the driver
 * stops the service meanwhile, and the next call must fail as a lost
 * connection, not as a status from the service. Exits 0 when every check
 * passed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <offstat/offstat.h>

#define THREADS 8
#define CALLS   150

static int             failures;
static pthread_mutex_t failures_mtx = PTHREAD_MUTEX_INITIALIZER;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr,                                       \
			        "%s:%d: check failed: %s: ", __FILE__,        \
			        __LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			pthread_mutex_lock(&failures_mtx);                    \
			failures++;                                           \
			pthread_mutex_unlock(&failures_mtx);                  \
		}                                                             \
	} while (0)

#define CHECK_OK(rv, st)                                                      \
	CHECK((rv) == OFFSTAT_OK, "%s (%s)", offstat_strerror(rv),            \
	      (st).message != NULL ? (st).message : "")

static offstat_client *client;

static void
test_names(void)
{
	offstat_area_kind kind;

	CHECK(strcmp(offstat_version(), "0.1.0") == 0 ||
	              offstat_version()[0] != '\0',
	      "version");
	CHECK(strcmp(offstat_err_name(OFFSTAT_ENOTFOUND), "ENOTFOUND") == 0,
	      "%s", offstat_err_name(OFFSTAT_ENOTFOUND));
	CHECK(OFFSTAT_ENOTFOUND == 25, "NOT_FOUND is 20 + 5");
	CHECK(OFFSTAT_EUNAUTHENTICATED == 36, "UNAUTHENTICATED is 20 + 16");
	CHECK(strcmp(offstat_strerror(12345), "unknown error") == 0,
	      "unknown");
	CHECK(offstat_err_name(1) == NULL, "1 is not a library error");
	CHECK(offstat_err_is_server(OFFSTAT_ENOTFOUND), "server");
	CHECK(!offstat_err_is_server(OFFSTAT_ETIMEDOUT), "local");
	CHECK(!offstat_err_is_server(OFFSTAT_OK), "ok");
	for (int e = 0; e < 64; e++) {
		/* Every value has a name and a message, or neither. */
		CHECK((offstat_err_name(e) == NULL) ==
		              (strcmp(offstat_strerror(e), "unknown error") ==
		               0),
		      "error %d", e);
	}
	CHECK(strcmp(offstat_flag_name(OFFSTAT_FLAG_SMALL_NUMBER),
	             "SMALL_NUMBER") == 0,
	      "flag name");
	CHECK(offstat_flag_name(OFFSTAT_FLAG_CONFLICT |
	                        OFFSTAT_FLAG_REVISED) == NULL,
	      "two flags have no one name");
	CHECK(offstat_area_kind_parse(&kind, "Region") == OFFSTAT_OK &&
	              kind == OFFSTAT_AREA_REGION,
	      "kind parse");
	CHECK(offstat_area_kind_parse(&kind, "planet") == OFFSTAT_EINVAL,
	      "bad kind");
	CHECK(offstat_client_open(NULL, "tcp://127.0.0.1:1") == OFFSTAT_EINVAL,
	      "NULL out");
	offstat_status_clear(NULL);
	offstat_count_free(NULL);
	offstat_series_free(NULL);
	offstat_comparison_free(NULL);
	offstat_area_list_free(NULL);
	offstat_offence_list_free(NULL);
	offstat_source_list_free(NULL);
	offstat_server_info_free(NULL);
	offstat_ranking_free(NULL);
	offstat_client_close(NULL);
	{
		offstat_rank_by by;
		CHECK(offstat_rank_by_parse(&by, "rate-u18") == OFFSTAT_OK &&
		              by == OFFSTAT_RANK_RATE_UNDER18,
		      "rate-u18");
		CHECK(offstat_rank_by_parse(&by, "Change") == OFFSTAT_OK &&
		              by == OFFSTAT_RANK_CHANGE,
		      "change");
		CHECK(offstat_rank_by_parse(&by, "size") == OFFSTAT_EINVAL,
		      "bad order");
		CHECK(strcmp(offstat_rank_by_name(OFFSTAT_RANK_RATE),
		             "RATE") == 0,
		      "RATE");
		CHECK(offstat_rank_by_name(0) == NULL &&
		              offstat_rank_by_name(5) == NULL,
		      "unknown orders");
	}
}

static void
test_results(void)
{
	offstat_status       st = OFFSTAT_STATUS_INIT;
	offstat_count       *count;
	offstat_series      *series;
	offstat_comparison  *cmp;
	offstat_server_info *info;
	int                  rv;

	rv = offstat_get_count(&count, client, "dorset", "S15A", "2018/19",
	                       NULL, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(count->value.present && count->value.count == 84,
		      "2018/19 is 84");
		CHECK(count->value.flags == OFFSTAT_FLAG_CONFLICT, "flags %x",
		      count->value.flags);
		CHECK(count->value.n_alternatives == 1 &&
		              count->value.alternatives[0].count == 61 &&
		              strcmp(count->value.alternatives[0].source_id,
		                     "echo-2021") == 0,
		      "the other source's 61");
		CHECK(strcmp(count->area.code, "E23000039") == 0, "%s",
		      count->area.code);
		CHECK(count->n_sources == 2, "%zu sources", count->n_sources);
		CHECK(strcmp(count->value.period.text, "2018/19") == 0 &&
		              count->value.period.year == 2018,
		      "period");
		CHECK(st.err == 0 && st.code == 0 && st.message == NULL,
		      "status of a success");
		offstat_count_free(count);
	}

	rv = offstat_get_series(&series, client, "dorset", "88A", "2024/25 Q1",
	                        "2024/25 Q4", OFFSTAT_QUARTERLY, NULL, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		static const uint64_t want[] = {10, 12, 14, 28};
		CHECK(series->n_points == 4, "%zu points", series->n_points);
		for (size_t i = 0; i < series->n_points && i < 4; i++) {
			CHECK(series->points[i].count == want[i] &&
			              series->points[i].period.quarter ==
			                      i + 1,
			      "point %zu", i);
		}
		offstat_series_free(series);
	}

	{
		const char *with[] = {"south west"};
		rv = offstat_compare_trend(&cmp, client, "dorset", "s15a",
		                           "2017/18", "2020/21", with, 1, NULL,
		                           &st);
	}
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(cmp->subject.base.count == 37 &&
		              cmp->subject.end.count == 62 &&
		              cmp->subject.has_change &&
		              cmp->subject.change == 25 &&
		              cmp->subject.has_percent &&
		              cmp->subject.percent_change > 67.56 &&
		              cmp->subject.percent_change < 67.58,
		      "Dorset +25 (+67.6%%)");
		CHECK(cmp->n_comparators == 1 &&
		              strcmp(cmp->comparators[0].area.name,
		                     "South West") == 0 &&
		              cmp->comparators[0].n_published == 1 &&
		              cmp->comparators[0].published[0].percent == 28.6,
		      "South West published +28.6%%");
		CHECK(cmp->summary[0] != '\0', "a summary");
		offstat_comparison_free(cmp);
	}

	rv = offstat_get_server_info(&info, client, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(strcmp(info->api, "offstat.v1") == 0, "%s", info->api);
		CHECK(info->areas > 0 && info->counts > 0, "catalogue");
		offstat_server_info_free(info);
	}

	/* A status the service sent back: code, message, and the library's
	 * value 20 above the code. */
	rv = offstat_get_count(&count, client, "narnia", "S15A", "2018/19",
	                       NULL, &st);
	CHECK(rv == OFFSTAT_ENOTFOUND, "%s", offstat_strerror(rv));
	CHECK(st.err == OFFSTAT_ENOTFOUND && st.code == 5 &&
	              st.message != NULL &&
	              strstr(st.message, "narnia") != NULL,
	      "status %d '%s'", st.code, st.message ? st.message : "");
	rv = offstat_get_count(&count, client, "dorset", "burglary", "2018/19",
	                       NULL, &st);
	CHECK(rv == OFFSTAT_EBADREQUEST && st.code == 3 && st.n_details > 1,
	      "ambiguous offence: %s, %zu details", offstat_strerror(rv),
	      st.n_details);
	rv = offstat_get_count(NULL, client, "dorset", "S15A", "2018/19", NULL,
	                       &st);
	CHECK(rv == OFFSTAT_EINVAL && st.code == 0 && st.message != NULL,
	      "a NULL result pointer is the caller's error");
	offstat_status_clear(&st);
}

/* Rates, exact tests and verdicts (issue 3), and RankAreas. */
static void
test_statistics(void)
{
	offstat_status      st     = OFFSTAT_STATUS_INIT;
	const char         *with[] = {"south west"};
	offstat_comparison *cmp;
	offstat_ranking    *rank;
	int                 rv;

	rv = offstat_compare_trend(&cmp, client, "dorset", "s15a", "2017/18",
	                           "2020/21", NULL, 0, NULL, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		const offstat_trend *s = &cmp->subject;
		CHECK(cmp->confidence == 0.95, "%g", cmp->confidence);
		CHECK(s->base.rates.people.known &&
		              s->base.rates.people.population == 776780 &&
		              s->base.rates.people.per_100k > 4.763 &&
		              s->base.rates.people.per_100k < 4.764 &&
		              s->base.rates.people.lower <
		                      s->base.rates.people.per_100k &&
		              strcmp(s->base.rates.people.population_source,
		                     "ons-mid2020") == 0,
		      "Dorset's rate in 2017/18");
		CHECK(s->end.rates.under18.known &&
		              s->end.rates.under18.population == 144050,
		      "the under-18 rate");
		CHECK(s->change_test.known &&
		              s->change_test.p_value > 0.01543 &&
		              s->change_test.p_value < 0.01544 &&
		              s->change_test.lower > 1.09 &&
		              s->change_test.upper < 2.6 &&
		              strcmp(s->change_test.verdict, "rose") == 0,
		      "Dorset rose, p = %g", s->change_test.p_value);
		CHECK(!s->versus_subject.known &&
		              s->versus_subject.verdict[0] == '\0' &&
		              s->versus_subject.confidence == 0,
		      "no test of the subject against itself");
		CHECK(cmp->n_comparators > 0 &&
		              !cmp->comparators[0].change_test.known &&
		              cmp->comparators[0].change_test.note[0] !=
		                      '\0' &&
		              !cmp->comparators[0].end.rates.people.known &&
		              cmp->comparators[0]
		                              .end.rates.people
		                              .population_source != NULL,
		      "an untestable comparator says why");
		offstat_comparison_free(cmp);
	}

	rv = offstat_compare_trend_ex(&cmp, client, "dorset", "s15a",
	                              "2017/18", "2020/21", NULL, 0, NULL,
	                              0.99, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(cmp->confidence == 0.99 &&
		              cmp->subject.change_test.confidence == 0.99 &&
		              strcmp(cmp->subject.change_test.verdict,
		                     "no distinguishable change") == 0 &&
		              strstr(cmp->summary,
		                     "within what chance alone") != NULL,
		      "at 99%%: %s", cmp->subject.change_test.verdict);
		offstat_comparison_free(cmp);
	}
	CHECK(offstat_compare_trend_ex(&cmp, client, "dorset", "s15a",
	                               "2017/18", "2020/21", NULL, 0, NULL,
	                               1.5, &st) == OFFSTAT_EINVAL,
	      "a level over 1");
	CHECK(offstat_compare_trend_ex(&cmp, client, "dorset", "s15a",
	                               "2017/18", "2020/21", NULL, 0, NULL,
	                               0.2, &st) == OFFSTAT_EBADREQUEST &&
	              st.code == 3,
	      "a level the service refuses");

	rv = offstat_compare_trend_ex(&cmp, client, "dorset", "88A",
	                              "2024/25 Q1", "2024/25 Q4", with, 1,
	                              NULL, 0, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		const offstat_ratio_test *v;
		CHECK(cmp->n_comparators == 1, "%zu", cmp->n_comparators);
		v = &cmp->comparators[0].versus_subject;
		CHECK(v->known && v->estimate > 1 && v->lower > 1 &&
		              v->p_value < 0.01 &&
		              strcmp(v->verdict, "higher than") == 0 &&
		              strstr(v->note, "rest of the South West") !=
		                      NULL,
		      "Dorset against the rest of the South West: %s",
		      v->verdict);
		offstat_comparison_free(cmp);
	}

	rv = offstat_rank_areas(&rank, client, "88A", "2024/25",
	                        OFFSTAT_RANK_COUNT, NULL, OFFSTAT_AREA_FORCE,
	                        "south west", 0, 0, NULL, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(rank->n_areas == 5 && rank->n_missing == 0 &&
		              rank->by == OFFSTAT_RANK_COUNT &&
		              rank->confidence == 0.95,
		      "%zu ranked", rank->n_areas);
		CHECK(rank->n_areas == 5 && rank->areas[0].rank == 1 &&
		              strcmp(rank->areas[0].area.name,
		                     "Avon and Somerset") == 0 &&
		              rank->areas[0].value.count == 281 &&
		              rank->areas[0].score == 281 &&
		              rank->areas[0].lower < 281 &&
		              rank->areas[0].upper > 281 &&
		              !rank->areas[0].has_trend &&
		              strcmp(rank->areas[4].area.name, "Wiltshire") ==
		                      0 &&
		              rank->areas[4].value.count == 61,
		      "Avon and Somerset 281 first, Wiltshire 61 last");
		CHECK(strstr(rank->caution, "not a ranking of safety") != NULL,
		      "the caution");
		CHECK(strcmp(rank->offence.code, "88A") == 0 &&
		              rank->n_sources > 0,
		      "offence and sources");
		offstat_ranking_free(rank);
	}
	rv = offstat_rank_areas(
	        &rank, client, "88A", "2024/25 Q4", OFFSTAT_RANK_CHANGE,
	        "2024/25 Q1", OFFSTAT_AREA_ANY, "england", 3, 0.99, NULL, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(rank->n_areas == 3 && rank->n_missing == 34 &&
		              rank->confidence == 0.99,
		      "%zu ranked, %zu missing", rank->n_areas,
		      rank->n_missing);
		CHECK(rank->n_areas > 0 && rank->areas[0].has_trend &&
		              rank->areas[0].trend.change_test.known &&
		              rank->areas[0].trend.change_test.confidence ==
		                      0.99 &&
		              rank->areas[0].trend.base.count == 10,
		      "by change, with the test");
		offstat_ranking_free(rank);
	}
	CHECK(offstat_rank_areas(&rank, client, "88A", "2024/25",
	                         OFFSTAT_RANK_CHANGE, NULL, OFFSTAT_AREA_FORCE,
	                         NULL, 0, 0, NULL, &st) == OFFSTAT_EINVAL &&
	              st.message != NULL,
	      "change without a base period");
	CHECK(offstat_rank_areas(&rank, client, "88A", "2024/25",
	                         (offstat_rank_by)9, NULL, OFFSTAT_AREA_FORCE,
	                         NULL, 0, 0, NULL, &st) == OFFSTAT_EINVAL,
	      "an unknown order");
	CHECK(offstat_rank_areas(&rank, client, "88A", "2024/25",
	                         OFFSTAT_RANK_COUNT, NULL, OFFSTAT_AREA_FORCE,
	                         "narnia", 0, 0, NULL,
	                         &st) == OFFSTAT_ENOTFOUND,
	      "an unknown area");
	offstat_status_clear(&st);
}

static void
test_paging(void)
{
	offstat_status     st = OFFSTAT_STATUS_INIT;
	offstat_area_list *all;
	offstat_area_list *page;
	char              *token = NULL;
	size_t             seen  = 0;
	int                rv;

	rv = offstat_list_areas_all(&all, client, OFFSTAT_AREA_ANY, NULL, &st);
	CHECK_OK(rv, st);
	if (rv != OFFSTAT_OK) {
		return;
	}
	CHECK(all->n_areas == all->total && all->next_page_token[0] == '\0',
	      "%zu of %u", all->n_areas, all->total);
	for (int pages = 0; pages < 100; pages++) {
		rv = offstat_list_areas(&page, client, OFFSTAT_AREA_ANY, NULL,
		                        7, token, &st);
		CHECK_OK(rv, st);
		if (rv != OFFSTAT_OK) {
			break;
		}
		CHECK(page->n_areas <= 7, "page of %zu", page->n_areas);
		for (size_t i = 0; i < page->n_areas; i++, seen++) {
			CHECK(seen < all->n_areas &&
			              strcmp(page->areas[i].code,
			                     all->areas[seen].code) == 0,
			      "area %zu", seen);
		}
		free(token);
		token = strdup(page->next_page_token);
		offstat_area_list_free(page);
		if (token == NULL || token[0] == '\0') {
			break;
		}
	}
	free(token);
	CHECK(seen == all->n_areas, "paged %zu of %zu", seen, all->n_areas);
	CHECK(offstat_list_areas(&page, client, OFFSTAT_AREA_ANY, NULL,
	                         OFFSTAT_MAX_PAGE_SIZE + 1, NULL,
	                         &st) == OFFSTAT_EINVAL,
	      "page size limit");
	offstat_area_list_free(all);
	offstat_status_clear(&st);
}

/* Each thread checks that it gets its own answers and its own status. */
static void *
worker(void *arg)
{
	int            id = (int)(intptr_t)arg;
	offstat_status st = OFFSTAT_STATUS_INIT;

	for (int i = 0; i < CALLS; i++) {
		offstat_count *count;
		int            which = (id + i) % 3;
		const char    *area  = which == 2 ? "atlantis" : "dorset";
		const char    *year  = which == 0 ? "2017/18" : "2020/21";
		int rv = offstat_get_count(&count, client, area, "S15A", year,
		                           NULL, &st);
		if (which == 2) {
			CHECK(rv == OFFSTAT_ENOTFOUND && st.message != NULL &&
			              strstr(st.message, "atlantis") != NULL,
			      "thread %d call %d: %s", id, i,
			      offstat_strerror(rv));
			continue;
		}
		CHECK_OK(rv, st);
		if (rv == OFFSTAT_OK) {
			CHECK(count->value.count == (which == 0 ? 37u : 62u) &&
			              strcmp(count->value.period.text, year) ==
			                      0,
			      "thread %d call %d got %s", id, i,
			      count->value.period.text);
			offstat_count_free(count);
		}
	}
	offstat_status_clear(&st);
	return (NULL);
}

static void
test_threads(void)
{
	pthread_t threads[THREADS];

	for (int i = 0; i < THREADS; i++) {
		CHECK(pthread_create(&threads[i], NULL, worker,
		                     (void *)(intptr_t)i) == 0,
		      "thread %d", i);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
	}
}

static void
test_lost(void)
{
	offstat_status       st = OFFSTAT_STATUS_INIT;
	offstat_server_info *info;
	char                 line[16];
	int                  rv;

	printf("ready\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		CHECK(0, "no go-ahead from the driver");
		return;
	}
	offstat_client_set_timeout(client, 500);
	rv = offstat_get_server_info(&info, client, &st);
	CHECK(rv == OFFSTAT_ECONNLOST && !offstat_err_is_server(rv) &&
	              st.code == 0 && st.message != NULL,
	      "after the service stopped: %s (%s)", offstat_strerror(rv),
	      st.message ? st.message : "");
	if (rv == OFFSTAT_OK) {
		offstat_server_info_free(info);
	}
	offstat_status_clear(&st);
}

int
main(int argc, char **argv)
{
	int rv;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: client_lib URL [TOKEN]\n");
		return (2);
	}
	test_names();
	if ((rv = offstat_client_open(&client, argv[1])) != OFFSTAT_OK) {
		fprintf(stderr, "open %s: %s\n", argv[1],
		        offstat_strerror(rv));
		return (1);
	}
	CHECK(strcmp(offstat_client_url(client), argv[1]) == 0, "url");
	CHECK(offstat_client_set_timeout(client, -1) == OFFSTAT_EINVAL, "ms");
	CHECK(offstat_client_set_token(client, "a\nb") == OFFSTAT_EINVAL,
	      "control characters");
	/* The service's own reader token: a token that is sent must be
	 * valid, even where reads are open. */
	CHECK(offstat_client_set_token(client, argc > 2 ? argv[2] : NULL) ==
	              OFFSTAT_OK,
	      "token");
	test_results();
	test_statistics();
	test_paging();
	test_threads();
	test_lost();
	offstat_client_close(client);
	if (failures > 0) {
		fprintf(stderr, "%d checks failed\n", failures);
		return (1);
	}
	return (0);
}
