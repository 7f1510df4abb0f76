/* SPDX-License-Identifier: Apache-2.0
 * zone_build.c -- turning records into an immutable zone_t: the node hash
 * table, empty non-terminals, RRsets, and the checks that apply per record.
 * Nodes are malloc'ed one by one (not from an arena) so that a later
 * incremental snapshot can share unchanged nodes with the previous one.
 */
#include <stdarg.h>
#include <stdio.h>
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

zone_node_t *zone_table_find(const zone_t *zone, const knot_dname_t *name,
                             size_t size)
{
	size_t i = zone_name_hash(name, size) & zone->table_mask;
	for (;;) {
		zone_node_t *n = zone->table[i];
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

static void table_insert(zone_t *zone, zone_node_t *node)
{
	size_t i = zone_name_hash(node->owner, node->owner_size) & zone->table_mask;
	while (zone->table[i] != NULL) {
		i = (i + 1) & zone->table_mask;
	}
	zone->table[i] = node;
	zone->node_count++;
}

static int table_grow(zone_t *zone)
{
	size_t old_size = zone->table_mask + 1;
	zone_node_t **old = zone->table;
	zone->table = calloc(old_size * 2, sizeof(*old));
	if (zone->table == NULL) {
		zone->table = old;
		return CIRRUS_ENOMEM;
	}
	zone->table_mask = old_size * 2 - 1;
	zone->node_count = 0;
	for (size_t i = 0; i < old_size; i++) {
		if (old[i] != NULL) {
			table_insert(zone, old[i]);
		}
	}
	free(old);
	return 0;
}

static zone_node_t *node_new(const knot_dname_t *owner, size_t size)
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

/* Find or create the node for owner and every missing ancestor up to the
 * apex, so that empty non-terminals exist as nodes (RFC 4592 section 2.2.2). */
static zone_node_t *node_get_or_create(zone_builder_t *b, const knot_dname_t *owner)
{
	zone_t *zone = b->zone;
	size_t size = knot_dname_size(owner);
	zone_node_t *n = zone_table_find(zone, owner, size);
	if (n != NULL) {
		return n;
	}
	if ((zone->node_count + 1) * 2 > zone->table_mask + 1 && table_grow(zone) != 0) {
		return NULL;
	}
	n = node_new(owner, size);
	if (n == NULL) {
		return NULL;
	}
	table_insert(zone, n);
	if (n->labels > b->apex->labels &&
	    node_get_or_create(b, knot_wire_next_label(owner, NULL)) == NULL) {
		return NULL;
	}
	return n;
}

static zone_rrset_t *rrset_get_or_create(zone_node_t *n, uint16_t type, uint32_t ttl)
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
	switch (type) {
	case KNOT_RRTYPE_NS:    n->flags |= ZONE_NODE_NS; break;
	case KNOT_RRTYPE_DNAME: n->flags |= ZONE_NODE_DNAME; break;
	case KNOT_RRTYPE_CNAME: n->flags |= ZONE_NODE_CNAME; break;
	default: break;
	}
	return &grown[i];
}

void zone_builder_report(zone_builder_t *b, zone_diag_level_t level,
                         const char *file, uint64_t line, const char *fmt, ...)
{
	if (level == ZONE_DIAG_ERROR) {
		b->errors++;
	} else {
		b->warnings++;
	}
	if (b->diag == NULL) {
		return;
	}
	char reason[2 * KNOT_DNAME_TXT_MAXLEN + 256]; /* room for two names */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	b->diag(b->diag_ctx, level, file, line, reason);
}

const char *zone_builder_file(zone_builder_t *b, const char *file)
{
	for (size_t i = 0; i < b->file_count; i++) {
		if (strcmp(b->files[i], file) == 0) {
			return b->files[i];
		}
	}
	char **grown = realloc(b->files, (b->file_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		return file;
	}
	b->files = grown;
	char *copy = strdup(file);
	if (copy == NULL) {
		return file;
	}
	b->files[b->file_count++] = copy;
	return copy;
}

static int mark_add(zone_builder_t *b, const zone_node_t *node, uint16_t type,
                    const char *file, uint64_t line)
{
	if (b->mark_count == b->mark_alloc) {
		size_t alloc = b->mark_alloc ? b->mark_alloc * 2 : 64;
		zone_origin_line_t *grown = realloc(b->marks, alloc * sizeof(*grown));
		if (grown == NULL) {
			return CIRRUS_ENOMEM;
		}
		b->marks = grown;
		b->mark_alloc = alloc;
	}
	b->marks[b->mark_count++] = (zone_origin_line_t){
		.node = node, .type = type, .file = zone_builder_file(b, file), .line = line,
	};
	return 0;
}

int zone_builder_init(zone_builder_t *b, const knot_dname_t *apex,
                      zone_diag_cb_t diag, void *ctx)
{
	memset(b, 0, sizeof(*b));
	b->diag = diag;
	b->diag_ctx = ctx;
	b->zone = calloc(1, sizeof(zone_t));
	if (b->zone == NULL) {
		return CIRRUS_ENOMEM;
	}
	b->zone->table_mask = 1023;
	b->zone->table = calloc(b->zone->table_mask + 1, sizeof(zone_node_t *));
	if (b->zone->table == NULL) {
		return CIRRUS_ENOMEM;
	}
	size_t size = knot_dname_size(apex);
	b->apex = node_new(apex, size);
	if (b->apex == NULL) {
		return CIRRUS_ENOMEM;
	}
	table_insert(b->zone, b->apex);
	b->zone->apex = b->apex;
	return 0;
}

void zone_builder_deinit(zone_builder_t *b)
{
	zone_free(b->zone);
	b->zone = NULL;
	free(b->marks);
	for (size_t i = 0; i < b->file_count; i++) {
		free(b->files[i]);
	}
	free(b->files);
}

static bool cname_compatible(uint16_t type)
{
	/* RFC 2181 10.1 and RFC 4035 2.5: only DNSSEC data may share a name
	 * with a CNAME. */
	return type == KNOT_RRTYPE_CNAME || type == KNOT_RRTYPE_RRSIG ||
	       type == KNOT_RRTYPE_NSEC;
}

static bool node_has_other_than_cname(const zone_node_t *n)
{
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		if (!cname_compatible(n->rrsets[i].type)) {
			return true;
		}
	}
	return false;
}

/* Per-record checks; false means the record is reported and skipped. */
static bool record_acceptable(zone_builder_t *b, const knot_dname_t *owner,
                              uint16_t rclass, uint16_t type,
                              const char *file, uint64_t line)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	char tname[32];
	knot_dname_to_str(name, owner, sizeof(name));
	knot_rrtype_to_string(type, tname, sizeof(tname));

	if (knot_dname_in_bailiwick(owner, b->apex->owner) < 0) {
		zone_builder_report(b, ZONE_DIAG_WARNING, file, line,
		                    "%s %s is outside the zone, ignored", name, tname);
		return false;
	}
	if (rclass != KNOT_CLASS_IN) {
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "%s %s: class %u is not IN", name, tname, rclass);
		return false;
	}
	if (knot_rrtype_is_metatype(type) || type == KNOT_RRTYPE_ANY ||
	    type == KNOT_RRTYPE_AXFR || type == KNOT_RRTYPE_IXFR) {
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "%s: meta type %s cannot be in a zone", name, tname);
		return false;
	}
	if (type == KNOT_RRTYPE_SOA && !knot_dname_is_equal(owner, b->apex->owner)) {
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "SOA record at %s is not at the zone apex", name);
		return false;
	}
	return true;
}

