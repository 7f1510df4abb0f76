/* SPDX-License-Identifier: Apache-2.0
 * zone_check.c -- whole-zone semantic checks run after every record is in:
 * SOA and NS at the apex, DNAME without descendants (RFC 6672 2.3), DS
 * only at delegations, and address records for in-zone name server
 * targets (glue, RFC 1034 4.2.1).
 * Per-record checks live in zone_build.c.
 */
#include <string.h>

#include "zone/zone_internal.h"

static const char *first_file(const zone_builder_t *b)
{
	return b->file_count > 0 ? b->files[0] : "zone";
}

static void check_apex(zone_builder_t *b)
{
	char apex[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(apex, b->apex->owner, sizeof(apex));
	if (zone_node_rrset(b->apex, KNOT_RRTYPE_SOA) == NULL) {
		zone_builder_report(b, ZONE_DIAG_ERROR, first_file(b), 0,
		                    "no SOA record at the zone apex %s", apex);
	}
	if (zone_node_rrset(b->apex, KNOT_RRTYPE_NS) == NULL) {
		zone_builder_report(b, ZONE_DIAG_ERROR, first_file(b), 0,
		                    "no NS records at the zone apex %s", apex);
	}
}

/* True when a proper ancestor of n below the apex carries the flag (for
 * DNAME the apex counts too: nothing may live below a DNAME at the apex). */
static bool below_flag(const zone_builder_t *b, const zone_node_t *n, uint16_t flag)
{
	const knot_dname_t *name = n->owner;
	for (int depth = n->labels; depth > b->apex->labels; depth--) {
		name = knot_wire_next_label(name, NULL);
		const zone_node_t *up = zone_table_find(b->zone, name, knot_dname_size(name));
		if (up != NULL && (up->flags & flag) && (up != b->apex || flag == ZONE_NODE_DNAME)) {
			return true;
		}
	}
	return false;
}

static const zone_origin_line_t *mark_of(const zone_builder_t *b,
                                         const zone_node_t *n, uint16_t type)
{
	for (size_t i = 0; i < b->mark_count; i++) {
		if (b->marks[i].node == n && b->marks[i].type == type) {
			return &b->marks[i];
		}
	}
	return NULL;
}

static void check_dname_descendants(zone_builder_t *b)
{
	const zone_t *zone = b->zone;
	for (size_t i = 0; i <= zone->table_mask; i++) {
		const zone_node_t *n = zone_slot(zone, i);
		if (n == NULL || zone_node_empty(n) || !below_flag(b, n, ZONE_NODE_DNAME)) {
			continue;
		}
		/* Report at the DNAME: walk up to the owner that holds it. */
		const knot_dname_t *name = n->owner;
		const zone_node_t *up = NULL;
		while ((up == NULL || !(up->flags & ZONE_NODE_DNAME))) {
			name = knot_wire_next_label(name, NULL);
			up = zone_table_find(zone, name, knot_dname_size(name));
		}
		const zone_origin_line_t *m = mark_of(b, up, KNOT_RRTYPE_DNAME);
		char owner[KNOT_DNAME_TXT_MAXLEN + 1], child[KNOT_DNAME_TXT_MAXLEN + 1];
		knot_dname_to_str(owner, up->owner, sizeof(owner));
		knot_dname_to_str(child, n->owner, sizeof(child));
		zone_builder_report(b, ZONE_DIAG_ERROR, m ? m->file : first_file(b),
		                    m ? m->line : 0,
		                    "DNAME at %s has data below it (%s)", owner, child);
	}
}

static bool has_address(const zone_node_t *n)
{
	return n != NULL && (zone_node_rrset(n, KNOT_RRTYPE_A) != NULL ||
	                     zone_node_rrset(n, KNOT_RRTYPE_AAAA) != NULL);
}

/* Every NS target inside the zone needs an A or AAAA record: glue below a
 * delegation, authoritative data elsewhere. Targets outside need nothing. */
static void check_ns_targets(zone_builder_t *b, const zone_origin_line_t *m)
{
	if (below_flag(b, m->node, ZONE_NODE_NS)) {
		return; /* occluded by a delegation above it: never served */
	}
	const zone_rrset_t *ns = zone_node_rrset(m->node, KNOT_RRTYPE_NS);
	knot_rdata_t *rd = ns->rrs.rdata;
	for (uint16_t i = 0; i < ns->rrs.count; i++, rd = knot_rdataset_next(rd)) {
		knot_dname_storage_t target;
		zone_name_lower(target, knot_ns_name(rd));
		if (knot_dname_in_bailiwick(target, b->apex->owner) < 0 ||
		    has_address(zone_find(b->zone, target))) {
			continue;
		}
		char owner[KNOT_DNAME_TXT_MAXLEN + 1], tname[KNOT_DNAME_TXT_MAXLEN + 1];
		knot_dname_to_str(owner, m->node->owner, sizeof(owner));
		knot_dname_to_str(tname, target, sizeof(tname));
		bool glue = knot_dname_in_bailiwick(target, m->node->owner) > 0 &&
		            m->node != b->apex;
		zone_builder_report(b, ZONE_DIAG_ERROR, m->file, m->line,
		                    glue ? "missing glue: NS %s of %s has no A or AAAA record"
		                         : "NS %s of %s has no A or AAAA record in the zone",
		                    tname, owner);
	}
}

/* DS belongs to the parent side of a delegation (RFC 4034 5): never at
 * the apex, and only where the zone has NS for a child. */
static void check_ds(zone_builder_t *b, const zone_origin_line_t *m)
{
	char owner[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(owner, m->node->owner, sizeof(owner));
	if (m->node == b->apex) {
		zone_builder_report(b, ZONE_DIAG_ERROR, m->file, m->line,
		                    "DS record at the zone apex %s", owner);
	} else if (!(m->node->flags & ZONE_NODE_NS)) {
		zone_builder_report(b, ZONE_DIAG_ERROR, m->file, m->line,
		                    "DS record at %s, which is not a delegation", owner);
	}
}

void zone_check_zone(zone_builder_t *b, bool glue)
{
	check_apex(b);
	for (size_t i = 0; i < b->mark_count; i++) {
		if (b->marks[i].type == KNOT_RRTYPE_NS && glue) {
			check_ns_targets(b, &b->marks[i]);
		} else if (b->marks[i].type == KNOT_RRTYPE_DS) {
			check_ds(b, &b->marks[i]);
		}
	}
	for (size_t i = 0; i < b->mark_count; i++) {
		if (b->marks[i].type == KNOT_RRTYPE_DNAME) {
			check_dname_descendants(b);
			break;
		}
	}
}
