#ifndef OFFSTAT_OFFSTAT_H
#define OFFSTAT_OFFSTAT_H

/*
 * liboffstat: a small C client for offstatd, the police recorded crime
 * statistics service.
 *
 * A client is a handle on one connection to a service. Every call sends one
 * request and waits for its reply. Calls may be made from several threads
 * at once on one client; each waits only for its own reply.
 *
 * Conventions used by every function below:
 * - A function that can fail returns an offstat_err value: 0 (OFFSTAT_OK) on
 *   success. Results are written through its first pointer argument, and
 *   only on success; offstat_ingest_file is the one exception, and says
 *   so.
 * - A result is one allocation tree owned by the caller, released with the
 *   matching *_free function. Destructors accept NULL.
 * - Strings in results are UTF-8, never NULL, and empty when the service
 *   sent nothing. Arrays are NULL when their count is 0.
 * - Every call takes an optional offstat_status pointer that receives the
 *   service's message and details (or a description of a local failure).
 *   It belongs to the caller and to that call alone, so two threads never
 *   race on an error message.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OFFSTAT_VERSION_MAJOR 0
#define OFFSTAT_VERSION_MINOR 1
#define OFFSTAT_VERSION_PATCH 0

/* The version as a number, for comparisons in the preprocessor. */
#define OFFSTAT_VERSION_NUMBER                                                \
	(OFFSTAT_VERSION_MAJOR * 10000 + OFFSTAT_VERSION_MINOR * 100 +        \
	 OFFSTAT_VERSION_PATCH)

#if defined(__GNUC__) || defined(__clang__)
#define OFFSTAT_EXPORT __attribute__((visibility("default")))
#else
#define OFFSTAT_EXPORT
#endif

/* The address a client uses when it is given none. */
#define OFFSTAT_DEFAULT_URL "tcp://127.0.0.1:7355"

/* The timeout of a new client, in milliseconds. */
#define OFFSTAT_DEFAULT_TIMEOUT_MS 10000

/*
 * The largest reply a client accepts, in bytes. A larger one is dropped
 * with its connection, and the call fails with OFFSTAT_ETIMEDOUT or
 * OFFSTAT_ECONNLOST.
 */
#define OFFSTAT_MAX_REPLY_SIZE (16u * 1024u * 1024u)

/*
 * The error table. Each row is a name, a value and a message. Values are
 * explicit and never change once released; new rows are appended. They stay
 * below 64 so that a program can exit with them.
 *
 * Values 2 to 19 are failures on the caller's side of the wire: a bad
 * argument, memory, the connection, a reply that does not decode, an input
 * file that cannot be read or is not in the format expected, a progress
 * callback that asked to stop. Value 1 is never returned by the library
 * (the offstat command uses it for its own failures).
 *
 * Values 21 to 36 are statuses the service sent back: 20 plus the status
 * code of the service's reply (gRPC's numbering, as in the .proto's Code).
 * The service's own message and details are in the call's offstat_status.
 */
#define OFFSTAT_ERRORS(X)                                                     \
	X(OK, 0, "success")                                                   \
	X(EINVAL, 2, "invalid argument")                                      \
	X(ENOMEM, 3, "out of memory")                                         \
	X(EADDRINVAL, 4, "invalid or unsupported address")                    \
	X(ECONNREFUSED, 5, "connection refused")                              \
	X(ETIMEDOUT, 6, "timed out waiting for the service")                  \
	X(ECONNLOST, 7, "not connected to the service")                       \
	X(EPROTO, 8, "malformed reply from the service")                      \
	X(ETRANSPORT, 9, "transport failure")                                 \
	X(EFILE, 10, "cannot read the input file")                            \
	X(EBADINPUT, 11, "the input is not in the expected format")           \
	X(ESTOPPED, 12, "stopped by the caller")                              \
	X(ETLS, 13, "TLS handshake failed")                                   \
	X(ECANCELLED, 21, "call cancelled by the service")                    \
	X(EUNKNOWN, 22, "unknown error in the service")                       \
	X(EBADREQUEST, 23, "request rejected as invalid")                     \
	X(EDEADLINE, 24, "deadline exceeded in the service")                  \
	X(ENOTFOUND, 25, "not found")                                         \
	X(EEXISTS, 26, "already exists")                                      \
	X(EPERM, 27, "permission denied")                                     \
	X(EEXHAUSTED, 28, "resource exhausted")                               \
	X(EPRECONDITION, 29, "failed precondition")                           \
	X(EABORTED, 30, "aborted")                                            \
	X(ERANGE, 31, "out of range")                                         \
	X(EUNIMPLEMENTED, 32, "not implemented by the service")               \
	X(EINTERNAL, 33, "internal error in the service")                     \
	X(EUNAVAILABLE, 34, "service unavailable")                            \
	X(EDATALOSS, 35, "data loss in the service")                          \
	X(EUNAUTHENTICATED, 36, "not authenticated")

#define OFFSTAT__ERR_ENUM(name, value, message) OFFSTAT_##name = value,
/* The errors every function returns: see OFFSTAT_ERRORS. */
typedef enum offstat_err { OFFSTAT_ERRORS(OFFSTAT__ERR_ENUM) } offstat_err;
#undef OFFSTAT__ERR_ENUM

/* The distance between a service status code and its offstat_err value. */
#define OFFSTAT_SERVER_ERR_BASE 20

/*
 * offstat_strerror returns a short English message for an error value, such
 * as "connection refused". It returns "unknown error" for a value that is
 * not in the table. The string is static; it never fails and never blocks.
 */
OFFSTAT_EXPORT const char *offstat_strerror(int err);

/*
 * offstat_err_name returns the name of an error value without its prefix,
 * such as "ECONNREFUSED" for OFFSTAT_ECONNREFUSED, or NULL for a value that
 * is not in the table. The string is static.
 */
OFFSTAT_EXPORT const char *offstat_err_name(int err);

/*
 * offstat_err_is_server returns true when an error value is a status that
 * the service sent back (OFFSTAT_ECANCELLED to OFFSTAT_EUNAUTHENTICATED),
 * and false for success and for failures on the caller's side (a bad
 * argument, the connection, a timeout, a malformed reply).
 */
OFFSTAT_EXPORT bool offstat_err_is_server(int err);

/*
 * offstat_version returns the library's version, such as "0.1.0". It may
 * differ from the OFFSTAT_VERSION_* macros a program was compiled with. The
 * string is static.
 */
OFFSTAT_EXPORT const char *offstat_version(void);

/*
 * The outcome of one call, in more detail than its return value. The caller
 * owns it. Initialise it to zero (OFFSTAT_STATUS_INIT or memset) before its
 * first use; every call that is given one replaces its contents, releasing
 * what it held; offstat_status_clear releases it at the end.
 *
 * On success, err and code are 0 and message is NULL. When the service
 * answered with a failure, code is the status code it sent (gRPC's
 * numbering, e.g. 5 for NOT_FOUND), message its sentence and details its
 * further lines. When the call failed on the caller's side, code is 0 and
 * message describes the failure (e.g. "connection refused:
 * tcp://127.0.0.1:7355"). message is NULL only when memory ran out.
 */
typedef struct offstat_status {
	int    err;        /* The offstat_err value the call returned. */
	int    code;       /* The service's status code; 0 when none. */
	char  *message;    /* One sentence for people, or NULL. */
	char **details;    /* Further lines from the service. */
	size_t n_details;  /* How many lines details holds. */
	char  *request_id; /* The request id sent, or NULL. */
} offstat_status;

#define OFFSTAT_STATUS_INIT                                                   \
	{                                                                     \
		0, 0, NULL, NULL, 0, NULL                                     \
	}

/*
 * offstat_status_clear releases what a status holds and resets it to zero,
 * ready for reuse. It accepts NULL.
 */
OFFSTAT_EXPORT void offstat_status_clear(offstat_status *status);

