/* Formatting: text buffers, aligned tables, JSON and CSV writers. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- Text buffers ------------------------------------------------------- */

static bool
buf_reserve(struct buf *b, size_t add)
{
	size_t cap;
	char  *s;

	if (b->failed) {
		return (false);
	}
	if (b->len + add + 1 <= b->cap) {
		return (true);
	}
	cap = b->cap > 0 ? b->cap : 64;
	while (cap < b->len + add + 1) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return (false);
		}
		cap *= 2;
	}
	if ((s = realloc(b->s, cap)) == NULL) {
		b->failed = true;
		return (false);
	}
	b->s   = s;
	b->cap = cap;
	return (true);
}

void
buf_add(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (buf_reserve(b, n)) {
		memcpy(b->s + b->len, s, n + 1);
		b->len += n;
	}
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (buf_reserve(b, (size_t)n)) {
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
		b->len += (size_t)n;
	}
}

const char *
buf_str(struct buf *b)
{
	return (b->s != NULL ? b->s : "");
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s != NULL) {
		b->s[0] = '\0';
	}
}

void
buf_free(struct buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* ---- Shared value text ------------------------------------------------- */

void
fmt_flags(struct buf *b, unsigned flags, const char *sep)
{
	bool first = true;

	for (unsigned i = 0; i < 32; i++) {
		unsigned bit = 1u << i;
		if ((flags & bit) == 0) {
			continue;
		}
		if (!first) {
			buf_add(b, sep);
		}
		first = false;
		if (offstat_flag_name(bit) != NULL) {
			buf_add(b, offstat_flag_name(bit));
		} else {
			/* A flag newer than this library: keep its number. */
			buf_printf(b, "FLAG_%u", i + 1);
		}
	}
}

void
fmt_double(char *out, size_t n, double d)
{
	/* The shortest of these that reads back as the same double. */
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(out, n, "%.*g", digits, d);
		if (strtod(out, NULL) == d) {
			break;
		}
	}
}

void
fmt_fixed(char *out, size_t n, double d, int decimals)
{
	if (isnan(d)) {
		snprintf(out, n, "?");
	} else if (isinf(d)) {
		snprintf(out, n, "%sinf", d < 0 ? "-" : "");
	} else {
		snprintf(out, n, "%.*f", decimals, d);
	}
}

void
fmt_p_value(char *out, size_t n, double p)
{
	/* Four decimals say what a reader needs; smaller is "<0.0001". */
	if (p < 0.00005) {
		snprintf(out, n, "<0.0001");
	} else {
		snprintf(out, n, "%.4f", p);
	}
}

void
fmt_level(char *out, size_t n, double confidence)
{
	/* A reply without a level comes from a service that knew only
	 * 0.95. */
	snprintf(out, n, "%g%%", (confidence > 0 ? confidence : 0.95) * 100);
}

void
fmt_period_year(char *out, size_t n, unsigned year)
{
	snprintf(out, n, "%u/%02u", year, (year + 1) % 100);
}

const char *
fmt_coverage_method(int method)
{
	switch (method) {
	case OFFSTAT_COVERAGE_NONE:
		return ("NONE");
	case OFFSTAT_COVERAGE_PUBLISHED:
		return ("PUBLISHED");
	case OFFSTAT_COVERAGE_SUM:
		return ("SUM_OF_MEMBERS");
	default:
		return ("UNKNOWN");
	}
}

const char *
fmt_period_kind(int kind)
{
	switch (kind) {
	case OFFSTAT_PERIOD_YEAR:
		return ("FINANCIAL_YEAR");
	case OFFSTAT_PERIOD_QUARTER:
		return ("QUARTER");
	case OFFSTAT_PERIOD_ROLLING_YEAR:
		return ("ROLLING_YEAR");
	default:
		return ("UNSPECIFIED");
	}
}

/* ---- Tables ------------------------------------------------------------ */

struct table {
	size_t ncols;
	char **cells; /* Row-major; row 0 is the header. */
	size_t ncells;
	size_t cap;
	bool  *right;
	bool   failed;
};

