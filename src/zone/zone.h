/* SPDX-License-Identifier: Apache-2.0
 * zone.h -- the zone model: immutable in-memory zones and the set of zones a
 * server answers from. A zone is built once (from a master file today, from
 * the store later), checked, and then only read: the query engine looks names
 * up here without locks. Not for wire-format answers (engine/) or storage.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libknot/libknot.h>

/*! \brief One RRset of a node: type, TTL and its records in wire form. */
typedef struct zone_rrset {
	uint16_t type;
	uint32_t ttl;
	knot_rdataset_t rrs;
} zone_rrset_t;

enum zone_node_flag {
	ZONE_NODE_NS    = 1 << 0, /*!< has NS (a delegation unless at the apex) */
	ZONE_NODE_DNAME = 1 << 1, /*!< has DNAME */
	ZONE_NODE_CNAME = 1 << 2, /*!< has CNAME */
	ZONE_NODE_POLICY = 1 << 3,/*!< an RRset here is chosen per query by a
	                               policy (zone->policy, see policy/policy.h) */
};

/*!
 * \brief A name in a zone with its RRsets (none for an empty non-terminal).
 * Every ancestor of a node up to the apex exists as a node as well.
 */
typedef struct zone_node {
	zone_rrset_t *rrsets;   /*!< sorted by type */
	uint16_t rrset_count;
	uint16_t flags;         /*!< zone_node_flag */
	uint32_t children;      /*!< nodes one label below this one */
	uint8_t owner_size;     /*!< wire length of owner, 1..255 */
	uint8_t labels;         /*!< label count of owner */
	uint8_t owner[];        /*!< owner in lower case, wire format */
} zone_node_t;

/* The node table is one open-addressing hash whose slots are held in
 * chunks of ZONE_CHUNK_SLOTS (4 KiB), reached through a directory: a new
 * version copies the directory and then only the chunks it changes. */
#define ZONE_CHUNK_SHIFT 9
#define ZONE_CHUNK_SLOTS ((size_t)1 << ZONE_CHUNK_SHIFT)

/*! \brief An immutable zone. */
typedef struct zone {
	const zone_node_t *apex;
	const zone_rrset_t *soa;    /*!< SOA RRset at the apex */
	zone_node_t ***table;       /*!< chunk directory of the node hash */
	size_t table_mask;          /*!< slots - 1; slots >= ZONE_CHUNK_SLOTS */
	size_t node_count;
	size_t record_count;
	size_t cut_count;           /*!< non-apex nodes with NS or DNAME */
	uint32_t refs;              /*!< holders (zone sets, the control plane);
	                                 atomic: sets are freed on other threads */
	char *source;               /*!< file it was loaded from, or NULL */
	/* Versions (zone_update): once a newer version is committed, this one
	 * owns only the nodes and table chunks the newer one replaced or
	 * removed. While a version is being built, cow says which chunks it
	 * has copied (zone_table.c). */
	bool superseded;
	zone_node_t **retired;
	size_t retired_count;
	zone_node_t ***retired_chunks;
	size_t retired_chunk_count;
	struct zone_table_cow *cow;
	/* Routing policies of this version (policy/), owned by it and released
	 * with policy_free when the zone is freed; NULL when none. Not carried
	 * over by zone_update: a new version starts without policies. */
	void *policy;
	void (*policy_free)(void *policy);
	/* The compiled image (zone_image.c) whose block holds nodes of this
	 * version, with a reference; NULL for zones built in memory. */
	struct zone_image *image;
} zone_t;

/*! \brief A compiled zone image's memory, shared by the zones loaded from it. */
typedef struct zone_image zone_image_t;

/*! \brief Severity of a zone-check diagnostic. */
typedef enum {
	ZONE_DIAG_WARNING,
	ZONE_DIAG_ERROR,
} zone_diag_level_t;

/*!
 * \brief Receives one diagnostic: file and line (0 when it is about the whole
 * zone) and a reason.
 */
