/* SPDX-License-Identifier: Apache-2.0
 * engine_internal.h -- the per-query context shared by the engine's stages:
 * engine.c (parse, checks, finish), engine_edns.c (OPT in and out) and
 * engine_lookup.c (RFC 1034 4.3.2 answering). Lives in the scratch arena.
 */
#pragma once

#include <stdbool.h>
#include <libknot/libknot.h>

#include "engine/engine.h"

typedef struct engine_ctx {
	const zone_set_t *zones;
	const engine_conf_t *conf;
	const engine_query_t *q;
	knot_mm_t mm;
	knot_pkt_t *query;
	knot_pkt_t *resp;

	const knot_dname_t *qname;        /*!< as sent (case preserved) */
	knot_dname_storage_t qname_lower; /*!< lower case, for lookups */
	uint16_t qtype;

	/* EDNS(0) of the query. */
	bool edns;
	bool edns_do;
	bool want_nsid;
	bool want_keepalive;
	uint16_t client_payload;
	knot_rrset_t opt;                 /*!< OPT of the response */

	/* EDNS Client Subnet (RFC 7871) and the client policies see. */
	bool ecs;                         /*!< the query had a valid ECS option */
	bool ecs_trusted;                 /*!< ...from a trusted resolver: client is it */
	policy_addr_t ecs_addr;           /*!< as sent: family, source prefix, address */
	uint8_t ecs_scope;                /*!< SCOPE PREFIX-LENGTH to echo */
	bool client_set;                  /*!< client computed (lazily: policies only) */
	policy_addr_t client;

	uint16_t rcode;                   /*!< extended rcode (12 bits) */
	bool truncated;                   /*!< engine_truncate() ran: stop adding */

	/* RFC 8914 Extended DNS Error: why an answer is stale or a SERVFAIL. */
	bool ede_set;
	uint16_t ede_code;                /*!< KNOT_EDNS_EDE_* */
	const char *ede_text;             /*!< EXTRA-TEXT, a static string */
} engine_ctx_t;

/*!
 * \brief Read the query's OPT (RFC 6891): payload, DO, options asked for.
 * \retval KNOT_RCODE_NOERROR, FORMERR (malformed options) or BADVERS
 */
uint16_t engine_edns_parse(engine_ctx_t *ctx);

/*! \brief Prepare the response OPT and reserve its space; 0 or -1. */
int engine_edns_reserve(engine_ctx_t *ctx);

/*! \brief Say why (RFC 8914) in the answer's OPT: the first reason set
 *  stands; sent when the query had EDNS and the option fits. */
void engine_set_ede(engine_ctx_t *ctx, uint16_t code, const char *text);

/*! \brief Write the reserved OPT with the final extended rcode. */
void engine_edns_write(engine_ctx_t *ctx);

/*! \brief Drop everything but the question and set TC. */
void engine_truncate(engine_ctx_t *ctx);

/*! \brief Answer an IN-class query from the zone set (sets rcode, AA, TC). */
void engine_answer(engine_ctx_t *ctx);

/*! \brief Where a name stands in a zone (engine_zone_lookup). */
typedef enum {
	LOOKUP_FOUND,     /* the name exists (possibly empty non-terminal) */
	LOOKUP_WILDCARD,  /* synthesized from the closest encloser's wildcard */
	LOOKUP_NXDOMAIN,  /* no such name */
	LOOKUP_DELEG,     /* at or below a zone cut: node is the cut */
	LOOKUP_DNAME,     /* below a DNAME: node holds it */
} lookup_kind_t;

typedef struct lookup {
	lookup_kind_t kind;
	const zone_node_t *node;
} lookup_t;

/*! \brief Where the lower-case name stands in zone, for a query of qtype
 * (DS is answered above a cut). */
void engine_zone_lookup(const zone_t *zone, const knot_dname_t *name, uint16_t qtype,
                        lookup_t *out);

/*! \brief The records a policy chooses for rs at a flagged node, copied into
 * the arena; false when it chose nothing (fail closed). */
bool engine_policy_rrs(engine_ctx_t *ctx, const zone_t *zone, const zone_node_t *node,
                       const zone_rrset_t *rs, knot_rdataset_t *out);

/*! \brief The records to answer for rs at node. The static path costs one
 * flag test; false means the policy there chose nothing. */
static inline bool engine_node_rrs(engine_ctx_t *ctx, const zone_t *zone,
                                   const zone_node_t *node, const zone_rrset_t *rs,
                                   knot_rdataset_t *out)
{
	if (__builtin_expect((node->flags & ZONE_NODE_POLICY) == 0, 1)) {
		*out = rs->rrs;
		return true;
	}
	return engine_policy_rrs(ctx, zone, node, rs, out);
}

/*! \brief What an alias answers (engine_alias.c). */
typedef enum {
	ENGINE_ALIAS_NONE,      /*!< no alias at the node, or not an A/AAAA query */
	ENGINE_ALIAS_DATA,      /*!< records with their TTL */
	ENGINE_ALIAS_NODATA,    /*!< the target has none of the type */
	ENGINE_ALIAS_SERVFAIL,  /*!< an outside target not resolved (yet, or any more) */
} engine_alias_t;

/*!
 * \brief A or AAAA (type) for a flagged node holding an alias: from
 * the served zones (CNAMEs and aliases followed, policies applied) or from
 * the resolver's view. Allocates only what policies copy into the arena.
 * \param rrs  DATA: the records (in a zone, the arena or the view)
 * \param ttl  DATA: the alias's TTL lowered to every TTL on the way
 */
engine_alias_t engine_alias_rrs(engine_ctx_t *ctx, const zone_t *zone,
                                const zone_node_t *node, uint16_t type,
                                knot_rdataset_t *rrs, uint32_t *ttl);
