/* SPDX-License-Identifier: Apache-2.0
 * arena.c -- bump allocator; see arena.h.
 */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "util/arena.h"

static arena_chunk_t *chunk_new(size_t size)
{
	arena_chunk_t *c = malloc(sizeof(*c) + size);
	if (c == NULL) {
		return NULL;
	}
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

void arena_init(arena_t *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size;
	a->used_total = 0;
}

void arena_deinit(arena_t *a)
{
	arena_chunk_t *c = a->head;
	while (c != NULL) {
		arena_chunk_t *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used_total = 0;
}

void arena_reset(arena_t *a)
{
	if (a->head == NULL) {
		return;
	}
	/* Keep the oldest chunk (the last in the list): in steady state one
	 * chunk serves every query and reset costs nothing. */
	arena_chunk_t *c = a->head;
	while (c->next != NULL) {
		arena_chunk_t *next = c->next;
		free(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
	a->used_total = 0;
}

void *arena_alloc_chunk(arena_t *a, size_t len)
{
	size_t size = len > a->chunk_size ? len : a->chunk_size;
	arena_chunk_t *fresh = chunk_new(size);
	if (fresh == NULL) {
		return NULL;
	}
	fresh->next = a->head;
	a->head = fresh;
	fresh->used = len;
	a->used_total += len;
	return fresh->data;
}

void *arena_memdup(arena_t *a, const void *src, size_t len)
{
	void *p = arena_alloc(a, len);
	if (p != NULL) {
		memcpy(p, src, len);
	}
	return p;
}

static void *mm_alloc(void *ctx, size_t len)
{
	return arena_alloc(ctx, len);
}

static void mm_free(void *p)
{
	(void)p; /* freed with the arena */
}

void arena_knot_mm(arena_t *a, knot_mm_t *mm)
{
	mm->ctx = a;
	mm->alloc = mm_alloc;
	mm->free = mm_free;
}
