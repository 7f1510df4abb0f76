/* SPDX-License-Identifier: Apache-2.0
 * alias.h -- the resolver of ALIAS targets outside the served zones: a
 * thread with a libuv loop that asks one upstream resolver for the A and
 * AAAA records of every target (UDP, TCP when the answer is truncated, a
 * timeout and retries), keeps them until their TTL runs out and then asks
 * again, and after every result publishes an immutable view
 * (policy_alias_view_t) that the engine reads. Query workers never wait on
 * it. Not for answering (engine/) nor for targets in served zones.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <libknot/libknot.h>

#include "policy/policy.h"

/*! \brief Receives each new view (ownership passes); called on the thread. */
typedef void (*alias_publish_cb_t)(void *ctx, policy_alias_view_t *fresh);

typedef struct alias_conf {
	struct sockaddr_storage upstream;  /*!< resolver address and port */
	unsigned timeout_ms;               /*!< per try */
	unsigned retries;                  /*!< tries after the first */
	unsigned min_ttl, max_ttl;         /*!< seconds: the upstream TTL is clamped */
	unsigned serve_stale;              /*!< seconds data outlives a failing refresh */
	alias_publish_cb_t publish;
	void *publish_ctx;
} alias_conf_t;

typedef struct alias alias_t;

/*!
 * \brief Start the thread (with no targets).
 * \retval 0, -CIRRUS_ENOMEM, -CIRRUS_EIO (the loop or thread cannot start)
 */
int alias_new(const alias_conf_t *conf, alias_t **out);

/*!
 * \brief Resolve exactly these targets from now on (lower-case wire names,
 * copied): new ones at once, known ones keep their data, others are
 * dropped. Thread-safe; returns before the thread has acted.
 * \retval 0, -CIRRUS_ENOMEM
 */
int alias_set_targets(alias_t *a, knot_dname_t *const *targets, size_t count);

/*! \brief Stop the thread and free everything (NULL is fine). The last view
 * published stays the caller's. */
void alias_free(alias_t *a);

/*
 * The messages (alias_message.c): pure, for the thread and the tests.
 */

/*!
 * \brief A query for target/type with id and RD set, no EDNS.
 * \retval 0, -CIRRUS_ESPACE
 */
int alias_query_build(const knot_dname_t *target, uint16_t type, uint16_t id,
                      uint8_t *buf, size_t size, size_t *len);

/*! \brief What an upstream answer says. */
typedef struct alias_reply {
	policy_alias_status_t status;  /*!< DATA or NODATA */
	knot_rdataset_t rrs;           /*!< DATA: the records (malloc'ed: knot_rdataset_clear) */
	uint32_t ttl;                  /*!< lowest TTL on the way (CNAMEs, records), or for
	                                    NODATA the SOA's negative TTL (0 without SOA) */
} alias_reply_t;

/*!
 * \brief Read the answer to query: the records of the query's type at its
 * name, following CNAMEs in the answer section (RFC 1034 3.6.2).
 * \param why  on failure a reason for the log
 * \retval 0, -CIRRUS_EINVAL (not an answer to query, or malformed),
 *         -CIRRUS_EIO (an rcode other than NOERROR and NXDOMAIN),
 *         -CIRRUS_ENOMEM
 */
int alias_reply_parse(const uint8_t *query, size_t query_len, const uint8_t *wire,
                      size_t len, alias_reply_t *out, char *why, size_t why_size);
