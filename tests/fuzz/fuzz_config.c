/*
 * libFuzzer target: offstatd's config file as cfg_file() reads it, the
 * input's first line as the value of every flag, and --print-config of
 * whatever was accepted.
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
	/* The http key resolves host names: one quick try, so a name the
	 * machine cannot look up costs milliseconds, not a resolver's retries.
	 */
	setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
	atexit(fuzz_tmpdir_remove);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = fuzz_config_one(data, size);
	if (why != NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return (0);
}
