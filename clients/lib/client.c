#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "client.h"

#define METHOD_PREFIX "offstat.v1.OffenceStats/"

/* One address of the service. */
typedef struct dial_slot {
	char           *url;
	nng_dialer      d;
	nng_tls_config *tls;
} dial_slot;

struct offstat_client {
	nng_socket           sock;
	char                *url;
	pthread_mutex_t      mtx;        /* Guards token and timeout_ms. */
	char                *token;      /* NULL: no credentials. */
	int                  timeout_ms; /* 0: no limit. */
	atomic_int           pipes;      /* Connections up now. */
	atomic_uint_fast64_t next_id;
	dial_slot           *slots;
	size_t               nslots;
};

/* Keeps count of live connections, so that a timeout can say whether the
 * service went away or is just slow. Runs on an nng thread. nng runs
 * REM_POST for every pipe that saw ADD_PRE (not only ADD_POST), so those
 * two are the pair that keeps the count exact. */
static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	offstat_client *c = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		atomic_fetch_add(&c->pipes, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&c->pipes, 1);
	}
}

static int
dial_error(int rv)
{
	switch (rv) {
	case NNG_ENOMEM:
		return (OFFSTAT_ENOMEM);
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_EINVAL:
		return (OFFSTAT_EADDRINVAL);
	case NNG_ECONNREFUSED:
	case NNG_ENOENT: /* An ipc:// path with nothing behind it. */
	case NNG_EUNREACHABLE:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		return (OFFSTAT_ECONNREFUSED);
	case NNG_ETIMEDOUT:
		return (OFFSTAT_ETIMEDOUT);
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO:
		return (OFFSTAT_ETLS);
	default:
		return (OFFSTAT_ETRANSPORT);
	}
}

/* Splits a list of addresses into slots. */
static int
split_urls(offstat_client *c, const char *list)
{
	const char *p = list;

	while (*p != '\0') {
		size_t k = strcspn(p, ", \t\n");
		if (k > 0) {
			if (c->nslots == OFFSTAT_MAX_URLS) {
				return (OFFSTAT_EADDRINVAL);
			}
			if ((c->slots[c->nslots].url = strndup(p, k)) ==
			    NULL) {
				return (OFFSTAT_ENOMEM);
			}
			c->nslots++;
		}
		p += k;
		p += strspn(p, ", \t\n");
	}
	return (c->nslots > 0 ? OFFSTAT_OK : OFFSTAT_EADDRINVAL);
}

/* The statistics of dialer id: nng 1.5.2's nng_stat_find_dialer returns
 * the first dialer's whatever the id, so the tree is searched here. */
static nng_stat *
find_dialer(nng_stat *s, int id)
{
	for (; s != NULL; s = nng_stat_next(s)) {
		nng_stat *found;
		if (strcmp(nng_stat_name(s), "dialer") == 0) {
			nng_stat *sid = nng_stat_find(s, "id");
			if (sid != NULL && (int)nng_stat_value(sid) == id) {
				return (s);
			}
		}
		if ((found = find_dialer(nng_stat_child(s), id)) != NULL) {
			return (found);
		}
	}
	return (NULL);
}

/*
 * How the attempts on one address have failed so far, from nng's dialer
 * statistics: 0 while none has, else the offstat_err that says why. nng
 * dials in the background and keeps no error to ask for; its counters of
 * refused, timed-out, refused-by-TLS and other failed connections are the
 * way to tell "nothing listens" from "still trying".
 */
static int
slot_failure(nng_stat *root, const dial_slot *sl)
{
	static const struct {
		const char *name;
		int         err;
	} kinds[] = {
	        {"auth", OFFSTAT_ETLS},      {"refused", OFFSTAT_ECONNREFUSED},
	        {"timeout", OFFSTAT_ETIMEDOUT}, {"proto", OFFSTAT_ETRANSPORT},
	        {"disconnect", OFFSTAT_ECONNREFUSED},
	        {"other", OFFSTAT_ECONNREFUSED},
	};
	nng_stat *ds  = find_dialer(root, nng_dialer_id(sl->d));
	bool      tls = sl->tls != NULL;

	if (ds == NULL) {
		return (0);
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		nng_stat *st = nng_stat_find(ds, kinds[i].name);
		if (st != NULL && nng_stat_value(st) > 0) {
			/* A TLS peer that drops the connection in the
			 * handshake has refused this client's certificate
			 * (or its lack of one). */
			if (tls && (kinds[i].err == OFFSTAT_ECONNREFUSED ||
			            kinds[i].err == OFFSTAT_ETRANSPORT) &&
			    strcmp(kinds[i].name, "refused") != 0) {
				return (OFFSTAT_ETLS);
			}
			return (kinds[i].err);
		}
	}
	return (0);
}

