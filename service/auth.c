/* timegm() is a BSD and glibc extension. */
#define _DEFAULT_SOURCE
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "log.h"

#define MAX_TOKENS   4096
#define ID_LEN       8
#define SECRET_LEN   64
#define LINE_MAX_LEN 512

typedef struct {
	char          id[ID_LEN + 1];
	auth_role     role;
	unsigned char hash[32];
	char          created[32];
	time_t        expires; /* 0: never */
	char          label[128];
} entry;

struct auth {
	char           *path;
	pthread_mutex_t lock;
	entry          *tokens;
	size_t          ntokens;
	struct timespec mtime;
	time_t          checked;
	atomic_ullong   failures;
};

static const char *const role_names[] = {"none", "reader", "writer", "admin"};

auth_role
auth_role_parse(const char *s)
{
	for (int i = AUTH_READER; i <= AUTH_ADMIN; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			return ((auth_role)i);
		}
	}
	return (AUTH_NONE);
}

const char *
auth_role_name(auth_role r)
{
	return (r >= AUTH_NONE && r <= AUTH_ADMIN ? role_names[r] : "?");
}

static void
sha256(const char *s, unsigned char out[32])
{
	/* mbedtls 3 (the container's) renamed the 2.x _ret functions. */
#if MBEDTLS_VERSION_MAJOR >= 3
	(void)mbedtls_sha256((const unsigned char *)s, strlen(s), out, 0);
#else
	(void)mbedtls_sha256_ret((const unsigned char *)s, strlen(s), out, 0);
#endif
}

static int
unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];
			v <<= 4;
			if (c >= '0' && c <= '9') {
				v |= (unsigned)(c - '0');
			} else if (c >= 'a' && c <= 'f') {
				v |= (unsigned)(c - 'a' + 10);
			} else {
				return (-1);
			}
		}
		out[i] = (unsigned char)v;
	}
	return (s[2 * n] == '\0' ? 0 : -1);
}

static void
tohex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i]     = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f'))) {
			return (false);
		}
	}
	return (true);
}

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (UTC) exactly, after 1970-01-01T00:00:00Z
 * (0 means "never" to the rest of this file); 0, or -1. */
int
auth_time_parse(const char *s, time_t *out)
{
	struct tm tm = {0};
	char      back[32];
	int       used = -1;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
	           &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	           &used) != 6 ||
	    used != 20 || s[used] != '\0' || tm.tm_year < 1970) {
		return (-1);
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	/* timegm() carries 31 February into March: refuse what does not
	 * come back the same. */
	auth_time_format(*out, back, sizeof(back));
	return (*out > 0 && strcmp(back, s) == 0 ? 0 : -1);
}

void
auth_time_format(time_t t, char *out, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* How a file's lines end: with "expires label", or (files written before
 * tokens could expire) with just a label; told by the header save() writes,
 * or by the lines themselves when there is none. */
enum { LINES_UNKNOWN, LINES_LABEL, LINES_EXPIRES };

#define HEADER_EXPIRES "# offstat tokens: id role sha256 created expires label"
#define HEADER_LABEL   "# offstat tokens: id role sha256 created label"

/*
 * The fields after "created" into e. With the new header the first word is
 * "never" or a time, and anything else is an error; with the old one it is
 * all label. Without a header, "never" or a word that starts like a time
 * ("2027-") is the expiry, and one that starts like a time but is not a
 * valid one is an error (a mistyped expiry must not make a token that
 * never expires); anything else starts the label. Returns 0, or -1.
 */
static int
split_expiry(char *rest, int lines, entry *e)
{
	char  *label = rest != NULL ? rest : "";
	size_t w;

	e->expires = 0;
	label += strspn(label, " \t");
	w = strcspn(label, " \t");
	if (lines != LINES_LABEL) {
		bool timeish = w >= 5 && strspn(label, "0123456789") == 4 &&
		               label[4] == '-';
		if (w == 5 && strncmp(label, "never", 5) == 0) {
			label += w;
		} else if (timeish || lines == LINES_EXPIRES) {
			char word[32];
			if (w >= sizeof(word)) {
				return (-1);
			}
			memcpy(word, label, w);
			word[w] = '\0';
			if (auth_time_parse(word, &e->expires) != 0) {
				return (-1);
			}
			label += w;
		}
	}
	label += strspn(label, " \t");
	snprintf(e->label, sizeof(e->label), "%s", label);
	return (0);
}

