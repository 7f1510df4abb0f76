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
} engine_ctx_t;

/*!
 * \brief Read the query's OPT (RFC 6891): payload, DO, options asked for.
 * \retval KNOT_RCODE_NOERROR, FORMERR (malformed options) or BADVERS
 */
uint16_t engine_edns_parse(engine_ctx_t *ctx);

/*! \brief Prepare the response OPT and reserve its space; 0 or -1. */
int engine_edns_reserve(engine_ctx_t *ctx);

/*! \brief Write the reserved OPT with the final extended rcode. */
void engine_edns_write(engine_ctx_t *ctx);

/*! \brief Drop everything but the question and set TC. */
void engine_truncate(engine_ctx_t *ctx);

/*! \brief Answer an IN-class query from the zone set (sets rcode, AA, TC). */
void engine_answer(engine_ctx_t *ctx);
