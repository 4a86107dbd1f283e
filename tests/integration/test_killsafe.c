/*
 * Nothing lost: offstatd is killed with SIGKILL at random moments while a
 * multi-batch ingest runs, at least KILLS times, and restarted each time.
 * After every kill the database must pass SQLite's integrity check, every
 * committed release must be whole, every commit the client saw
 * acknowledged must be committed, and after the restart readers must see
 * exactly the newest committed release and nothing of an open one. A
 * killed ingest is resumed after the restart with the same idempotency
 * keys, so retries across a crash are exercised too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "ingest_util.h"

#ifndef KILLS
#define KILLS 50
#endif
#define CODES   50
#define BATCHES 5

static char     forces[64][64];
static size_t   nforces;
static iu_row  *rows;
static size_t   nrows;
static char     writer[128];
static unsigned failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);  \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			failures++;                                           \
		}                                                             \
	} while (0)

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

static void
sleep_ms(double ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
	                      (long)((ms - (double)(time_t)(ms / 1000) * 1000) *
	                             1e6)};
	nanosleep(&ts, NULL);
}

/* The rows of ingest number k: every figure differs from ingest k - 1. */
static void
make_rows(unsigned k)
{
	for (size_t i = 0; i < nrows; i++) {
		rows[i].count = (uint64_t)k * 1000 + i % 1000;
	}
}

/* What the client got acknowledged, as the child reported it. */
typedef struct {
	uint64_t release;    /* opened, 0: none yet */
	unsigned next_batch; /* first batch not acknowledged */
	uint64_t committed;  /* acknowledged commit, 0: none */
} progress;

static void
say(int fd, const char *fmt, unsigned long long v)
{
	char line[64];
	int  n = snprintf(line, sizeof(line), fmt, v);
	if (write(fd, line, (size_t)n) != n) {
		_exit(3);
	}
}

/* The client: opens (unless resuming), sends the batches left, commits;
 * each call retried with its key until it is answered. */
static void
client(const char *url, unsigned k, progress p, int fd)
{
	char   key[64];
	size_t per = (nrows + BATCHES - 1) / BATCHES;

	for (;;) {
		Offstat__V1__IngestResponse *resp = NULL;
		Offstat__V1__RpcResponse    *r;
		char                         label[64];
		if (p.release == 0) {
			snprintf(key, sizeof(key), "open-%u", k);
			snprintf(label, sizeof(label), "kill %u", k);
			r = iu_ingest(url, writer, 'o', label, 0, NULL, 0, key,
			              &resp);
		} else if (p.next_batch < BATCHES) {
			size_t first = p.next_batch * per;
			size_t n     = first + per < nrows ? per : nrows - first;
			snprintf(key, sizeof(key), "batch-%u-%u", k,
			         p.next_batch);
			r = iu_ingest(url, writer, 'b', NULL, p.release,
			              rows + first, n, key, &resp);
		} else {
			snprintf(key, sizeof(key), "commit-%u", k);
			r = iu_ingest(url, writer, 'c', NULL, p.release, NULL, 0,
			              key, &resp);
		}
		int code = iu_code(r);
		if (code != 0 || resp == NULL) {
			if (code > 0) {
				fprintf(stderr, "client: status %d\n", code);
				_exit(2);
			}
			if (resp != NULL) {
				offstat__v1__ingest_response__free_unpacked(
				        resp, NULL);
			}
			continue; /* no answer: the same call again */
		}
		if (p.release == 0) {
			p.release = resp->release;
			say(fd, "O %llu\n", p.release);
		} else if (p.next_batch < BATCHES) {
			say(fd, "B %llu\n", p.next_batch);
			p.next_batch++;
		} else {
			if (resp->rows != nrows) {
				say(fd, "X %llu\n", resp->rows);
			}
			say(fd, "C %llu\n", p.release);
			offstat__v1__ingest_response__free_unpacked(resp, NULL);
			_exit(0);
		}
		offstat__v1__ingest_response__free_unpacked(resp, NULL);
	}
}

static int64_t
one_int(sqlite3 *db, const char *sql, int64_t arg)
{
	sqlite3_stmt *st;
	int64_t       v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, arg);
		if (sqlite3_step(st) == SQLITE_ROW) {
			v = sqlite3_column_int64(st, 0);
		}
		sqlite3_finalize(st);
	}
	return (v);
}

/* The checks on the database of a killed service. Returns the k of the
 * newest committed ingest (0: none). */
