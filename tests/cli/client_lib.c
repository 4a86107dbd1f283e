/*
 * liboffstat against a real offstatd, driven by cli_test.py:
 *
 *     client_lib URL [READER_TOKEN [WRITER_TOKEN]]
 *
 * checks results, statuses, paging and calls from several threads on one
 * client; with a writer token, releases and ingest: idempotent retries
 * (through a proxy that loses a reply), batches of a large file, bad rows,
 * as_of_release and history. Then it prints "ready" and waits for a line
 * on stdin; the driver stops the service meanwhile, and the next call
 * must fail as a lost connection, not as a status from the service. Exits
 * 0 when every check passed.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

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
	offstat_release_list_free(NULL);
	offstat_ingest_reply_free(NULL);
	offstat_ingest_result_free(NULL);
	offstat_client_close(NULL);
	CHECK(OFFSTAT_EFILE == 10 && OFFSTAT_EBADINPUT == 11 &&
	              OFFSTAT_ESTOPPED == 12 &&
	              !offstat_err_is_server(OFFSTAT_EBADINPUT),
	      "local errors for ingest");
	CHECK(strcmp(offstat_release_state_name(OFFSTAT_RELEASE_ABORTED),
	             "ABORTED") == 0 &&
	              offstat_release_state_name(0) == NULL &&
	              offstat_release_state_name(5) == NULL,
	      "release states");
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

/* ---- Releases and ingest (issue 4) -------------------------------------- */

/* A client with the writer token. */
static offstat_client *writer;
/* Where the tests write their files and the proxy its socket. */
static char tmpdir[64];

static const char header[] =
        "Financial Year,Financial Quarter,Force Name,Offence Description,"
        "Offence Group,Offence Subgroup,Offence Code,Number of Offences\n";

/* Dorset's 88A quarters of 2024/25 with these counts. */
static void
dorset_rows(offstat_ingest_row rows[4], const uint64_t counts[4])
{
	for (unsigned i = 0; i < 4; i++) {
		rows[i] = (offstat_ingest_row){"2024/25",
		                               i + 1,
		                               "Dorset",
		                               "Sexual grooming",
		                               "Sexual offences",
		                               "Other sexual offences",
		                               "88A",
		                               counts[i]};
	}
}

/* The release with this id as ListReleases --all shows it; false if it
 * is not listed. */
static bool
find_release(uint64_t id, offstat_release *out)
{
	offstat_status        st = OFFSTAT_STATUS_INIT;
	offstat_release_list *list;
	bool                  found = false;
	int                   rv;

	rv = offstat_list_releases_all(&list, writer, true, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		for (size_t i = 0; i < list->n_releases; i++) {
			if (list->releases[i].id == id) {
				/* Only the numbers outlive the list. */
				*out       = list->releases[i];
				out->label = out->source_id = out->opened_at =
				        out->committed_at   = out->loaded_by =
				                NULL;
				found = true;
			}
		}
		offstat_release_list_free(list);
	}
	offstat_status_clear(&st);
	return (found);
}