/*
 * Waits until a connection is up (OFFSTAT_OK), every address has failed
 * at least once (the first address's reason), or ms have passed
 * (OFFSTAT_ETIMEDOUT). The dialers keep trying in the background either
 * way; only the first answer is waited for here.
 */
static int
wait_first(offstat_client *c, int ms)
{
	nng_time deadline = nng_clock() + (nng_time)ms;
	int      pause    = 2;

	for (;;) {
		nng_stat *root;
		int       why = 0;
		size_t    failed = 0;

		if (atomic_load(&c->pipes) > 0) {
			return (OFFSTAT_OK);
		}
		if (nng_stats_get(&root) == 0) {
			for (size_t i = 0; i < c->nslots; i++) {
				int f = slot_failure(root, &c->slots[i]);
				if (f != 0) {
					why = why ? why : f;
					failed++;
				}
			}
			nng_stats_free(root);
			/* A connection may have come up meanwhile. */
			if (failed == c->nslots && atomic_load(&c->pipes) == 0) {
				return (why);
			}
		}
		if (nng_clock() >= deadline) {
			return (OFFSTAT_ETIMEDOUT);
		}
		nng_msleep(pause);
		pause = pause < 20 ? pause * 2 : 20;
	}
}

/* Closes the socket (and its dialers) and frees everything. */
static void
client_free(offstat_client *c, bool opened)
{
	if (opened) {
		nng_close(c->sock);
	}
	for (size_t i = 0; i < c->nslots; i++) {
		if (c->slots[i].tls != NULL) {
			nng_tls_config_free(c->slots[i].tls);
		}
		free(c->slots[i].url);
	}
	free(c->slots);
	pthread_mutex_destroy(&c->mtx);
	free(c->token);
	free(c->url);
	free(c);
}

int
offstat_client_open(offstat_client **out, const char *url)
{
	offstat_client_opts o = OFFSTAT_CLIENT_OPTS_INIT;

	o.url = url;
	return (offstat_client_open_opts(out, &o));
}

int
offstat_client_open_opts(offstat_client **out, const offstat_client_opts *o)
{
	offstat_client *c;
	const char     *url;
	bool            tls_asked, any_tls = false;
	int             rv, ms;

	if (out == NULL || o == NULL || o->connect_timeout_ms < 0) {
		return (OFFSTAT_EINVAL);
	}
	url       = o->url != NULL ? o->url : OFFSTAT_DEFAULT_URL;
	ms        = o->connect_timeout_ms ? o->connect_timeout_ms
	                                  : OFFSTAT_DEFAULT_TIMEOUT_MS;
	tls_asked = o->tls_ca != NULL || o->tls_cert != NULL ||
	            o->tls_key != NULL || o->tls_server_name != NULL;
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		return (OFFSTAT_EINVAL);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		free(c);
		return (OFFSTAT_ENOMEM);
	}
	c->timeout_ms = OFFSTAT_DEFAULT_TIMEOUT_MS;
	atomic_init(&c->pipes, 0);
	atomic_init(&c->next_id, 1);
	if ((c->url = strdup(url)) == NULL ||
	    (c->slots = calloc(OFFSTAT_MAX_URLS, sizeof(dial_slot))) ==
	            NULL) {
		client_free(c, false);
		return (OFFSTAT_ENOMEM);
	}
	if ((rv = split_urls(c, url)) != OFFSTAT_OK) {
		client_free(c, false);
		return (rv);
	}
	for (size_t i = 0; i < c->nslots; i++) {
		any_tls = any_tls || strncmp(c->slots[i].url, "tls+", 4) == 0;
	}
	if (tls_asked && !any_tls) {
		client_free(c, false);
		return (OFFSTAT_EINVAL);
	}

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		client_free(c, false);
		return (rv == NNG_ENOMEM ? OFFSTAT_ENOMEM : OFFSTAT_ETRANSPORT);
	}
	/* nng 1.5.2 would otherwise allocate whatever size a peer
	 * announces. Set before dialing: dialers copy it. */
	if ((rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	                              OFFSTAT_MAX_REPLY_SIZE)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 100)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 2000)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, pipe_event,
	                          c)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event,
	                          c)) != 0) {
		client_free(c, true);
		return (rv == NNG_ENOMEM ? OFFSTAT_ENOMEM : OFFSTAT_ETRANSPORT);
	}
	/* Every address is checked before any is dialled. */
	for (size_t i = 0; i < c->nslots; i++) {
		dial_slot *sl = &c->slots[i];
		if ((rv = nng_dialer_create(&sl->d, c->sock, sl->url)) != 0) {
			client_free(c, true);
			return (dial_error(rv));
		}
		if (strncmp(sl->url, "tls+", 4) == 0 &&
		    (rv = offstat__tls_client(&sl->tls, sl->url, o)) != 0) {
			client_free(c, true);
			return (rv);
		}
		if (sl->tls != NULL &&
		    nng_dialer_set_ptr(sl->d, NNG_OPT_TLS_CONFIG, sl->tls) !=
		            0) {
			client_free(c, true);
			return (OFFSTAT_ETRANSPORT);
		}
	}
	/* Every address is dialled at once, in the background: a blocking
	 * start would wait on an address that never answers, and nng 1.5.2
	 * can hang closing a socket while one is in progress. */
	for (size_t i = 0; i < c->nslots; i++) {
		if ((rv = nng_dialer_start(c->slots[i].d,
		                           NNG_FLAG_NONBLOCK)) != 0) {
			client_free(c, true);
			return (dial_error(rv));
		}
	}
	if ((rv = wait_first(c, ms)) != OFFSTAT_OK) {
		client_free(c, true);
		return (rv);
	}
	*out = c;
	return (OFFSTAT_OK);
}

