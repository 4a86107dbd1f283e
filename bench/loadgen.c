/*
 * loadgen: drives offstatd, or the bare NNG echo baseline, with a fixed
 * number of requests in flight and prints requests/s and latency
 * percentiles for each method.
 *
 * Each request in flight is one slot: its own nng_ctx on one REQ socket and
 * an nng_aio state machine (send, then receive, then the next send). With
 * nng 1.5.2 a REQ context must start its receive only after its send
 * completed, so a slot never has both outstanding.
 *
 * The requests are read from a file that gen_fullsize.py writes beside the
 * full-size dataset; every one is sent once and checked before the timed
 * run, so the run never measures error replies.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "offstat/v1/offstat.pb-c.h"

#define METHOD_PREFIX "offstat.v1.OffenceStats/"
#define MAX_SLOTS     4096
#define MAX_LINE      1024
#define MAX_REPLY     (64u << 20)

enum { M_COUNT, M_SERIES, M_TREND, M_ECHO, M_N };

static const char *const method_names[M_N] = {"GetCount", "GetSeries",
                                              "CompareTrend", "Echo"};

typedef struct {
	uint8_t *data;
	size_t   len;
} packed;

/* Latencies of one slot and method, in nanoseconds. */
typedef struct {
	uint32_t *v;
	size_t    n;
	size_t    cap;
} samples;

typedef enum { S_IDLE, S_SEND, S_RECV } slot_state;

typedef struct slot {
	nng_ctx    ctx;
	nng_aio   *aio;
	slot_state state;
	int        method;
	uint64_t   t0;
	size_t     req_len;
	uint64_t   rng;
	size_t     next[M_N]; /* round robin within each method's requests */
	samples    lat[M_N];
	uint64_t   errors[M_N];
	uint64_t   bytes_in[M_N];
	uint64_t   bytes_out[M_N];
} slot;

typedef struct {
	/* Options. */
	const char *url;
	const char *requests;
	int         inflight;
	double      seconds;
	double      warmup;
	long long   count;
	double      weight[M_N];
	bool        echo;
	size_t      echo_req;
	size_t      echo_rep;
	bool        kv;
	bool        check;
	const char *dump;
	int         timeout_ms;
	const char *label;

	/* The requests, packed, by method. */
	packed *reqs[M_N];
	size_t  nreqs[M_N];
	double  cumw[M_N]; /* cumulative weights for picking a method */

	nng_socket      sock;
	slot           *slots;
	atomic_bool     recording;
	atomic_bool     stopping;
	atomic_llong    remaining; /* count mode: requests left to start */
	int             active;    /* slots still running, under mtx */
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	atomic_ullong   rec_start; /* requests sent before are not timed */
	atomic_ullong   last_done;
	atomic_ullong   replies; /* warm-up included, for CPU per request */
} bench;

static bench B;

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static void
die_nng(const char *what, int rv)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, nng_strerror(rv));
	exit(1);
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (x * 0x2545F4914F6CDD1DULL);
}

static int
samples_add(samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t    cap = s->cap ? s->cap * 2 : 4096;
		uint32_t *v   = realloc(s->v, cap * sizeof(*v));
		if (v == NULL) {
			return (-1);
		}
		s->v   = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return (0);
}

/* ---- Building requests ----------------------------------------------- */

static packed
pack_envelope(const char *method, const ProtobufCMessage *payload, size_t id)
{
	Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
	char                    name[64], rid[32];
	packed                  p;
	uint8_t                *inner;
	size_t                  n;

	n = protobuf_c_message_get_packed_size(payload);
	if ((inner = malloc(n + 1)) == NULL) {
		die("%s", "out of memory");
	}
	protobuf_c_message_pack(payload, inner);
	snprintf(name, sizeof(name), METHOD_PREFIX "%s", method);
	snprintf(rid, sizeof(rid), "bench-%zu", id);
	env.method       = name;
	env.payload.data = inner;
	env.payload.len  = n;
	env.request_id   = rid;
	p.len            = protobuf_c_message_get_packed_size(&env.base);
	if ((p.data = malloc(p.len)) == NULL) {
		die("%s", "out of memory");
	}
	protobuf_c_message_pack(&env.base, p.data);
	free(inner);
	return (p);
}