/* ------------------------------------------------------------------------
 * The client
 * ------------------------------------------------------------------------ */

/* A connection to a service. Opaque; safe to share between threads. */
typedef struct offstat_client offstat_client;

/*
 * offstat_client_open connects to the service at url and writes a new
 * client to *out. url is "tcp://HOST:PORT" or "ipc:///path", or several
 * such addresses of replicas separated by commas or spaces; NULL means
 * OFFSTAT_DEFAULT_URL. It is offstat_client_open_opts with only the url
 * set: see there.
 */
OFFSTAT_EXPORT int offstat_client_open(offstat_client **out, const char *url);

/*
 * Options for offstat_client_open_opts. Start from OFFSTAT_CLIENT_OPTS_INIT
 * (all zero) and set what you need; fields may be added at the end in
 * later versions.
 */
typedef struct offstat_client_opts {
	/* One address or several (replicas of one service) separated by
	 * commas or spaces: "tcp://HOST:PORT", "ipc:///path" or
	 * "tls+tcp://HOST:PORT"; at most OFFSTAT_MAX_URLS. NULL:
	 * OFFSTAT_DEFAULT_URL. */
	const char *url;
	/* How long opening waits for a first connection, in milliseconds;
	 * 0: OFFSTAT_DEFAULT_TIMEOUT_MS. */
	int connect_timeout_ms;
	/* TLS (tls+tcp:// addresses only). tls_ca: the PEM file of the
	 * CA(s) the service's certificate must chain to; NULL: the
	 * system's bundle (/etc/ssl/certs/ca-certificates.crt). The
	 * service's certificate must also name the host of the address,
	 * or tls_server_name when set. tls_cert and tls_key: this client's
	 * certificate and private key (PEM), for services that require
	 * client certificates; tls_key_password when the key is
	 * encrypted. */
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_key_password;
	const char *tls_server_name;
} offstat_client_opts;

#define OFFSTAT_CLIENT_OPTS_INIT                                              \
	{                                                                     \
		NULL, 0, NULL, NULL, NULL, NULL, NULL                         \
	}

/* Addresses one client takes at most. */
#define OFFSTAT_MAX_URLS 16

/*
 * offstat_client_open_opts connects to the service and writes a new client
 * to *out. It dials every address at once and returns as soon as one
 * connection is up, or fails when every address has refused or the
 * connect timeout has passed. Addresses not up yet, and connections that
 * drop later, are dialled again in the background (every 0.1 s at first,
 * then up to every 2 s), so a replica that starts or comes back takes its
 * share of the calls.
 *
 * Calls are spread over the connections that are up (NNG REQ). A call that
 * reads (every method but Ingest) and fails because its connection broke,
 * or that the service answers UNAVAILABLE (a replica shutting down), is
 * sent again, to another replica when there is one, within the call's
 * timeout. Ingest calls carry idempotency keys and are retried by the
 * ingest functions themselves; they need a client opened with one address
 * (each replica keeps its own database and is loaded on its own), and fail
 * with OFFSTAT_EINVAL on a client with several.
 *
 * Errors: OFFSTAT_EINVAL (out or opts is NULL, or a TLS option without a
 * tls+tcp:// address, or a certificate without its key),
 * OFFSTAT_EADDRINVAL (an address is malformed, its scheme unsupported or
 * its host unknown, or more than OFFSTAT_MAX_URLS), OFFSTAT_EFILE (a TLS
 * file cannot be read or is not PEM, or the key does not open),
 * OFFSTAT_ECONNREFUSED (nothing listens at any address), OFFSTAT_ETLS
 * (the TLS handshake failed: the service's certificate is not trusted or
 * does not name the host, or the service refused this client's
 * certificate or its lack of one), OFFSTAT_ETIMEDOUT (no connection
 * within the connect timeout), OFFSTAT_ENOMEM,
 * OFFSTAT_ETRANSPORT (any other failure to connect). On failure *out is
 * unchanged.
 *
 * The caller owns the client and releases it with offstat_client_close.
 */
OFFSTAT_EXPORT int offstat_client_open_opts(offstat_client           **out,
                                            const offstat_client_opts *opts);

/*
 * offstat_client_close closes the connection and releases the client. No
 * call on the client may be in progress or started afterwards. It accepts
 * NULL. It blocks briefly while the connection closes.
 */
OFFSTAT_EXPORT void offstat_client_close(offstat_client *client);

/*
 * offstat_client_set_timeout sets how long each later call waits for its
 * reply, in milliseconds (OFFSTAT_DEFAULT_TIMEOUT_MS at first); 0 waits
 * without limit. The service is told the timeout too, so that it can give
 * up on a call nobody waits for any more. Calls already in progress keep
 * their timeout. It never blocks.
 *
 * Errors: OFFSTAT_EINVAL (client is NULL or ms is negative).
 */
OFFSTAT_EXPORT int offstat_client_set_timeout(offstat_client *client, int ms);

/*
 * offstat_client_set_token sets the credential that later calls send, as
 * the metadata "authorization: Bearer <token>"; NULL or "" sends none. The
 * client keeps its own copy. Calls already in progress are unaffected.
 *
 * Errors: OFFSTAT_EINVAL (client is NULL, or the token contains a control
 * character), OFFSTAT_ENOMEM (the token is unchanged).
 */
OFFSTAT_EXPORT int offstat_client_set_token(offstat_client *client,
                                            const char     *token);

/*
 * offstat_client_url returns the address (or addresses, as given) the
 * client was opened with. The string belongs to the client and lives as
 * long as it.
 */
OFFSTAT_EXPORT const char *offstat_client_url(const offstat_client *client);

/* ------------------------------------------------------------------------
 * What results are made of
 * ------------------------------------------------------------------------ */

/*
 * Caveats that travel with a value, as a bitmask: bit n-1 is the .proto's
 * Flag n. A flag the library does not know yet still sets its bit.
 */
#define OFFSTAT_FLAG_PROVISIONAL  (1u << 0) /* Marked provisional. */
#define OFFSTAT_FLAG_REVISED      (1u << 1) /* Changed between releases. */
#define OFFSTAT_FLAG_SERIES_BREAK (1u << 2) /* Definition changed. */
#define OFFSTAT_FLAG_ESTIMATED    (1u << 3) /* Derived, not recorded. */
#define OFFSTAT_FLAG_SMALL_NUMBER (1u << 4) /* Under 10: % mislead. */
#define OFFSTAT_FLAG_INCOMPLETE   (1u << 5) /* Members or quarters missing. */
#define OFFSTAT_FLAG_CONFLICT     (1u << 6) /* Sources disagree. */

/*
 * offstat_flag_name returns the name of one flag bit, such as
 * "SMALL_NUMBER" for OFFSTAT_FLAG_SMALL_NUMBER, or NULL when flag is not
 * exactly one known bit. The string is static.
 */
OFFSTAT_EXPORT const char *offstat_flag_name(unsigned flag);

/* The kinds of area (the .proto's AreaKind). */
typedef enum offstat_area_kind {
	OFFSTAT_AREA_ANY     = 0, /* Not stated; as a filter, any kind. */
	OFFSTAT_AREA_FORCE   = 1, /* A territorial police force area. */
	OFFSTAT_AREA_REGION  = 2, /* An English region. */
	OFFSTAT_AREA_COUNTRY = 3, /* England, Wales, Scotland, N. Ireland. */
	OFFSTAT_AREA_GROUP   = 4, /* A published grouping of forces. */
	OFFSTAT_AREA_NATION  = 5, /* The United Kingdom. */
	OFFSTAT_AREA_BODY    = 6, /* A recording body with no area. */
} offstat_area_kind;

/*
 * offstat_area_kind_name returns the name of an area kind, such as "FORCE",
 * or NULL for a value the library does not know. The string is static.
 */
OFFSTAT_EXPORT const char *offstat_area_kind_name(int kind);

