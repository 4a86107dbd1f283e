#include "server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "auth.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"
#include "writer.h"

#define DEFAULT_WORKERS 64
#define MAX_WORKERS     4096
#define MAX_LISTENERS   16
/* The listener check's message: random bytes no request can start with
 * by chance (a request is an RpcRequest, whose first byte is a field
 * tag). */
#define PROBE_LEN 32
/* Checks in a row a listener may miss before it is started again. */
#define PROBE_MISSES 2

typedef enum { W_INIT, W_RECV, W_SEND } wstate;

/*
 * One context's state machine. Its callbacks never run at once, so its
 * counters have one writer each; they are atomic for the threads that read
 * them, and kept per worker so that workers on different CPUs do not fight
 * over one cache line for every request.
 */
typedef struct worker {
	server       *srv;
	nng_aio      *aio;
	nng_ctx       ctx;
	wstate        state;
	uint64_t      t0;
	nng_msg      *req;    /* a write waiting for the writer thread */
	bool          probe;  /* the reply being sent answers a check */
	atomic_bool   busy;   /* between receive and sent */
	atomic_ullong served; /* replies sent */
} worker;

/* One listener, and what its check needs to know. */
typedef struct {
	const char  *url;     /* as configured (the caller's string) */
	char         dial[300]; /* where the check dials it */
	nng_listener l;
	bool         tls;
	bool         watched; /* its first check succeeded */
	int          misses;  /* checks missed in a row */
} listen_rec;

struct server {
	nng_socket      sock;
	worker         *workers;
	size_t          nworkers;
	dispatch_opts   dopts;
	atomic_bool     stopping;
	listen_rec      lis[MAX_LISTENERS];
	size_t          nlis;
	nng_tls_config *tls;       /* the listeners' (held for restarts) */
	nng_tls_config *probe_tls; /* the check's client side */
	uint8_t         probe[PROBE_LEN];
	unsigned        check_ms; /* 0: listeners not checked */
	pthread_t       watch;
	bool            watching;
	pthread_mutex_t watch_lock;
	pthread_cond_t  watch_cv;
	bool            watch_stop;
	bool            watch_done;
	atomic_ullong   restarts;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

static void
set_busy(worker *w, bool busy)
{
	atomic_store_explicit(&w->busy, busy, memory_order_release);
}

/* Workers between receive and sent. */
static int
busy_workers(const server *s)
{
	int n = 0;
	for (size_t i = 0; i < s->nworkers; i++) {
		n += atomic_load_explicit(&s->workers[i].busy,
		                          memory_order_acquire);
	}
	return (n);
}

static void
receive(worker *w)
{
	w->state = W_RECV;
	nng_ctx_recv(w->ctx, w->aio);
}

/* Answers the message just received on w and starts sending the reply. */
static void
answer(worker *w, nng_msg *msg)
{
	server       *s = w->srv;
	void         *out;
	size_t        outlen;
	dispatch_info info;
	dispatch_opts o = s->dopts;

	o.unavailable = atomic_load(&s->stopping);
	w->t0         = now_ns();
	/* The listener check: echoed, not dispatched, counted or logged. */
	w->probe = nng_msg_len(msg) == PROBE_LEN &&
	           memcmp(nng_msg_body(msg), s->probe, PROBE_LEN) == 0;
	if (w->probe) {
		nng_aio_set_msg(w->aio, msg);
		w->state = W_SEND;
		nng_ctx_send(w->ctx, w->aio);
		return;
	}
	if (dispatch_request(nng_msg_body(msg), nng_msg_len(msg), &o, &out,
	                     &outlen, &info) != 0) {
		/* Out of memory: dropping the request is all that is left;
		 * the peer's REQ retries or times out. */
		log_error("out of memory answering a request", NULL);
		nng_msg_free(msg);
		set_busy(w, false);
		receive(w);
		return;
	}
	/* Reuse the request's message for the reply: the REP protocol
	 * keeps its routing header; append, never insert (nng 1.5.2). */
	nng_msg_clear(msg);
	if (nng_msg_append(msg, out, outlen) != 0) {
		free(out);
		nng_msg_free(msg);
		set_busy(w, false);
		receive(w);
		return;
	}
	free(out);
	metrics_request(info.method, info.code, now_ns() - w->t0);
	if (info.auth_failed) {
		/* Never the token itself: only that one was refused, and
		 * at most a few lines a second whatever a client sends. */
		auth_log_refused(s->dopts.auth, info.method, info.request_id);
	} else if (info.code != OFFSTAT__V1__CODE__OK) {
		log_info("request failed",
		         "method=%s code=%s request_id=\"%s\"", info.method,
		         dispatch_code_name(info.code), info.request_id);
	} else {
		log_debug("request", "method=%s request_id=\"%s\" us=%llu",
		          info.method, info.request_id,
		          (unsigned long long)((now_ns() - w->t0) / 1000));
	}
	nng_aio_set_msg(w->aio, msg);
	w->state = W_SEND;
	nng_ctx_send(w->ctx, w->aio);
}

/* Runs on the writer thread: a write answered in arrival order. */
static void
answer_write(void *arg)
{
	worker  *w   = arg;
	nng_msg *msg = w->req;

	w->req = NULL;
	answer(w, msg);
}

static void
worker_cb(void *arg)
{
	worker            *w = arg;
	int                rv;
	unsigned long long n;

	switch (w->state) {
	case W_INIT:
		receive(w);
		break;
	case W_RECV:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				return; /* shutting down */
			}
			/* Oversize or broken transfers end up here; the
			 * worker keeps serving. */
			log_warn("receive failed", "error=\"%s\"",
			         nng_strerror(rv));
			receive(w);
			break;
		}
		set_busy(w, true);
		nng_msg *msg = nng_aio_get_msg(w->aio);
		/* Writes wait for disk syncs and snapshot loads: they go to
		 * the writer thread, so this callback thread stays free. */
		if (writer_wants(nng_msg_body(msg), nng_msg_len(msg))) {
			w->req = msg;
			if (writer_submit(answer_write, w) == 0) {
				break;
			}
			w->req = NULL;
		}
		answer(w, msg);
		break;
	case W_SEND:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			/* The peer went away: the reply has nowhere to go. */
			nng_msg_free(nng_aio_get_msg(w->aio));
		}
		/* This worker's own counter: no read-modify-write needed. */
		if (!w->probe) {
			n = atomic_load_explicit(&w->served,
			                         memory_order_relaxed);
			atomic_store_explicit(&w->served, n + 1,
			                      memory_order_relaxed);
		}
		set_busy(w, false);
		if (rv == NNG_ECLOSED) {
			return;
		}
		receive(w);
		break;
	}
}

