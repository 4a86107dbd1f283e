/*
 * Envelope, dispatch and handlers in-process, over the bundled dataset in
 * an in-memory store: the answers the service gives, without NNG.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataset.h"
#include "dispatch.h"
#include "query.h"
#include "store.h"

static store *st;

static int
setup(void **state)
{
	char      err[512];
	snapshot *snap;
	(void)state;
	if (store_open(&st, ":memory:", err, sizeof(err)) != 0 ||
	    dataset_seed(st, err, sizeof(err)) != 0 ||
	    store_load_snapshot(st, &snap, err, sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return (-1);
	}
	snapshot_publish(snap);
	handlers_started();
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	snapshot_clear();
	store_close(st);
	return (0);
}

static const dispatch_opts opts = {.max_request = 1u << 20};
/* The same with the reply cache. */
static const dispatch_opts cached = {.max_request = 1u << 20,
                                     .reply_cache = RPC_DEFAULT_REPLY_CACHE};

/* A packed envelope calling method with req; *n gets its length. */
static uint8_t *
envelope(const char *method, const ProtobufCMessage *req, const char *id,
         size_t *n)
{
	Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
	uint8_t                *payload, *buf;
	char                    full[128];

	snprintf(full, sizeof(full), "%s%s", RPC_METHOD_PREFIX, method);
	payload          = malloc(protobuf_c_message_get_packed_size(req) + 1);
	env.payload.len  = protobuf_c_message_pack(req, payload);
	env.payload.data = payload;
	env.method       = full;
	env.request_id   = (char *)id;
	buf = malloc(offstat__v1__rpc_request__get_packed_size(&env) + 1);
	*n  = offstat__v1__rpc_request__pack(&env, buf);
	free(payload);
	return (buf);
}

/*
 * The reply to an envelope, checked to be what protobuf-c itself packs
 * (dispatch writes the envelope by hand).
 */
static void *
answer(const uint8_t *buf, size_t n, const dispatch_opts *o, size_t *outlen,
       dispatch_info *info)
{
	void *out;

	assert_int_equal(dispatch_request(buf, n, o, &out, outlen, info), 0);
	Offstat__V1__RpcResponse *r =
	        offstat__v1__rpc_response__unpack(NULL, *outlen, out);
	assert_non_null(r);
	size_t   k     = offstat__v1__rpc_response__get_packed_size(r);
	uint8_t *again = malloc(k + 1);
	assert_int_equal(offstat__v1__rpc_response__pack(r, again), *outlen);
	assert_memory_equal(again, out, *outlen);
	free(again);
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	return (out);
}

/* Calls a method in-process; returns the response payload message, or
 * NULL with *code set when the status is not OK. Every call is made
 * without the reply cache and twice with it (a miss or a hit, then a
 * hit): the three replies must be the same bytes. */
