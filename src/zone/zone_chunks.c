/* SPDX-License-Identifier: Apache-2.0
 * zone_chunks.c -- where the node table's slots live: chunks of
 * ZONE_CHUNK_SLOTS pointers reached through a directory. A version being
 * built (zone_update) starts with a copy of its base's directory and copies
 * a chunk the first time it writes to it, so a change costs the directory
 * plus the chunks it touches instead of the whole table (16 MiB for a
 * million names, whose fresh pages also had to be faulted in now and then).
 * The hash itself (probing, insert, delete) is zone_table.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "zone/zone_internal.h"

#define CHUNK_BYTES (ZONE_CHUNK_SLOTS * sizeof(zone_node_t *))

/* Copy-on-write state of a version being built. */
struct zone_table_cow {
	uint8_t *own;              /*!< per chunk: 1 = this version's own copy */
	zone_node_t ***retired;    /*!< the base's chunks this version replaced */
	size_t retired_count;
	size_t retired_alloc;
};

static size_t chunk_count(size_t table_mask)
{
	return (table_mask >> ZONE_CHUNK_SHIFT) + 1;
}

/* A chunk in a compiled image is freed with the image. */
static void chunk_free(const zone_t *zone, zone_node_t **chunk)
{
	if (!zone_image_holds(zone->image, chunk)) {
		free(chunk);
	}
}

static void dir_free(zone_node_t ***dir, size_t chunks)
{
	for (size_t c = 0; c < chunks; c++) {
		free(dir[c]);
	}
	free(dir);
}

int zone_chunks_alloc(size_t slots, zone_node_t ****out)
{
	size_t chunks = slots >> ZONE_CHUNK_SHIFT;
	zone_node_t ***dir = calloc(chunks, sizeof(*dir));
	if (dir == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t c = 0; c < chunks; c++) {
		if ((dir[c] = calloc(ZONE_CHUNK_SLOTS, sizeof(zone_node_t *))) == NULL) {
			dir_free(dir, c);
			return CIRRUS_ENOMEM;
		}
	}
	*out = dir;
	return 0;
}

/* Room for n more retired chunks. */
static int retire_reserve(struct zone_table_cow *cow, size_t n)
{
	if (cow->retired_count + n <= cow->retired_alloc) {
		return 0;
	}
	size_t alloc = cow->retired_alloc ? cow->retired_alloc : 16;
	while (alloc < cow->retired_count + n) {
		alloc *= 2;
	}
	zone_node_t ***grown = realloc(cow->retired, alloc * sizeof(*grown));
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	cow->retired = grown;
	cow->retired_alloc = alloc;
	return 0;
}

zone_node_t **zone_chunks_slot(zone_t *zone, size_t i)
{
	size_t c = i >> ZONE_CHUNK_SHIFT;
	struct zone_table_cow *cow = zone->cow;
	if (cow != NULL && !cow->own[c]) {
		zone_node_t **copy = malloc(CHUNK_BYTES);
		if (copy == NULL || retire_reserve(cow, 1) != 0) {
			free(copy);
			return NULL;
		}
		memcpy(copy, zone->table[c], CHUNK_BYTES);
		cow->retired[cow->retired_count++] = zone->table[c];
		zone->table[c] = copy;
		cow->own[c] = 1;
	}
	return &zone->table[c][i & (ZONE_CHUNK_SLOTS - 1)];
}

int zone_chunks_replace(zone_t *zone, zone_node_t ***dir, size_t table_mask)
{
	size_t old_chunks = chunk_count(zone->table_mask);
	struct zone_table_cow *cow = zone->cow;
	uint8_t *own = NULL;
	if (cow != NULL) {
		own = malloc(chunk_count(table_mask));
		if (own == NULL || retire_reserve(cow, old_chunks) != 0) {
			free(own);
			dir_free(dir, chunk_count(table_mask));
			return CIRRUS_ENOMEM;
		}
		memset(own, 1, chunk_count(table_mask));
	}
	for (size_t c = 0; c < old_chunks; c++) {
		if (cow != NULL && !cow->own[c]) {
			cow->retired[cow->retired_count++] = zone->table[c];
		} else {
			chunk_free(zone, zone->table[c]);
		}
	}
	free(zone->table);
	zone->table = dir;
	zone->table_mask = table_mask;
	if (cow != NULL) {
		free(cow->own);
		cow->own = own;
	}
	return 0;
}

int zone_chunks_cow_begin(zone_t *next, const zone_t *base)
{
	size_t chunks = chunk_count(base->table_mask);
	struct zone_table_cow *cow = calloc(1, sizeof(*cow));
	zone_node_t ***dir = malloc(chunks * sizeof(*dir));
	uint8_t *own = calloc(chunks, 1);
	if (cow == NULL || dir == NULL || own == NULL) {
		free(cow);
		free(dir);
		free(own);
		return CIRRUS_ENOMEM;
	}
	memcpy(dir, base->table, chunks * sizeof(*dir));
	cow->own = own;
	next->table = dir;
	next->table_mask = base->table_mask;
	next->cow = cow;
	return 0;
}

void zone_chunks_cow_commit(zone_t *next, zone_t *base)
{
	struct zone_table_cow *cow = next->cow;
	base->retired_chunks = cow->retired;
	base->retired_chunk_count = cow->retired_count;
	free(cow->own);
	free(cow);
	next->cow = NULL;
}

void zone_chunks_cow_abort(zone_t *next)
{
	struct zone_table_cow *cow = next->cow;
	for (size_t c = 0; cow != NULL && c < chunk_count(next->table_mask); c++) {
		if (cow->own[c]) {
			free(next->table[c]);
		}
	}
	free(next->table);
	next->table = NULL;
	if (cow != NULL) {
		free(cow->retired);
		free(cow->own);
		free(cow);
		next->cow = NULL;
	}
}

void zone_chunks_free(zone_t *zone)
{
	if (zone->superseded) {
		for (size_t i = 0; i < zone->retired_chunk_count; i++) {
			chunk_free(zone, zone->retired_chunks[i]);
		}
	} else {
		for (size_t c = 0; zone->table != NULL && c < chunk_count(zone->table_mask); c++) {
			chunk_free(zone, zone->table[c]);
		}
	}
	free(zone->retired_chunks);
	free(zone->table);
}