/* Open, batches, the same batch again, a bad batch, commit. */
static void
test_ingest_calls(void)
{
	offstat_status        st    = OFFSTAT_STATUS_INIT;
	static const uint64_t v2[4] = {10, 12, 14, 64};
	static const uint64_t v3[4] = {10, 12, 14, 65};
	offstat_ingest_row    rows[4];
	offstat_ingest_reply *first, *again;
	offstat_release       rel;
	offstat_count        *count;
	uint64_t              id = 0, id2 = 0;
	char                  key[64];
	int                   rv;

	/* Reads do not see an open release; writes need a writer. */
	rv = offstat_ingest_open(&id, client, "a reader's", NULL, &st);
	CHECK(rv == OFFSTAT_EPERM && st.code == 7, "a reader token: %s",
	      offstat_strerror(rv));
	rv = offstat_ingest_open(&id, writer, "Dorset 88A, revised", NULL,
	                         &st);
	CHECK_OK(rv, st);
	CHECK(id > 1, "a new release %" PRIu64, id);

	dorset_rows(rows, v2);
	snprintf(key, sizeof(key), "client-lib-%ld-batch", (long)getpid());
	rv = offstat_ingest_batch_keyed(&first, writer, id, rows, 4, NULL, key,
	                                &st);
	CHECK_OK(rv, st);
	if (rv != OFFSTAT_OK) {
		return;
	}
	CHECK(!first->replayed && first->rows_accepted == 4 &&
	              first->rows == 4 && first->attempts == 1 &&
	              strcmp(first->key, key) == 0 &&
	              first->state == OFFSTAT_RELEASE_OPEN,
	      "the first batch");
	/* The same request with the same key: answered as the first time,
	 * applied once. */
	rv = offstat_ingest_batch_keyed(&again, writer, id, rows, 4, NULL, key,
	                                &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(again->replayed && again->rows == 4 &&
		              again->rows_accepted == 4 &&
		              again->changed == first->changed,
		      "a replay: rows %" PRIu64, again->rows);
		offstat_ingest_reply_free(again);
	}
	offstat_ingest_reply_free(first);
	/* The same key for other rows is the caller's mistake. */
	rows[3].count = 99;
	rv = offstat_ingest_batch_keyed(&again, writer, id, rows, 4, NULL, key,
	                                &st);
	CHECK(rv == OFFSTAT_EPRECONDITION && st.code == 9,
	      "a key reused for other rows: %s", offstat_strerror(rv));
	CHECK(offstat_ingest_batch_keyed(NULL, writer, id, rows, 4, NULL, "",
	                                 &st) == OFFSTAT_EINVAL,
	      "an empty key");

	/* A bad batch is refused whole, each bad row named; the release
	 * stays open. */
	rows[1].force_name        = "Narnia";
	rows[2].financial_quarter = 7;
	rv = offstat_ingest_batch(NULL, writer, id, rows, 4, NULL, &st);
	CHECK(rv == OFFSTAT_EBADREQUEST && st.code == 3 && st.n_details == 2 &&
	              strncmp(st.details[0], "row 2: ", 7) == 0 &&
	              strstr(st.details[0], "Narnia") != NULL &&
	              strncmp(st.details[1], "row 3: ", 7) == 0,
	      "bad rows: %s, %zu details", offstat_strerror(rv), st.n_details);
	CHECK(find_release(id, &rel) && rel.state == OFFSTAT_RELEASE_OPEN &&
	              rel.rows == 4,
	      "applied once, still open: %" PRIu64 " rows", rel.rows);

	/* Before the commit readers see the old figure. */
	rv = offstat_get_count(&count, client, "dorset", "88A", "2024/25 Q4",
	                       NULL, &st);
	CHECK(rv == OFFSTAT_OK && count->value.count == 28, "still 28");
	if (rv == OFFSTAT_OK) {
		offstat_count_free(count);
	}
	rv = offstat_ingest_commit(&first, writer, id, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		char want[32];
		snprintf(want, sizeof(want), "%" PRIu64, id);
		CHECK(first->state == OFFSTAT_RELEASE_COMMITTED &&
		              first->rows == 4 &&
		              strcmp(first->served_release, want) == 0,
		      "committed, served %s", first->served_release);
		offstat_ingest_reply_free(first);
	}
	CHECK(offstat_ingest_commit(NULL, writer, id, &st) ==
	                      OFFSTAT_EPRECONDITION &&
	              strstr(st.message, "committed") != NULL,
	      "a release commits once");

	/* A second release; then each can be read as it was. */
	dorset_rows(rows, v3);
	CHECK(offstat_ingest_open(&id2, writer, "Dorset 88A, again", NULL,
	                          &st) == OFFSTAT_OK &&
	              offstat_ingest_batch(NULL, writer, id2, rows, 4, NULL,
	                                   &st) == OFFSTAT_OK &&
	              offstat_ingest_commit(NULL, writer, id2, &st) ==
	                      OFFSTAT_OK,
	      "a second release");
	{
		offstat_query_opts opts = OFFSTAT_QUERY_OPTS_INIT;
		rv = offstat_get_count_opts(&count, client, "dorset", "88A",
		                            "2024/25 Q4", &opts, &st);
		CHECK(rv == OFFSTAT_OK && count->value.count == 65 &&
		              (count->value.flags & OFFSTAT_FLAG_REVISED),
		      "the latest: 65, REVISED");
		if (rv == OFFSTAT_OK) {
			offstat_count_free(count);
		}
		opts.as_of_release = id;
		rv = offstat_get_count_opts(&count, client, "dorset", "88A",
		                            "2024/25 Q4", &opts, &st);
		CHECK(rv == OFFSTAT_OK && count->value.count == 64,
		      "as of release %" PRIu64 ": 64", id);
		if (rv == OFFSTAT_OK) {
			char want[32];
			snprintf(want, sizeof(want), "%" PRIu64, id);
			CHECK(strcmp(count->release, want) == 0, "release %s",
			      count->release);
			offstat_count_free(count);
		}
		opts.as_of_release = 1;
		rv = offstat_get_count_opts(&count, client, "dorset", "88A",
		                            "2024/25 Q4", &opts, &st);
		CHECK(rv == OFFSTAT_OK && count->value.count == 28,
		      "as of release 1: 28");
		if (rv == OFFSTAT_OK) {
			offstat_count_free(count);
		}
		opts.as_of_release = 999999;
		CHECK(offstat_get_count_opts(&count, client, "dorset", "88A",
		                             "2024/25 Q4", &opts,
		                             &st) == OFFSTAT_ENOTFOUND,
		      "no such release");
	}
	{
		offstat_query_opts opts = OFFSTAT_QUERY_OPTS_INIT;
		offstat_series    *series;
		opts.history = true;
		rv = offstat_get_series_opts(&series, client, "dorset", "88A",
		                             "2024/25 Q3", "2024/25 Q4",
		                             OFFSTAT_QUARTERLY, &opts, &st);
		CHECK_OK(rv, st);
		if (rv == OFFSTAT_OK) {
			const offstat_value *q4 = &series->points[1];
			CHECK(series->n_points == 2 && q4->n_revisions == 3 &&
			              q4->revisions[0].release == 1 &&
			              q4->revisions[0].count == 28 &&
			              q4->revisions[1].release == id &&
			              q4->revisions[1].count == 64 &&
			              q4->revisions[2].release == id2 &&
			              q4->revisions[2].count == 65 &&
			              q4->revisions[2].present &&
			              q4->revisions[2].release_label[0] !=
			                      '\0',
			      "Q4's history: %zu revisions", q4->n_revisions);
			CHECK(series->points[0].n_revisions == 1,
			      "Q3 never changed: %zu",
			      series->points[0].n_revisions);
			offstat_series_free(series);
		}
	}

	/* An aborted release leaves nothing behind. */
	CHECK(offstat_ingest_open(&id, writer, "to be aborted", NULL, &st) ==
	                      OFFSTAT_OK &&
	              offstat_ingest_batch(NULL, writer, id, rows, 4, NULL,
	                                   &st) == OFFSTAT_OK &&
	              offstat_ingest_abort(NULL, writer, id, &st) ==
	                      OFFSTAT_OK,
	      "abort");
	CHECK(find_release(id, &rel) && rel.state == OFFSTAT_RELEASE_ABORTED,
	      "aborted");
	{
		offstat_release_list *list;
		rv = offstat_list_releases(&list, client, false, 1, NULL, &st);
		CHECK_OK(rv, st);
		if (rv == OFFSTAT_OK) {
			CHECK(list->n_releases == 1 &&
			              list->releases[0].id == id2 &&
			              list->releases[0].state ==
			                      OFFSTAT_RELEASE_COMMITTED &&
			              list->next_page_token[0] != '\0' &&
			              list->total >= 3,
			      "newest committed first, paged");
			offstat_release_list_free(list);
		}
		CHECK(offstat_list_releases(&list, client, true, 0, NULL,
		                            &st) == OFFSTAT_EPERM,
		      "--all needs a writer");
	}
	offstat_status_clear(&st);
}