static void *
call(const char *method, const ProtobufCMessage *req,
     const ProtobufCMessageDescriptor *resp_desc, int *code)
{
	void         *out, *c1, *c2;
	size_t        n, outlen, l1, l2;
	dispatch_info info, i1, i2;
	uint8_t      *buf = envelope(method, req, "r1", &n);

	out = answer(buf, n, &opts, &outlen, &info);
	c1  = answer(buf, n, &cached, &l1, &i1);
	c2  = answer(buf, n, &cached, &l2, &i2);
	assert_int_equal(l1, outlen);
	assert_int_equal(l2, outlen);
	assert_memory_equal(c1, out, outlen);
	assert_memory_equal(c2, out, outlen);
	assert_int_equal(i1.code, info.code);
	assert_int_equal(i2.code, info.code);
	free(c1);
	free(c2);
	free(buf);

	Offstat__V1__RpcResponse *r =
	        offstat__v1__rpc_response__unpack(NULL, outlen, out);
	free(out);
	assert_non_null(r);
	assert_string_equal(r->request_id, "r1");
	assert_int_equal(info.code, r->status->code);
	*code   = r->status->code;
	void *m = NULL;
	if (r->status->code == OFFSTAT__V1__CODE__OK) {
		m = protobuf_c_message_unpack(resp_desc, NULL, r->payload.len,
		                              r->payload.data);
		assert_non_null(m);
		/* dispatch packs replies itself: what protobuf-c packs. */
		size_t   k     = protobuf_c_message_get_packed_size(m);
		uint8_t *again = malloc(k + 1);
		assert_int_equal(protobuf_c_message_pack(m, again),
		                 r->payload.len);
		assert_memory_equal(again, r->payload.data, k);
		free(again);
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	return (m);
}

static bool
has_flag(Offstat__V1__Flag *flags, size_t n, Offstat__V1__Flag f)
{
	for (size_t i = 0; i < n; i++) {
		if (flags[i] == f) {
			return (true);
		}
	}
	return (false);
}

static Offstat__V1__GetCountResponse *
get_count(const char *area, const char *offence, const char *when, int *code)
{
	Offstat__V1__GetCountRequest req =
	        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period p = OFFSTAT__V1__PERIOD__INIT;
	req.area              = (char *)area;
	req.offence           = (char *)offence;
	p.text                = (char *)when;
	req.period            = &p;
	return (call("GetCount", &req.base,
	             &offstat__v1__get_count_response__descriptor, code));
}

static void
test_count_names(void **state)
{
	(void)state;
	int code;
	/* The same figure by code, by name in any case, by description. */
	const char *areas[]    = {"E23000039", "Dorset", "dorset", "DORSET "};
	const char *offences[] = {"S15A", "s15a", "s.15A",
	                          "sexual communication with a child"};
	for (size_t i = 0; i < 4; i++) {
		Offstat__V1__GetCountResponse *r =
		        get_count(areas[i], offences[i], "2020/21", &code);
		assert_int_equal(code, 0);
		assert_string_equal(r->area->code, "E23000039");
		assert_string_equal(r->offence->code, "S15A");
		assert_true(r->value->present);
		assert_int_equal(r->value->count, 62);
		assert_string_equal(r->value->source_id, "echo-2021");
		assert_int_equal(r->n_sources, 1);
		assert_string_equal(r->sources[0]->id, "echo-2021");
		assert_false(has_flag(r->value->flags, r->value->n_flags,
		                      OFFSTAT__V1__FLAG__CONFLICT));
		offstat__v1__get_count_response__free_unpacked(r, NULL);
	}
	/* Home Office and ONS spellings of the same force. */
	Offstat__V1__GetCountResponse *a =
	        get_count("Devon and Cornwall", "88A", "2024/25 Q2", &code);
	assert_int_equal(code, 0);
	Offstat__V1__GetCountResponse *b = get_count(
	        "devon & cornwall", "sexual grooming", "2024/25 Q2", &code);
	assert_int_equal(code, 0);
	assert_string_equal(a->area->code, b->area->code);
	assert_int_equal(a->value->count, 65);
	assert_int_equal(b->value->count, 65);
	offstat__v1__get_count_response__free_unpacked(a, NULL);
	offstat__v1__get_count_response__free_unpacked(b, NULL);
}

static void
test_count_conflict(void **state)
{
	(void)state;
	int code;
	/* Two published figures for Dorset 2018/19: 84 is preferred, 61
	 * (garbled in its article) travels with it as the alternative. */
	Offstat__V1__GetCountResponse *r =
	        get_count("dorset", "S15A", "2018/19", &code);
	assert_int_equal(code, 0);
	assert_int_equal(r->value->count, 84);
	assert_true(has_flag(r->value->flags, r->value->n_flags,
	                     OFFSTAT__V1__FLAG__CONFLICT));
	assert_int_equal(r->value->n_alternatives, 1);
	assert_int_equal(r->value->alternatives[0]->count, 61);
	assert_string_equal(r->value->alternatives[0]->source_id, "echo-2021");
	assert_string_equal(r->value->source_id, "bridport-2019");
	assert_int_equal(r->n_sources, 2);
	assert_non_null(strstr(r->value->note, "bridport-2019"));
	offstat__v1__get_count_response__free_unpacked(r, NULL);
}

static void
test_count_sums(void **state)
{
	(void)state;
	int code;
	/* A year from its quarters: Dorset 88A 2024/25 is 10+12+14+28. */
	Offstat__V1__GetCountResponse *r =
	        get_count("dorset", "88A", "2024/25", &code);
	assert_int_equal(code, 0);
	assert_true(r->value->present);
	assert_int_equal(r->value->count, 64);
	assert_string_equal(r->value->source_id, "ho-prc-open-data");
	assert_false(has_flag(r->value->flags, r->value->n_flags,
	                      OFFSTAT__V1__FLAG__INCOMPLETE));
	offstat__v1__get_count_response__free_unpacked(r, NULL);

	/* A quarter under 10 is a small number. */
	r = get_count("wiltshire", "88A", "2024/25 Q2", &code);
	assert_int_equal(r->value->count, 9);
	assert_true(has_flag(r->value->flags, r->value->n_flags,
	                     OFFSTAT__V1__FLAG__SMALL_NUMBER));
	offstat__v1__get_count_response__free_unpacked(r, NULL);

	/* The region: all five forces, summed. 281+224+64+90+61. */
	r = get_count("south west", "88A", "2024/25", &code);
	assert_int_equal(code, 0);
	assert_int_equal(r->value->count, 720);
	assert_non_null(r->value->coverage);
	assert_int_equal(r->value->coverage->method,
	                 OFFSTAT__V1__COVERAGE__METHOD__SUM_OF_MEMBERS);
	assert_int_equal(r->value->coverage->members_expected, 5);
	assert_int_equal(r->value->coverage->members_present, 5);
	assert_int_equal(r->value->coverage->n_missing, 0);
	offstat__v1__get_count_response__free_unpacked(r, NULL);

	/* England: only the South West's forces have 88A rows bundled. */
	r = get_count("england", "88A", "2024/25", &code);
	assert_int_equal(r->value->count, 720);
	assert_true(has_flag(r->value->flags, r->value->n_flags,
	                     OFFSTAT__V1__FLAG__INCOMPLETE));
	assert_int_equal(r->value->coverage->members_expected, 39);
	assert_int_equal(r->value->coverage->members_present, 5);
	assert_int_equal(r->value->coverage->n_missing, 34);
	offstat__v1__get_count_response__free_unpacked(r, NULL);

	/* A published aggregate is used as published. */
	r = get_count("south west", "S15A", "2017/18", &code);
	assert_int_equal(r->value->count, 377);
	assert_int_equal(r->value->coverage->method,
	                 OFFSTAT__V1__COVERAGE__METHOD__PUBLISHED);
	offstat__v1__get_count_response__free_unpacked(r, NULL);

	/* No figure is absent, not zero. */
	r = get_count("dorset", "S15A", "2012/13", &code);
	assert_int_equal(code, 0);
	assert_false(r->value->present);
	assert_int_equal(r->value->count, 0);
	offstat__v1__get_count_response__free_unpacked(r, NULL);

	/* 88A before 2017/18 excludes s.15A: a series break. */
	r = get_count("england and wales", "88A", "2016/17", &code);
	assert_int_equal(r->value->count, 1156);
	assert_true(has_flag(r->value->flags, r->value->n_flags,
	                     OFFSTAT__V1__FLAG__SERIES_BREAK));
	offstat__v1__get_count_response__free_unpacked(r, NULL);

	/* A rolling year as published. */
	r = get_count("england and wales", "88A", "year ending June 2024",
	              &code);
	assert_int_equal(r->value->count, 7479);
	assert_string_equal(r->value->period->text, "year ending June 2024");
	offstat__v1__get_count_response__free_unpacked(r, NULL);
}

static void
test_count_errors(void **state)
{
	(void)state;
	int code;
	assert_null(get_count("narnia", "88A", "2024/25", &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__NOT_FOUND);
	assert_null(get_count("dorset", "no such offence", "2024/25", &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__NOT_FOUND);
	assert_null(get_count("dorset", "88A", "2024/26", &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	assert_null(get_count("", "88A", "2024/25", &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	assert_null(get_count("dorset", "", "2024/25", &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
}

/* A message quoting the caller's text is cut at 100 bytes; the cut must
 * not split a character, or the reply would not be valid UTF-8. */
static void
test_error_messages_are_utf8(void **state)
{
	(void)state;
	char area[128];
	memset(area, 'a', 99);
	strcpy(area + 99, "\xc3\xa9 force"); /* U+00E9 at bytes 99-100 */
	Offstat__V1__GetCountRequest req =
	        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period     p   = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
	uint8_t                 payload[512], buf[1024];
	void                   *out;
	size_t                  outlen;
	dispatch_info           info;

	req.area         = area;
	req.offence      = "88A";
	p.text           = "2024/25";
	req.period       = &p;
	env.method       = RPC_METHOD_PREFIX "GetCount";
	env.payload.data = payload;
	env.payload.len  = offstat__v1__get_count_request__pack(&req, payload);
	size_t n         = offstat__v1__rpc_request__pack(&env, buf);
	assert_int_equal(dispatch_request(buf, n, &opts, &out, &outlen, &info),
	                 0);
	Offstat__V1__RpcResponse *r =
	        offstat__v1__rpc_response__unpack(NULL, outlen, out);
	free(out);
	assert_non_null(r);
	assert_int_equal(r->status->code, OFFSTAT__V1__CODE__NOT_FOUND);
	for (const unsigned char *c =
	             (const unsigned char *)r->status->message;
	     *c != '\0'; c++) {
		/* The split lead byte became '?'; no byte >= 0x80 is left
		 * without its continuation. */
		if (*c >= 0xc0) {
			assert_true((c[1] & 0xc0) == 0x80);
		}
	}
	assert_non_null(strstr(r->status->message, "a?'"));
	offstat__v1__rpc_response__free_unpacked(r, NULL);
}

static void
test_series(void **state)
{
	(void)state;
	int                           code;
	Offstat__V1__GetSeriesRequest req =
	        OFFSTAT__V1__GET_SERIES_REQUEST__INIT;
	Offstat__V1__Period from = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period to   = OFFSTAT__V1__PERIOD__INIT;
	req.area                 = "dorset";
	req.offence              = "S15A";
	from.text                = "2017/18";
	to.text                  = "2020/21";
	req.from                 = &from;
	req.to                   = &to;
	Offstat__V1__GetSeriesResponse *r =
	        call("GetSeries", &req.base,
	             &offstat__v1__get_series_response__descriptor, &code);
	assert_int_equal(code, 0);
	assert_int_equal(r->n_points, 4);
	const uint64_t want[] = {37, 84, 61, 62};
	for (size_t i = 0; i < 4; i++) {
		assert_true(r->points[i]->present);
		assert_int_equal(r->points[i]->count, want[i]);
		assert_int_equal(r->points[i]->period->year, 2017 + i);
	}
	offstat__v1__get_series_response__free_unpacked(r, NULL);

	/* Quarterly, with open ends: the offence's data range. */
	req.area        = "dorset";
	req.offence     = "88A";
	req.from        = NULL;
	req.to          = NULL;
	req.granularity = OFFSTAT__V1__GRANULARITY__QUARTERLY;
	from.text       = "2024/25 Q1";
	req.from        = &from;
	r               = call("GetSeries", &req.base,
	                       &offstat__v1__get_series_response__descriptor, &code);
	assert_int_equal(code, 0);
	assert_int_equal(r->n_points, 4);
	assert_int_equal(r->points[3]->count, 28);
	assert_string_equal(r->points[3]->period->text, "2024/25 Q4");
	offstat__v1__get_series_response__free_unpacked(r, NULL);

	/* Backwards and absurd ranges. */
	req.granularity = OFFSTAT__V1__GRANULARITY__YEARLY;
	from.text       = "2020/21";
	to.text         = "2017/18";
	req.to          = &to;
	assert_null(call("GetSeries", &req.base,
	                 &offstat__v1__get_series_response__descriptor,
	                 &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	req.granularity = (Offstat__V1__Granularity)9;
	assert_null(call("GetSeries", &req.base,
	                 &offstat__v1__get_series_response__descriptor,
	                 &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
}

static Offstat__V1__CompareTrendResponse *
compare(const char *area, const char *offence, const char *base,
        const char *end, int *code)
{
	Offstat__V1__CompareTrendRequest req =
	        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
	Offstat__V1__Period b = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period e = OFFSTAT__V1__PERIOD__INIT;
	req.area              = (char *)area;
	req.offence           = (char *)offence;
	b.text                = (char *)base;
	e.text                = (char *)end;
	req.base_period       = &b;
	req.end_period        = &e;
	return (call("CompareTrend", &req.base,
	             &offstat__v1__compare_trend_response__descriptor, code));
}

static void
test_compare_seed(void **state)
{
	(void)state;
	int code;
	/* The motivating comparison: Dorset 37 -> 62 is +67.6%. */
	Offstat__V1__CompareTrendResponse *r =
	        compare("dorset", "s15a", "2017/18", "2020/21", &code);
	assert_int_equal(code, 0);
	Offstat__V1__Trend *s = r->subject;
	assert_true(s->change_known);
	assert_int_equal(s->base_value->count, 37);
	assert_int_equal(s->end_value->count, 62);
	assert_int_equal(s->change, 25);
	assert_true(s->percent_known);
	assert_float_equal(s->percent_change, 67.567567, 1e-5);
	assert_non_null(strstr(r->summary, "up 67.6%"));
	/* Comparators: every area Dorset sums into. */
	assert_int_equal(r->n_comparators, 4);
	assert_string_equal(r->comparators[0]->area->code, "E12000009");
	assert_string_equal(r->comparators[1]->area->code, "E92000001");
	assert_string_equal(r->comparators[2]->area->code, "K04000001");
	assert_string_equal(r->comparators[3]->area->code, "K02000001");
	/* The South West: 377 published for 2017/18, no 2020/21 count, a
	 * published change of +28.6% for the same span. */
	Offstat__V1__Trend *sw = r->comparators[0];
	assert_true(sw->base_value->present);
	assert_int_equal(sw->base_value->count, 377);
	assert_false(sw->end_value->present);
	assert_false(sw->change_known);
	assert_false(sw->difference_known);
	assert_int_equal(sw->n_published_changes, 1);
	assert_float_equal(sw->published_changes[0]->percent, 28.6, 1e-9);
	assert_non_null(strstr(r->summary, "+28.6%"));
	/* England and Wales: 3,217 for 2017/18 only. */
	assert_int_equal(r->comparators[2]->base_value->count, 3217);
	assert_false(r->comparators[2]->change_known);
	/* Every source named is listed. */
	bool echo = false;
	for (size_t i = 0; i < r->n_sources; i++) {
		echo |= strcmp(r->sources[i]->id, "echo-2021") == 0;
	}
	assert_true(echo);
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);
}

static void
test_compare_like_for_like(void **state)
{
	(void)state;
	int code;
	/* South West published figures: 377 -> 481 is +27.6%. */
	Offstat__V1__CompareTrendResponse *r =
	        compare("south west", "S15A", "2017/18", "2021/22", &code);
	assert_int_equal(code, 0);
	assert_true(r->subject->percent_known);
	assert_float_equal(r->subject->percent_change, 27.586207, 1e-5);
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);

	/* England and Wales: 3,217 -> 4,373 is +35.9%. */
	r = compare("england and wales", "S15A", "2017/18", "2018/19", &code);
	assert_float_equal(r->subject->percent_change, 35.934100, 1e-5);
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);

	/* Quarter to quarter in the South West: the region is summed over
	 * its other forces like for like, with a difference in points. */
	r = compare("dorset", "88A", "2024/25 Q1", "2024/25 Q4", &code);
	assert_int_equal(code, 0);
	assert_int_equal(r->subject->change, 18);
	assert_float_equal(r->subject->percent_change, 180.0, 1e-9);
	Offstat__V1__Trend *sw = r->comparators[0];
	assert_true(sw->change_known);
	/* 72+55+10+31+22 = 190 -> 65+52+28+20+17 = 182 */
	assert_int_equal(sw->base_value->count, 190);
	assert_int_equal(sw->end_value->count, 182);
	assert_true(sw->difference_known);
	assert_float_equal(sw->difference_pp, 180.0 - (-8.0 / 190 * 100),
	                   1e-9);
	/* England: five of its 39 forces have figures, too few to stand
	 * for it like for like: no change, and the note says why. */
	Offstat__V1__Trend *en = r->comparators[1];
	assert_false(en->change_known);
	assert_false(en->base_value->present);
	assert_non_null(strstr(en->note, "only 5 of 39 members"));
	/* The United Kingdom likewise (5 of 45). */
	assert_false(r->comparators[3]->change_known);
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);
}

static void
test_compare_series_break(void **state)
{
	(void)state;
	int                                code;
	Offstat__V1__CompareTrendResponse *r =
	        compare("england and wales", "88A", "2016/17",
	                "year ending June 2024", &code);
	assert_int_equal(code, 0);
	assert_true(r->subject->change_known);
	assert_int_equal(r->subject->change, 7479 - 1156);
	assert_true(has_flag(r->subject->flags, r->subject->n_flags,
	                     OFFSTAT__V1__FLAG__SERIES_BREAK));
	assert_non_null(strstr(r->subject->note, "series breaks"));
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);
}

/*
 * Intervals and tests on a trend. Expected values from SciPy 1.10
 * (Debian python3-scipy), as tests/unit/stats_vectors.py does:
 *   binomtest(28, 38, 0.5): p = 0.0050976432976312935, and its exact
 *     (Clopper-Pearson) interval for p carried to the ratio p / (1 - p):
 *     1.320141237694821 to 6.460808947414493;
 *   chi2.ppf(0.025, 20) / 2 = 4.7953886961324335 and
 *     chi2.ppf(0.975, 22) / 2 = 18.39035604201778 (Poisson interval of 10);
 *   odds_ratio([[28, 10], [154, 180]], kind='conditional'):
 *     3.262760406607393, interval 1.4808983564053473 to
 *     7.778925575334252; fisher_exact gives p = 0.0017457669571186597.
 */
static void
test_compare_tests(void **state)
{
	(void)state;
	int                                code;
	Offstat__V1__CompareTrendResponse *r =
	        compare("dorset", "88A", "2024/25 Q1", "2024/25 Q4", &code);
	assert_int_equal(code, 0);
	assert_float_equal(r->confidence, 0.95, 0);
	/* Dorset 10 -> 28: a rise beyond chance. */
	Offstat__V1__RatioTest *ct = r->subject->change_test;
	assert_true(ct->known);
	assert_float_equal(ct->estimate, 2.8, 1e-12);
	assert_float_equal(ct->lower, 1.320141237694821, 1e-9);
	assert_float_equal(ct->upper, 6.460808947414493, 1e-9);
	assert_float_equal(ct->p_value, 0.0050976432976312935, 1e-12);
	assert_string_equal(ct->verdict, "rose");
	/* Rates per 100,000 people (Dorset: 776,780) with the exact
	 * interval of the count. */
	Offstat__V1__Rate *rate = r->subject->base_value->rates->people;
	assert_true(rate->known);
	assert_int_equal(rate->population, 776780);
	assert_float_equal(rate->per_100k, 10 / 776780.0 * 1e5, 1e-12);
	assert_float_equal(rate->lower, 4.7953886961324335 / 776780.0 * 1e5,
	                   1e-9);
	assert_float_equal(rate->upper, 18.39035604201778 / 776780.0 * 1e5,
	                   1e-9);
	assert_int_equal(r->subject->base_value->rates->under18->population,
	                 144050);
	/* Against the rest of the South West: 180 -> 154 without Dorset. */
	Offstat__V1__RatioTest *vs = r->comparators[0]->versus_subject;
	assert_true(vs->known);
	assert_float_equal(vs->estimate, 3.262760406607393, 1e-6);
	assert_float_equal(vs->lower, 1.4808983564053473, 1e-6);
	assert_float_equal(vs->upper, 7.778925575334252, 1e-6);
	assert_float_equal(vs->p_value, 0.0017457669571186597, 1e-9);
	assert_string_equal(vs->verdict, "higher than");
	assert_non_null(strstr(vs->note, "the rest of the South West"));
	assert_non_null(strstr(
	        r->summary, "higher than that of the rest of the South West"));
	/* The region's rate covers its five forces' population. */
	assert_int_equal(
	        r->comparators[0]->base_value->rates->people->population,
	        1729464 + 1785298 + 640650 + 726951 + 776780);
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);

	/* Dorset's s.15A rise: the published South West change has no
	 * counts, so there is nothing to test it against. Expected values:
	 * binomtest(62, 99, 0.5), p = 0.015432364507309008, interval
	 * 1.0977016045760912 to 2.5902641051615545. */
	r  = compare("dorset", "S15A", "2017/18", "2020/21", &code);
	ct = r->subject->change_test;
	assert_float_equal(ct->p_value, 0.015432364507309008, 1e-12);
	assert_float_equal(ct->lower, 1.0977016045760912, 1e-9);
	assert_float_equal(ct->upper, 2.5902641051615545, 1e-9);
	assert_false(r->comparators[0]->versus_subject->known);
	assert_false(r->comparators[0]->change_test->known);
	assert_non_null(strstr(r->summary, "published as +28.6%"));
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);
}

static void
test_compare_confidence(void **state)
{
	(void)state;
	int                              code;
	Offstat__V1__CompareTrendRequest req =
	        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
	Offstat__V1__Period b = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period e = OFFSTAT__V1__PERIOD__INIT;
	req.area              = "dorset";
	req.offence           = "S15A";
	b.text                = "2017/18";
	e.text                = "2020/21";
	req.base_period       = &b;
	req.end_period        = &e;
	/* At 99% the s.15A rise (p = 0.015) is within chance. */
	req.confidence = 0.99;
	Offstat__V1__CompareTrendResponse *r =
	        call("CompareTrend", &req.base,
	             &offstat__v1__compare_trend_response__descriptor, &code);
	assert_int_equal(code, 0);
	assert_float_equal(r->confidence, 0.99, 0);
	assert_string_equal(r->subject->change_test->verdict,
	                    "no distinguishable change");
	assert_non_null(strstr(r->summary, "within what chance"));
	offstat__v1__compare_trend_response__free_unpacked(r, NULL);
	const double bad[] = {0.2, 1.0, 5.0, -0.95};
	for (size_t i = 0; i < 4; i++) {
		req.confidence = bad[i];
		assert_null(
		        call("CompareTrend", &req.base,
		             &offstat__v1__compare_trend_response__descriptor,
		             &code));
		assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	}
}

static Offstat__V1__RankAreasResponse *
rank(Offstat__V1__RankBy by, const char *within, const char *base, int *code)
{
	Offstat__V1__RankAreasRequest req =
	        OFFSTAT__V1__RANK_AREAS_REQUEST__INIT;
	Offstat__V1__Period p = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period b = OFFSTAT__V1__PERIOD__INIT;
	req.offence           = "88A";
	req.by                = by;
	req.within            = (char *)within;
	p.text                = base != NULL ? "2024/25 Q4" : "2024/25";
	b.text                = (char *)base;
	req.period            = &p;
	req.base_period       = base != NULL ? &b : NULL;
	return (call("RankAreas", &req.base,
	             &offstat__v1__rank_areas_response__descriptor, code));
}

static void
test_rank(void **state)
{
	(void)state;
	int code;
	/* By count: Avon and Somerset 281, Devon and Cornwall 224,
	 * Gloucestershire 90, Dorset 64, Wiltshire 61. */
	Offstat__V1__RankAreasResponse *r =
	        rank(OFFSTAT__V1__RANK_BY__COUNT, "south west", NULL, &code);
	assert_int_equal(code, 0);
	assert_int_equal(r->n_areas, 5);
	assert_int_equal(r->n_missing, 0);
	const char  *order[]  = {"E23000036", "E23000035", "E23000037",
	                         "E23000039", "E23000038"};
	const double counts[] = {281, 224, 90, 64, 61};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(r->areas[i]->rank, i + 1);
		assert_string_equal(r->areas[i]->area->code, order[i]);
		assert_float_equal(r->areas[i]->score, counts[i], 0);
		assert_true(r->areas[i]->lower < r->areas[i]->score);
		assert_true(r->areas[i]->upper > r->areas[i]->score);
	}
	assert_non_null(strstr(r->caution, "not a ranking of safety"));
	offstat__v1__rank_areas_response__free_unpacked(r, NULL);

	/* By rate: Avon and Somerset 281 / 1,729,464 leads (16.2 per
	 * 100,000); Dorset 64 / 776,780 (8.2) is last, below Wiltshire's
	 * 61 / 726,951 (8.4). */
	r = rank(OFFSTAT__V1__RANK_BY__RATE, "E12000009", NULL, &code);
	assert_int_equal(code, 0);
	assert_string_equal(r->areas[0]->area->code, "E23000036");
	assert_float_equal(r->areas[0]->score, 281 / 1729464.0 * 1e5, 1e-9);
	assert_string_equal(r->areas[3]->area->code, "E23000038");
	assert_string_equal(r->areas[4]->area->code, "E23000039");
	offstat__v1__rank_areas_response__free_unpacked(r, NULL);

	/* Every English force: five ranked, the rest listed apart. */
	r = rank(OFFSTAT__V1__RANK_BY__COUNT, "england", NULL, &code);
	assert_int_equal(r->n_areas, 5);
	assert_int_equal(r->n_missing, 34);
	offstat__v1__rank_areas_response__free_unpacked(r, NULL);

	/* By change, Q1 to Q4: Dorset (+180%) first, Gloucestershire
	 * (20 / 31 - 1 = -35.5%) last. */
	r = rank(OFFSTAT__V1__RANK_BY__CHANGE, "south west", "2024/25 Q1",
	         &code);
	assert_int_equal(code, 0);
	assert_string_equal(r->areas[0]->area->code, "E23000039");
	assert_float_equal(r->areas[0]->score, 180.0, 1e-9);
	assert_non_null(r->areas[0]->trend);
	assert_string_equal(r->areas[4]->area->code, "E23000037");
	assert_float_equal(r->areas[4]->score, (20.0 / 31 - 1) * 100, 1e-9);
	offstat__v1__rank_areas_response__free_unpacked(r, NULL);

	/* A change needs its base period. */
	assert_null(
	        rank(OFFSTAT__V1__RANK_BY__CHANGE, "south west", NULL, &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	assert_null(rank((Offstat__V1__RankBy)42, NULL, NULL, &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	assert_null(
	        rank(OFFSTAT__V1__RANK_BY__COUNT, "atlantis", NULL, &code));
	assert_int_equal(code, OFFSTAT__V1__CODE__NOT_FOUND);
}

static void
test_catalogue(void **state)
{
	(void)state;
	int                           code;
	Offstat__V1__ListAreasRequest la =
	        OFFSTAT__V1__LIST_AREAS_REQUEST__INIT;
	Offstat__V1__PageRequest pg = OFFSTAT__V1__PAGE_REQUEST__INIT;
	la.kind                     = OFFSTAT__V1__AREA_KIND__FORCE;
	la.page                     = &pg;
	pg.page_size                = 40;
	Offstat__V1__ListAreasResponse *a =
	        call("ListAreas", &la.base,
	             &offstat__v1__list_areas_response__descriptor, &code);
	assert_int_equal(code, 0);
	assert_int_equal(a->total, 43);
	assert_int_equal(a->n_areas, 40);
	assert_string_equal(a->next_page_token, "40");
	pg.page_token = "40";
	offstat__v1__list_areas_response__free_unpacked(a, NULL);
	a = call("ListAreas", &la.base,
	         &offstat__v1__list_areas_response__descriptor, &code);
	assert_int_equal(a->n_areas, 3);
	assert_string_equal(a->next_page_token, "");
	assert_string_equal(a->areas[2]->code, "W15000004");
	offstat__v1__list_areas_response__free_unpacked(a, NULL);

	/* Forces of the South West, with populations. */
	la.kind       = OFFSTAT__V1__AREA_KIND__FORCE;
	la.parent     = "south west";
	pg.page_token = "";
	a             = call("ListAreas", &la.base,
	                     &offstat__v1__list_areas_response__descriptor, &code);
	assert_int_equal(a->total, 5);
	for (size_t i = 0; i < a->n_areas; i++) {
		assert_string_equal(a->areas[i]->region_code, "E12000009");
		assert_true(a->areas[i]->population > 500000);
	}
	offstat__v1__list_areas_response__free_unpacked(a, NULL);

	Offstat__V1__ListOffencesRequest lo =
	        OFFSTAT__V1__LIST_OFFENCES_REQUEST__INIT;
	lo.query = "grooming";
	Offstat__V1__ListOffencesResponse *o =
	        call("ListOffences", &lo.base,
	             &offstat__v1__list_offences_response__descriptor, &code);
	assert_int_equal(code, 0);
	assert_int_equal(o->total, 1);
	assert_string_equal(o->offences[0]->code, "88A");
	assert_int_equal(o->offences[0]->n_breaks, 1);
	assert_int_equal(o->offences[0]->breaks[0]->year, 2017);
	offstat__v1__list_offences_response__free_unpacked(o, NULL);

	Offstat__V1__ListSourcesRequest ls =
	        OFFSTAT__V1__LIST_SOURCES_REQUEST__INIT;
	Offstat__V1__ListSourcesResponse *s =
	        call("ListSources", &ls.base,
	             &offstat__v1__list_sources_response__descriptor, &code);
	assert_int_equal(code, 0);
	assert_true(s->total >= 10);
	assert_int_equal(s->n_sources, s->total);
	offstat__v1__list_sources_response__free_unpacked(s, NULL);

	Offstat__V1__ServerInfoRequest si =
	        OFFSTAT__V1__SERVER_INFO_REQUEST__INIT;
	Offstat__V1__ServerInfoResponse *info =
	        call("ServerInfo", &si.base,
	             &offstat__v1__server_info_response__descriptor, &code);
	assert_int_equal(code, 0);
	assert_string_equal(info->version, OFFSTAT_VERSION_STRING);
	assert_int_equal(info->areas, 63);
	assert_true(info->offences >= 146);
	assert_non_null(strstr(info->release, "bundled"));
	offstat__v1__server_info_response__free_unpacked(info, NULL);
}

static Offstat__V1__Period period_text = OFFSTAT__V1__PERIOD__INIT;

/* A cached reply goes to no one the token check would refuse. */
static void
test_cache_after_auth(void **state)
{
	(void)state;
	Offstat__V1__GetCountRequest req =
	        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period p = OFFSTAT__V1__PERIOD__INIT;
	dispatch_opts       o = cached;
	dispatch_info       info;
	size_t              n, outlen;
	void               *out;

	req.area     = "dorset";
	req.offence  = "88A";
	p.text       = "2024/25";
	req.period   = &p;
	uint8_t *buf = envelope("GetCount", &req.base, "a1", &n);
	out          = answer(buf, n, &o, &outlen, &info);
	assert_int_equal(info.code, OFFSTAT__V1__CODE__OK);
	free(out);
	o.reads_need_token = true;
	out                = answer(buf, n, &o, &outlen, &info);
	assert_int_equal(info.code, OFFSTAT__V1__CODE__UNAUTHENTICATED);
	free(out);
	free(buf);
}

/*
 * Many workers on a small cache (evicting all the time) while the
 * snapshot is replaced under them: every reply is the one the service
 * gives without a cache. Run under TSan, this is the cache's race test.
 */
#define RACE_THREADS  4
#define RACE_ROUNDS   150
#define RACE_REQUESTS 48

typedef struct {
	uint8_t *req[RACE_REQUESTS];
	size_t   reqlen[RACE_REQUESTS];
	void    *want[RACE_REQUESTS];
	size_t   wantlen[RACE_REQUESTS];
	int      bad;
} race;

static void *
race_worker(void *arg)
{
	race         *r = arg;
	dispatch_opts o = cached;
	/* 1.5 KiB a shard: the larger replies are never kept, the
	 * others often evicted. */
	o.reply_cache = 96u << 10;
	for (int k = 0; k < RACE_ROUNDS; k++) {
		for (int i = 0; i < RACE_REQUESTS; i++) {
			void         *out;
			size_t        len;
			dispatch_info info;
			int           j = (i * 7 + k) % RACE_REQUESTS;
			if (dispatch_request(r->req[j], r->reqlen[j], &o, &out,
			                     &len, &info) != 0) {
				__atomic_add_fetch(&r->bad, 1,
				                   __ATOMIC_RELAXED);
				continue;
			}
			if (len != r->wantlen[j] ||
			    memcmp(out, r->want[j], len) != 0) {
				__atomic_add_fetch(&r->bad, 1,
				                   __ATOMIC_RELAXED);
			}
			free(out);
		}
	}
	return (NULL);
}

static void
test_cache_threads(void **state)
{
	(void)state;
	static const char *areas[] = {"dorset", "south west", "england",
	                              "E23000039"};
	static const char *years[] = {"2017/18", "2024/25", "2024/25 Q2",
	                              "2019/20"};
	race               r;
	pthread_t          t[RACE_THREADS];
	dispatch_info      info;
	char               err[512];

	memset(&r, 0, sizeof(r));
	for (int i = 0; i < RACE_REQUESTS; i++) {
		if (i % 3 == 2) {
			Offstat__V1__CompareTrendRequest c =
			        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
			Offstat__V1__Period b = OFFSTAT__V1__PERIOD__INIT,
			                    e = OFFSTAT__V1__PERIOD__INIT;
			c.area                = (char *)areas[i % 4];
			c.offence             = "88A";
			b.text                = (char *)years[(i / 4) % 2];
			e.text                = "2024/25";
			c.base_period         = &b;
			c.end_period          = &e;
			r.req[i] = envelope("CompareTrend", &c.base, "x",
			                    &r.reqlen[i]);
		} else {
			Offstat__V1__GetCountRequest g =
			        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
			Offstat__V1__Period p = period_text;
			g.area                = (char *)areas[i % 4];
			g.offence             = i % 2 ? "S15A" : "88A";
			p.text                = (char *)years[(i / 4) % 4];
			g.period              = &p;
			r.req[i] = envelope("GetCount", &g.base, "x",
			                    &r.reqlen[i]);
		}
		r.want[i] = answer(r.req[i], r.reqlen[i], &opts, &r.wantlen[i],
		                   &info);
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, race_worker, &r),
		                 0);
	}
	/* The same release loaded again: a new snapshot, a new cache. */
	for (int k = 0; k < 5; k++) {
		snapshot *snap;
		assert_int_equal(
		        store_load_snapshot(st, &snap, err, sizeof(err)), 0);
		snapshot_publish(snap);
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_join(t[i], NULL);
	}
	assert_int_equal(r.bad, 0);
	for (int i = 0; i < RACE_REQUESTS; i++) {
		free(r.req[i]);
		free(r.want[i]);
	}
}

/* The reply to req with and without the snapshot's table of figures:
 * the same bytes. */
static void
same_both_ways(const char *method, const ProtobufCMessage *req)
{
	size_t        n, l1, l2;
	dispatch_info i1, i2;
	uint8_t      *buf = envelope(method, req, "t", &n);

	q_use_tables(false);
	void *slow = answer(buf, n, &opts, &l1, &i1);
	q_use_tables(true);
	void *fast = answer(buf, n, &opts, &l2, &i2);
	if (l1 != l2 || memcmp(slow, fast, l1) != 0) {
		fail_msg("%s: the table changes the reply", method);
	}
	free(slow);
	free(fast);
	free(buf);
}

/*
 * Every area, a few offences, years, quarters and rolling years: counts,
 * series and comparisons read from the snapshot's table are what the
 * cells give.
 */
static void
test_tables(void **state)
{
	(void)state;
	static const char *offences[] = {"88A", "S15A", "105A", "8P"};
	static const char *periods[]  = {"2011/12",
	                                 "2012/13",
	                                 "2016/17",
	                                 "2017/18",
	                                 "2018/19",
	                                 "2019/20",
	                                 "2020/21",
	                                 "2023/24",
	                                 "2024/25",
	                                 "2024/25 Q1",
	                                 "2024/25 Q2",
	                                 "2024/25 Q4",
	                                 "2017/18 Q3",
	                                 "year ending June 2024",
	                                 "year ending March 2024",
	                                 "2025/26"};
	const size_t       np         = sizeof(periods) / sizeof(periods[0]);
	snapshot          *snap       = snapshot_current();

	for (size_t a = 0; a < snap->nareas; a++) {
		for (size_t o = 0; o < 4; o++) {
			Offstat__V1__GetCountRequest g =
			        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
			Offstat__V1__GetSeriesRequest sr =
			        OFFSTAT__V1__GET_SERIES_REQUEST__INIT;
			Offstat__V1__Period p  = OFFSTAT__V1__PERIOD__INIT;
			Offstat__V1__Period p2 = OFFSTAT__V1__PERIOD__INIT;
			g.area                 = (char *)snap->areas[a].code;
			g.offence              = (char *)offences[o];
			g.period               = &p;
			for (size_t k = 0; k < np; k++) {
				p.text = (char *)periods[k];
				same_both_ways("GetCount", &g.base);
			}
			sr.area    = g.area;
			sr.offence = g.offence;
			same_both_ways("GetSeries", &sr.base);
			sr.granularity = OFFSTAT__V1__GRANULARITY__QUARTERLY;
			same_both_ways("GetSeries", &sr.base);
			for (size_t k = 0; k + 1 < np; k += 2) {
				Offstat__V1__CompareTrendRequest c =
				        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
				c.area    = g.area;
				c.offence = g.offence;
				p.text    = (char *)periods[k];
				p2.text   = (char *)periods[(k * 5 + 3) % np];
				c.base_period = &p;
				c.end_period  = &p2;
				same_both_ways("CompareTrend", &c.base);
			}
		}
	}
	snapshot_unref(snap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_count_names),
	        cmocka_unit_test(test_count_conflict),
	        cmocka_unit_test(test_count_sums),
	        cmocka_unit_test(test_count_errors),
	        cmocka_unit_test(test_error_messages_are_utf8),
	        cmocka_unit_test(test_series),
	        cmocka_unit_test(test_compare_seed),
	        cmocka_unit_test(test_compare_like_for_like),
	        cmocka_unit_test(test_compare_series_break),
	        cmocka_unit_test(test_compare_tests),
	        cmocka_unit_test(test_compare_confidence),
	        cmocka_unit_test(test_rank),
	        cmocka_unit_test(test_catalogue),
	        cmocka_unit_test(test_cache_after_auth),
	        cmocka_unit_test(test_cache_threads),
	        cmocka_unit_test(test_tables),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
