/*
 * Hostile input over the wire: a table of malformed, out-of-range and
 * malicious requests, each sent raw on a fresh REQ socket. Every one must
 * get a reply with the expected status, a message in valid UTF-8 and no
 * payload, and the service must still answer a good request (with the
 * right figure, so nothing was corrupted) after each. Then the transport
 * itself: connections that never speak SP, announce absurd lengths or sit
 * idle. Then tokens, when the daemon has them.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "offstat/v1/offstat.pb-c.h"

#define M(name) "offstat.v1.OffenceStats/" name

/* Codes, short so the table stays readable. */
enum {
	OK        = OFFSTAT__V1__CODE__OK,
	INVALID   = OFFSTAT__V1__CODE__INVALID_ARGUMENT,
	NOT_FOUND = OFFSTAT__V1__CODE__NOT_FOUND,
	DENIED    = OFFSTAT__V1__CODE__PERMISSION_DENIED,
	EXHAUSTED = OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
	UNIMPL    = OFFSTAT__V1__CODE__UNIMPLEMENTED,
	UNAUTH    = OFFSTAT__V1__CODE__UNAUTHENTICATED,
	NONE      = -1,
	ANY_ERROR = -2, /* any failure but INTERNAL and UNKNOWN */
};

static harness_server srv;

/* ------------------------------------------------------------------------
 * A protobuf writer that will also write what protobuf-c never would.
 */
typedef struct {
	uint8_t *b;
	size_t   n, cap;
} pb;

static void
pb_raw(pb *p, const void *data, size_t len)
{
	if (p->n + len + 1 > p->cap) {
		p->cap = (p->n + len + 1) * 2;
		p->b   = realloc(p->b, p->cap);
		assert_non_null(p->b);
	}
	if (len > 0) {
		memcpy(p->b + p->n, data, len);
	}
	p->n += len;
}

