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
#include "dataset.h"
#include "dispatch.h"
#include "import.h"
#include "ingest.h"
#include "writer.h"
#include "log.h"
#include "server.h"
#include "store.h"

#define DEFAULT_URL   "tcp://127.0.0.1:7355"
#define MAX_LISTEN    16
#define MAX_FILE_SIZE (1024L * 1024 * 1024)

static const char usage_text[] =
        "usage: offstatd [options]                  serve the API\n"
        "       offstatd import [options] FILE…     load open data files\n"
        "       offstatd token add --role ROLE [--label TEXT]\n"
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
        "\n"
        "On first start with an empty database the bundled dataset is "
        "loaded.\n"
        "SIGTERM or SIGINT stops the service after answering requests in "
        "flight.\n";

typedef struct {
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
	const char *read_auth;
	size_t      ingest_expiry;
} config;

enum {
	OPT_SKIP_BAD = 256,
	OPT_SOURCE,
	OPT_LABEL,
	OPT_ROLE,
	OPT_READ_AUTH,
	OPT_INGEST_EXPIRY,
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
        {"read-auth", required_argument, NULL, OPT_READ_AUTH},
        {"ingest-expiry", required_argument, NULL, OPT_INGEST_EXPIRY},
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

static int
parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
	char              *end;
	unsigned long long v;
	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
	    v > hi) {
		return (-1);
	}
	*out = (size_t)v;
	return (0);
}

static int
parse_args(int argc, char **argv, bool importing, config *c)
{
	int opt, lvl;
	while ((opt = getopt_long(argc, argv, "l:d:D:w:m:L:T:hV", long_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (c->nurls == MAX_LISTEN) {
				return (usage_error("at most %s listeners",
				                    "16"));
			}
			c->urls[c->nurls++] = optarg;
			break;
		case 'd':
			c->db = optarg;
			break;
		case 'D':
			c->data_dir = optarg;
			break;
		case 'w':
			if (parse_size(optarg, 1, 4096, &c->workers) != 0) {
				return (usage_error(
				        "--workers '%s': give 1 to 4096",
				        optarg));
			}
			break;
		case 'm':
			if (parse_size(optarg, 1024, 256u << 20,
			               &c->max_request) != 0) {
				return (usage_error("--max-request '%s': give "
				                    "1024 to 268435456 bytes",
				                    optarg));
			}
			break;
		case 'L':
			if ((lvl = log_level_parse(optarg)) < 0) {
				return (usage_error("--log-level '%s': give "
				                    "debug, info, warn, error "
				                    "or off",
				                    optarg));
			}
			log_set_level((log_level)lvl);
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("offstatd %s\n", OFFSTAT_VERSION_STRING);
			exit(0);
		case 'T':
			c->tokens = optarg;
			break;
		case OPT_ROLE:
			c->role = optarg;
			break;
		case OPT_READ_AUTH:
			if (strcmp(optarg, "auto") != 0 &&
			    strcmp(optarg, "required") != 0 &&
			    strcmp(optarg, "open") != 0) {
				return (usage_error("--read-auth '%s': give "
				                    "auto, required or open",
				                    optarg));
			}
			c->read_auth = optarg;
			break;
		case OPT_INGEST_EXPIRY:
			if (parse_size(optarg, 1, 30u * 86400,
			               &c->ingest_expiry) != 0) {
				return (usage_error("--ingest-expiry '%s': give "
				                    "1 to 2592000 seconds",
				                    optarg));
			}
			break;
		case OPT_SKIP_BAD:
		case OPT_SOURCE:
		case OPT_LABEL:
			if (!importing) {
				return (usage_error("%s is an import option",
				                    argv[optind - 1]));
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
	        strncmp(url, "tcp://localhost:", 16) == 0 ||
	        strncmp(url, "tcp://[::1]:", 12) == 0);
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
		auth_role role =
		        c->role ? auth_role_parse(c->role) : AUTH_NONE;
		if (role == AUTH_NONE) {
			free(path);
			return (usage_error("token add: give --role %s",
			                    "reader, writer or admin"));
		}
		if (auth_add(path, role, c->label, token, err, sizeof(err)) ==
		    0) {
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
	store      *st;
	snapshot   *snap;
	server     *srv;
	sigset_t    sigs;
	int         sig;
	char        err[512];
	server_opts so        = {0};
	auth       *tokens_db = NULL;

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
	if (open_store(c, &st, &snap) != 0) {
		auth_close(tokens_db);
		return (1);
	}
	snapshot_publish(snap);
	handlers_started();
	if (ingest_init(st, c->ingest_expiry ? (unsigned)c->ingest_expiry
	                                     : 1800,
	                err, sizeof(err)) != 0 ||
	    writer_start(ingest_sweep, 1000) != 0) {
		fprintf(stderr, "offstatd: starting the writer: %s\n", err);
		ingest_fini();
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
	if (server_start(&srv, &so, err, sizeof(err)) != 0) {
		fprintf(stderr, "offstatd: %s\n", err);
		writer_stop();
		ingest_fini();
		snapshot_clear();
		store_close(st);
		auth_close(tokens_db);
		return (1);
	}
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
	unsigned long long served = server_served(srv);
	/* Writes already queued finish (a commit in progress completes)
	 * before the socket closes; later ones are answered in place. */
	writer_stop();
	server_stop(srv, 5000);
	ingest_fini();
	snapshot_clear();
	store_close(st);
	auth_close(tokens_db);
	log_info("stopped", "served=%llu", served);
	return (0);
}

int
main(int argc, char **argv)
{
	config c = {0};
	int    rv;

	if (argc > 1 && strcmp(argv[1], "token") == 0) {
		if ((rv = parse_args(argc - 1, argv + 1, true, &c)) != 0) {
			return (rv);
		}
		return (run_token(&c, argc - 1 - optind, argv + 1 + optind));
	}
	if (argc > 1 && strcmp(argv[1], "import") == 0) {
		if ((rv = parse_args(argc - 1, argv + 1, true, &c)) != 0) {
			return (rv);
		}
		return (run_import(&c, argc - 1 - optind, argv + 1 + optind));
	}
	if ((rv = parse_args(argc, argv, false, &c)) != 0) {
		return (rv);
	}
	if (optind < argc) {
		return (usage_error("unexpected argument '%s'", argv[optind]));
	}
	return (run_server(&c));
}
