#ifndef OFFSTAT_CSV_H
#define OFFSTAT_CSV_H

#include <stddef.h>

/*
 * An RFC 4180 reader over a buffer already in memory. Fields may be quoted;
 * a quoted field may hold commas, line ends and doubled quotes. Lines end in
 * LF, CRLF or a lone CR, and the last line may have no end. A UTF-8 byte
 * order mark at the very start is skipped. A blank line is a record of one
 * empty field, so callers decide what blank lines mean.
 *
 * Everything the input controls is bounded: a record with more than
 * CSV_MAX_FIELDS fields or a field longer than CSV_MAX_FIELD bytes is
 * malformed, and so is a NUL byte anywhere in a record.
 */
#define CSV_MAX_FIELDS 64
#define CSV_MAX_FIELD  65536

typedef struct csv_reader csv_reader;

/*
 * Starts reading buf[0..len). The reader neither copies nor owns buf, which
 * must outlive it; buf need not be NUL-terminated. Returns 0, or -1 when
 * out of memory (*out is then NULL).
 */
int csv_open(csv_reader **out, const char *buf, size_t len);

/*
 * Reads the next record. Returns 1 with *nfields fields in (*fields)[],
 * each NUL-terminated and unquoted, valid until the next call; 0 at the end
 * of the buffer; -1 for a malformed record (an unterminated quote, a stray
 * quote in an unquoted field, text after a closing quote, a NUL byte, a
 * bound exceeded), with the reason in csv_error(); -2 when out of memory,
 * after which the reader is at the end. After -1 the reader carries on at
 * the next line, so a caller can report every bad line; when a quoted field
 * of the bad record ran over lines, that is the line after the one the
 * quote opened on, so the rows a missing quote swallowed are read again.
 * *line is the physical line (from 1) the record starts on, for good and
 * bad records alike.
 */
int csv_next(csv_reader *r, size_t *nfields, const char *const **fields,
             unsigned *line);

/*
 * The lengths of the fields csv_next() last returned, sparing callers a
 * strlen() of each; valid until the next call.
 */
const size_t *csv_lengths(const csv_reader *r);

/* Why the last csv_next() returned -1, without a line number; "" before. */
const char *csv_error(const csv_reader *r);

/* Frees the reader. Accepts NULL. */
void csv_close(csv_reader *r);

#endif
