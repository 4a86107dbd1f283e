#ifndef OFFSTAT_CLIENT_RESULT_H
#define OFFSTAT_CLIENT_RESULT_H

/*
 * Result memory. A result (offstat_count, offstat_series, ...) is one
 * region: a hidden header in front of the struct the caller sees, and
 * further blocks for everything it points to. Freeing the result frees the
 * region, so no *_free has to walk the tree, and a conversion that runs out
 * of memory half-way leaks nothing.
 */

#include <stdbool.h>
#include <stddef.h>

/*
 * offstat__result_new returns a zeroed struct of size bytes inside a new
 * region, or NULL when memory runs out.
 */
void *offstat__result_new(size_t size);

/*
 * offstat__result_alloc returns n zeroed bytes, aligned for any type, that
 * live as long as result; NULL when memory runs out or n overflows.
 */
void *offstat__result_alloc(void *result, size_t n);

/* offstat__result_free releases a region; accepts NULL. */
void offstat__result_free(void *result);

#endif
