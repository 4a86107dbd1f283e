#include "opendata.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

/*
 * Strings live in large blocks freed together: a 300,000-row file would
 * otherwise cost over a million small allocations. Equal strings are
 * stored once (a sheet repeats each description hundreds of times).
 */
#define POOL_BLOCK 65536

typedef struct od_block {
	struct od_block *next;
	size_t           size;
	size_t           used;
	char             data[];
} od_block;

struct od_pool {
	od_block *head;
};

static char *
pool_strndup(od_pool *pool, const char *s, size_t len)
{
	od_block *b = pool->head;

	if (b == NULL || b->size - b->used < len + 1) {
		size_t size = len + 1 > POOL_BLOCK / 4 ? len + 1 : POOL_BLOCK;
		od_block *nb = malloc(sizeof(*nb) + size);
		if (nb == NULL) {
			return (NULL);
		}
		nb->size = size;
		nb->used = 0;
		/* A big string gets a block of its own behind the current
		 * one, whose free space stays in use. */
		if (b != NULL && size != POOL_BLOCK) {
			nb->next = b->next;
			b->next  = nb;
		} else {
			nb->next   = b;
			pool->head = nb;
		}
		b = nb;
	}
	char *p = b->data + b->used;
	memcpy(p, s, len);
	p[len] = '\0';
	b->used += len + 1;
	return (p);
}

static void
pool_free(od_pool *pool)
{
	if (pool == NULL) {
		return;
	}
	for (od_block *b = pool->head, *next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(pool);
}

/* One distinct string; a force name also caches what it resolved to. */
typedef struct {
	const char *s;
	size_t      len;
	uint64_t    hash;
	const char *area;
	bool        resolved;
} istr;

typedef struct {
	od_file      *f;
	od_pool      *pool;
	od_resolve_fn resolve;
	void         *arg;
	istr         *strs; /* open addressing, power-of-two size */
	size_t        nstrs, strcap;
	size_t       *keys; /* row index + 1 per slot, 0 when empty */
	size_t        keycap;
	size_t        rowcap, errcap;
	bool          oom;
} parser;

static const char *const columns[OD_NCOLS] = { "Financial Year",
	"Financial Quarter", "Force Name", "Offence Description",
	"Offence Group", "Offence Subgroup", "Offence Code",
	"Number of Offences" };

enum { C_YEAR, C_QUARTER, C_FORCE, C_DESC, C_GROUP, C_SUBGROUP, C_CODE,
	C_COUNT };

static inline uint64_t
mix(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (h);
}

/* Eight bytes a step: strings are hashed once per field of every row. */
static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len;
	uint64_t w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0x100000001b3);
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, len);
	return (mix(h ^ w));
}

static int
grow_strs(parser *p)
{
	size_t cap  = p->strcap ? p->strcap * 2 : 1024;
	istr  *strs = calloc(cap, sizeof(*strs));
	if (strs == NULL) {
		return (-1);
	}
	for (size_t i = 0; i < p->strcap; i++) {
		if (p->strs[i].s != NULL) {
			size_t j = (size_t) p->strs[i].hash & (cap - 1);
			while (strs[j].s != NULL) {
				j = (j + 1) & (cap - 1);
			}
			strs[j] = p->strs[i];
		}
	}
	free(p->strs);
	p->strs   = strs;
	p->strcap = cap;
	return (0);
}

/* The slot of the pooled copy of s[0..len), or -1 when out of memory. */
static long
intern(parser *p, const char *s, size_t len)
{
	if (2 * (p->nstrs + 1) > p->strcap && grow_strs(p) != 0) {
		return (-1);
	}
	uint64_t h = hash_bytes(s, len);
	size_t   j = (size_t) h & (p->strcap - 1);
	for (; p->strs[j].s != NULL; j = (j + 1) & (p->strcap - 1)) {
		if (p->strs[j].hash == h && p->strs[j].len == len &&
		    memcmp(p->strs[j].s, s, len) == 0) {
			return ((long) j);
		}
	}
	const char *copy = pool_strndup(p->pool, s, len);
	if (copy == NULL) {
		return (-1);
	}
	p->strs[j] = (istr){ .s = copy, .len = len, .hash = h };
	p->nstrs++;
	return ((long) j);
}

