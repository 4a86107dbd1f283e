#include "csv.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csv_reader {
	const char *buf;
	size_t      len;
	size_t      pos;
	unsigned    line; /* physical line of buf[pos] */
	char       *store; /* the current record's fields, unquoted */
	size_t      cap;
	size_t      off[CSV_MAX_FIELDS];
	const char *fields[CSV_MAX_FIELDS];
	char        err[128];
};

/* Stops at UINT_MAX rather than wrapping to line numbers already used. */
static inline void
next_line(csv_reader *r)
{
	if (r->line < UINT_MAX) {
		r->line++;
	}
}

int
csv_open(csv_reader **out, const char *buf, size_t len)
{
	csv_reader *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return (-1);
	}
	r->buf  = buf;
	r->len  = buf != NULL ? len : 0;
	r->line = 1;
	if (r->len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		r->pos = 3;
	}
	*out = r;
	return (0);
}

void
csv_close(csv_reader *r)
{
	if (r != NULL) {
		free(r->store);
		free(r);
	}
}

const char *
csv_error(const csv_reader *r)
{
	return (r->err);
}

/*
 * Room for one more field of the largest size, so the copying loops need
 * no checks of their own. The store therefore stays near 64 KiB for
 * ordinary records and under CSV_MAX_FIELDS times that for any record.
 */
static int
reserve(csv_reader *r, size_t used)
{
	size_t need = used + CSV_MAX_FIELD + 1;
	if (need <= r->cap) {
		return (0);
	}
	size_t cap = r->cap * 2 > need ? r->cap * 2 : need;
	char  *p   = realloc(r->store, cap);
	if (p == NULL) {
		return (-1);
	}
	r->store = p;
	r->cap   = cap;
	return (0);
}

/* Moves past the end of the line holding buf[from], or to the end. */
static void
skip_line(csv_reader *r, size_t from)
{
	const char *nl = memchr(r->buf + from, '\n', r->len - from);
	const char *cr = memchr(r->buf + from, '\r',
	    (nl != NULL ? (size_t) (nl - r->buf) : r->len) - from);

	if (cr != NULL) {
		r->pos = (size_t) (cr - r->buf) + 1;
		if (r->pos < r->len && r->buf[r->pos] == '\n') {
			r->pos++;
		}
	} else if (nl != NULL) {
		r->pos = (size_t) (nl - r->buf) + 1;
	} else {
		r->pos = r->len;
		return;
	}
	next_line(r);
}

/*
 * Records why the record starting on line `start` failed. When the fault
 * lies on a later line (a quoted field ran on), that line is named too.
 */
static void
fail(csv_reader *r, unsigned start, unsigned at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fail(csv_reader *r, unsigned start, unsigned at, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	if (at != start && n >= 0 && (size_t) n < sizeof(r->err)) {
		snprintf(r->err + n, sizeof(r->err) - (size_t) n,
		    " (on line %u)", at);
	}
}

/* True for the bytes that end an unquoted field or make it malformed. */
static const unsigned char special[256] = {
	['\0'] = 1,
	['\n'] = 1,
	['\r'] = 1,
	['"']  = 1,
	[',']  = 1,
};

int
csv_next(csv_reader *r, size_t *nfields, const char *const **fields,
    unsigned *line)
{
	const char *b     = r->buf;
	size_t      len   = r->len;
	size_t      pos   = r->pos;
	size_t      used  = 0;
	size_t      nf    = 0;
	unsigned    start = r->line;

	*nfields = 0;
	*fields  = NULL;
	*line    = start;
	if (pos >= len) {
		return (0);
	}
	for (;;) {
		if (nf == CSV_MAX_FIELDS) {
			fail(r, start, r->line, "more than %d fields",
			    CSV_MAX_FIELDS);
			skip_line(r, pos);
			return (-1);
		}
		if (reserve(r, used) != 0) {
			snprintf(r->err, sizeof(r->err), "out of memory");
			r->pos = len;
			return (-2);
		}
		r->off[nf++] = used;
		if (pos < len && b[pos] == '"') {
			/* On failure, restart after the line the quote opened
			 * on: a missing closing quote is the likely fault. */
			size_t   qpos  = pos;
			unsigned qline = r->line;
			size_t   flen  = 0;
			pos++;
			for (;;) {
				if (pos >= len) {
					fail(r, start, qline,
					    "field %zu: quote never closed", nf);
					r->line = qline;
					skip_line(r, qpos);
					return (-1);
				}
				char c = b[pos];
				if (c == '"') {
					if (pos + 1 < len && b[pos + 1] == '"') {
						pos++;
					} else {
						pos++;
						break;
					}
				} else if (c == '\0') {
					fail(r, start, r->line,
					    "field %zu: NUL byte", nf);
					r->line = qline;
					skip_line(r, qpos);
					return (-1);
				} else if (c == '\n' ||
				    (c == '\r' &&
				        (pos + 1 >= len || b[pos + 1] != '\n'))) {
					next_line(r);
				}
				if (flen == CSV_MAX_FIELD) {
					fail(r, start, qline,
					    "field %zu: quoted field longer "
					    "than %d bytes",
					    nf, CSV_MAX_FIELD);
					r->line = qline;
					skip_line(r, qpos);
					return (-1);
				}
				r->store[used + flen++] = c;
				pos++;
			}
			used += flen;
			if (pos < len && b[pos] != ',' && b[pos] != '\n' &&
			    b[pos] != '\r') {
				fail(r, start, r->line,
				    "field %zu: text after closing quote", nf);
				skip_line(r, pos);
				return (-1);
			}
		} else {
			size_t end = pos;
			while (end < len && !special[(unsigned char) b[end]]) {
				end++;
			}
			if (end < len && (b[end] == '"' || b[end] == '\0')) {
				fail(r, start, r->line, "field %zu: %s", nf,
				    b[end] == '"' ? "quote in unquoted field"
				                  : "NUL byte");
				skip_line(r, end);
				return (-1);
			}
			if (end - pos > CSV_MAX_FIELD) {
				fail(r, start, r->line,
				    "field %zu: longer than %d bytes", nf,
				    CSV_MAX_FIELD);
				skip_line(r, end);
				return (-1);
			}
			memcpy(r->store + used, b + pos, end - pos);
			used += end - pos;
			pos = end;
		}
		r->store[used++] = '\0';
		/* pos is now at a comma, a line end or the end. */
		if (pos < len && b[pos] == ',') {
			pos++;
			continue;
		}
		if (pos < len) {
			if (b[pos] == '\r' && pos + 1 < len && b[pos + 1] == '\n') {
				pos++;
			}
			pos++;
			next_line(r);
		}
		break;
	}
	r->pos = pos;
	for (size_t i = 0; i < nf; i++) {
		r->fields[i] = r->store + r->off[i];
	}
	*nfields = nf;
	*fields  = r->fields;
	return (1);
}
