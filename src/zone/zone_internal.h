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

/*! \brief Whole-zone checks (SOA and NS at apex, DNAME, glue). */
void zone_check_zone(zone_builder_t *b);

/*!
 * \brief Hand over the finished zone (NULL if errors were reported).
 * \retval 0, -CIRRUS_ESEMANTIC when any error was reported
 */
int zone_builder_finish(zone_builder_t *b, zone_t **out);

/*! \brief Mutable node lookup for the builder. */
zone_node_t *zone_table_find(const zone_t *zone, const knot_dname_t *name,
                             size_t size);

/*! \brief Hash of a lower-case wire name. */
uint64_t zone_name_hash(const uint8_t *name, size_t size);