static void
add_request(int method, packed p)
{
	packed *v =
	        realloc(B.reqs[method], (B.nreqs[method] + 1) * sizeof(*v));
	if (v == NULL) {
		die("%s", "out of memory");
	}
	v[B.nreqs[method]++] = p;
	B.reqs[method]       = v;
}

/* Splits a line at tabs into at most max fields; returns how many. */
static int
split_tabs(char *line, char **f, int max)
{
	int n                       = 0;
	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		if ((line = strchr(line, '\t')) == NULL) {
			break;
		}
		*line++ = '\0';
	}
	return (n);
}

static unsigned
num(const char *s, const char *line)
{
	char         *end;
	unsigned long v;
	errno = 0;
	v     = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 10000) {
		die("bad number in request line '%s'", line);
	}
	return ((unsigned)v);
}

static void
load_requests(const char *path)
{
	FILE  *f = fopen(path, "r");
	char   line[MAX_LINE], copy[MAX_LINE];
	char  *fld[8];
	size_t id = 0;

	if (f == NULL) {
		die("cannot open %s", path);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		Offstat__V1__Period p1 = OFFSTAT__V1__PERIOD__INIT;
		Offstat__V1__Period p2 = OFFSTAT__V1__PERIOD__INIT;
		int                 n;

		snprintf(copy, sizeof(copy), "%s", line);
		copy[strcspn(copy, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\n') {
			continue;
		}
		n = split_tabs(line, fld, 8);
		if (strcmp(fld[0], "GetCount") == 0 && n == 5) {
			Offstat__V1__GetCountRequest r =
			        OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
			r.area     = fld[1];
			r.offence  = fld[2];
			p1.year    = num(fld[3], copy);
			p1.quarter = num(fld[4], copy);
			r.period   = &p1;
			add_request(M_COUNT,
			            pack_envelope("GetCount", &r.base, id));
		} else if (strcmp(fld[0], "GetSeries") == 0 && n == 6) {
			Offstat__V1__GetSeriesRequest r =
			        OFFSTAT__V1__GET_SERIES_REQUEST__INIT;
			r.area    = fld[1];
			r.offence = fld[2];
			p1.year   = num(fld[3], copy);
			p2.year   = num(fld[4], copy);
			r.from    = &p1;
			r.to      = &p2;
			r.granularity =
			        fld[5][0] == 'Q'
			                ? OFFSTAT__V1__GRANULARITY__QUARTERLY
			                : OFFSTAT__V1__GRANULARITY__YEARLY;
			add_request(M_SERIES,
			            pack_envelope("GetSeries", &r.base, id));
		} else if (strcmp(fld[0], "CompareTrend") == 0 && n == 5) {
			Offstat__V1__CompareTrendRequest r =
			        OFFSTAT__V1__COMPARE_TREND_REQUEST__INIT;
			r.area        = fld[1];
			r.offence     = fld[2];
			p1.year       = num(fld[3], copy);
			p2.year       = num(fld[4], copy);
			r.base_period = &p1;
			r.end_period  = &p2;
			add_request(M_TREND, pack_envelope("CompareTrend",
			                                   &r.base, id));
		} else {
			die("bad request line '%s'", copy);
		}
		id++;
	}
	fclose(f);
}

/* The echo request: its first four bytes ask for a reply of echo_rep
 * bytes, so that both directions carry what offstat's exchange carries. */
static void
make_echo_request(void)
{
	packed p;
	p.len = B.echo_req < 4 ? 4 : B.echo_req;
	if ((p.data = calloc(1, p.len)) == NULL) {
		die("%s", "out of memory");
	}
	p.data[0] = (uint8_t)(B.echo_rep >> 24);
	p.data[1] = (uint8_t)(B.echo_rep >> 16);
	p.data[2] = (uint8_t)(B.echo_rep >> 8);
	p.data[3] = (uint8_t)B.echo_rep;
	for (size_t i = 4; i < p.len; i++) {
		p.data[i] = (uint8_t)('a' + i % 26);
	}
	add_request(M_ECHO, p);
}

/* ---- Reading replies ------------------------------------------------- */

static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			return (true);
		}
	}
	return (false);
}

/* Skips a field of wire type wt; false when the buffer ends first. */
static bool
skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;
	switch (wt) {
	case 0:
		return (varint(p, end, &v));
	case 1:
		*p += 8;
		return (*p <= end);
	case 2:
		if (!varint(p, end, &v) || v > (uint64_t)(end - *p)) {
			return (false);
		}
		*p += v;
		return (true);
	case 5:
		*p += 4;
		return (*p <= end);
	default:
		return (false);
	}
}