static unsigned
check_db(const char *path, const progress *p, unsigned *open_left)
{
	sqlite3      *db;
	sqlite3_stmt *st;
	unsigned      newest = 0;

	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ==
	              SQLITE_OK,
	      "opening %s", path);
	CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
	                         NULL) == SQLITE_OK,
	      "integrity check");
	CHECK(sqlite3_step(st) == SQLITE_ROW &&
	              strcmp((const char *)sqlite3_column_text(st, 0), "ok") ==
	                      0,
	      "integrity check says %s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	/* Every committed ingest is whole. */
	sqlite3_prepare_v2(db,
	                   "SELECT id, label, state, seq FROM releases WHERE "
	                   "label LIKE 'kill %' ORDER BY id",
	                   -1, &st, NULL);
	uint64_t best_seq = 0;
	*open_left        = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t  id    = sqlite3_column_int64(st, 0);
		unsigned k     = (unsigned)atoi(
                        (const char *)sqlite3_column_text(st, 1) + 5);
		int      state = sqlite3_column_int(st, 2);
		int64_t  n     = one_int(
                        db, "SELECT count(*) FROM counts WHERE release = ?1",
                        id);
		if (state == 2) {
			CHECK(n == (int64_t)nrows,
			      "committed release %lld holds %lld rows, not %zu",
			      (long long)id, (long long)n, nrows);
			if ((uint64_t)sqlite3_column_int64(st, 3) > best_seq) {
				best_seq = (uint64_t)sqlite3_column_int64(st, 3);
				newest   = k;
			}
		} else {
			CHECK(state == 1, "release %lld is in state %d",
			      (long long)id, state);
			CHECK(n <= (int64_t)nrows,
			      "open release %lld holds %lld rows", (long long)id,
			      (long long)n);
			(*open_left)++;
		}
	}
	sqlite3_finalize(st);
	if (p->committed != 0) {
		CHECK(one_int(db, "SELECT state FROM releases WHERE id = ?1",
		              (int64_t)p->committed) == 2,
		      "release %llu was acknowledged committed but is not",
		      (unsigned long long)p->committed);
	}
	sqlite3_close(db);
	return (newest);
}

/* After a restart: readers see the newest committed ingest's figures. */
static void
check_visible(const char *url, unsigned newest)
{
	uint64_t n = 0;
	bool     present = false, rev = false;
	for (size_t i = 0; i < nrows; i += nrows / 7) {
		int code = iu_count(url, rows[i].force, rows[i].code, 2022,
		                    rows[i].quarter, 0, &n, &present, &rev,
		                    NULL);
		if (newest == 0) {
			/* The codes exist only once an ingest committed. */
			CHECK(code == OFFSTAT__V1__CODE__NOT_FOUND ||
			              (code == 0 && !present),
			      "row %zu visible before any commit (code %d)", i,
			      code);
		} else {
			CHECK(code == 0 && present &&
			              n == (uint64_t)newest * 1000 + i % 1000,
			      "row %zu: %llu (code %d), want ingest %u's %llu",
			      i, (unsigned long long)n, code, newest,
			      (unsigned long long)newest * 1000 + i % 1000);
		}
	}
}

/* The rows every ingest sends, forces x CODES codes x 4 quarters. */
static int
make_table(const char *url, bool patient)
{
	/* A client may start just before the service is killed: it waits
	 * (and is killed in turn). */
	while ((nforces = iu_forces(url, forces, 64)) < 40 && patient) {
		sleep_ms(20);
	}
	if (nforces < 40) {
		fprintf(stderr, "only %zu forces\n", nforces);
		return (-1);
	}
	nrows = nforces * CODES * 4;
	rows  = calloc(nrows, sizeof(*rows));
	for (size_t i = 0; i < nrows; i++) {
		iu_row *r = &rows[i];
		size_t  c = (i / nforces) % CODES;
		snprintf(r->year, sizeof(r->year), "2022/23");
		r->quarter = (unsigned)(i / (nforces * CODES)) + 1;
		snprintf(r->force, sizeof(r->force), "%s", forces[i % nforces]);
		snprintf(r->description, sizeof(r->description),
		         "Kill test offence %zu", c);
		snprintf(r->group, sizeof(r->group), "Test");
		snprintf(r->subgroup, sizeof(r->subgroup), "Test");
		snprintf(r->code, sizeof(r->code), "KT%zu", c);
	}
	return (0);
}

/*
 * Starts the client in a process of its own. nng may not be used in a
 * child forked from a process that used it, so the child runs this
 * program afresh: "client URL TOKEN K RELEASE NEXT_BATCH FD".
 */
static pid_t
spawn_client(const char *url, unsigned k, const progress *p, int fd)
{
	pid_t c = fork();
	if (c == 0) {
		char ks[16], rel[32], nb[16], fds[16];
		snprintf(ks, sizeof(ks), "%u", k);
		snprintf(rel, sizeof(rel), "%llu",
		         (unsigned long long)p->release);
		snprintf(nb, sizeof(nb), "%u", p->next_batch);
		snprintf(fds, sizeof(fds), "%d", fd);
		execl("/proc/self/exe", "itest_killsafe", "client", url, writer,
		      ks, rel, nb, fds, (char *)NULL);
		_exit(127);
	}
	return (c);
}

