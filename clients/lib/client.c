#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "client.h"

#define METHOD_PREFIX "offstat.v1.OffenceStats/"

struct offstat_client {
	nng_socket           sock;
	char                *url;
	pthread_mutex_t      mtx;        /* Guards token and timeout_ms. */
	char                *token;      /* NULL: no credentials. */
	int                  timeout_ms; /* 0: no limit. */
	atomic_int           pipes;      /* Connections up now. */
	atomic_uint_fast64_t next_id;
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
	default:
		return (OFFSTAT_ETRANSPORT);
	}
}

int
offstat_client_open(offstat_client **out, const char *url)
{
	offstat_client *c;
	int             rv;

	if (out == NULL) {
		return (OFFSTAT_EINVAL);
	}
	if (url == NULL) {
		url = OFFSTAT_DEFAULT_URL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	if ((c->url = strdup(url)) == NULL) {
		free(c);
		return (OFFSTAT_ENOMEM);
	}
	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		free(c->url);
		free(c);
		return (OFFSTAT_ENOMEM);
	}
	c->timeout_ms = OFFSTAT_DEFAULT_TIMEOUT_MS;
	atomic_init(&c->pipes, 0);
	atomic_init(&c->next_id, 1);

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		rv = rv == NNG_ENOMEM ? OFFSTAT_ENOMEM : OFFSTAT_ETRANSPORT;
		goto fail;
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
		rv = rv == NNG_ENOMEM ? OFFSTAT_ENOMEM : OFFSTAT_ETRANSPORT;
		nng_close(c->sock);
		goto fail;
	}
	/* Synchronous, so that a refused connection is reported now rather
	 * than as a timeout on the first call. */
	if ((rv = nng_dial(c->sock, url, NULL, 0)) != 0) {
		rv = dial_error(rv);
		nng_close(c->sock);
		goto fail;
	}
	*out = c;
	return (OFFSTAT_OK);

fail:
	pthread_mutex_destroy(&c->mtx);
	free(c->url);
	free(c);
	return (rv);
}

void
offstat_client_close(offstat_client *c)
{
	if (c == NULL) {
		return;
	}
	nng_close(c->sock);
	pthread_mutex_destroy(&c->mtx);
	free(c->token);
	free(c->url);
	free(c);
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
         offstat_status *st)
{
	nng_ctx  ctx;
	nng_aio *aio = NULL;
	nng_time deadline;
	int      rv;

	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_msg_free(req);
		return (exchange_error(c, st, rv, timeout));
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(req);
		nng_ctx_close(ctx);
		return (exchange_error(c, st, rv, timeout));
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
	return (rv != 0 ? exchange_error(c, st, rv, timeout) : OFFSTAT_OK);
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

int
offstat__call(offstat_client *c, const char *method,
              const ProtobufCMessage           *req,
              const ProtobufCMessageDescriptor *reply_desc,
              offstat__convert_fn convert, void *arg, offstat_status *st)
{
	char     request_id[48];
	nng_msg *msg   = NULL;
	nng_msg *reply = NULL;
	int      timeout;
	int      rv;

	pthread_mutex_lock(&c->mtx);
	timeout = c->timeout_ms;
	pthread_mutex_unlock(&c->mtx);

	snprintf(request_id, sizeof(request_id), "%ld-%" PRIuFAST64,
	         (long)getpid(), atomic_fetch_add(&c->next_id, 1));
	offstat__status_request_id(st, request_id);

	if ((rv = build_request(c, &msg, method, req, request_id, timeout,
	                        st)) != 0) {
		return (rv);
	}
	/* exchange() owns msg from here, whatever happens. */
	if ((rv = exchange(c, msg, &reply, timeout, st)) != 0) {
		return (rv);
	}
	rv = decode_reply(c, reply, request_id, reply_desc, convert, arg, st);
	nng_msg_free(reply);
	return (rv);
}
