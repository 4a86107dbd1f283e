#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "http.h"
#include "log.h"

typedef int (*checker)(const char *v, char *why, size_t len);

/*
 * A key: its spellings, and how its value is checked: by check, or, when
 * check is NULL and hi is not 0, as a whole number from lo to hi (0 meaning
 * off when lo is 0) in unit; when both are unset, anything goes.
 */
typedef struct {
	const char        *name;   /* in the file */
	const char        *env;    /* the variable */
	const char        *flag;   /* the long flag */
	const char        *dflt;   /* shown by --print-config */
	bool               secret; /* masked by --print-config */
	checker            check;
	unsigned long long lo, hi;
	const char        *unit; /* "" or " bytes", " seconds" */
} key_def;

static int
parse_num(const char *s, unsigned long long lo, unsigned long long hi,
          unsigned long long *out)
{
	char              *end;
	unsigned long long v;

	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
	    v > hi) {
		return (-1);
	}
	*out = v;
	return (0);
}

static int
check_path(const char *v, char *why, size_t len)
{
	if (v[0] == '\0') {
		snprintf(why, len, "give a path");
		return (-1);
	}
	return (0);
}

static int
check_listen(const char *v, char *why, size_t len)
{
	size_t      n = 0;
	const char *p = v;

	while (*p != '\0') {
		size_t k = strcspn(p, ", \t");
		if (k > 0) {
			bool url = false;
			for (size_t j = 0; j + 3 <= k && !url; j++) {
				url = memcmp(p + j, "://", 3) == 0;
			}
			if (!url) {
				snprintf(
				        why, len,
				        "give URLs such as tcp://HOST:PORT or "
				        "ipc:///path");
				return (-1);
			}
			n++;
		}
		p += k;
		p += strspn(p, ", \t");
	}
	if (n == 0) {
		snprintf(why, len, "give at least one URL");
		return (-1);
	}
	if (n > CFG_MAX_LISTEN) {
		snprintf(why, len, "at most 16 listeners");
		return (-1);
	}
	return (0);
}

static int
check_http(const char *v, char *why, size_t len)
{
	char err[256];

	if (strcmp(v, "off") == 0) {
		return (0);
	}
	if (http_check_address(v, err, sizeof(err)) != 0) {
		snprintf(why, len, "%s", err);
		return (-1);
	}
	return (0);
}

static int
check_level(const char *v, char *why, size_t len)
{
	if (log_level_parse(v) < 0) {
		snprintf(why, len, "give debug, info, warn, error or off");
		return (-1);
	}
	return (0);
}

static int
check_read_auth(const char *v, char *why, size_t len)
{
	if (strcmp(v, "auto") != 0 && strcmp(v, "required") != 0 &&
	    strcmp(v, "open") != 0) {
		snprintf(why, len, "give auto, required or open");
		return (-1);
	}
	return (0);
}

/* Checks v as k's value; 0, or -1 with the reason in why. */
static int
check_value(const key_def *k, const char *v, char *why, size_t len)
{
	unsigned long long n;

	if (k->check != NULL) {
		return (k->check(v, why, len));
	}
	if (k->hi == 0 || parse_num(v, k->lo, k->hi, &n) == 0) {
		return (0);
	}
	if (k->lo == 0) {
		snprintf(why, len, "give 0 (off) to %llu%s", k->hi, k->unit);
	} else {
		snprintf(why, len, "give %llu to %llu%s", k->lo, k->hi,
		         k->unit);
	}
	return (-1);
}

/* A key checked by a function, as a number from lo to hi, or not at all. */
#define CHECKED(fn)         fn, 0, 0, ""
#define RANGE(lo, hi, unit) NULL, lo, hi, unit
#define ANYTHING            NULL, 0, 0, ""

/* In cfg_key order. The key's password is the one secret (tokens are kept
 * hashed in the tokens file, whose path is not one). */