/*
 * A REP socket in front of the service that forwards every request and
 * every reply but the drop-th (every one when drop is -1), which it loses:
 * the client then times out and sends the same request again.
 */
struct proxy {
	nng_socket  front;
	nng_socket  back;
	_Atomic int drop;
	_Atomic int seen;
	pthread_t   thread;
};

static void *
proxy_run(void *arg)
{
	struct proxy *p = arg;
	nng_msg      *msg;

	while (nng_recvmsg(p->front, &msg, 0) == 0) {
		int seen = ++p->seen;
		if (nng_sendmsg(p->back, msg, 0) != 0) {
			nng_msg_free(msg);
			continue;
		}
		if (nng_recvmsg(p->back, &msg, 0) != 0) {
			continue;
		}
		if (seen == p->drop || p->drop == -1 ||
		    nng_sendmsg(p->front, msg, 0) != 0) {
			nng_msg_free(msg);
		}
	}
	return (NULL);
}

/* A batch whose reply is lost is sent again with its key, and applied
 * once. */
static void
test_ingest_retry(const char *url, const char *token)
{
	offstat_status        st   = OFFSTAT_STATUS_INIT;
	static const uint64_t v[4] = {1, 2, 3, 4};
	offstat_ingest_row    rows[4];
	offstat_ingest_reply *reply;
	offstat_client       *c;
	offstat_release       rel;
	struct proxy          p = {.drop = 2};
	char                  front[128];
	uint64_t              id = 0;
	int                   rv;

	snprintf(front, sizeof(front), "ipc://%s/proxy.sock", tmpdir);
	if (nng_rep0_open(&p.front) != 0 || nng_req0_open(&p.back) != 0 ||
	    nng_listen(p.front, front, NULL, 0) != 0 ||
	    nng_dial(p.back, url, NULL, 0) != 0 ||
	    pthread_create(&p.thread, NULL, proxy_run, &p) != 0) {
		CHECK(0, "the proxy");
		return;
	}
	rv = offstat_client_open(&c, front);
	CHECK_OK(rv, st);
	if (rv != OFFSTAT_OK) {
		return;
	}
	offstat_client_set_token(c, token);
	offstat_client_set_timeout(c, 1000);
	dorset_rows(rows, v);
	rows[0].financial_year         = rows[1].financial_year =
	        rows[2].financial_year = rows[3].financial_year = "2023/24";
	/* Request 1 opens; request 2, the batch, loses its reply. */
	rv = offstat_ingest_open(&id, c, "through a lossy proxy", NULL, &st);
	CHECK_OK(rv, st);
	rv = offstat_ingest_batch(&reply, c, id, rows, 4, NULL, &st);
	CHECK_OK(rv, st);
	if (rv == OFFSTAT_OK) {
		CHECK(reply->attempts == 2 && reply->replayed &&
		              reply->rows == 4 && reply->rows_accepted == 4,
		      "sent twice, answered from the first: attempts %u, "
		      "replayed %d, rows %" PRIu64,
		      reply->attempts, reply->replayed, reply->rows);
		offstat_ingest_reply_free(reply);
	}
	CHECK(p.seen == 3, "the proxy saw %d requests", p.seen);
	CHECK(find_release(id, &rel) && rel.rows == 4,
	      "applied once: %" PRIu64 " rows", rel.rows);
	CHECK(offstat_ingest_commit(NULL, c, id, &st) == OFFSTAT_OK,
	      "commit through the proxy");

	/* Every reply lost: the same request is sent four times, then the
	 * call gives up and says so. */
	p.drop = -1;
	p.seen = 0;
	offstat_client_set_timeout(c, 200);
	rv = offstat_ingest_open(&id, c, "never answered", NULL, &st);
	CHECK(rv == OFFSTAT_ETIMEDOUT && p.seen == OFFSTAT_INGEST_ATTEMPTS &&
	              st.message != NULL &&
	              strstr(st.message, "sent 4 times") != NULL,
	      "gave up: %s, %d sent (%s)", offstat_strerror(rv), (int)p.seen,
	      st.message != NULL ? st.message : "");
	offstat_client_close(c);
	nng_close(p.front);
	nng_close(p.back);
	pthread_join(p.thread, NULL);
	offstat_status_clear(&st);
}

