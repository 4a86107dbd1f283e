/*
 * offstatd: arguments and signals. Everything else lives in its own file:
 * server.c (NNG), dispatch.c and handlers.c (the API), store.c (SQLite),
 * import.c (open data files), dataset.c (the bundled data).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "config.h"
#include "dataset.h"
#include "dispatch.h"
#include "import.h"
#include "ingest.h"
#include "writer.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"
#include "store.h"

#define DEFAULT_URL   "tcp://127.0.0.1:7355"
#define MAX_LISTEN    CFG_MAX_LISTEN
#define MAX_FILE_SIZE (1024L * 1024 * 1024)

static const char usage_text[] =
        "usage: offstatd [options]                  serve the API\n"
        "       offstatd import [options] FILE…     load open data files\n"
        "       offstatd token add --role ROLE [--label TEXT] [--expires "
        "WHEN]\n"
        "       offstatd token list\n"
        "       offstatd token revoke ID            manage access tokens\n"
        "\n"
        "options:\n"
        "  -l, --listen URL       listen here (repeatable; "
        "default " DEFAULT_URL ")\n"
        "                         tcp://HOST:PORT or ipc:///path\n"
        "  -d, --db PATH          SQLite database (default DIR/offstat.db;\n"
        "                         ':memory:' keeps nothing)\n"
        "  -D, --data-dir DIR     data directory (default $OFFSTAT_DATA_DIR,\n"
        "                         else $XDG_DATA_HOME/offstat, else\n"
        "                         ~/.local/share/offstat)\n"
        "  -w, --workers N        requests answered concurrently (default "
        "64)\n"
        "  -m, --max-request N    largest request in bytes (default 1048576)\n"
        "  -L, --log-level LEVEL  debug, info, warn, error or off (default "
        "info)\n"
        "  -T, --tokens PATH      access tokens file (default DIR/tokens)\n"
        "  --read-auth MODE       reads need a reader token: 'required',\n"
        "                         'open', or 'auto' (default: required when\n"
        "                         any listener is not loopback or ipc)\n"
        "  --ingest-expiry SECS   roll back a release opened over the wire\n"
        "                         after SECS without a write (default "
        "1800)\n"
        "  --http HOST:PORT|off   metrics and health over HTTP "
        "(default " CFG_DEFAULT_HTTP ")\n"
        "  --tls-cert FILE        certificate (PEM) for tls+tcp:// "
        "listeners\n"
        "  --tls-key FILE         its private key (PEM)\n"
        "  --tls-key-password PW  the key's password (better: "
        "$OFFSTAT_TLS_KEY_PASSWORD)\n"
        "  --tls-client-ca FILE   require client certificates signed by "
        "this CA\n"
        "  --reply-cache BYTES    memory for answers kept per release "
        "(default\n"
        "                         33554432; 0: off)\n"
        "  --listener-check SECS  check each listener through a new "
        "connection\n"
        "                         every SECS and restart one that stopped\n"
        "                         serving (default 5; 0: off)\n"
        "  -c, --config FILE      read settings from an INI file (default\n"
        "                         $OFFSTAT_CONFIG); flags beat OFFSTAT_*\n"
        "                         variables, which beat the file\n"
        "  --print-config         show the settings in effect and where\n"
        "                         each came from, then exit\n"
        "  -h, --help             show this help and exit\n"
        "  -V, --version          show the version and exit\n"
        "\n"
        "import options:\n"
        "  --skip-bad             load the good rows, report the bad ones\n"
        "  --source ID            source of the rows "
        "(default " IMPORT_DEFAULT_SOURCE ")\n"
        "  --label TEXT           release label (default 'import FILE');\n"
        "                         with token add, the token's label\n"
        "  --role ROLE            token add: reader, writer or admin\n"
        "  --expires WHEN         token add: when the token stops working:\n"
        "                         a UTC date or time (2027-03-31,\n"
        "                         2027-03-31T18:00:00Z), a span from now\n"
        "                         (90d, 12h, 30m, 45s) or never (default)\n"
        "\n"
        "On first start with an empty database the bundled dataset is "
        "loaded.\n"
        "SIGTERM or SIGINT stops the service after answering requests in "
        "flight.\n";

typedef struct {
	cfg         settings; /* flags, environment and file */
	const char *config_file;
	bool        print_config;
	char       *listen; /* split into urls */
	const char *http;
	const char *urls[MAX_LISTEN];
	size_t      nurls;
	const char *db;
	const char *data_dir;
	size_t      workers;
	size_t      max_request;
	bool        skip_bad;
	const char *source;
	const char *label;
	const char *tokens;
	const char *role;
	const char *expires;
	const char *read_auth;
	size_t      ingest_expiry;
	size_t      reply_cache;
} config;