void
offstat_client_close(offstat_client *c)
{
	if (c == NULL) {
		return;
	}
	client_free(c, true);
}

int
offstat_client_set_timeout(offstat_client *c, int ms)
{
	if (c == NULL || ms < 0) {
		return (OFFSTAT_EINVAL);
	}
	pthread_mutex_lock(&c->mtx);
	c->timeout_ms = ms;
	pthread_mutex_unlock(&c->mtx);
	return (OFFSTAT_OK);
}

int
offstat_client_set_token(offstat_client *c, const char *token)
{
	char *copy = NULL;

	if (c == NULL) {
		return (OFFSTAT_EINVAL);
	}
	if (token != NULL && token[0] != '\0') {
		/* A header value with a line break in it would let a token
		 * forge metadata in logs; refuse all control characters. */
		for (const unsigned char *p = (const unsigned char *)token;
		     *p != '\0'; p++) {
			if (*p < 0x20 || *p == 0x7f) {
				return (OFFSTAT_EINVAL);
			}
		}
		if ((copy = strdup(token)) == NULL) {
			return (OFFSTAT_ENOMEM);
		}
	}
	pthread_mutex_lock(&c->mtx);
	free(c->token);
	c->token = copy;
	pthread_mutex_unlock(&c->mtx);
	return (OFFSTAT_OK);
}

const char *
offstat_client_url(const offstat_client *c)
{
	return (c != NULL ? c->url : NULL);
}

/* Translates a failed send or receive; the status says what happened. */
static int
exchange_error(offstat_client *c, offstat_status *st, int rv, int timeout)
{
	switch (rv) {
	case NNG_ENOMEM:
		return (offstat__status_local(st, OFFSTAT_ENOMEM,
		                              "out of memory while calling %s",
		                              c->url));
	case NNG_ETIMEDOUT:
		if (atomic_load(&c->pipes) <= 0) {
			return (offstat__status_local(
			        st, OFFSTAT_ECONNLOST,
			        "not connected to the service at %s (it went "
			        "away or is restarting)",
			        c->url));
		}
		return (offstat__status_local(st, OFFSTAT_ETIMEDOUT,
		                              "no reply from %s within %d ms",
		                              c->url, timeout));
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		return (offstat__status_local(
		        st, OFFSTAT_ECONNLOST,
		        "connection to %s lost during the call", c->url));
	default:
		return (offstat__status_local(
		        st, OFFSTAT_ETRANSPORT,
		        "transport failure talking to %s (%s)", c->url,
		        nng_strerror(rv)));
	}
}

/* Maps a status code the service sent to an offstat_err value. */
static int
server_error(Offstat__V1__Code code)
{
	if (code >= 1 && code <= 16) {
		return (OFFSTAT_SERVER_ERR_BASE + (int)code);
	}
	return (OFFSTAT_EUNKNOWN);
}