/* CNAME exclusivity, one SOA, one DNAME, one CNAME: checked against what
 * the node already holds. */
static bool node_accepts(zone_builder_t *b, const zone_node_t *n, uint16_t type,
                         const uint8_t *rdata, uint16_t rdlen,
                         const char *file, uint64_t line)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(name, n->owner, sizeof(name));
	const zone_rrset_t *same = zone_node_rrset(n, type);
	bool singleton = type == KNOT_RRTYPE_SOA || type == KNOT_RRTYPE_CNAME ||
	                 type == KNOT_RRTYPE_DNAME;
	if (singleton && same != NULL) {
		knot_rdata_t *rd = same->rrs.rdata;
		if (rd->len == rdlen && memcmp(rd->data, rdata, rdlen) == 0) {
			return true; /* a duplicate: harmless, deduplicated */
		}
		char tname[16];
		knot_rrtype_to_string(type, tname, sizeof(tname));
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "more than one %s record at %s", tname, name);
		return false;
	}
	if (type == KNOT_RRTYPE_CNAME && node_has_other_than_cname(n)) {
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "CNAME and other data at %s", name);
		return false;
	}
	if ((n->flags & ZONE_NODE_CNAME) && !cname_compatible(type)) {
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "CNAME and other data at %s", name);
		return false;
	}
	return true;
}

