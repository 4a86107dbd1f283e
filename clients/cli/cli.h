#ifndef OFFSTAT_CLI_CLI_H
#define OFFSTAT_CLI_CLI_H

/*
 * offstat, the command-line client. Split like curl's tool:
 * args.c     the option table, which drives parsing and --help;
 * commands.c one function per command: call liboffstat, report, write;
 * output.c   how each result looks as a table, JSON or CSV;
 * chart.c    charts: bars in the terminal, SVG line charts in a file;
 * writers.c  the formats: aligned tables, JSON and CSV writers;
 * ingest.c   the ingest command: progress on stderr, the summary;
 * main.c     the order of things and the exit code.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <offstat/offstat.h>

/* Exit codes of the command's own: 0 and the library's values aside. */
#define CLI_EXIT_FAILURE 1 /* Output could not be written. */
#define CLI_EXIT_USAGE   2 /* A usage error (= OFFSTAT_EINVAL). */

#define CLI_DEFAULT_TIMEOUT_MS 10000

/* The version this command was built as: the header's. */
#define CLI_STR_(x) #x
#define CLI_STR(x)  CLI_STR_(x)
#define CLI_VERSION                                                           \
	CLI_STR(OFFSTAT_VERSION_MAJOR)                                        \
	"." CLI_STR(OFFSTAT_VERSION_MINOR) "." CLI_STR(OFFSTAT_VERSION_PATCH)
#define CLI_MAX_WITH 16 /* The service takes at most 16 comparators. */

enum cli_format {
	CLI_TABLE,
	CLI_JSON,
	CLI_CSV,
};

/* Everything the command line and the environment said. */
struct cli {
	const char     *url;
	bool            url_set; /* by an option: a second one adds */
	const char     *token;
	const char     *tls_ca, *tls_cert, *tls_key, *tls_key_password;
	const char     *tls_server_name;
	enum cli_format format;
	bool            format_set;
	int             timeout_ms;
	bool            quiet;
	int             verbose;
	bool            help;
	bool            version;

	const struct cli_command *command;
	const char **args; /* The command's positional arguments. */
	size_t       n_args;

	/* Command options. */
	const char *kind;
	const char *parent;
	const char *group;
	const char *source;
	const char *from;
	const char *to;
	bool        quarterly;
	const char *with[CLI_MAX_WITH];
	size_t      n_with;
	double      confidence; /* 0: the service's default (0.95). */
	const char *by;         /* rank: count, rate, rate-u18, change. */
	const char *base;       /* rank --by change: the earlier period. */
	const char *within;     /* rank: only areas inside this one. */
	unsigned    limit;      /* rank: 0 for all. */
	bool        chart;      /* series: bars instead of a table. */
	const char *svg;        /* chart: the file to write; "-" stdout. */
	uint64_t    as_of;      /* Queries: a committed release; 0 latest. */
	bool        history;    /* series: each point's revisions. */
	bool        all;        /* releases: open and aborted ones too. */
	const char *label;      /* ingest: the release's label. */
	unsigned    batch_rows; /* ingest: 0 for the library's default. */
};

/* Command bits, so that an option can say which commands take it. */
enum {
	CLI_CMD_INFO     = 1u << 0,
	CLI_CMD_AREAS    = 1u << 1,
	CLI_CMD_OFFENCES = 1u << 2,
	CLI_CMD_SOURCES  = 1u << 3,
	CLI_CMD_COUNT    = 1u << 4,
	CLI_CMD_SERIES   = 1u << 5,
	CLI_CMD_COMPARE  = 1u << 6,
	CLI_CMD_RANK     = 1u << 7,
	CLI_CMD_CHART    = 1u << 8,
	CLI_CMD_RELEASES = 1u << 9,
	CLI_CMD_INGEST   = 1u << 10,
};

/* A command: its name, how it is called and what runs it. */
struct cli_command {
	const char *name;
	const char *synopsis; /* Positional arguments, for --help. */
	const char *summary;  /* One line, for --help. */
	size_t      min_args;
	size_t      max_args;
	unsigned    bit; /* Which command options apply: see args.c. */
	int (*run)(struct cli *cli, offstat_client *client);
};

/* commands.c */
extern const struct cli_command cli_commands[];
extern const size_t             cli_n_commands;

/* ingest.c: the ingest command. */
int cli_run_ingest(struct cli *cli, offstat_client *client);

/* args.c: returns 0, or CLI_EXIT_USAGE after printing why. */
int  cli_parse(struct cli *cli, int argc, char **argv);
void cli_help(FILE *f, const struct cli_command *command);
int  cli_usage_error(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 1, 2)))
#endif
        ;