static void
pb_varint(pb *p, uint64_t v)
{
	uint8_t buf[10];
	size_t  n = 0;
	do {
		buf[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	pb_raw(p, buf, n);
}

static void
pb_tag(pb *p, unsigned field, unsigned wire)
{
	pb_varint(p, (uint64_t)field << 3 | wire);
}

static void
pb_bytes(pb *p, unsigned field, const void *data, size_t len)
{
	pb_tag(p, field, 2);
	pb_varint(p, len);
	pb_raw(p, data, len);
}

static void
pb_str(pb *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void
pb_uint(pb *p, unsigned field, uint64_t v)
{
	pb_tag(p, field, 0);
	pb_varint(p, v);
}

static void
pb_double(pb *p, unsigned field, double d)
{
	uint8_t  le[8];
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	for (int i = 0; i < 8; i++) {
		le[i] = (uint8_t)(u >> (8 * i));
	}
	pb_tag(p, field, 1);
	pb_raw(p, le, sizeof(le));
}

/* A nested message as a length-delimited field; frees sub. */
static void
pb_msg(pb *p, unsigned field, pb *sub)
{
	pb_bytes(p, field, sub->b, sub->n);
	free(sub->b);
	memset(sub, 0, sizeof(*sub));
}

static void
pb_free(pb *p)
{
	free(p->b);
	memset(p, 0, sizeof(*p));
}

/* An envelope around a payload, with a request id to see echoed. */
static void
envelope(pb *out, const char *method, const pb *payload, const char *id)
{
	pb_str(out, 1, method);
	pb_bytes(out, 2, payload->b, payload->n);
	pb_str(out, 3, id);
}

/* Period: year 1, quarter 2, kind 3, text 4. */
static void
period(pb *p, unsigned field, const char *text, uint64_t year,
       uint64_t quarter, uint64_t kind)
{
	pb sub = {0};
	if (year != 0) {
		pb_uint(&sub, 1, year);
	}
	if (quarter != 0) {
		pb_uint(&sub, 2, quarter);
	}
	if (kind != 0) {
		pb_uint(&sub, 3, kind);
	}
	if (text != NULL) {
		pb_str(&sub, 4, text);
	}
	pb_msg(p, field, &sub);
}

/* GetCountRequest: area 1, offence 2, period 3, source 4. */
static void
get_count(pb *p, const char *area, const char *offence, const char *text,
          uint64_t year, uint64_t quarter)
{
	pb_str(p, 1, area);
	pb_str(p, 2, offence);
	period(p, 3, text, year, quarter, 0);
}

/* ------------------------------------------------------------------------
 * Exchanges and what every reply must be.
 */

/* True when s[0..n) is well-formed UTF-8. */
static int
utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p != '\0') {
		unsigned c = *p, min;
		int      k;
		if (c < 0x80) {
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, min = 0x10000, c &= 0x07;
		} else {
			return (0);
		}
		for (int i = 1; i <= k; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				return (0);
			}
			c = (c << 6) | (p[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
			return (0);
		}
		p += k + 1;
	}
	return (1);
}

/* Sends raw bytes; returns the decoded reply (caller frees). */
static Offstat__V1__RpcResponse *
exchange(const char *what, const void *buf, size_t len)
{
	void                     *reply;
	size_t                    rlen;
	Offstat__V1__RpcResponse *r;
	int rv = harness_exchange(srv.url, buf, len, &reply, &rlen, 10000);
	if (rv != 0) {
		fail_msg("%s: no reply (nng error %d)", what, rv);
	}
	r = offstat__v1__rpc_response__unpack(NULL, rlen, reply);
	free(reply);
	if (r == NULL || r->status == NULL) {
		fail_msg("%s: the reply is not an RpcResponse", what);
	}
	return (r);
}

/* The good request after each bad one: Dorset's s.15A count for 2020/21
 * is still 62, so the service answers and its data is intact. */
static void
assert_alive(const char *after)
{
	pb                             pay = {0}, env = {0};
	Offstat__V1__RpcResponse      *r;
	Offstat__V1__GetCountResponse *gc;

	get_count(&pay, "E23000039", "S15A", "2020/21", 0, 0);
	envelope(&env, M("GetCount"), &pay, "alive");
	r = exchange(after, env.b, env.n);
	if (r->status->code != OFFSTAT__V1__CODE__OK) {
		fail_msg("after %s: a good request got %d (%s)", after,
		         r->status->code, r->status->message);
	}
	gc = offstat__v1__get_count_response__unpack(NULL, r->payload.len,
	                                             r->payload.data);
	assert_non_null(gc);
	assert_non_null(gc->value);
	if (gc->value->count != 62) {
		fail_msg("after %s: Dorset 2020/21 is %llu, not 62", after,
		         (unsigned long long)gc->value->count);
	}
	offstat__v1__get_count_response__free_unpacked(gc, NULL);
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	pb_free(&pay);
	pb_free(&env);
}

/*
 * Checks a reply to bad input: the status is want (or want2), a failure
 * has a message and no payload, every string is UTF-8, and the request id
 * is echoed when the envelope could be read (id != NULL). Returns 0, or -1
 * after printing what was wrong, so a table can report every bad case.
 */
static int
check_reply(const char *what, Offstat__V1__RpcResponse *r, int want, int want2,
            const char *id)
{
	int code = (int)r->status->code;
	if (want2 == ANY_ERROR && code != OK &&
	    code != OFFSTAT__V1__CODE__INTERNAL &&
	    code != OFFSTAT__V1__CODE__UNKNOWN &&
	    code <= OFFSTAT__V1__CODE__UNAUTHENTICATED) {
		want = code;
	}
	if (code != want && code != want2) {
		print_error("%s: status %d (%s), expected %d\n", what, code,
		            r->status->message, want);
		return (-1);
	}
	if (!utf8_ok(r->status->message)) {
		print_error("%s: the status message is not UTF-8: '%s'\n",
		            what, r->status->message);
		return (-1);
	}
	for (size_t i = 0; i < r->status->n_details; i++) {
		if (!utf8_ok(r->status->details[i])) {
			print_error("%s: detail %zu is not UTF-8\n", what, i);
			return (-1);
		}
	}
	if (!utf8_ok(r->request_id)) {
		print_error("%s: the request id is not UTF-8\n", what);
		return (-1);
	}
	if (code != OK && r->status->message[0] == '\0') {
		print_error("%s: status %d without a message\n", what, code);
		return (-1);
	}
	if (code != OK && r->payload.len != 0) {
		print_error("%s: status %d with a payload\n", what, code);
		return (-1);
	}
	if (id != NULL && strcmp(r->request_id, id) != 0) {
		print_error("%s: request id '%s' came back as '%s'\n", what,
		            id, r->request_id);
		return (-1);
	}
	return (0);
}

/* ------------------------------------------------------------------------
 * The table. A case either builds a whole message (method NULL) or the
 * payload of a call to method; then want (or want2) is the status.
 */
typedef void (*build_fn)(pb *out);

typedef struct {
	const char *name;
	const char *method; /* NULL: build() writes the whole message */
	build_fn    build;
	int         want, want2;
} bad_case;

/* Whole messages. */
#define RAW(name, bytes)                                                      \
	static void name(pb *p)                                               \
	{                                                                     \
		pb_raw(p, bytes, sizeof(bytes) - 1);                          \
	}
RAW(b_empty, "")
RAW(b_zero, "\0")
RAW(b_trunc_varint, "\x0a\xff\xff\xff")
RAW(b_len_past_end, "\x0a\x40offstat")
RAW(b_len_2p32, "\x12\x80\x80\x80\x80\x10")
RAW(b_len_2p63, "\x12\xff\xff\xff\xff\xff\xff\xff\xff\x7f")
RAW(b_varint_11, "\x20\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
RAW(b_method_varint, "\x08\x01")
RAW(b_payload_fixed32, "\x15\x01\x02\x03\x04")
RAW(b_group, "\x0b\x0c")
RAW(b_field_zero, "\x00\x01")
RAW(b_http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
RAW(b_json, "{\"method\": \"GetCount\"}")

static void
b_random(pb *p)
{
	/* The same 512 bytes every run (an LCG), led by a tag of field 15
	 * with wire type 7, which no decoder accepts. */
	uint32_t x = 7355;
	uint8_t  buf[512];
	for (size_t i = 0; i < sizeof(buf); i++) {
		x      = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	buf[0] = 0x7f;
	pb_raw(p, buf, sizeof(buf));
}

static void
b_truncated(pb *p)
{
	pb pay = {0};
	get_count(&pay, "dorset", "S15A", "2020/21", 0, 0);
	envelope(p, M("GetCount"), &pay, "trunc");
	p->n -= 9; /* into the payload */
	pb_free(&pay);
}

static void
env_with(pb *p, const char *method, const char *id, const char *key,
         const char *value)
{
	pb md = {0};
	pb_str(p, 1, method);
	pb_bytes(p, 2, "", 0);
	pb_str(p, 3, id);
	if (key != NULL) {
		pb_str(&md, 1, key);
		pb_str(&md, 2, value);
		pb_msg(p, 5, &md);
	}
}

static void
b_utf8_method(pb *p)
{
	env_with(p, M("Server\xc3\x28Info"), "x", NULL, NULL);
}

static void
b_overlong_method(pb *p)
{
	env_with(p, M("Server\xc0\xafInfo"), "x", NULL, NULL);
}

static void
b_utf8_id(pb *p)
{
	env_with(p, M("ServerInfo"), "id-\xff", NULL, NULL);
}

static void
b_surrogate_id(pb *p)
{
	env_with(p, M("ServerInfo"), "id-\xed\xa0\x80", NULL, NULL);
}

static void
b_utf8_meta_key(pb *p)
{
	env_with(p, M("ServerInfo"), "x", "auth\xe2\x82", "v");
}

static void
b_utf8_meta_value(pb *p)
{
	env_with(p, M("ServerInfo"), "x", "x-trace", "\xf8\x88\x80\x80\x80");
}

static void
b_unknown_method(pb *p)
{
	env_with(p, M("DropTables"), "bad-unknown", NULL, NULL);
}

static void
b_no_prefix(pb *p)
{
	env_with(p, "GetCount", "bad-prefix", NULL, NULL);
}

static void
b_method_case(pb *p)
{
	env_with(p, "offstat.v1.OffenceStats/getcount", "bad-case", NULL,
	         NULL);
}

static void
b_method_cut(pb *p)
{
	/* The error quotes 100 bytes of the method: the 100th is the first
	 * half of a two-byte character. */
	char m[160];
	snprintf(m, sizeof(m), "%s%.75s\xc3\xa9", M(""),
	         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	         "xx"
	         "xxxxxxxxxxxxx");
	env_with(p, m, "bad-cut", NULL, NULL);
}

static void
b_over_limit(pb *p)
{
	/* Over the default 1 MiB request limit, under the transport's. */
	pb pay = {0};
	for (int i = 0; i < 1100; i++) {
		static const uint8_t kb[1024];
		pb_raw(&pay, kb, sizeof(kb));
	}
	envelope(p, M("ServerInfo"), &pay, "big");
	pb_free(&pay);
}

static void
b_many_metadata(pb *p)
{
	/* 100000 metadata entries, all under the size limit: allowed, and
	 * the call is answered. */
	pb_str(p, 1, M("ServerInfo"));
	pb_str(p, 3, "many-meta");
	for (int i = 0; i < 100000; i++) {
		pb_bytes(p, 5, "\x0a\x01x", 3);
	}
}

/* The default request limit of the daemon (RPC_DEFAULT_MAX_REQUEST). */
#define MAX_REQUEST (1u << 20)

static void
b_metadata_flood(pb *p)
{
	/* Empty metadata entries, two bytes each, up to the request limit:
	 * 524,000 of them, which protobuf-c would decode into 44 MiB. */
	pb_str(p, 1, M("ServerInfo"));
	pb_str(p, 3, "meta-flood");
	while (p->n + 2 <= MAX_REQUEST) {
		pb_bytes(p, 5, "", 0);
	}
}

static void
b_unknown_field(pb *p)
{
	/* Fields from a later version of the contract are skipped. */
	pb_str(p, 1, M("ServerInfo"));
	pb_str(p, 3, "future");
	pb_uint(p, 99, 12345);
	pb_str(p, 100, "later");
}

/* Payloads. */
RAW(p_not_protobuf, "\xff\xff\xff")
RAW(p_empty, "")
/* A RankAreasRequest {kind: REGION}: field 2 is a varint there and a
 * string in GetCountRequest. */
RAW(p_wrong_type, "\x10\x02")
RAW(p_area_varint, "\x08\x05")
RAW(p_truncated, "\x0a\x06\x64or")

static void
p_granularity(pb *p)
{
	pb_str(p, 1, "dorset");
	pb_str(p, 2, "S15A");
	pb_uint(p, 5, 99);
}

static void
rank(pb *p, uint64_t kind, uint64_t by, const char *within)
{
	pb_str(p, 1, "88A");
	if (kind != 0) {
		pb_uint(p, 2, kind);
	}
	if (within != NULL) {
		pb_str(p, 3, within);
	}
	if (by != 0) {
		pb_uint(p, 4, by);
	}
	period(p, 5, "2024/25", 0, 0, 0);
}

static void
p_rank_kind(pb *p)
{
	rank(p, 99, 0, NULL);
}

static void
p_rank_by(pb *p)
{
	rank(p, 0, 4000000000u, NULL);
}

static void
p_rank_within(pb *p)
{
	rank(p, 0, 0, "Middle Earth");
}

static void
p_rank_nan(pb *p)
{
	rank(p, 0, 0, NULL);
	pb_double(p, 8, NAN);
}

static void
p_period_kind(pb *p)
{
	pb_str(p, 1, "dorset");
	pb_str(p, 2, "S15A");
	period(p, 3, NULL, 2020, 0, 99);
}

static void
list_areas(pb *p, uint64_t size, const char *token, uint64_t kind,
           const char *parent)
{
	pb page = {0};
	if (size != 0) {
		pb_uint(&page, 1, size);
	}
	if (token != NULL) {
		pb_str(&page, 2, token);
	}
	pb_msg(p, 1, &page);
	if (kind != 0) {
		pb_uint(p, 2, kind);
	}
	if (parent != NULL) {
		pb_str(p, 3, parent);
	}
}

static void
p_kind_negative(pb *p)
{
	list_areas(p, 0, NULL, UINT64_MAX, NULL); /* -1 as an int32 */
}

static void
p_kind_77(pb *p)
{
	list_areas(p, 0, NULL, 77, NULL);
}

static void
p_parent_unknown(pb *p)
{
	list_areas(p, 0, NULL, 0, "E99999999");
}

static void
p_page_million(pb *p)
{
	list_areas(p, 1000001, NULL, 0, NULL);
}

static void
p_page_max(pb *p)
{
	list_areas(p, UINT32_MAX, NULL, 0, NULL);
}

static void
p_page_1001(pb *p)
{
	list_areas(p, 1001, NULL, 0, NULL);
}

static void
p_token_word(pb *p)
{
	list_areas(p, 10, "not-a-token", 0, NULL);
}

static void
p_token_negative(pb *p)
{
	list_areas(p, 10, "-1", 0, NULL);
}

static void
p_token_overflow(pb *p)
{
	list_areas(p, 10, "99999999999999999999999", 0, NULL);
}

static void
p_token_past_end(pb *p)
{
	list_areas(p, 10, "100000", 0, NULL);
}

static void
p_token_space(pb *p)
{
	list_areas(p, 10, " 5", 0, NULL);
}

static void
p_token_hex(pb *p)
{
	list_areas(p, 10, "0x10", 0, NULL);
}

#define COUNT_TEXT(fn, text)                                                  \
	static void fn(pb *p)                                                 \
	{                                                                     \
		get_count(p, "dorset", "S15A", text, 0, 0);                   \
	}
COUNT_TEXT(p_text_2017_19, "2017/19")
COUNT_TEXT(p_text_9999_00, "9999/00")
COUNT_TEXT(p_text_q5, "2024/25 Q5")
COUNT_TEXT(p_text_words, "'; SELECT 1; --")

#define COUNT_PARTS(fn, year, quarter)                                        \
	static void fn(pb *p)                                                 \
	{                                                                     \
		get_count(p, "dorset", "S15A", NULL, year, quarter);          \
	}
COUNT_PARTS(p_parts_2017_19, 2017, 19)
COUNT_PARTS(p_parts_9999_00, 9999, 0)
COUNT_PARTS(p_parts_0_3, 0, 3)
COUNT_PARTS(p_parts_max, UINT32_MAX, 0)

static void
p_text_cut(pb *p)
{
	/* The error quotes 40 bytes of the text: the 40th is the first half
	 * of a two-byte character. */
	get_count(p, "dorset", "S15A",
	          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9", 0, 0);
}

#define COUNT_NAMES(fn, area, offence)                                        \
	static void fn(pb *p)                                                 \
	{                                                                     \
		get_count(p, area, offence, "2020/21", 0, 0);                 \
	}
COUNT_NAMES(p_area_unknown, "Atlantis", "S15A")
COUNT_NAMES(p_offence_unknown, "dorset", "999Z")
COUNT_NAMES(p_area_sql, "dorset'; DROP TABLE counts; --", "S15A")
COUNT_NAMES(p_offence_sql, "dorset", "88A' OR '1'='1")
COUNT_NAMES(p_offence_ambiguous, "dorset", "burglary")

static void
p_area_cut(pb *p)
{
	/* The error quotes 100 bytes of the name; the 100th is cut. */
	char area[128];
	memset(area, 'a', 99);
	memcpy(area + 99, "\xc3\xa9", 3);
	get_count(p, area, "S15A", "2020/21", 0, 0);
}

static void
p_area_huge(pb *p)
{
	char *area = malloc(100001);
	memset(area, 'A', 100000);
	area[100000] = '\0';
	get_count(p, area, "S15A", "2020/21", 0, 0);
	free(area);
}

static void
p_source_sql(pb *p)
{
	get_count(p, "dorset", "S15A", "2020/21", 0, 0);
	pb_str(p, 4, "x' UNION SELECT * FROM counts --");
}

static void
trend(pb *p, const char *base, const char *end)
{
	pb_str(p, 1, "dorset");
	pb_str(p, 2, "S15A");
	period(p, 3, base, 0, 0, 0);
	period(p, 4, end, 0, 0, 0);
}

static void
p_comparators_100k(pb *p)
{
	trend(p, "2017/18", "2020/21");
	/* Three bytes each, so the request stays under the size limit. */
	for (int i = 0; i < 100000; i++) {
		pb_str(p, 5, "W");
	}
}

static void
p_comparators_flood(pb *p)
{
	/* Empty comparators, two bytes each, filling the request: 44 MiB
	 * once decoded, over the decoding budget. */
	trend(p, "2017/18", "2020/21");
	while (p->n + 2 <= MAX_REQUEST - 64) {
		pb_str(p, 5, "");
	}
}

static void
p_comparator_unknown(pb *p)
{
	trend(p, "2017/18", "2020/21");
	pb_str(p, 5, "Gondor");
}

static void
p_confidence_nan(pb *p)
{
	trend(p, "2017/18", "2020/21");
	pb_double(p, 7, NAN);
}

static void
p_confidence_big(pb *p)
{
	trend(p, "2017/18", "2020/21");
	pb_double(p, 7, 1.5);
}

static void
p_confidence_inf(pb *p)
{
	trend(p, "2017/18", "2020/21");
	pb_double(p, 7, -INFINITY);
}

static void
p_series_backwards(pb *p)
{
	pb_str(p, 1, "dorset");
	pb_str(p, 2, "S15A");
	period(p, 3, "2020/21", 0, 0, 0);
	period(p, 4, "2017/18", 0, 0, 0);
}

static void
p_offences_sql(pb *p)
{
	pb_str(p, 3, "%' OR 1=1 --");
}

static void
p_ingest_rows(pb *p)
{
	/* 300000 empty rows fit in 600 KB; decoding them would cost far
	 * more memory than the request's size. */
	pb_uint(p, 4, 1);
	for (int i = 0; i < 300000; i++) {
		pb_bytes(p, 5, "", 0);
	}
}

static void
p_unknown_group(pb *p)
{
	/* An unknown field 15 nested 10000 groups deep. */
	for (int i = 0; i < 10000; i++) {
		pb_tag(p, 15, 3);
	}
	for (int i = 0; i < 10000; i++) {
		pb_tag(p, 15, 4);
	}
}

static const bad_case cases[] = {
        /* The envelope. */
        {"empty message (an envelope with no method)", NULL, b_empty, UNIMPL,
         NONE},
        {"one zero byte", NULL, b_zero, INVALID, NONE},
        {"random bytes", NULL, b_random, INVALID, NONE},
        {"truncated envelope", NULL, b_truncated, INVALID, NONE},
        {"truncated varint", NULL, b_trunc_varint, INVALID, NONE},
        {"length prefix past the end", NULL, b_len_past_end, INVALID, NONE},
        {"length prefix of 2^32", NULL, b_len_2p32, INVALID, NONE},
        {"length prefix of 2^63", NULL, b_len_2p63, INVALID, NONE},
        {"varint of 11 bytes", NULL, b_varint_11, INVALID, NONE},
        {"method as a varint", NULL, b_method_varint, INVALID, NONE},
        {"payload as fixed32", NULL, b_payload_fixed32, INVALID, NONE},
        {"group wire type", NULL, b_group, INVALID, NONE},
        {"field number 0", NULL, b_field_zero, INVALID, NONE},
        {"an HTTP request", NULL, b_http, INVALID, NONE},
        {"JSON", NULL, b_json, INVALID, NONE},
        {"invalid UTF-8 in the method", NULL, b_utf8_method, INVALID, NONE},
        {"overlong UTF-8 in the method", NULL, b_overlong_method, INVALID,
         NONE},
        {"invalid UTF-8 in the request id", NULL, b_utf8_id, INVALID, NONE},
        {"a surrogate in the request id", NULL, b_surrogate_id, INVALID, NONE},
        {"invalid UTF-8 in a metadata key", NULL, b_utf8_meta_key, INVALID,
         NONE},
        {"invalid UTF-8 in a metadata value", NULL, b_utf8_meta_value, INVALID,
         NONE},
        {"unknown method", NULL, b_unknown_method, UNIMPL, NONE},
        {"method without the service", NULL, b_no_prefix, UNIMPL, NONE},
        {"method in the wrong case", NULL, b_method_case, UNIMPL, NONE},
        {"unknown method cut inside a character", NULL, b_method_cut, UNIMPL,
         NONE},
        {"payload over the limit", NULL, b_over_limit, EXHAUSTED, NONE},
        {"100000 metadata entries", NULL, b_many_metadata, OK, NONE},
        {"1 MiB of empty metadata entries", NULL, b_metadata_flood, EXHAUSTED,
         NONE},
        {"unknown envelope fields", NULL, b_unknown_field, OK, NONE},
        /* Payloads. */
        {"payload not protobuf", M("GetCount"), p_not_protobuf, INVALID, NONE},
        {"empty GetCount", M("GetCount"), p_empty, INVALID, NONE},
        {"wrong payload type", M("GetCount"), p_wrong_type, INVALID, NONE},
        {"string field as a varint", M("GetCount"), p_area_varint, INVALID,
         NONE},
        {"truncated payload", M("GetCount"), p_truncated, INVALID, NONE},
        {"unknown field 10000 groups deep", M("ServerInfo"), p_unknown_group,
         INVALID, NONE},
        {"granularity 99", M("GetSeries"), p_granularity, INVALID, NONE},
        {"area kind 99", M("RankAreas"), p_rank_kind, INVALID, NONE},
        {"rank by 4000000000", M("RankAreas"), p_rank_by, INVALID, NONE},
        {"period kind 99", M("GetCount"), p_period_kind, INVALID, NONE},
        {"area kind -1", M("ListAreas"), p_kind_negative, INVALID, NONE},
        {"area kind 77", M("ListAreas"), p_kind_77, INVALID, NONE},
        {"page size 1000001", M("ListAreas"), p_page_million, INVALID, NONE},
        {"page size 2^32-1", M("ListAreas"), p_page_max, INVALID, NONE},
        {"page size 1001", M("ListAreas"), p_page_1001, INVALID, NONE},
        {"page token of words", M("ListAreas"), p_token_word, INVALID, NONE},
        {"page token -1", M("ListAreas"), p_token_negative, INVALID, NONE},
        {"page token over 2^64", M("ListAreas"), p_token_overflow, INVALID,
         NONE},
        {"page token past the end", M("ListAreas"), p_token_past_end, INVALID,
         NONE},
        {"page token with a space", M("ListAreas"), p_token_space, INVALID,
         NONE},
        {"page token in hex", M("ListAreas"), p_token_hex, INVALID, NONE},
        {"period 2017/19", M("GetCount"), p_text_2017_19, INVALID, NONE},
        {"period 9999/00", M("GetCount"), p_text_9999_00, INVALID, NONE},
        {"period 2024/25 Q5", M("GetCount"), p_text_q5, INVALID, NONE},
        {"period of SQL", M("GetCount"), p_text_words, INVALID, NONE},
        {"period year 2017 quarter 19", M("GetCount"), p_parts_2017_19,
         INVALID, NONE},
        {"period year 9999 quarter 0", M("GetCount"), p_parts_9999_00, INVALID,
         NONE},
        {"period year 0 quarter 3", M("GetCount"), p_parts_0_3, INVALID, NONE},
        {"period year 2^32-1", M("GetCount"), p_parts_max, INVALID, NONE},
        {"period text cut inside a character", M("GetCount"), p_text_cut,
         INVALID, NONE},
        {"unknown area", M("GetCount"), p_area_unknown, NOT_FOUND, NONE},
        {"unknown offence", M("GetCount"), p_offence_unknown, NOT_FOUND, NONE},
        {"ambiguous offence", M("GetCount"), p_offence_ambiguous, INVALID,
         NONE},
        {"unknown area cut inside a character", M("GetCount"), p_area_cut,
         NOT_FOUND, NONE},
        {"area of 100000 bytes", M("GetCount"), p_area_huge, NOT_FOUND, NONE},
        {"SQL in the area", M("GetCount"), p_area_sql, NOT_FOUND, NONE},
        {"SQL in the offence", M("GetCount"), p_offence_sql, NOT_FOUND, NONE},
        {"SQL in the source", M("GetCount"), p_source_sql, NOT_FOUND, NONE},
        {"SQL in an offence query", M("ListOffences"), p_offences_sql, OK,
         NONE},
        {"unknown parent", M("ListAreas"), p_parent_unknown, NOT_FOUND, NONE},
        {"unknown within", M("RankAreas"), p_rank_within, NOT_FOUND, NONE},
        {"confidence NaN in a ranking", M("RankAreas"), p_rank_nan, INVALID,
         NONE},
        {"unknown comparator", M("CompareTrend"), p_comparator_unknown,
         NOT_FOUND, NONE},
        {"100000 comparators", M("CompareTrend"), p_comparators_100k, INVALID,
         NONE},
        {"1 MiB of empty comparators", M("CompareTrend"), p_comparators_flood,
         EXHAUSTED, NONE},
        {"confidence NaN", M("CompareTrend"), p_confidence_nan, INVALID, NONE},
        {"confidence 1.5", M("CompareTrend"), p_confidence_big, INVALID, NONE},
        {"confidence -inf", M("CompareTrend"), p_confidence_inf, INVALID,
         NONE},
        {"series that ends before it starts", M("GetSeries"),
         p_series_backwards, INVALID, NONE},
        /* Without a token a write is refused before its payload is read;
         * a daemon without tokens answers UNIMPLEMENTED. */
        {"300000 empty ingest rows", M("Ingest"), p_ingest_rows, UNAUTH,
         UNIMPL},
};

static void
test_table(void **state)
{
	(void)state;
	size_t ncases = sizeof(cases) / sizeof(cases[0]), nbad = 0;
	assert_true(ncases >= 30);
	for (size_t i = 0; i < ncases; i++) {
		const bad_case           *c   = &cases[i];
		pb                        msg = {0}, pay = {0};
		char                      id[32];
		const char               *want_id = NULL;
		Offstat__V1__RpcResponse *r;

		snprintf(id, sizeof(id), "bad-%zu", i);
		if (c->method == NULL) {
			c->build(&msg);
		} else {
			c->build(&pay);
			envelope(&msg, c->method, &pay, id);
			want_id = id;
		}
		r = exchange(c->name, msg.b, msg.n);
		if (check_reply(c->name, r, c->want, c->want2, want_id) != 0) {
			nbad++;
		} else if (strcmp(c->name, "SQL in an offence query") == 0) {
			/* A filter that matches nothing, not everything. */
			Offstat__V1__ListOffencesResponse *lo =
			        offstat__v1__list_offences_response__unpack(
			                NULL, r->payload.len, r->payload.data);
			assert_non_null(lo);
			assert_int_equal(lo->total, 0);
			offstat__v1__list_offences_response__free_unpacked(
			        lo, NULL);
		}
		offstat__v1__rpc_response__free_unpacked(r, NULL);
		pb_free(&msg);
		pb_free(&pay);
		assert_alive(c->name);
	}
	if (nbad > 0) {
		fail_msg("%zu of %zu cases got a wrong reply", nbad, ncases);
	}
}

/*
 * Sends method a payload whose string field id (inside field outer of the
 * request when outer != 0) holds the len bytes at bytes. The reply must be
 * INVALID_ARGUMENT with a message naming the field ('path') and saying
 * what is wrong with it (word). Returns 0 or -1 as check_reply.
 */
static int
bad_string(const char *method, const char *what, unsigned outer, unsigned id,
           const char *bytes, size_t len, const char *path, const char *word)
{
	pb                        pay = {0}, env = {0}, inner = {0};
	Offstat__V1__RpcResponse *r;
	char                      quoted[160];
	int                       rv;

	if (outer != 0) {
		pb_bytes(&inner, id, bytes, len);
		pb_msg(&pay, outer, &inner);
	} else {
		pb_bytes(&pay, id, bytes, len);
	}
	envelope(&env, method, &pay, "utf8");
	r = exchange(what, env.b, env.n);
	/* A write without a token is refused before its payload is read. */
	rv = check_reply(what, r, INVALID,
	                 strstr(method, "Ingest") != NULL ? UNAUTH : NONE,
	                 "utf8");
	snprintf(quoted, sizeof(quoted), "'%s'", path);
	if (rv == 0 && (int)r->status->code == INVALID &&
	    (strstr(r->status->message, quoted) == NULL ||
	     strstr(r->status->message, word) == NULL)) {
		print_error("%s: the message does not name %s and say '%s': "
		            "'%s'\n",
		            what, quoted, word, r->status->message);
		rv = -1;
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	pb_free(&pay);
	pb_free(&env);
	return (rv);
}

/*
 * Puts bytes (len of them) into each string field of each request message,
 * found from the descriptors so a field added later is covered too; strings
 * inside nested messages (periods, pages, ingest rows) as well. Returns how
 * many fields were tried; *nbad counts the wrong replies.
 */
static size_t
every_string_field(const char *bytes, size_t len, const char *nested_bytes,
                   size_t nested_len, const char *word, size_t *nbad)
{
	const ProtobufCServiceDescriptor *sd =
	        &offstat__v1__offence_stats__descriptor;
	size_t n = 0;

	for (unsigned i = 0; i < sd->n_methods; i++) {
		const ProtobufCMessageDescriptor *d = sd->methods[i].input;
		char method[128], what[256], path[128];

		snprintf(method, sizeof(method), "%s%s", M(""),
		         sd->methods[i].name);
		for (unsigned j = 0; j < d->n_fields; j++) {
			const ProtobufCFieldDescriptor *f = &d->fields[j];
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				snprintf(what, sizeof(what), "%s %s", method,
				         f->name);
				*nbad += bad_string(method, what, 0, f->id,
				                    bytes, len, f->name,
				                    word) != 0;
				n++;
				continue;
			}
			if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
				continue;
			}
			const ProtobufCMessageDescriptor *sub = f->descriptor;
			for (unsigned k = 0; k < sub->n_fields; k++) {
				const ProtobufCFieldDescriptor *g =
				        &sub->fields[k];
				if (g->type != PROTOBUF_C_TYPE_STRING) {
					continue;
				}
				snprintf(what, sizeof(what), "%s %s.%s",
				         method, f->name, g->name);
				snprintf(path, sizeof(path), "%s.%s", f->name,
				         g->name);
				*nbad += bad_string(method, what, f->id, g->id,
				                    nested_bytes, nested_len,
				                    path, word) != 0;
				n++;
			}
		}
	}
	return (n);
}

/* Invalid UTF-8 in every string field; a sequence cut short in nested
 * ones. */
static void
test_utf8_every_field(void **state)
{
	(void)state;
	size_t nbad = 0;
	size_t n    = every_string_field("bad \xc3\x28", 6, "ok\xe0\x80", 4,
	                                 "not UTF-8", &nbad);
	/* GetCount alone has area, offence, source and period.text. */
	assert_true(n >= 30);
	assert_alive("invalid UTF-8 in every field");
	if (nbad > 0) {
		fail_msg("%zu of %zu fields: a wrong reply", nbad, n);
	}
}

/*
 * A NUL byte inside every string field. protobuf-c hands strings over
 * NUL-terminated, so "Dor\0set" would be read as "Dor" (and "E23000039\0x"
 * as a known area): such a request is refused, naming the field.
 */
static void
test_nul_every_field(void **state)
{
	(void)state;
	size_t nbad = 0;
	size_t n    = every_string_field("E23000039\0x", 11, "2020/21\0", 8,
	                                 "NUL", &nbad);
	assert_true(n >= 30);
	assert_alive("a NUL byte in every field");
	if (nbad > 0) {
		fail_msg("%zu of %zu fields: a wrong reply", nbad, n);
	}
}

/* A NUL byte in each string of the envelope: the method, the request id,
 * a metadata key and value. */
static void
test_nul_envelope(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		const char *method, *id, *key, *value;
		size_t      mlen, idlen, klen, vlen;
	} c[] = {
	        {"method", M("ServerInfo\0x"), "x", NULL, NULL, 36, 1, 0, 0},
	        {"method", M("ServerInfo\0"), "x", NULL, NULL, 35, 1, 0, 0},
	        {"request_id", M("ServerInfo"), "id\0x", NULL, NULL, 34, 4, 0,
	         0},
	        {"metadata.key", M("ServerInfo"), "x", "authorization\0x",
	         "Bearer x", 34, 1, 15, 8},
	        {"metadata.value", M("ServerInfo"), "x", "x-trace", "a\0b", 34,
	         1, 7, 3},
	};
	size_t nbad = 0;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		pb                        env = {0}, md = {0};
		Offstat__V1__RpcResponse *r;
		char                      what[64], quoted[64];

		/* The NUL is inside the bytes sent. */
		assert_true(memchr(c[i].method, 0, c[i].mlen) != NULL ||
		            memchr(c[i].id, 0, c[i].idlen) != NULL ||
		            (c[i].key != NULL &&
		             (memchr(c[i].key, 0, c[i].klen) != NULL ||
		              memchr(c[i].value, 0, c[i].vlen) != NULL)));
		pb_bytes(&env, 1, c[i].method, c[i].mlen);
		pb_bytes(&env, 3, c[i].id, c[i].idlen);
		if (c[i].key != NULL) {
			pb_bytes(&md, 1, c[i].key, c[i].klen);
			pb_bytes(&md, 2, c[i].value, c[i].vlen);
			pb_msg(&env, 5, &md);
		}
		snprintf(what, sizeof(what), "a NUL byte in the %s",
		         c[i].path);
		snprintf(quoted, sizeof(quoted), "'%s'", c[i].path);
		r = exchange(what, env.b, env.n);
		if (check_reply(what, r, INVALID, NONE, NULL) != 0) {
			nbad++;
		} else if (strstr(r->status->message, quoted) == NULL ||
		           strstr(r->status->message, "NUL") == NULL) {
			print_error("%s: '%s'\n", what, r->status->message);
			nbad++;
		}
		offstat__v1__rpc_response__free_unpacked(r, NULL);
		pb_free(&env);
		assert_alive(what);
	}
	if (nbad > 0) {
		fail_msg("%zu envelopes: a wrong reply", nbad);
	}
}

/* ------------------------------------------------------------------------
 * The transport: bytes that are not SP, or SP with absurd lengths. NNG
 * drops such a connection without a reply; the service carries on.
 */
static int
tcp_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int                port, fd;

	assert_int_equal(sscanf(srv.url, "tcp://127.0.0.1:%d", &port), 1);
	a.sin_port        = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd                = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return (fd);
}

/* True when the peer closes the connection within ms milliseconds. */
static int
closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char          buf[64];
	while (poll(&p, 1, ms) == 1) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			return (1);
		}
	}
	return (0);
}

