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
#include "util/grow.h"

/* Find or create the node for owner and every missing ancestor up to the
 * apex, so that empty non-terminals exist as nodes (RFC 4592 section 2.2.2). */
static zone_node_t *node_get_or_create(zone_builder_t *b, const knot_dname_t *owner)
{
	zone_node_t *created = NULL;
	if (zone_table_ensure(b->zone, owner, NULL, NULL, &created) != 0) {
		return NULL;
	}
	return created;
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
	zone_origin_line_t *grown = grow_one(b->marks, b->mark_count, &b->mark_alloc,
	                                     sizeof(*grown), 64);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	b->marks = grown;
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
	if (zone_table_init(b->zone, 1024) != 0) {
		return CIRRUS_ENOMEM;
	}
	size_t size = knot_dname_size(apex);
	b->apex = zone_node_new(apex, size);
	if (b->apex == NULL) {
		return CIRRUS_ENOMEM;
	}
	zone_table_insert(b->zone, b->apex); /* cannot fail: no update, no copy */
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

/* A record's owner and type as text: made only for a report (formatting
 * them for every record took 2 % of loading a zone). */
typedef struct record_text {
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	char type[32];
} record_text_t;

static const record_text_t *record_text(record_text_t *t, const knot_dname_t *owner,
                                        uint16_t type)
{
	knot_dname_to_str(t->name, owner, sizeof(t->name));
	knot_rrtype_to_string(type, t->type, sizeof(t->type));
	return t;
}

/* Per-record checks; false means the record is reported and skipped. */
static bool record_acceptable(zone_builder_t *b, const knot_dname_t *owner,
                              uint16_t rclass, uint16_t type,
                              const char *file, uint64_t line)
{
	record_text_t t;
	if (knot_dname_in_bailiwick(owner, b->apex->owner) < 0) {
		record_text(&t, owner, type);
		zone_builder_report(b, ZONE_DIAG_WARNING, file, line,
		                    "%s %s is outside the zone, ignored", t.name, t.type);
		return false;
	}
	if (rclass != KNOT_CLASS_IN) {
		record_text(&t, owner, type);
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "%s %s: class %u is not IN", t.name, t.type, rclass);
		return false;
	}
	if (knot_rrtype_is_metatype(type) || type == KNOT_RRTYPE_ANY ||
	    type == KNOT_RRTYPE_AXFR || type == KNOT_RRTYPE_IXFR) {
		record_text(&t, owner, type);
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "%s: meta type %s cannot be in a zone", t.name, t.type);
		return false;
	}
	if (type == KNOT_RRTYPE_SOA && !knot_dname_is_equal(owner, b->apex->owner)) {
		record_text(&t, owner, type);
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "SOA record at %s is not at the zone apex", t.name);
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
	record_text_t t;
	const zone_rrset_t *same = zone_node_rrset(n, type);
	bool singleton = type == KNOT_RRTYPE_SOA || type == KNOT_RRTYPE_CNAME ||
	                 type == KNOT_RRTYPE_DNAME;
	if (singleton && same != NULL) {
		knot_rdata_t *rd = same->rrs.rdata;
		if (rd->len == rdlen && memcmp(rd->data, rdata, rdlen) == 0) {
			return true; /* a duplicate: harmless, deduplicated */
		}
		record_text(&t, n->owner, type);
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "more than one %s record at %s", t.type, t.name);
		return false;
	}
	if ((type == KNOT_RRTYPE_CNAME && zone_node_has_non_cname(n)) ||
	    ((n->flags & ZONE_NODE_CNAME) && !zone_type_cname_compatible(type))) {
		record_text(&t, n->owner, type);
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line,
		                    "CNAME and other data at %s", t.name);
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
	zone_rrset_t *rrset = zone_node_rrset_add(n, type, ttl);
	if (rrset == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (fresh && (type == KNOT_RRTYPE_NS || type == KNOT_RRTYPE_DNAME ||
	              type == KNOT_RRTYPE_DS) &&
	    mark_add(b, n, type, file, line) != 0) {
		return CIRRUS_ENOMEM;
	}
	if (rrset->ttl != ttl) {
		record_text_t t;
		record_text(&t, owner, type);
		zone_builder_report(b, ZONE_DIAG_WARNING, file, line,
		                    "TTL %u of a record at %s differs from its RRset's TTL %u, using %u",
		                    ttl, t.name, rrset->ttl, rrset->ttl);
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
		const zone_node_t *n = zone_slot(zone, i);
		if (n != NULL && n != zone->apex &&
		    (n->flags & (ZONE_NODE_NS | ZONE_NODE_DNAME))) {
			zone->cut_count++;
		}
	}
	*out = zone;
	b->zone = NULL;
	return 0;
}

int zone_builder_new(const char *origin, zone_diag_cb_t diag, void *ctx,
                     zone_builder_t **out)
{
	knot_dname_storage_t apex;
	if (zone_name_parse(apex, origin, (const knot_dname_t *)"") == 0) {
		return CIRRUS_EINVAL;
	}
	zone_builder_t *b = malloc(sizeof(*b));
	if (b == NULL) {
		return CIRRUS_ENOMEM;
	}
	int rc = zone_builder_init(b, apex, diag, ctx);
	if (rc != 0) {
		zone_builder_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int zone_builder_add_record(zone_builder_t *b, const knot_dname_t *owner, uint16_t type,
                            uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	return zone_builder_add(b, owner, KNOT_CLASS_IN, type, ttl, rdata, rdlen, "store", 0);
}

int zone_builder_build(zone_builder_t *b, bool glue, zone_t **out)
{
	if (b->errors == 0) {
		zone_check_zone(b, glue);
	}
	int rc = zone_builder_finish(b, out);
	zone_builder_free(b);
	return rc;
}

void zone_builder_free(zone_builder_t *b)
{
	if (b != NULL) {
		zone_builder_deinit(b);
		free(b);
	}
}

size_t zone_name_parse(knot_dname_storage_t out, const char *text,
                       const knot_dname_t *origin)
{
	size_t len = strlen(text);
	if (len == 0 || len > KNOT_DNAME_TXT_MAXLEN) {
		return 0;
	}
	if (strcmp(text, "@") == 0) {
		return zone_name_lower(out, origin);
	}
	if (knot_dname_from_str(out, text, KNOT_DNAME_MAXLEN) == NULL) {
		return 0;
	}
	if (text[len - 1] != '.' || (len >= 2 && text[len - 2] == '\\')) {
		/* relative: append the origin */
		size_t size = knot_dname_size(out);
		size_t osize = knot_dname_size(origin);
		if (size - 1 + osize > KNOT_DNAME_MAXLEN) {
			return 0;
		}
		memcpy(out + size - 1, origin, osize);
	}
	knot_dname_to_lower(out);
	return knot_dname_size(out);
}