int zone_builder_add(zone_builder_t *b, const knot_dname_t *owner_in,
                     uint16_t rclass, uint16_t type, uint32_t ttl,
                     const uint8_t *rdata, uint16_t rdlen,
                     const char *file, uint64_t line)
{
	knot_dname_storage_t owner;
	zone_name_lower(owner, owner_in);
	if (!record_acceptable(b, owner, rclass, type, file, line)) {
		return 0;
	}
	zone_node_t *n = node_get_or_create(b, owner);
	if (n == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (!node_accepts(b, n, type, rdata, rdlen, file, line)) {
		return 0;
	}
	bool fresh = zone_node_rrset(n, type) == NULL;
	zone_rrset_t *rrset = rrset_get_or_create(n, type, ttl);
	if (rrset == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (fresh && (type == KNOT_RRTYPE_NS || type == KNOT_RRTYPE_DNAME ||
	              type == KNOT_RRTYPE_DS) &&
	    mark_add(b, n, type, file, line) != 0) {
		return CIRRUS_ENOMEM;
	}
	if (rrset->ttl != ttl) {
		char name[KNOT_DNAME_TXT_MAXLEN + 1];
		knot_dname_to_str(name, owner, sizeof(name));
		zone_builder_report(b, ZONE_DIAG_WARNING, file, line,
		                    "TTL %u of a record at %s differs from its RRset's TTL %u, using %u",
		                    ttl, name, rrset->ttl, rrset->ttl);
	}
	uint16_t before = rrset->rrs.count;
	uint8_t buf[sizeof(knot_rdata_t) + 65536];
	knot_rdata_t *rd = (knot_rdata_t *)buf;
	knot_rdata_init(rd, rdlen, rdata);
	if (knot_rdataset_add(&rrset->rrs, rd, NULL) != KNOT_EOK) {
		return CIRRUS_ENOMEM;
	}
	b->zone->record_count += rrset->rrs.count - before;
	return 0;
}

int zone_builder_finish(zone_builder_t *b, zone_t **out)
{
	*out = NULL;
	if (b->errors > 0) {
		return CIRRUS_ESEMANTIC;
	}
	zone_t *zone = b->zone;
	zone->soa = zone_node_rrset(zone->apex, KNOT_RRTYPE_SOA);
	for (size_t i = 0; i <= zone->table_mask; i++) {
		const zone_node_t *n = zone->table[i];
		if (n != NULL && n != zone->apex &&
		    (n->flags & (ZONE_NODE_NS | ZONE_NODE_DNAME))) {
			zone->cut_count++;
		}
	}
	*out = zone;
	b->zone = NULL;
	return 0;
}

void zone_free(zone_t *zone)
{
	if (zone == NULL) {
		return;
	}
	for (size_t i = 0; zone->table != NULL && i <= zone->table_mask; i++) {
		zone_node_t *n = zone->table[i];
		if (n == NULL) {
			continue;
		}
		for (uint16_t r = 0; r < n->rrset_count; r++) {
			knot_rdataset_clear(&n->rrsets[r].rrs, NULL);
		}
		free(n->rrsets);
		free(n);
	}
	free(zone->table);
	free(zone->source);
	free(zone);
}