/* The SP header of a REQ peer (protocol 0x30), and a frame length. */
static const uint8_t sp_req[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};

static void
send_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

static void
test_transport(void **state)
{
	(void)state;
	int     fd, idle[50];
	uint8_t frame[8 + 4 + 2];

	/* Not SP at all. */
	fd = tcp_connect();
	send_all(fd, "GET / HTTP/1.1\r\n\r\n", 18);
	assert_true(closed_within(fd, 5000));
	close(fd);
	assert_alive("HTTP on the SP port");

	/* An SP header for the wrong protocol (a PUB peer). */
	fd = tcp_connect();
	send_all(fd, "\0SP\0\0\x20\0\0", 8);
	assert_true(closed_within(fd, 5000));
	close(fd);
	assert_alive("a PUB peer");

	/* A frame announcing 2^62 bytes, and one of 16 MiB: both over the
	 * receive limit, so the connection is dropped, not allocated for. */
	static const uint8_t lens[][8] = {
	        {0x40, 0, 0, 0, 0, 0, 0, 0},
	        {0, 0, 0, 0, 0x01, 0, 0, 0},
	};
	for (size_t i = 0; i < 2; i++) {
		fd = tcp_connect();
		send_all(fd, sp_req, sizeof(sp_req));
		send_all(fd, lens[i], 8);
		assert_true(closed_within(fd, 5000));
		close(fd);
		assert_alive("a huge SP frame length");
	}

	/* A frame too short for REQ's request id: dropped, no reply. */
	fd = tcp_connect();
	send_all(fd, sp_req, sizeof(sp_req));
	memset(frame, 0, sizeof(frame));
	frame[7] = 2;
	frame[8] = 0x80;
	send_all(fd, frame, 8 + 2);
	/* Whether NNG drops it or waits for more, no reply may come. */
	(void)closed_within(fd, 300);
	close(fd);
	assert_alive("a frame with no request id");

	/* Fifty connections that never speak, and one that stops in the
	 * middle of a frame, while others are served. */
	for (size_t i = 0; i < 50; i++) {
		idle[i] = tcp_connect();
	}
	fd = tcp_connect();
	send_all(fd, sp_req, sizeof(sp_req));
	send_all(fd, "\0\0\0\0\0\0\x01\0\x80", 9);
	assert_alive("idle connections");
	for (size_t i = 0; i < 50; i++) {
		close(idle[i]);
	}
	close(fd);
	assert_alive("idle connections closed");
}

