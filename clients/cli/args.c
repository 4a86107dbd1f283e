/*
 * The command line. One table lists every option: parsing reads it, and so
 * do --help and each command's synopsis, so they cannot disagree.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum opt_id {
	OPT_URL,
	OPT_TOKEN,
	OPT_OUTPUT,
	OPT_TIMEOUT,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION,
	OPT_KIND,
	OPT_PARENT,
	OPT_GROUP,
	OPT_SOURCE,
	OPT_FROM,
	OPT_TO,
	OPT_QUARTERLY,
	OPT_WITH,
	OPT_CONFIDENCE,
	OPT_BY,
	OPT_BASE,
	OPT_WITHIN,
	OPT_LIMIT,
	OPT_CHART,
	OPT_SVG,
	OPT_AS_OF,
	OPT_HISTORY,
	OPT_ALL,
	OPT_LABEL,
	OPT_BATCH_ROWS,
	OPT_TLS_CA,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_SERVER_NAME,
	OPT_COUNT_ /* Not an option: how many there are. */
};

struct option {
	enum opt_id id;
	char        short_name; /* 0: none. */
	const char *long_name;
	const char *arg;      /* Its value's name; NULL: a switch. */
	unsigned    commands; /* CLI_CMD_* that take it; 0: global. */
	const char *help;
};

