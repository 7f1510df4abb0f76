/* SPDX-License-Identifier: Apache-2.0
 * zone_set.c -- the immutable set of zones a server answers from, with
 * longest-match selection by hashing each suffix of the query name.
 */
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "zone/zone_internal.h"

static size_t apex_slot(const zone_set_t *set, const knot_dname_t *apex, size_t size)
{
	return zone_name_hash(apex, size) & set->table_mask;
}

static const zone_t *set_get_sized(const zone_set_t *set, const knot_dname_t *apex,
                                   size_t size)
{
	for (size_t i = apex_slot(set, apex, size);; i = (i + 1) & set->table_mask) {
		const zone_t *z = set->table[i];
		if (z == NULL) {
			return NULL;
		}
		if (z->apex->owner_size == size && memcmp(z->apex->owner, apex, size) == 0) {
			return z;
		}
	}
}

const zone_t *zone_set_get(const zone_set_t *set, const knot_dname_t *apex)
{
	return set_get_sized(set, apex, knot_dname_size(apex));
}

int zone_set_new(zone_t *const *zones, size_t count, zone_set_t **out)
{
	zone_set_t *set = calloc(1, sizeof(*set));
	if (set == NULL) {
		return CIRRUS_ENOMEM;
	}
	size_t slots = 8;
	while (slots < count * 2) {
		slots *= 2;
	}
	set->table_mask = slots - 1;
	set->table = calloc(slots, sizeof(zone_t *));
	set->zones = calloc(count ? count : 1, sizeof(zone_t *));
	if (set->table == NULL || set->zones == NULL) {
		zone_set_free(set);
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		const knot_dname_t *apex = zone_apex(zones[i]);
		if (zone_set_get(set, apex) != NULL) {
			/* Give back the references taken so far without freeing:
			 * the caller still owns every zone it passed. */
			for (size_t j = 0; j < set->count; j++) {
				__atomic_sub_fetch(&set->zones[j]->refs, 1, __ATOMIC_RELAXED);
			}
			set->count = 0;
			zone_set_free(set);
			return CIRRUS_EEXIST;
		}
		size_t slot = apex_slot(set, apex, knot_dname_size(apex));
		while (set->table[slot] != NULL) {
			slot = (slot + 1) & set->table_mask;
		}
		set->table[slot] = zones[i];
		set->zones[set->count++] = zones[i];
		zone_ref(zones[i]);
	}
	*out = set;
	return 0;
}

void zone_ref(zone_t *zone)
{
	__atomic_add_fetch(&zone->refs, 1, __ATOMIC_RELAXED);
}

void zone_unref(zone_t *zone)
{
	if (zone != NULL && __atomic_sub_fetch(&zone->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		zone_free(zone);
	}
}

void zone_set_free(zone_set_t *set)
{
	if (set == NULL) {
		return;
	}
	for (size_t i = 0; i < set->count; i++) {
		zone_unref(set->zones[i]);
	}
	free(set->zones);
	free(set->table);
	free(set);
}

const zone_t *zone_set_find(const zone_set_t *set, const knot_dname_t *name,
                            bool below)
{
	if (set == NULL) {
		return NULL;
	}
	/* Walk the suffixes, most specific first, shrinking the size as we go. */
	size_t size = knot_dname_size(name);
	if (below) {
		if (*name == '\0') {
			return NULL;
		}
		size -= *name + 1;
		name += *name + 1;
	}
	for (;;) {
		const zone_t *z = set_get_sized(set, name, size);
		if (z != NULL) {
			return z;
		}
		if (*name == '\0') {
			return NULL;
		}
		size -= *name + 1;
		name += *name + 1;
	}
}
