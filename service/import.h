#ifndef OFFSTAT_IMPORT_H
#define OFFSTAT_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opendata.h"
#include "snapshot.h"
#include "store.h"

typedef struct {
	bool        skip_bad; /* load the good rows and report the bad ones */
	const char *source;   /* source id of the rows; NULL: open data */
	const char *label;    /* release label; NULL: "import <name>" */
} import_opts;

typedef struct {
	uint64_t rows;    /* good rows in the file */
	uint64_t changed; /* rows that added or changed a stored figure */
	uint64_t bad;     /* bad rows (rejected, or skipped with skip_bad) */
	uint64_t release; /* the release recorded; 0 when nothing changed */
} import_result;

/* Called once per problem, with "line N: reason". */
typedef void (*import_report_fn)(void *arg, const char *message);

#define IMPORT_DEFAULT_SOURCE "ho-prc-open-data"

/*
 * Imports one file in the Home Office open data format (already read into
 * buf) in one transaction. Force names are resolved with snap's areas.
 * A file with any bad row is rejected whole, every bad line reported,
 * unless opts->skip_bad. Importing the same rows again changes nothing and
 * records no release. Returns 0 or -1 (err says why; nothing written).
 */
int import_buffer(store *s, const snapshot *snap, const char *name,
                  const char *buf, size_t len, const import_opts *opts,
                  import_report_fn report, void *arg, import_result *res,
                  char *err, size_t errlen);

/* od_parse()'s resolver over snap's areas: forces and recording bodies. */
const char *import_resolve_force(void *arg, const char *name);
/*
 * Writes parsed rows into the store's open release, inside the caller's
 * transaction; *changes gets the sum of store_put_count()'s changes. name
 * prefixes an error. Returns 0 or -1.
 */
int import_rows(store *s, const snapshot *snap, const od_file *f,
                const char *source, const char *name, int64_t *changes,
                char *err, size_t errlen);

#endif