/*
 * The status code of a packed RpcResponse without decoding all of it (the
 * client's CPU is the server's on a small machine): field 1 is the status,
 * whose field 1 is the code, absent when OK. -1 when not a response.
 */
static int
reply_code(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	uint64_t       tag, n, code;

	while (p < end) {
		if (!varint(&p, end, &tag)) {
			return (-1);
		}
		if (tag != ((1 << 3) | 2)) {
			if (!skip(&p, end, (unsigned)(tag & 7))) {
				return (-1);
			}
			continue;
		}
		if (!varint(&p, end, &n) || n > (uint64_t)(end - p)) {
			return (-1);
		}
		const uint8_t *send = p + n;
		code                = 0;
		while (p < send) {
			if (!varint(&p, send, &tag)) {
				return (-1);
			}
			if (tag == ((1 << 3) | 0)) {
				if (!varint(&p, send, &code)) {
					return (-1);
				}
			} else if (!skip(&p, send, (unsigned)(tag & 7))) {
				return (-1);
			}
		}
		return ((int)code);
	}
	return (-1);
}

/* ---- The slots ------------------------------------------------------- */

static int
pick_method(slot *s)
{
	double r = (double)(xorshift(&s->rng) >> 11) / 9007199254740992.0 *
	           B.cumw[M_N - 1];
	for (int m = 0; m < M_N; m++) {
		if (r < B.cumw[m] && B.nreqs[m] > 0) {
			return (m);
		}
	}
	for (int m = M_N - 1; m >= 0; m--) {
		if (B.nreqs[m] > 0 && B.weight[m] > 0) {
			return (m);
		}
	}
	return (0);
}

static void
slot_done(slot *s)
{
	s->state = S_IDLE;
	pthread_mutex_lock(&B.mtx);
	if (--B.active == 0) {
		pthread_cond_broadcast(&B.cv);
	}
	pthread_mutex_unlock(&B.mtx);
}

/* Starts the slot's next request, or retires the slot. */
static void
slot_next(slot *s)
{
	nng_msg *msg;
	int      rv;

	if (atomic_load(&B.stopping) ||
	    (B.count > 0 && atomic_fetch_sub(&B.remaining, 1) <= 0)) {
		slot_done(s);
		return;
	}
	s->method          = pick_method(s);
	const packed *rq   = &B.reqs[s->method][s->next[s->method]];
	s->next[s->method] = (s->next[s->method] + 1) % B.nreqs[s->method];
	if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, rq->data, rq->len)) != 0) {
		die_nng("building a request", rv);
	}
	s->req_len = rq->len;
	s->state   = S_SEND;
	s->t0      = now_ns();
	nng_aio_set_msg(s->aio, msg);
	nng_ctx_send(s->ctx, s->aio);
}

static void
slot_cb(void *arg)
{
	slot    *s = arg;
	nng_msg *msg;
	int      rv = nng_aio_result(s->aio);

	switch (s->state) {
	case S_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(s->aio));
			s->errors[s->method]++;
			slot_next(s);
			return;
		}
		s->state = S_RECV;
		nng_ctx_recv(s->ctx, s->aio);
		return;
	case S_RECV:
		if (rv != 0) {
			s->errors[s->method]++;
			slot_next(s);
			return;
		}
		uint64_t t1 = now_ns();
		msg         = nng_aio_get_msg(s->aio);
		atomic_fetch_add_explicit(&B.replies, 1, memory_order_relaxed);
		bool ok = B.echo ? nng_msg_len(msg) == B.echo_rep ||
		                           (B.echo_rep == 0 &&
		                            nng_msg_len(msg) == B.echo_req)
		                 : reply_code(nng_msg_body(msg),
		                              nng_msg_len(msg)) == 0;
		if (atomic_load(&B.recording) && s->t0 >= B.rec_start) {
			if (!ok) {
				s->errors[s->method]++;
			} else {
				if (samples_add(&s->lat[s->method],
				                t1 - s->t0) != 0) {
					die("%s", "out of memory");
				}
				s->bytes_in[s->method] += nng_msg_len(msg);
				s->bytes_out[s->method] += s->req_len;
			}
			atomic_store(&B.last_done, t1);
		}
		nng_msg_free(msg);
		slot_next(s);
		return;
	case S_IDLE:
		return;
	}
}

