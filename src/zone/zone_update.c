/* SPDX-License-Identifier: Apache-2.0
 * zone_update.c -- the next version of a zone by copy-on-write: the node
 * table's chunks are copied the first time the update writes to them
 * (zone_chunks.c), and a node the first time the update changes it. The base version keeps serving meanwhile; on commit it
 * is left owning exactly the nodes the new version replaced or removed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "zone/zone_internal.h"
#include "util/grow.h"

/* Marks a node created by the running update (cleared on commit). */
#define NODE_FRESH (1u << 15)

typedef struct node_list {
	zone_node_t **items;
	size_t count;
	size_t alloc;
} node_list_t;

struct zone_update {
	zone_t *base;
	zone_t *next;
	node_list_t fresh;     /*!< nodes this update allocated (NULL = freed again) */
	node_list_t retired;   /*!< base nodes the new version no longer holds */
	char error[512];
};

static int list_push(node_list_t *l, zone_node_t *n)
{
	zone_node_t **grown = grow_one(l->items, l->count, &l->alloc, sizeof(*grown), 16);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	l->items = grown;
	l->items[l->count++] = n;
	return 0;
}

static void set_error(zone_update_t *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->error, sizeof(u->error), fmt, ap);
	va_end(ap);
}

const char *zone_update_error(const zone_update_t *u)
{
	return u->error;
}

int zone_update_new(zone_t *zone, zone_update_t **out)
{
	if (zone->superseded) {
		return CIRRUS_EINVAL;
	}
	zone_update_t *u = calloc(1, sizeof(*u));
	zone_t *next = calloc(1, sizeof(*next));
	char *source = zone->source ? strdup(zone->source) : NULL;
	if (u == NULL || next == NULL || (zone->source && source == NULL) ||
	    zone_chunks_cow_begin(next, zone) != 0) {
		free(u);
		free(next);
		free(source);
		return CIRRUS_ENOMEM;
	}
	*next = (zone_t){
		.apex = zone->apex, .soa = zone->soa, .table = next->table,
		.table_mask = next->table_mask, .cow = next->cow, .node_count = zone->node_count,
		.record_count = zone->record_count, .cut_count = zone->cut_count,
		.source = source, .image = zone->image,
	};
	zone_image_retain(zone->image); /* unchanged nodes stay in its block */
	u->base = zone;
	u->next = next;
	*out = u;
	return 0;
}

/* Copy-on-write: the node as this update may change it. */
static zone_node_t *writable(void *ctx, zone_node_t *node)
{
	zone_update_t *u = ctx;
	if (node->flags & NODE_FRESH) {
		return node;
	}
	zone_node_t *copy = zone_node_copy(node);
	if (copy == NULL || list_push(&u->fresh, copy) != 0) {
		free(copy);
		return NULL;
	}
	if (list_push(&u->retired, node) != 0) {
		u->fresh.count--;
		zone_node_free(copy);
		return NULL;
	}
	copy->flags |= NODE_FRESH;
	if (zone_table_replace(u->next, node, copy) != 0) {
		return NULL;
	}
	if (node == u->next->apex) {
		u->next->apex = copy;
	}
	return copy;
}

const zone_node_t *zone_update_find(const zone_update_t *u, const knot_dname_t *name)
{
	return zone_find(u->next, name);
}

static int created(void *ctx, zone_node_t *node)
{
	zone_update_t *u = ctx;
	node->flags |= NODE_FRESH;
	return list_push(&u->fresh, node);
}

static const zone_table_hooks_t cow_hooks = { .writable = writable, .created = created };

/* The node for owner, created (with its empty non-terminals) if needed,
 * and safe to change. */
static zone_node_t *node_for_write(zone_update_t *u, const knot_dname_t *owner)
{
	zone_node_t *n;
	if (zone_table_ensure(u->next, owner, &cow_hooks, u, &n) != 0) {
		return NULL;
	}
	return writable(u, n);
}

static void forget_fresh(zone_update_t *u, const zone_node_t *n)
{
	for (size_t i = u->fresh.count; i-- > 0;) {
		if (u->fresh.items[i] == n) {
			u->fresh.items[i] = NULL;
			return;
		}
	}
}

/* Remove empty leaves bottom-up: a name with no data and no children no
 * longer exists (and an empty non-terminal above it may go too). */
static int prune(zone_update_t *u, zone_node_t *n)
{
	while (n != u->next->apex && n->rrset_count == 0 && n->children == 0) {
		knot_dname_storage_t parent_name;
		size_t parent_size = knot_dname_store(parent_name,
		                                      knot_wire_next_label(n->owner, NULL));
		if (zone_table_remove(u->next, n) != 0) {
			return CIRRUS_ENOMEM;
		}
		/* n is fresh (it was made writable before it became empty). */
		forget_fresh(u, n);
		zone_node_free(n);
		zone_node_t *parent = zone_table_find(u->next, parent_name, parent_size);
		if (parent == NULL || (parent = writable(u, parent)) == NULL) {
			return CIRRUS_ENOMEM;
		}
		parent->children--;
		n = parent;
	}
	return 0;
}

