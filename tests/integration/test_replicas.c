/*
 * Two replicas behind one client: liboffstat opened with both addresses
 * spreads its calls over them; when one is killed (SIGKILL, no goodbye)
 * under load, no read fails and the survivor takes the load; when it comes
 * back on the same address it gets its share again. Each replica's own
 * /metrics says how many requests it answered.
 *
 * The replicas are started with posix_spawn, not fork: the client's NNG
 * threads are running, and nng 1.10 (the container's) aborts in a forked
 * child.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "offstat/offstat.h"

extern char **environ;

#define THREADS 8

typedef struct {
	pid_t pid;
	int   port, http;
	char  url[64];
	char  dir[64];
	char  db[128];
	char  log[128];
} replica;

static replica a, b;

static int
free_port(void)
{
	struct sockaddr_in sa   = {.sin_family = AF_INET};
	socklen_t          n    = sizeof(sa);
	int                fd   = socket(AF_INET, SOCK_STREAM, 0);
	int                port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &n) == 0) {
		port = ntohs(sa.sin_port);
	}
	if (fd >= 0) {
		close(fd);
	}
	return (port);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec  = ms / 1000,
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/*
 * GET path from 127.0.0.1:port over HTTP/1.0; the body in a malloc'd
 * string, or NULL when nothing answers or the status is not 200.
 */
static char *
http_get(int port, const char *path)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port   = htons((uint16_t)port)};
	char               req[256];
	char              *buf = NULL, *body;
	size_t             len = 0, cap = 0;
	int                fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		return (NULL);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return (NULL);
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return (NULL);
	}
	for (;;) {
		ssize_t n;
		if (cap - len < 4096) {
			char *p = realloc(buf, cap + 65536);
			if (p == NULL) {
				break;
			}
			buf = p;
			cap += 65536;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0) {
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL) {
		return (NULL);
	}
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 9, "200", 3) != 0 ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL) {
		free(buf);
		return (NULL);
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return (buf);
}

/* The replica's offstat_requests_total, summed over methods and codes;
 * -1 when /metrics does not answer. */
static long long
served(const replica *r)
{
	char     *m = http_get(r->http, "/metrics");
	long long n = 0;

	if (m == NULL) {
		return (-1);
	}
	for (char *line = strtok(m, "\n"); line != NULL;
	     line       = strtok(NULL, "\n")) {
		if (strncmp(line, "offstat_requests_total{", 23) == 0) {
			char *sp = strrchr(line, ' ');
			n += sp != NULL ? strtoll(sp + 1, NULL, 10) : 0;
		}
	}
	free(m);
	return (n);
}

/* The value of the metric line starting with name (e.g. "x{a=\"b\"} " or
 * "x "); -1 when it or /metrics is missing. */
static long long
metric(const replica *r, const char *name)
{
	char     *m = http_get(r->http, "/metrics");
	char     *p;
	long long v = -1;

	if (m == NULL) {
		return (-1);
	}
	for (p = m; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (strncmp(p, name, strlen(name)) == 0) {
			v = strtoll(p + strlen(name), NULL, 10);
			break;
		}
	}
	free(m);
	return (v);
}

/* Starts (or restarts, on the same addresses) a replica and waits until
 * /readyz says it serves. Returns 0 or -1. */
static int
replica_start(replica *r)
{
	char        http[64];
	const char *argv[16];
	int         argc = 0;
	posix_spawn_file_actions_t fa;

	if (r->port == 0) {
		snprintf(r->dir, sizeof(r->dir), "/tmp/offstat-rep-XXXXXX");
		if (mkdtemp(r->dir) == NULL) {
			return (-1);
		}
		r->port = free_port();
		r->http = free_port();
		snprintf(r->url, sizeof(r->url), "tcp://127.0.0.1:%d", r->port);
		snprintf(r->db, sizeof(r->db), "%s/offstat.db", r->dir);
		snprintf(r->log, sizeof(r->log), "%s/log", r->dir);
	}
	snprintf(http, sizeof(http), "127.0.0.1:%d", r->http);
	argv[argc++] = OFFSTATD;
	argv[argc++] = "--listen";
	argv[argc++] = r->url;
	argv[argc++] = "--http";
	argv[argc++] = http;
	argv[argc++] = "--db";
	argv[argc++] = r->db;
	argv[argc++] = "--log-level";
	argv[argc++] = "warn";
	argv[argc]   = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, r->log,
	                                 O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (posix_spawn(&r->pid, argv[0], &fa, NULL, (char *const *)argv,
	                environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		r->pid = -1;
		return (-1);
	}
	posix_spawn_file_actions_destroy(&fa);
	/* Sanitizer builds start slowly: up to 30 s. */
	for (int i = 0; i < 600; i++) {
		char *ok = http_get(r->http, "/readyz");
		int   st;
		if (ok != NULL) {
			free(ok);
			return (0);
		}
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			fprintf(stderr, "offstatd exited early (status %d)\n",
			        st);
			r->pid = -1;
			return (-1);
		}
		sleep_ms(50);
	}
	return (-1);
}