/* ---- Checking the requests before the run ---------------------------- */

/* Sends every request of the methods in the mix once, one at a time, and
 * insists on OK replies. */
static void
check_requests(void)
{
	FILE *dump = NULL;

	if (B.dump != NULL && (dump = fopen(B.dump, "wb")) == NULL) {
		die("cannot write %s", B.dump);
	}
	for (int m = 0; m < M_ECHO; m++) {
		for (size_t i = 0; B.weight[m] > 0 && i < B.nreqs[m]; i++) {
			Offstat__V1__RpcResponse *r;
			nng_msg                  *msg;
			int                       rv;

			if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
			    (rv = nng_msg_append(msg, B.reqs[m][i].data,
			                         B.reqs[m][i].len)) != 0 ||
			    (rv = nng_sendmsg(B.sock, msg, 0)) != 0 ||
			    (rv = nng_recvmsg(B.sock, &msg, 0)) != 0) {
				die_nng("checking the requests", rv);
			}
			r = offstat__v1__rpc_response__unpack(
			        NULL, nng_msg_len(msg), nng_msg_body(msg));
			if (r == NULL || r->status == NULL ||
			    r->status->code != OFFSTAT__V1__CODE__OK) {
				fprintf(stderr,
				        "loadgen: %s request %zu answered "
				        "%d: %s\n",
				        method_names[m], i,
				        r && r->status ? (int)r->status->code
				                       : -1,
				        r && r->status ? r->status->message
				                       : "not an RpcResponse");
				exit(1);
			}
			offstat__v1__rpc_response__free_unpacked(r, NULL);
			if (dump != NULL) {
				/* Each reply as a line of hex, to compare
				 * two servers' answers with cmp(1). */
				const uint8_t *b = nng_msg_body(msg);
				for (size_t k = 0; k < nng_msg_len(msg); k++) {
					fprintf(dump, "%02x", b[k]);
				}
				fputc('\n', dump);
			}
			nng_msg_free(msg);
		}
	}
	if (dump != NULL && fclose(dump) != 0) {
		die("cannot write %s", B.dump);
	}
}

/* ---- Waiting for a server to answer ---------------------------------- */

/*
 * Sends ServerInfo until the server at url answers it, then prints the
 * wall-clock time of the answer (ns since 1970) so that a script can
 * subtract the time it started the server.
 */
static int
wait_ready(const char *url, double seconds)
{
	Offstat__V1__ServerInfoRequest in =
	        OFFSTAT__V1__SERVER_INFO_REQUEST__INIT;
	packed          p = pack_envelope("ServerInfo", &in.base, 0);
	struct timespec ts;
	nng_socket      s;
	nng_msg        *msg;
	int             rv;

	if ((rv = nng_req0_open(&s)) != 0) {
		die_nng("opening a socket", rv);
	}
	/* Reconnect every 10 to 20 ms while the server starts (more often
	 * costs CPU the starting server needs), and resend often
	 * in case the first request met a listener that was going away. */
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 10);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 20);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, 200);
	/* A REQ send waits for a connection: bound both directions. */
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, (nng_duration)(seconds * 1e3));
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration)(seconds * 1e3));
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, MAX_REPLY);
	if ((rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		die_nng("dialling", rv);
	}
	if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, p.data, p.len)) != 0) {
		die_nng("sending ServerInfo", rv);
	}
	if ((rv = nng_sendmsg(s, msg, 0)) != 0) {
		fprintf(stderr, "loadgen: no connection to %s: %s\n", url,
		        nng_strerror(rv));
		return (1);
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		fprintf(stderr, "loadgen: no ServerInfo answer from %s: %s\n",
		        url, nng_strerror(rv));
		return (1);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rv = reply_code(nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	nng_close(s);
	free(p.data);
	if (rv != 0) {
		fprintf(stderr, "loadgen: ServerInfo answered %d\n", rv);
		return (1);
	}
	printf("ready_ns=%llu\n",
	       (unsigned long long)ts.tv_sec * 1000000000ull +
	               (unsigned long long)ts.tv_nsec);
	return (0);
}

/* ---- Report ---------------------------------------------------------- */

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return ((x > y) - (x < y));
}

static double
pct_us(const uint32_t *v, size_t n, double q)
{
	if (n == 0) {
		return (0);
	}
	size_t i = (size_t)(q * (double)n);
	if (i >= n) {
		i = n - 1;
	}
	return ((double)v[i] / 1e3);
}