/*
 * Starts the listener of r (again, after a failed check). A TLS one gets
 * the server's certificate and key, and the client CA when clients must
 * present certificates; the configuration is built at the first TLS
 * listener and shared by the rest.
 */
static int
listen_on(server *s, const server_opts *opts, listen_rec *r, char *err,
          size_t errlen)
{
	nng_listener l;
	int          rv;

	if ((rv = nng_listener_create(&l, s->sock, r->url)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", r->url,
		         nng_strerror(rv));
		return (rv);
	}
	if (r->tls) {
		tls_files f = {.cert      = opts->tls_cert,
		               .key       = opts->tls_key,
		               .key_pass  = opts->tls_key_pass,
		               .client_ca = opts->tls_client_ca};
		if (s->tls == NULL &&
		    tls_server_config(&s->tls, &s->probe_tls, &f, err,
		                      errlen) != 0) {
			nng_listener_close(l);
			return (NNG_EINVAL);
		}
		if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG,
		                               s->tls)) != 0) {
			snprintf(err, errlen, "TLS on %s: %s", r->url,
			         nng_strerror(rv));
			nng_listener_close(l);
			return (rv);
		}
	}
	if ((rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", r->url,
		         nng_strerror(rv));
		nng_listener_close(l);
		return (rv);
	}
	r->l = l;
	return (0);
}

/*
 * Where the check reaches a listener from inside: an address bound to
 * every interface is dialled on loopback.
 */
static void
dial_address(listen_rec *r)
{
	const char *u = r->url;
	const char *host;
	size_t      pre;

	snprintf(r->dial, sizeof(r->dial), "%s", u);
	if ((host = strstr(u, "://")) == NULL) {
		return;
	}
	host += 3;
	pre = (size_t)(host - u);
	if (strncmp(host, "0.0.0.0:", 8) == 0 || strncmp(host, "*:", 2) == 0 ||
	    host[0] == ':') {
		const char *port = strchr(host, ':');
		snprintf(r->dial, sizeof(r->dial), "%.*s127.0.0.1%s", (int)pre,
		         u, port);
	} else if (strncmp(host, "[::]:", 5) == 0) {
		snprintf(r->dial, sizeof(r->dial), "%.*s[::1]%s", (int)pre, u,
		         host + 4);
	}
}