static const struct option options[] = {
        {OPT_URL, 'u', "url", "URL", 0,
         "service address: tcp://HOST:PORT, tls+tcp://HOST:PORT or "
         "ipc:///path; several (replicas) separated by commas, or the "
         "option repeated, share the calls (default $OFFSTAT_URL, else "
         OFFSTAT_DEFAULT_URL ")"},
        {OPT_TLS_CA, 0, "tls-ca", "FILE", 0,
         "CA certificate(s), PEM, that the service's certificate must "
         "chain to (default $OFFSTAT_TLS_CA, else the system's)"},
        {OPT_TLS_CERT, 0, "tls-cert", "FILE", 0,
         "this client's certificate, PEM, for services that require one "
         "(default $OFFSTAT_TLS_CERT); with --tls-key"},
        {OPT_TLS_KEY, 0, "tls-key", "FILE", 0,
         "its private key, PEM (default $OFFSTAT_TLS_KEY; an encrypted "
         "key's password in $OFFSTAT_TLS_KEY_PASSWORD)"},
        {OPT_TLS_SERVER_NAME, 0, "tls-server-name", "NAME", 0,
         "the name the service's certificate must carry (default: the "
         "URL's host)"},
        {OPT_TOKEN, 0, "token", "TOKEN", 0,
         "credential sent as 'authorization: Bearer TOKEN' (default "
         "$OFFSTAT_TOKEN; prefer the environment: the command line is "
         "visible to other users)"},
        {OPT_OUTPUT, 'o', "output", "FORMAT", 0,
         "table, json or csv (default: table on a terminal, json "
         "otherwise)"},
        {OPT_TIMEOUT, 't', "timeout", "TIME", 0,
         "how long to wait for each reply: milliseconds, or seconds with "
         "an s suffix (default 10s; 0 waits for ever)"},
        {OPT_QUIET, 'q', "quiet", NULL, 0,
         "print no diagnostics; the exit code says what happened"},
        {OPT_VERBOSE, 'v', "verbose", NULL, 0,
         "say what is being asked, of whom, and how long it took"},
        {OPT_HELP, 'h', "help", NULL, 0,
         "show this help (or a command's) and exit"},
        {OPT_VERSION, 'V', "version", NULL, 0, "show the version and exit"},
        {OPT_KIND, 0, "kind", "KIND", CLI_CMD_AREAS | CLI_CMD_RANK,
         "only areas of this kind: force, region, country, group, nation "
         "or body (rank: force, the default, region or country)"},
        {OPT_PARENT, 0, "parent", "AREA", CLI_CMD_AREAS,
         "only areas inside this one (code or name)"},
        {OPT_GROUP, 0, "group", "GROUP", CLI_CMD_OFFENCES,
         "only offences of this offence group, e.g. 'sexual offences'"},
        {OPT_SOURCE, 0, "source", "ID",
         CLI_CMD_COUNT | CLI_CMD_SERIES | CLI_CMD_COMPARE | CLI_CMD_RANK |
                 CLI_CMD_CHART | CLI_CMD_INGEST,
         "only figures from this source (see 'offstat sources'); ingest: "
         "the source the rows come from (default ho-prc-open-data)"},
        {OPT_FROM, 0, "from", "PERIOD",
         CLI_CMD_SERIES | CLI_CMD_COMPARE | CLI_CMD_CHART,
         "first period (series, chart: default the earliest with data); "
         "the base period of a comparison"},
        {OPT_TO, 0, "to", "PERIOD",
         CLI_CMD_SERIES | CLI_CMD_COMPARE | CLI_CMD_CHART,
         "last period (series, chart: default the latest with data); the "
         "end period of a comparison"},
        {OPT_QUARTERLY, 0, "quarterly", NULL, CLI_CMD_SERIES | CLI_CMD_CHART,
         "one point per quarter instead of per year"},
        {OPT_WITH, 0, "with", "AREA", CLI_CMD_COMPARE | CLI_CMD_CHART,
         "compare with this area (repeatable, at most 16; default: "
         "compare, the areas the subject sums into; chart, its region and "
         "country)"},
        {OPT_CONFIDENCE, 0, "confidence", "LEVEL",
         CLI_CMD_COMPARE | CLI_CMD_RANK,
         "confidence level of intervals, tests and verdicts: 0.5 to 0.999, "
         "or a percentage such as 99% (default 0.95)"},
        {OPT_BY, 0, "by", "ORDER", CLI_CMD_RANK,
         "rank by count (the default), rate (per 100,000 people), rate-u18 "
         "(per 100,000 under-18s) or change (from --base to PERIOD)"},
        {OPT_BASE, 0, "base", "PERIOD", CLI_CMD_RANK,
         "the earlier period of a ranking by change"},
        {OPT_WITHIN, 0, "within", "AREA", CLI_CMD_RANK,
         "only areas inside this region or country (code or name)"},
        {OPT_LIMIT, 0, "limit", "N", CLI_CMD_RANK,
         "only the first N areas (default: all)"},
        {OPT_CHART, 0, "chart", NULL, CLI_CMD_SERIES,
         "draw the series as bars as wide as the terminal ($COLUMNS)"},
        {OPT_SVG, 0, "svg", "FILE", CLI_CMD_CHART,
         "write the SVG chart to FILE ('-' for stdout)"},
        {OPT_AS_OF, 0, "as-of", "RELEASE",
         CLI_CMD_COUNT | CLI_CMD_SERIES | CLI_CMD_COMPARE | CLI_CMD_RANK |
                 CLI_CMD_CHART,
         "answer from the data as this committed release left it (see "
         "'offstat releases'; default: the latest)"},
        {OPT_HISTORY, 0, "history", NULL, CLI_CMD_SERIES,
         "show each point's value in every release that changed it"},
        {OPT_ALL, 0, "all", NULL, CLI_CMD_RELEASES,
         "also open, aborted and expired releases (needs a writer token)"},
        {OPT_LABEL, 0, "label", "TEXT", CLI_CMD_INGEST,
         "the new release's label, e.g. 'PRC open data, July 2025'"},
        {OPT_BATCH_ROWS, 0, "batch-rows", "N", CLI_CMD_INGEST,
         "rows per batch, 1 to 10000 (default 5000; batches also stay "
         "under 512 KiB)"},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* --help fits a terminal of 80 columns; option help starts here. */
#define HELP_WIDTH  79
#define HELP_COLUMN 25

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("offstat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'offstat --help' for more information.\n", stderr);
	return (CLI_EXIT_USAGE);
}

/* "-u, --url URL" */
static void
option_label(struct buf *b, const struct option *o)
{
	if (o->short_name != 0) {
		buf_printf(b, "-%c, ", o->short_name);
	} else {
		buf_add(b, "    ");
	}
	buf_printf(b, "--%s", o->long_name);
	if (o->arg != NULL) {
		buf_printf(b, " %s", o->arg);
	}
}

/* Options a command cannot do without: compare its periods, chart its
 * file, ingest its label. */
static bool
required_option(const struct cli_command *cmd, const struct option *o)
{
	return ((cmd->bit == CLI_CMD_COMPARE &&
	         (o->id == OPT_FROM || o->id == OPT_TO)) ||
	        (cmd->bit == CLI_CMD_CHART && o->id == OPT_SVG) ||
	        (cmd->bit == CLI_CMD_INGEST && o->id == OPT_LABEL));
}