typedef void (*zone_diag_cb_t)(void *ctx, zone_diag_level_t level,
                               const char *file, uint64_t line,
                               const char *reason);

/*!
 * \brief Load and check a master file (RFC 1035, RFC 3597, $ORIGIN, $TTL,
 * $INCLUDE, $GENERATE).
 *
 * \param path    zone file
 * \param origin  zone apex in presentation form
 * \param diag    callback for every warning and error (may be NULL)
 * \param ctx     passed to diag
 * \param out     the loaded zone on success; owned by the caller (zone_free)
 * \retval 0 on success (warnings may have been reported)
 * \retval -CIRRUS_EPARSE    syntax errors, -CIRRUS_ESEMANTIC failed checks,
 *         -CIRRUS_EINVAL    bad origin, -CIRRUS_EIO unreadable file,
 *         -CIRRUS_ENOMEM
 */
int zone_load_file(const char *path, const char *origin, zone_diag_cb_t diag,
                   void *ctx, zone_t **out);

/*!
 * \brief Write zones to path as a compiled image (`cirrus zone compile`):
 * their in-memory layout, ready to load without parsing. Written to
 * path.tmp, synced and renamed, so readers never see half an image.
 * \retval 0, -CIRRUS_EIO, -CIRRUS_ENOMEM, -CIRRUS_EINVAL (message in err)
 */
int zone_image_write(const char *path, zone_t *const *zones, size_t count, char *err,
                     size_t errlen);

/*! \brief How zone_image_load() checks an image (flags). */
enum {
	/*! refuse the image if a zone's source file still exists and changed
	 *  (size or mtime) since compiling */
	ZONE_IMAGE_SOURCES = 1 << 0,
	/*! an image mapped at its home is used before its checksum is checked:
	 *  the caller runs zone_image_verify() soon after (function mode, where
	 *  the check is a tenth of a cold start); a moved copy is always checked */
	ZONE_IMAGE_VERIFY_LATER = 1 << 1,
};

/*!
 * \brief Load every zone of a compiled image.
 * \param flags  ZONE_IMAGE_*
 * \param zones  set to a malloc'ed array of count zones, each owned by
 *               the caller (zone_free); free the array itself
 * \retval 0; -CIRRUS_EINVAL not an image, another build's layout, damaged or
 *         stale; -CIRRUS_EIO; -CIRRUS_ENOMEM (message in err)
 */
int zone_image_load(const char *path, unsigned flags, zone_t ***zones, size_t *count,
                    char *err, size_t errlen);

/*! \brief The image a zone's nodes live in, or NULL (loaded from text). */
zone_image_t *zone_image_of(const zone_t *zone);

/*! \brief Check an image's checksum against its header.
 * \retval 0, -CIRRUS_EINVAL (damaged) */
int zone_image_verify(const zone_image_t *image);

/*! \brief References on an image's block, for zone versions sharing it. */
void zone_image_retain(zone_image_t *image);
void zone_image_release(zone_image_t *image);

/*
 * Building a zone from records that do not come from a file (the store).
 * The records go through the same per-record checks as a zone file's.
 */
typedef struct zone_builder zone_builder_t;

/*! \brief Start a zone. \retval 0, -CIRRUS_EINVAL (origin), -CIRRUS_ENOMEM */
int zone_builder_new(const char *origin, zone_diag_cb_t diag, void *ctx,
                     zone_builder_t **out);

/*! \brief Add one IN record (owner in wire form, any case). \retval 0, -CIRRUS_ENOMEM */
int zone_builder_add_record(zone_builder_t *b, const knot_dname_t *owner, uint16_t type,
                            uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);

/*!
 * \brief Run the whole-zone checks and hand over the zone; frees b.
 * Glue for in-zone name servers is checked only when glue is true: zones
 * managed through the API are not refused for it after the fact.
 * \retval 0, -CIRRUS_ESEMANTIC (diagnostics went to the callback), -CIRRUS_ENOMEM
 */