/*
 * One check of a listener: a new connection through it, a message with
 * the process's random bytes, and the same bytes back within timeout_ms.
 * nng 1.5.2 can stop handing a listener's new connections to the socket
 * after a peer leaves during the handshake (nng issue 1518, fixed in
 * 1.6.0): connections are still taken and handshaken, but never read.
 * Only a message through a new connection shows it.
 */
static bool
probe_once(server *s, const listen_rec *r, int timeout_ms)
{
	nng_socket sock;
	nng_dialer d;
	void      *reply = NULL;
	size_t     len   = 0;
	bool       ok    = false;

	if (nng_req0_open(&sock) != 0) {
		return (true); /* out of resources: not the listener's fault */
	}
	if (nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 4096) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, timeout_ms) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME,
	                      NNG_DURATION_INFINITE) != 0 ||
	    nng_dialer_create(&d, sock, r->dial) != 0 ||
	    (r->tls && s->probe_tls != NULL &&
	     nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, s->probe_tls) != 0) ||
	    nng_dialer_start(d, NNG_FLAG_NONBLOCK) != 0) {
		nng_close(sock);
		return (true);
	}
	/* The send waits for the connection, within the timeout. */
	if (nng_send(sock, s->probe, PROBE_LEN, 0) == 0 &&
	    nng_recv(sock, &reply, &len, NNG_FLAG_ALLOC) == 0) {
		ok = len == PROBE_LEN && memcmp(reply, s->probe, len) == 0;
		nng_free(reply, len);
	}
	nng_close(sock);
	return (ok);
}

/* Waits ms unless the server stops first; false when it stops. */
static bool
watch_sleep(server *s, unsigned ms)
{
	struct timespec t;
	bool            stop;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->watch_lock);
	while (!s->watch_stop &&
	       pthread_cond_timedwait(&s->watch_cv, &s->watch_lock, &t) == 0) {
	}
	stop = s->watch_stop;
	pthread_mutex_unlock(&s->watch_lock);
	return (!stop);
}

/*
 * The listener check: every check_ms, each listener that answered its
 * first check is checked again; one that misses PROBE_MISSES checks in a
 * row is closed and started again on the same address (its connections
 * close too, and clients reconnect and resend).
 */
static void *
watch_thread(void *arg)
{
	server    *s       = arg;
	int        timeout = (int)(s->check_ms < 5000 ? s->check_ms : 5000);
	server_opts opts   = {0};

	/* Every listener is checked, from the start (the fault can strike
	 * as the first clients arrive), but for one that requires client
	 * certificates its client CA did not sign the server's own, which
	 * the check presents. */
	for (size_t i = 0; i < s->nlis; i++) {
		listen_rec *r = &s->lis[i];
		r->watched    = !r->tls || s->probe_tls != NULL;
		if (!r->watched) {
			log_warn("listener not checked",
			         "url=%s reason=\"the client CA did not sign "
			         "the server's own certificate, which the check "
			         "presents\"",
			         r->url);
		}
	}
	while (watch_sleep(s, s->check_ms)) {
		for (size_t i = 0; i < s->nlis; i++) {
			listen_rec *r = &s->lis[i];
			char        err[512];

			if (!r->watched || atomic_load(&s->stopping)) {
				continue;
			}
			if (probe_once(s, r, timeout)) {
				r->misses = 0;
				continue;
			}
			if (++r->misses < PROBE_MISSES) {
				continue;
			}
			log_warn("listener stopped serving new connections; "
			         "starting it again",
			         "url=%s misses=%d", r->url, r->misses);
			nng_listener_close(r->l);
			/* The TLS configuration is built already. */
			if (listen_on(s, &opts, r, err, sizeof(err)) != 0) {
				log_error("listener could not start again",
				          "url=%s error=\"%s\"", r->url, err);
				continue;
			}
			r->misses = 0;
			atomic_fetch_add(&s->restarts, 1);
			log_info("listening", "url=%s restarted=1", r->url);
		}
	}
	pthread_mutex_lock(&s->watch_lock);
	s->watch_done = true;
	pthread_cond_broadcast(&s->watch_cv);
	pthread_mutex_unlock(&s->watch_lock);
	return (NULL);
}