/*
 * offstat_area_kind_parse writes to *out the area kind named by name,
 * ignoring case ("force", "REGION"; "any" is OFFSTAT_AREA_ANY).
 *
 * Errors: OFFSTAT_EINVAL (out or name is NULL, or the name is unknown).
 */
OFFSTAT_EXPORT int offstat_area_kind_parse(offstat_area_kind *out,
                                           const char        *name);

/* How a period is to be read (the .proto's PeriodKind). */
typedef enum offstat_period_kind {
	OFFSTAT_PERIOD_UNSPECIFIED  = 0, /* Not stated. */
	OFFSTAT_PERIOD_YEAR         = 1, /* A financial year, April-March. */
	OFFSTAT_PERIOD_QUARTER      = 2, /* One financial quarter. */
	OFFSTAT_PERIOD_ROLLING_YEAR = 3, /* Twelve months ending a quarter. */
} offstat_period_kind;

/* A period of time, as the service resolved it. */
typedef struct offstat_period {
	unsigned            year;    /* Start year: 2017 is 2017/18. */
	unsigned            quarter; /* 0 for a year; 1-4 (1 = Apr-Jun). */
	offstat_period_kind kind;    /* How year and quarter are read. */
	char               *text;    /* Its label, e.g. "2024/25 Q1". */
} offstat_period;

/* An area: a police force area, region, country or other. */
typedef struct offstat_area {
	char             *code;               /* ONS code, e.g. "E23000039". */
	char             *name;               /* The name people use. */
	offstat_area_kind kind;               /* What sort of area. */
	char             *parent_code;        /* The area it sums into. */
	char             *region_code;        /* Its region. */
	char             *country_code;       /* Its country. */
	char            **aliases;            /* Other names that resolve. */
	size_t            n_aliases;          /* How many aliases. */
	uint64_t          population;         /* Mid-2020; 0 unknown. */
	uint64_t          population_under18; /* Mid-2020; 0 unknown. */
	char             *population_source;  /* Source id of populations. */
	char            **members;            /* Aggregates: forces summed. */
	size_t            n_members;          /* How many members. */
} offstat_area;

/* A point where an offence's series stops being comparable. */
typedef struct offstat_series_break {
	unsigned year; /* First financial year of the new definition. */
	char    *note; /* What changed. */
} offstat_series_break;

/* An offence or offence series. */
typedef struct offstat_offence {
	char                 *code;        /* "88A", "S15A", "4.10". */
	char                 *description; /* "Sexual grooming". */
	char                 *group;       /* "Sexual offences". */
	char                 *subgroup;    /* "Other sexual offences". */
	char                 *note;        /* Definition notes. */
	offstat_series_break *breaks;      /* Definition changes. */
	size_t                n_breaks;    /* How many breaks. */
} offstat_offence;

/* Where figures come from (the .proto's SourceKind). */
typedef enum offstat_source_kind {
	OFFSTAT_SOURCE_UNSPECIFIED = 0, /* Not stated. */
	OFFSTAT_SOURCE_OPEN_DATA   = 1, /* Official statistics, open data. */
	OFFSTAT_SOURCE_FOI         = 2, /* Freedom of Information replies. */
	OFFSTAT_SOURCE_PRESS       = 3, /* Figures as reported in the press. */
	OFFSTAT_SOURCE_REFERENCE   = 4, /* Reference data, e.g. populations. */
} offstat_source_kind;

/*
 * offstat_source_kind_name returns the name of a source kind, such as
 * "OPEN_DATA", or NULL for a value the library does not know. The string is
 * static.
 */
OFFSTAT_EXPORT const char *offstat_source_kind_name(int kind);

/* A publication that figures come from. */
typedef struct offstat_source {
	char               *id;        /* Stable short id, e.g. "echo-2021". */
	char               *title;     /* Title for people. */
	char               *publisher; /* Who published it. */
	char               *published; /* When, as precisely as known. */
	char               *url;       /* Where, when known. */
	offstat_source_kind kind;      /* What sort of source. */
	char               *note;      /* Caveats about the source. */
} offstat_source;

/* A figure from another source for the same cell (see CONFLICT). */
typedef struct offstat_alternative {
	uint64_t count;     /* The other source's figure. */
	char    *source_id; /* Its source. */
	char    *note;      /* Why it was not the one used. */
} offstat_alternative;

/* How an aggregate's figure was obtained (the .proto's Coverage.Method). */
typedef enum offstat_coverage_method {
	OFFSTAT_COVERAGE_NONE      = 0, /* Not an aggregate. */
	OFFSTAT_COVERAGE_PUBLISHED = 1, /* Published for the aggregate. */
	OFFSTAT_COVERAGE_SUM       = 2, /* The sum of its members' figures. */
} offstat_coverage_method;

/* For an aggregate, which of its members contributed. */
typedef struct offstat_coverage {
	offstat_coverage_method method;           /* How it was obtained. */
	unsigned                members_expected; /* Members it has. */
	unsigned                members_present;  /* Members that counted. */
	char                  **missing;          /* Codes of the others. */
	size_t                  n_missing;        /* How many are missing. */
} offstat_coverage;

/*
 * A rate per 100,000 people with its exact (Garwood) Poisson interval, at
 * the confidence level of the reply (0.95 unless asked otherwise). known is
 * false, and the numbers 0, when the population or the count is unknown.
 * An aggregate summed from some of its members covers those members'
 * population only: population is the denominator actually used.
 */
typedef struct offstat_rate {
	bool     known;             /* False: no rate (numbers are 0). */
	double   per_100k;          /* count / population * 100,000. */
	double   lower;             /* Exact interval of the rate. */
	double   upper;             /*   (upper may be +infinity). */
	uint64_t population;        /* The denominator used. */
	char    *population_source; /* Source id of the population. */
} offstat_rate;

/* The rates of a value: per head of all people and of children. */
typedef struct offstat_rates {
	offstat_rate people;  /* Per 100,000 people (mid-2020). */
	offstat_rate under18; /* Per 100,000 people under 18. */
} offstat_rates;

/*
 * A value as one release left it (a series asked for with history). A
 * release that had no figure for the cell has present false.
 */
typedef struct offstat_revision {
	uint64_t release;       /* The release that left the value so. */
	char    *release_label; /* Its label. */
	char    *committed_at;  /* When it was committed (ISO 8601 UTC). */
	bool     present;       /* False: that release had no figure. */
	uint64_t count;         /* The figure as that release had it. */
	char    *source_id;     /* Its source; "" for sums of several. */
} offstat_revision;

/* One figure: an area, an offence, a period. */
typedef struct offstat_value {
	offstat_period       period;         /* The period and its label. */
	bool                 present;        /* False: there is no figure. */
	uint64_t             count;          /* The figure when present. */
	unsigned             flags;          /* OFFSTAT_FLAG_* bits. */
	char                *source_id;      /* Its source; "" for sums. */
	char                *note;           /* E.g. why a source won. */
	offstat_alternative *alternatives;   /* Other sources' figures. */
	size_t               n_alternatives; /* How many alternatives. */
	offstat_coverage     coverage;       /* Aggregates, part-years. */
	offstat_rates        rates;          /* Where populations are known. */
	/* With history (offstat_query_opts): the value in every release
	 * that changed it, oldest first, up to the release answering. */
	offstat_revision *revisions;
	size_t            n_revisions; /* How many revisions. */
} offstat_value;

/*
 * How a query is answered, beyond what it asks. Zero-initialise it
 * (OFFSTAT_QUERY_OPTS_INIT): every field that is zero, NULL or false asks
 * for the default, and a NULL pointer to options is all defaults. A call
 * ignores the fields it has no use for. The library reads the options
 * only during the call.
 */
