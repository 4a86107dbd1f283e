#ifndef OFFSTAT_SERVER_H
#define OFFSTAT_SERVER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The NNG side of offstatd: one REP socket listening on every URL, served
 * by a pool of nng_ctx + nng_aio state machines (receive, dispatch, send,
 * receive again), as nng's demo/async server does. Dispatch is quick and
 * reads an in-memory snapshot, so it runs on the completion callback.
 */
typedef struct server server;

typedef struct {
	const char *const *urls; /* where to listen */
	size_t             nurls;
	size_t             workers;     /* contexts in flight; 0: default */
	size_t             max_request; /* bytes; 0: default */
	struct auth       *auth;        /* tokens, or NULL: none valid */
	bool               reads_need_token;
	/* Certificate, key and client CA for tls+tcp:// listeners. */
	const char *tls_cert, *tls_key, *tls_key_pass, *tls_client_ca;
	/* How often each listener is checked through a new connection,
	 * in ms (and started again after two checks without an answer);
	 * 0: never. */
	unsigned check_ms;
	/* Bytes of replies kept per release (dispatch_opts.reply_cache);
	 * 0: none. */
	size_t reply_cache;
} server_opts;

/* Opens the socket, starts the listeners and the workers. Returns 0, or an
 * nng error code with a message in err. */
int server_start(server **out, const server_opts *opts, char *err,
                 size_t errlen);
/*
 * Stops gracefully: new requests are answered UNAVAILABLE, requests being
 * answered finish (waiting at most timeout_ms), then the socket closes and
 * everything is freed. Accepts NULL.
 */
void server_stop(server *s, int timeout_ms);
/* Requests answered so far. */
unsigned long long server_served(const server *s);
/* Requests received and not yet answered (being dispatched, or waiting for
 * the writer thread). */
unsigned long long server_in_flight(const server *s);
/* Listeners started again after failed checks. */
unsigned long long server_listener_restarts(const server *s);

#endif