static uint64_t
row_hash(const od_row *r)
{
	return (mix((uint64_t) (uintptr_t) r->area ^
	    mix((uint64_t) (uintptr_t) r->code) ^
	    ((uint64_t) r->year << 40 | (uint64_t) r->quarter << 32)));
}

/*
 * Finds a row earlier in the file with r's area, code and period; if there
 * is none, records r (rows[n]) for later rows. Interned strings compare by
 * pointer.
 */
static int
find_dup(parser *p, size_t n, const od_row **dup)
{
	const od_row *rows = p->f->rows;
	const od_row *r    = &rows[n];

	*dup = NULL;
	if (2 * (n + 1) > p->keycap) {
		size_t  cap  = p->keycap ? p->keycap * 2 : 4096;
		size_t *keys = calloc(cap, sizeof(*keys));
		if (keys == NULL) {
			return (-1);
		}
		for (size_t i = 0; i < p->keycap; i++) {
			if (p->keys[i] != 0) {
				size_t j = (size_t) row_hash(&rows[p->keys[i] - 1]) &
				    (cap - 1);
				while (keys[j] != 0) {
					j = (j + 1) & (cap - 1);
				}
				keys[j] = p->keys[i];
			}
		}
		free(p->keys);
		p->keys   = keys;
		p->keycap = cap;
	}
	size_t j = (size_t) row_hash(r) & (p->keycap - 1);
	for (; p->keys[j] != 0; j = (j + 1) & (p->keycap - 1)) {
		const od_row *o = &rows[p->keys[j] - 1];
		if (o->area == r->area && o->code == r->code &&
		    o->year == r->year && o->quarter == r->quarter) {
			*dup = o;
			return (0);
		}
	}
	p->keys[j] = n + 1;
	return (0);
}

/*
 * Length of the valid UTF-8 character at s, or 0. Overlong forms,
 * surrogates and code points past U+10FFFF are invalid.
 */
static size_t
utf8_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t        len;

	if (c < 0x80) {
		return (1);
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		lo  = c == 0xE0 ? 0xA0 : 0x80;
		hi  = c == 0xED ? 0x9F : 0xBF;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		lo  = c == 0xF0 ? 0x90 : 0x80;
		hi  = c == 0xF4 ? 0x8F : 0xBF;
	} else {
		return (0);
	}
	if (n < len || s[1] < lo || s[1] > hi) {
		return (0);
	}
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF) {
			return (0);
		}
	}
	return (len);
}

/* C0, DEL and C1 controls: invisible, and they break one-line output. */
static bool
is_control(const unsigned char *s, size_t clen)
{
	return (clen == 1 ? (s[0] < 0x20 || s[0] == 0x7F)
	                  : (clen == 2 && s[0] == 0xC2 && s[1] < 0xA0));
}

/* Why s[0..len) is not acceptable text, or NULL when it is. */
static const char *
check_text(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;

	for (size_t i = 0; i < len;) {
		if (u[i] >= 0x20 && u[i] < 0x7F) {
			i++;
			continue;
		}
		size_t clen = utf8_char(u + i, len - i);
		if (clen == 0) {
			return ("not valid UTF-8");
		}
		if (is_control(u + i, clen)) {
			return ("holds a control character");
		}
		i += clen;
	}
	return (NULL);
}

/*
 * Copies s[0..len) into buf for a message: at most about 60 bytes, cut at
 * a character boundary, anything unprintable or invalid shown as '?'.
 */