typedef struct offstat_query_opts {
	/* Only figures from this source id; NULL or "": any source. */
	const char *source;
	/* Answer from the data as this committed release left it (ids as
	 * offstat_list_releases gives them); 0: the latest. An id that is
	 * not a committed release is OFFSTAT_ENOTFOUND. */
	uint64_t as_of_release;
	/* Compare and rank: the confidence level of intervals, tests and
	 * verdicts; 0: the service's default (0.95). The service accepts
	 * 0.5 to 0.999. */
	double confidence;
	/* Series: also give each point's revisions (offstat_value). */
	bool history;
} offstat_query_opts;

#define OFFSTAT_QUERY_OPTS_INIT                                               \
	{                                                                     \
		NULL, 0, 0.0, false                                           \
	}

/* ------------------------------------------------------------------------
 * GetCount
 * ------------------------------------------------------------------------ */

/* One area, offence and period. */
typedef struct offstat_count {
	offstat_area    area;      /* The resolved area. */
	offstat_offence offence;   /* The resolved offence. */
	offstat_value   value;     /* The figure, present or not. */
	offstat_source *sources;   /* Every source the value names. */
	size_t          n_sources; /* How many sources. */
	char           *release;   /* The dataset release answering. */
} offstat_count;

/*
 * offstat_get_count asks for the figure of one area, offence and period and
 * writes it to *out. area is an ONS code or a name ("dorset"); offence a
 * code or description ("S15A", "88A", "sexual grooming"); period as people
 * write it ("2020/21", "2024/25 Q1"), parsed by the service. source, when
 * not NULL or "", admits only figures from that source id. A value that
 * does not exist is a success with value.present false.
 *
 * Errors: OFFSTAT_EINVAL (out, client, area, offence or period is NULL),
 * OFFSTAT_ENOTFOUND (unknown area, offence or source), OFFSTAT_EBADREQUEST
 * (a malformed period or an ambiguous offence), any other status the
 * service sends, and the transport errors: OFFSTAT_ETIMEDOUT,
 * OFFSTAT_ECONNLOST, OFFSTAT_EPROTO, OFFSTAT_ETRANSPORT, OFFSTAT_ENOMEM.
 *
 * It blocks until the reply arrives or the client's timeout passes. The
 * caller owns *out and releases it with offstat_count_free.
 */
OFFSTAT_EXPORT int offstat_get_count(offstat_count **out,
                                     offstat_client *client, const char *area,
                                     const char *offence, const char *period,
                                     const char     *source,
                                     offstat_status *status);

/* offstat_count_free releases a result of offstat_get_count; NULL is fine. */
OFFSTAT_EXPORT void offstat_count_free(offstat_count *count);

/*
 * offstat_get_count_opts is offstat_get_count with options: opts->source
 * as source is there, and opts->as_of_release to ask for the figure as an
 * earlier committed release left it. opts may be NULL. It fails as
 * offstat_get_count does, and with OFFSTAT_ENOTFOUND for an as_of_release
 * that is not a committed release. Release the result with
 * offstat_count_free.
 */
OFFSTAT_EXPORT int
offstat_get_count_opts(offstat_count **out, offstat_client *client,
                       const char *area, const char *offence,
                       const char *period, const offstat_query_opts *opts,
                       offstat_status *status);

/* ------------------------------------------------------------------------
 * GetSeries
 * ------------------------------------------------------------------------ */

/* How a series is broken into points. */
typedef enum offstat_granularity {
	OFFSTAT_YEARLY    = 1, /* One point per financial year. */
	OFFSTAT_QUARTERLY = 2, /* One point per financial quarter. */
} offstat_granularity;

/* One area and offence over a range of periods. */
typedef struct offstat_series {
	offstat_area    area;      /* The resolved area. */
	offstat_offence offence;   /* The resolved offence. */
	offstat_value  *points;    /* One per period, in order. */
	size_t          n_points;  /* How many points. */
	offstat_source *sources;   /* Every source the points name. */
	size_t          n_sources; /* How many sources. */
	char           *release;   /* The dataset release answering. */
} offstat_series;

/*
 * offstat_get_series asks for the figures of one area and offence from
 * period from to period to, one point per year or per quarter, and writes
 * them to *out. area, offence and source are as for offstat_get_count. from
 * and to may be NULL or "": the series then starts (or ends) where the
 * offence's data does. granularity is OFFSTAT_YEARLY or OFFSTAT_QUARTERLY.
 * Periods without a figure are points with present false.
 *
 * Errors: OFFSTAT_EINVAL (out, client, area or offence is NULL, or an
 * unknown granularity), OFFSTAT_EBADREQUEST (a malformed period, or a range
 * that ends before it starts), OFFSTAT_ENOTFOUND, other statuses and the
 * transport errors as for offstat_get_count.
 *
 * It blocks until the reply arrives or the client's timeout passes. The
 * caller owns *out and releases it with offstat_series_free.
 */
OFFSTAT_EXPORT int
offstat_get_series(offstat_series **out, offstat_client *client,
                   const char *area, const char *offence, const char *from,
                   const char *to, offstat_granularity granularity,
                   const char *source, offstat_status *status);

/* offstat_series_free releases a result of offstat_get_series. */
OFFSTAT_EXPORT void offstat_series_free(offstat_series *series);

/*
 * offstat_get_series_opts is offstat_get_series with options: source and
 * as_of_release as for offstat_get_count_opts, and history, which fills
 * every point's revisions: its value in each release that changed it,
 * oldest first. opts may be NULL. It fails as offstat_get_series does.
 * Release the result with offstat_series_free.
 */
OFFSTAT_EXPORT int offstat_get_series_opts(
        offstat_series **out, offstat_client *client, const char *area,
        const char *offence, const char *from, const char *to,
        offstat_granularity granularity, const offstat_query_opts *opts,
        offstat_status *status);

/* ------------------------------------------------------------------------
 * CompareTrend
 * ------------------------------------------------------------------------ */

/* A change published as a percentage without the counts behind it. */
typedef struct offstat_published_change {
	offstat_period from;      /* The base period as published. */
	offstat_period to;        /* The end period as published. */
	double         percent;   /* The published percentage change. */
	char          *source_id; /* Where it was published. */
	char          *note;      /* The publication's own wording. */
} offstat_published_change;

/*
 * An exact test on a ratio: an area's change (the rate ratio end/base, by
 * the conditional binomial test for two Poisson counts), or one area's
 * change against another's (Fisher's exact test on the 2x2 table of
 * counts). known is false when it cannot be computed; note then says why.
 * A test that was not asked for (versus_subject of a subject, or of a
 * ranked area's trend) is all zero, with empty strings.
 *
 * verdict is the service's words at the test's confidence level: for a
 * change_test "rose", "fell" or "no distinguishable change"; for a
 * versus_subject "higher than", "lower than" or "not distinguishable from"
 * (the subject's change against that of the rest of the comparator).
 */
typedef struct offstat_ratio_test {
	bool   known;      /* False: not computed; note says why. */
	double estimate;   /* The ratio; may be 0 or +infinity. */
	double lower;      /* Exact interval at confidence. */
	double upper;      /*   (upper may be +infinity). */
	double p_value;    /* Exact two-sided p-value that it is 1. */
	double confidence; /* The interval's level, e.g. 0.95. */
	char  *verdict;    /* In words: see above. */
	char  *note;       /* What was compared, or why not. */
} offstat_ratio_test;

/* The change of one area between two periods. */
typedef struct offstat_trend {
	offstat_area              area;        /* The area. */
	offstat_value             base;        /* Base period figure. */
	offstat_value             end;         /* End period figure. */
	bool                      has_change;  /* Both present, comparable. */
	int64_t                   change;      /* end - base. */
	bool                      has_percent; /* has_change, base > 0. */
	double                    percent_change; /* 100 * change / base. */
	bool                      has_difference; /* Comparators only. */
	double                    difference_pp;  /* Subject's % minus this. */
	unsigned                  flags;          /* OFFSTAT_FLAG_* bits. */
	char                     *note;        /* Why unknown; other notes. */
	offstat_published_change *published;   /* Published changes. */
	size_t                    n_published; /* How many. */
	offstat_coverage          coverage;    /* Like-for-like coverage. */
	/* The rate ratio end/base, its exact interval and p-value. */
	offstat_ratio_test change_test;
	/* Comparators only: the subject's ratio against that of the rest
	 * of this comparator (the comparator less the subject); estimate
	 * above 1 means the subject's change was higher. */
	offstat_ratio_test versus_subject;
} offstat_trend;

