/*
 * The ingest command: loads files through liboffstat as one release,
 * shows progress on stderr (a bar on a terminal, a line per batch
 * otherwise) and prints what was committed.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Columns of the bar between its brackets: the line fits 79 columns up
 * to millions of rows. */
#define BAR_WIDTH 20

/* Set by SIGINT or SIGTERM: the load stops after the batch in flight,
 * and the release is aborted rather than left to expire. */
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct progress {
	const struct cli *cli;
	bool              tty;   /* stderr is a terminal: draw a bar. */
	bool              drawn; /* The bar is on the current line. */
	double            start; /* When the command started, in ms. */
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

static int
on_progress(void *arg, uint64_t sent, uint64_t total)
{
	struct progress *p       = arg;
	double           seconds = (now_ms() - p->start) / 1e3;
	double pct = total > 0 ? 100.0 * (double)sent / (double)total : 100.0;
	char   rate[32], a[32], b[32];

	if (interrupted) {
		return (1);
	}
	if (p->cli->quiet) {
		return (0);
	}
	fmt_grouped(a, sizeof(a), sent);
	fmt_grouped(b, sizeof(b), total);
	fmt_grouped(rate, sizeof(rate),
	            seconds > 0 ? (uint64_t)((double)sent / seconds) : 0);
	if (p->tty) {
		char   bar[BAR_WIDTH + 1];
		size_t full = total > 0 ? (size_t)(sent * BAR_WIDTH / total)
		                        : BAR_WIDTH;
		memset(bar, '#', full);
		memset(bar + full, '.', BAR_WIDTH - full);
		bar[BAR_WIDTH] = '\0';
		/* Spaces at the end wipe a longer line drawn before. */
		fprintf(stderr,
		        "\roffstat: [%s] %s/%s rows %3.0f%% %s rows/s  ", bar,
		        a, b, pct, rate);
		fflush(stderr);
		p->drawn = true;
	} else if (sent == 0) {
		cli_note(p->cli, "ingest: %s rows to send", b);
	} else {
		cli_note(p->cli,
		         "ingest: %s of %s rows sent (%.0f%%), %s rows/s", a,
		         b, pct, rate);
	}
	return (0);
}

int
cli_run_ingest(struct cli *cli, offstat_client *client)
{
	offstat_status         st = OFFSTAT_STATUS_INIT;
	offstat_ingest_result *r  = NULL;
	struct progress p = {cli, isatty(STDERR_FILENO) == 1, false, now_ms()};
	struct sigaction sa, old_int, old_term;
	double           seconds;
	int              rv;

	/* A second signal ends the command at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags   = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rv = offstat_ingest_files(&r, client, cli->args, cli->n_args,
	                          cli->label, cli->source, cli->batch_rows,
	                          on_progress, &p, &st);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	seconds = (now_ms() - p.start) / 1e3;
	if (p.drawn) {
		fputc('\n', stderr);
	}
	if (cli->verbose > 0 && r != NULL) {
		cli_note(cli,
		         "ingest: %" PRIu64 " batches, %u sent again after a "
		         "failure, %u halved for size, in %.2f s",
		         r->batches, r->retries, r->splits, seconds);
	}
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		if (rv == OFFSTAT_EUNAUTHENTICATED || rv == OFFSTAT_EPERM) {
			cli_note(cli, "ingest needs a writer token: set "
			              "OFFSTAT_TOKEN or use --token");
		}
	} else {
		rv = out_ingest(cli->format, r, cli->label, cli->args,
		                cli->n_args, seconds);
	}
	offstat_ingest_result_free(r);
	offstat_status_clear(&st);
	return (rv);
}