/* This process's user + system CPU time so far, in microseconds. */
static double
cpu_us(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0) {
		return (0);
	}
	return ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	        (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
}

/* CPU time of the load run, warm-up included, as replies are. */
static double run_cpu_us;

static void
report(double secs)
{
	if (!B.kv) {
		printf("%-13s %9s %7s %10s %9s %9s %9s %9s %7s %7s\n",
		       "method", "requests", "errors", "req/s", "p50 us",
		       "p90 us", "p99 us", "p99.9 us", "req B", "rep B");
	}
	for (int m = 0; m < M_N; m++) {
		size_t   n = 0, k = 0;
		uint64_t err = 0, bin = 0, bout = 0;
		for (int i = 0; i < B.inflight; i++) {
			n += B.slots[i].lat[m].n;
			err += B.slots[i].errors[m];
			bin += B.slots[i].bytes_in[m];
			bout += B.slots[i].bytes_out[m];
		}
		if (n == 0 && err == 0) {
			continue;
		}
		uint32_t *all = malloc((n ? n : 1) * sizeof(*all));
		if (all == NULL) {
			die("%s", "out of memory");
		}
		for (int i = 0; i < B.inflight; i++) {
			memcpy(all + k, B.slots[i].lat[m].v,
			       B.slots[i].lat[m].n * sizeof(*all));
			k += B.slots[i].lat[m].n;
		}
		qsort(all, n, sizeof(*all), u32_cmp);
		double rps = secs > 0 ? (double)n / secs : 0;
		double rq  = n ? (double)bout / (double)n : 0;
		double rp  = n ? (double)bin / (double)n : 0;
		if (B.kv) {
			printf("%smethod=%s inflight=%d n=%zu errors=%llu "
			       "secs=%.3f rps=%.0f p50_us=%.1f p90_us=%.1f "
			       "p99_us=%.1f p999_us=%.1f req_bytes=%.0f "
			       "rep_bytes=%.0f all=%llu cli_cpu_us=%.1f\n",
			       B.label ? B.label : "", method_names[m],
			       B.inflight, n, (unsigned long long)err, secs,
			       rps, pct_us(all, n, 0.50), pct_us(all, n, 0.90),
			       pct_us(all, n, 0.99), pct_us(all, n, 0.999), rq,
			       rp, (unsigned long long)atomic_load(&B.replies),
			       atomic_load(&B.replies) > 0
			               ? run_cpu_us / (double)atomic_load(
			                                      &B.replies)
			               : 0.0);
		} else {
			printf("%-13s %9zu %7llu %10.0f %9.1f %9.1f %9.1f "
			       "%9.1f %7.0f %7.0f\n",
			       method_names[m], n, (unsigned long long)err,
			       rps, pct_us(all, n, 0.50), pct_us(all, n, 0.90),
			       pct_us(all, n, 0.99), pct_us(all, n, 0.999), rq,
			       rp);
		}
		free(all);
	}
}

/* ---- Options --------------------------------------------------------- */

static const char usage_text[] =
        "usage: loadgen [options] -u URL -r REQUESTS     load offstatd\n"
        "       loadgen [options] -u URL --echo REQ:REP  load the echo "
        "server\n"
        "       loadgen --wait SECONDS -u URL            print when "
        "ServerInfo answers\n"
        "\n"
        "  -u, --url URL          server (tcp://HOST:PORT or ipc:///path)\n"
        "  -r, --requests FILE    request list written by gen_fullsize.py\n"
        "  -m, --mix SPEC         methods and weights, e.g. GetCount=2,"
        "GetSeries=1\n"
        "                         (default: the three methods equally)\n"
        "  -c, --inflight N       requests in flight (default 32)\n"
        "  -d, --duration SECS    timed run length (default 5)\n"
        "  -n, --count N          send N requests instead of a timed run\n"
        "  -W, --warmup SECS      untimed run before a timed one (default "
        "0.5)\n"
        "  -t, --timeout MS       give up on a reply after MS (default "
        "10000)\n"
        "      --echo REQ:REP     echo mode: request and reply sizes in "
        "bytes\n"
        "      --no-check         do not send each request once first\n"
        "      --dump FILE        write the replies of that first pass to "
        "FILE\n"
        "      --kv               key=value lines, one per method\n"
        "      --label TEXT       prefix for --kv lines\n"
        "      --wait SECS        wait for ServerInfo to answer, print "
        "ready_ns\n"
        "  -h, --help             show this help\n";