static int
count_progress(void *arg, uint64_t sent, uint64_t total)
{
	uint64_t *calls = arg;

	CHECK(total == 12000 && sent <= total &&
	              (calls[0] == 0 ? sent == 0 : sent > calls[1]),
	      "progress %" PRIu64 " of %" PRIu64, sent, total);
	calls[0]++;
	calls[1] = sent;
	return (calls[2] != 0 && sent >= calls[2]);
}

/* Writes a file of n rows: 43 forces, 4 quarters, years from 1990. */
static bool
write_rows(const char *path, size_t n)
{
	offstat_status     st = OFFSTAT_STATUS_INIT;
	offstat_area_list *forces;
	FILE              *f;
	size_t             i = 0;

	if (offstat_list_areas_all(&forces, client, OFFSTAT_AREA_FORCE, NULL,
	                           &st) != OFFSTAT_OK ||
	    (f = fopen(path, "w")) == NULL) {
		offstat_status_clear(&st);
		return (false);
	}
	fputs(header, f);
	for (unsigned y = 1990; i < n; y++) {
		for (unsigned q = 1; q <= 4 && i < n; q++) {
			for (size_t a = 0; a < forces->n_areas && i < n;
			     a++, i++) {
				fprintf(f,
				        "%u/%02u,%u,\"%s\",Sexual grooming,"
				        "Sexual offences,Other sexual "
				        "offences,88A,%zu\r\n",
				        y, (y + 1) % 100, q,
				        forces->areas[a].name, i % 97);
			}
		}
	}
	offstat_area_list_free(forces);
	offstat_status_clear(&st);
	return (fclose(f) == 0);
}

