/*
 * libFuzzer target: bytes as they would arrive on the socket, through
 * dispatch_request() over the bundled dataset. Built a second time with
 * FUZZ_METHODS as fuzz_methods, where the bytes are the payload of every
 * method in turn, so each request decoder and handler is reached without
 * the fuzzer having to find the envelope first.
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
	if (fuzz_dispatch_init() != 0) {
		abort();
	}
	atexit(fuzz_dispatch_fini);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef FUZZ_METHODS
	const char *why = fuzz_methods_one(data, size);
#else
	const char *why = fuzz_dispatch_one(data, size);
#endif
	if (why != NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return (0);
}