/* main.c: reports a failed call on stderr; returns the exit code. */
int cli_fail(const struct cli *cli, int rv, const offstat_status *st);
/* main.c: a diagnostic line on stderr, unless -q. */
void cli_note(const struct cli *cli, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

/* ---- output.c: one writer per result, in the format asked for, on stdout.
 * Each returns 0, or OFFSTAT_ENOMEM when memory ran out. */
int out_info(enum cli_format format, const char *url,
             const offstat_server_info *info);
int out_areas(enum cli_format format, const offstat_area_list *list);
int out_offences(enum cli_format format, const offstat_offence_list *list);
int out_sources(enum cli_format format, const offstat_source_list *list);
int out_count(enum cli_format format, const offstat_count *r);
int out_series(enum cli_format format, const offstat_series *r, bool quarterly,
               bool history);
int out_comparison(enum cli_format format, const offstat_comparison *r);
int out_ranking(enum cli_format format, const offstat_ranking *r,
                const char *within);
int out_releases(enum cli_format format, const offstat_release_list *list,
                 bool all);
int out_ingest(enum cli_format format, const offstat_ingest_result *r,
               const char *label, const char *const *files, size_t n_files,
               double seconds);

/* output.c: pieces the charts share with the tables. */
void out_heading(FILE *f, const offstat_area *a, const offstat_offence *o,
                 const char *extra);
void out_legend(FILE *f, const offstat_source *s, size_t n);
void out_release(FILE *f, const char *release);
void out_para(FILE *f, const char *text, int indent); /* Wrapped at 79. */

/* ---- chart.c ------------------------------------------------------------ */

/* The series as horizontal bars on stdout, as wide as the terminal
 * ($COLUMNS, else the terminal's width, else 80). Returns 0 or
 * OFFSTAT_ENOMEM. */
int chart_bars(const offstat_series *r, bool quarterly);

/*
 * Writes to f an SVG line chart of lines[0] (the subject) and the
 * comparators after it, one series each over the same periods: the rate
 * per 100,000 people when every line's population is known, else counts,
 * with interval bands, the series break, small numbers, a legend and the
 * sources. *rates says which was plotted, *bands whether every plotted
 * point has its band. Returns 0 or OFFSTAT_ENOMEM.
 */
int chart_svg(FILE *f, offstat_series *const *lines, size_t n_lines,
              bool quarterly, bool *rates, bool *bands);

/* What chart_svg wrote to file, in the format asked for, on stdout. */
int out_chart(enum cli_format format, const char *file,
              offstat_series *const *lines, size_t n_lines, bool rates,
              bool bands);

/* ---- writers.c: the formats themselves ---------------------------------- */

/* A growing text buffer; on allocation failure it stays usable but marks
 * itself failed (and the command exits ENOMEM). */
struct buf {
	char  *s;
	size_t len;
	size_t cap;
	bool   failed;
};
void buf_add(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
const char *buf_str(struct buf *b); /* "" while empty. */
void        buf_reset(struct buf *b);
void        buf_free(struct buf *b);

/* Text for values shared by the formats. */
void   fmt_flags(struct buf *b, unsigned flags, const char *sep);
void   fmt_double(char *out, size_t n, double d); /* Round-trips. */
void   fmt_fixed(char *out, size_t n, double d, int decimals); /* inf */
void   fmt_p_value(char *out, size_t n, double p);
void   fmt_level(char *out, size_t n, double confidence); /* "95%" */
void   fmt_grouped(char *out, size_t n, uint64_t v);      /* "12,345" */
size_t text_width(const char *s);             /* Code points of UTF-8. */
size_t text_width_n(const char *s, size_t n); /* Of n bytes. */
/* The length of the well-formed UTF-8 sequence at s, else 0 (also at the
 * terminating NUL). */
size_t      utf8_len(const unsigned char *s);
void        fmt_period_year(char *out, size_t n, unsigned year);
const char *fmt_coverage_method(int method);
const char *fmt_period_kind(int kind);

/* Aligned columns for people. Cells are copied. */
struct table;
struct table *table_new(size_t ncols, const char *const *headers);
void          table_right(struct table *t, size_t col); /* Numbers. */
void          table_row(struct table *t);
void          table_cell(struct table *t, const char *s);
void          table_cellf(struct table *t, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
bool table_failed(const struct table *t);
void table_print(struct table *t, FILE *f);
void table_free(struct table *t);

/* JSON: always valid, strings escaped, pretty-printed. Keys are NULL inside
 * arrays. */
struct json {
	FILE *f;
	int   depth;
	bool  need_comma;
};
void json_init(struct json *j, FILE *f);
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *s);
void json_uint(struct json *j, const char *key, unsigned long long v);
void json_int(struct json *j, const char *key, long long v);
void json_double(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
void json_finish(struct json *j); /* The final newline. */

/* CSV (RFC 4180): fields quoted when they need it, rows end in CRLF. */
struct csv {
	FILE *f;
	bool  row_started;
};
void csv_init(struct csv *c, FILE *f);
void csv_field(struct csv *c, const char *s);
void csv_uint(struct csv *c, unsigned long long v);
void csv_double(struct csv *c, bool known, double d); /* "" unknown. */
void csv_end_row(struct csv *c);

#endif
