/*
 * libFuzzer target: the tokens file as auth_open() reads it, and an
 * authorization value checked against it (the input's first line).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "entry.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(fuzz_tmpdir_remove);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = fuzz_tokens_one(data, size);
	if (why != NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return (0);
}