enum {
	OPT_SKIP_BAD = 256,
	OPT_SOURCE,
	OPT_LABEL,
	OPT_ROLE,
	OPT_EXPIRES,
	OPT_READ_AUTH,
	OPT_INGEST_EXPIRY,
	OPT_HTTP,
	OPT_PRINT_CONFIG,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_KEY_PASSWORD,
	OPT_TLS_CLIENT_CA,
	OPT_REPLY_CACHE,
	OPT_LISTENER_CHECK,
};

static const struct option long_opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"db", required_argument, NULL, 'd'},
        {"data-dir", required_argument, NULL, 'D'},
        {"workers", required_argument, NULL, 'w'},
        {"max-request", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"label", required_argument, NULL, OPT_LABEL},
        {"tokens", required_argument, NULL, 'T'},
        {"role", required_argument, NULL, OPT_ROLE},
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"read-auth", required_argument, NULL, OPT_READ_AUTH},
        {"ingest-expiry", required_argument, NULL, OPT_INGEST_EXPIRY},
        {"http", required_argument, NULL, OPT_HTTP},
        {"config", required_argument, NULL, 'c'},
        {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"tls-key-password", required_argument, NULL, OPT_TLS_KEY_PASSWORD},
        {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
        {"reply-cache", required_argument, NULL, OPT_REPLY_CACHE},
        {"listener-check", required_argument, NULL, OPT_LISTENER_CHECK},
        {NULL, 0, NULL, 0},
};

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "offstatd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'offstatd --help'.\n");
	return (2);
}

/* Options that are settings, with the key each one sets. */
static const struct {
	int         opt;
	cfg_key     key;
	const char *flag;
} setting_opts[] = {
        {'l', CFG_LISTEN, "--listen"},
        {'d', CFG_DB, "--db"},
        {'D', CFG_DATA_DIR, "--data-dir"},
        {'w', CFG_WORKERS, "--workers"},
        {'m', CFG_MAX_REQUEST, "--max-request"},
        {'L', CFG_LOG_LEVEL, "--log-level"},
        {'T', CFG_TOKENS, "--tokens"},
        {OPT_READ_AUTH, CFG_READ_AUTH, "--read-auth"},
        {OPT_INGEST_EXPIRY, CFG_INGEST_EXPIRY, "--ingest-expiry"},
        {OPT_HTTP, CFG_HTTP, "--http"},
        {OPT_TLS_CERT, CFG_TLS_CERT, "--tls-cert"},
        {OPT_TLS_KEY, CFG_TLS_KEY, "--tls-key"},
        {OPT_TLS_KEY_PASSWORD, CFG_TLS_KEY_PASSWORD, "--tls-key-password"},
        {OPT_TLS_CLIENT_CA, CFG_TLS_CLIENT_CA, "--tls-client-ca"},
        {OPT_REPLY_CACHE, CFG_REPLY_CACHE, "--reply-cache"},
        {OPT_LISTENER_CHECK, CFG_LISTENER_CHECK, "--listener-check"},
};