int zone_builder_build(zone_builder_t *b, bool glue, zone_t **out);

/*! \brief Drop a builder and its zone. */
void zone_builder_free(zone_builder_t *b);

/*! \brief Free a zone that no set holds any more. */
void zone_free(zone_t *zone);

/*! \brief The node in slot i (0 to table_mask) of the node table, or NULL:
 * for walks over every node. */
static inline const zone_node_t *zone_slot(const zone_t *zone, size_t i)
{
	return zone->table[i >> ZONE_CHUNK_SHIFT][i & (ZONE_CHUNK_SLOTS - 1)];
}

/*! \brief Node for a lower-case wire name, or NULL. */
const zone_node_t *zone_find(const zone_t *zone, const knot_dname_t *name);

/*! \brief zone_find() when the caller knows the name's wire size. */
const zone_node_t *zone_find_sized(const zone_t *zone, const knot_dname_t *name,
                                   size_t size);

/*! \brief RRset of a type at a node, or NULL. */
const zone_rrset_t *zone_node_rrset(const zone_node_t *node, uint16_t type);

/*! \brief Whether the node has no RRsets (an empty non-terminal). */
static inline bool zone_node_empty(const zone_node_t *node)
{
	return node->rrset_count == 0;
}

/*! \brief A set of zones; the unit the server swaps atomically on reload. */
typedef struct zone_set {
	zone_t **zones;
	size_t count;
	zone_t **table;             /*!< hash of apex names */
	size_t table_mask;
} zone_set_t;

/*!
 * \brief Build a set from zones; each gets one more reference.
 * \retval 0, -CIRRUS_EEXIST (two zones with one apex), -CIRRUS_ENOMEM
 */
int zone_set_new(zone_t *const *zones, size_t count, zone_set_t **out);

/*! \brief Take a reference on a zone (besides the sets holding it). */
void zone_ref(zone_t *zone);

/*! \brief Drop a reference; the last one frees the zone. */
void zone_unref(zone_t *zone);

/*! \brief Drop the set; zones no other set holds are freed. */
void zone_set_free(zone_set_t *set);

/*! \brief Zone with exactly this lower-case apex, or NULL. */
const zone_t *zone_set_get(const zone_set_t *set, const knot_dname_t *apex);

/*!
 * \brief Most specific zone containing a lower-case name, or NULL.
 * \param below  when true, skip a zone whose apex is the name itself (a DS
 *               query is answered by the parent side)
 */
const zone_t *zone_set_find(const zone_set_t *set, const knot_dname_t *name,
                            bool below);

/*!
 * \brief Copy a (valid, uncompressed) wire name in lower case, the form
 * every lookup here takes. Returns its size.
 */
static inline size_t zone_name_lower(knot_dname_storage_t dst, const knot_dname_t *src)
{
	size_t size = knot_dname_store(dst, src);
	knot_dname_to_lower(dst);
	return size;
}

/*! \brief Parse a presentation-form name, absolute or relative to origin
 * (a wire name), into lower-case wire form. \retval size, or 0 when invalid. */
size_t zone_name_parse(knot_dname_storage_t out, const char *text,
                       const knot_dname_t *origin);

/*
 * Presentation form (zone_text.c).
 */

/*!
 * \brief Parse one RDATA of type from presentation text (as in a zone
 * file; relative names are relative to origin). out holds 65535 bytes.
 * \retval 0, -CIRRUS_EINVAL (reason in err), -CIRRUS_ENOMEM
 */
int zone_rdata_parse(const knot_dname_t *origin, uint16_t type, const char *text,
                     uint8_t *out, uint16_t *out_len, char *err, size_t errlen);

/*! \brief The pos-th record of an RRset, RDATA only, as text. \retval length, -CIRRUS_ESPACE */
int zone_rdata_dump(const knot_dname_t *owner, const zone_rrset_t *rs, uint16_t pos,
                    char *out, size_t size);

