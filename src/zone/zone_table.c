/* SPDX-License-Identifier: Apache-2.0
 * zone_table.c -- the node hash table and node primitives shared by the
 * builder (whole zones from files or the store) and the updater (a new
 * version of a zone that shares every unchanged node with the old one).
 * The slots live in chunks (zone_chunks.c); every write goes through
 * zone_chunks_slot, which copies a chunk an update still shares.
 */
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "zone/zone_internal.h"

uint64_t zone_name_hash(const uint8_t *name, size_t size)
{
	/* FNV-1a; names are short, and this is one multiply per byte. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < size; i++) {
		h ^= name[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

/* zone_slot for the table's own changes. */
static zone_node_t *slot_get(const zone_t *zone, size_t i)
{
	return (zone_node_t *)zone_slot(zone, i);
}

zone_node_t *zone_table_find(const zone_t *zone, const knot_dname_t *name,
                             size_t size)
{
	size_t i = zone_name_hash(name, size) & zone->table_mask;
	for (;;) {
		zone_node_t *n = slot_get(zone, i);
		if (n == NULL) {
			return NULL;
		}
		if (n->owner_size == size && memcmp(n->owner, name, size) == 0) {
			return n;
		}
		i = (i + 1) & zone->table_mask;
	}
}

const zone_node_t *zone_find(const zone_t *zone, const knot_dname_t *name)
{
	return zone_table_find(zone, name, knot_dname_size(name));
}

const zone_node_t *zone_find_sized(const zone_t *zone, const knot_dname_t *name,
                                   size_t size)
{
	return zone_table_find(zone, name, size);
}

const zone_rrset_t *zone_node_rrset(const zone_node_t *node, uint16_t type)
{
	for (uint16_t i = 0; i < node->rrset_count; i++) {
		if (node->rrsets[i].type == type) {
			return &node->rrsets[i];
		}
	}
	return NULL;
}

static bool slot_of(const zone_t *zone, const zone_node_t *node, size_t *slot)
{
	size_t i = zone_name_hash(node->owner, node->owner_size) & zone->table_mask;
	while (zone_slot(zone, i) != NULL && zone_slot(zone, i) != node) {
		i = (i + 1) & zone->table_mask;
	}
	*slot = i;
	return zone_slot(zone, i) == node;
}

/* Store node in slot i (NULL empties it). */
static int slot_set(zone_t *zone, size_t i, zone_node_t *node)
{
	zone_node_t **slot = zone_chunks_slot(zone, i);
	if (slot == NULL) {
		return CIRRUS_ENOMEM;
	}
	*slot = node;
	return 0;
}

/* The first free slot of node's probe sequence. */
static size_t free_slot(const zone_t *zone, const zone_node_t *node)
{
	size_t i = zone_name_hash(node->owner, node->owner_size) & zone->table_mask;
	while (zone_slot(zone, i) != NULL) {
		i = (i + 1) & zone->table_mask;
	}
	return i;
}

int zone_table_init(zone_t *zone, size_t slots)
{
	zone_node_t ***dir;
	if (zone_chunks_alloc(slots, &dir) != 0) {
		return CIRRUS_ENOMEM;
	}
	zone->table = dir;
	zone->table_mask = slots - 1;
	return 0;
}

int zone_table_insert(zone_t *zone, zone_node_t *node)
{
	if (slot_set(zone, free_slot(zone, node), node) != 0) {
		return CIRRUS_ENOMEM;
	}
	zone->node_count++;
	return 0;
}

int zone_table_replace(zone_t *zone, const zone_node_t *old, zone_node_t *fresh)
{
	size_t slot;
	return slot_of(zone, old, &slot) ? slot_set(zone, slot, fresh) : 0;
}

int zone_table_remove(zone_t *zone, const zone_node_t *node)
{
	size_t hole;
	if (!slot_of(zone, node, &hole)) {
		return 0;
	}
	/* Backward-shift deletion keeps linear probing without tombstones:
	 * move later entries of the cluster into the hole when their home
	 * slot does not lie cyclically between the hole and themselves. */
	if (slot_set(zone, hole, NULL) != 0) {
		return CIRRUS_ENOMEM;
	}
	zone->node_count--;
	zone_node_t *n;
	for (size_t i = (hole + 1) & zone->table_mask; (n = slot_get(zone, i)) != NULL;
	     i = (i + 1) & zone->table_mask) {
		size_t home = zone_name_hash(n->owner, n->owner_size) & zone->table_mask;
		bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
		if (!stays) {
			if (slot_set(zone, hole, n) != 0 ||
			    slot_set(zone, i, NULL) != 0) {
				return CIRRUS_ENOMEM;
			}
			hole = i;
		}
	}
	return 0;
}

int zone_table_grow(zone_t *zone)
{
	if ((zone->node_count + 1) * 2 <= zone->table_mask + 1) {
		return 0;
	}
	/* The doubled table is new and no version's but this one's: its
	 * slots are written without copy-on-write. */
	zone_t doubled = { 0 };
	if (zone_table_init(&doubled, (zone->table_mask + 1) * 2) != 0) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i <= zone->table_mask; i++) {
		zone_node_t *n = slot_get(zone, i);
		if (n != NULL) {
			*zone_chunks_slot(&doubled, free_slot(&doubled, n)) = n;
		}
	}
	return zone_chunks_replace(zone, doubled.table, doubled.table_mask);
}

zone_node_t *zone_node_new(const knot_dname_t *owner, size_t size)
{
	zone_node_t *n = calloc(1, sizeof(*n) + size);
	if (n == NULL) {
		return NULL;
	}
	memcpy(n->owner, owner, size);
	n->owner_size = size;
	n->labels = knot_dname_labels(owner, NULL);
	return n;
}