static int
parse_args(int argc, char **argv, bool importing, config *c)
{
	int  opt;
	char err[512];

	while ((opt = getopt_long(argc, argv, "l:d:D:w:m:L:T:c:hV", long_opts,
	                          NULL)) != -1) {
		size_t i;
		for (i = 0; i < sizeof(setting_opts) / sizeof(setting_opts[0]);
		     i++) {
			if (setting_opts[i].opt == opt) {
				break;
			}
		}
		if (i < sizeof(setting_opts) / sizeof(setting_opts[0])) {
			if (cfg_flag(&c->settings, setting_opts[i].key,
			             setting_opts[i].flag, optarg, err,
			             sizeof(err)) != 0) {
				return (usage_error("%s", err));
			}
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("offstatd %s\n", OFFSTAT_VERSION_STRING);
			exit(0);
		case 'c':
			c->config_file = optarg;
			break;
		case OPT_PRINT_CONFIG:
			c->print_config = true;
			break;
		case OPT_ROLE:
			c->role = optarg;
			break;
		case OPT_EXPIRES:
			c->expires = optarg;
			break;
		case OPT_SKIP_BAD:
		case OPT_SOURCE:
		case OPT_LABEL:
			if (!importing) {
				/* argv[optind - 1] is the value, not the
				 * option, after "--label TEXT". */
				return (usage_error(
				        "%s", opt == OPT_SKIP_BAD
				                      ? "--skip-bad is an "
				                        "import option"
				              : opt == OPT_SOURCE
				                      ? "--source is an "
				                        "import option"
				                      : "--label is an option "
				                        "of import "
				                        "and token add"));
			}
			if (opt == OPT_SKIP_BAD) {
				c->skip_bad = true;
			} else if (opt == OPT_SOURCE) {
				c->source = optarg;
			} else {
				c->label = optarg;
			}
			break;
		default:
			return (usage_error("%s", "bad option"));
		}
	}
	return (0);
}

/*
 * Adds the file and environment layers under the flags, and reads the
 * settings into c. Returns 0, 2 on bad configuration (the message names
 * the key), or -1 when --print-config printed it.
 */
static int
resolve_config(config *c)
{
	char        err[1024];
	const char *file = c->config_file;
	const char *v;

	if (file == NULL && (v = getenv("OFFSTAT_CONFIG")) != NULL &&
	    v[0] != '\0') {
		file = v;
	}
	if ((file != NULL &&
	     cfg_file(&c->settings, file, err, sizeof(err)) != 0) ||
	    cfg_env(&c->settings, err, sizeof(err)) != 0) {
		fprintf(stderr, "offstatd: bad configuration: %s\n", err);
		return (2);
	}
	if (c->print_config) {
		cfg_print(&c->settings, stdout);
		return (-1);
	}
	if ((v = cfg_get(&c->settings, CFG_LISTEN)) != NULL) {
		/* Checked already: at most MAX_LISTEN URLs. */
		if ((c->listen = strdup(v)) == NULL) {
			fprintf(stderr, "offstatd: out of memory\n");
			return (1);
		}
		for (char *save = NULL,
		          *u    = strtok_r(c->listen, ", \t", &save);
		     u != NULL && c->nurls < MAX_LISTEN;
		     u = strtok_r(NULL, ", \t", &save)) {
			c->urls[c->nurls++] = u;
		}
	}
	/* Keys that only make sense together are checked together. */
	{
		bool tls = false;
		for (size_t i = 0; i < c->nurls; i++) {
			tls = tls || tls_url(c->urls[i]);
		}
		for (cfg_key k = CFG_TLS_CERT; tls && k <= CFG_TLS_KEY; k++) {
			if (cfg_get(&c->settings, k) == NULL) {
				fprintf(stderr,
				        "offstatd: bad configuration: %s: "
				        "a tls+tcp:// listener needs a "
				        "certificate (tls_cert) and its "
				        "key (tls_key)\n",
				        k == CFG_TLS_CERT ? "tls_cert"
				                          : "tls_key");
				return (2);
			}
		}
		if (!tls &&
		    (cfg_get(&c->settings, CFG_TLS_CERT) != NULL ||
		     cfg_get(&c->settings, CFG_TLS_CLIENT_CA) != NULL)) {
			fprintf(stderr,
			        "offstatd: bad configuration: tls_cert: "
			        "TLS is set up but no listener is "
			        "tls+tcp://\n");
			return (2);
		}
	}
	if ((v = cfg_get(&c->settings, CFG_LOG_LEVEL)) != NULL) {
		log_set_level((log_level)log_level_parse(v));
	}
	c->db            = cfg_get(&c->settings, CFG_DB);
	c->data_dir      = cfg_get(&c->settings, CFG_DATA_DIR);
	c->tokens        = cfg_get(&c->settings, CFG_TOKENS);
	c->read_auth     = cfg_get(&c->settings, CFG_READ_AUTH);
	c->workers       = cfg_size(&c->settings, CFG_WORKERS, 0);
	c->max_request   = cfg_size(&c->settings, CFG_MAX_REQUEST, 0);
	c->ingest_expiry = cfg_size(&c->settings, CFG_INGEST_EXPIRY, 0);
	c->reply_cache =
	        cfg_size(&c->settings, CFG_REPLY_CACHE, (size_t)32 << 20);
	c->http = cfg_get(&c->settings, CFG_HTTP);
	if (c->http == NULL) {
		c->http = CFG_DEFAULT_HTTP;
	}
	return (0);
}