static void
replica_kill(replica *r, int sig)
{
	if (r->pid > 0) {
		kill(r->pid, sig);
		waitpid(r->pid, NULL, 0);
		r->pid = -1;
	}
}

static void
replica_clean(replica *r)
{
	char cmd[160];

	replica_kill(r, SIGKILL);
	if (r->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "could not remove %s\n", r->dir);
		}
	}
}

/* ------------------------------------------------------------------ */

typedef struct {
	offstat_client *client;
	atomic_bool     stop;
	atomic_llong    ok, failed;
	char            first_error[512];
	pthread_mutex_t lock;
} load;

/* Reads in a loop: each a GetCount whose figure is checked. */
static void *
reader(void *arg)
{
	load *l = arg;

	while (!atomic_load(&l->stop)) {
		offstat_status st = OFFSTAT_STATUS_INIT;
		offstat_count *c  = NULL;
		int rv = offstat_get_count(&c, l->client, "dorset", "S15A",
		                           "2020/21", NULL, &st);
		if (rv == OFFSTAT_OK && c != NULL) {
			atomic_fetch_add(&l->ok, 1);
		} else {
			pthread_mutex_lock(&l->lock);
			if (atomic_fetch_add(&l->failed, 1) == 0) {
				snprintf(l->first_error,
				         sizeof(l->first_error), "%s: %s",
				         offstat_err_name(rv),
				         st.message ? st.message : "-");
			}
			pthread_mutex_unlock(&l->lock);
		}
		offstat_count_free(c);
		offstat_status_clear(&st);
	}
	return (NULL);
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
test_failover(void **state)
{
	load                l = {0};
	pthread_t           t[THREADS];
	offstat_client_opts o = OFFSTAT_CLIENT_OPTS_INIT;
	char                urls[160];
	long long           a0, b0, a1, b1, b2, a3, ok1, ok2, t0;

	(void)state;
	pthread_mutex_init(&l.lock, NULL);
	snprintf(urls, sizeof(urls), "%s,%s", a.url, b.url);
	o.url = urls;
	assert_int_equal(offstat_client_open_opts(&l.client, &o), OFFSTAT_OK);
	assert_string_equal(offstat_client_url(l.client), urls);
	assert_int_equal(offstat_client_set_timeout(l.client, 5000), 0);
	/* Both connections up before the load starts. */
	sleep_ms(300);
	assert_true((a0 = served(&a)) >= 0);
	assert_true((b0 = served(&b)) >= 0);

	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, reader, &l), 0);
	}
	/* Under load the gauge of requests being answered moves. */
	long long busy = 0;
	int       scrapes = 0;
	t0                = now_ms();
	while (now_ms() - t0 < 1500 || (busy < 1 && scrapes < 400)) {
		long long g = metric(&b, "offstat_requests_in_flight ");
		busy        = g > busy ? g : busy;
		scrapes++;
		sleep_ms(10);
	}
	a1  = served(&a) - a0;
	b1  = served(&b) - b0;
	ok1 = atomic_load(&l.ok);
	print_message("both up: %lld calls; replica A answered %lld, B %lld; "
	              "B's requests in flight at most %lld in %d scrapes\n",
	              ok1, a1, b1, busy, scrapes);
	if (busy < 1) {
		fail_msg("offstat_requests_in_flight stayed 0 under load");
	}
	/* REQ spreads calls over the connections that are up. */
	assert_true(ok1 > 100);
	if (a1 < ok1 / 10 || b1 < ok1 / 10) {
		fail_msg("calls not spread: A %lld, B %lld of %lld", a1, b1,
		         ok1);
	}

	/* Kill A under load, with calls in flight on it. */
	b1 = served(&b);
	replica_kill(&a, SIGKILL);
	ok1 = atomic_load(&l.ok);
	t0  = now_ms();
	sleep_ms(1500);
	ok2 = atomic_load(&l.ok) - ok1;
	b2  = served(&b) - b1;
	print_message("A killed: %lld calls in %lld ms, B answered %lld; "
	              "%lld failed\n",
	              ok2, now_ms() - t0, b2, (long long)atomic_load(&l.failed));
	assert_true(ok2 > 100);
	/* Every call since the kill was answered by B (and the calls that
	 * were in flight on A were answered again by B). */
	if (b2 < ok2) {
		fail_msg("B answered %lld, but %lld calls succeeded after A "
		         "died",
		         b2, ok2);
	}

	/* A comes back on the same address and gets calls again. */
	assert_int_equal(replica_start(&a), 0);
	a3 = 0;
	for (int i = 0; i < 100 && a3 < 50; i++) {
		sleep_ms(50);
		a3 = served(&a);
	}
	print_message("A back: answered %lld within 5 s\n", a3);
	if (a3 < 50) {
		fail_msg("the restarted replica got %lld calls", a3);
	}

	atomic_store(&l.stop, true);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
	}
	if (atomic_load(&l.failed) != 0) {
		fail_msg("%lld of %lld reads failed; first: %s",
		         (long long)atomic_load(&l.failed),
		         (long long)atomic_load(&l.ok), l.first_error);
	}
	offstat_client_close(l.client);
	pthread_mutex_destroy(&l.lock);
}

