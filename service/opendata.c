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
		size_t size  = len + 1 > POOL_BLOCK / 4 ? len + 1 : POOL_BLOCK;
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

/*
 * One distinct string. A force name also keeps what it resolved to, and an
 * offence code the texts its last row had, which most rows repeat.
 */
typedef struct {
	const char *s;
	size_t      len;
	uint64_t    hash;
	const char *area;
	uint32_t    area_ix; /* index + 1 of the area code */
	bool        resolved;
	uint32_t    text[3]; /* description, group, subgroup: index + 1 */
} istr;

/* The periods from 1990/91 Q1 to 2100/01 Q4. */
#define NPERIODS ((2100 - 1990 + 1) * 4)

/*
 * The periods seen for one area and offence code, so that a duplicate
 * costs a bit test and the table stays small (one entry per area and code,
 * not per row). The pair's rows are chained newest first, to find the
 * earlier line when a message names it.
 */
typedef struct {
	uint32_t area, code; /* string indices */
	uint32_t last;       /* the pair's latest row, index + 1 */
	uint64_t seen[(NPERIODS + 63) / 64];
} pair;

typedef struct {
	od_file      *f;
	od_pool      *pool;
	od_resolve_fn resolve;
	void         *arg;
	istr         *strs; /* in order of first sight; indices are stable */
	size_t        nstrs, strcap;
	uint32_t     *slots; /* index + 1 into strs, 0 when empty */
	size_t        slotcap;
	pair         *pairs;
	size_t        npairs, paircap;
	uint32_t     *pslots; /* index + 1 into pairs, 0 when empty */
	size_t        pslotcap;
	uint32_t     *prev; /* per row: the pair's previous row, index + 1 */
	uint32_t      last_force; /* index + 1 */
	size_t        rowcap, errcap;
	bool          oom;
} parser;

static const char *const columns[OD_NCOLS] = {
        "Financial Year",      "Financial Quarter", "Force Name",
        "Offence Description", "Offence Group",     "Offence Subgroup",
        "Offence Code",        "Number of Offences"};

enum {
	C_YEAR,
	C_QUARTER,
	C_FORCE,
	C_DESC,
	C_GROUP,
	C_SUBGROUP,
	C_CODE,
	C_COUNT
};

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

/* Eight bytes a step: strings are hashed once per field of many rows. */
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
	for (size_t i = 0; i < len; i++) {
		w |= (uint64_t)(unsigned char)s[i] << (8 * i);
	}
	return (mix(h ^ w));
}

static int
grow_slots(parser *p)
{
	size_t    cap   = p->slotcap ? p->slotcap * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL) {
		return (-1);
	}
	for (size_t i = 0; i < p->nstrs; i++) {
		size_t j = (size_t)p->strs[i].hash & (cap - 1);
		while (slots[j] != 0) {
			j = (j + 1) & (cap - 1);
		}
		slots[j] = (uint32_t)(i + 1);
	}
	free(p->slots);
	p->slots   = slots;
	p->slotcap = cap;
	return (0);
}

static bool
same(const istr *e, const char *s, size_t len)
{
	return (e->len == len && memcmp(e->s, s, len) == 0);
}

/* The index of the pooled copy of s[0..len), or -1 when out of memory. */
static long
intern(parser *p, const char *s, size_t len)
{
	if (2 * (p->nstrs + 1) > p->slotcap && grow_slots(p) != 0) {
		return (-1);
	}
	uint64_t h = hash_bytes(s, len);
	size_t   j = (size_t)h & (p->slotcap - 1);
	for (; p->slots[j] != 0; j = (j + 1) & (p->slotcap - 1)) {
		istr *e = &p->strs[p->slots[j] - 1];
		if (e->hash == h && same(e, s, len)) {
			return ((long)(p->slots[j] - 1));
		}
	}
	if (p->nstrs == p->strcap) {
		size_t cap = p->strcap ? p->strcap * 2 : 512;
		istr  *v;
		if (cap > UINT32_MAX - 1 ||
		    (v = realloc(p->strs, cap * sizeof(*v))) == NULL) {
			return (-1);
		}
		p->strs   = v;
		p->strcap = cap;
	}
	const char *copy = pool_strndup(p->pool, s, len);
	if (copy == NULL) {
		return (-1);
	}
	p->strs[p->nstrs] = (istr){.s = copy, .len = len, .hash = h};
	p->slots[j]       = (uint32_t)(p->nstrs + 1);
	return ((long)p->nstrs++);
}

