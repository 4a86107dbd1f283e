#ifndef OFFSTAT_OPENDATA_H
#define OFFSTAT_OPENDATA_H

#include <stddef.h>
#include <stdint.h>

/*
 * The Home Office police recorded crime open data tables: one row per
 * force, offence and financial quarter, under exactly this header.
 */
#define OD_HEADER                                                             \
	"Financial Year,Financial Quarter,Force Name,Offence Description,"    \
	"Offence Group,Offence Subgroup,Offence Code,Number of Offences"
#define OD_NCOLS 8

/* Bad lines past this many are counted in nbad but get no message. */
#define OD_MAX_ERRORS 1000
/* Longest offence code; codes are short identifiers such as "105A". */
#define OD_MAX_CODE 16
/* Counts above 2^53 would not survive a trip through a double. */
#define OD_MAX_COUNT (UINT64_C(1) << 53)

/*
 * Maps a force name as the file writes it to the area code the rows are
 * stored under, or NULL when the name is unknown. The returned string is
 * copied; it need only live until the callback is called again. Called
 * once per distinct name in a file.
 */
typedef const char *(*od_resolve_fn)(void *arg, const char *force_name);

/*
 * One good row. Spaces and tabs around every field are trimmed; the
 * offence code is otherwise kept exactly ("4.1" and "4.10" differ). All
 * strings belong to the od_file and are shared between rows, so equal
 * strings within one file are the same pointer.
 */
typedef struct {
	unsigned    year;    /* 2024 for 2024/25 */
	unsigned    quarter; /* 1..4, April-June is 1 */
	const char *area;    /* code the force name resolved to */
	const char *force;   /* force name as written */
	const char *description;
	const char *group;
	const char *subgroup;
	const char *code;
	uint64_t    count;
	unsigned    line; /* physical line, the header being line 1 */
} od_row;

typedef struct od_pool od_pool;

/*
 * A parsed file: the good rows in file order, and one "line N: reason"
 * message per bad line, in line order, for the first OD_MAX_ERRORS of
 * them. nbad counts every bad line, so nbad - nerrors were not described.
 */
typedef struct {
	od_row  *rows;
	size_t   nrows;
	size_t   nbad;
	char   **errors;
	size_t   nerrors;
	od_pool *pool; /* private: owns the strings */
} od_file;

/*
 * Parses a whole open data file held in buf[0..len) (an optional UTF-8 byte
 * order mark first; buf need not be NUL-terminated). Force names are mapped
 * to area codes with resolve(arg, name).
 *
 * A row is bad when it is not well-formed CSV, has other than 8 fields or
 * repeats the header; when a field is empty, not valid UTF-8 or holds a
 * control character; when the year is not a financial year such as
 * "2024/25" between 1990 and 2100; when the quarter is not 1 to 4; when the
 * force is unknown; when the code is longer than OD_MAX_CODE or holds other
 * than letters, digits, '.', '/', '-' and spaces; when the count is not a
 * plain decimal integer up to OD_MAX_COUNT; or when an earlier row has the
 * same area, code, year and quarter (the message names that row's line).
 * Lines that are blank or hold only empty fields are ignored.
 *
 * Returns 0 when the file was read: out holds the good rows and the
 * messages for the bad ones, and the caller decides whether bad rows
 * reject the file. Returns -1 when the header is not OD_HEADER (one
 * message for line 1 says what was expected) or when out of memory (the
 * last message says so when there was memory for it). In every case *out
 * must be released with od_file_free().
 */
int od_parse(const char *buf, size_t len, od_resolve_fn resolve, void *arg,
             od_file *out);

/* Frees everything od_parse() put in f and zeroes it. Accepts NULL. */
void od_file_free(od_file *f);

#endif
