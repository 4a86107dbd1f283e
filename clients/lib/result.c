#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"

/* Blocks are at least this big, so small strings share them. */
#define BLOCK_SIZE 4096

struct block {
	struct block *next;
	size_t        used;
	size_t        size;
	/* Padding keeps data aligned for any type. */
	alignas(max_align_t) unsigned char data[];
};

/* The hidden header in front of a result. */
struct region {
	struct block *blocks;
	alignas(max_align_t) unsigned char result[];
};

static size_t
round_up(size_t n)
{
	size_t a = alignof(max_align_t);
	return ((n + a - 1) / a * a);
}

static struct region *
region_of(void *result)
{
	return ((struct region *)((unsigned char *)result -
	                          offsetof(struct region, result)));
}

void *
offstat__result_new(size_t size)
{
	struct region *r;

	if ((r = calloc(1, sizeof(*r) + size)) == NULL) {
		return (NULL);
	}
	r->blocks = NULL;
	return (r->result);
}

void *
offstat__result_alloc(void *result, size_t n)
{
	struct region *r = region_of(result);
	struct block  *b = r->blocks;
	size_t         need;
	void          *p;

	if (n == 0) {
		n = 1;
	}
	if (n > SIZE_MAX / 2) {
		return (NULL);
	}
	need = round_up(n);
	if (b == NULL || b->size - b->used < need) {
		size_t size = need > BLOCK_SIZE ? need : BLOCK_SIZE;
		if ((b = malloc(sizeof(*b) + size)) == NULL) {
			return (NULL);
		}
		b->used = 0;
		b->size = size;
		/* A block bigger than usual goes second, so the first keeps
		 * its free space for the small strings that follow. */
		if (need > BLOCK_SIZE && r->blocks != NULL) {
			b->next         = r->blocks->next;
			r->blocks->next = b;
		} else {
			b->next   = r->blocks;
			r->blocks = b;
		}
	}
	p = b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return (p);
}

void
offstat__result_free(void *result)
{
	struct region *r;
	struct block  *b;

	if (result == NULL) {
		return;
	}
	r = region_of(result);
	while ((b = r->blocks) != NULL) {
		r->blocks = b->next;
		free(b);
	}
	free(r);
}