static int
load(const char *path, entry **out, size_t *n, char *err, size_t errlen)
{
	FILE    *f = fopen(path, "r");
	char     line[LINE_MAX_LEN];
	unsigned lineno = 0;
	entry   *v      = NULL;
	size_t   cap    = 0;
	int      lines  = LINES_UNKNOWN;

	*out = NULL;
	*n   = 0;
	if (f == NULL) {
		if (errno == ENOENT) {
			return (0);
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *save = NULL, *id, *role, *hash, *created, *label;
		lineno++;
		/* A line edited on Windows ends "\r\n". */
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, HEADER_EXPIRES) == 0) {
			lines = LINES_EXPIRES;
		} else if (strcmp(line, HEADER_LABEL) == 0) {
			lines = LINES_LABEL;
		}
		if (line[0] == '#' || line[0] == '\0') {
			continue;
		}
		id      = strtok_r(line, " \t", &save);
		role    = strtok_r(NULL, " \t", &save);
		hash    = strtok_r(NULL, " \t", &save);
		created = strtok_r(NULL, " \t", &save);
		label   = strtok_r(NULL, "", &save);
		if (id == NULL || strlen(id) != ID_LEN ||
		    !is_hex(id, ID_LEN) || role == NULL ||
		    auth_role_parse(role) == AUTH_NONE || hash == NULL ||
		    created == NULL || *n >= MAX_TOKENS) {
			snprintf(err, errlen,
			         "%s line %u: not 'id role hash "
			         "created [expires] [label]'",
			         path, lineno);
			goto fail;
		}
		if (*n == cap) {
			cap      = cap ? cap * 2 : 16;
			entry *w = realloc(v, cap * sizeof(*v));
			if (w == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			v = w;
		}
		entry *e = &v[*n];
		memset(e, 0, sizeof(*e));
		if (unhex(hash, e->hash, 32) != 0) {
			snprintf(err, errlen, "%s line %u: bad hash", path,
			         lineno);
			goto fail;
		}
		snprintf(e->id, sizeof(e->id), "%s", id);
		e->role = auth_role_parse(role);
		snprintf(e->created, sizeof(e->created), "%s", created);
		if (split_expiry(label, lines, e) != 0) {
			snprintf(err, errlen,
			         "%s line %u: expires is not 'never' or a UTC "
			         "time like 2027-03-31T00:00:00Z",
			         path, lineno);
			goto fail;
		}
		(*n)++;
	}
	fclose(f);
	*out = v;
	return (0);
fail:
	fclose(f);
	free(v);
	*n = 0;
	return (-1);
}

int
auth_open(auth **out, const char *path, char *err, size_t errlen)
{
	auth       *a = calloc(1, sizeof(*a));
	struct stat st;

	if (a == NULL || (a->path = strdup(path)) == NULL) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	pthread_mutex_init(&a->lock, NULL);
	atomic_init(&a->failures, 0);
	if (load(path, &a->tokens, &a->ntokens, err, errlen) != 0) {
		auth_close(a);
		return (-1);
	}
	if (stat(path, &st) == 0) {
		a->mtime = st.st_mtim;
	}
	a->checked = time(NULL);
	*out       = a;
	return (0);
}

/* The refused-token lines of the process: the second they count, how many
 * that second wrote, and how many it left out. */
static pthread_mutex_t    refused_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t             refused_second;
static unsigned           refused_lines;
static unsigned long long refused_dropped;

/* Writes the line for the refusals left out, if any, and forgets them. */
static void
refused_flush(unsigned long long dropped, const auth *a)
{
	if (dropped == 0) {
		return;
	}
	if (a != NULL) {
		log_warn("authentication failures not logged",
		         "suppressed=%llu failures_total=%llu", dropped,
		         auth_failures(a));
	} else {
		log_warn("authentication failures not logged",
		         "suppressed=%llu", dropped);
	}
}

