/* SPDX-License-Identifier: Apache-2.0
 * zone_internal.h -- shared between the zone/ files only: the builder that
 * turns records into a zone_t, and the per-load context of the checks.
 */
#pragma once

#include "zone/zone.h"

/*! \brief Where an RRset came from, kept during a load for diagnostics. */
typedef struct zone_origin_line {
	const zone_node_t *node;
	uint16_t type;
	const char *file;
	uint64_t line;
} zone_origin_line_t;

/*! \brief Zone under construction plus everything checks need to report. */
typedef struct zone_builder {
	zone_t *zone;
	zone_node_t *apex;
	zone_diag_cb_t diag;
	void *diag_ctx;
	size_t errors;
	size_t warnings;
	size_t syntax_errors;   /*!< the subset of errors that are syntax */
	/* NS, DNAME and DS RRsets with their first line, for the post-load checks. */
	zone_origin_line_t *marks;
	size_t mark_count;
	size_t mark_alloc;
	/* File names seen ($INCLUDE), owned here, freed with the builder. */
	char **files;
	size_t file_count;
} zone_builder_t;

/*! \brief Start a zone at a lower-case wire apex. */
int zone_builder_init(zone_builder_t *b, const knot_dname_t *apex,
                      zone_diag_cb_t diag, void *ctx);

/*! \brief Free the builder and, if not taken by finish, the zone. */
void zone_builder_deinit(zone_builder_t *b);

/*! \brief Report one diagnostic and count it. */
void zone_builder_report(zone_builder_t *b, zone_diag_level_t level,
                         const char *file, uint64_t line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*! \brief A stable copy of a file name for diagnostics (lives with b). */
const char *zone_builder_file(zone_builder_t *b, const char *file);

/*!
 * \brief Add one record, checking what can be checked per record
 * (in zone, class, meta types, CNAME exclusivity, single SOA and DNAME).
 * A rejected record is reported and skipped; the return is still 0.
 * \retval 0 or -CIRRUS_ENOMEM
 */
int zone_builder_add(zone_builder_t *b, const knot_dname_t *owner,
                     uint16_t rclass, uint16_t type, uint32_t ttl,
                     const uint8_t *rdata, uint16_t rdlen,
                     const char *file, uint64_t line);

/*! \brief Whole-zone checks (SOA and NS at apex, DS, DNAME, and glue
 * when asked). */
void zone_check_zone(zone_builder_t *b, bool glue);

/*!
 * \brief Hand over the finished zone (NULL if errors were reported).
 * \retval 0, -CIRRUS_ESEMANTIC when any error was reported
 */
int zone_builder_finish(zone_builder_t *b, zone_t **out);

/* Marks a node that lives inside a compiled image's block (zone_image.c):
 * freed with the block, never by itself. Copies do not inherit it. */
#define ZONE_NODE_IMAGE (1u << 14)

/*! \brief Does p point into the image (NULL image: no)? */
bool zone_image_holds(const zone_image_t *image, const void *p);

/* Node table and node primitives (zone_table.c). */

/*! \brief Hash of a lower-case wire name. */
uint64_t zone_name_hash(const uint8_t *name, size_t size);

/*! \brief Mutable node lookup. */
zone_node_t *zone_table_find(const zone_t *zone, const knot_dname_t *name,
                             size_t size);

/*! \brief An empty node table of slots (a power of two, at least
 * ZONE_CHUNK_SLOTS). \retval 0, -CIRRUS_ENOMEM */
int zone_table_init(zone_t *zone, size_t slots);

/*
 * The table changers below write through zone_chunks_slot, so they fail
 * with -CIRRUS_ENOMEM only in a version being built, which is then left
 * inconsistent and must be aborted.
 */

/*! \brief Insert a node known to be absent (the table has room). \retval 0, -CIRRUS_ENOMEM */
int zone_table_insert(zone_t *zone, zone_node_t *node);

/*! \brief Put fresh in the slot of old. \retval 0, -CIRRUS_ENOMEM */
int zone_table_replace(zone_t *zone, const zone_node_t *old, zone_node_t *fresh);

/*! \brief Remove a node from the table (not freed). \retval 0, -CIRRUS_ENOMEM */
int zone_table_remove(zone_t *zone, const zone_node_t *node);

/*! \brief Double the table when it is half full. \retval 0, -CIRRUS_ENOMEM */
int zone_table_grow(zone_t *zone);

/* The table's chunked slot storage and its copy-on-write (zone_chunks.c). */

/*! \brief A directory of slots / ZONE_CHUNK_SLOTS zeroed chunks. \retval 0, -CIRRUS_ENOMEM */
int zone_chunks_alloc(size_t slots, zone_node_t ****out);

/*! \brief Slot i, ready to be written: in a version being built, a chunk
 * still shared with the base is copied first. NULL on ENOMEM. */
zone_node_t **zone_chunks_slot(zone_t *zone, size_t i);

/*! \brief Put a filled directory (zone_chunks_alloc) in place of the
 * zone's: the old chunks the zone owns are freed, its base's are retired.
 * \retval 0, -CIRRUS_ENOMEM (dir is freed, the zone unchanged) */
int zone_chunks_replace(zone_t *zone, zone_node_t ***dir, size_t table_mask);

/*! \brief Start next's table as base's: a copy of the directory only.
 * \retval 0, -CIRRUS_ENOMEM */
int zone_chunks_cow_begin(zone_t *next, const zone_t *base);

/*! \brief next is committed: base keeps the chunks next replaced. */
void zone_chunks_cow_commit(zone_t *next, zone_t *base);

/*! \brief Drop next's table: its own chunks and its directory. */
void zone_chunks_cow_abort(zone_t *next);

/*! \brief Free the chunks the zone owns (all of them, or when superseded
 * the retired ones; never those in an image) and the directory. */
void zone_chunks_free(zone_t *zone);

/*! \brief Copy-on-write hooks for zone_table_ensure (the updater's). */
typedef struct zone_table_hooks {
	/*! Makes an existing node safe to modify; NULL on ENOMEM. */
	zone_node_t *(*writable)(void *ctx, zone_node_t *node);
	/*! Told of each node created; non-zero on ENOMEM. */
	int (*created)(void *ctx, zone_node_t *node);
} zone_table_hooks_t;

/*!
 * \brief Find or create the node for owner and any missing ancestors
 * (empty non-terminals), counting each new node in its parent's children.
 * hooks may be NULL (a zone being built owns every node).
 * \retval 0, -CIRRUS_ENOMEM
 */
int zone_table_ensure(zone_t *zone, const knot_dname_t *owner,
                      const zone_table_hooks_t *hooks, void *ctx, zone_node_t **out);

zone_node_t *zone_node_new(const knot_dname_t *owner, size_t size);
/*! \brief Deep copy of a node (its RRsets and records). */
zone_node_t *zone_node_copy(const zone_node_t *src);
void zone_node_free(zone_node_t *n);
/*! \brief The node's RRset of type, created empty with ttl when missing. */
zone_rrset_t *zone_node_rrset_add(zone_node_t *n, uint16_t type, uint32_t ttl);
/*! \brief Drop the node's RRset of type, if any. */
void zone_node_rrset_remove(zone_node_t *n, uint16_t type);

/*! \brief Whether a type may share a name with a CNAME (RFC 2181 10.1, RFC 4035 2.5). */
bool zone_type_cname_compatible(uint16_t type);

/*! \brief Whether the node has a type that may not share a name with a CNAME. */
bool zone_node_has_non_cname(const zone_node_t *n);
