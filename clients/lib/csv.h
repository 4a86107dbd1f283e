#ifndef OFFSTAT_CLIENT_CSV_H
#define OFFSTAT_CLIENT_CSV_H

/*
 * An RFC 4180 reader that streams a file, for offstat_ingest_file: files of
 * open data may be larger than is sensible to hold in memory, and are read
 * twice (once to check and count, once to send).
 *
 * It reads what offstatd's own reader reads: fields may be quoted, a quoted
 * field may hold commas, line ends and doubled quotes; lines end in LF,
 * CRLF or a lone CR, and the last may have no end; a UTF-8 byte order mark
 * at the very start is skipped; a blank line is a record of one empty
 * field. A record with more than OFFSTAT__CSV_MAX_FIELDS fields, a field
 * longer than OFFSTAT__CSV_MAX_FIELD bytes, a NUL byte, a quote inside an
 * unquoted field, text after a closing quote or a quote never closed is
 * malformed, so memory stays bounded whatever the file holds.
 */

#include <stddef.h>
#include <stdint.h>

#define OFFSTAT__CSV_MAX_FIELDS 64
#define OFFSTAT__CSV_MAX_FIELD  65536

typedef struct offstat__csv offstat__csv;

/* Opens path for reading. Returns 0, or an errno value (*out is NULL). */
int offstat__csv_open(offstat__csv **out, const char *path);

/*
 * Reads the next record. Returns 1 with *nfields fields in (*fields)[],
 * NUL-terminated and unquoted, and their lengths in (*lens)[], valid until
 * the next call; 0 at the end of the file; -1 for a malformed record, the
 * reason in offstat__csv_error(), after which reading goes on at the next
 * line; -2 when out of memory; -3 when the file cannot be read (errno in
 * offstat__csv_errno()). *line is the physical line, from 1, the record
 * starts on.
 */
int offstat__csv_next(offstat__csv *r, size_t *nfields,
                      const char *const **fields, const size_t **lens,
                      uint64_t *line);

/* Why the last offstat__csv_next() returned -1. */
const char *offstat__csv_error(const offstat__csv *r);

/* The errno value of a read that failed. */
int offstat__csv_errno(const offstat__csv *r);

/* Closes the file and frees the reader. Accepts NULL. */
void offstat__csv_close(offstat__csv *r);

#endif