/* The data directory: --data-dir, $OFFSTAT_DATA_DIR, $XDG_DATA_HOME/offstat,
 * ~/.local/share/offstat or /var/lib/offstat; created when missing. */
static void
data_dir(const config *c, char *dir, size_t len)
{
	const char *d    = c->data_dir;
	const char *xdg  = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (d == NULL) {
		d = getenv("OFFSTAT_DATA_DIR");
	}
	if (d != NULL && d[0] != '\0') {
		snprintf(dir, len, "%s", d);
	} else if (xdg != NULL && xdg[0] != '\0') {
		snprintf(dir, len, "%s/offstat", xdg);
	} else if (home != NULL && home[0] != '\0') {
		/* ~/.local/share may not exist yet. */
		snprintf(dir, len, "%s/.local", home);
		(void)mkdir(dir, 0755);
		snprintf(dir, len, "%s/.local/share", home);
		(void)mkdir(dir, 0755);
		snprintf(dir, len, "%s/.local/share/offstat", home);
	} else {
		snprintf(dir, len, "/var/lib/offstat");
	}
	(void)mkdir(dir, 0750);
}

/* A file's path: the option when given, else name in the data directory. */
static char *
data_path(const config *c, const char *given, const char *name)
{
	char   dir[4096];
	char  *path;
	size_t n;

	if (given != NULL) {
		return (strdup(given));
	}
	data_dir(c, dir, sizeof(dir));
	n = strlen(dir) + strlen(name) + 2;
	if ((path = malloc(n)) != NULL) {
		snprintf(path, n, "%s/%s", dir, name);
	}
	return (path);
}

/* Opens the store, loading the bundled dataset into an empty one. */
static int
open_store(const config *c, store **out, snapshot **snap)
{
	char  err[1024];
	char *path = data_path(c, c->db, "offstat.db");

	if (path == NULL) {
		fprintf(stderr, "offstatd: out of memory\n");
		return (1);
	}
	if (store_open(out, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "offstatd: %s\n", err);
		free(path);
		return (1);
	}
	if (store_is_empty(*out)) {
		if (dataset_seed(*out, err, sizeof(err)) != 0) {
			fprintf(stderr, "offstatd: bundled dataset: %s\n",
			        err);
			goto fail;
		}
		log_info("loaded the bundled dataset", "db=\"%s\"", path);
	}
	if (store_load_snapshot(*out, snap, err, sizeof(err)) != 0) {
		fprintf(stderr, "offstatd: loading %s: %s\n", path, err);
		goto fail;
	}
	free(path);
	return (0);
fail:
	free(path);
	store_close(*out);
	*out = NULL;
	return (1);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long  n;

	if (f == NULL) {
		return (NULL);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    n > MAX_FILE_SIZE || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL) {
		if (errno == 0) {
			errno = EFBIG;
		}
		fclose(f);
		return (NULL);
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return (NULL);
	}
	fclose(f);
	buf[n] = '\0';
	*len   = (size_t)n;
	return (buf);
}

static void
report_line(void *arg, const char *message)
{
	fprintf(stderr, "offstatd: %s: %s\n", (const char *)arg, message);
}

