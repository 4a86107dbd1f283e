/*
 * The load of scripts/soak.sh: threads on their own REQ sockets send a mix
 * of good calls and malformed ones (about one in three) for a given time,
 * then the totals are printed: requests answered, the status of each kind
 * of request, replies that were not well-formed, and exchanges that got no
 * reply at all.
 *
 * usage: soak_client URL SECONDS [THREADS]
 * Exits 0 when every request got a well-formed reply with the status its
 * kind expects, 1 otherwise, 2 on a usage error.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "offstat/v1/offstat.pb-c.h"

#define M(name)     "offstat.v1.OffenceStats/" name
#define NCODES      17
#define MAX_THREADS 64
#define BIG_REQUEST ((1u << 20) + 4096)
#define TIMEOUT_MS  10000
#define ANY_FAILURE (-1) /* any status but OK, INTERNAL and UNKNOWN */

/* A request being built: envelope bytes in a growing buffer. */
typedef struct {
	uint8_t *b;
	size_t   n, cap;
} buf;

static void
put(buf *p, const void *data, size_t len)
{
	if (p->n + len > p->cap) {
		p->cap = (p->n + len) * 2 + 64;
		if ((p->b = realloc(p->b, p->cap)) == NULL) {
			abort();
		}
	}
	memcpy(p->b + p->n, data, len);
	p->n += len;
}