static uint64_t
pair_hash(uint32_t area, uint32_t code)
{
	return (mix((uint64_t)area << 32 | code));
}

static int
grow_pairs(parser *p)
{
	size_t    cap   = p->pslotcap ? p->pslotcap * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL) {
		return (-1);
	}
	for (size_t i = 0; i < p->npairs; i++) {
		size_t j =
		        (size_t)pair_hash(p->pairs[i].area, p->pairs[i].code) &
		        (cap - 1);
		while (slots[j] != 0) {
			j = (j + 1) & (cap - 1);
		}
		slots[j] = (uint32_t)(i + 1);
	}
	free(p->pslots);
	p->pslots   = slots;
	p->pslotcap = cap;
	return (0);
}

/* The entry for an area and code, made when new; NULL when out of memory. */
static pair *
find_pair(parser *p, uint32_t area, uint32_t code)
{
	if (2 * (p->npairs + 1) > p->pslotcap && grow_pairs(p) != 0) {
		return (NULL);
	}
	size_t j = (size_t)pair_hash(area, code) & (p->pslotcap - 1);
	for (; p->pslots[j] != 0; j = (j + 1) & (p->pslotcap - 1)) {
		pair *e = &p->pairs[p->pslots[j] - 1];
		if (e->area == area && e->code == code) {
			return (e);
		}
	}
	if (p->npairs == p->paircap) {
		size_t cap = p->paircap ? p->paircap * 2 : 256;
		pair  *v;
		if (cap > UINT32_MAX - 1 ||
		    (v = realloc(p->pairs, cap * sizeof(*v))) == NULL) {
			return (NULL);
		}
		p->pairs   = v;
		p->paircap = cap;
	}
	pair *e = &p->pairs[p->npairs];
	memset(e, 0, sizeof(*e));
	e->area      = area;
	e->code      = code;
	p->pslots[j] = (uint32_t)++p->npairs;
	return (e);
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

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero when a byte of w is zero (a classic bit trick). */
static inline uint64_t
has_zero(uint64_t w)
{
	return ((w - ONES) & ~w & HIGHS);
}

/* Why s[0..len) is not acceptable text, or NULL when it is. */
static const char *
check_text(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t               i = 0;

	/* Printable ASCII, eight bytes a step: no high bit set, no byte
	 * below 0x20 (borrows on subtracting 0x20), no DEL. */
	for (; len - i >= 8; i += 8) {
		uint64_t w;
		memcpy(&w, u + i, 8);
		if (((w | (w - ONES * 0x20)) & HIGHS) != 0 ||
		    has_zero(w ^ (ONES * 0x7F))) {
			break;
		}
	}
	while (i < len) {
		if (u[i] >= 0x20 && u[i] < 0x7F) {
			i++;
			continue;
		}
		size_t clen = utf8_char(u + i, len - i);
		if (clen == 0) {
			return ("is not valid UTF-8");
		}
		if (is_control(u + i, clen)) {
			return ("holds a control character");
		}
		i += clen;
	}
	return (NULL);
}

/*
 * Copies s[0..len) into buf for a message: cut at a character boundary to
 * fit, anything unprintable or invalid shown as '?', so that a message is
 * always valid UTF-8 on one line.
 */
static const char *
show(char *buf, size_t size, const char *s, size_t len)
{
	const unsigned char *u   = (const unsigned char *)s;
	size_t               out = 0;
	size_t               max = size - 4; /* room for "..." and NUL */

	for (size_t i = 0; i < len;) {
		size_t clen = utf8_char(u + i, len - i);
		bool   bad  = clen == 0 || is_control(u + i, clen);
		size_t take = clen ? clen : 1;
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

/* Callers apply the cap, so that running out of memory can be told. */
static void
keep(parser *p, const char *msg)
{
	od_file *f = p->f;

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
	char *copy = pool_strndup(p->pool, msg, strlen(msg));
	if (copy == NULL) {
		p->oom = true;
		return;
	}
	f->errors[f->nerrors++] = copy;
}

static void bad_line(parser *p, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
bad_line(parser *p, unsigned line, const char *fmt, ...)
{
	char    msg[512];
	int     n;
	va_list ap;

	p->f->nbad++;
	if (p->f->nerrors >= OD_MAX_ERRORS) {
		return;
	}
	n = snprintf(msg, sizeof(msg), "line %u: ", line);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	keep(p, msg);
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
	unsigned y = (unsigned)(s[0] - '0') * 1000 +
	             (unsigned)(s[1] - '0') * 100 +
	             (unsigned)(s[2] - '0') * 10 + (unsigned)(s[3] - '0');
	unsigned next = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
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
		v = v * 10 + (uint64_t)(s[i] - '0');
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
trim(const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
		len--;
	}
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	return ((span){s, len});
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
 * The index of a text field's string, or -1 when out of memory, or -2 when
 * it is not acceptable text (*why says why). Most rows repeat the string
 * at hint (index + 1), which is then the cheapest test. A string is
 * checked only when first seen, and only good strings are kept.
 */
static long
text_ix(parser *p, span t, uint32_t hint, const char **why)
{
	if (hint != 0 && same(&p->strs[hint - 1], t.s, t.len)) {
		return ((long)hint - 1);
	}
	if (p->slotcap != 0) {
		uint64_t h = hash_bytes(t.s, t.len);
		size_t   j = (size_t)h & (p->slotcap - 1);
		for (; p->slots[j] != 0; j = (j + 1) & (p->slotcap - 1)) {
			istr *e = &p->strs[p->slots[j] - 1];
			if (e->hash == h && same(e, t.s, t.len)) {
				return ((long)p->slots[j] - 1);
			}
		}
	}
	if ((*why = check_text(t.s, t.len)) != NULL) {
		return (-2);
	}
	return (intern(p, t.s, t.len));
}

/*
 * Checks one record of 8 fields and appends it to the rows, or reports
 * why it is bad. Returns -1 only when out of memory.
 */
static int
parse_row(parser *p, const char *const *f, const size_t *lens, unsigned line)
{
	od_file    *file = p->f;
	span        v[OD_NCOLS];
	od_row      r = {.line = line};
	char        buf[80];
	long        ix[OD_NCOLS];
	const char *why = NULL;
	size_t      col;
	int         rc;

	for (size_t i = 0; i < OD_NCOLS; i++) {
		v[i] = trim(f[i], lens[i]);
		if (v[i].len == 0) {
			bad_line(p, line, "%s is empty", columns[i]);
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
	uint64_t q;
	if (parse_count(v[C_QUARTER].s, v[C_QUARTER].len, &q) != 0 || q < 1 ||
	    q > 4) {
		bad_line(p, line, "Financial Quarter '%s' is not 1 to 4",
		         show(buf, sizeof(buf), v[C_QUARTER].s,
		              v[C_QUARTER].len));
		return (0);
	}
	r.quarter = (unsigned)q;
	if (v[C_CODE].len > OD_MAX_CODE) {
		bad_line(p, line,
		         "Offence Code '%s' is longer than %d characters",
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

	/* Rows come grouped by force, and a code mostly keeps its texts. */
	col = C_FORCE;
	if ((ix[col] = text_ix(p, v[col], p->last_force, &why)) < 0) {
		goto text;
	}
	p->last_force = (uint32_t)ix[C_FORCE] + 1;
	if ((ix[C_CODE] = intern(p, v[C_CODE].s, v[C_CODE].len)) < 0) {
		return (-1);
	}
	for (size_t k = 0; k < 3; k++) {
		col = C_DESC + k;
		if ((ix[col] = text_ix(p, v[col], p->strs[ix[C_CODE]].text[k],
		                       &why)) < 0) {
			goto text;
		}
		p->strs[ix[C_CODE]].text[k] = (uint32_t)ix[col] + 1;
	}
	/* Each distinct name is resolved once, whatever the file's size. */
	if (!p->strs[ix[C_FORCE]].resolved) {
		const char *area = p->resolve(p->arg, p->strs[ix[C_FORCE]].s);
		p->strs[ix[C_FORCE]].resolved = true;
		if (area != NULL) {
			long a = intern(p, area, strlen(area));
			if (a < 0) {
				return (-1);
			}
			p->strs[ix[C_FORCE]].area    = p->strs[a].s;
			p->strs[ix[C_FORCE]].area_ix = (uint32_t)a + 1;
		}
	}
	const istr *force = &p->strs[ix[C_FORCE]];
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

	pair *pr = find_pair(p, force->area_ix - 1, (uint32_t)ix[C_CODE]);
	if (pr == NULL) {
		return (-1);
	}
	unsigned period = (r.year - 1990) * 4 + r.quarter - 1;
	uint64_t bit    = UINT64_C(1) << (period % 64);
	if (pr->seen[period / 64] & bit) {
		/* The earlier line is looked up only for a kept message. */
		unsigned first = 0;
		for (uint32_t i = pr->last;
		     i != 0 && file->nerrors < OD_MAX_ERRORS;
		     i = p->prev[i - 1]) {
			const od_row *o = &file->rows[i - 1];
			if (o->year == r.year && o->quarter == r.quarter) {
				first = o->line;
				break;
			}
		}
		bad_line(p, line,
		         "same force, code and quarter as line %u (%s, %s, "
		         "%u/%02u Q%u)",
		         first, show(buf, sizeof(buf), force->s, force->len),
		         r.code, r.year, (r.year + 1) % 100, r.quarter);
		return (0);
	}
	if (file->nrows == p->rowcap) {
		size_t    cap = p->rowcap ? p->rowcap * 2 : 1024;
		od_row   *rows;
		uint32_t *prev;
		if (cap > UINT32_MAX - 1 ||
		    (rows = realloc(file->rows, cap * sizeof(*rows))) ==
		            NULL) {
			return (-1);
		}
		file->rows = rows;
		if ((prev = realloc(p->prev, cap * sizeof(*prev))) == NULL) {
			return (-1);
		}
		p->prev   = prev;
		p->rowcap = cap;
	}
	pr->seen[period / 64] |= bit;
	p->prev[file->nrows]      = pr->last;
	pr->last                  = (uint32_t)(file->nrows + 1);
	file->rows[file->nrows++] = r;
	return (0);

text:
	if (ix[col] == -1) {
		return (-1);
	}
	bad_line(p, line, "%s %s", columns[col], why);
	return (0);
}

/* Blank, or only empty fields, as spreadsheets write below a table. */
static bool
is_blank(size_t nf, const char *const *f, const size_t *lens)
{
	for (size_t i = 0; i < nf; i++) {
		if (trim(f[i], lens[i]).len != 0) {
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
		p->oom = true;
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
		size_t i = 0;
		while (i < OD_NCOLS && strcmp(f[i], columns[i]) == 0) {
			i++;
		}
		if (i == OD_NCOLS) {
			return (0);
		}
		bad_line(p, 1,
		         "expected the header \"%s\"; column %zu is '%s'",
		         OD_HEADER, i + 1,
		         show(buf, sizeof(buf), f[i], strlen(f[i])));
	}
	/* A header problem is a file problem, not a bad row. */
	p->f->nbad = 0;
	return (-1);
}

int
od_parse(const char *buf, size_t len, od_resolve_fn resolve, void *arg,
         od_file *out)
{
	parser             p = {.f = out, .resolve = resolve, .arg = arg};
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
		} else if (is_blank(nf, f, csv_lengths(r))) {
			continue;
		} else if (nf != OD_NCOLS) {
			bad_line(&p, line, "%zu fields, expected %d", nf,
			         OD_NCOLS);
		} else if (is_header(f)) {
			bad_line(&p, line, "the header again");
		} else if (parse_row(&p, f, csv_lengths(r), line) != 0) {
			p.oom = true;
		}
	}
	if (!p.oom) {
		rv = 0;
	}
done:
	if (p.oom) {
		/* Room for one message may remain even now. */
		keep(&p, "out of memory");
	}
	csv_close(r);
	free(p.strs);
	free(p.slots);
	free(p.pairs);
	free(p.pslots);
	free(p.prev);
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