static int
run_import(config *c, int nfiles, char **files)
{
	store    *st;
	snapshot *snap;
	int       status = 0;

	if (nfiles == 0) {
		return (usage_error("%s", "import: name at least one FILE"));
	}
	if (open_store(c, &st, &snap) != 0) {
		return (1);
	}
	for (int i = 0; i < nfiles; i++) {
		import_opts   o = {.skip_bad = c->skip_bad,
		                   .source   = c->source,
		                   .label    = c->label};
		import_result r;
		char          err[1024];
		size_t        len;
		char         *buf;

		errno = 0;
		if ((buf = read_file(files[i], &len)) == NULL) {
			fprintf(stderr, "offstatd: %s: %s\n", files[i],
			        strerror(errno ? errno : EIO));
			status = 1;
			continue;
		}
		if (import_buffer(st, snap, files[i], buf, len, &o,
		                  report_line, files[i], &r, err,
		                  sizeof(err)) != 0) {
			fprintf(stderr, "offstatd: %s\n", err);
			status = 1;
		} else if (r.release == 0) {
			printf("%s: %llu rows, no changes\n", files[i],
			       (unsigned long long)r.rows);
		} else {
			printf("%s: %llu rows, %llu added or changed%s%llu "
			       "bad rows skipped; release %llu\n",
			       files[i], (unsigned long long)r.rows,
			       (unsigned long long)r.changed,
			       r.bad ? ", " : "; ", (unsigned long long)r.bad,
			       (unsigned long long)r.release);
		}
		free(buf);
		/* Later files resolve names against what is now stored. */
		if (i + 1 == nfiles) {
			break;
		}
		snapshot_unref(snap);
		if (store_load_snapshot(st, &snap, err, sizeof(err)) != 0) {
			fprintf(stderr, "offstatd: %s\n", err);
			store_close(st);
			return (1);
		}
	}
	snapshot_unref(snap);
	store_close(st);
	return (status);
}

/* A listener only this machine can reach: loopback TCP, ipc or inproc. */
static bool
is_local(const char *url)
{
	return (strncmp(url, "ipc://", 6) == 0 ||
	        strncmp(url, "inproc://", 9) == 0 ||
	        strncmp(url, "tcp://127.", 10) == 0 ||
	        strncmp(url, "tls+tcp://127.", 14) == 0 ||
	        strncmp(url, "tcp://localhost:", 16) == 0 ||
	        strncmp(url, "tcp://[::1]:", 12) == 0);
}

/* The in-flight gauge of /metrics. */
static unsigned long long
in_flight(void *arg)
{
	return (server_in_flight(arg));
}

/* The listener restarts counter of /metrics. */
static unsigned long long
restarts(void *arg)
{
	return (server_listener_restarts(arg));
}

/* By default reads are open on loopback only. */
static bool
reads_need_token(const config *c)
{
	if (c->read_auth != NULL && strcmp(c->read_auth, "auto") != 0) {
		return (strcmp(c->read_auth, "required") == 0);
	}
	for (size_t i = 0; i < c->nurls; i++) {
		if (!is_local(c->urls[i])) {
			return (true);
		}
	}
	return (false);
}

/*
 * Parses --expires: "never" (0), a UTC date (its first second) or time as
 * the tokens file writes it, or a span from now in s, m, h or d. Returns
 * 0, or -1 when it is none of these.
 */
static int
parse_expires(const char *s, time_t now, time_t *out)
{
	char              *end;
	unsigned long long n;
	char               full[32];

	if (strcmp(s, "never") == 0) {
		*out = 0;
		return (0);
	}
	if (s[0] >= '0' && s[0] <= '9' && strlen(s) <= 12 &&
	    strchr(s, '-') == NULL) {
		static const struct {
			char     unit;
			unsigned secs;
		} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
		errno     = 0;
		n         = strtoull(s, &end, 10);
		if (errno != 0 || end == s || end[0] == '\0' ||
		    end[1] != '\0' || n == 0 || n > 100ull * 366 * 86400) {
			return (-1);
		}
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (end[0] == units[i].unit &&
			    n <= 100ull * 366 * 86400 / units[i].secs) {
				*out = now + (time_t)(n * units[i].secs);
				return (0);
			}
		}
		return (-1);
	}
	if (strlen(s) == 10) {
		snprintf(full, sizeof(full), "%sT00:00:00Z", s);
		s = full;
	}
	return (auth_time_parse(s, out));
}