static void
put_varint(buf *p, uint64_t v)
{
	uint8_t b[10];
	size_t  n = 0;
	do {
		b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	put(p, b, n);
}

static void
put_field(buf *p, unsigned field, const void *data, size_t len)
{
	put_varint(p, (uint64_t)field << 3 | 2);
	put_varint(p, len);
	put(p, data, len);
}

/* Packs a request message into an envelope for method. */
static void
call(buf *out, const char *method, const ProtobufCMessage *msg)
{
	Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
	uint8_t                *payload;
	size_t                  n;

	payload = malloc(protobuf_c_message_get_packed_size(msg) + 1);
	if (payload == NULL) {
		abort();
	}
	env.payload.len  = protobuf_c_message_pack(msg, payload);
	env.payload.data = payload;
	env.method       = (char *)method;
	env.request_id   = "soak";
	n                = offstat__v1__rpc_request__get_packed_size(&env);
	if (out->cap < n) {
		out->cap = n;
		if ((out->b = realloc(out->b, n)) == NULL) {
			abort();
		}
	}
	out->n = offstat__v1__rpc_request__pack(&env, out->b);
	free(payload);
}

static uint64_t
next_rand(uint64_t *s)
{
	/* xorshift64*: a different, repeatable stream per thread. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 2685821657736338717ull);
}

static const char *const areas[] = {
        "dorset",    "E23000039", "South West",         "Devon & Cornwall",
        "wiltshire", "England",   "Metropolitan Police"};
static const char *const offences[] = {"88A", "S15A", "sexual grooming", "8Q",
                                       "9A"};
static const char *const periods[]  = {"2017/18",    "2020/21",
                                       "2024/25",    "2024/25 Q1",
                                       "2024/25 Q3", "year ending June 2024"};
#define PICK(arr, s) (arr[next_rand(s) % (sizeof(arr) / sizeof(arr[0]))])

/* Builders: each writes one request of its kind into out. */
typedef void (*build_fn)(buf *out, uint64_t *s);

static void
k_count(buf *out, uint64_t *s)
{
	Offstat__V1__GetCountRequest r = OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period          p = OFFSTAT__V1__PERIOD__INIT;
	r.area                         = (char *)PICK(areas, s);
	r.offence                      = (char *)PICK(offences, s);
	p.text                         = (char *)PICK(periods, s);
	r.period                       = &p;
	call(out, M("GetCount"), &r.base);
}

static void
k_series(buf *out, uint64_t *s)
{
	Offstat__V1__GetSeriesRequest r =
	        OFFSTAT__V1__GET_SERIES_REQUEST__INIT;
	r.area        = (char *)PICK(areas, s);
	r.offence     = "88A";
	r.granularity = next_rand(s) % 2 ? OFFSTAT__V1__GRANULARITY__QUARTERLY
	                                 : OFFSTAT__V1__GRANULARITY__YEARLY;
	call(out, M("GetSeries"), &r.base);
}

static void
k_trend(buf *out, uint64_t *s)
{
	Offstat__V1__CompareTrendRequest r =
	        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
	Offstat__V1__Period b = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period e = OFFSTAT__V1__PERIOD__INIT;
	(void)s;
	r.area        = "dorset";
	r.offence     = "S15A";
	b.text        = "2017/18";
	e.text        = "2020/21";
	r.base_period = &b;
	r.end_period  = &e;
	call(out, M("CompareTrend"), &r.base);
}

static void
k_rank(buf *out, uint64_t *s)
{
	Offstat__V1__RankAreasRequest r =
	        OFFSTAT__V1__RANK_AREAS_REQUEST__INIT;
	Offstat__V1__Period p = OFFSTAT__V1__PERIOD__INIT;
	r.offence             = "88A";
	r.by                  = (Offstat__V1__RankBy)(next_rand(s) % 4);
	p.text                = "2024/25";
	r.period              = &p;
	call(out, M("RankAreas"), &r.base);
}

static void
k_list(buf *out, uint64_t *s)
{
	Offstat__V1__ListAreasRequest r =
	        OFFSTAT__V1__LIST_AREAS_REQUEST__INIT;
	Offstat__V1__PageRequest pg = OFFSTAT__V1__PAGE_REQUEST__INIT;
	char                     tok[16];
	snprintf(tok, sizeof(tok), "%u", (unsigned)(next_rand(s) % 40));
	pg.page_size  = 10;
	pg.page_token = tok;
	r.page        = &pg;
	call(out, M("ListAreas"), &r.base);
}

static void
k_info(buf *out, uint64_t *s)
{
	Offstat__V1__ServerInfoRequest r =
	        OFFSTAT__V1__SERVER_INFO_REQUEST__INIT;
	(void)s;
	call(out, M("ServerInfo"), &r.base);
}

/* Malformed requests. */
static void
k_random(buf *out, uint64_t *s)
{
	size_t n = 1 + next_rand(s) % 300;
	out->n   = 0;
	put(out, "\x7f", 1); /* field 15, wire type 7: never valid */
	for (size_t i = 1; i < n; i++) {
		uint8_t b = (uint8_t)next_rand(s);
		put(out, &b, 1);
	}
}

static void
k_truncated(buf *out, uint64_t *s)
{
	/* Past the request id (6 bytes) into the payload, so what is left
	 * is never a whole envelope. */
	k_count(out, s);
	out->n -= 7 + next_rand(s) % (out->n / 2);
}

static void
k_bad_utf8(buf *out, uint64_t *s)
{
	Offstat__V1__GetCountRequest r = OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period          p = OFFSTAT__V1__PERIOD__INIT;
	(void)s;
	r.area    = "dors\xc3\x28t";
	r.offence = "88A";
	p.text    = "2020/21";
	r.period  = &p;
	call(out, M("GetCount"), &r.base);
}

static void
k_unknown_method(buf *out, uint64_t *s)
{
	Offstat__V1__ServerInfoRequest r =
	        OFFSTAT__V1__SERVER_INFO_REQUEST__INIT;
	(void)s;
	call(out, M("DropTables"), &r.base);
}

static void
k_bad_period(buf *out, uint64_t *s)
{
	static const char *const bad[] = {"2017/19", "9999/00", "2024/25 Q5",
	                                  "'; DROP TABLE counts; --"};
	Offstat__V1__GetCountRequest r = OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period          p = OFFSTAT__V1__PERIOD__INIT;
	r.area                         = "dorset";
	r.offence                      = "88A";
	p.text                         = (char *)PICK(bad, s);
	r.period                       = &p;
	call(out, M("GetCount"), &r.base);
}

static void
k_bad_enum(buf *out, uint64_t *s)
{
	Offstat__V1__GetSeriesRequest r =
	        OFFSTAT__V1__GET_SERIES_REQUEST__INIT;
	r.area        = "dorset";
	r.offence     = "88A";
	r.granularity = (Offstat__V1__Granularity)(3 + next_rand(s) % 1000);
	call(out, M("GetSeries"), &r.base);
}

static void
k_bad_page(buf *out, uint64_t *s)
{
	Offstat__V1__ListAreasRequest r =
	        OFFSTAT__V1__LIST_AREAS_REQUEST__INIT;
	Offstat__V1__PageRequest pg = OFFSTAT__V1__PAGE_REQUEST__INIT;
	if (next_rand(s) % 2) {
		pg.page_size = 1000000;
	} else {
		pg.page_token = "not-a-token";
	}
	r.page = &pg;
	call(out, M("ListAreas"), &r.base);
}

static void
k_unknown_area(buf *out, uint64_t *s)
{
	Offstat__V1__GetCountRequest r = OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period          p = OFFSTAT__V1__PERIOD__INIT;
	(void)s;
	r.area    = "dorset' OR '1'='1";
	r.offence = "88A";
	p.text    = "2020/21";
	r.period  = &p;
	call(out, M("GetCount"), &r.base);
}

static void
k_comparators(buf *out, uint64_t *s)
{
	Offstat__V1__CompareTrendRequest r =
	        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
	Offstat__V1__Period b = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__Period e = OFFSTAT__V1__PERIOD__INIT;
	static char        *many[20000];
	(void)s;
	for (size_t i = 0; i < 20000; i++) {
		many[i] = "W";
	}
	r.area          = "dorset";
	r.offence       = "S15A";
	b.text          = "2017/18";
	e.text          = "2020/21";
	r.base_period   = &b;
	r.end_period    = &e;
	r.comparators   = many;
	r.n_comparators = 20000;
	call(out, M("CompareTrend"), &r.base);
}

static void
k_bad_token(buf *out, uint64_t *s)
{
	Offstat__V1__IngestRequest r = OFFSTAT__V1__INGEST_REQUEST__INIT;
	r.action_case = OFFSTAT__V1__INGEST_REQUEST__ACTION_OPEN_LABEL;
	r.open_label  = "soak";
	call(out, M("Ingest"), &r.base);
	if (next_rand(s) % 2) {
		static const char md[] = "\x0a\x0d"
		                         "authorization"
		                         "\x12\x0a"
		                         "Bearer abc";
		put_field(out, 5, md, sizeof(md) - 1);
	}
}

static void
k_oversize(buf *out, uint64_t *s)
{
	static uint8_t zeros[BIG_REQUEST];
	(void)s;
	out->n = 0;
	put_field(out, 1, M("ServerInfo"), strlen(M("ServerInfo")));
	put_field(out, 2, zeros, sizeof(zeros));
}

static void
k_nul(buf *out, uint64_t *s)
{
	/* "dor\0set" would be read as "dor" if it were let through. */
	static const char pay[] = "\x0a\x07"
	                          "dor\0set"
	                          "\x12\x03"
	                          "88A";
	(void)s;
	out->n = 0;
	put_field(out, 1, M("GetCount"), strlen(M("GetCount")));
	put_field(out, 2, pay, sizeof(pay) - 1);
}

static void
k_metadata_flood(buf *out, uint64_t *s)
{
	/* Empty metadata entries up to the 1 MiB limit: over the service's
	 * decoding budget. */
	(void)s;
	out->n = 0;
	put_field(out, 1, M("ServerInfo"), strlen(M("ServerInfo")));
	while (out->n + 2 <= (1u << 20)) {
		put(out, "\x2a\x00", 2);
	}
}

static const struct kind {
	const char *name;
	build_fn    build;
	unsigned    weight; /* out of the sum of weights */
	int         want;   /* expected status; ANY_FAILURE: any failure */
} kinds[] = {
        {"GetCount", k_count, 30, 0},
        {"GetSeries", k_series, 10, 0},
        {"CompareTrend", k_trend, 8, 0},
        {"RankAreas", k_rank, 4, 0},
        {"ListAreas", k_list, 8, 0},
        {"ServerInfo", k_info, 10, 0},
        {"random bytes", k_random, 4, OFFSTAT__V1__CODE__INVALID_ARGUMENT},
        {"truncated", k_truncated, 4, ANY_FAILURE},
        {"bad UTF-8", k_bad_utf8, 3, OFFSTAT__V1__CODE__INVALID_ARGUMENT},
        {"unknown method", k_unknown_method, 3,
         OFFSTAT__V1__CODE__UNIMPLEMENTED},
        {"bad period", k_bad_period, 3, OFFSTAT__V1__CODE__INVALID_ARGUMENT},
        {"bad enum", k_bad_enum, 3, OFFSTAT__V1__CODE__INVALID_ARGUMENT},
        {"bad page", k_bad_page, 3, OFFSTAT__V1__CODE__INVALID_ARGUMENT},
        {"unknown area", k_unknown_area, 3, OFFSTAT__V1__CODE__NOT_FOUND},
        {"20000 comparators", k_comparators, 1,
         OFFSTAT__V1__CODE__INVALID_ARGUMENT},
        {"write without token", k_bad_token, 2,
         OFFSTAT__V1__CODE__UNAUTHENTICATED},
        {"over the size limit", k_oversize, 1,
         OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED},
        {"NUL in a string", k_nul, 2, OFFSTAT__V1__CODE__INVALID_ARGUMENT},
        {"1 MiB of metadata", k_metadata_flood, 1,
         OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

typedef struct {
	atomic_ullong sent;
	atomic_ullong codes[NCODES];
	atomic_ullong unexpected; /* a status other than the kind's */
	atomic_ullong malformed;  /* a reply that is not an RpcResponse */
	atomic_ullong no_reply;   /* timeouts and transport errors */
} tally;

static tally       totals[NKINDS];
static const char *url;
static double      deadline;
static atomic_int  failed_dial;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static const struct kind *
pick(uint64_t *s, size_t *idx)
{
	unsigned total = 0, r;
	for (size_t i = 0; i < NKINDS; i++) {
		total += kinds[i].weight;
	}
	r = (unsigned)(next_rand(s) % total);
	for (size_t i = 0; i < NKINDS; i++) {
		if (r < kinds[i].weight) {
			*idx = i;
			return (&kinds[i]);
		}
		r -= kinds[i].weight;
	}
	*idx = 0;
	return (&kinds[0]);
}

/* Sends one request and records what came back. Returns 0, or -1 when
 * the socket should be reopened. */
static int
exchange(nng_socket sock, const struct kind *k, tally *t, const buf *req)
{
	nng_msg                  *msg;
	Offstat__V1__RpcResponse *r;
	int                       rv;

	atomic_fetch_add(&t->sent, 1);
	if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, req->b, req->n)) != 0) {
		abort();
	}
	if ((rv = nng_sendmsg(sock, msg, 0)) != 0) {
		nng_msg_free(msg);
		atomic_fetch_add(&t->no_reply, 1);
		return (-1);
	}
	if ((rv = nng_recvmsg(sock, &msg, 0)) != 0) {
		atomic_fetch_add(&t->no_reply, 1);
		return (-1);
	}
	r = offstat__v1__rpc_response__unpack(NULL, nng_msg_len(msg),
	                                      nng_msg_body(msg));
	nng_msg_free(msg);
	if (r == NULL || r->status == NULL || (int)r->status->code < 0 ||
	    r->status->code >= NCODES) {
		atomic_fetch_add(&t->malformed, 1);
	} else {
		int code = (int)r->status->code;
		atomic_fetch_add(&t->codes[code], 1);
		bool ok =
		        k->want == ANY_FAILURE
		                ? code != 0 &&
		                          code != OFFSTAT__V1__CODE__INTERNAL &&
		                          code != OFFSTAT__V1__CODE__UNKNOWN
		                : code == k->want;
		if (!ok) {
			atomic_fetch_add(&t->unexpected, 1);
		}
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	return (0);
}

static int
open_socket(nng_socket *sock)
{
	int rv;
	if ((rv = nng_req0_open(sock)) != 0) {
		return (rv);
	}
	nng_socket_set_ms(*sock, NNG_OPT_RECVTIMEO, TIMEOUT_MS);
	nng_socket_set_ms(*sock, NNG_OPT_SENDTIMEO, TIMEOUT_MS);
	nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, 16u << 20);
	/* A request the service dropped is not sent again by REQ. */
	nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME,
	                  NNG_DURATION_INFINITE);
	if ((rv = nng_dial(*sock, url, NULL, 0)) != 0) {
		nng_close(*sock);
	}
	return (rv);
}