/*! \brief Every node in canonical order (RFC 4034 6.1); *out is malloc'ed. */
int zone_nodes_sorted(const zone_t *zone, const zone_node_t ***out, size_t *count);

/*! \brief The zone as a master file, SOA first; *text is malloc'ed. */
int zone_export_text(const zone_t *zone, char **text);

/*! \brief Apex name of a zone. */
static inline const knot_dname_t *zone_apex(const zone_t *zone)
{
	return zone->apex->owner;
}

/*
 * Incremental versions. An update starts from the newest version of a zone
 * and produces the next one, which shares every unchanged node with it
 * (copy-on-write): the cost of a change is the size of the change plus a
 * copy of the node table's chunk directory (32 KiB for a million names)
 * and of each table chunk it writes, not a rebuild. The old version keeps serving
 * until the new one is published; once committed, the old one is marked
 * superseded and must only be freed (after readers are gone), never updated.
 * Versions are freed oldest first: a version may still point at what its
 * successor's successor replaced, which the successor owns.
 */
typedef struct zone_update zone_update_t;

/*!
 * \brief Start the next version of zone.
 * \retval 0, -CIRRUS_EINVAL (zone was superseded), -CIRRUS_ENOMEM
 */
int zone_update_new(zone_t *zone, zone_update_t **out);

/*! \brief The node for a lower-case name in the version being built, or NULL. */
const zone_node_t *zone_update_find(const zone_update_t *u, const knot_dname_t *name);

/*!
 * \brief Replace the RRset owner/type with rrs (NULL or empty deletes it;
 * type ANY deletes every RRset at owner). The owner must be in the zone
 * and the type a data type; SOA only at the apex.
 * \retval 0, -CIRRUS_EINVAL (reason in zone_update_error), -CIRRUS_ENOMEM
 */
int zone_update_put_rrset(zone_update_t *u, const knot_dname_t *owner, uint16_t type,
                          uint32_t ttl, const knot_rdataset_t *rrs);

/*! \brief Add one record (RFC 2136 add); the RRset keeps its TTL if it exists. */
int zone_update_add_rr(zone_update_t *u, const knot_dname_t *owner, uint16_t type,
                       uint32_t ttl, const knot_rdata_t *rd);

/*! \brief Remove one record (RFC 2136 delete of an RR); absent is not an error. */
int zone_update_remove_rr(zone_update_t *u, const knot_dname_t *owner, uint16_t type,
                          const knot_rdata_t *rd);

/*!
 * \brief Set ZONE_NODE_POLICY on owner's node in the version being built
 * (the node must exist: put the policy's RRset first).
 * \retval 0, -CIRRUS_ENOENT, -CIRRUS_ENOMEM
 */
int zone_update_mark_policy(zone_update_t *u, const knot_dname_t *owner);

/*! \brief Serial of the SOA in the version being built. */
uint32_t zone_update_serial(const zone_update_t *u);

/*! \brief Run the commit checks without committing. \retval 0, -CIRRUS_ESEMANTIC */
int zone_update_check(zone_update_t *u);

/*! \brief Set the SOA serial of the version being built. */
int zone_update_set_serial(zone_update_t *u, uint32_t serial);

/*! \brief The reason of the last -CIRRUS_EINVAL or -CIRRUS_ESEMANTIC. */
const char *zone_update_error(const zone_update_t *u);

/*!
 * \brief Check every changed name (CNAME exclusivity, single SOA, CNAME and
 * DNAME, nothing below a DNAME, SOA and NS at the apex) and produce the new
 * version. On success the base is superseded and the update is freed.
 * \retval 0, -CIRRUS_ESEMANTIC (reason in zone_update_error; the update is
 *         still open and must be aborted), -CIRRUS_ENOMEM
 */
int zone_update_commit(zone_update_t *u, zone_t **out);

/*! \brief Drop an update; the base zone is untouched. */
void zone_update_abort(zone_update_t *u);