static const char *
show(char *buf, size_t size, const char *s, size_t len)
{
	const unsigned char *u   = (const unsigned char *) s;
	size_t               out = 0;
	size_t               max = size - 4; /* room for "..." and NUL */

	for (size_t i = 0; i < len;) {
		size_t clen = utf8_char(u + i, len - i);
		bool   bad  = clen == 0 || is_control(u + i, clen);
		size_t take = bad ? 1 : clen;
		if (out + take > max) {
			memcpy(buf + out, "...", 3);
			out += 3;
			break;
		}
		if (bad) {
			buf[out++] = '?';
		} else {
			memcpy(buf + out, s + i, clen);
			out += clen;
		}
		i += take;
	}
	buf[out] = '\0';
	return (buf);
}

static void
bad_line(parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Counts a bad line and keeps its message while under the cap. */
static void
bad_line(parser *p, unsigned line, const char *fmt, ...)
{
	od_file *f = p->f;
	char     msg[512];
	int      n;
	va_list  ap;

	f->nbad++;
	if (f->nerrors >= OD_MAX_ERRORS) {
		return;
	}
	if (f->nerrors == p->errcap) {
		size_t cap  = p->errcap ? p->errcap * 2 : 16;
		char **errs = realloc(f->errors, cap * sizeof(*errs));
		if (errs == NULL) {
			p->oom = true;
			return;
		}
		f->errors = errs;
		p->errcap = cap;
	}
	n = snprintf(msg, sizeof(msg), "line %u: ", line);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t) n, fmt, ap);
	va_end(ap);
	char *copy = pool_strndup(p->pool, msg, strlen(msg));
	if (copy == NULL) {
		p->oom = true;
		return;
	}
	f->errors[f->nerrors++] = copy;
}

static bool
is_digits(const char *s, size_t len)
{
	if (len == 0) {
		return (false);
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return (false);
		}
	}
	return (true);
}

/* "2024/25" gives 2024; the second year must follow the first. */
static bool
parse_year(const char *s, size_t len, unsigned *year)
{
	if (len != 7 || !is_digits(s, 4) || s[4] != '/' ||
	    !is_digits(s + 5, 2)) {
		return (false);
	}
	unsigned y = (unsigned) (s[0] - '0') * 1000 +
	    (unsigned) (s[1] - '0') * 100 + (unsigned) (s[2] - '0') * 10 +
	    (unsigned) (s[3] - '0');
	unsigned next = (unsigned) (s[5] - '0') * 10 + (unsigned) (s[6] - '0');
	if (y < 1990 || y > 2100 || (y + 1) % 100 != next) {
		return (false);
	}
	*year = y;
	return (true);
}

/* Digits only: a sign, decimals or separators mean a mangled export. */
static int
parse_count(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (!is_digits(s, len)) {
		return (-1);
	}
	for (size_t i = 0; i < len; i++) {
		v = v * 10 + (uint64_t) (s[i] - '0');
		if (v > OD_MAX_COUNT) {
			return (-2);
		}
	}
	*out = v;
	return (0);
}

static bool
code_char(char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '/' || c == '-' ||
	    c == ' ');
}

typedef struct {
	const char *s;
	size_t      len;
} span;

static span
trim(const char *s)
{
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
		len--;
	}
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	return ((span){ s, len });
}

static bool
is_header(const char *const *f)
{
	for (size_t i = 0; i < OD_NCOLS; i++) {
		if (strcmp(f[i], columns[i]) != 0) {
			return (false);
		}
	}
	return (true);
}

/*
 * Checks one record of 8 fields and appends it to the rows, or reports
 * why it is bad. Returns -1 only when out of memory.
 */