/* "count AREA OFFENCE PERIOD [--source ID]": the options a command needs
 * first, then those it may take. */
static void
command_synopsis(struct buf *b, const struct cli_command *cmd)
{
	buf_add(b, cmd->name);
	if (cmd->synopsis[0] != '\0') {
		buf_printf(b, " %s", cmd->synopsis);
	}
	for (size_t k = 0; k < 2 * N_OPTIONS; k++) {
		const struct option *o        = &options[k % N_OPTIONS];
		bool                 required = required_option(cmd, o);
		if ((o->commands & cmd->bit) == 0 ||
		    required != (k < N_OPTIONS)) {
			continue;
		}
		buf_printf(b, required ? " --%s" : " [--%s", o->long_name);
		if (o->arg != NULL) {
			buf_printf(b, " %s", o->arg);
		}
		buf_add(b, required ? "" : "]");
		if (o->id == OPT_WITH) {
			buf_add(b, "...");
		}
	}
}

/* Writes text from column col on, wrapped at 79 columns with later lines
 * starting at column indent. */
static void
print_wrapped(FILE *f, const char *text, int col, int indent)
{
	bool first = true; /* No word on this line yet. */

	while (*text != '\0') {
		int len = (int)strcspn(text, " ");
		if (!first && col + 1 + len > HELP_WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col   = indent;
			first = true;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", len, text);
		col += len;
		first = false;
		text += len;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

static bool
has_options(unsigned command)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if ((options[i].commands & command) != 0) {
			return (true);
		}
	}
	return (false);
}

static void
print_options(FILE *f, unsigned commands, struct buf *b)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option *o = &options[i];
		if (commands == 0 ? o->commands != 0
		                  : (o->commands & commands) == 0) {
			continue;
		}
		buf_reset(b);
		option_label(b, o);
		fprintf(f, "  %-*s ", HELP_COLUMN - 3, buf_str(b));
		print_wrapped(f, o->help, HELP_COLUMN, HELP_COLUMN);
	}
}

void
cli_help(FILE *f, const struct cli_command *command)
{
	struct buf b = {0};

	if (command != NULL) {
		command_synopsis(&b, command);
		fputs("Usage: offstat [options] ", f);
		print_wrapped(f, buf_str(&b), 25, 8);
		buf_reset(&b);
		buf_printf(&b, "%s.", command->summary);
		if (b.s != NULL && b.s[0] >= 'a' && b.s[0] <= 'z') {
			b.s[0] = (char)(b.s[0] - 'a' + 'A');
		}
		fputc('\n', f);
		print_wrapped(f, buf_str(&b), 0, 0);
		if (has_options(command->bit)) {
			fprintf(f, "\nOptions for %s:\n", command->name);
			print_options(f, command->bit, &b);
		}
		fprintf(f, "\nGlobal options: see 'offstat --help'.\n");
		buf_free(&b);
		return;
	}

	fputs("Usage: offstat [options] <command> [args]\n\n"
	      "Ask offstatd for police recorded crime figures, how they "
	      "changed, and where\nthey come from.\n\nCommands:\n",
	      f);
	for (size_t i = 0; i < cli_n_commands; i++) {
		buf_reset(&b);
		command_synopsis(&b, &cli_commands[i]);
		fprintf(f, "  ");
		print_wrapped(f, buf_str(&b), 2, 6);
		buf_reset(&b);
		buf_printf(&b, "%s.", cli_commands[i].summary);
		fprintf(f, "      ");
		print_wrapped(f, buf_str(&b), 6, 6);
	}
	fputs("\nOptions:\n", f);
	print_options(f, 0, &b);
	fputs("\nCommand options:\n", f);
	print_options(f, ~0u, &b);
	fputs("\nAreas are ONS codes or names ('E23000039', 'dorset', 'south "
	      "west'); offences\ncodes or descriptions ('S15A', '88A', "
	      "'sexual grooming'); periods as people\nwrite them ('2017/18', "
	      "'2024/25 Q1'). Options may come before or after the\n"
	      "command. 'offstat COMMAND --help' describes one command.\n\n"
	      "Exit status: 0 on success, 1 when output cannot be written, "
	      "2 on a usage\nerror, otherwise liboffstat's error value: 5 "
	      "connection refused, 6 timed out,\n25 not found, ... (20 plus "
	      "the service's status code; see docs/CLI.md).\n",
	      f);
	buf_free(&b);
}