static bool type_allowed(zone_update_t *u, const knot_dname_t *owner, uint16_t type)
{
	char tname[32];
	knot_rrtype_to_string(type, tname, sizeof(tname));
	if (knot_dname_in_bailiwick(owner, zone_apex(u->base)) < 0) {
		char name[KNOT_DNAME_TXT_MAXLEN + 1];
		knot_dname_to_str(name, owner, sizeof(name));
		set_error(u, "%s is outside the zone", name);
		return false;
	}
	if (knot_rrtype_is_metatype(type) || type == KNOT_RRTYPE_AXFR ||
	    type == KNOT_RRTYPE_IXFR) {
		set_error(u, "type %s cannot be in a zone", tname);
		return false;
	}
	if (type == KNOT_RRTYPE_SOA && !knot_dname_is_equal(owner, zone_apex(u->base))) {
		set_error(u, "SOA is only allowed at the zone apex");
		return false;
	}
	return true;
}

int zone_update_put_rrset(zone_update_t *u, const knot_dname_t *owner, uint16_t type,
                          uint32_t ttl, const knot_rdataset_t *rrs)
{
	bool any = type == KNOT_RRTYPE_ANY;
	if (!any && !type_allowed(u, owner, type)) {
		return CIRRUS_EINVAL;
	}
	bool remove = any || rrs == NULL || rrs->count == 0;
	zone_node_t *n;
	if (remove) {
		const zone_node_t *found = zone_update_find(u, owner);
		if (found == NULL) {
			return 0;
		}
		n = writable(u, (zone_node_t *)found);
	} else {
		n = node_for_write(u, owner);
	}
	if (n == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (any) {
		while (n->rrset_count > 0) {
			zone_node_rrset_remove(n, n->rrsets[0].type);
		}
	} else {
		zone_node_rrset_remove(n, type);
	}
	if (remove) {
		return prune(u, n);
	}
	zone_rrset_t *rs = zone_node_rrset_add(n, type, ttl);
	if (rs == NULL || knot_rdataset_copy(&rs->rrs, rrs, NULL) != KNOT_EOK) {
		return CIRRUS_ENOMEM;
	}
	return 0;
}

int zone_update_add_rr(zone_update_t *u, const knot_dname_t *owner, uint16_t type,
                       uint32_t ttl, const knot_rdata_t *rd)
{
	if (!type_allowed(u, owner, type)) {
		return CIRRUS_EINVAL;
	}
	zone_node_t *n = node_for_write(u, owner);
	zone_rrset_t *rs = n ? zone_node_rrset_add(n, type, ttl) : NULL;
	if (rs == NULL || knot_rdataset_add(&rs->rrs, rd, NULL) != KNOT_EOK) {
		return CIRRUS_ENOMEM;
	}
	return 0;
}

int zone_update_remove_rr(zone_update_t *u, const knot_dname_t *owner, uint16_t type,
                          const knot_rdata_t *rd)
{
	const zone_node_t *found = zone_update_find(u, owner);
	const zone_rrset_t *rs = found ? zone_node_rrset(found, type) : NULL;
	if (rs == NULL || !knot_rdataset_member(&rs->rrs, rd)) {
		return 0;
	}
	zone_node_t *n = writable(u, (zone_node_t *)found);
	if (n == NULL) {
		return CIRRUS_ENOMEM;
	}
	zone_rrset_t *mine = (zone_rrset_t *)zone_node_rrset(n, type);
	if (knot_rdataset_remove(&mine->rrs, rd, NULL) != KNOT_EOK) {
		return CIRRUS_ENOMEM;
	}
	if (mine->rrs.count == 0) {
		zone_node_rrset_remove(n, type);
	}
	return prune(u, n);
}

int zone_update_mark_policy(zone_update_t *u, const knot_dname_t *owner)
{
	if (zone_find(u->next, owner) == NULL) {
		return CIRRUS_ENOENT;
	}
	zone_node_t *n = node_for_write(u, owner);
	if (n == NULL) {
		return CIRRUS_ENOMEM;
	}
	n->flags |= ZONE_NODE_POLICY;
	return 0;
}

uint32_t zone_update_serial(const zone_update_t *u)
{
	const zone_rrset_t *soa = zone_node_rrset(u->next->apex, KNOT_RRTYPE_SOA);
	return soa ? knot_soa_serial(soa->rrs.rdata) : 0;
}

int zone_update_set_serial(zone_update_t *u, uint32_t serial)
{
	zone_node_t *apex = writable(u, (zone_node_t *)u->next->apex);
	if (apex == NULL) {
		return CIRRUS_ENOMEM;
	}
	zone_rrset_t *soa = (zone_rrset_t *)zone_node_rrset(apex, KNOT_RRTYPE_SOA);
	if (soa == NULL) {
		set_error(u, "the zone has no SOA");
		return CIRRUS_ESEMANTIC;
	}
	knot_soa_serial_set(soa->rrs.rdata, serial);
	return 0;
}

static bool has_dname_above(const zone_update_t *u, const zone_node_t *n)
{
	const knot_dname_t *name = n->owner;
	for (int depth = n->labels; depth > u->next->apex->labels; depth--) {
		name = knot_wire_next_label(name, NULL);
		const zone_node_t *up = zone_find(u->next, name);
		if (up != NULL && (up->flags & ZONE_NODE_DNAME)) {
			return true;
		}
	}
	return false;
}

/* The same rules the loader applies per record, on a changed name. */
static int check_node(zone_update_t *u, const zone_node_t *n)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(name, n->owner, sizeof(name));
	const zone_rrset_t *cname = zone_node_rrset(n, KNOT_RRTYPE_CNAME);
	if (cname != NULL && (cname->rrs.count > 1 || zone_node_has_non_cname(n))) {
		set_error(u, cname->rrs.count > 1 ? "more than one CNAME record at %s"
		                                  : "CNAME and other data at %s", name);
		return CIRRUS_ESEMANTIC;
	}
	const zone_rrset_t *dname = zone_node_rrset(n, KNOT_RRTYPE_DNAME);
	if (dname != NULL && (dname->rrs.count > 1 || n->children > 0)) {
		set_error(u, dname->rrs.count > 1 ? "more than one DNAME record at %s"
		                                  : "DNAME at %s has names below it", name);
		return CIRRUS_ESEMANTIC;
	}
	if (n->rrset_count > 0 && has_dname_above(u, n)) {
		set_error(u, "%s is below a DNAME", name);
		return CIRRUS_ESEMANTIC;
	}
	const zone_rrset_t *soa = zone_node_rrset(n, KNOT_RRTYPE_SOA);
	if (n == u->next->apex && (soa == NULL || soa->rrs.count != 1 ||
	                           zone_node_rrset(n, KNOT_RRTYPE_NS) == NULL)) {
		set_error(u, "the apex %s needs exactly one SOA record and NS records", name);
		return CIRRUS_ESEMANTIC;
	}
	return 0;
}

