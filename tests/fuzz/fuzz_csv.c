/*
 * libFuzzer target: the RFC 4180 reader, record by record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = fuzz_csv_one(data, size);
	if (why != NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return (0);
}