/* An area's change beside comparators. */
typedef struct offstat_comparison {
	offstat_offence offence;       /* The resolved offence. */
	offstat_trend   subject;       /* The area asked about. */
	offstat_trend  *comparators;   /* In the order asked, or upward. */
	size_t          n_comparators; /* How many comparators. */
	char           *summary;       /* One sentence a reader can quote. */
	offstat_source *sources;       /* Every source the trends name. */
	size_t          n_sources;     /* How many sources. */
	char           *release;       /* The dataset release answering. */
	double          confidence;    /* The level of every interval. */
} offstat_comparison;

/*
 * offstat_compare_trend asks how an area's figure changed from period base
 * to period end beside comparators, and writes the answer to *out. area,
 * offence and source are as for offstat_get_count. comparators lists
 * n_comparators areas (codes or names) to compare with; with none, the
 * service compares with every area the subject sums into (its region, its
 * country and so on).
 *
 * Errors: OFFSTAT_EINVAL (out, client, area, offence, base or end is NULL,
 * or comparators is NULL while n_comparators is not 0), and the statuses
 * and transport errors of offstat_get_count.
 *
 * It blocks until the reply arrives or the client's timeout passes. The
 * caller owns *out and releases it with offstat_comparison_free.
 */
OFFSTAT_EXPORT int
offstat_compare_trend(offstat_comparison **out, offstat_client *client,
                      const char *area, const char *offence, const char *base,
                      const char *end, const char *const *comparators,
                      size_t n_comparators, const char *source,
                      offstat_status *status);

/*
 * offstat_compare_trend_ex is offstat_compare_trend with the confidence
 * level of the intervals, tests and verdicts: 0 asks for the service's
 * default (0.95); otherwise the service accepts 0.5 to 0.999. The level
 * used comes back in the result's confidence and in every test.
 *
 * Errors: those of offstat_compare_trend; OFFSTAT_EINVAL also for a
 * confidence that is negative, not below 1 or not a number, and
 * OFFSTAT_EBADREQUEST for one the service refuses (e.g. 0.2).
 */
OFFSTAT_EXPORT int offstat_compare_trend_ex(
        offstat_comparison **out, offstat_client *client, const char *area,
        const char *offence, const char *base, const char *end,
        const char *const *comparators, size_t n_comparators,
        const char *source, double confidence, offstat_status *status);

/*
 * offstat_comparison_free releases a result of offstat_compare_trend or
 * offstat_compare_trend_ex.
 */
OFFSTAT_EXPORT void offstat_comparison_free(offstat_comparison *comparison);

/*
 * offstat_compare_trend_opts is offstat_compare_trend with options:
 * source, confidence (as for offstat_compare_trend_ex) and as_of_release
 * (as for offstat_get_count_opts). opts may be NULL. It fails as
 * offstat_compare_trend_ex does. Release the result with
 * offstat_comparison_free.
 */
OFFSTAT_EXPORT int offstat_compare_trend_opts(
        offstat_comparison **out, offstat_client *client, const char *area,
        const char *offence, const char *base, const char *end,
        const char *const *comparators, size_t n_comparators,
        const offstat_query_opts *opts, offstat_status *status);

/* ------------------------------------------------------------------------
 * RankAreas
 * ------------------------------------------------------------------------ */

/* What a ranking orders by (the .proto's RankBy). */
typedef enum offstat_rank_by {
	OFFSTAT_RANK_COUNT        = 1, /* The count in the period. */
	OFFSTAT_RANK_RATE         = 2, /* Per 100,000 people. */
	OFFSTAT_RANK_RATE_UNDER18 = 3, /* Per 100,000 under-18s. */
	OFFSTAT_RANK_CHANGE       = 4, /* % change from a base period. */
} offstat_rank_by;

/*
 * offstat_rank_by_name returns the name of what a ranking orders by, such
 * as "RATE_UNDER18", or NULL for a value the library does not know. The
 * string is static.
 */
OFFSTAT_EXPORT const char *offstat_rank_by_name(int by);

/*
 * offstat_rank_by_parse writes to *out the ordering named by name,
 * ignoring case: "count", "rate", "rate_under18" (also "rate-under18",
 * "rate-u18" and "rate_u18") or "change".
 *
 * Errors: OFFSTAT_EINVAL (out or name is NULL, or the name is unknown).
 */
OFFSTAT_EXPORT int offstat_rank_by_parse(offstat_rank_by *out,
                                         const char      *name);

/* One area in a ranking. */
typedef struct offstat_ranked_area {
	unsigned      rank;      /* 1 is the highest. */
	offstat_area  area;      /* The area. */
	offstat_value value;     /* Its figure in the period, with rates. */
	double        score;     /* Count, rate or percentage change. */
	double        lower;     /* Exact interval of the score, at the */
	double        upper;     /*   ranking's confidence (may be +inf). */
	bool          has_trend; /* OFFSTAT_RANK_CHANGE: trend is set. */
	offstat_trend trend;     /* The change, with its change_test. */
} offstat_ranked_area;

/* Areas of one kind ordered by a score, highest first. */
typedef struct offstat_ranking {
	offstat_offence      offence;    /* The resolved offence. */
	offstat_rank_by      by;         /* What was ranked. */
	offstat_ranked_area *areas;      /* Ordered, highest first. */
	size_t               n_areas;    /* How many were ranked. */
	offstat_area        *missing;    /* Areas without the figures. */
	size_t               n_missing;  /* How many are missing. */
	char                *caution;    /* The caveat about rankings. */
	offstat_source      *sources;    /* Every source values name. */
	size_t               n_sources;  /* How many sources. */
	char                *release;    /* The dataset release answering. */
	double               confidence; /* The level of every interval. */
} offstat_ranking;

/*
 * offstat_rank_areas asks for the areas of one kind ordered by count, rate
 * or change of an offence in period, and writes the ranking to *out.
 * offence and period are as for offstat_get_count. by is what to order by;
 * OFFSTAT_RANK_CHANGE needs base_period, the earlier period, which is
 * otherwise ignored and may be NULL. kind chooses the areas
 * (OFFSTAT_AREA_ANY means forces); within, unless NULL or "", keeps the
 * areas inside that region or country (a code or name). limit, unless 0,
 * keeps the first limit areas. confidence is the level of the intervals,
 * as for offstat_compare_trend_ex. source, unless NULL or "", admits only
 * figures from that source id.
 *
 * Areas without the figures to rank are not dropped: they are listed in
 * missing. The caution is the service's caveat about reading a ranking of
 * forces, to be shown with it.
 *
 * Errors: OFFSTAT_EINVAL (out, client, offence or period is NULL, an
 * unknown by or kind, OFFSTAT_RANK_CHANGE without a base_period, or a bad
 * confidence), OFFSTAT_ENOTFOUND (unknown offence, area or source),
 * OFFSTAT_EBADREQUEST (a malformed period, or a confidence the service
 * refuses), other statuses and the transport errors as for
 * offstat_get_count.
 *
 * It blocks until the reply arrives or the client's timeout passes. The
 * caller owns *out and releases it with offstat_ranking_free.
 */
OFFSTAT_EXPORT int
offstat_rank_areas(offstat_ranking **out, offstat_client *client,
                   const char *offence, const char *period, offstat_rank_by by,
                   const char *base_period, offstat_area_kind kind,
                   const char *within, unsigned limit, double confidence,
                   const char *source, offstat_status *status);

