/*
 * libFuzzer target: od_parse() over a whole file, with a resolver over a few
 * force names.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = fuzz_opendata_one(data, size);
	if (why != NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return (0);
}
