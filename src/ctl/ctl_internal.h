/* SPDX-License-Identifier: Apache-2.0
 * ctl_internal.h -- shared by the ctl/ files: the control plane's state
 * (the current version of every zone) and helpers for names and publishing.
 */
#pragma once

#include <pthread.h>

#include <jansson.h>

#include "ctl/ctl.h"

struct ctl {
	store_t *st;
	pthread_mutex_t lock;         /*!< held by every ctl_* call */
	ctl_serial_policy_t policy;
	ctl_publish_cb_t publish;
	void *publish_ctx;
	zone_t **store_zones;         /*!< current versions; ctl holds a reference */
	size_t store_count;
	size_t store_alloc;
	zone_t **file_zones;          /*!< from zone files; ctl holds a reference */
	size_t file_count;
};

/*! \brief Set err and return code (status from the code when 0). */
int ctl_fail(ctl_error_t *err, int code, int status, const char *field,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*! \brief A zone name from the user as lower-case wire and canonical text
 * ("example.com."). \retval 0, -CIRRUS_EINVAL */
int ctl_zone_name(const char *input, knot_dname_storage_t wire, char *text, size_t textlen);

/*! \brief Index of a store zone by apex, or -1. */
int ctl_store_index(const ctl_t *ctl, const knot_dname_t *apex);

/*! \brief A served zone (store first, then file) by apex, or NULL. */
const zone_t *ctl_find_zone(const ctl_t *ctl, const knot_dname_t *apex, bool *from_store);

/*! \brief Keep a new store zone (takes a reference). */
int ctl_store_append(ctl_t *ctl, zone_t *zone);

/*! \brief Hand the data plane a new zone set with the current zones. */
int ctl_publish(ctl_t *ctl);

/*
 * A change to one store zone (ctl_txn.c). Hold ctl->lock from begin to
 * commit or abort. Touch every RRset before changing it in the update, so
 * the audit row, the journal and the store see it.
 */
typedef struct ctl_txn ctl_txn_t;

/*! \retval 0; -CIRRUS_ENOENT (404), -CIRRUS_EEXIST (409, a file zone), -CIRRUS_ENOMEM */
int ctl_txn_begin(ctl_t *ctl, const char *zone, ctl_txn_t **out, ctl_error_t *err);
const knot_dname_t *ctl_txn_apex(const ctl_txn_t *t);
zone_update_t *ctl_txn_update(ctl_txn_t *t);
/*! \brief Remember owner/type as changed, with its state before.
 * \retval 0, -CIRRUS_EEXIST (a routing policy holds owner/type: change it
 *         through the policy, not the RRset), -CIRRUS_ENOMEM */
int ctl_txn_touch(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type);
/*!
 * \brief Make the change put policy p at its owner and type (replacing one
 * there; p's reference is taken over, also on failure) or, with p NULL,
 * remove the policy at owner/type (lower case). row is the store's side
 * (spec NULL for a removal; the strings must outlive the commit); before
 * and after (stolen) go to the audit row.
 * \retval 0; -CIRRUS_EINVAL, -CIRRUS_ESEMANTIC (409: the policy clashes with
 *         the zone), -CIRRUS_ENOMEM
 */
int ctl_txn_policy(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type, policy_t *p,
                   const store_policy_t *row, json_t *before, json_t *after,
                   ctl_error_t *err);
bool ctl_txn_touched(const ctl_txn_t *t, const knot_dname_t *owner, uint16_t type);
/*!
 * \brief Change owner/type record by record: remove the records of removed
 * that it holds, add those of added it lacks (with ttl, the RRset's). The
 * audit row and the journal get those records only, and the store changes
 * only their rows, so the cost is that of the change, not of the RRset. An
 * RRset with another TTL is rewritten whole instead. Not with a touch of
 * the same RRset.
 * \retval 0; -CIRRUS_EEXIST (a routing policy holds owner/type),
 *         -CIRRUS_EINVAL (reason in zone_update_error), -CIRRUS_ENOMEM
 */
int ctl_txn_records(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type, uint32_t ttl,
                    const knot_rdataset_t *removed, const knot_rdataset_t *added);
/*! \brief Run hook(ctx, store) in the commit's store transaction. */
void ctl_txn_hook(ctl_txn_t *t, ctl_store_hook_t hook, void *ctx);
/*! \brief Bump the serial, check, store (data, audit, journal), publish;
 * frees t either way. The store's commit does not wait for the disk: the
 * change is served from here on, and the caller runs ctl_sync() once it
 * has released the lock, before it acknowledges the change.
 * \retval 0; -CIRRUS_ESEMANTIC (422), -CIRRUS_EIO (500) */
int ctl_txn_commit(ctl_txn_t *t, const char *action, const ctl_actor_t *who,
                   ctl_error_t *err);
void ctl_txn_abort(ctl_txn_t *t);

/*! \brief Compile the stored policies of a store zone freshly built and
 * attach them (ctl_policy.c); on failure *zone is freed and NULL.
 * \retval 0, -CIRRUS_EINVAL, -CIRRUS_EIO, -CIRRUS_ENOMEM (err says which policy) */
int ctl_policies_load(store_t *st, const char *name, zone_t **zone, char *err,
                      size_t errlen);

/*!
 * \brief Compile a policy as the store keeps it (ctl_policy.c): its JSON
 * read, its latency tables resolved (ctl_latency_resolve), compiled for the
 * zone at apex.
 * \param table, data  a table being replaced and its new text, or NULL; with
 *                     a table, a policy that does not name it is skipped
 *                     (0, *out NULL)
 * \param why          on failure "policy OWNER TYPE[ at FIELD]: reason"
 * \retval 0, -CIRRUS_EINVAL, -CIRRUS_EIO, -CIRRUS_ENOMEM
 */
int ctl_policy_compile_stored(store_t *st, const store_policy_t *row,
                              const knot_dname_t *apex, const char *table,
                              const char *data, policy_t **out, char *why, size_t whylen);

/*! \brief Fill in latency_data for each latency-table the spec names, from
 * the store, or data for the table name (a table being replaced). A table
 * that does not exist is left NULL (compiling says so).
 * \retval 0, -CIRRUS_EIO, -CIRRUS_ENOMEM */
int ctl_latency_resolve(store_t *st, policy_spec_t *spec, const char *name, const char *data);

/*! \brief Next SOA serial under the policy (RFC 1982: never backwards). */
uint32_t ctl_next_serial(ctl_serial_policy_t policy, uint32_t old);