static int
parse_row(parser *p, const char *const *f, unsigned line)
{
	od_file *file = p->f;
	span     v[OD_NCOLS];
	od_row   r = { .line = line };
	char     buf[80];
	long     ix[OD_NCOLS];
	int      rc;

	for (size_t i = 0; i < OD_NCOLS; i++) {
		const char *why;
		v[i] = trim(f[i]);
		if ((why = check_text(v[i].s, v[i].len)) != NULL) {
			bad_line(p, line, "%s %s", columns[i], why);
			return (0);
		}
	}
	if (!parse_year(v[C_YEAR].s, v[C_YEAR].len, &r.year)) {
		bad_line(p, line,
		    "Financial Year '%s' is not a year such as 2024/25 "
		    "between 1990 and 2100",
		    show(buf, sizeof(buf), v[C_YEAR].s, v[C_YEAR].len));
		return (0);
	}
	if (v[C_QUARTER].len != 1 || v[C_QUARTER].s[0] < '1' ||
	    v[C_QUARTER].s[0] > '4') {
		bad_line(p, line, "Financial Quarter '%s' is not 1 to 4",
		    show(buf, sizeof(buf), v[C_QUARTER].s, v[C_QUARTER].len));
		return (0);
	}
	r.quarter = (unsigned) (v[C_QUARTER].s[0] - '0');
	for (size_t i = C_FORCE; i <= C_CODE; i++) {
		if (v[i].len == 0) {
			bad_line(p, line, "%s is empty", columns[i]);
			return (0);
		}
	}
	if (v[C_CODE].len > OD_MAX_CODE) {
		bad_line(p, line, "Offence Code '%s' is longer than %d characters",
		    show(buf, sizeof(buf), v[C_CODE].s, v[C_CODE].len),
		    OD_MAX_CODE);
		return (0);
	}
	for (size_t i = 0; i < v[C_CODE].len; i++) {
		if (!code_char(v[C_CODE].s[i])) {
			bad_line(p, line,
			    "Offence Code '%s' holds other than letters, "
			    "digits, '.', '/', '-' and spaces",
			    show(buf, sizeof(buf), v[C_CODE].s,
			        v[C_CODE].len));
			return (0);
		}
	}
	if ((rc = parse_count(v[C_COUNT].s, v[C_COUNT].len, &r.count)) != 0) {
		bad_line(p, line,
		    rc == -2 ? "Number of Offences '%s' is more than 2^53"
		             : "Number of Offences '%s' is not a whole "
		               "number of 0 or more in plain digits",
		    show(buf, sizeof(buf), v[C_COUNT].s, v[C_COUNT].len));
		return (0);
	}
	for (size_t i = C_FORCE; i <= C_CODE; i++) {
		if ((ix[i] = intern(p, v[i].s, v[i].len)) < 0) {
			return (-1);
		}
	}
	/* Each distinct name is resolved once, whatever the file's size. */
	istr *force = &p->strs[ix[C_FORCE]];
	if (!force->resolved) {
		const char *area = p->resolve(p->arg, force->s);
		force->resolved  = true;
		if (area != NULL) {
			long a = intern(p, area, strlen(area));
			if (a < 0) {
				return (-1);
			}
			/* Interning may have moved the table. */
			p->strs[ix[C_FORCE]].area = p->strs[a].s;
		}
		force = &p->strs[ix[C_FORCE]];
	}
	if (force->area == NULL) {
		bad_line(p, line, "Force Name '%s' is not a known force",
		    show(buf, sizeof(buf), force->s, force->len));
		return (0);
	}
	r.area        = force->area;
	r.force       = force->s;
	r.description = p->strs[ix[C_DESC]].s;
	r.group       = p->strs[ix[C_GROUP]].s;
	r.subgroup    = p->strs[ix[C_SUBGROUP]].s;
	r.code        = p->strs[ix[C_CODE]].s;

	if (file->nrows == p->rowcap) {
		size_t  cap  = p->rowcap ? p->rowcap * 2 : 1024;
		od_row *rows = realloc(file->rows, cap * sizeof(*rows));
		if (rows == NULL) {
			return (-1);
		}
		file->rows = rows;
		p->rowcap  = cap;
	}
	file->rows[file->nrows] = r;

	const od_row *dup;
	if (find_dup(p, file->nrows, &dup) != 0) {
		return (-1);
	}
	if (dup != NULL) {
		bad_line(p, line,
		    "same force, code and quarter as line %u (%s, %s, "
		    "%u/%02u Q%u)",
		    dup->line, show(buf, sizeof(buf), r.force, strlen(r.force)),
		    r.code, r.year, (r.year + 1) % 100, r.quarter);
		return (0);
	}
	file->nrows++;
	return (0);
}