/*
 * Opening with a replica down works when another is up, and the one that
 * is down is taken into use when it starts; opening with every replica
 * down says connection refused at once, not after the timeout.
 */
static void
test_open_partial(void **state)
{
	offstat_client *c;
	offstat_status  st = OFFSTAT_STATUS_INIT;
	offstat_count  *n  = NULL;
	char            urls[160];
	long long       t0;
	int             dead = free_port();

	(void)state;
	snprintf(urls, sizeof(urls), "tcp://127.0.0.1:%d %s", dead, b.url);
	assert_int_equal(offstat_client_open(&c, urls), OFFSTAT_OK);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(offstat_get_count(&n, c, "dorset", "S15A",
		                                   "2020/21", NULL, &st),
		                 OFFSTAT_OK);
		offstat_count_free(n);
		n = NULL;
	}
	/* An ingest goes to one replica's database: refused on a client
	 * with several addresses, before anything is sent. */
	uint64_t rel = 0;
	assert_int_equal(offstat_ingest_open(&rel, c, "two places", NULL, &st),
	                 OFFSTAT_EINVAL);
	assert_non_null(st.message);
	assert_non_null(strstr(st.message, "one replica"));
	offstat_client_close(c);

	snprintf(urls, sizeof(urls), "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d",
	         dead, free_port());
	t0 = now_ms();
	assert_int_equal(offstat_client_open(&c, urls), OFFSTAT_ECONNREFUSED);
	if (now_ms() - t0 > 2000) {
		fail_msg("refused after %lld ms", now_ms() - t0);
	}
	/* A malformed address among good ones is refused before dialling. */
	snprintf(urls, sizeof(urls), "%s,tcp://127.0.0.1", b.url);
	assert_int_equal(offstat_client_open(&c, urls), OFFSTAT_EADDRINVAL);
	offstat_status_clear(&st);
}

/*
 * A service that accepts the connection and never answers (a hung
 * process: here a socket that listens and is never read) does not hold
 * the open beyond its connect timeout, nor a call beyond its timeout.
 */
static void
test_open_timeout(void **state)
{
	offstat_client     *c = NULL;
	offstat_client_opts o = OFFSTAT_CLIENT_OPTS_INIT;
	struct sockaddr_in  sa = {.sin_family = AF_INET};
	socklen_t           n  = sizeof(sa);
	char                url[160];
	long long           t0, took;
	int                 fd, rv;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &n), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ntohs(sa.sin_port));

	o.url                = url;
	o.connect_timeout_ms = 500;
	t0                   = now_ms();
	rv                   = offstat_client_open_opts(&c, &o);
	took                 = now_ms() - t0;
	print_message("a service that never answers: %s after %lld ms\n",
	              offstat_err_name(rv), took);
	assert_int_equal(rv, OFFSTAT_ETIMEDOUT);
	if (took < 450 || took > 1500) {
		fail_msg("the open took %lld ms with a 500 ms connect timeout",
		         took);
	}
	/* Beside a replica that answers, the hung one does not matter. */
	snprintf(url + strlen(url), sizeof(url) - strlen(url), ",%s", b.url);
	t0 = now_ms();
	assert_int_equal(offstat_client_open_opts(&c, &o), OFFSTAT_OK);
	took = now_ms() - t0;
	offstat_client_close(c);
	if (took > 450) {
		fail_msg("the open waited %lld ms for the hung replica", took);
	}
	close(fd);
}

static int
setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (replica_start(&a) != 0 || replica_start(&b) != 0) {
		return (-1);
	}
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	replica_clean(&a);
	replica_clean(&b);
	return (0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_failover),
	        cmocka_unit_test(test_open_partial),
	        cmocka_unit_test(test_open_timeout),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