static void
table_push(struct table *t, const char *s)
{
	char  *copy;
	char **cells;

	if (t->failed) {
		return;
	}
	if (t->ncells == t->cap) {
		size_t cap = t->cap > 0 ? t->cap * 2 : 64;
		if ((cells = realloc(t->cells, cap * sizeof(*cells))) ==
		    NULL) {
			t->failed = true;
			return;
		}
		t->cells = cells;
		t->cap   = cap;
	}
	if ((copy = strdup(s != NULL ? s : "")) == NULL) {
		t->failed = true;
		return;
	}
	t->cells[t->ncells++] = copy;
}

struct table *
table_new(size_t ncols, const char *const *headers)
{
	struct table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		return (NULL);
	}
	if ((t->right = calloc(ncols, sizeof(bool))) == NULL) {
		free(t);
		return (NULL);
	}
	t->ncols = ncols;
	for (size_t i = 0; i < ncols; i++) {
		table_push(t, headers[i]);
	}
	return (t);
}

void
table_right(struct table *t, size_t col)
{
	if (col < t->ncols) {
		t->right[col] = true;
	}
}

void
table_row(struct table *t)
{
	/* Pad a short row so that cells always line up. */
	while (!t->failed && t->ncells % t->ncols != 0) {
		table_push(t, "");
	}
}

void
table_cell(struct table *t, const char *s)
{
	table_push(t, s);
}

void
table_cellf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char   *s;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		t->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	table_push(t, s);
	free(s);
}

bool
table_failed(const struct table *t)
{
	return (t == NULL || t->failed);
}

/* Width on a terminal of the first n bytes of s. */
size_t
text_width_n(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n && s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			w++;
		}
	}
	return (w);
}

/* Width on a terminal: code points, not bytes (names are UTF-8). */
size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xC0) != 0x80) {
			w++;
		}
	}
	return (w);
}

void
table_print(struct table *t, FILE *f)
{
	size_t *width;
	size_t  nrows;

	table_row(t);
	if (t->failed || (width = calloc(t->ncols, sizeof(*width))) == NULL) {
		t->failed = true;
		return;
	}
	nrows = t->ncells / t->ncols;
	for (size_t i = 0; i < t->ncells; i++) {
		size_t w = text_width(t->cells[i]);
		if (w > width[i % t->ncols]) {
			width[i % t->ncols] = w;
		}
	}
	for (size_t r = 0; r < nrows; r++) {
		/* Trailing empty cells leave no trailing blanks. */
		size_t last = t->ncols;
		while (last > 1 &&
		       t->cells[r * t->ncols + last - 1][0] == '\0') {
			last--;
		}
		for (size_t c = 0; c < last; c++) {
			const char *s   = t->cells[r * t->ncols + c];
			size_t      pad = width[c] - text_width(s);
			if (c > 0) {
				fputs("  ", f);
			}
			if (t->right[c] && r > 0) {
				fprintf(f, "%*s%s", (int)pad, "", s);
			} else if (c + 1 < last) {
				fprintf(f, "%s%*s", s, (int)pad, "");
			} else {
				fputs(s, f);
			}
		}
		fputc('\n', f);
	}
	free(width);
}

void
table_free(struct table *t)
{
	if (t == NULL) {
		return;
	}
	for (size_t i = 0; i < t->ncells; i++) {
		free(t->cells[i]);
	}
	free(t->cells);
	free(t->right);
	free(t);
}

/* ---- JSON --------------------------------------------------------------- */

void
json_init(struct json *j, FILE *f)
{
	j->f          = f;
	j->depth      = 0;
	j->need_comma = false;
}

static void
json_indent(struct json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++) {
		fputs("  ", j->f);
	}
}

size_t
utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t        n = 0;

	if (c == 0) {
		return (0);
	}
	if (c < 0x80) {
		return (1);
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			return (0);
		}
	}
	/* Overlong forms and surrogates are not UTF-8 either. */
	if ((n == 3 && c == 0xE0 && s[1] < 0xA0) ||
	    (n == 3 && c == 0xED && s[1] >= 0xA0) ||
	    (n == 4 && c == 0xF0 && s[1] < 0x90) ||
	    (n == 4 && c == 0xF4 && s[1] >= 0x90)) {
		return (0);
	}
	return (n);
}

/* Writes s as a JSON string. Control characters are escaped; bytes that
 * are not UTF-8 become U+FFFD, so the output is valid whatever came in. */