void
auth_log_refused(auth *a, const char *method, const char *request_id)
{
	struct timespec    now;
	unsigned long long dropped = 0;
	bool               write;
	char               id[64];
	size_t             n = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&refused_lock);
	if (now.tv_sec != refused_second) {
		dropped         = refused_dropped;
		refused_dropped = 0;
		refused_lines   = 0;
		refused_second  = now.tv_sec;
	}
	write = refused_lines < AUTH_LOG_PER_SEC;
	if (write) {
		refused_lines++;
	} else {
		refused_dropped++;
	}
	pthread_mutex_unlock(&refused_lock);
	refused_flush(dropped, a);
	if (!write) {
		return;
	}
	/* The request id is the caller's text: quotes, backslashes and
	 * control characters would break the line. */
	for (const char *p = request_id ? request_id : "";
	     *p != '\0' && n < sizeof(id) - 1; p++) {
		unsigned char c = (unsigned char)*p;
		id[n++] = c < 0x20 || c == 0x7f || c == '"' || c == '\\'
		                  ? '?'
		                  : (char)c;
	}
	id[n] = '\0';
	log_warn("authentication failed", "method=%s request_id=\"%s\"",
	         method ? method : "-", id);
}

void
auth_close(auth *a)
{
	if (a == NULL) {
		return;
	}
	pthread_mutex_lock(&refused_lock);
	unsigned long long dropped = refused_dropped;
	refused_dropped            = 0;
	pthread_mutex_unlock(&refused_lock);
	refused_flush(dropped, a);
	pthread_mutex_destroy(&a->lock);
	free(a->tokens);
	free(a->path);
	free(a);
}

/* Re-reads the file when it changed; keeps the old list if it is bad. */
static void
refresh(auth *a)
{
	struct stat st;
	time_t      now = time(NULL);
	entry      *v;
	size_t      n;
	char        err[256];

	if (now == a->checked) {
		return;
	}
	a->checked = now;
	if (stat(a->path, &st) != 0) {
		st.st_mtim.tv_sec = st.st_mtim.tv_nsec = 0;
	}
	if (st.st_mtim.tv_sec == a->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == a->mtime.tv_nsec) {
		return;
	}
	if (load(a->path, &v, &n, err, sizeof(err)) == 0) {
		free(a->tokens);
		a->tokens  = v;
		a->ntokens = n;
		a->mtime   = st.st_mtim;
	}
}

static bool
same_hash(const unsigned char *x, const unsigned char *y)
{
	/* Every byte is compared, so the time does not tell how many
	 * matched. */
	volatile unsigned char d = 0;
	for (size_t i = 0; i < 32; i++) {
		d |= (unsigned char)(x[i] ^ y[i]);
	}
	return (d == 0);
}

int
auth_check(auth *a, const char *authorization)
{
	const char   *tok;
	unsigned char h[32];
	char          id[ID_LEN + 1];
	int           role    = AUTH_INVALID;
	time_t        expires = 0;

	if (authorization == NULL || authorization[0] == '\0') {
		return (AUTH_MISSING);
	}
	if (strncasecmp(authorization, "Bearer ", 7) != 0) {
		atomic_fetch_add(&a->failures, 1);
		return (AUTH_INVALID);
	}
	tok = authorization + 7;
	if (strlen(tok) != AUTH_TOKEN_LEN || strncmp(tok, "ost_", 4) != 0 ||
	    tok[4 + ID_LEN] != '_' || !is_hex(tok + 4, ID_LEN) ||
	    !is_hex(tok + 5 + ID_LEN, SECRET_LEN)) {
		atomic_fetch_add(&a->failures, 1);
		return (AUTH_INVALID);
	}
	memcpy(id, tok + 4, ID_LEN);
	id[ID_LEN] = '\0';
	sha256(tok, h);
	pthread_mutex_lock(&a->lock);
	refresh(a);
	for (size_t i = 0; i < a->ntokens; i++) {
		if (strcmp(a->tokens[i].id, id) == 0 &&
		    same_hash(a->tokens[i].hash, h)) {
			role    = (int)a->tokens[i].role;
			expires = a->tokens[i].expires;
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (role >= 0 && expires != 0 && time(NULL) >= expires) {
		role = AUTH_EXPIRED;
	}
	if (role == AUTH_INVALID || role == AUTH_EXPIRED) {
		atomic_fetch_add(&a->failures, 1);
	}
	return (role);
}

unsigned long long
auth_failures(const auth *a)
{
	return (atomic_load(&((auth *)a)->failures));
}

/* Writes the list to path atomically: a temporary file, then rename. */
static int
save(const char *path, const entry *v, size_t n, char *err, size_t errlen)
{
	char  tmp[4096];
	char  hex[65], expires[32];
	FILE *f;
	int   fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "path too long");
		return (-1);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return (-1);
	}
	fprintf(f, "%s\n", HEADER_EXPIRES);
	for (size_t i = 0; i < n; i++) {
		tohex(v[i].hash, 32, hex);
		if (v[i].expires != 0) {
			auth_time_format(v[i].expires, expires,
			                 sizeof(expires));
		} else {
			snprintf(expires, sizeof(expires), "never");
		}
		fprintf(f, "%s %s %s %s %s %s\n", v[i].id,
		        auth_role_name(v[i].role), hex, v[i].created, expires,
		        v[i].label);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return (-1);
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return (-1);
	}
	return (0);
}