int
server_start(server **out, const server_opts *opts, char *err, size_t errlen)
{
	server *s;
	int     rv;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NNG_ENOMEM);
	}
	pthread_mutex_init(&s->watch_lock, NULL);
	pthread_cond_init(&s->watch_cv, NULL);
	atomic_init(&s->restarts, 0);
	s->dopts.max_request      = opts->max_request ? opts->max_request
	                                              : RPC_DEFAULT_MAX_REQUEST;
	s->dopts.auth             = opts->auth;
	s->dopts.reads_need_token = opts->reads_need_token;
	s->dopts.reply_cache      = opts->reply_cache;
	s->nworkers = opts->workers ? opts->workers : DEFAULT_WORKERS;
	if (s->nworkers > MAX_WORKERS) {
		s->nworkers = MAX_WORKERS;
	}
	atomic_init(&s->stopping, false);
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		snprintf(err, errlen, "opening the socket: %s",
		         nng_strerror(rv));
		free(s);
		return (rv);
	}
	/*
	 * nng 1.5.2 allocates whatever length a peer announces unless told
	 * otherwise. Messages up to twice the request limit are still taken
	 * in, so that an oversize request gets a RESOURCE_EXHAUSTED reply;
	 * beyond that the transport drops the connection.
	 */
	size_t hard = s->dopts.max_request * 2 + 4096;
	if ((rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, hard)) !=
	    0) {
		snprintf(err, errlen, "setting the size limit: %s",
		         nng_strerror(rv));
		goto fail;
	}
	if ((s->workers = calloc(s->nworkers, sizeof(worker))) == NULL) {
		rv = NNG_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < s->nworkers; i++) {
		worker *w = &s->workers[i];
		w->srv    = s;
		w->state  = W_INIT;
		atomic_init(&w->busy, false);
		atomic_init(&w->served, 0);
		if ((rv = nng_aio_alloc(&w->aio, worker_cb, w)) != 0 ||
		    (rv = nng_ctx_open(&w->ctx, s->sock)) != 0) {
			snprintf(err, errlen, "starting workers: %s",
			         nng_strerror(rv));
			goto fail;
		}
	}
	if (opts->nurls > MAX_LISTENERS) {
		rv = NNG_EINVAL;
		snprintf(err, errlen, "at most %d listeners", MAX_LISTENERS);
		goto fail;
	}
	for (size_t i = 0; i < opts->nurls; i++) {
		listen_rec *r = &s->lis[s->nlis];
		r->url        = opts->urls[i];
		r->tls        = tls_url(r->url);
		dial_address(r);
		if ((rv = listen_on(s, opts, r, err, errlen)) != 0) {
			goto fail;
		}
		s->nlis++;
		if (r->tls) {
			log_info("listening",
			         "url=%s tls=on client_certificates=%s", r->url,
			         opts->tls_client_ca ? "required" : "no");
		} else {
			log_info("listening", "url=%s", r->url);
		}
	}
	for (size_t i = 0; i < s->nworkers; i++) {
		worker_cb(&s->workers[i]);
	}
	s->check_ms = opts->check_ms;
	if (s->check_ms > 0 && s->nlis > 0) {
		if (getrandom(s->probe, PROBE_LEN, 0) != PROBE_LEN) {
			log_warn("listeners not checked",
			         "reason=\"no random bytes for the check\"");
		} else if (pthread_create(&s->watch, NULL, watch_thread, s) ==
		           0) {
			s->watching = true;
		}
	}
	*out = s;
	return (0);
fail:
	if (s->tls != NULL) {
		nng_tls_config_free(s->tls);
	}
	if (s->probe_tls != NULL) {
		nng_tls_config_free(s->probe_tls);
	}
	nng_close(s->sock);
	for (size_t i = 0; s->workers != NULL && i < s->nworkers; i++) {
		if (s->workers[i].aio != NULL) {
			nng_aio_free(s->workers[i].aio);
		}
	}
	free(s->workers);
	free(s);
	return (rv);
}