/* A file larger than one batch, in three; local and service refusals. */
static void
test_ingest_file(void)
{
	offstat_status         st = OFFSTAT_STATUS_INIT;
	offstat_ingest_result *res;
	offstat_release        rel;
	uint64_t               calls[3] = {0, 0, 0};
	char                   path[128];
	FILE                  *f;
	int                    rv;

	snprintf(path, sizeof(path), "%s/big.csv", tmpdir);
	if (!write_rows(path, 12000)) {
		CHECK(0, "writing %s", path);
		return;
	}
	rv = offstat_ingest_file(&res, writer, path, "12,000 rows", NULL, 5000,
	                         count_progress, calls, &st);
	CHECK_OK(rv, st);
	CHECK(res != NULL, "a result");
	if (res == NULL) {
		return;
	}
	CHECK(res->batches == 3 && res->rows_total == 12000 &&
	              res->rows_sent == 12000 && res->splits == 0 &&
	              res->retries == 0 &&
	              res->state == OFFSTAT_RELEASE_COMMITTED &&
	              res->n_bad_rows == 0,
	      "3 batches, %" PRIu64 " rows sent", res->rows_sent);
	CHECK(calls[0] == 4 && calls[1] == 12000, "4 progress calls: %" PRIu64,
	      calls[0]);
	CHECK(find_release(res->release, &rel) && rel.rows == 12000 &&
	              rel.state == OFFSTAT_RELEASE_COMMITTED,
	      "every row in the release: %" PRIu64, rel.rows);
	offstat_ingest_result_free(res);

	/* Stopped by the callback: the release is aborted. */
	calls[0] = calls[1] = 0;
	calls[2]            = 5000;
	rv = offstat_ingest_file(&res, writer, path, "stopped", NULL, 5000,
	                         count_progress, calls, &st);
	CHECK(rv == OFFSTAT_ESTOPPED && res != NULL &&
	              res->state == OFFSTAT_RELEASE_ABORTED &&
	              res->rows_sent == 5000 &&
	              strstr(st.message, "aborted") != NULL,
	      "stopped: %s", offstat_strerror(rv));
	if (res != NULL) {
		CHECK(find_release(res->release, &rel) &&
		              rel.state == OFFSTAT_RELEASE_ABORTED,
		      "aborted in the service");
		offstat_ingest_result_free(res);
	}

	/* Rows the service refuses: the release is aborted and each bad
	 * row named by its line. */
	snprintf(path, sizeof(path), "%s/bad.csv", tmpdir);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(header, f);
		fputs("2022/23,1,Dorset,Sexual grooming,Sexual offences,Other "
		      "sexual offences,88A,3\n\n"
		      "2022/23,2,\"Narnia\",Sexual grooming,Sexual offences,"
		      "Other sexual offences,88A,4\n",
		      f);
		fclose(f);
	}
	rv = offstat_ingest_file(&res, writer, path, "bad", NULL, 0, NULL,
	                         NULL, &st);
	CHECK(rv == OFFSTAT_EBADREQUEST && res != NULL &&
	              res->state == OFFSTAT_RELEASE_ABORTED &&
	              res->n_bad_rows == 1 && res->bad_rows[0].line == 4 &&
	              res->bad_rows[0].row == 2 &&
	              strstr(res->bad_rows[0].reason, "Narnia") != NULL &&
	              st.n_details == 1 && strstr(st.details[0], "line 4") &&
	              strstr(st.message, "aborted") != NULL,
	      "refused by the service: %s", offstat_strerror(rv));
	if (res != NULL) {
		CHECK(find_release(res->release, &rel) &&
		              rel.state == OFFSTAT_RELEASE_ABORTED,
		      "the refused file's release is aborted");
		offstat_ingest_result_free(res);
	}

	/* Rows that cannot be sent at all: nothing is opened. */
	if ((f = fopen(path, "w")) != NULL) {
		fputs(header, f);
		fputs("2022/23,1,Dorset,Sexual grooming,Sexual offences,Other "
		      "sexual offences,88A,x\n"
		      "2022/23,\"2\"x,Dorset,Sexual grooming,Sexual offences,"
		      "Other sexual offences,88A,4\n",
		      f);
		fclose(f);
	}
	rv = offstat_ingest_file(&res, writer, path, "bad", NULL, 0, NULL,
	                         NULL, &st);
	CHECK(rv == OFFSTAT_EBADINPUT && res != NULL && res->release == 0 &&
	              res->n_bad_rows == 2 && res->bad_rows[0].line == 2 &&
	              res->bad_rows[1].line == 3 && st.n_details == 2,
	      "not open data: %s", offstat_strerror(rv));
	offstat_ingest_result_free(res);

	snprintf(path, sizeof(path), "%s/none.csv", tmpdir);
	rv = offstat_ingest_file(&res, writer, path, "none", NULL, 0, NULL,
	                         NULL, &st);
	CHECK(rv == OFFSTAT_EFILE && strstr(st.message, "none.csv") != NULL,
	      "a missing file: %s", offstat_strerror(rv));
	offstat_ingest_result_free(res);
	CHECK(offstat_ingest_file(&res, writer, path, "", NULL, 0, NULL, NULL,
	                          &st) == OFFSTAT_EINVAL &&
	              offstat_ingest_file(&res, writer, path, "x", NULL,
	                                  OFFSTAT_INGEST_MAX_ROWS + 1, NULL,
	                                  NULL, &st) == OFFSTAT_EINVAL,
	      "bad arguments");
	offstat_status_clear(&st);
}

static void
test_ingest(const char *url, const char *token)
{
	int rv;

	snprintf(tmpdir, sizeof(tmpdir), "%s/offstat-lib-XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		CHECK(0, "a temporary folder");
		return;
	}
	if ((rv = offstat_client_open(&writer, url)) != OFFSTAT_OK ||
	    (rv = offstat_client_set_token(writer, token)) != OFFSTAT_OK) {
		CHECK(0, "a writer: %s", offstat_strerror(rv));
		return;
	}
	test_ingest_calls();
	test_ingest_retry(url, token);
	test_ingest_file();
	offstat_client_close(writer);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		CHECK(system(cmd) == 0, "removing %s", tmpdir);
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

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: client_lib URL [READER_TOKEN "
		                "[WRITER_TOKEN]]\n");
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
	if (argc > 3) {
		test_ingest(argv[1], argv[3]);
	}
	test_lost();
	offstat_client_close(client);
	if (failures > 0) {
		fprintf(stderr, "%d checks failed\n", failures);
		return (1);
	}
	return (0);
}