static int
run_token(config *c, int argc, char **argv)
{
	char  err[512];
	char *path = data_path(c, c->tokens, "tokens");
	int   rv   = 1;

	if (path == NULL) {
		fprintf(stderr, "offstatd: out of memory\n");
		return (1);
	}
	if (argc == 1 && strcmp(argv[0], "add") == 0) {
		char      token[AUTH_TOKEN_LEN + 1];
		time_t    expires = 0;
		auth_role role =
		        c->role ? auth_role_parse(c->role) : AUTH_NONE;
		if (role == AUTH_NONE) {
			free(path);
			return (usage_error("token add: give --role %s",
			                    "reader, writer or admin"));
		}
		if (c->expires != NULL &&
		    parse_expires(c->expires, time(NULL), &expires) != 0) {
			free(path);
			return (usage_error(
			        "token add --expires '%s': give a UTC date "
			        "(2027-03-31) or time (2027-03-31T18:00:00Z), "
			        "a span such as 90d, 12h, 30m or 45s, or "
			        "never",
			        c->expires));
		}
		if (auth_add(path, role, c->label, expires, token, err,
		             sizeof(err)) == 0) {
			/* Shown once; the file keeps only its hash. */
			printf("%s\n", token);
			memset(token, 0, sizeof(token));
			rv = 0;
		}
	} else if (argc == 1 && strcmp(argv[0], "list") == 0) {
		rv = auth_list(path, stdout, err, sizeof(err)) == 0 ? 0 : 1;
	} else if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
		rv = auth_revoke(path, argv[1], err, sizeof(err)) == 0 ? 0 : 1;
	} else {
		free(path);
		return (usage_error("token: give add, list or revoke ID%s",
		                    ""));
	}
	if (rv != 0) {
		fprintf(stderr, "offstatd: %s\n", err);
	}
	free(path);
	return (rv);
}

