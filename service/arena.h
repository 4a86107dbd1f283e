#ifndef OFFSTAT_ARENA_H
#define OFFSTAT_ARENA_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A bump allocator for memory that lives exactly as long as one request:
 * response messages are built from many small pieces, and freeing them one
 * by one would be error-prone. Everything is released by arena_fini().
 */
typedef struct arena_block arena_block;
typedef struct {
	arena_block *head;
	size_t       used; /* bytes allocated, for tests and limits */
} arena;

void arena_init(arena *a);
/* Releases every block. Accepts an arena that was never used. */
void arena_fini(arena *a);
/* Zeroed memory aligned for any type, or NULL when out of memory. */
void *arena_alloc(arena *a, size_t size);
/* The same, not zeroed: for arrays that the caller fills whole. */
void *arena_alloc_raw(arena *a, size_t size);
/* Zeroed array of n elements of size; NULL on overflow or out of memory. */
void *arena_calloc(arena *a, size_t n, size_t size);
/* Copies s (NULL gives ""); NULL only when out of memory. */
char *arena_strdup(arena *a, const char *s);
char *arena_printf(arena *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#endif