/* offstat_ranking_free releases a result of offstat_rank_areas. */
OFFSTAT_EXPORT void offstat_ranking_free(offstat_ranking *ranking);

/*
 * offstat_rank_areas_opts is offstat_rank_areas with its source and
 * confidence taken from opts, and as_of_release as for
 * offstat_get_count_opts. opts may be NULL. It fails as
 * offstat_rank_areas does. Release the result with offstat_ranking_free.
 */
OFFSTAT_EXPORT int offstat_rank_areas_opts(
        offstat_ranking **out, offstat_client *client, const char *offence,
        const char *period, offstat_rank_by by, const char *base_period,
        offstat_area_kind kind, const char *within, unsigned limit,
        const offstat_query_opts *opts, offstat_status *status);

/* ------------------------------------------------------------------------
 * The catalogue: ListAreas, ListOffences, ListSources
 *
 * Each call returns one page. page_size 0 asks for the service's default
 * (100); at most OFFSTAT_MAX_PAGE_SIZE. page_token is NULL or "" for the
 * first page, then the next_page_token of the previous page; an empty
 * next_page_token marks the last page. The *_all variants fetch every page
 * and return them as one list (with an empty next_page_token).
 * ------------------------------------------------------------------------ */

/* The largest page the service returns. */
#define OFFSTAT_MAX_PAGE_SIZE 1000

/* A page of areas. */
typedef struct offstat_area_list {
	offstat_area *areas;           /* This page, in code order. */
	size_t        n_areas;         /* How many on this page. */
	char         *next_page_token; /* "" on the last page. */
	unsigned      total;           /* Matching areas over all pages. */
	char         *release;         /* The dataset release answering. */
} offstat_area_list;

/*
 * offstat_list_areas asks for one page of areas and writes it to *out.
 * kind, unless OFFSTAT_AREA_ANY, keeps areas of that kind; parent, unless
 * NULL or "", keeps the areas inside it (a code or name).
 *
 * Errors: OFFSTAT_EINVAL (out or client is NULL, page_size over
 * OFFSTAT_MAX_PAGE_SIZE), OFFSTAT_ENOTFOUND (unknown parent),
 * OFFSTAT_EBADREQUEST or OFFSTAT_ERANGE (a bad page token), other statuses
 * and the transport errors as for offstat_get_count.
 *
 * It blocks until the reply arrives or the client's timeout passes. The
 * caller owns *out and releases it with offstat_area_list_free.
 */
OFFSTAT_EXPORT int offstat_list_areas(offstat_area_list **out,
                                      offstat_client     *client,
                                      offstat_area_kind   kind,
                                      const char *parent, unsigned page_size,
                                      const char     *page_token,
                                      offstat_status *status);

/*
 * offstat_list_areas_all is offstat_list_areas over every page, one call
 * per page, each with the client's timeout. It fails as offstat_list_areas
 * does, and with OFFSTAT_EPROTO when the pages do not add up (a token
 * repeats or the list never ends).
 */
OFFSTAT_EXPORT int offstat_list_areas_all(offstat_area_list **out,
                                          offstat_client     *client,
                                          offstat_area_kind   kind,
                                          const char         *parent,
                                          offstat_status     *status);

/* offstat_area_list_free releases a result of offstat_list_areas*. */
OFFSTAT_EXPORT void offstat_area_list_free(offstat_area_list *list);

/* A page of offences. */
typedef struct offstat_offence_list {
	offstat_offence *offences;        /* This page, in code order. */
	size_t           n_offences;      /* How many on this page. */
	char            *next_page_token; /* "" on the last page. */
	unsigned         total;           /* Matching offences overall. */
	char            *release;         /* The dataset release answering. */
} offstat_offence_list;

/*
 * offstat_list_offences asks for one page of the offence catalogue and
 * writes it to *out. group, unless NULL or "", keeps offences of that
 * offence group (ignoring case); query, unless NULL or "", keeps offences
 * whose code or description contains it.
 *
 * Errors, blocking and ownership as for offstat_list_areas; release the
 * result with offstat_offence_list_free.
 */
OFFSTAT_EXPORT int
offstat_list_offences(offstat_offence_list **out, offstat_client *client,
                      const char *group, const char *query, unsigned page_size,
                      const char *page_token, offstat_status *status);

/*
 * offstat_list_offences_all is offstat_list_offences over every page, as
 * offstat_list_areas_all is for areas.
 */
OFFSTAT_EXPORT int offstat_list_offences_all(offstat_offence_list **out,
                                             offstat_client        *client,
                                             const char            *group,
                                             const char            *query,
                                             offstat_status        *status);

/* offstat_offence_list_free releases a result of offstat_list_offences*. */
OFFSTAT_EXPORT void offstat_offence_list_free(offstat_offence_list *list);

/* A page of sources. */
typedef struct offstat_source_list {
	offstat_source *sources;         /* This page, in id order. */
	size_t          n_sources;       /* How many on this page. */
	char           *next_page_token; /* "" on the last page. */
	unsigned        total;           /* Sources over all pages. */
	char           *release;         /* The dataset release answering. */
} offstat_source_list;

/*
 * offstat_list_sources asks for one page of the publications figures come
 * from and writes it to *out.
 *
 * Errors, blocking and ownership as for offstat_list_areas; release the
 * result with offstat_source_list_free.
 */
OFFSTAT_EXPORT int offstat_list_sources(offstat_source_list **out,
                                        offstat_client       *client,
                                        unsigned              page_size,
                                        const char           *page_token,
                                        offstat_status       *status);

/*
 * offstat_list_sources_all is offstat_list_sources over every page, as
 * offstat_list_areas_all is for areas.
 */
OFFSTAT_EXPORT int offstat_list_sources_all(offstat_source_list **out,
                                            offstat_client       *client,
                                            offstat_status       *status);

/* offstat_source_list_free releases a result of offstat_list_sources*. */
OFFSTAT_EXPORT void offstat_source_list_free(offstat_source_list *list);

/* ------------------------------------------------------------------------
 * Releases: ListReleases
 *
 * Every load of data is a release, visible to readers all at once when it
 * commits. Queries answer from the latest committed release unless asked
 * for an earlier one (offstat_query_opts.as_of_release).
 * ------------------------------------------------------------------------ */

/* The life of a release (the .proto's ReleaseState). */
typedef enum offstat_release_state {
	OFFSTAT_RELEASE_UNSPECIFIED = 0, /* Not stated. */
	OFFSTAT_RELEASE_OPEN        = 1, /* Being filled; unseen by readers. */
	OFFSTAT_RELEASE_COMMITTED   = 2, /* Visible from its commit on. */
	OFFSTAT_RELEASE_ABORTED     = 3, /* Aborted by its writer. */
	OFFSTAT_RELEASE_EXPIRED     = 4, /* Abandoned, then rolled back. */
} offstat_release_state;

/*
 * offstat_release_state_name returns the name of a release state, such as
 * "COMMITTED", or NULL for a value the library does not know. The string
 * is static.
 */
OFFSTAT_EXPORT const char *offstat_release_state_name(int state);

/*
 * One load of data. loaded_by is the public id of the token that wrote it
 * ("ost_" and 8 hex digits), or "local" for `offstatd import` and the
 * bundled dataset.
 */
typedef struct offstat_release {
	uint64_t              id;           /* Grows in the order opened. */
	char                 *label;        /* "PRC open data, July 2025". */
	char                 *source_id;    /* The source of its rows. */
	offstat_release_state state;        /* Open, committed, aborted... */
	char                 *opened_at;    /* ISO 8601 UTC. */
	char                 *committed_at; /* ISO 8601 UTC, or "". */
	char                 *loaded_by;    /* Who wrote it: see above. */
	uint64_t              rows;         /* Rows received. */
	uint64_t              changed;      /* Figures added or changed. */
	uint64_t              sequence;     /* Commit order; 0 if none. */
} offstat_release;