/* A server whose socket never finished closing; see server_stop. */
static server *abandoned;

typedef struct {
	nng_socket      sock;
	pthread_mutex_t lock;
	pthread_cond_t  cv;
	bool            done;
} closer;

static void *
close_thread(void *arg)
{
	closer *c = arg;
	nng_close(c->sock);
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->lock);
	return (NULL);
}

/* Closes the socket, waiting at most ms; false when it did not finish. */
static bool
close_bounded(server *s, int ms)
{
	static closer   c; /* outlives a close that never returns */
	pthread_t       t;
	struct timespec deadline;
	bool            done;

	c.sock = s->sock;
	c.done = false;
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cv, NULL);
	if (pthread_create(&t, NULL, close_thread, &c) != 0) {
		nng_close(s->sock);
		return (true);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c.lock);
	while (!c.done &&
	       pthread_cond_timedwait(&c.cv, &c.lock, &deadline) == 0) {
	}
	done = c.done;
	pthread_mutex_unlock(&c.lock);
	if (done) {
		pthread_join(t, NULL);
	} else {
		pthread_detach(t);
	}
	return (done);
}

/* Stops the listener check, waiting at most 10 s (a check is bounded by
 * its timeouts, a listener's restart by nng); false when it did not end. */
static bool
stop_watch(server *s)
{
	struct timespec t;
	bool            done;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 10;
	pthread_mutex_lock(&s->watch_lock);
	s->watch_stop = true;
	pthread_cond_broadcast(&s->watch_cv);
	while (!s->watch_done &&
	       pthread_cond_timedwait(&s->watch_cv, &s->watch_lock, &t) == 0) {
	}
	done = s->watch_done;
	pthread_mutex_unlock(&s->watch_lock);
	if (done) {
		pthread_join(s->watch, NULL);
	} else {
		pthread_detach(s->watch);
	}
	s->watching = false;
	return (done);
}

void
server_stop(server *s, int timeout_ms)
{
	if (s == NULL) {
		return;
	}
	atomic_store(&s->stopping, true);
	if (s->watching && !stop_watch(s)) {
		/* A check stuck inside nng: the socket still closes, but
		 * the server stays allocated for the thread that uses it. */
		log_warn("the listener check did not stop; exiting without "
		         "waiting for it",
		         "waited_ms=%d", 10000);
		nng_close(s->sock);
		abandoned = s;
		return;
	}
	/* Requests already being answered get their replies out. */
	for (int waited = 0; busy_workers(s) > 0 && waited < timeout_ms;
	     waited += 5) {
		nng_msleep(5);
	}
	int busy = busy_workers(s);
	if (busy > 0) {
		log_warn("stopping with requests still in flight", "count=%d",
		         busy);
	}
	/* Closing the socket aborts every receive and send; the callbacks
	 * see NNG_ECLOSED and stop re-arming. nng 1.5.2's close can wait for
	 * ever on a task that was prepared but never started (nng issue
	 * #1543, seen here under load), so it runs on its own thread and the
	 * service exits without it after a bounded wait: nothing is in flight
	 * by then and the store is closed by the caller either way. */
	if (!close_bounded(s, 3000)) {
		log_warn("nng did not finish closing the socket; exiting "
		         "without waiting for it",
		         NULL);
		/* Kept reachable: callbacks may still touch the workers. */
		abandoned = s;
		return;
	}
	for (size_t i = 0; i < s->nworkers; i++) {
		nng_aio_free(s->workers[i].aio);
	}
	if (s->tls != NULL) {
		nng_tls_config_free(s->tls);
	}
	if (s->probe_tls != NULL) {
		nng_tls_config_free(s->probe_tls);
	}
	pthread_cond_destroy(&s->watch_cv);
	pthread_mutex_destroy(&s->watch_lock);
	free(s->workers);
	free(s);
}

unsigned long long
server_served(const server *s)
{
	unsigned long long n = 0;
	for (size_t i = 0; i < s->nworkers; i++) {
		n += atomic_load_explicit(&s->workers[i].served,
		                          memory_order_relaxed);
	}
	return (n);
}

unsigned long long
server_in_flight(const server *s)
{
	return ((unsigned long long)busy_workers(s));
}

unsigned long long
server_listener_restarts(const server *s)
{
	return (atomic_load((atomic_ullong *)&s->restarts));
}
