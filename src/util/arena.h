/* SPDX-License-Identifier: Apache-2.0
 * arena.h -- bump allocator for memory that dies all at once.
 * Two uses: per-query scratch memory in each worker (reset after every answer,
 * so the hot path never calls malloc), and immutable zone snapshots (freed
 * whole when the last reader is gone). Not thread-safe: one owner at a time.
 */
#pragma once

#include <stddef.h>
#include <libknot/mm_ctx.h>

typedef struct arena_chunk arena_chunk_t;

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

/*! \brief Allocate len bytes aligned to 8; NULL when out of memory. */
void *arena_alloc(arena_t *a, size_t len);

/*! \brief Copy len bytes into the arena. */
void *arena_memdup(arena_t *a, const void *src, size_t len);

/*! \brief A libknot allocator context that allocates from a (free is a no-op). */
void arena_knot_mm(arena_t *a, knot_mm_t *mm);
