/* SPDX-License-Identifier: Apache-2.0
 * engine.h -- the pure query handler: query wire in, answer wire out.
 * It does no I/O and keeps no state between calls; every transport (UDP,
 * TCP, DoH, function mode) calls engine_handle() with the zone set it read
 * under RCU and a per-worker scratch arena. Not for sockets or zone loading.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "registry/registry_view.h"
#include "util/arena.h"
#include "zone/zone.h"

/*! \brief Transport the query came over; decides size limits and options. */
typedef enum {
	ENGINE_TRANSPORT_UDP,
	ENGINE_TRANSPORT_TCP,
} engine_transport_t;

/*! \brief Server-wide answer settings (from the configuration). */
typedef struct engine_conf {
	uint16_t udp_payload;      /*!< largest UDP answer we send with EDNS (default 1232) */
	const uint8_t *nsid;       /*!< RFC 5001 NSID payload, NULL = off */
	uint16_t nsid_len;
	const char *identity;      /*!< CH TXT id.server/hostname.bind, NULL = REFUSED */
	const char *version;       /*!< CH TXT version.bind/version.server, NULL = REFUSED */
	uint16_t tcp_keepalive;    /*!< RFC 7828 idle timeout in units of 100 ms */
	/* Routing policies (policy/policy.h). */
	const policy_addr_t *ecs_trust; /*!< resolvers whose ECS option (RFC 7871)
	                                     decides policies; others are answered
	                                     by their own address, scope 0 */
	size_t ecs_trust_count;
	const policy_health_t *const *health; /*!< slot of the current health
	                                     snapshot: loaded with acquire inside the
	                                     caller's RCU read section, so a publisher
	                                     can swap it; NULL = everything up */
	const registry_view_t *const *services; /*!< slot of the service registry's
	                                     view (names whose A/AAAA answers are
	                                     shuffled and capped), loaded like
	                                     health; NULL = none */
	const policy_alias_view_t *const *aliases; /*!< slot of the alias
	                                     resolver's view (targets outside the
	                                     served zones), loaded like health;
	                                     NULL = none: such aliases SERVFAIL */
} engine_conf_t;

/*! \brief Fill conf with defaults (payload 1232, no NSID, CH answers off). */
void engine_conf_init(engine_conf_t *conf);

/*! \brief Facts about one query that are not in its wire form. */
typedef struct engine_query {
	engine_transport_t transport;
	const struct sockaddr *remote;  /*!< client address (may be NULL) */
	policy_rng_t *rng;              /*!< random state for policies; NULL =
	                                     the calling thread's own */
} engine_query_t;

/*! \brief What to do with the answer buffer. */
typedef enum {
	ENGINE_SEND = 0,   /*!< send answer_len bytes */
	ENGINE_DROP = 1,   /*!< send nothing (a response, or not a DNS header) */
} engine_action_t;

/*!
 * \brief Answer one DNS message.
 *
 * \param zones       zone set to answer from (may be NULL: everything REFUSED)
 * \param conf        answer settings
 * \param q           transport facts
 * \param query       query wire
 * \param query_len   its length
 * \param answer      output buffer, at least 512 bytes (65535 for TCP)
 * \param answer_max  its size
 * \param answer_len  set to the answer's length on ENGINE_SEND
 * \param scratch     per-worker arena; reset by the caller after the answer
 *                    has been sent (the answer does not point into it)
 * \return ENGINE_SEND or ENGINE_DROP
 */
engine_action_t engine_handle(const zone_set_t *zones, const engine_conf_t *conf,
                              const engine_query_t *q,
                              const uint8_t *query, size_t query_len,
                              uint8_t *answer, size_t answer_max,
                              size_t *answer_len, arena_t *scratch);