/* Blank, or only empty fields, as spreadsheets write below a table. */
static bool
is_blank(size_t nf, const char *const *f)
{
	for (size_t i = 0; i < nf; i++) {
		if (trim(f[i]).len != 0) {
			return (false);
		}
	}
	return (true);
}

static int
check_header(parser *p, csv_reader *r)
{
	const char *const *f;
	size_t             nf;
	unsigned           line;
	char               buf[80];
	int                rc = csv_next(r, &nf, &f, &line);

	if (rc == -2) {
		return (-1);
	}
	if (rc == 0) {
		bad_line(p, 1, "expected the header \"%s\"; the file is empty",
		    OD_HEADER);
	} else if (rc < 0) {
		bad_line(p, 1, "expected the header \"%s\"; %s", OD_HEADER,
		    csv_error(r));
	} else if (nf != OD_NCOLS) {
		bad_line(p, 1, "expected the header \"%s\"; found %zu columns",
		    OD_HEADER, nf);
	} else {
		for (size_t i = 0; i < OD_NCOLS; i++) {
			if (strcmp(f[i], columns[i]) != 0) {
				bad_line(p, 1,
				    "expected the header \"%s\"; column %zu is "
				    "'%s', not '%s'",
				    OD_HEADER, i + 1,
				    show(buf, sizeof(buf), f[i], strlen(f[i])),
				    columns[i]);
				break;
			}
		}
		if (p->f->nbad == 0) {
			return (0);
		}
	}
	/* A header problem is a file problem, not a bad row. */
	p->f->nbad = 0;
	return (-1);
}

int
od_parse(const char *buf, size_t len, od_resolve_fn resolve, void *arg,
    od_file *out)
{
	parser             p = { .f = out, .resolve = resolve, .arg = arg };
	csv_reader        *r = NULL;
	const char *const *f;
	size_t             nf;
	unsigned           line;
	int                rc, rv = -1;

	memset(out, 0, sizeof(*out));
	if ((out->pool = calloc(1, sizeof(*out->pool))) == NULL) {
		return (-1);
	}
	p.pool = out->pool;
	if (csv_open(&r, buf, len) != 0) {
		p.oom = true;
		goto done;
	}
	if (check_header(&p, r) != 0) {
		goto done;
	}
	while (!p.oom && (rc = csv_next(r, &nf, &f, &line)) != 0) {
		if (rc == -2) {
			p.oom = true;
		} else if (rc < 0) {
			bad_line(&p, line, "%s", csv_error(r));
		} else if (is_blank(nf, f)) {
			continue;
		} else if (nf != OD_NCOLS) {
			bad_line(&p, line, "%zu fields, expected %d", nf,
			    OD_NCOLS);
		} else if (is_header(f)) {
			bad_line(&p, line, "the header again");
		} else if (parse_row(&p, f, line) != 0) {
			p.oom = true;
		}
	}
	if (!p.oom) {
		rv = 0;
	}
done:
	if (p.oom) {
		/* Room for one message may remain even now. */
		p.oom = false;
		size_t nbad = out->nbad;
		bad_line(&p, line, "out of memory");
		out->nbad = nbad;
	}
	csv_close(r);
	free(p.strs);
	free(p.keys);
	return (rv);
}

void
od_file_free(od_file *f)
{
	if (f == NULL) {
		return;
	}
	free(f->rows);
	free(f->errors);
	pool_free(f->pool);
	memset(f, 0, sizeof(*f));
}