/* ------------------------------------------------------------------------
 * Tokens: wrong, malformed, revoked, expired and of the wrong role.
 */
static char tokdir[64], tokfile[128], toklog[128];

/* Runs `offstatd token ...`; returns its first output line or "". */
static int
token_cmd(const char *args, char *out, size_t outlen)
{
	char  cmd[512];
	FILE *fp;
	snprintf(cmd, sizeof(cmd), "'%s' token %s --tokens '%s' 2>/dev/null",
	         OFFSTATD, args, tokfile);
	if ((fp = popen(cmd, "r")) == NULL) {
		return (-1);
	}
	out[0] = '\0';
	if (fgets(out, (int)outlen, fp) != NULL) {
		out[strcspn(out, "\r\n")] = '\0';
	}
	return (pclose(fp) == 0 ? 0 : -1);
}

static Offstat__V1__RpcResponse *
call_token(const char *method, const pb *pay, const char *auth)
{
	pb                        env = {0}, md = {0};
	Offstat__V1__RpcResponse *r;
	envelope(&env, method, pay, "tok");
	if (auth != NULL) {
		pb_str(&md, 1, "authorization");
		pb_str(&md, 2, auth);
		pb_msg(&env, 5, &md);
	}
	r = exchange(method, env.b, env.n);
	pb_free(&env);
	return (r);
}