int
auth_add(const char *path, auth_role role, const char *label, time_t expires,
         char *token, char *err, size_t errlen)
{
	unsigned char rnd[4 + SECRET_LEN / 2];
	char          idhex[ID_LEN + 1], secret[SECRET_LEN + 1];
	entry        *v;
	size_t        n;
	time_t        now = time(NULL);

	if (role == AUTH_NONE) {
		snprintf(err, errlen,
		         "a token needs a role: reader, writer "
		         "or admin");
		return (-1);
	}
	if (expires != 0 && expires <= now) {
		snprintf(err, errlen, "the expiry time has passed already");
		return (-1);
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "no random numbers: %s",
		         strerror(errno));
		return (-1);
	}
	if (load(path, &v, &n, err, errlen) != 0) {
		return (-1);
	}
	entry *w = realloc(v, (n + 1) * sizeof(*v));
	if (w == NULL) {
		free(v);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	v = w;
	tohex(rnd, 4, idhex);
	tohex(rnd + 4, SECRET_LEN / 2, secret);
	snprintf(token, AUTH_TOKEN_LEN + 1, "ost_%s_%s", idhex, secret);
	entry *e = &v[n];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", idhex);
	e->role = role;
	sha256(token, e->hash);
	auth_time_format(now, e->created, sizeof(e->created));
	e->expires = expires;
	/* Labels are one line of printable text. */
	size_t k = 0;
	for (const char *p = label ? label : "";
	     *p && k + 1 < sizeof(e->label); p++) {
		e->label[k++] = (*p >= 0x20 && *p != 0x7f) ? *p : ' ';
	}
	int rv = save(path, v, n + 1, err, errlen);
	free(v);
	if (rv != 0) {
		memset(token, 0, AUTH_TOKEN_LEN + 1);
	}
	return (rv);
}

int
auth_list(const char *path, FILE *out, char *err, size_t errlen)
{
	entry *v;
	size_t n;
	if (load(path, &v, &n, err, errlen) != 0) {
		return (-1);
	}
	time_t now = time(NULL);
	fprintf(out, "%-8s  %-6s  %-20s  %-30s  %s\n", "ID", "ROLE", "CREATED",
	        "EXPIRES", "LABEL");
	for (size_t i = 0; i < n; i++) {
		char when[32], expires[48];
		if (v[i].expires == 0) {
			snprintf(expires, sizeof(expires), "never");
		} else {
			auth_time_format(v[i].expires, when, sizeof(when));
			snprintf(expires, sizeof(expires), "%s%s", when,
			         v[i].expires <= now ? " (expired)" : "");
		}
		fprintf(out, "%-8s  %-6s  %-20s  %-30s  %s\n", v[i].id,
		        auth_role_name(v[i].role), v[i].created, expires,
		        v[i].label);
	}
	free(v);
	return (0);
}

int
auth_revoke(const char *path, const char *id, char *err, size_t errlen)
{
	entry *v;
	size_t n, k = 0;
	if (load(path, &v, &n, err, errlen) != 0) {
		return (-1);
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, id) != 0) {
			v[k++] = v[i];
		}
	}
	if (k == n) {
		free(v);
		snprintf(err, errlen, "no token with id '%s'", id);
		return (-1);
	}
	int rv = save(path, v, k, err, errlen);
	free(v);
	return (rv);
}