static bool is_cut(const zone_t *zone, const zone_node_t *n)
{
	return n != zone->apex && (n->flags & (ZONE_NODE_NS | ZONE_NODE_DNAME));
}

static size_t record_total(const zone_node_t *n)
{
	size_t total = 0;
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		total += n->rrsets[i].rrs.count;
	}
	return total;
}

int zone_update_check(zone_update_t *u)
{
	for (size_t i = 0; i < u->fresh.count; i++) {
		const zone_node_t *n = u->fresh.items[i];
		int rc = n ? check_node(u, n) : 0;
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

int zone_update_commit(zone_update_t *u, zone_t **out)
{
	zone_t *next = u->next;
	int rc = zone_update_check(u);
	if (rc != 0) {
		return rc;
	}
	/* Counters change by what left (retired) and what came (fresh). */
	for (size_t i = 0; i < u->retired.count; i++) {
		const zone_node_t *n = u->retired.items[i];
		next->cut_count -= is_cut(u->base, n);
		next->record_count -= record_total(n);
	}
	for (size_t i = 0; i < u->fresh.count; i++) {
		zone_node_t *n = u->fresh.items[i];
		if (n != NULL) {
			n->flags &= ~NODE_FRESH;
			next->cut_count += is_cut(next, n);
			next->record_count += record_total(n);
		}
	}
	next->soa = zone_node_rrset(next->apex, KNOT_RRTYPE_SOA);
	zone_chunks_cow_commit(next, u->base);
	u->base->superseded = true;
	u->base->retired = u->retired.items;
	u->base->retired_count = u->retired.count;
	free(u->fresh.items);
	free(u);
	*out = next;
	return 0;
}

void zone_update_abort(zone_update_t *u)
{
	if (u == NULL) {
		return;
	}
	for (size_t i = 0; i < u->fresh.count; i++) {
		if (u->fresh.items[i] != NULL) {
			zone_node_free(u->fresh.items[i]);
		}
	}
	free(u->fresh.items);
	free(u->retired.items);
	zone_image_release(u->next->image);
	zone_chunks_cow_abort(u->next);
	free(u->next->source);
	free(u->next);
	free(u);
}