enum { OPT_ECHO = 256, OPT_NOCHECK, OPT_KV, OPT_LABEL, OPT_WAIT, OPT_DUMP };

static const struct option long_opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"requests", required_argument, NULL, 'r'},
        {"mix", required_argument, NULL, 'm'},
        {"inflight", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'W'},
        {"timeout", required_argument, NULL, 't'},
        {"echo", required_argument, NULL, OPT_ECHO},
        {"no-check", no_argument, NULL, OPT_NOCHECK},
        {"dump", required_argument, NULL, OPT_DUMP},
        {"kv", no_argument, NULL, OPT_KV},
        {"label", required_argument, NULL, OPT_LABEL},
        {"wait", required_argument, NULL, OPT_WAIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

static double
parse_num(const char *s, double lo, double hi, const char *what)
{
	char  *end;
	double v;
	errno = 0;
	v     = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "loadgen: %s '%s' is out of range\n", what, s);
		exit(2);
	}
	return (v);
}

static void
parse_mix(const char *spec)
{
	char  buf[256];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (int m = 0; m < M_N; m++) {
		B.weight[m] = 0;
	}
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok       = strtok_r(NULL, ",", &save)) {
		char  *eq = strchr(tok, '=');
		double w  = 1;
		int    m;
		if (eq != NULL) {
			*eq++ = '\0';
			w     = parse_num(eq, 0, 1e6, "mix weight");
		}
		for (m = 0; m < M_ECHO; m++) {
			if (strcmp(tok, method_names[m]) == 0) {
				break;
			}
		}
		if (m == M_ECHO) {
			fprintf(stderr,
			        "loadgen: unknown method '%s' in --mix\n",
			        tok);
			exit(2);
		}
		B.weight[m] = w;
	}
}