int
main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "client") == 0) {
		progress p = {.release    = strtoull(argv[5], NULL, 10),
		              .next_batch = (unsigned)atoi(argv[6])};
		snprintf(writer, sizeof(writer), "%s", argv[3]);
		if (make_table(argv[2], true) != 0) {
			return (2);
		}
		make_rows((unsigned)atoi(argv[4]));
		client(argv[2], (unsigned)atoi(argv[4]), p, atoi(argv[7]));
	}
	char dir[] = "/tmp/offstat-kill-XXXXXX";
	char dbpath[256], tokfile[256];

	if (mkdtemp(dir) == NULL) {
		return (1);
	}
	snprintf(dbpath, sizeof(dbpath), "%s/offstat.db", dir);
	snprintf(tokfile, sizeof(tokfile), "%s/tokens", dir);
	if (iu_token(tokfile, "writer", writer, sizeof(writer)) != 0) {
		fprintf(stderr, "making a token failed\n");
		return (1);
	}
	const char    *extra[] = {"--db", dbpath, "--tokens", tokfile, NULL};
	harness_server srv;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());

	if (harness_start(&srv, 0, extra) != 0) {
		return (1);
	}
	if (make_table(srv.url, false) != 0) {
		return (1);
	}

	/* One ingest without a kill, to time it. */
	progress p = {0};
	int      fds[2];
	unsigned k = 1;
	make_rows(k);
	double t0 = now_ms();
	if (pipe(fds) != 0) {
		return (1);
	}
	pid_t c = spawn_client(srv.url, k, &p, fds[1]);
	close(fds[1]);
	int wst;
	waitpid(c, &wst, 0);
	close(fds[0]);
	double span = now_ms() - t0;
	if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
		fprintf(stderr, "FAIL: the first ingest failed\n");
		harness_stop(&srv);
		return (1);
	}
	check_visible(srv.url, k);
	harness_stop(&srv);
	printf("an ingest of %zu rows in %d batches takes %.0f ms\n", nrows,
	       BATCHES, span);

	unsigned phase[BATCHES + 3] = {0}; /* where each kill landed */
	unsigned commits = 1, resumed = 0, open_left = 0, newest = 1;
	k                = 2;
	p                = (progress){0};
	make_rows(k);
	for (int kill_no = 0; kill_no < KILLS; kill_no++) {
		if (harness_start(&srv, 0, extra) != 0) {
			CHECK(0, "restart %d failed", kill_no);
			break;
		}
		check_visible(srv.url, newest);
		resumed += p.release != 0;
		if (pipe(fds) != 0) {
			return (1);
		}
		c = spawn_client(srv.url, k, &p, fds[1]);
		close(fds[1]);
		sleep_ms(span * 1.1 * rand() / RAND_MAX);
		kill(srv.pid, SIGKILL);
		waitpid(srv.pid, NULL, 0);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		/* What the client had acknowledged before the kill. */
		FILE *in = fdopen(fds[0], "r");
		char  line[64];
		p.committed = 0;
		while (fgets(line, sizeof(line), in) != NULL) {
			unsigned long long v = strtoull(line + 2, NULL, 10);
			switch (line[0]) {
			case 'O':
				p.release = v;
				break;
			case 'B':
				p.next_batch = (unsigned)v + 1;
				break;
			case 'C':
				p.committed = v;
				break;
			case 'X':
				CHECK(0, "a commit counted %llu rows", v);
				break;
			}
		}
		fclose(in);
		phase[p.committed     ? BATCHES + 2
		      : p.release == 0 ? 0
		                       : 1 + p.next_batch]++;
		unsigned newest_now = check_db(dbpath, &p, &open_left);
		/* A commit that was applied but not acknowledged counts: the
		 * client would have it answered on its retry. */
		if (p.committed != 0 || (p.release != 0 && newest_now == k)) {
			CHECK(newest_now == k, "newest committed is %u, not %u",
			      newest_now, k);
			commits++;
			newest = k;
			k++;
			make_rows(k);
			p = (progress){0};
		} else {
			CHECK(newest_now == newest,
			      "newest committed is %u, not %u", newest_now,
			      newest);
		}
	}
	if (harness_start(&srv, 0, extra) == 0) {
		check_visible(srv.url, newest);
		harness_stop(&srv);
	}
	printf("%d kills: before open %u; during batches", KILLS, phase[0]);
	for (int i = 1; i <= BATCHES; i++) {
		printf(" %u", phase[i]);
	}
	printf("; during commit %u; after commit %u\n", phase[BATCHES + 1],
	       phase[BATCHES + 2]);
	printf("%u ingests committed, %u resumed after a kill, %u left open "
	       "(invisible); %u failed checks\n",
	       commits, resumed, open_left, failures);
	free(rows);
	return (failures == 0 ? 0 : 1);
}
