/*
 * libFuzzer target: period_parse() on text, period_make() on parts, and the
 * label of every period that parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = fuzz_period_one(data, size);
	if (why != NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return (0);
}