static const struct option *
find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (strlen(options[i].long_name) == len &&
		    strncmp(options[i].long_name, name, len) == 0) {
			return (&options[i]);
		}
	}
	return (NULL);
}

static const struct option *
find_short(char c)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (options[i].short_name == c) {
			return (&options[i]);
		}
	}
	return (NULL);
}

/* "500" and "500ms" are milliseconds; "2s" and "1.5s" seconds. */
static int
parse_timeout(const char *s, int *ms)
{
	char  *end;
	double v;

	errno = 0;
	v     = strtod(s, &end);
	if (end == s || errno != 0 || !(v >= 0)) {
		return (-1);
	}
	if (strcmp(end, "s") == 0) {
		v *= 1000;
	} else if (*end != '\0' && strcmp(end, "ms") != 0) {
		return (-1);
	}
	if (v > INT_MAX) {
		return (-1);
	}
	*ms = (int)(v + 0.5);
	/* A positive timeout too small to count as a millisecond is one. */
	if (*ms == 0 && v > 0) {
		*ms = 1;
	}
	return (0);
}

/* "0.99" or "99%": a level strictly between 0 and 1. */
static int
parse_confidence(const char *s, double *level)
{
	char  *end;
	double v;

	errno = 0;
	v     = strtod(s, &end);
	if (end == s || errno != 0) {
		return (-1);
	}
	if (strcmp(end, "%") == 0) {
		v /= 100;
	} else if (*end != '\0') {
		return (-1);
	}
	if (!(v > 0 && v < 1)) {
		return (-1);
	}
	*level = v;
	return (0);
}

/* A whole number from 1 to max, in digits. */
static int
parse_positive(const char *s, unsigned long long max, unsigned long long *n)
{
	char              *end;
	unsigned long long v;

	if (*s < '0' || *s > '9') {
		return (-1);
	}
	errno = 0;
	v     = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0 || v == 0 || v > max) {
		return (-1);
	}
	*n = v;
	return (0);
}

/* A positive count, as the service's uint32 field takes it. */
static int
parse_limit(const char *s, unsigned *n)
{
	unsigned long long v;

	if (parse_positive(s, UINT32_MAX, &v) != 0) {
		return (-1);
	}
	*n = (unsigned)v;
	return (0);
}