/* A page of releases. */
typedef struct offstat_release_list {
	offstat_release *releases;        /* This page, newest first. */
	size_t           n_releases;      /* How many on this page. */
	char            *next_page_token; /* "" on the last page. */
	unsigned         total;           /* Matching releases overall. */
	char            *release;         /* The release readers see now. */
} offstat_release_list;

/*
 * offstat_list_releases asks for one page of releases, newest first, and
 * writes it to *out. With all false it lists the committed releases; with
 * all true also the open, aborted and expired ones, which needs a writer
 * or admin token (OFFSTAT_EPERM otherwise). Paging is as for
 * offstat_list_areas.
 *
 * Errors, blocking and ownership as for offstat_list_areas, and
 * OFFSTAT_EPERM; release the result with offstat_release_list_free.
 */
OFFSTAT_EXPORT int offstat_list_releases(offstat_release_list **out,
                                         offstat_client *client, bool all,
                                         unsigned        page_size,
                                         const char     *page_token,
                                         offstat_status *status);

/*
 * offstat_list_releases_all is offstat_list_releases over every page, as
 * offstat_list_areas_all is for areas.
 */
OFFSTAT_EXPORT int offstat_list_releases_all(offstat_release_list **out,
                                             offstat_client *client, bool all,
                                             offstat_status *status);

/* offstat_release_list_free releases a result of offstat_list_releases*. */
OFFSTAT_EXPORT void offstat_release_list_free(offstat_release_list *list);

/* ------------------------------------------------------------------------
 * Ingest: writing a release over the wire
 *
 * A writer opens a release, sends its rows in batches and commits it (or
 * aborts it). Readers see nothing of it until it commits, and then all of
 * it at once. Every write needs a writer or admin token
 * (offstat_client_set_token): without one the service answers
 * OFFSTAT_EUNAUTHENTICATED, with a reader token OFFSTAT_EPERM.
 *
 * Every write carries an idempotency key, a fresh random one per call.
 * When the exchange fails on the way (OFFSTAT_ETIMEDOUT,
 * OFFSTAT_ECONNLOST, OFFSTAT_ETRANSPORT) or the service answers
 * OFFSTAT_EUNAVAILABLE, OFFSTAT_EDEADLINE or OFFSTAT_EABORTED, the call
 * sends the same request with the same key again, up to
 * OFFSTAT_INGEST_ATTEMPTS times in all, waiting 250 ms, then 500 ms, then
 * 1 s between tries. The service applies a write once whatever the number
 * of tries, and answers a repeat as it answered the first (replayed is
 * then true). Each try waits for the client's timeout.
 *
 * Release ids are as offstat_list_releases gives them.
 * ------------------------------------------------------------------------ */

/* How many times a write is sent before its call fails. */
#define OFFSTAT_INGEST_ATTEMPTS 4
/* The most rows the service takes in one batch. */
#define OFFSTAT_INGEST_MAX_ROWS 10000
/* The rows per batch offstat_ingest_file sends unless told otherwise. */
#define OFFSTAT_INGEST_BATCH_ROWS 5000
/*
 * The most bytes of rows offstat_ingest_file packs into one batch: half the
 * service's default request limit (1 MiB, offstatd --max-request). Where
 * the limit is lower, the service answers a larger batch
 * OFFSTAT_EEXHAUSTED and the batch is halved and sent again. Under a limit
 * of less than half this (256 KiB) the service drops such a request
 * without an answer, and the call fails with OFFSTAT_ETIMEDOUT.
 */
#define OFFSTAT_INGEST_BATCH_BYTES (512u * 1024u)
/* The longest idempotency key the service takes, in bytes. */
#define OFFSTAT_INGEST_MAX_KEY 128

/*
 * One row in the Home Office open data format. The service checks every
 * row as `offstatd import` checks a line of a file (a known force, a year
 * such as "2024/25", a quarter of 1 to 4, a count up to 2^53 and so on).
 * The library only reads the row during the call.
 */
typedef struct offstat_ingest_row {
	const char *financial_year;      /* "2024/25". */
	unsigned    financial_quarter;   /* 1 to 4 (1 = April-June). */
	const char *force_name;          /* As the open data writes it. */
	const char *offence_description; /* "Sexual grooming". */
	const char *offence_group;       /* "Sexual offences". */
	const char *offence_subgroup;    /* "Other sexual offences". */
	const char *offence_code;        /* "88A". */
	uint64_t    count;               /* Number of offences. */
} offstat_ingest_row;

/* What the service said about one write (the .proto's IngestResponse). */
typedef struct offstat_ingest_reply {
	uint64_t              release;        /* The release acted on. */
	offstat_release_state state;          /* Its state after the call. */
	uint64_t              rows_accepted;  /* Rows of this batch taken. */
	uint64_t              rows;           /* Rows the release holds. */
	uint64_t              changed;        /* Figures it adds or changes. */
	bool                  replayed;       /* Answered from a first try. */
	char                 *served_release; /* The release readers see. */
	char                 *key;            /* The idempotency key sent. */
	unsigned              attempts;       /* Tries it took, from 1. */
} offstat_ingest_reply;

/*
 * offstat_ingest_open opens a new release labelled label (1 to 200 bytes
 * of text), whose rows come from the source with id source (NULL or "":
 * the service's default, "ho-prc-open-data"), and writes its id to
 * *release.
 *
 * Errors: OFFSTAT_EINVAL (release, client or label is NULL, or label is
 * ""), OFFSTAT_EUNAUTHENTICATED, OFFSTAT_EPERM, OFFSTAT_ENOTFOUND (an
 * unknown source), OFFSTAT_EBADREQUEST (a label the service refuses), and
 * the statuses and transport errors of offstat_get_count, after the
 * retries described above.
 *
 * It blocks until the reply arrives or every try has timed out.
 */
OFFSTAT_EXPORT int offstat_ingest_open(uint64_t       *release,
                                       offstat_client *client,
                                       const char *label, const char *source,
                                       offstat_status *status);

/*
 * offstat_ingest_batch adds n_rows rows (1 to OFFSTAT_INGEST_MAX_ROWS) to
 * the open release, and writes the service's reply to *out unless out is
 * NULL. source, unless NULL or "", overrides the release's source for
 * these rows. The batch is applied whole or not at all.
 *
 * Errors: OFFSTAT_EINVAL (client or rows is NULL, n_rows is 0 or over
 * OFFSTAT_INGEST_MAX_ROWS, a string in a row is NULL), OFFSTAT_EBADREQUEST
 * (bad rows: nothing of the batch was applied and the release stays open
 * for a corrected batch; the status has one detail per bad row, "row N:
 * reason", N counting from 1 in rows, and perhaps a last "and K more bad
 * rows"), OFFSTAT_EEXHAUSTED (the batch is over the service's request
 * limit: send fewer rows), OFFSTAT_ENOTFOUND (no such release),
 * OFFSTAT_EPRECONDITION (the release is no longer open), OFFSTAT_EPERM
 * (another writer's release), and the errors of offstat_ingest_open.
 *
 * It blocks until the reply arrives or every try has timed out. The
 * caller owns *out and releases it with offstat_ingest_reply_free.
 */
OFFSTAT_EXPORT int offstat_ingest_batch(offstat_ingest_reply    **out,
                                        offstat_client           *client,
                                        uint64_t                  release,
                                        const offstat_ingest_row *rows,
                                        size_t n_rows, const char *source,
                                        offstat_status *status);

/*
 * offstat_ingest_batch_keyed is offstat_ingest_batch with the caller's
 * idempotency key (1 to OFFSTAT_INGEST_MAX_KEY bytes of printable text)
 * instead of a fresh one: a program that must survive its own restart
 * keeps the key with the batch and sends it again, and the service applies
 * the batch once. The same key with other rows is OFFSTAT_EPRECONDITION.
 * A key is kept by the service for a week.
 */