static const key_def keys[CFG_NKEYS] = {
        {"listen", "OFFSTAT_LISTEN", "--listen", "tcp://127.0.0.1:7355", false,
         CHECKED(check_listen)},
        {"db", "OFFSTAT_DB", "--db", "DATA_DIR/offstat.db", false,
         CHECKED(check_path)},
        {"data_dir", "OFFSTAT_DATA_DIR", "--data-dir",
         "$XDG_DATA_HOME/offstat or ~/.local/share/offstat", false,
         CHECKED(check_path)},
        {"tokens", "OFFSTAT_TOKENS", "--tokens", "DATA_DIR/tokens", false,
         CHECKED(check_path)},
        {"http", "OFFSTAT_HTTP", "--http", CFG_DEFAULT_HTTP, false,
         CHECKED(check_http)},
        {"log_level", "OFFSTAT_LOG_LEVEL", "--log-level", "info", false,
         CHECKED(check_level)},
        {"workers", "OFFSTAT_WORKERS", "--workers", "64", false,
         RANGE(1, 4096, "")},
        {"max_request", "OFFSTAT_MAX_REQUEST", "--max-request", "1048576",
         false, RANGE(1024, 256u << 20, " bytes")},
        {"read_auth", "OFFSTAT_READ_AUTH", "--read-auth", "auto", false,
         CHECKED(check_read_auth)},
        {"ingest_expiry", "OFFSTAT_INGEST_EXPIRY", "--ingest-expiry", "1800",
         false, RANGE(1, 30u * 86400, " seconds")},
        {"tls_cert", "OFFSTAT_TLS_CERT", "--tls-cert", "(none)", false,
         CHECKED(check_path)},
        {"tls_key", "OFFSTAT_TLS_KEY", "--tls-key", "(none)", false,
         CHECKED(check_path)},
        {"tls_key_password", "OFFSTAT_TLS_KEY_PASSWORD", "--tls-key-password",
         "(none)", true, ANYTHING},
        {"tls_client_ca", "OFFSTAT_TLS_CLIENT_CA", "--tls-client-ca",
         "(none: no client certificates)", false, CHECKED(check_path)},
        {"reply_cache", "OFFSTAT_REPLY_CACHE", "--reply-cache", "33554432",
         false, RANGE(0, 16ull << 30, " bytes")},
        {"listener_check", "OFFSTAT_LISTENER_CHECK", "--listener-check", "5",
         false, RANGE(0, 3600, " seconds")},
};

void
cfg_free(cfg *c)
{
	for (int i = 0; i < CFG_NKEYS; i++) {
		free(c->value[i]);
		c->value[i] = NULL;
	}
}

/* Stores v for key unless a layer of higher precedence set it already. */
static int
set(cfg *c, cfg_key key, const char *v, cfg_source src, const char *origin)
{
	char *copy;

	if (c->value[key] != NULL && c->source[key] > src) {
		return (0);
	}
	if ((copy = strdup(v)) == NULL) {
		return (-1);
	}
	free(c->value[key]);
	c->value[key]  = copy;
	c->source[key] = src;
	snprintf(c->origin[key], sizeof(c->origin[key]), "%s", origin);
	return (0);
}

