#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

#define CHUNK 65536

struct offstat__csv {
	FILE         *f;
	unsigned char buf[CHUNK];
	size_t        pos;
	size_t        len;
	bool          eof;
	int           err;  /* errno of a failed read; 0 if none */
	uint64_t      line; /* physical line of the next byte */
	char         *store;
	size_t        used;
	size_t        cap;
	size_t        off[OFFSTAT__CSV_MAX_FIELDS];
	size_t        lens[OFFSTAT__CSV_MAX_FIELDS];
	const char   *fields[OFFSTAT__CSV_MAX_FIELDS];
	char          msg[128];
};

/* Fills the buffer when it is empty; false at the end or on an error. */
static bool
fill(offstat__csv *r)
{
	if (r->pos < r->len) {
		return (true);
	}
	if (r->eof) {
		return (false);
	}
	r->pos = 0;
	r->len = fread(r->buf, 1, sizeof(r->buf), r->f);
	if (r->len == 0) {
		r->eof = true;
		if (ferror(r->f)) {
			r->err = errno != 0 ? errno : EIO;
		}
		return (false);
	}
	return (true);
}

/* The next byte, or -1 at the end of the file (or on a read error). */
static int
get(offstat__csv *r)
{
	return (fill(r) ? r->buf[r->pos++] : -1);
}

static int
peek(offstat__csv *r)
{
	return (fill(r) ? r->buf[r->pos] : -1);
}

int
offstat__csv_open(offstat__csv **out, const char *path)
{
	offstat__csv *r;
	int           err;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return (ENOMEM);
	}
	if ((r->f = fopen(path, "rb")) == NULL) {
		err = errno != 0 ? errno : EIO;
		free(r);
		return (err);
	}
	r->line = 1;
	/* A byte order mark is not part of the first field. */
	if (fill(r) && r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) {
		r->pos = 3;
	}
	if (r->err != 0) {
		err = r->err;
		offstat__csv_close(r);
		return (err);
	}
	*out = r;
	return (0);
}

void
offstat__csv_close(offstat__csv *r)
{
	if (r == NULL) {
		return;
	}
	fclose(r->f);
	free(r->store);
	free(r);
}

const char *
offstat__csv_error(const offstat__csv *r)
{
	return (r->msg);
}

int
offstat__csv_errno(const offstat__csv *r)
{
	return (r->err);
}

/* Appends one byte to the record; false when memory runs out. The store
 * is bounded by the field and field count limits checked by the caller. */
static bool
put(offstat__csv *r, int c)
{
	if (r->used == r->cap) {
		size_t cap = r->cap > 0 ? r->cap * 2 : 1024;
		char  *p   = realloc(r->store, cap);
		if (p == NULL) {
			return (false);
		}
		r->store = p;
		r->cap   = cap;
	}
	r->store[r->used++] = (char)c;
	return (true);
}

/* Consumes a line end that starts with c (LF, CRLF or a lone CR). */
static void
end_line(offstat__csv *r, int c)
{
	if (c == '\r' && peek(r) == '\n') {
		r->pos++;
	}
	r->line++;
}

static void fail(offstat__csv *r, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

/* Records why a record is malformed and skips the rest of its line, so
 * that the lines after it can be read and reported too. */
static void
fail(offstat__csv *r, const char *fmt, ...)
{
	va_list ap;
	int     c;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	while ((c = get(r)) != -1) {
		if (c == '\n' || c == '\r') {
			end_line(r, c);
			break;
		}
	}
}

/* Reads a quoted field, its opening quote read. 1 when it ended well with
 * *c the byte after it, 0 when malformed, -2 out of memory. */
static int
quoted(offstat__csv *r, size_t nf, int *c)
{
	size_t flen = 0;

	for (;;) {
		int b = get(r);
		if (b == -1) {
			if (r->err != 0) {
				return (-3);
			}
			snprintf(r->msg, sizeof(r->msg),
			         "field %zu: quote never closed", nf);
			return (0);
		}
		if (b == '"') {
			if (peek(r) != '"') {
				break;
			}
			r->pos++;
		} else if (b == '\0') {
			fail(r, "field %zu: NUL byte", nf);
			return (0);
		} else if (b == '\n' || (b == '\r' && peek(r) != '\n')) {
			r->line++;
		}
		if (flen++ == OFFSTAT__CSV_MAX_FIELD) {
			fail(r, "field %zu: quoted field longer than %d bytes",
			     nf, OFFSTAT__CSV_MAX_FIELD);
			return (0);
		}
		if (!put(r, b)) {
			return (-2);
		}
	}
	*c = get(r);
	if (*c != ',' && *c != '\n' && *c != '\r' && *c != -1) {
		fail(r, "field %zu: text after closing quote", nf);
		return (0);
	}
	return (1);
}

/* Reads an unquoted field starting with *c; as quoted(). */
static int
unquoted(offstat__csv *r, size_t nf, int *c)
{
	size_t flen = 0;

	while (*c != ',' && *c != '\n' && *c != '\r' && *c != -1) {
		if (*c == '"' || *c == '\0') {
			fail(r, "field %zu: %s", nf,
			     *c == '"' ? "quote in unquoted field"
			               : "NUL byte");
			return (0);
		}
		if (flen++ == OFFSTAT__CSV_MAX_FIELD) {
			fail(r, "field %zu: longer than %d bytes", nf,
			     OFFSTAT__CSV_MAX_FIELD);
			return (0);
		}
		if (!put(r, *c)) {
			return (-2);
		}
		*c = get(r);
	}
	return (1);
}

int
offstat__csv_next(offstat__csv *r, size_t *nfields, const char *const **fields,
                  const size_t **lens, uint64_t *line)
{
	size_t nf = 0;
	int    c;
	int    rc;

	*nfields  = 0;
	*line     = r->line;
	r->used   = 0;
	r->msg[0] = '\0';
	if ((c = get(r)) == -1) {
		return (r->err != 0 ? -3 : 0);
	}
	for (;;) {
		if (nf == OFFSTAT__CSV_MAX_FIELDS) {
			if (c == '\n' || c == '\r') {
				end_line(r, c);
				snprintf(r->msg, sizeof(r->msg),
				         "more than %d fields",
				         OFFSTAT__CSV_MAX_FIELDS);
			} else {
				fail(r, "more than %d fields",
				     OFFSTAT__CSV_MAX_FIELDS);
			}
			return (-1);
		}
		r->off[nf++] = r->used;
		if (c == '"') {
			rc = quoted(r, nf, &c);
		} else {
			rc = unquoted(r, nf, &c);
		}
		if (rc != 1) {
			return (rc == 0 ? -1 : rc);
		}
		r->lens[nf - 1] = r->used - r->off[nf - 1];
		if (!put(r, '\0')) {
			return (-2);
		}
		if (c != ',') {
			break;
		}
		c = get(r);
	}
	if (c == -1 && r->err != 0) {
		return (-3);
	}
	if (c == '\n' || c == '\r') {
		end_line(r, c);
	}
	for (size_t i = 0; i < nf; i++) {
		r->fields[i] = r->store + r->off[i];
	}
	*nfields = nf;
	*fields  = r->fields;
	*lens    = r->lens;
	return (1);
}