int
main(int argc, char **argv)
{
	double wait = 0;
	int    opt, rv;

	B.inflight        = 32;
	B.seconds         = 5;
	B.warmup          = 0.5;
	B.timeout_ms      = 10000;
	B.check           = true;
	B.weight[M_COUNT] = B.weight[M_SERIES] = B.weight[M_TREND] = 1;
	while ((opt = getopt_long(argc, argv, "u:r:m:c:d:n:W:t:h", long_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'u':
			B.url = optarg;
			break;
		case 'r':
			B.requests = optarg;
			break;
		case 'm':
			parse_mix(optarg);
			break;
		case 'c':
			B.inflight = (int)parse_num(optarg, 1, MAX_SLOTS,
			                            "--inflight");
			break;
		case 'd':
			B.seconds =
			        parse_num(optarg, 0.01, 86400, "--duration");
			break;
		case 'n':
			B.count = (long long)parse_num(optarg, 1, 1e12,
			                               "--count");
			break;
		case 'W':
			B.warmup = parse_num(optarg, 0, 3600, "--warmup");
			break;
		case 't':
			B.timeout_ms = (int)parse_num(optarg, 1, 3600000,
			                              "--timeout");
			break;
		case OPT_ECHO: {
			unsigned long q, p;
			if (sscanf(optarg, "%lu:%lu", &q, &p) != 2 ||
			    q > (1u << 24) || p > (1u << 24)) {
				fprintf(stderr, "loadgen: --echo wants "
				                "REQ:REP bytes\n");
				return (2);
			}
			B.echo     = true;
			B.echo_req = q;
			B.echo_rep = p;
			break;
		}
		case OPT_NOCHECK:
			B.check = false;
			break;
		case OPT_KV:
			B.kv = true;
			break;
		case OPT_DUMP:
			B.dump = optarg;
			break;
		case OPT_LABEL:
			B.label = optarg;
			break;
		case OPT_WAIT:
			wait = parse_num(optarg, 0.001, 3600, "--wait");
			break;
		case 'h':
			fputs(usage_text, stdout);
			return (0);
		default:
			fputs("Try 'loadgen --help'.\n", stderr);
			return (2);
		}
	}
	if (B.url == NULL || optind != argc) {
		fputs("loadgen: give -u URL and no other arguments\nTry "
		      "'loadgen --help'.\n",
		      stderr);
		return (2);
	}
	if (wait > 0) {
		return (wait_ready(B.url, wait));
	}
	if (B.echo) {
		for (int m = 0; m < M_N; m++) {
			B.weight[m] = m == M_ECHO;
		}
		make_echo_request();
	} else if (B.requests == NULL) {
		fputs("loadgen: give -r REQUESTS or --echo REQ:REP\n", stderr);
		return (2);
	} else {
		load_requests(B.requests);
	}
	double sum = 0;
	for (int m = 0; m < M_N; m++) {
		sum += B.nreqs[m] > 0 ? B.weight[m] : 0;
		B.cumw[m] = sum;
	}
	if (sum <= 0) {
		die("%s", "no requests of the methods asked for");
	}

	if ((rv = nng_req0_open(&B.sock)) != 0) {
		die_nng("opening a socket", rv);
	}
	/* No resends: a lost reply is an error to count, and nng 1.5.2's
	 * resend timers cost O(n^2) in the number in flight. */
	nng_socket_set_ms(B.sock, NNG_OPT_REQ_RESENDTIME,
	                  NNG_DURATION_INFINITE);
	nng_socket_set_size(B.sock, NNG_OPT_RECVMAXSZ, MAX_REPLY);
	nng_socket_set_ms(B.sock, NNG_OPT_RECVTIMEO, B.timeout_ms);
	if ((rv = nng_dial(B.sock, B.url, NULL, 0)) != 0) {
		fprintf(stderr, "loadgen: dialling %s: %s\n", B.url,
		        nng_strerror(rv));
		return (1);
	}
	if (B.check && !B.echo) {
		check_requests();
	}

	B.slots = calloc((size_t)B.inflight, sizeof(slot));
	if (B.slots == NULL) {
		die("%s", "out of memory");
	}
	pthread_mutex_init(&B.mtx, NULL);
	pthread_cond_init(&B.cv, NULL);
	B.active = B.inflight;
	atomic_init(&B.remaining, B.count);
	for (int i = 0; i < B.inflight; i++) {
		slot *s = &B.slots[i];
		s->rng  = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
		for (int m = 0; m < M_N; m++) {
			/* Slots start at different requests. */
			s->next[m] =
			        B.nreqs[m] ? (size_t)i * 7919 % B.nreqs[m] : 0;
		}
		if ((rv = nng_aio_alloc(&s->aio, slot_cb, s)) != 0 ||
		    (rv = nng_ctx_open(&s->ctx, B.sock)) != 0) {
			die_nng("starting the slots", rv);
		}
		nng_aio_set_timeout(s->aio, B.timeout_ms);
	}

	/* A count run is timed from the first send; a timed run after its
	 * warm-up. */
	bool timed  = B.count == 0;
	B.rec_start = timed && B.warmup > 0 ? UINT64_MAX : 0;
	atomic_store(&B.recording, !timed || B.warmup == 0);
	uint64_t t0   = now_ns();
	double   cpu0 = cpu_us();
	if (!timed || B.warmup == 0) {
		B.rec_start = t0;
	}
	for (int i = 0; i < B.inflight; i++) {
		slot_next(&B.slots[i]);
	}
	if (timed) {
		if (B.warmup > 0) {
			nng_msleep((nng_duration)(B.warmup * 1e3));
			B.rec_start = now_ns();
			atomic_store(&B.recording, true);
		}
		nng_msleep((nng_duration)(B.seconds * 1e3));
		atomic_store(&B.recording, false);
		atomic_store(&B.stopping, true);
	}
	uint64_t rec_end = now_ns();
	pthread_mutex_lock(&B.mtx);
	while (B.active > 0) {
		pthread_cond_wait(&B.cv, &B.mtx);
	}
	pthread_mutex_unlock(&B.mtx);
	if (!timed) {
		rec_end = atomic_load(&B.last_done);
	}
	run_cpu_us = cpu_us() - cpu0;
	report((double)(rec_end - B.rec_start) / 1e9);

	for (int i = 0; i < B.inflight; i++) {
		nng_aio_free(B.slots[i].aio);
		nng_ctx_close(B.slots[i].ctx);
		for (int m = 0; m < M_N; m++) {
			free(B.slots[i].lat[m].v);
		}
	}
	nng_close(B.sock);
	free(B.slots);
	for (int m = 0; m < M_N; m++) {
		for (size_t i = 0; i < B.nreqs[m]; i++) {
			free(B.reqs[m][i].data);
		}
		free(B.reqs[m]);
	}
	return (0);
}
