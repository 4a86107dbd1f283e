/*
 * echo_server: the bare NNG REQ/REP baseline that offstatd is measured
 * against. It has offstatd's worker shape (a pool of nng_ctx + nng_aio
 * state machines on one REP socket, answering inside the receive callback)
 * and does nothing else: no protobuf, no store.
 *
 * A request's first four bytes (big-endian) give the size of the reply to
 * send back, so that the baseline can carry what an offstat exchange
 * carries in each direction; 0 (or a shorter request) echoes the request.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#define DEFAULT_WORKERS 64
#define MAX_LISTEN      16
#define MAX_MESSAGE     (16u << 20)

typedef enum { W_INIT, W_RECV, W_SEND } wstate;

typedef struct {
	nng_aio *aio;
	nng_ctx  ctx;
	wstate   state;
} worker;

static void
receive(worker *w)
{
	w->state = W_RECV;
	nng_ctx_recv(w->ctx, w->aio);
}

/* Sizes the request into its reply and starts sending it. */
static void
answer(worker *w, nng_msg *msg)
{
	const uint8_t *b = nng_msg_body(msg);
	size_t         want;

	if (nng_msg_len(msg) >= 4) {
		want = (size_t)b[0] << 24 | (size_t)b[1] << 16 |
		       (size_t)b[2] << 8 | b[3];
		if (want > 0 && want <= MAX_MESSAGE &&
		    nng_msg_realloc(msg, want) != 0) {
			nng_msg_free(msg);
			receive(w);
			return;
		}
	}
	nng_aio_set_msg(w->aio, msg);
	w->state = W_SEND;
	nng_ctx_send(w->ctx, w->aio);
}

static void
worker_cb(void *arg)
{
	worker *w = arg;
	int     rv;

	switch (w->state) {
	case W_INIT:
		receive(w);
		break;
	case W_RECV:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
				receive(w);
			}
			return;
		}
		answer(w, nng_aio_get_msg(w->aio));
		break;
	case W_SEND:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			if (rv == NNG_ECLOSED) {
				return;
			}
		}
		receive(w);
		break;
	}
}

static const char usage_text[] =
        "usage: echo_server -l URL [-l URL…] [-w WORKERS]\n"
        "The bare NNG REQ/REP baseline of offstat's benchmark. Stops on "
        "SIGINT or SIGTERM.\n";

int
main(int argc, char **argv)
{
	const char *urls[MAX_LISTEN];
	size_t      nurls = 0, nworkers = DEFAULT_WORKERS;
	nng_socket  sock;
	worker     *ws;
	sigset_t    sigs;
	int         opt, rv, sig;

	while ((opt = getopt(argc, argv, "l:w:h")) != -1) {
		switch (opt) {
		case 'l':
			if (nurls == MAX_LISTEN) {
				fprintf(stderr, "echo_server: too many -l\n");
				return (2);
			}
			urls[nurls++] = optarg;
			break;
		case 'w':
			nworkers = strtoul(optarg, NULL, 10);
			if (nworkers < 1 || nworkers > 4096) {
				fprintf(stderr,
				        "echo_server: -w wants 1 to 4096\n");
				return (2);
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return (0);
		default:
			fputs(usage_text, stderr);
			return (2);
		}
	}
	if (nurls == 0 || optind != argc) {
		fputs(usage_text, stderr);
		return (2);
	}
	/* Signals go to sigwait below, not to nng's threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if ((rv = nng_rep0_open(&sock)) != 0 ||
	    (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, MAX_MESSAGE)) !=
	            0) {
		fprintf(stderr, "echo_server: %s\n", nng_strerror(rv));
		return (1);
	}
	if ((ws = calloc(nworkers, sizeof(*ws))) == NULL) {
		fprintf(stderr, "echo_server: out of memory\n");
		return (1);
	}
	for (size_t i = 0; i < nworkers; i++) {
		if ((rv = nng_aio_alloc(&ws[i].aio, worker_cb, &ws[i])) != 0 ||
		    (rv = nng_ctx_open(&ws[i].ctx, sock)) != 0) {
			fprintf(stderr, "echo_server: %s\n", nng_strerror(rv));
			return (1);
		}
	}
	for (size_t i = 0; i < nurls; i++) {
		if ((rv = nng_listen(sock, urls[i], NULL, 0)) != 0) {
			fprintf(stderr, "echo_server: listening on %s: %s\n",
			        urls[i], nng_strerror(rv));
			return (1);
		}
	}
	for (size_t i = 0; i < nworkers; i++) {
		worker_cb(&ws[i]);
	}
	do {
		if (sigwait(&sigs, &sig) != 0) {
			sig = SIGTERM;
		}
	} while (sig != SIGINT && sig != SIGTERM);
	for (size_t i = 0; i < nworkers; i++) {
		nng_aio_stop(ws[i].aio);
	}
	nng_close(sock);
	for (size_t i = 0; i < nworkers; i++) {
		nng_aio_free(ws[i].aio);
	}
	free(ws);
	return (0);
}