/* Packs msg into a new buffer; NULL when memory runs out. */
static uint8_t *
pack(const ProtobufCMessage *msg, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(msg);
	if ((buf = malloc(*len > 0 ? *len : 1)) == NULL) {
		return (NULL);
	}
	protobuf_c_message_pack(msg, buf);
	return (buf);
}

/* Builds the request envelope as an nng message. */
static int
build_request(offstat_client *c, nng_msg **out, const char *method,
              const ProtobufCMessage *req, const char *request_id, int timeout,
              offstat_status *st)
{
	Offstat__V1__RpcRequest env  = OFFSTAT__V1__RPC_REQUEST__INIT;
	Offstat__V1__Metadata   auth = OFFSTAT__V1__METADATA__INIT;
	Offstat__V1__Metadata  *md[1];
	char                    name[128];
	char                   *bearer  = NULL;
	uint8_t                *payload = NULL;
	uint8_t                *wire    = NULL;
	size_t                  len;
	nng_msg                *msg = NULL;
	int                     rv  = OFFSTAT_ENOMEM;

	snprintf(name, sizeof(name), METHOD_PREFIX "%s", method);
	if ((payload = pack(req, &len)) == NULL) {
		goto cleanup;
	}
	env.method       = name;
	env.payload.data = payload;
	env.payload.len  = len;
	env.request_id   = (char *)request_id;
	env.timeout_ms   = (uint32_t)timeout;

	pthread_mutex_lock(&c->mtx);
	if (c->token != NULL) {
		size_t n = strlen("Bearer ") + strlen(c->token) + 1;
		if ((bearer = malloc(n)) != NULL) {
			snprintf(bearer, n, "Bearer %s", c->token);
		}
	}
	pthread_mutex_unlock(&c->mtx);
	if (bearer != NULL) {
		auth.key       = "authorization";
		auth.value     = bearer;
		md[0]          = &auth;
		env.metadata   = md;
		env.n_metadata = 1;
	}

	if ((wire = pack(&env.base, &len)) == NULL) {
		goto cleanup;
	}
	/* Append, never insert: nng_msg_insert can corrupt the heap in
	 * nng 1.5.2. */
	if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, wire, len)) {
		goto cleanup;
	}
	*out = msg;
	msg  = NULL;
	rv   = OFFSTAT_OK;

cleanup:
	if (msg != NULL) {
		nng_msg_free(msg);
	}
	free(wire);
	free(bearer);
	free(payload);
	if (rv != OFFSTAT_OK) {
		offstat__status_local(st, rv,
		                      "out of memory building the "
		                      "request");
	}
	return (rv);
}

/* One REQ exchange on its own context. The receive starts only after the
 * send completed (nng issue #1702). */
static int
exchange(offstat_client *c, nng_msg *req, nng_msg **reply, int timeout,
         int shown, offstat_status *st)
{
	nng_ctx  ctx;
	nng_aio *aio = NULL;
	nng_time deadline;
	int      rv;

	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_msg_free(req);
		return (exchange_error(c, st, rv, shown));
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(req);
		nng_ctx_close(ctx);
		return (exchange_error(c, st, rv, shown));
	}
	deadline = nng_clock() + (nng_time)timeout;

	nng_aio_set_timeout(aio,
	                    timeout > 0 ? timeout : NNG_DURATION_INFINITE);
	nng_aio_set_msg(aio, req);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		/* A failed send leaves the message with us. */
		if (nng_aio_get_msg(aio) != NULL) {
			nng_msg_free(nng_aio_get_msg(aio));
		}
		goto done;
	}

	if (timeout > 0) {
		nng_time now = nng_clock();
		nng_aio_set_timeout(
		        aio,
		        now < deadline ? (nng_duration)(deadline - now) : 1);
	}
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) == 0) {
		*reply = nng_aio_get_msg(aio);
	}

done:
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return (rv != 0 ? exchange_error(c, st, rv, shown) : OFFSTAT_OK);
}

/* Decodes the reply envelope and its payload and hands the payload to
 * convert. Every unpack is freed here. */
