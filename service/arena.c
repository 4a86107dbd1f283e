#include "arena.h"

#include <stdbool.h>
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

/*
 * size bytes, zeroed when zero is set. A request larger than a block gets a
 * block of its own, linked behind the newest so that the newest keeps
 * serving small requests; calloc gives it zeroed, which for the big arrays
 * of a snapshot means pages fresh from the kernel, not written twice.
 */
static void *
alloc(arena *a, size_t size, bool zero)
{
	arena_block *b = a->head;
	size_t       need;
	void        *p;

	if (size > SIZE_MAX - ARENA_ALIGN - sizeof(*b)) {
		return (NULL);
	}
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need > ARENA_BLOCK) {
		b = zero ? calloc(1, sizeof(*b) + need)
		         : malloc(sizeof(*b) + need);
		if (b == NULL) {
			return (NULL);
		}
		b->size = need;
		b->off  = need;
		if (a->head != NULL) {
			b->next       = a->head->next;
			a->head->next = b;
		} else {
			b->next = NULL;
			a->head = b;
		}
		a->used += need;
		return (b->data);
	}
	if (b == NULL || b->size - b->off < need) {
		if ((b = malloc(sizeof(*b) + ARENA_BLOCK)) == NULL) {
			return (NULL);
		}
		b->size = ARENA_BLOCK;
		b->off  = 0;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->off;
	b->off += need;
	a->used += need;
	if (zero) {
		memset(p, 0, size);
	}
	return (p);
}

void *
arena_alloc(arena *a, size_t size)
{
	return (alloc(a, size, true));
}

void *
arena_alloc_raw(arena *a, size_t size)
{
	return (alloc(a, size, false));
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

/*
 * Formats straight into the free end of the newest block when the text
 * fits there, which it nearly always does: one formatting pass instead of
 * one to measure and one to write. Reply notes are built this way, several
 * per reply.
 */
char *
arena_printf(arena *a, const char *fmt, ...)
{
	arena_block *b = a->head;
	va_list      ap;
	int          n;
	char        *p;

	va_start(ap, fmt);
	if (b != NULL && b->off < b->size) {
		/* Sizes and offsets are multiples of ARENA_ALIGN, so what
		 * fits in the room also fits once rounded up. */
		size_t room = b->size - b->off;
		p           = (char *)b->data + b->off;
		n           = vsnprintf(p, room, fmt, ap);
		if (n >= 0 && (size_t)n < room) {
			size_t need = ((size_t)n + ARENA_ALIGN) &
			              ~(size_t)(ARENA_ALIGN - 1);
			b->off += need;
			a->used += need;
			va_end(ap);
			return (p);
		}
	} else {
		n = vsnprintf(NULL, 0, fmt, ap);
	}
	va_end(ap);
	if (n < 0 || (p = arena_alloc(a, (size_t)n + 1)) == NULL) {
		return (NULL);
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return (p);
}
