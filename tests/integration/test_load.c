/*
 * Many clients at once: every reply is correct while eight threads call
 * concurrently, and a SIGTERM under load ends the service cleanly with
 * every reply that was sent well-formed (OK or UNAVAILABLE).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "offstat/v1/offstat.pb-c.h"

#define THREADS 8
#define CALLS 300

static harness_server srv;
static atomic_int     wrong, ok, unavailable, transport, garbage;
static atomic_bool    stop_on_error;

/* One synchronous call on the thread's own socket; returns the decoded
 * reply or NULL on a transport error. */
static Offstat__V1__RpcResponse *
call(nng_socket s, const char *method, const ProtobufCMessage *req)
{
	Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
	uint8_t                 payload[512], buf[1024];
	nng_msg                *msg;

	env.method       = (char *) method;
	env.payload.data = payload;
	env.payload.len  = protobuf_c_message_pack(req, payload);
	size_t n         = offstat__v1__rpc_request__pack(&env, buf);
	if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, buf, n) != 0) {
		return (NULL);
	}
	if (nng_sendmsg(s, msg, 0) != 0) {
		nng_msg_free(msg);
		return (NULL);
	}
	if (nng_recvmsg(s, &msg, 0) != 0) {
		return (NULL);
	}
	Offstat__V1__RpcResponse *r = offstat__v1__rpc_response__unpack(NULL,
	    nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (r == NULL || r->status == NULL) {
		atomic_fetch_add(&garbage, 1);
		offstat__v1__rpc_response__free_unpacked(r, NULL);
		return (NULL);
	}
	return (r);
}

static void *
client(void *arg)
{
	intptr_t   id = (intptr_t) arg;
	nng_socket s;

	if (nng_req0_open(&s) != 0) {
		atomic_fetch_add(&transport, 1);
		return (NULL);
	}
	/* Generous while every call must succeed (a loaded CI machine is
	 * slow); short once the service is being stopped. */
	int ms = atomic_load(&stop_on_error) ? 3000 : 30000;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, ms);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 1 << 20);
	if (nng_dial(s, srv.url, NULL, 0) != 0) {
		atomic_fetch_add(&transport, 1);
		nng_close(s);
		return (NULL);
	}
	for (int i = 0; i < CALLS; i++) {
		Offstat__V1__GetCountRequest req =
		    OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
		Offstat__V1__Period p = OFFSTAT__V1__PERIOD__INIT;
		/* Alternate between two figures so answers can be checked. */
		bool     dorset = (i + id) % 2 == 0;
		uint64_t want   = dorset ? 62 : 377;
		req.area        = dorset ? "dorset" : "south west";
		req.offence     = "S15A";
		p.text          = dorset ? "2020/21" : "2017/18";
		req.period      = &p;
		Offstat__V1__RpcResponse *r = call(s,
		    "offstat.v1.OffenceStats/GetCount", &req.base);
		if (r == NULL) {
			atomic_fetch_add(&transport, 1);
			if (atomic_load(&stop_on_error)) {
				break;
			}
			continue;
		}
		if (r->status->code == OFFSTAT__V1__CODE__UNAVAILABLE) {
			atomic_fetch_add(&unavailable, 1);
		} else if (r->status->code != OFFSTAT__V1__CODE__OK) {
			atomic_fetch_add(&wrong, 1);
		} else {
			Offstat__V1__GetCountResponse *gc =
			    offstat__v1__get_count_response__unpack(NULL,
			        r->payload.len, r->payload.data);
			if (gc == NULL || gc->value->count != want) {
				atomic_fetch_add(&wrong, 1);
			} else {
				atomic_fetch_add(&ok, 1);
			}
			offstat__v1__get_count_response__free_unpacked(gc,
			    NULL);
		}
		offstat__v1__rpc_response__free_unpacked(r, NULL);
	}
	nng_close(s);
	return (NULL);
}

static void
run_clients(void)
{
	pthread_t t[THREADS];
	for (intptr_t i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, client,
		                     (void *) i),
		    0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
	}
}

static void
test_concurrent_answers(void **state)
{
	(void) state;
	assert_int_equal(harness_start(&srv, 1, NULL), 0);
	run_clients();
	assert_int_equal(atomic_load(&wrong), 0);
	assert_int_equal(atomic_load(&garbage), 0);
	assert_int_equal(atomic_load(&transport), 0);
	assert_int_equal(atomic_load(&ok), THREADS * CALLS);
	assert_int_equal(harness_stop(&srv), 0);
}

static void *
terminator(void *arg)
{
	(void) arg;
	/* Let the clients get going, then stop the service under load. */
	while (atomic_load(&ok) < THREADS * 20) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	kill(srv.pid, SIGTERM);
	return (NULL);
}

static void
test_stop_under_load(void **state)
{
	(void) state;
	pthread_t term;
	atomic_store(&ok, 0);
	atomic_store(&stop_on_error, true);
	assert_int_equal(harness_start(&srv, 0, NULL), 0);
	assert_int_equal(pthread_create(&term, NULL, terminator, NULL), 0);
	run_clients();
	pthread_join(term, NULL);
	/* Replies that came were whole and right; the rest never came. */
	assert_int_equal(atomic_load(&wrong), 0);
	assert_int_equal(atomic_load(&garbage), 0);
	assert_true(atomic_load(&ok) >= THREADS * 20);
	assert_int_equal(harness_stop(&srv), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_answers),
		cmocka_unit_test(test_stop_under_load),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
