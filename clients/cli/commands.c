/* One function per command: call liboffstat, then write the result as a
 * table, JSON or CSV. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- Timing and verbose reports ----------------------------------------- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

static void
report_call(const struct cli *cli, const char *method, double start,
            const offstat_status *st)
{
	if (cli->verbose > 0) {
		cli_note(cli, "%s answered in %.1f ms (request %s)", method,
		         now_ms() - start,
		         st->request_id != NULL ? st->request_id : "?");
	}
}

/* The options every query takes from the command line. */
static offstat_query_opts
query_opts(const struct cli *cli)
{
	offstat_query_opts opts = OFFSTAT_QUERY_OPTS_INIT;

	opts.source        = cli->source;
	opts.as_of_release = cli->as_of;
	opts.confidence    = cli->confidence;
	opts.history       = cli->history;
	return (opts);
}

/* ---- info --------------------------------------------------------------- */

static int
run_info(struct cli *cli, offstat_client *client)
{
	offstat_status       st = OFFSTAT_STATUS_INIT;
	offstat_server_info *info;
	double               start = now_ms();
	int                  rv;

	rv = offstat_get_server_info(&info, client, &st);
	report_call(cli, "ServerInfo", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}
	rv = out_info(cli->format, offstat_client_url(client), info);
	offstat_server_info_free(info);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- areas -------------------------------------------------------------- */

static int
run_areas(struct cli *cli, offstat_client *client)
{
	offstat_status     st   = OFFSTAT_STATUS_INIT;
	offstat_area_kind  kind = OFFSTAT_AREA_ANY;
	offstat_area_list *list;
	double             start = now_ms();
	int                rv;

	if (cli->kind != NULL) {
		offstat_area_kind_parse(&kind, cli->kind);
	}
	rv = offstat_list_areas_all(&list, client, kind, cli->parent, &st);
	report_call(cli, "ListAreas", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	rv = out_areas(cli->format, list);
	offstat_area_list_free(list);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- offences ----------------------------------------------------------- */

static int
run_offences(struct cli *cli, offstat_client *client)
{
	offstat_status        st    = OFFSTAT_STATUS_INIT;
	const char           *query = cli->n_args > 0 ? cli->args[0] : NULL;
	offstat_offence_list *list;
	double                start = now_ms();
	int                   rv;

	rv = offstat_list_offences_all(&list, client, cli->group, query, &st);
	report_call(cli, "ListOffences", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	rv = out_offences(cli->format, list);
	offstat_offence_list_free(list);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- sources ------------------------------------------------------------ */

static int
run_sources(struct cli *cli, offstat_client *client)
{
	offstat_status       st = OFFSTAT_STATUS_INIT;
	offstat_source_list *list;
	double               start = now_ms();
	int                  rv;

	rv = offstat_list_sources_all(&list, client, &st);
	report_call(cli, "ListSources", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	rv = out_sources(cli->format, list);
	offstat_source_list_free(list);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- count -------------------------------------------------------------- */

static int
run_count(struct cli *cli, offstat_client *client)
{
	offstat_status     st   = OFFSTAT_STATUS_INIT;
	offstat_query_opts opts = query_opts(cli);
	offstat_count     *r;
	double             start = now_ms();
	int                rv;

	rv = offstat_get_count_opts(&r, client, cli->args[0], cli->args[1],
	                            cli->args[2], &opts, &st);
	report_call(cli, "GetCount", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	rv = out_count(cli->format, r);
	offstat_count_free(r);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- series ------------------------------------------------------------- */

static int
run_series(struct cli *cli, offstat_client *client)
{
	offstat_status     st   = OFFSTAT_STATUS_INIT;
	offstat_query_opts opts = query_opts(cli);
	offstat_series    *r;
	double             start = now_ms();
	int                rv;

	rv = offstat_get_series_opts(
	        &r, client, cli->args[0], cli->args[1], cli->from, cli->to,
	        cli->quarterly ? OFFSTAT_QUARTERLY : OFFSTAT_YEARLY, &opts,
	        &st);
	report_call(cli, "GetSeries", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	if (cli->chart) {
		rv = chart_bars(r, cli->quarterly);
	} else {
		rv = out_series(cli->format, r, cli->quarterly, cli->history);
	}
	offstat_series_free(r);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- compare ------------------------------------------------------------ */

static int
run_compare(struct cli *cli, offstat_client *client)
{
	offstat_status      st   = OFFSTAT_STATUS_INIT;
	offstat_query_opts  opts = query_opts(cli);
	offstat_comparison *r;
	double              start = now_ms();
	int                 rv;

	rv = offstat_compare_trend_opts(&r, client, cli->args[0], cli->args[1],
	                                cli->from, cli->to, cli->with,
	                                cli->n_with, &opts, &st);
	report_call(cli, "CompareTrend", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	rv = out_comparison(cli->format, r);
	offstat_comparison_free(r);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- rank --------------------------------------------------------------- */

static int
run_rank(struct cli *cli, offstat_client *client)
{
	offstat_status     st   = OFFSTAT_STATUS_INIT;
	offstat_area_kind  kind = OFFSTAT_AREA_FORCE;
	offstat_rank_by    by   = OFFSTAT_RANK_COUNT;
	offstat_query_opts opts = query_opts(cli);
	offstat_ranking   *r;
	double             start = now_ms();
	int                rv;

	if (cli->kind != NULL) {
		offstat_area_kind_parse(&kind, cli->kind);
	}
	if (cli->by != NULL) {
		offstat_rank_by_parse(&by, cli->by);
	}
	rv = offstat_rank_areas_opts(&r, client, cli->args[0], cli->args[1],
	                             by, cli->base, kind, cli->within,
	                             cli->limit, &opts, &st);
	report_call(cli, "RankAreas", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	rv = out_ranking(cli->format, r, cli->within);
	offstat_ranking_free(r);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- chart -------------------------------------------------------------- */

/* Adds code to the comparators unless it is empty or already there. */
static void
add_comparator(const char **with, size_t *n, const char *code,
               const char *subject)
{
	if (code[0] == '\0' || strcmp(code, subject) == 0 ||
	    *n == CLI_MAX_WITH) {
		return;
	}
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(with[i], code) == 0) {
			return;
		}
	}
	with[(*n)++] = code;
}

/* Writes the chart to cli->svg and says on stdout what it plotted. */
static int
write_chart(struct cli *cli, offstat_series *const *lines, size_t n)
{
	FILE *f;
	bool  to_stdout = strcmp(cli->svg, "-") == 0;
	bool  rates     = false;
	bool  bands     = false;
	int   rv;

	if (to_stdout) {
		f = stdout;
	} else if ((f = fopen(cli->svg, "w")) == NULL) {
		cli_note(cli, "cannot write %s: %s", cli->svg,
		         strerror(errno));
		return (CLI_EXIT_FAILURE);
	}
	rv = chart_svg(f, lines, n, cli->quarterly, &rates, &bands);
	if (to_stdout) {
		return (rv);
	}
	if (ferror(f) != 0 && rv == 0) {
		rv = CLI_EXIT_FAILURE;
	}
	if (fclose(f) != 0 && rv == 0) {
		rv = CLI_EXIT_FAILURE;
	}
	if (rv != 0) {
		/* A chart cut short (a full disk, no memory) is no chart. */
		if (rv == CLI_EXIT_FAILURE) {
			cli_note(cli, "cannot write %s", cli->svg);
		}
		remove(cli->svg);
		return (rv);
	}
	return (out_chart(cli->format, cli->svg, lines, n, rates, bands));
}

static int
run_chart(struct cli *cli, offstat_client *client)
{
	offstat_status      st   = OFFSTAT_STATUS_INIT;
	offstat_query_opts  opts = query_opts(cli);
	offstat_granularity gran =
	        cli->quarterly ? OFFSTAT_QUARTERLY : OFFSTAT_YEARLY;
	offstat_series *lines[1 + CLI_MAX_WITH];
	const char     *with[CLI_MAX_WITH];
	size_t          n_with = 0;
	size_t          n      = 0;
	double          start  = now_ms();
	const char     *from;
	const char     *to;
	int             rv;

	rv = offstat_get_series_opts(&lines[0], client, cli->args[0],
	                             cli->args[1], cli->from, cli->to, gran,
	                             &opts, &st);
	report_call(cli, "GetSeries", start, &st);
	if (rv != OFFSTAT_OK) {
		goto done;
	}
	n = 1;
	if (cli->n_with > 0) {
		for (size_t i = 0; i < cli->n_with; i++) {
			with[n_with++] = cli->with[i];
		}
	} else {
		/* Like compare: the subject's region and its country. */
		add_comparator(with, &n_with, lines[0]->area.region_code,
		               lines[0]->area.code);
		add_comparator(with, &n_with, lines[0]->area.country_code,
		               lines[0]->area.code);
	}
	/* Every line over the periods the subject's series resolved to. */
	from = cli->from;
	to   = cli->to;
	if (lines[0]->n_points > 0) {
		from = lines[0]->points[0].period.text;
		to   = lines[0]->points[lines[0]->n_points - 1].period.text;
	}
	for (size_t i = 0; i < n_with; i++) {
		start = now_ms();
		rv    = offstat_get_series_opts(&lines[n], client, with[i],
		                                cli->args[1], from, to, gran,
		                                &opts, &st);
		report_call(cli, "GetSeries", start, &st);
		if (rv != OFFSTAT_OK) {
			goto done;
		}
		n++;
	}

done:
	if (rv == OFFSTAT_OK) {
		rv = write_chart(cli, lines, n);
	} else {
		rv = cli_fail(cli, rv, &st);
	}
	for (size_t i = 0; i < n; i++) {
		offstat_series_free(lines[i]);
	}
	offstat_status_clear(&st);
	return (rv);
}

/* ---- releases ----------------------------------------------------------- */

static int
run_releases(struct cli *cli, offstat_client *client)
{
	offstat_status        st = OFFSTAT_STATUS_INIT;
	offstat_release_list *list;
	double                start = now_ms();
	int                   rv;

	rv = offstat_list_releases_all(&list, client, cli->all, &st);
	report_call(cli, "ListReleases", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		if (cli->all &&
		    (rv == OFFSTAT_EPERM || rv == OFFSTAT_EUNAUTHENTICATED)) {
			cli_note(cli, "releases --all needs a writer token: "
			              "set OFFSTAT_TOKEN or use --token");
		}
		offstat_status_clear(&st);
		return (rv);
	}
	rv = out_releases(cli->format, list, cli->all);
	offstat_release_list_free(list);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- The command table -------------------------------------------------- */

const struct cli_command cli_commands[] = {
        {"info", "", "what the service runs and holds", 0, 0, CLI_CMD_INFO,
         run_info},
        {"areas", "", "police force areas, regions and countries", 0, 0,
         CLI_CMD_AREAS, run_areas},
        {"offences", "[QUERY]",
         "the offence catalogue; QUERY matches a code or part of a "
         "description",
         0, 1, CLI_CMD_OFFENCES, run_offences},
        {"sources", "", "the publications figures come from", 0, 0,
         CLI_CMD_SOURCES, run_sources},
        {"count", "AREA OFFENCE PERIOD",
         "one figure, with its flags and source", 3, 3, CLI_CMD_COUNT,
         run_count},
        {"series", "AREA OFFENCE", "figures over a range of years or quarters",
         2, 2, CLI_CMD_SERIES, run_series},
        {"compare", "AREA OFFENCE",
         "how an area's figure changed between two periods, beside its "
         "region and country or the areas named, with exact tests and a "
         "verdict in words",
         2, 2, CLI_CMD_COMPARE, run_compare},
        {"rank", "OFFENCE PERIOD",
         "areas ordered by count, rate or change, each with its interval; "
         "areas without figures listed apart",
         2, 2, CLI_CMD_RANK, run_rank},
        {"chart", "AREA OFFENCE",
         "an SVG line chart of an area's series beside its region and "
         "country or the areas named, with interval bands",
         2, 2, CLI_CMD_CHART, run_chart},
        {"releases", "",
         "the releases of data, newest first: what each loaded, when and by "
         "whom",
         0, 0, CLI_CMD_RELEASES, run_releases},
        {"ingest", "FILE...",
         "load Home Office open data files over the wire as one new "
         "release, committed at the end or aborted on any error (needs a "
         "writer token)",
         1, SIZE_MAX, CLI_CMD_INGEST, cli_run_ingest},
};

const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);