int
cfg_flag(cfg *c, cfg_key key, const char *flag, const char *value, char *err,
         size_t errlen)
{
	char why[256];

	if (check_value(&keys[key], value, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s '%s': %s", flag, value, why);
		return (-1);
	}
	/* Repeated --listen flags add listeners. */
	if (key == CFG_LISTEN && c->value[key] != NULL &&
	    c->source[key] == CFG_FROM_FLAG) {
		size_t n      = strlen(c->value[key]) + strlen(value) + 2;
		char  *joined = malloc(n);
		if (joined == NULL) {
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
		snprintf(joined, n, "%s,%s", c->value[key], value);
		if (check_value(&keys[key], joined, why, sizeof(why)) != 0) {
			free(joined);
			snprintf(err, errlen, "%s '%s': %s", flag, value, why);
			return (-1);
		}
		free(c->value[key]);
		c->value[key] = joined;
		return (0);
	}
	if (set(c, key, value, CFG_FROM_FLAG, keys[key].flag) != 0) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	return (0);
}

int
cfg_env(cfg *c, char *err, size_t errlen)
{
	char why[256];

	for (int i = 0; i < CFG_NKEYS; i++) {
		const char *v = getenv(keys[i].env);
		if (v == NULL || v[0] == '\0') {
			continue;
		}
		if (check_value(&keys[i], v, why, sizeof(why)) != 0) {
			/* A secret's value is not repeated in the message. */
			snprintf(err, errlen, "%s='%s' (key %s): %s",
			         keys[i].env, keys[i].secret ? "***" : v,
			         keys[i].name, why);
			return (-1);
		}
		if (set(c, (cfg_key)i, v, CFG_FROM_ENV, keys[i].env) != 0) {
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
	}
	return (0);
}

typedef struct {
	cfg        *c;
	const char *path;
	FILE       *fp;
	int         line;   /* of the text the parser has now */
	bool        at_bol; /* the next read starts a line */
	char        msg[512];
	bool        failed;
} file_ctx;

/* inih's reader, counting lines so that each entry knows its own (the
 * packaged inih does not pass line numbers to handlers). */
static char *
read_line(char *str, int num, void *stream)
{
	file_ctx *f = stream;
	char     *s;

	if ((s = fgets(str, num, f->fp)) == NULL) {
		return (NULL);
	}
	if (f->at_bol) {
		f->line++;
	}
	f->at_bol = strchr(s, '\n') != NULL;
	return (s);
}

static int
on_entry(void *user, const char *section, const char *name, const char *value)
{
	file_ctx *f = user;
	char      key[64];
	char      why[256];
	char      origin[320];
	int       i;

	if (f->failed) {
		return (0);
	}
	if (section[0] != '\0' && strcmp(section, "offstatd") != 0) {
		snprintf(f->msg, sizeof(f->msg),
		         "%.300s:%d: unknown section [%.64s] (give [offstatd] "
		         "or none)",
		         f->path, f->line, section);
		f->failed = true;
		return (0);
	}
	/* data-dir and data_dir are the same key. */
	snprintf(key, sizeof(key), "%s", name);
	for (char *p = key; *p != '\0'; p++) {
		if (*p == '-') {
			*p = '_';
		}
	}
	for (i = 0; i < CFG_NKEYS; i++) {
		if (strcmp(key, keys[i].name) == 0) {
			break;
		}
	}
	if (i == CFG_NKEYS) {
		snprintf(f->msg, sizeof(f->msg),
		         "%.300s:%d: unknown key '%.64s'", f->path, f->line,
		         name);
		f->failed = true;
		return (0);
	}
	if (check_value(&keys[i], value, why, sizeof(why)) != 0) {
		snprintf(f->msg, sizeof(f->msg),
		         "%.200s:%d: %s '%.100s': %.150s", f->path, f->line,
		         keys[i].name, keys[i].secret ? "***" : value, why);
		f->failed = true;
		return (0);
	}
	snprintf(origin, sizeof(origin), "%.300s:%d", f->path, f->line);
	if (set(f->c, (cfg_key)i, value, CFG_FROM_FILE, origin) != 0) {
		snprintf(f->msg, sizeof(f->msg), "out of memory");
		f->failed = true;
		return (0);
	}
	return (1);
}

int
cfg_file(cfg *c, const char *path, char *err, size_t errlen)
{
	file_ctx f = {.c = c, .path = path, .at_bol = true};
	int      rv;

	if ((f.fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	rv = ini_parse_stream(read_line, &f, on_entry, &f);
	if (rv == 0 && ferror(f.fp)) {
		/* A directory opens but does not read. */
		snprintf(err, errlen, "%s: cannot read it", path);
		rv = -1;
	} else if (rv != 0 && f.failed) {
		snprintf(err, errlen, "%s", f.msg);
	} else if (rv != 0) {
		snprintf(err, errlen,
		         "%s:%d: not 'key = value', a [section] or a comment",
		         path, rv);
	}
	fclose(f.fp);
	return (rv == 0 ? 0 : -1);
}

const char *
cfg_flag_name(cfg_key key)
{
	return (keys[key].flag);
}

const char *
cfg_get(const cfg *c, cfg_key key)
{
	return (c->value[key]);
}

size_t
cfg_size(const cfg *c, cfg_key key, size_t def)
{
	const char *v = c->value[key];
	return (v != NULL ? (size_t)strtoull(v, NULL, 10) : def);
}

void
cfg_print(const cfg *c, FILE *out)
{
	static const char *const from[] = {"default", "file", "env", "flag"};

	for (int i = 0; i < CFG_NKEYS; i++) {
		const char *v =
		        c->value[i] != NULL ? c->value[i] : keys[i].dflt;
		if (keys[i].secret && c->value[i] != NULL) {
			v = "********";
		}
		if (c->value[i] == NULL) {
			fprintf(out, "%-16s = %-32s # default\n", keys[i].name,
			        v);
		} else {
			fprintf(out, "%-16s = %-32s # %s %s\n", keys[i].name,
			        v, from[c->source[i]], c->origin[i]);
		}
	}
}
