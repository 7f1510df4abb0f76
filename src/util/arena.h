/* SPDX-License-Identifier: Apache-2.0
 * arena.h -- bump allocator for memory that dies all at once.
 * Two uses: per-query scratch memory in each worker (reset after every answer,
 * so the hot path never calls malloc), and immutable zone snapshots (freed
 * whole when the last reader is gone). Not thread-safe: one owner at a time.
 */
#pragma once

#include <stddef.h>
#include <libknot/mm_ctx.h>

#include <stdint.h>

typedef struct arena_chunk arena_chunk_t;

/* Exposed only so that arena_alloc's fast path can be inlined. */
struct arena_chunk {
	arena_chunk_t *next;
	size_t size;
	size_t used;
	_Alignas(16) uint8_t data[];
};

typedef struct arena {
	arena_chunk_t *head;   /*!< chunk being filled; older ones follow */
	size_t chunk_size;     /*!< default size of a new chunk */
	size_t used_total;     /*!< bytes handed out since the last reset */
} arena_t;

/*! \brief Prepare an empty arena whose chunks are chunk_size bytes. */
void arena_init(arena_t *a, size_t chunk_size);

/*! \brief Release every chunk. */
void arena_deinit(arena_t *a);

/*!
 * \brief Forget everything allocated; keep the first chunk for reuse.
 * Pointers handed out before are invalid afterwards.
 */
void arena_reset(arena_t *a);

/*! \brief Slow path of arena_alloc: a new chunk. */
void *arena_alloc_chunk(arena_t *a, size_t len);

/*! \brief Allocate len bytes aligned to 8; NULL when out of memory. */
static inline void *arena_alloc(arena_t *a, size_t len)
{
	len = (len + 7) & ~(size_t)7;
	arena_chunk_t *c = a->head;
	if (c == NULL || c->size - c->used < len) {
		return arena_alloc_chunk(a, len);
	}
	void *p = c->data + c->used;
	c->used += len;
	a->used_total += len;
	return p;
}

/*! \brief Copy len bytes into the arena. */
void *arena_memdup(arena_t *a, const void *src, size_t len);

/*! \brief A libknot allocator context that allocates from a (free is a no-op). */
void arena_knot_mm(arena_t *a, knot_mm_t *mm);