static int
apply(struct cli *cli, const struct option *o, const char *value,
      const char *spelled)
{
	offstat_area_kind  kind;
	offstat_rank_by    by;
	unsigned long long n;

	switch (o->id) {
	case OPT_URL:
		if (value[0] == '\0') {
			return (cli_usage_error("%s needs a URL", spelled));
		}
		/* Repeated, the addresses add up (replicas). */
		if (cli->url_set) {
			static char joined[4096];
			if (strlen(cli->url) + strlen(value) + 2 >
			    sizeof(joined)) {
				return (cli_usage_error("too many addresses"));
			}
			if (cli->url != joined) {
				snprintf(joined, sizeof(joined), "%s",
				         cli->url);
			}
			strcat(joined, ",");
			strcat(joined, value);
			value = joined;
		}
		cli->url     = value;
		cli->url_set = true;
		break;
	case OPT_TLS_CA:
		cli->tls_ca = value;
		break;
	case OPT_TLS_CERT:
		cli->tls_cert = value;
		break;
	case OPT_TLS_KEY:
		cli->tls_key = value;
		break;
	case OPT_TLS_SERVER_NAME:
		cli->tls_server_name = value;
		break;
	case OPT_TOKEN:
		cli->token = value;
		break;
	case OPT_OUTPUT:
		if (strcmp(value, "table") == 0) {
			cli->format = CLI_TABLE;
		} else if (strcmp(value, "json") == 0) {
			cli->format = CLI_JSON;
		} else if (strcmp(value, "csv") == 0) {
			cli->format = CLI_CSV;
		} else {
			return (cli_usage_error("unknown output format '%s' "
			                        "(table, json or csv)",
			                        value));
		}
		cli->format_set = true;
		break;
	case OPT_TIMEOUT:
		if (parse_timeout(value, &cli->timeout_ms) != 0) {
			return (cli_usage_error("bad timeout '%s' (e.g. 500, "
			                        "500ms, 2s; 0 for none)",
			                        value));
		}
		break;
	case OPT_QUIET:
		cli->quiet = true;
		break;
	case OPT_VERBOSE:
		cli->verbose++;
		break;
	case OPT_HELP:
		cli->help = true;
		break;
	case OPT_VERSION:
		cli->version = true;
		break;
	case OPT_KIND:
		if (offstat_area_kind_parse(&kind, value) != OFFSTAT_OK) {
			return (cli_usage_error(
			        "unknown area kind '%s' "
			        "(force, region, country, group, "
			        "nation, body or any)",
			        value));
		}
		cli->kind = value;
		break;
	case OPT_PARENT:
		cli->parent = value;
		break;
	case OPT_GROUP:
		cli->group = value;
		break;
	case OPT_SOURCE:
		cli->source = value;
		break;
	case OPT_FROM:
		cli->from = value;
		break;
	case OPT_TO:
		cli->to = value;
		break;
	case OPT_QUARTERLY:
		cli->quarterly = true;
		break;
	case OPT_WITH:
		if (cli->n_with == CLI_MAX_WITH) {
			return (cli_usage_error("at most %d --with areas",
			                        CLI_MAX_WITH));
		}
		cli->with[cli->n_with++] = value;
		break;
	case OPT_CONFIDENCE:
		if (parse_confidence(value, &cli->confidence) != 0) {
			return (cli_usage_error("bad confidence level '%s' "
			                        "(e.g. 0.99 or 99%%)",
			                        value));
		}
		break;
	case OPT_BY:
		if (offstat_rank_by_parse(&by, value) != OFFSTAT_OK) {
			return (cli_usage_error("unknown ranking '%s' (count, "
			                        "rate, rate-u18 or change)",
			                        value));
		}
		cli->by = value;
		break;
	case OPT_BASE:
		cli->base = value;
		break;
	case OPT_WITHIN:
		cli->within = value;
		break;
	case OPT_LIMIT:
		if (parse_limit(value, &cli->limit) != 0) {
			return (cli_usage_error("bad limit '%s' (a whole "
			                        "number above 0)",
			                        value));
		}
		break;
	case OPT_CHART:
		cli->chart = true;
		break;
	case OPT_SVG:
		if (value[0] == '\0') {
			return (cli_usage_error("%s needs a file name",
			                        spelled));
		}
		cli->svg = value;
		break;
	case OPT_AS_OF:
		if (parse_positive(value, UINT64_MAX, &n) != 0) {
			return (cli_usage_error("bad release '%s' (a release "
			                        "id, as 'offstat releases' "
			                        "lists them)",
			                        value));
		}
		cli->as_of = (uint64_t)n;
		break;
	case OPT_HISTORY:
		cli->history = true;
		break;
	case OPT_ALL:
		cli->all = true;
		break;
	case OPT_LABEL:
		if (value[0] == '\0') {
			return (cli_usage_error("%s needs some text",
			                        spelled));
		}
		cli->label = value;
		break;
	case OPT_BATCH_ROWS:
		if (parse_positive(value, OFFSTAT_INGEST_MAX_ROWS, &n) != 0) {
			return (cli_usage_error("bad batch size '%s' (1 to "
			                        "%d rows)",
			                        value,
			                        OFFSTAT_INGEST_MAX_ROWS));
		}
		cli->batch_rows = (unsigned)n;
		break;
	case OPT_COUNT_:
		break;
	}
	return (0);
}

static int
positional(struct cli *cli, const char *arg)
{
	if (cli->command == NULL) {
		for (size_t i = 0; i < cli_n_commands; i++) {
			if (strcmp(cli_commands[i].name, arg) == 0) {
				cli->command = &cli_commands[i];
				return (0);
			}
		}
		return (cli_usage_error("unknown command '%s'", arg));
	}
	if (cli->n_args == cli->command->max_args) {
		return (cli_usage_error("too many arguments for %s: '%s'",
		                        cli->command->name, arg));
	}
	cli->args[cli->n_args++] = arg;
	return (0);
}

