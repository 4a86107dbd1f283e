/*
 * The libFuzzer entry of every target, built once per target (see
 * CMakeLists.txt) with FUZZ_ONE naming the target's entry point in
 * entry.h, and FUZZ_DISPATCH when it needs the dispatcher over the bundled
 * dataset. A broken property aborts with its sentence, so libFuzzer keeps
 * the input as a crash.
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
	/* The config file's http key resolves host names: one quick try, so
	 * a name the machine cannot look up costs milliseconds, not a
	 * resolver's retries. */
	setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
#ifdef FUZZ_DISPATCH
	if (fuzz_dispatch_init() != 0) {
		abort();
	}
	atexit(fuzz_dispatch_fini);
#endif
	atexit(fuzz_import_fini);
	atexit(fuzz_tmpdir_remove);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = FUZZ_ONE(data, size);
	if (why != NULL) {
		fprintf(stderr, "fuzz: %s\n", why);
		abort();
	}
	return (0);
}