static int
run_server(config *c)
{
	store       *st;
	snapshot    *snap;
	server      *srv;
	sigset_t     sigs;
	int          sig;
	char         err[512];
	server_opts  so        = {0};
	auth        *tokens_db = NULL;
	http_server *web       = NULL;

	if (c->nurls == 0) {
		c->urls[c->nurls++] = DEFAULT_URL;
	}
	/* Signals go to the main thread's sigwait only: block them before
	 * nng starts its threads, which inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	char *tokens = data_path(c, c->tokens, "tokens");
	if (tokens == NULL ||
	    auth_open(&tokens_db, tokens, err, sizeof(err)) != 0) {
		fprintf(stderr, "offstatd: %s\n",
		        tokens ? err : "out of memory");
		free(tokens);
		return (1);
	}
	free(tokens);
	metrics_set_auth(tokens_db);
	/* Up before the data loads: /healthz answers and /readyz says 503
	 * until the listeners are up. */
	if (strcmp(c->http, "off") != 0 &&
	    http_start(&web, c->http, err, sizeof(err)) != 0) {
		/* Asked for: an error. The default port may be another
		 * offstatd's on the same machine: go on without it. */
		if (cfg_get(&c->settings, CFG_HTTP) != NULL) {
			fprintf(stderr, "offstatd: %s\n", err);
			auth_close(tokens_db);
			return (1);
		}
		log_warn("serving without metrics and health",
		         "reason=\"default HTTP address in use\" addr=%s "
		         "hint=\"set --http HOST:PORT or --http off\"",
		         c->http);
	}
	if (open_store(c, &st, &snap) != 0) {
		http_stop(web);
		auth_close(tokens_db);
		return (1);
	}
	snapshot_publish(snap);
	handlers_started();
	if (ingest_init(st,
	                c->ingest_expiry ? (unsigned)c->ingest_expiry : 1800,
	                err, sizeof(err)) != 0 ||
	    writer_start(ingest_sweep, 1000) != 0) {
		fprintf(stderr, "offstatd: starting the writer: %s\n", err);
		ingest_fini();
		http_stop(web);
		snapshot_clear();
		store_close(st);
		auth_close(tokens_db);
		return (1);
	}
	so.urls             = c->urls;
	so.nurls            = c->nurls;
	so.workers          = c->workers;
	so.max_request      = c->max_request;
	so.auth             = tokens_db;
	so.reads_need_token = reads_need_token(c);
	so.tls_cert         = cfg_get(&c->settings, CFG_TLS_CERT);
	so.tls_key          = cfg_get(&c->settings, CFG_TLS_KEY);
	so.tls_key_pass     = cfg_get(&c->settings, CFG_TLS_KEY_PASSWORD);
	so.tls_client_ca    = cfg_get(&c->settings, CFG_TLS_CLIENT_CA);
	so.reply_cache      = c->reply_cache;
	so.check_ms =
	        (unsigned)cfg_size(&c->settings, CFG_LISTENER_CHECK, 5) * 1000;
	if (server_start(&srv, &so, err, sizeof(err)) != 0) {
		fprintf(stderr, "offstatd: %s\n", err);
		writer_stop();
		ingest_fini();
		http_stop(web);
		snapshot_clear();
		store_close(st);
		auth_close(tokens_db);
		return (1);
	}
	metrics_set_in_flight(in_flight, srv);
	metrics_set_restarts(restarts, srv);
	metrics_set_listening(true);
	log_info("access", "reads=%s writes=writer-token",
	         so.reads_need_token ? "reader-token" : "open");
	{
		snapshot *cur = snapshot_current();
		log_info("ready",
		         "version=%s release=%llu areas=%zu offences=%zu "
		         "counts=%zu",
		         OFFSTAT_VERSION_STRING,
		         (unsigned long long)cur->release, cur->nareas,
		         cur->noffences, cur->nentries);
		snapshot_unref(cur);
	}
	do {
		if (sigwait(&sigs, &sig) != 0) {
			sig = SIGTERM;
		}
	} while (sig != SIGINT && sig != SIGTERM);
	log_info("stopping", "signal=%s",
	         sig == SIGINT ? "SIGINT" : "SIGTERM");
	metrics_set_listening(false);
	unsigned long long served = server_served(srv);
	/* Writes already queued finish (a commit in progress completes)
	 * before the socket closes; later ones are answered in place. */
	writer_stop();
	/* Scrapes read the server's in-flight gauge and the tokens'
	 * failure count: they stop before either goes. */
	http_stop(web);
	metrics_set_in_flight(NULL, NULL);
	metrics_set_restarts(NULL, NULL);
	server_stop(srv, 5000);
	ingest_fini();
	snapshot_clear();
	store_close(st);
	auth_close(tokens_db);
	log_info("stopped", "served=%llu", served);
	return (0);
}

static int
run(int argc, char **argv, config *c)
{
	int  rv;
	bool token  = argc > 1 && strcmp(argv[1], "token") == 0;
	bool import = argc > 1 && strcmp(argv[1], "import") == 0;

	if (token || import) {
		argc--;
		argv++;
	}
	if ((rv = parse_args(argc, argv, token || import, c)) != 0) {
		return (rv);
	}
	if (!token && !import && optind < argc) {
		return (usage_error("unexpected argument '%s'", argv[optind]));
	}
	/* Only `token add` takes these; anywhere else they would be
	 * silently ignored. */
	if ((c->expires != NULL || c->role != NULL) &&
	    !(token && argc - optind == 1 &&
	      strcmp(argv[optind], "add") == 0)) {
		return (usage_error("%s", "--role and --expires are token add "
		                          "options"));
	}
	if ((rv = resolve_config(c)) != 0) {
		return (rv < 0 ? 0 : rv);
	}
	if (token) {
		return (run_token(c, argc - optind, argv + optind));
	}
	if (import) {
		return (run_import(c, argc - optind, argv + optind));
	}
	return (run_server(c));
}

int
main(int argc, char **argv)
{
	config c = {0};
	int    rv;

	metrics_init();
	rv = run(argc, argv, &c);
	cfg_free(&c.settings);
	free(c.listen);
	return (rv);
}
