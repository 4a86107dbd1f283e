/* One function per command: call liboffstat, then write the result as a
 * table, JSON or CSV. */
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
	offstat_status st = OFFSTAT_STATUS_INIT;
	offstat_count *r;
	double         start = now_ms();
	int            rv;

	rv = offstat_get_count(&r, client, cli->args[0], cli->args[1],
	                       cli->args[2], cli->source, &st);
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
	offstat_status  st = OFFSTAT_STATUS_INIT;
	offstat_series *r;
	double          start = now_ms();
	int             rv;

	rv = offstat_get_series(
	        &r, client, cli->args[0], cli->args[1], cli->from, cli->to,
	        cli->quarterly ? OFFSTAT_QUARTERLY : OFFSTAT_YEARLY,
	        cli->source, &st);
	report_call(cli, "GetSeries", start, &st);
	if (rv != OFFSTAT_OK) {
		rv = cli_fail(cli, rv, &st);
		offstat_status_clear(&st);
		return (rv);
	}

	rv = out_series(cli->format, r, cli->quarterly);
	offstat_series_free(r);
	offstat_status_clear(&st);
	return (rv);
}

/* ---- compare ------------------------------------------------------------ */

static int
run_compare(struct cli *cli, offstat_client *client)
{
	offstat_status      st = OFFSTAT_STATUS_INIT;
	offstat_comparison *r;
	double              start = now_ms();
	int                 rv;

	rv = offstat_compare_trend(&r, client, cli->args[0], cli->args[1],
	                           cli->from, cli->to, cli->with, cli->n_with,
	                           cli->source, &st);
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
         "region and country or the areas named",
         2, 2, CLI_CMD_COMPARE, run_compare},
};

const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);
