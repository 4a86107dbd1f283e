#ifndef OFFSTAT_DATASET_H
#define OFFSTAT_DATASET_H

#include <stddef.h>

#include "store.h"

/* A file of the bundled dataset, compiled in by scripts/embed.cmake. */
struct offstat__embedded_file {
	const char *name;
	const char *data;
	size_t      size;
};
extern const struct offstat__embedded_file offstat__embedded[];

/*
 * Loads the bundled dataset (the CSV files under data/, as compiled in) into
 * the store in one transaction and records it as a release. Any bad row fails
 * the whole load with the file, line and reason in err; nothing is written
 * then.
 */
int dataset_seed(store *s, char *err, size_t errlen);

/* Parses a flag name ("SMALL_NUMBER") into its FLAG_* bit; 0 if unknown. */
unsigned dataset_flag_bit(const char *name);

#endif
