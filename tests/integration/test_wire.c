/*
 * The wire contract, spoken raw: NNG REQ and protobuf-c, no liboffstat,
 * as any other implementation would. Every bad input gets a reply with the
 * right status, and the service answers the next good request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "offstat/v1/offstat.pb-c.h"

static harness_server srv;

static int
setup(void **state)
{
	(void)state;
	return (harness_start(&srv, 1, NULL));
}

static int
teardown(void **state)
{
	(void)state;
	/* A clean exit is part of the contract; sanitizer builds also fail
	 * it here when the service leaked. */
	return (harness_stop(&srv) == 0 ? 0 : -1);
}

/* Packs an envelope around a packed payload. */
static size_t
envelope(const char *method, const void *payload, size_t plen, uint8_t **out)
{
	Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
	env.method                  = (char *)method;
	env.payload.data            = (uint8_t *)payload;
	env.payload.len             = plen;
	env.request_id              = "test-1";
	size_t n = offstat__v1__rpc_request__get_packed_size(&env);
	*out     = malloc(n + 1);
	return (offstat__v1__rpc_request__pack(&env, *out));
}

/* Sends raw bytes; returns the decoded response (caller frees). */
static Offstat__V1__RpcResponse *
call_raw(const void *buf, size_t len)
{
	void  *reply;
	size_t rlen;
	int    rv = harness_exchange(srv.url, buf, len, &reply, &rlen, 5000);
	if (rv != 0) {
		fail_msg("no reply: nng error %d", rv);
	}
	Offstat__V1__RpcResponse *r =
	        offstat__v1__rpc_response__unpack(NULL, rlen, reply);
	free(reply);
	assert_non_null(r);
	assert_non_null(r->status);
	return (r);
}

static Offstat__V1__RpcResponse *
call(const char *method, const ProtobufCMessage *msg)
{
	uint8_t *payload = NULL, *env;
	size_t   plen    = 0, n;
	if (msg != NULL) {
		payload = malloc(protobuf_c_message_get_packed_size(msg) + 1);
		plen    = protobuf_c_message_pack(msg, payload);
	}
	n                           = envelope(method, payload, plen, &env);
	Offstat__V1__RpcResponse *r = call_raw(env, n);
	free(env);
	free(payload);
	return (r);
}

#define M(name) "offstat.v1.OffenceStats/" name

/* The service still answers a good request. */
static void
assert_alive(void)
{
	Offstat__V1__ServerInfoRequest req =
	        OFFSTAT__V1__SERVER_INFO_REQUEST__INIT;
	Offstat__V1__RpcResponse *r = call(M("ServerInfo"), &req.base);
	assert_int_equal(r->status->code, OFFSTAT__V1__CODE__OK);
	Offstat__V1__ServerInfoResponse *info =
	        offstat__v1__server_info_response__unpack(NULL, r->payload.len,
	                                                  r->payload.data);
	assert_non_null(info);
	assert_string_equal(info->api, "offstat.v1");
	assert_true(info->areas >= 43);
	offstat__v1__server_info_response__free_unpacked(info, NULL);
	offstat__v1__rpc_response__free_unpacked(r, NULL);
}

static void
expect_code(Offstat__V1__RpcResponse *r, int code)
{
	if ((int)r->status->code != code) {
		fail_msg("status %d (%s), expected %d", r->status->code,
		         r->status->message, code);
	}
	assert_true(r->status->message[0] != '\0' || code == 0);
	assert_int_equal(r->payload.len, 0);
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	assert_alive();
}

static void
test_garbage(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		const char *bytes;
		size_t      len;
	} cases[] = {
	        {"empty", "", 0},
	        {"one zero byte", "\0", 1},
	        {"random bytes", "\xde\xad\xbe\xef\x13\x37\xff\xfe", 8},
	        {"truncated varint", "\x0a\xff\xff\xff", 4},
	        {"string length past the end", "\x0a\x40offstat", 9},
	        {"huge length prefix", "\x12\xff\xff\xff\xff\x0f", 6},
	        {"wrong wire type for method", "\x08\x01", 2},
	        {"text", "GET / HTTP/1.1\r\n\r\n", 18},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Offstat__V1__RpcResponse *r =
		        call_raw(cases[i].bytes, cases[i].len);
		/* An empty message is a valid (empty) envelope whose method
		 * is missing; everything else fails to decode. */
		int want = cases[i].len == 0
		                   ? OFFSTAT__V1__CODE__UNIMPLEMENTED
		                   : OFFSTAT__V1__CODE__INVALID_ARGUMENT;
		if ((int)r->status->code != want) {
			fail_msg("%s: status %d, expected %d", cases[i].name,
			         r->status->code, want);
		}
		expect_code(r, want);
	}
}

static void
test_methods(void **state)
{
	(void)state;
	Offstat__V1__ServerInfoRequest none =
	        OFFSTAT__V1__SERVER_INFO_REQUEST__INIT;
	expect_code(call("offstat.v1.OffenceStats/NoSuchMethod", &none.base),
	            OFFSTAT__V1__CODE__UNIMPLEMENTED);
	expect_code(call("other.Service/GetCount", &none.base),
	            OFFSTAT__V1__CODE__UNIMPLEMENTED);
	expect_code(call("GetCount", &none.base),
	            OFFSTAT__V1__CODE__UNIMPLEMENTED);
	/* A write without a token is refused before anything else. */
	Offstat__V1__IngestRequest ing = OFFSTAT__V1__INGEST_REQUEST__INIT;
	expect_code(call(M("Ingest"), &ing.base),
	            OFFSTAT__V1__CODE__UNAUTHENTICATED);
}