static void *
worker(void *arg)
{
	uint64_t   seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	nng_socket sock;
	buf        req = {0};

	if (open_socket(&sock) != 0) {
		atomic_fetch_add(&failed_dial, 1);
		return (NULL);
	}
	while (now() < deadline) {
		size_t             idx;
		const struct kind *k = pick(&seed, &idx);
		k->build(&req, &seed);
		if (exchange(sock, k, &totals[idx], &req) != 0) {
			nng_close(sock);
			if (open_socket(&sock) != 0) {
				atomic_fetch_add(&failed_dial, 1);
				break;
			}
		}
	}
	nng_close(sock);
	free(req.b);
	return (NULL);
}

static const char *const code_names[NCODES] = {
        "OK",        "CANCELLED",    "UNKNOWN",        "INVALID_ARG",
        "DEADLINE",  "NOT_FOUND",    "ALREADY_EXISTS", "DENIED",
        "EXHAUSTED", "PRECONDITION", "ABORTED",        "OUT_OF_RANGE",
        "UNIMPL",    "INTERNAL",     "UNAVAILABLE",    "DATA_LOSS",
        "UNAUTH"};

int
main(int argc, char **argv)
{
	pthread_t          th[MAX_THREADS];
	long               secs, nthreads = 8;
	unsigned long long sent = 0, answered = 0, unexpected = 0;
	unsigned long long malformed = 0, no_reply = 0;
	unsigned long long codes[NCODES] = {0};
	double             start;

	if (argc < 3 || (secs = strtol(argv[2], NULL, 10)) <= 0 ||
	    (argc > 3 && ((nthreads = strtol(argv[3], NULL, 10)) <= 0 ||
	                  nthreads > MAX_THREADS))) {
		fprintf(stderr, "usage: soak_client URL SECONDS [THREADS]\n");
		return (2);
	}
	url      = argv[1];
	start    = now();
	deadline = start + (double)secs;
	for (long i = 0; i < nthreads; i++) {
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	}
	for (long i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
	}

	printf("%-22s %9s %9s %6s %6s  %s\n", "kind", "sent", "answered",
	       "wrong", "none", "statuses");
	for (size_t i = 0; i < NKINDS; i++) {
		tally             *t         = &totals[i];
		unsigned long long a         = 0;
		char               line[512] = "";
		for (int c = 0; c < NCODES; c++) {
			unsigned long long n = atomic_load(&t->codes[c]);
			a += n;
			codes[c] += n;
			if (n > 0) {
				size_t l = strlen(line);
				snprintf(line + l, sizeof(line) - l,
				         "%s=%llu ", code_names[c], n);
			}
		}
		printf("%-22s %9llu %9llu %6llu %6llu  %s\n", kinds[i].name,
		       (unsigned long long)atomic_load(&t->sent), a,
		       (unsigned long long)atomic_load(&t->unexpected),
		       (unsigned long long)atomic_load(&t->no_reply), line);
		sent += atomic_load(&t->sent);
		answered += a;
		unexpected += atomic_load(&t->unexpected);
		malformed += atomic_load(&t->malformed);
		no_reply += atomic_load(&t->no_reply);
	}
	printf("requests sent %llu, answered %llu (%.0f/s) by %ld threads\n",
	       sent, answered, (double)answered / (now() - start), nthreads);
	printf("statuses:");
	for (int c = 0; c < NCODES; c++) {
		if (codes[c] > 0) {
			printf(" %s=%llu", code_names[c], codes[c]);
		}
	}
	printf("\nwrong status %llu, malformed replies %llu, no reply %llu, "
	       "failed dials %d\n",
	       unexpected, malformed, no_reply, atomic_load(&failed_dial));
	return (unexpected == 0 && malformed == 0 && no_reply == 0 &&
	                        atomic_load(&failed_dial) == 0
	                ? 0
	                : 1);
}