/* Options that make sense only together, or not together. */
static int
check_combinations(const struct cli *cli)
{
	offstat_rank_by by = OFFSTAT_RANK_COUNT;

	if (cli->by != NULL) {
		offstat_rank_by_parse(&by, cli->by);
	}
	if (cli->command->bit == CLI_CMD_RANK) {
		if (by == OFFSTAT_RANK_CHANGE && cli->base == NULL) {
			return (cli_usage_error(
			        "rank --by change needs --base "
			        "PERIOD, the earlier period"));
		}
		if (by != OFFSTAT_RANK_CHANGE && cli->base != NULL) {
			return (cli_usage_error("--base applies only to rank "
			                        "--by change"));
		}
	}
	if (cli->command->bit == CLI_CMD_CHART && cli->svg == NULL) {
		return (cli_usage_error("chart needs --svg FILE"));
	}
	/* Bars are for people; machines get the numbers. */
	if (cli->chart && cli->format_set && cli->format != CLI_TABLE) {
		return (cli_usage_error(
		        "--chart draws for a terminal; it does "
		        "not combine with -o json or csv"));
	}
	if (cli->chart && cli->history) {
		return (cli_usage_error("--history shows revisions in the "
		                        "table; it does not combine with "
		                        "--chart"));
	}
	if (cli->command->bit == CLI_CMD_INGEST && cli->label == NULL) {
		return (cli_usage_error("ingest needs --label TEXT, the new "
		                        "release's label"));
	}
	return (0);
}

int
cli_parse(struct cli *cli, int argc, char **argv)
{
	const struct option *seen[OPT_COUNT_] = {NULL};
	bool                 options_done     = false;
	int                  rv;

	/* No command has more arguments than the command line. */
	if ((cli->args = calloc((size_t)argc + 1, sizeof(*cli->args))) ==
	    NULL) {
		fputs("offstat: out of memory\n", stderr);
		return (OFFSTAT_ENOMEM);
	}

	for (int i = 1; i < argc; i++) {
		const char          *arg = argv[i];
		const struct option *o;
		const char          *value = NULL;
		char                 spelled[64];

		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			if ((rv = positional(cli, arg)) != 0) {
				return (rv);
			}
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq   = strchr(name, '=');
			size_t      len  = eq != NULL ? (size_t)(eq - name)
			                              : strlen(name);
			if ((o = find_long(name, len)) == NULL) {
				return (cli_usage_error("unknown option "
				                        "'--%.*s'",
				                        (int)len, name));
			}
			snprintf(spelled, sizeof(spelled), "--%s",
			         o->long_name);
			if (o->arg == NULL && eq != NULL) {
				return (cli_usage_error("%s takes no value",
				                        spelled));
			}
			if (o->arg != NULL) {
				if (eq != NULL) {
					value = eq + 1;
				} else if (i + 1 < argc) {
					value = argv[++i];
				} else {
					return (cli_usage_error("%s needs %s",
					                        spelled,
					                        o->arg));
				}
			}
			if ((rv = apply(cli, o, value, spelled)) != 0) {
				return (rv);
			}
			seen[o->id] = o;
			continue;
		}
		/* Short options, bundled: -qv, -ojson, -o json. */
		for (const char *p = arg + 1; *p != '\0'; p++) {
			if ((o = find_short(*p)) == NULL) {
				return (cli_usage_error("unknown option '-%c'",
				                        *p));
			}
			snprintf(spelled, sizeof(spelled), "-%c", *p);
			value = NULL;
			if (o->arg != NULL) {
				if (p[1] != '\0') {
					value = p + 1;
				} else if (i + 1 < argc) {
					value = argv[++i];
				} else {
					return (cli_usage_error("%s needs %s",
					                        spelled,
					                        o->arg));
				}
			}
			if ((rv = apply(cli, o, value, spelled)) != 0) {
				return (rv);
			}
			seen[o->id] = o;
			if (value != NULL) {
				break;
			}
		}
	}

	if (cli->help || cli->version) {
		return (0);
	}
	if (cli->command == NULL) {
		return (cli_usage_error("no command given"));
	}
	for (size_t i = 0; i < OPT_COUNT_; i++) {
		const struct option *o = seen[i];
		if (o != NULL && o->commands != 0 &&
		    (o->commands & cli->command->bit) == 0) {
			return (cli_usage_error("--%s does not apply to %s",
			                        o->long_name,
			                        cli->command->name));
		}
	}
	if (cli->n_args < cli->command->min_args) {
		return (cli_usage_error("%s needs %s", cli->command->name,
		                        cli->command->synopsis));
	}
	if (cli->command->bit == CLI_CMD_COMPARE &&
	    (cli->from == NULL || cli->to == NULL)) {
		return (cli_usage_error("compare needs --from PERIOD and --to "
		                        "PERIOD"));
	}
	return (check_combinations(cli));
}