static void
json_quote(FILE *f, const char *str)
{
	const unsigned char *s =
	        (const unsigned char *)(str != NULL ? str : "");

	fputc('"', f);
	while (*s != '\0') {
		unsigned char c = *s;
		size_t        n = 0;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			s++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n':
				fputs("\\n", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			default:
				fprintf(f, "\\u%04x", c);
			}
			s++;
			continue;
		}
		if (c < 0x80) {
			fputc(c, f);
			s++;
			continue;
		}
		if ((n = utf8_len(s)) == 0) {
			fputs("\\ufffd", f);
			s++;
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
	fputc('"', f);
}

static void
json_key(struct json *j, const char *key)
{
	if (j->need_comma) {
		fputc(',', j->f);
	}
	if (j->depth > 0) {
		json_indent(j);
	}
	if (key != NULL) {
		json_quote(j->f, key);
		fputs(": ", j->f);
	}
	j->need_comma = true;
}

void
json_begin_object(struct json *j, const char *key)
{
	json_key(j, key);
	fputc('{', j->f);
	j->depth++;
	j->need_comma = false;
}

void
json_end_object(struct json *j)
{
	bool empty = !j->need_comma;

	j->depth--;
	if (!empty) {
		json_indent(j);
	}
	fputc('}', j->f);
	j->need_comma = true;
}

void
json_begin_array(struct json *j, const char *key)
{
	json_key(j, key);
	fputc('[', j->f);
	j->depth++;
	j->need_comma = false;
}

void
json_end_array(struct json *j)
{
	bool empty = !j->need_comma;

	j->depth--;
	if (!empty) {
		json_indent(j);
	}
	fputc(']', j->f);
	j->need_comma = true;
}

void
json_string(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_quote(j->f, s);
}

void
json_uint(struct json *j, const char *key, unsigned long long v)
{
	json_key(j, key);
	fprintf(j->f, "%llu", v);
}

void
json_int(struct json *j, const char *key, long long v)
{
	json_key(j, key);
	fprintf(j->f, "%lld", v);
}

void
json_double(struct json *j, const char *key, double v)
{
	char text[32];

	json_key(j, key);
	/* JSON has no NaN or infinity. */
	if (!isfinite(v)) {
		fputs("null", j->f);
		return;
	}
	fmt_double(text, sizeof(text), v);
	fputs(text, j->f);
}

void
json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

void
json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs("null", j->f);
}

void
json_finish(struct json *j)
{
	fputc('\n', j->f);
}

/* ---- CSV ---------------------------------------------------------------- */

void
csv_init(struct csv *c, FILE *f)
{
	c->f           = f;
	c->row_started = false;
}

void
csv_field(struct csv *c, const char *s)
{
	if (s == NULL) {
		s = "";
	}
	if (c->row_started) {
		fputc(',', c->f);
	}
	c->row_started = true;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, c->f);
		return;
	}
	fputc('"', c->f);
	for (; *s != '\0'; s++) {
		if (*s == '"') {
			fputc('"', c->f);
		}
		fputc(*s, c->f);
	}
	fputc('"', c->f);
}

void
csv_uint(struct csv *c, unsigned long long v)
{
	char text[24];

	snprintf(text, sizeof(text), "%llu", v);
	csv_field(c, text);
}

void
csv_double(struct csv *c, bool known, double d)
{
	char text[32];

	/* An unbounded interval is "inf", which spreadsheets and float
	 * parsers read; an unknown number is an empty field. */
	if (!known || isnan(d)) {
		csv_field(c, "");
		return;
	}
	if (isinf(d)) {
		csv_field(c, d < 0 ? "-inf" : "inf");
		return;
	}
	fmt_double(text, sizeof(text), d);
	csv_field(c, text);
}

void
csv_end_row(struct csv *c)
{
	fputs("\r\n", c->f);
	c->row_started = false;
}

void
fmt_grouped(char *out, size_t n, uint64_t v)
{
	char   digits[24];
	size_t len, at = 0;

	snprintf(digits, sizeof(digits), "%" PRIu64, v);
	len = strlen(digits);
	for (size_t i = 0; i < len && at + 2 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0) {
			out[at++] = ',';
		}
		out[at++] = digits[i];
	}
	out[at] = '\0';
}