zone_node_t *zone_node_copy(const zone_node_t *src)
{
	zone_node_t *n = zone_node_new(src->owner, src->owner_size);
	if (n == NULL) {
		return NULL;
	}
	n->flags = src->flags & ~ZONE_NODE_IMAGE;
	n->children = src->children;
	if (src->rrset_count == 0) {
		return n;
	}
	n->rrsets = calloc(src->rrset_count, sizeof(*n->rrsets));
	if (n->rrsets == NULL) {
		free(n);
		return NULL;
	}
	for (uint16_t i = 0; i < src->rrset_count; i++) {
		n->rrsets[i] = src->rrsets[i];
		n->rrsets[i].rrs = (knot_rdataset_t){ 0 };
		if (knot_rdataset_copy(&n->rrsets[i].rrs, &src->rrsets[i].rrs, NULL) != KNOT_EOK) {
			n->rrset_count = i;
			zone_node_free(n);
			return NULL;
		}
		n->rrset_count = i + 1;
	}
	return n;
}

void zone_node_free(zone_node_t *n)
{
	if (n->flags & ZONE_NODE_IMAGE) {
		return; /* freed with its image */
	}
	for (uint16_t r = 0; r < n->rrset_count; r++) {
		knot_rdataset_clear(&n->rrsets[r].rrs, NULL);
	}
	free(n->rrsets);
	free(n);
}

bool zone_type_cname_compatible(uint16_t type)
{
	/* RFC 2181 10.1 and RFC 4035 2.5: only DNSSEC data may share a name
	 * with a CNAME. */
	return type == KNOT_RRTYPE_CNAME || type == KNOT_RRTYPE_RRSIG ||
	       type == KNOT_RRTYPE_NSEC;
}

bool zone_node_has_non_cname(const zone_node_t *n)
{
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		if (!zone_type_cname_compatible(n->rrsets[i].type)) {
			return true;
		}
	}
	return false;
}

static uint16_t type_flag(uint16_t type)
{
	switch (type) {
	case KNOT_RRTYPE_NS:    return ZONE_NODE_NS;
	case KNOT_RRTYPE_DNAME: return ZONE_NODE_DNAME;
	case KNOT_RRTYPE_CNAME: return ZONE_NODE_CNAME;
	default:                return 0;
	}
}

zone_rrset_t *zone_node_rrset_add(zone_node_t *n, uint16_t type, uint32_t ttl)
{
	uint16_t i = 0;
	while (i < n->rrset_count && n->rrsets[i].type < type) {
		i++;
	}
	if (i < n->rrset_count && n->rrsets[i].type == type) {
		return &n->rrsets[i];
	}
	zone_rrset_t *grown = realloc(n->rrsets, (n->rrset_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		return NULL;
	}
	n->rrsets = grown;
	memmove(&grown[i + 1], &grown[i], (n->rrset_count - i) * sizeof(*grown));
	grown[i] = (zone_rrset_t){ .type = type, .ttl = ttl };
	n->rrset_count++;
	n->flags |= type_flag(type);
	return &grown[i];
}

void zone_node_rrset_remove(zone_node_t *n, uint16_t type)
{
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		if (n->rrsets[i].type == type) {
			knot_rdataset_clear(&n->rrsets[i].rrs, NULL);
			memmove(&n->rrsets[i], &n->rrsets[i + 1],
			        (n->rrset_count - i - 1) * sizeof(*n->rrsets));
			n->rrset_count--;
			n->flags &= ~type_flag(type);
			return;
		}
	}
}

int zone_table_ensure(zone_t *zone, const knot_dname_t *owner,
                      const zone_table_hooks_t *hooks, void *ctx, zone_node_t **out)
{
	size_t size = knot_dname_size(owner);
	zone_node_t *n = zone_table_find(zone, owner, size);
	if (n != NULL) {
		*out = n;
		return 0;
	}
	if (zone_table_grow(zone) != 0) {
		return CIRRUS_ENOMEM;
	}
	n = zone_node_new(owner, size);
	if (n == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (zone_table_insert(zone, n) != 0) {
		zone_node_free(n);
		return CIRRUS_ENOMEM;
	}
	if (hooks != NULL && hooks->created(ctx, n) != 0) {
		return CIRRUS_ENOMEM;
	}
	*out = n;
	if (n->labels > zone->apex->labels) {
		zone_node_t *parent;
		if (zone_table_ensure(zone, knot_wire_next_label(owner, NULL), hooks, ctx,
		                      &parent) != 0 ||
		    (hooks != NULL && (parent = hooks->writable(ctx, parent)) == NULL)) {
			return CIRRUS_ENOMEM;
		}
		parent->children++;
	}
	return 0;
}

void zone_free(zone_t *zone)
{
	if (zone == NULL) {
		return;
	}
	/* A superseded version shares its nodes with its successor and owns
	 * only the ones the successor replaced or removed. */
	if (zone->superseded) {
		for (size_t i = 0; i < zone->retired_count; i++) {
			zone_node_free(zone->retired[i]);
		}
	} else {
		for (size_t i = 0; zone->table != NULL && i <= zone->table_mask; i++) {
			if (slot_get(zone, i) != NULL) {
				zone_node_free(slot_get(zone, i));
			}
		}
	}
	if (zone->policy_free != NULL) {
		zone->policy_free(zone->policy);
	}
	zone_chunks_free(zone);
	zone_image_release(zone->image);
	free(zone->retired);
	free(zone->source);
	free(zone);
}
