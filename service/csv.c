#include "csv.h"

#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct csv_reader {
	const char *buf;
	size_t      len;
	size_t      pos;
	unsigned    line;  /* physical line of buf[pos] */
	char       *store; /* the current record's fields, unquoted */
	size_t      cap;
	size_t      off[CSV_MAX_FIELDS + 1];
	size_t      lens[CSV_MAX_FIELDS];
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

const size_t *
csv_lengths(const csv_reader *r)
{
	return (r->lens);
}

/*
 * Room for one more field of the largest size it can have (CSV_MAX_FIELD,
 * or the rest bytes left of the input when fewer), so the copying loops
 * need no checks of their own. The store therefore stays near 64 KiB for
 * ordinary records of a large file, near the input's size for a small one,
 * and under CSV_MAX_FIELDS times 64 KiB for any record.
 */
static int
reserve(csv_reader *r, size_t used, size_t rest)
{
	size_t need = used + (rest < CSV_MAX_FIELD ? rest : CSV_MAX_FIELD) + 1;
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
	const char *cr =
	        memchr(r->buf + from, '\r',
	               (nl != NULL ? (size_t)(nl - r->buf) : r->len) - from);

	if (cr != NULL) {
		r->pos = (size_t)(cr - r->buf) + 1;
		if (r->pos < r->len && r->buf[r->pos] == '\n') {
			r->pos++;
		}
	} else if (nl != NULL) {
		r->pos = (size_t)(nl - r->buf) + 1;
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
static void fail(csv_reader *r, unsigned start, unsigned at, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

static void
fail(csv_reader *r, unsigned start, unsigned at, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	if (at != start && n >= 0 && (size_t)n < sizeof(r->err)) {
		snprintf(r->err + n, sizeof(r->err) - (size_t)n,
		         " (on line %u)", at);
	}
}

/* True for the bytes that end an unquoted field or make it malformed. */
static const unsigned char special[256] = {
        ['\0'] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1, [','] = 1,
};

#if !defined(__SSE2__)
#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero when a byte of w is zero (a classic bit trick). */
static inline uint64_t
has_zero(uint64_t w)
{
	return ((w - ONES) & ~w & HIGHS);
}
#endif

/*
 * The end of the unquoted field at b[pos]: the first special byte, or len.
 * Scanning fields is most of the work, so it goes sixteen bytes a step
 * where SSE2 is sure to be there, eight elsewhere.
 */
static size_t
field_end(const char *b, size_t pos, size_t len)
{
#if defined(__SSE2__)
	const __m128i comma = _mm_set1_epi8(','), lf = _mm_set1_epi8('\n'),
	              cr = _mm_set1_epi8('\r'), quote = _mm_set1_epi8('"'),
	              nul = _mm_setzero_si128();
	while (len - pos >= 16) {
		__m128i w = _mm_loadu_si128((const __m128i *)(b + pos));
		__m128i m = _mm_or_si128(
		        _mm_or_si128(_mm_cmpeq_epi8(w, comma),
		                     _mm_cmpeq_epi8(w, lf)),
		        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, cr),
		                                  _mm_cmpeq_epi8(w, quote)),
		                     _mm_cmpeq_epi8(w, nul)));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits != 0) {
			return (pos + (size_t)__builtin_ctz(bits));
		}
		pos += 16;
	}
#else
	while (len - pos >= 8) {
		uint64_t w;
		memcpy(&w, b + pos, 8);
		if (has_zero(w) | has_zero(w ^ (ONES * ',')) |
		    has_zero(w ^ (ONES * '\n')) | has_zero(w ^ (ONES * '\r')) |
		    has_zero(w ^ (ONES * '"'))) {
			break;
		}
		pos += 8;
	}
#endif
	while (pos < len && !special[(unsigned char)b[pos]]) {
		pos++;
	}
	return (pos);
}

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
	/* Where the record's first quoted field to span lines opened. */
	size_t   span_pos  = SIZE_MAX;
	unsigned span_line = 0;

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
			goto malformed;
		}
		if (reserve(r, used, len - pos) != 0) {
			snprintf(r->err, sizeof(r->err), "out of memory");
			r->pos = len;
			return (-2);
		}
		r->off[nf++] = used;
		if (pos < len && b[pos] == '"') {
			size_t   qpos  = pos;
			unsigned qline = r->line;
			size_t   flen  = 0;
			for (pos++;; pos++) {
				if (pos >= len) {
					fail(r, start, qline,
					     "field %zu: quote never closed",
					     nf);
					goto malformed;
				}
				char c = b[pos];
				if (c == '"') {
					if (pos + 1 >= len ||
					    b[pos + 1] != '"') {
						pos++;
						break;
					}
					pos++;
				} else if (c == '\0') {
					fail(r, start, r->line,
					     "field %zu: NUL byte", nf);
					goto malformed;
				} else if (c == '\n' ||
				           (c == '\r' &&
				            (pos + 1 >= len ||
				             b[pos + 1] != '\n'))) {
					next_line(r);
					if (span_pos == SIZE_MAX) {
						span_pos  = qpos;
						span_line = qline;
					}
				}
				if (flen == CSV_MAX_FIELD) {
					fail(r, start, qline,
					     "field %zu: quoted field longer "
					     "than %d bytes",
					     nf, CSV_MAX_FIELD);
					goto malformed;
				}
				r->store[used + flen++] = c;
			}
			used += flen;
			if (pos < len && b[pos] != ',' && b[pos] != '\n' &&
			    b[pos] != '\r') {
				fail(r, start, r->line,
				     "field %zu: text after closing quote",
				     nf);
				goto malformed;
			}
		} else {
			size_t end = field_end(b, pos, len);
			if (end - pos > CSV_MAX_FIELD) {
				fail(r, start, r->line,
				     "field %zu: longer than %d bytes", nf,
				     CSV_MAX_FIELD);
				goto malformed;
			}
			if (end < len && (b[end] == '"' || b[end] == '\0')) {
				fail(r, start, r->line, "field %zu: %s", nf,
				     b[end] == '"' ? "quote in unquoted field"
				                   : "NUL byte");
				pos = end;
				goto malformed;
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
			if (b[pos] == '\r' && pos + 1 < len &&
			    b[pos + 1] == '\n') {
				pos++;
			}
			pos++;
			next_line(r);
		}
		break;
	}
	r->pos     = pos;
	r->off[nf] = used;
	for (size_t i = 0; i < nf; i++) {
		r->fields[i] = r->store + r->off[i];
		r->lens[i]   = r->off[i + 1] - r->off[i] - 1;
	}
	*nfields = nf;
	*fields  = r->fields;
	return (1);

malformed:
	/*
	 * Carry on at the next line. When a quoted field ran over lines,
	 * that quote is the likely fault (one missing closing quote swallows
	 * the rows after it), so those rows are read again on their own
	 * rather than lost.
	 */
	if (span_pos != SIZE_MAX) {
		r->line = span_line;
		pos     = span_pos;
	}
	skip_line(r, pos);
	return (-1);
}