static int
decode_reply(offstat_client *c, nng_msg *reply, const char *request_id,
             const ProtobufCMessageDescriptor *reply_desc,
             offstat__convert_fn convert, void *arg, offstat_status *st)
{
	Offstat__V1__RpcResponse *env;
	ProtobufCMessage         *msg;
	int                       rv;

	env = offstat__v1__rpc_response__unpack(NULL, nng_msg_len(reply),
	                                        nng_msg_body(reply));
	if (env == NULL) {
		return (offstat__status_local(
		        st, OFFSTAT_EPROTO,
		        "the reply from %s is not an offstat RpcResponse",
		        c->url));
	}
	if (env->request_id[0] != '\0' &&
	    strcmp(env->request_id, request_id) != 0) {
		rv = offstat__status_local(
		        st, OFFSTAT_EPROTO,
		        "the reply from %s answers request '%s', not '%s'",
		        c->url, env->request_id, request_id);
		goto cleanup;
	}
	if (env->status != NULL &&
	    env->status->code != OFFSTAT__V1__CODE__OK) {
		rv = offstat__status_server(
		        st, server_error(env->status->code), env->status);
		goto cleanup;
	}
	msg = protobuf_c_message_unpack(reply_desc, NULL, env->payload.len,
	                                env->payload.data);
	if (msg == NULL) {
		rv = offstat__status_local(
		        st, OFFSTAT_EPROTO,
		        "the reply from %s does not decode as %s", c->url,
		        reply_desc->name);
		goto cleanup;
	}
	if ((rv = convert(msg, arg)) != OFFSTAT_OK) {
		offstat__status_local(st, rv, "%s", offstat_strerror(rv));
	}
	protobuf_c_message_free_unpacked(msg, NULL);

cleanup:
	offstat__v1__rpc_response__free_unpacked(env, NULL);
	return (rv);
}

/* A failure that another try (on another connection) may not meet:
 * what exchange_error makes of a broken connection, and a replica that is
 * stopping. */
static bool
retriable(int rv)
{
	return (rv == OFFSTAT_ECONNLOST || rv == OFFSTAT_ETRANSPORT ||
	        rv == OFFSTAT_EUNAVAILABLE);
}

int
offstat__call(offstat_client *c, const char *method,
              const ProtobufCMessage           *req,
              const ProtobufCMessageDescriptor *reply_desc,
              offstat__convert_fn convert, void *arg, offstat_status *st)
{
	char     request_id[48];
	nng_msg *reply = NULL;
	nng_time deadline;
	int      timeout, left;
	int      rv = OFFSTAT_ETIMEDOUT;
	/* Reads change nothing, so they may be sent again; Ingest is
	 * retried by its callers, with its idempotency key. */
	bool write = strcmp(method, "Ingest") == 0;
	int  tries = write ? 1 : (int)c->nslots + 2;

	/* Each replica keeps its own database, and a release lives in the
	 * one it was opened on: the batches of an ingest spread over
	 * replicas would land in others. */
	if (write && c->nslots > 1) {
		offstat__status_reset(st);
		return (offstat__status_local(
		        st, OFFSTAT_EINVAL,
		        "an ingest writes to one replica's database: open the "
		        "client with that replica's address alone (%s lists %zu)",
		        c->url, c->nslots));
	}

	pthread_mutex_lock(&c->mtx);
	timeout = c->timeout_ms;
	pthread_mutex_unlock(&c->mtx);
	deadline = nng_clock() + (nng_time)timeout;

	snprintf(request_id, sizeof(request_id), "%ld-%" PRIuFAST64,
	         (long)getpid(), atomic_fetch_add(&c->next_id, 1));
	offstat__status_request_id(st, request_id);

	for (int t = 1;; t++) {
		nng_msg *msg = NULL;

		left = timeout;
		if (timeout > 0) {
			nng_time now = nng_clock();
			left         = now < deadline ? (int)(deadline - now) : 0;
			if (left == 0) {
				return (rv);
			}
		}
		if ((rv = build_request(c, &msg, method, req, request_id, left,
		                        st)) != 0) {
			return (rv);
		}
		/* exchange() owns msg from here, whatever happens. */
		/* Messages name the call's timeout, not what is left of
		 * it for this try. */
		if ((rv = exchange(c, msg, &reply, left, timeout, st)) == 0) {
			rv = decode_reply(c, reply, request_id, reply_desc,
			                  convert, arg, st);
			nng_msg_free(reply);
			reply = NULL;
		}
		if (!retriable(rv) || t >= tries) {
			return (rv);
		}
		/* The next context's request goes to a connection that is
		 * up; a short pause lets nng notice the one that broke. */
		nng_msleep(t == 1 ? 1 : 20);
	}
}
