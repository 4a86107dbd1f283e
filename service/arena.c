#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

struct arena_block {
	arena_block *next;
	size_t       size;
	size_t       off;
	/* Keeps data[] aligned for any object type. */
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

void
arena_init(arena *a)
{
	a->head = NULL;
	a->used = 0;
}

void
arena_fini(arena *a)
{
	arena_block *b = a->head;
	while (b != NULL) {
		arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
	a->used = 0;
}

void *
arena_alloc(arena *a, size_t size)
{
	arena_block *b = a->head;
	size_t       need;

	if (size > SIZE_MAX - ARENA_ALIGN) {
		return (NULL);
	}
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (b == NULL || b->size - b->off < need) {
		/* Large requests get a block of their own. */
		size_t bsz = need > ARENA_BLOCK ? need : ARENA_BLOCK;
		if ((b = malloc(sizeof(*b) + bsz)) == NULL) {
			return (NULL);
		}
		b->size = bsz;
		b->off  = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->off;
	b->off += need;
	a->used += need;
	memset(p, 0, size);
	return (p);
}

void *
arena_calloc(arena *a, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		return (NULL);
	}
	return (arena_alloc(a, n * size));
}

char *
arena_strdup(arena *a, const char *s)
{
	size_t len;
	char  *p;

	if (s == NULL) {
		s = "";
	}
	len = strlen(s);
	if ((p = arena_alloc(a, len + 1)) != NULL) {
		memcpy(p, s, len + 1);
	}
	return (p);
}

char *
arena_printf(arena *a, const char *fmt, ...)
{
	va_list ap;
	int     n;
	char   *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = arena_alloc(a, (size_t)n + 1)) == NULL) {
		return (NULL);
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return (p);
}