static void
expect_token(const char *what, const char *method, const pb *pay,
             const char *auth, int want, int want2)
{
	Offstat__V1__RpcResponse *r = call_token(method, pay, auth);
	if (check_reply(what, r, want, want2, "tok") != 0) {
		fail_msg("%s: a wrong reply", what);
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	assert_alive(what);
}

static char           reader[160], writer[160];
static harness_server first; /* the server of the other tests */
static int            tokens_up;

/* Makes a reader and a writer token and starts a second server that
 * knows them, its log (stderr) going to toklog. A daemon that cannot make
 * tokens fails the token tests (setup fails), never skips them. */
static int
tokens_setup(void **state)
{
	const char *extra[] = {"--tokens", tokfile, NULL};
	int         saved, fd, rv;
	(void)state;

	snprintf(tokdir, sizeof(tokdir), "/tmp/offstat-tok-XXXXXX");
	if (mkdtemp(tokdir) == NULL) {
		return (-1);
	}
	snprintf(tokfile, sizeof(tokfile), "%s/tokens", tokdir);
	snprintf(toklog, sizeof(toklog), "%s/log", tokdir);
	if (token_cmd("add --role reader --label test", reader,
	              sizeof(reader)) != 0 ||
	    strncmp(reader, "ost_", 4) != 0 ||
	    token_cmd("add --role writer --label test", writer,
	              sizeof(writer)) != 0) {
		print_error("offstatd token add failed\n");
		unlink(tokfile);
		rmdir(tokdir);
		return (-1);
	}
	first = srv;
	/* The daemon inherits stderr: point it at the log file meanwhile. */
	fflush(stderr);
	if ((saved = dup(2)) < 0 ||
	    (fd = open(toklog, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		return (-1);
	}
	dup2(fd, 2);
	close(fd);
	rv = harness_start(&srv, 1, extra);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (rv != 0) {
		srv = first;
		return (-1);
	}
	tokens_up = 1;
	return (0);
}

static int
tokens_teardown(void **state)
{
	int rv = 0;
	(void)state;
	if (tokens_up) {
		rv        = harness_stop(&srv) == 0 ? 0 : -1;
		srv       = first;
		tokens_up = 0;
	}
	unlink(tokfile);
	unlink(toklog);
	rmdir(tokdir);
	return (rv);
}

static void
test_tokens(void **state)
{
	(void)state;
	char  auth[200], id[16], out[200], args[64];
	pb    rd = {0}, commit = {0}, none = {0};
	char *huge;

	assert_true(tokens_up);
	get_count(&rd, "dorset", "S15A", "2020/21", 0, 0);
	pb_uint(&commit, 2, 7); /* commit_release: a number in a oneof */
	snprintf(auth, sizeof(auth), "Bearer %s", reader);
	expect_token("a reader token on a read", M("GetCount"), &rd, auth, OK,
	             NONE);
	expect_token("no token on a write", M("Ingest"), &commit, NULL, UNAUTH,
	             NONE);
	expect_token("a reader token on a write", M("Ingest"), &commit, auth,
	             DENIED, NONE);
	expect_token("a malformed token", M("GetCount"), &rd, "Bearer abc",
	             UNAUTH, NONE);
	expect_token("another scheme", M("GetCount"), &rd,
	             "Basic dXNlcg==", UNAUTH, NONE);
	expect_token("a bare token", M("GetCount"), &rd, reader, UNAUTH, NONE);
	snprintf(out, sizeof(out), "Bearer %s", reader);
	out[strlen(out) - 1] ^= 1; /* the right id, a wrong secret */
	expect_token("a wrong secret", M("GetCount"), &rd, out, UNAUTH, NONE);
	expect_token(
	        "an unknown token", M("ServerInfo"), &none,
	        "Bearer ost_7fffffff_"
	        "000000000000000000000000000000000000000000000000000000000"
	        "0000000",
	        UNAUTH, NONE);
	huge = malloc(200001);
	assert_non_null(huge);
	memcpy(huge, "Bearer ost_", 11);
	memset(huge + 11, 'f', 200000 - 11);
	huge[200000] = '\0';
	expect_token("a token of 200000 bytes", M("GetCount"), &rd, huge,
	             UNAUTH, NONE);
	free(huge);
	/* A writer's commit of a release that was never opened: the number
	 * in Ingest's oneof is decoded, and refused (or the write path is not
	 * built yet), never a crash. */
	snprintf(auth, sizeof(auth), "Bearer %s", writer);
	expect_token("a writer's commit", M("Ingest"), &commit, auth, UNIMPL,
	             ANY_ERROR);
	/* With a writer's token the rows are decoded: 1 MiB of empty ones
	 * would take 84 MiB, over the decoding budget. */
	pb flood = {0};
	pb_uint(&flood, 4, 1);
	while (flood.n + 2 <= MAX_REQUEST - 256) {
		pb_bytes(&flood, 5, "", 0);
	}
	expect_token("1 MiB of empty ingest rows with a writer token",
	             M("Ingest"), &flood, auth, EXHAUSTED, NONE);
	pb_free(&flood);

	/* Revoked while the service runs: refused within a few seconds. */
	snprintf(id, sizeof(id), "%.8s", reader + 4);
	snprintf(args, sizeof(args), "revoke %s", id);
	assert_int_equal(token_cmd(args, out, sizeof(out)), 0);
	snprintf(auth, sizeof(auth), "Bearer %s", reader);
	int code = OK;
	for (int i = 0; i < 50 && code == OK; i++) {
		Offstat__V1__RpcResponse *r =
		        call_token(M("GetCount"), &rd, auth);
		code = (int)r->status->code;
		offstat__v1__rpc_response__free_unpacked(r, NULL);
		if (code == OK) {
			nanosleep(&(struct timespec){.tv_nsec = 100000000},
			          NULL);
		}
	}
	assert_int_equal(code, UNAUTH);
	assert_alive("a revoked token");

	/* Tokens with an expiry time, added to the file as an operator's
	 * tools would (the hashes are SHA-256 of the tokens, by Python's
	 * hashlib): one expired, one that has not. The service re-reads the
	 * file within a second or so. */
	FILE *f = fopen(tokfile, "a");
	assert_non_null(f);
	fputs("0000beef reader "
	      "94f4aaa5cfe07dbfb603b4c56e2afb9c278252cdd10eb1d8134770a70d7c5b6"
	      "a "
	      "2019-01-01T00:00:00Z 2020-01-01T00:00:00Z expired\n"
	      "0000cafe reader "
	      "5c4c40e7abb5301212026bce7ad66c2f99f264cc93b825255168db04299781b"
	      "9 "
	      "2019-01-01T00:00:00Z 2999-01-01T00:00:00Z not yet\n",
	      f);
	fclose(f);
	const char *expired = "Bearer ost_0000beef_"
	                      "abababababababababababababababab"
	                      "abababababababababababababababab";
	const char *valid   = "Bearer ost_0000cafe_"
	                      "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	                      "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
	code                = UNAUTH;
	for (int i = 0; i < 50 && code != OK; i++) {
		Offstat__V1__RpcResponse *r =
		        call_token(M("GetCount"), &rd, valid);
		code = (int)r->status->code;
		offstat__v1__rpc_response__free_unpacked(r, NULL);
		if (code != OK) {
			nanosleep(&(struct timespec){.tv_nsec = 100000000},
			          NULL);
		}
	}
	assert_int_equal(code, OK);
	/* The file is read: the expired token is refused, and says why. */
	Offstat__V1__RpcResponse *r = call_token(M("GetCount"), &rd, expired);
	if (check_reply("an expired token", r, UNAUTH, NONE, "tok") != 0 ||
	    strstr(r->status->message, "expired") == NULL) {
		fail_msg("an expired token: '%s'", r->status->message);
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	assert_alive("an expired token");
	pb_free(&rd);
	pb_free(&commit);
}

/* AUTH_LOG_PER_SEC of service/auth.h: refused-token lines a second. */
#define REFUSED_LINES_PER_SEC 5

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * A client hammering with bad tokens: each call is refused, but the log
 * gets a few lines a second and then one saying how many were left out;
 * the lines written and left out add up to every refusal, and the total of
 * failures counts them all. No token reaches the log.
 */
static void
test_refused_log(void **state)
{
	(void)state;
	enum { CALLS = 200 };
	pb                 rd = {0};
	char               bad[200], line[1024];
	FILE              *fp;
	long               off;
	double             t0, secs;
	unsigned long long logged = 0, suppressed = 0, total = 0;
	unsigned           flushes = 0;

	assert_true(tokens_up);
	get_count(&rd, "dorset", "S15A", "2020/21", 0, 0);
	/* The right shape, an unknown id; and a reader's secret with a
	 * wrong id, to look for in the log. */
	snprintf(bad, sizeof(bad), "Bearer ost_7fffffff_%s", reader + 13);
	assert_non_null(fp = fopen(toklog, "r"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	off = ftell(fp);
	t0  = now_s();
	for (int i = 0; i < CALLS; i++) {
		Offstat__V1__RpcResponse *r =
		        call_token(M("GetCount"), &rd, bad);
		assert_int_equal((int)r->status->code, UNAUTH);
		offstat__v1__rpc_response__free_unpacked(r, NULL);
	}
	secs = now_s() - t0;
	/* One more a second later writes the line for those left out. */
	nanosleep(&(struct timespec){.tv_sec = 1, .tv_nsec = 100000000}, NULL);
	expect_token("a bad token a second later", M("GetCount"), &rd, bad,
	             UNAUTH, NONE);
	nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
	assert_int_equal(fseek(fp, off, SEEK_SET), 0);
	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *p;
		if (strstr(line, reader + 13) != NULL ||
		    strstr(line, writer + 13) != NULL) {
			fail_msg("a token secret reached the log: %s", line);
		}
		if (strstr(line, "msg=\"authentication failed\"") != NULL) {
			logged++;
		}
		if ((p = strstr(line, " suppressed=")) != NULL) {
			suppressed += strtoull(p + 12, NULL, 10);
		}
		/* The line for those left out is written by the first
		 * refusal of a new second, before that refusal's own line:
		 * the count it shows is every refusal so far, that one
		 * included. */
		if ((p = strstr(line, " failures_total=")) != NULL) {
			unsigned long long t = strtoull(p + 16, NULL, 10);
			if (t != logged + suppressed + 1) {
				fail_msg("failures_total=%llu after %llu "
				         "lines and %llu left out",
				         t, logged, suppressed);
			}
			total = t;
			flushes++;
		}
	}
	fclose(fp);
	pb_free(&rd);
	print_message("%d refusals in %.2f s: %llu lines, %llu left out, "
	              "%llu counted\n",
	              CALLS + 1, secs, logged, suppressed, total);
	if (logged + suppressed != CALLS + 1) {
		fail_msg("%llu lines and %llu left out for %d refusals",
		         logged, suppressed, CALLS + 1);
	}
	if (logged > REFUSED_LINES_PER_SEC * ((unsigned long long)secs + 3)) {
		fail_msg("%llu lines in %.1f s", logged, secs);
	}
	/* Every refusal counted (on this server, started for this test),
	 * whether logged or not: checked above at each line for those left
	 * out, and there was at least one. */
	if (suppressed == 0 || flushes == 0 || total == 0) {
		fail_msg("no line for the refusals left out (%llu, %u lines)",
		         suppressed, flushes);
	}
}

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
	/* A clean exit, and in sanitizer builds no leak, after all that. */
	return (harness_stop(&srv) == 0 ? 0 : -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_utf8_every_field),
	        cmocka_unit_test(test_nul_every_field),
	        cmocka_unit_test(test_nul_envelope),
	        cmocka_unit_test(test_transport),
	        cmocka_unit_test_setup_teardown(test_tokens, tokens_setup,
	                                        tokens_teardown),
	        cmocka_unit_test_setup_teardown(test_refused_log, tokens_setup,
	                                        tokens_teardown),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