OFFSTAT_EXPORT int
offstat_ingest_batch_keyed(offstat_ingest_reply **out, offstat_client *client,
                           uint64_t release, const offstat_ingest_row *rows,
                           size_t n_rows, const char *source, const char *key,
                           offstat_status *status);

/*
 * offstat_ingest_commit makes the open release visible to readers, all at
 * once, and offstat_ingest_abort drops it and its rows. Each writes the
 * service's reply (the release's rows and figures changed) to *out unless
 * out is NULL.
 *
 * Errors: OFFSTAT_EINVAL (client is NULL or release is 0),
 * OFFSTAT_ENOTFOUND, OFFSTAT_EPRECONDITION (the release is not open: its
 * state is in the status message), OFFSTAT_EPERM, and the errors of
 * offstat_ingest_open.
 *
 * They block until the reply arrives or every try has timed out. The
 * caller owns *out and releases it with offstat_ingest_reply_free.
 */
OFFSTAT_EXPORT int offstat_ingest_commit(offstat_ingest_reply **out,
                                         offstat_client        *client,
                                         uint64_t               release,
                                         offstat_status        *status);
OFFSTAT_EXPORT int offstat_ingest_abort(offstat_ingest_reply **out,
                                        offstat_client        *client,
                                        uint64_t               release,
                                        offstat_status        *status);

/* offstat_ingest_reply_free releases a reply of the offstat_ingest_* calls. */
OFFSTAT_EXPORT void offstat_ingest_reply_free(offstat_ingest_reply *reply);

/*
 * Called by offstat_ingest_file after the files are read (rows_sent 0) and
 * after every batch the service accepts, with the rows sent so far and the
 * rows in all the files. Returning nonzero stops the load: the release is
 * aborted and the call fails with OFFSTAT_ESTOPPED.
 */
typedef int (*offstat_progress_fn)(void *arg, uint64_t rows_sent,
                                   uint64_t rows_total);

/* A row that was refused, and why. */
typedef struct offstat_bad_row {
	char    *file;   /* The file it is in. */
	uint64_t line;   /* The line it starts on (the header is line 1);
	                    0 for a message about no one row. */
	uint64_t row;    /* Its data row in the file, from 1; 0 as line. */
	char    *reason; /* Why, e.g. "Force Name 'Narnia' is not a known
	                    force". */
} offstat_bad_row;

/* How a load went. */
typedef struct offstat_ingest_result {
	uint64_t release; /* The release opened; 0 when none was. */
	/* COMMITTED on success; ABORTED when a failure aborted it; OPEN when
	 * aborting it failed too (the service expires it); UNSPECIFIED when
	 * none was opened. */
	offstat_release_state state;
	uint64_t              rows_total;     /* Data rows in the files. */
	uint64_t              rows_sent;      /* Rows the service took. */
	uint64_t              changed;        /* Figures added or changed. */
	uint64_t              batches;        /* Batches the service took. */
	unsigned              retries;        /* Tries repeated on the way. */
	unsigned              splits;         /* Batches halved for size. */
	char                 *served_release; /* The release readers see. */
	offstat_bad_row      *bad_rows;       /* The rows refused, in order. */
	size_t                n_bad_rows;     /* How many are listed. */
	uint64_t              bad_rows_total; /* How many there were. */
} offstat_ingest_result;

/*
 * offstat_ingest_file loads a file in the Home Office open data format
 * (an RFC 4180 CSV file whose first line is "Financial Year,Financial
 * Quarter,Force Name,Offence Description,Offence Group,Offence
 * Subgroup,Offence Code,Number of Offences") as one new release labelled
 * label, from source (as for offstat_ingest_open), and commits it.
 *
 * It reads the file twice. First it counts the rows and checks that each
 * is a CSV record of 8 fields whose quarter and count are whole numbers;
 * a file that fails is refused before anything is sent. Then it opens the
 * release and sends the rows in batches of at most batch_rows rows (0:
 * OFFSTAT_INGEST_BATCH_ROWS; at most OFFSTAT_INGEST_MAX_ROWS) and
 * OFFSTAT_INGEST_BATCH_BYTES bytes, halving a batch the service finds too
 * large, and commits. Every other check of a row is the service's. On any
 * failure after the release was opened it aborts the release, so that
 * nothing of the file is ever committed but all of it. Blank lines are
 * skipped. progress, unless NULL, is called with arg as described above.
 *
 * Errors: OFFSTAT_EINVAL (out, client, path or label is NULL, label is
 * "", or batch_rows is over OFFSTAT_INGEST_MAX_ROWS), OFFSTAT_EFILE (the
 * file cannot be read, or changed while it was read), OFFSTAT_EBADINPUT
 * (not the open data header, no data rows, or rows that are not well
 * formed: nothing was sent), OFFSTAT_EBADREQUEST (the service refused
 * rows), OFFSTAT_ESTOPPED (progress asked to stop), OFFSTAT_ENOMEM, and
 * the errors of the offstat_ingest_* calls. The status message says what
 * failed and whether the release was aborted; its details have one line
 * per bad row, "FILE line N: reason".
 *
 * Unlike other calls, it writes *out whether it succeeds or fails (unless
 * an argument is invalid or memory runs out, when *out is NULL): after a
 * failure the result says which release was aborted and which rows were
 * bad. It blocks until the load is committed or abandoned. The caller owns
 * *out and releases it with offstat_ingest_result_free.
 */
OFFSTAT_EXPORT int offstat_ingest_file(offstat_ingest_result **out,
                                       offstat_client         *client,
                                       const char *path, const char *label,
                                       const char *source, unsigned batch_rows,
                                       offstat_progress_fn progress, void *arg,
                                       offstat_status *status);

/*
 * offstat_ingest_files is offstat_ingest_file over n_paths files (at least
 * one) as one release: all of them are committed together, or none. rows
 * counts over all the files, and each bad row names its file.
 */
OFFSTAT_EXPORT int
offstat_ingest_files(offstat_ingest_result **out, offstat_client *client,
                     const char *const *paths, size_t n_paths,
                     const char *label, const char *source,
                     unsigned batch_rows, offstat_progress_fn progress,
                     void *arg, offstat_status *status);

/* offstat_ingest_result_free releases a result of offstat_ingest_file*. */
OFFSTAT_EXPORT void offstat_ingest_result_free(offstat_ingest_result *result);

/* ------------------------------------------------------------------------
 * ServerInfo
 * ------------------------------------------------------------------------ */

/* What is running and what it holds. */
typedef struct offstat_server_info {
	char    *version;           /* offstatd's version, e.g. "0.1.0". */
	char    *api;               /* "offstat.v1". */
	char    *release;           /* The dataset release now served. */
	uint64_t areas;             /* Areas in the catalogue. */
	uint64_t offences;          /* Offences in the catalogue. */
	uint64_t sources;           /* Sources in the catalogue. */
	uint64_t counts;            /* Stored figures. */
	uint64_t uptime_seconds;    /* Seconds since the service started. */
	uint64_t started_at;        /* Start, seconds since 1970 (UTC). */
	char    *release_loaded_at; /* When the release was committed. */
} offstat_server_info;

/*
 * offstat_get_server_info asks the service what it runs and holds and
 * writes the answer to *out.
 *
 * Errors: OFFSTAT_EINVAL (out or client is NULL), any status the service
 * sends (OFFSTAT_EUNAVAILABLE while it starts or stops) and the transport
 * errors as for offstat_get_count.
 *
 * It blocks until the reply arrives or the client's timeout passes. The
 * caller owns *out and releases it with offstat_server_info_free.
 */
OFFSTAT_EXPORT int offstat_get_server_info(offstat_server_info **out,
                                           offstat_client       *client,
                                           offstat_status       *status);

/* offstat_server_info_free releases a result of offstat_get_server_info. */
OFFSTAT_EXPORT void offstat_server_info_free(offstat_server_info *info);

#ifdef __cplusplus
}
#endif

#endif