static void
test_bad_payloads(void **state)
{
	(void)state;
	uint8_t *env;
	size_t   n;

	/* A payload that is not a protobuf message at all. */
	n = envelope(M("GetCount"), "\xff\xff\xff", 3, &env);
	expect_code(call_raw(env, n), OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	free(env);

	/* A payload of the wrong type: a ListAreasRequest whose page
	 * (field 1, a message) lands on GetCount's area (field 1, a string)
	 * holding bytes that are not UTF-8. */
	n = envelope(M("GetCount"), "\x0a\x02\x10\xff", 4, &env);
	expect_code(call_raw(env, n), OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	free(env);

	/* Invalid UTF-8 in the method name. */
	n = envelope("offstat.v1.OffenceStats/Get\xc3\x28", NULL, 0, &env);
	expect_code(call_raw(env, n), OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	free(env);

	/* An empty request: required fields missing. */
	Offstat__V1__GetCountRequest gc = OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	expect_code(call(M("GetCount"), &gc.base),
	            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
}

static void
test_oversize(void **state)
{
	(void)state;
	/* Over the 1 MiB request limit but under the transport's hard
	 * limit: the service must still reply. */
	size_t   big     = (1u << 20) + 4096;
	uint8_t *payload = calloc(1, big), *env;
	size_t   n       = envelope(M("GetCount"), payload, big, &env);
	expect_code(call_raw(env, n), OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED);
	free(env);
	free(payload);
}

static Offstat__V1__RpcResponse *
get_count(const char *area, const char *offence, const char *text,
          unsigned year, unsigned quarter)
{
	Offstat__V1__GetCountRequest req =
	        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period p = OFFSTAT__V1__PERIOD__INIT;
	req.area              = (char *)area;
	req.offence           = (char *)offence;
	p.text                = (char *)text;
	p.year                = year;
	p.quarter             = quarter;
	req.period            = &p;
	return (call(M("GetCount"), &req.base));
}

static void
test_unknown_names(void **state)
{
	(void)state;
	expect_code(get_count("Atlantis", "88A", "2024/25", 0, 0),
	            OFFSTAT__V1__CODE__NOT_FOUND);
	expect_code(get_count("dorset", "999Z", "2024/25", 0, 0),
	            OFFSTAT__V1__CODE__NOT_FOUND);
	expect_code(get_count("dorset'; DROP TABLE counts; --", "88A",
	                      "2024/25", 0, 0),
	            OFFSTAT__V1__CODE__NOT_FOUND);
	/* Several offences contain "burglary": ambiguous, not a guess. */
	expect_code(get_count("dorset", "burglary", "2024/25", 0, 0),
	            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
}

static void
test_bad_periods(void **state)
{
	(void)state;
	static const char *const texts[] = {
	        "2017/19",   "9999/00", "2024/25 Q5", "year ending May 2024",
	        "yesterday", "2017",    "1800/01"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		expect_code(get_count("dorset", "S15A", texts[i], 0, 0),
		            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	}
	expect_code(get_count("dorset", "S15A", "", 2017, 7),
	            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	expect_code(get_count("dorset", "S15A", "", 99999, 0),
	            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
}

static void
test_bad_paging(void **state)
{
	(void)state;
	Offstat__V1__ListAreasRequest req =
	        OFFSTAT__V1__LIST_AREAS_REQUEST__INIT;
	Offstat__V1__PageRequest pg = OFFSTAT__V1__PAGE_REQUEST__INIT;
	req.page                    = &pg;
	pg.page_size                = 1000000;
	expect_code(call(M("ListAreas"), &req.base),
	            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	pg.page_size  = 10;
	pg.page_token = "not-a-token";
	expect_code(call(M("ListAreas"), &req.base),
	            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
	pg.page_token = "";
	req.kind      = (Offstat__V1__AreaKind)77;
	expect_code(call(M("ListAreas"), &req.base),
	            OFFSTAT__V1__CODE__INVALID_ARGUMENT);
}

/* A good exchange, decoded by hand: the request id comes back. */
static void
test_good_count(void **state)
{
	(void)state;
	Offstat__V1__RpcResponse *r =
	        get_count("E23000039", "S15A", "", 2020, 0);
	assert_int_equal(r->status->code, OFFSTAT__V1__CODE__OK);
	assert_string_equal(r->request_id, "test-1");
	Offstat__V1__GetCountResponse *gc =
	        offstat__v1__get_count_response__unpack(NULL, r->payload.len,
	                                                r->payload.data);
	assert_non_null(gc);
	assert_string_equal(gc->area->name, "Dorset");
	assert_true(gc->value->present);
	assert_int_equal(gc->value->count, 62);
	assert_string_equal(gc->value->period->text, "2020/21");
	offstat__v1__get_count_response__free_unpacked(gc, NULL);
	offstat__v1__rpc_response__free_unpacked(r, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_count),
	        cmocka_unit_test(test_garbage),
	        cmocka_unit_test(test_methods),
	        cmocka_unit_test(test_bad_payloads),
	        cmocka_unit_test(test_oversize),
	        cmocka_unit_test(test_unknown_names),
	        cmocka_unit_test(test_bad_periods),
	        cmocka_unit_test(test_bad_paging),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
