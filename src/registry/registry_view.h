/* SPDX-License-Identifier: Apache-2.0
 * registry_view.h -- what the query engine needs from the service registry
 * (docs/services.md): the names whose A/AAAA RRsets are service answers
 * (SVC.Z and TAG.SVC.Z), answered shuffled and cut to at most N records per
 * answer. An immutable snapshot that the registry publishes like the health
 * snapshot (a pointer swap, the old one freed after an RCU grace period);
 * pure, no locks. Not for the registry's bookkeeping (registry.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libknot/libknot.h>

#include "policy/policy.h"

/*! \brief Default and largest number of addresses in one service answer. */
#define REGISTRY_ANSWER_MAX_DEFAULT 8
#define REGISTRY_ANSWER_MAX_LIMIT 64

typedef struct registry_view registry_view_t;

/*!
 * \brief Build a view.
 * \param names       owner names in presentation form, absolute ("web.example.com.")
 * \param count       how many (0 is fine: nothing is shuffled)
 * \param answer_max  most records per answer, 1 to REGISTRY_ANSWER_MAX_LIMIT
 * \param out         the view, owned by the caller (registry_view_free)
 * \retval 0, -CIRRUS_EINVAL (a name that does not parse, answer_max out of range),
 *         -CIRRUS_ENOMEM
 */
int registry_view_new(const char *const *names, size_t count, unsigned answer_max,
                      registry_view_t **out);

/*! \brief Free a view no reader can see any more (NULL is fine). */
void registry_view_free(registry_view_t *view);

/*! \brief Whether owner (lower-case wire form, size bytes) is a service name. */
bool registry_view_has(const registry_view_t *view, const knot_dname_t *owner, size_t size);

/*! \brief The most records one answer holds. */
unsigned registry_view_answer_max(const registry_view_t *view);

/*!
 * \brief Choose min(count, max) records of rrs, uniformly, in random order
 * (Floyd's sampling, then Fisher-Yates): the answer for one query. The
 * records of rrs must all have the same size (A or AAAA). Pure but for rng;
 * allocates nothing.
 * \param buf   room for the chosen records: at least max * the size of one
 * \param out   the chosen records, pointing into buf
 * \retval 0, -CIRRUS_EINVAL (records of different sizes, buf too small:
 *         nothing chosen, answer rrs as it is)
 */
int registry_view_pick(const knot_rdataset_t *rrs, unsigned max, policy_rng_t *rng,
                       uint8_t *buf, size_t bufsize, knot_rdataset_t *out);
