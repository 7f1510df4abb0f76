/* SPDX-License-Identifier: Apache-2.0
 * ctl.h -- the control plane's one door. Every change (REST API, RFC 2136
 * UPDATE, later the service registry) comes through here and goes, in this
 * order: validate, commit to the store together with its audit row and
 * journal entry, build the next zone version (copy-on-write), publish a new
 * zone set to the data plane. Callers authenticate and authorize first.
 * Thread-safe: one mutex serializes all changes (serializable per zone).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "store/store.h"
#include "zone/zone.h"

typedef struct ctl ctl_t;

/*! \brief Receives each new zone set; takes ownership of it (the data plane
 * swaps it in with RCU and frees the old one after a grace period). */
typedef void (*ctl_publish_cb_t)(void *ctx, zone_set_t *set);

/*! \brief How the SOA serial moves on each committed change. */
typedef enum {
	CTL_SERIAL_INCREMENT,  /*!< serial + 1 (RFC 1982 arithmetic) */
	CTL_SERIAL_DATE,       /*!< YYYYMMDDnn, or + 1 when that is not larger */
} ctl_serial_policy_t;

/*!
 * \brief Start the control plane over a store: loads every store zone.
 * \param st         the store (not owned)
 * \param policy     serial policy
 * \param publish    called with every new zone set (also once from ctl_new)
 * \retval 0, -CIRRUS_EIO/-CIRRUS_ENOMEM, -CIRRUS_ESEMANTIC (a stored zone
 *         does not load; err says which)
 */
int ctl_new(store_t *st, ctl_serial_policy_t policy, ctl_publish_cb_t publish,
            void *publish_ctx, ctl_t **out, char *err, size_t errlen);

/*! \brief Free the control plane and the zones it holds (not the store). */
void ctl_free(ctl_t *ctl);

/*!
 * \brief Build one zone from the store's records, as ctl_new() does, for a
 * reader of the store that runs no control plane (function mode).
 * \param name  zone as the store names it ("example.com.")
 * \param out   the zone on success; owned by the caller (zone_free)
 * \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO, -CIRRUS_ESEMANTIC, -CIRRUS_ENOMEM
 *         (err says why)
 */
int ctl_store_zone_load(store_t *st, const char *name, zone_t **out, char *err,
                        size_t errlen);

/*!
 * \brief Replace the zones that come from files (on start and on SIGHUP);
 * takes one reference of each zone. A file zone and a store zone with the
 * same apex: the store zone wins and the file zone is reported in err.
 * Publishes a new zone set.
 */
int ctl_set_file_zones(ctl_t *ctl, zone_t *const *zones, size_t count,
                       char *err, size_t errlen);

/*! \brief Why a request failed: an HTTP-like status, a message and the
 * request field it concerns ("" when none). */
typedef struct ctl_error {
	int status;
	char message[512];
	char field[128];
} ctl_error_t;

/*! \brief Who asks, for the audit log. */
typedef struct ctl_actor {
	const char *actor;       /*!< token name, TSIG key, "lease", ... */
	const char *request_id;  /*!< may be NULL */
} ctl_actor_t;

/*! \brief SOA and NS of a new zone: nameservers are required (the API
 *  fills in ns1.<zone>); the other NULL/0 fields take defaults. */
typedef struct ctl_zone_defaults {
	const char *const *nameservers;   /*!< absolute names; at least one */
	size_t nameserver_count;
	const char *hostmaster;           /*!< default hostmaster.<zone> */
	uint32_t ttl;                     /*!< default 3600 */
} ctl_zone_defaults_t;

/*! \retval 0; -CIRRUS_EEXIST (409), -CIRRUS_EINVAL (400), -CIRRUS_EIO (500) */
int ctl_zone_create(ctl_t *ctl, const char *zone, const ctl_zone_defaults_t *defaults,
                    const ctl_actor_t *who, ctl_error_t *err);

/*!
 * \brief Put a zone loaded from a master file into the store (one
 * transaction with its audit row) and serve it from there. On success the
 * zone belongs to ctl; on failure the caller still owns it.
 * \retval 0; -CIRRUS_EEXIST (409), -CIRRUS_EIO (500)
 */
int ctl_zone_import(ctl_t *ctl, zone_t *zone, const ctl_actor_t *who, ctl_error_t *err);

/*! \retval 0; -CIRRUS_ENOENT (404; also for file zones, which the API cannot delete) */
int ctl_zone_delete(ctl_t *ctl, const char *zone, const ctl_actor_t *who, ctl_error_t *err);

/*! \brief One RRset change, in the style of the PowerDNS API. */
typedef enum {
	CTL_CHANGE_REPLACE,   /*!< the RRset becomes exactly these records */
	CTL_CHANGE_DELETE,    /*!< the RRset goes away */
	CTL_CHANGE_RECORDS,   /*!< remove the records of removed, add those of
	                           records; the RRset's others stay (audited,
	                           journaled and stored record by record) */
} ctl_change_op_t;

typedef struct ctl_change {
	ctl_change_op_t op;
	const char *name;              /*!< absolute ("www.example.com.") or relative */
	const char *type;              /*!< "A", "TXT", "TYPE65534", ... */
	uint32_t ttl;                  /*!< REPLACE; RECORDS: the RRset's (another
	                                    TTL than the zone's rewrites it whole) */
	const char *const *records;    /*!< REPLACE, RECORDS (added): rdata in
	                                    presentation form */
	size_t record_count;
	const char *const *removed;    /*!< RECORDS only: rdata to remove (absent ones
	                                    are skipped, as RFC 2136 does) */
	size_t removed_count;
} ctl_change_t;

/*!
 * \brief Apply changes to one zone atomically: all of them or none. The SOA
 * serial is bumped; the store, audit log and journal get the change in one
 * transaction before the new version is published, and on 0 it is on disk
 * (ctl_sync).
 * \retval 0; -CIRRUS_ENOENT (404), -CIRRUS_EINVAL (400, err.field names the
 *         change, e.g. "rrsets[2].records[0]"), -CIRRUS_ESEMANTIC (422),
 *         -CIRRUS_EIO (500)
 */
int ctl_rrsets_patch(ctl_t *ctl, const char *zone, const ctl_change_t *changes,
                     size_t count, const ctl_actor_t *who, ctl_error_t *err);

/*! \brief Writes of the caller's own to do in the store transaction of a
 * change (so both commit together or not at all). \retval 0 or an error
 * code, which rolls the change back (500). */
typedef int (*ctl_store_hook_t)(void *ctx, store_t *st);

/*! \brief ctl_rrsets_patch() with hook(hook_ctx, store) run in its store
 * transaction; audited as "rrsets.patch". Same return codes, but on 0 the
 * change is served and not yet on disk: call ctl_sync() before
 * acknowledging it, after releasing any lock of the caller's own (others'
 * changes and heartbeats need not wait for this one's disk). */
int ctl_rrsets_patch_with(ctl_t *ctl, const char *zone, const ctl_change_t *changes,
                          size_t count, ctl_store_hook_t hook, void *hook_ctx,
                          const ctl_actor_t *who, ctl_error_t *err);

/*! \brief Wait until every change so far is on disk (the store's WAL
 * fsynced; nothing to wait for when none is pending); call it holding no
 * lock. Returns rc when rc is not 0 (err as the failure left it); else 0,
 * or -CIRRUS_EIO (500 in err) when the disk failed. */
int ctl_sync(ctl_t *ctl, int rc, ctl_error_t *err);

/*! \brief Whether ctl_sync() has a change to wait for (store_sync_pending). */
bool ctl_sync_pending(ctl_t *ctl);

/*! \brief A zone as listed by the API. */
typedef struct ctl_zone_info {
	const char *name;       /*!< presentation, trailing dot */
	uint32_t serial;
	size_t records;
	const char *source;     /*!< "store" or "file" */
} ctl_zone_info_t;

typedef int (*ctl_zone_cb_t)(void *ctx, const ctl_zone_info_t *zone);

/*! \brief Every served zone. */
int ctl_zone_list(ctl_t *ctl, ctl_zone_cb_t cb, void *ctx);

/*! \brief One zone. \retval 0, -CIRRUS_ENOENT */
int ctl_zone_info(ctl_t *ctl, const char *zone, ctl_zone_cb_t cb, void *ctx);

/*! \brief An RRset as listed by the API (records in presentation form). */
typedef struct ctl_rrset_info {
	const char *name;
	const char *type;
	uint32_t ttl;
	const char *const *records;
	size_t record_count;
} ctl_rrset_info_t;

typedef int (*ctl_rrset_cb_t)(void *ctx, const ctl_rrset_info_t *rrset);

/*!
 * \brief RRsets of a zone, in canonical order, optionally only those of one
 * name and/or type (NULL = any).
 * \retval 0, -CIRRUS_ENOENT, -CIRRUS_EINVAL (bad filter)
 */
int ctl_rrsets_list(ctl_t *ctl, const char *zone, const char *name, const char *type,
                    ctl_rrset_cb_t cb, void *ctx);

/*!
 * \brief The zone as an RFC 1035 master file (SOA first), which
 * `cirrus zone check`, kzonecheck and named-checkzone accept.
 * \param text  malloc'ed, caller frees
 * \retval 0, -CIRRUS_ENOENT, -CIRRUS_ENOMEM
 */
int ctl_zone_export(ctl_t *ctl, const char *zone, char **text);

/*
 * Routing policies of store zones (docs/policies.md), kept in the store as
 * JSON and served from each zone version; changes are audited store
 * transactions that bump the serial, like RRset changes. The policies of a
 * file zone are declared in cirrus.yaml: these calls refuse them (409).
 */

/*! \brief A policy as listed: the whole policy (name, type and rule) as
 * JSON, the form policy_json_read() takes. */
typedef struct ctl_policy_info {
	const char *name;   /*!< owner, absolute, lower case */
	const char *type;   /*!< "A", "AAAA", "CNAME" */
	const char *json;
} ctl_policy_info_t;

typedef int (*ctl_policy_cb_t)(void *ctx, const ctl_policy_info_t *p);

/*!
 * \brief The policies of a store zone, by owner and type; name and type
 * (NULL = any) select one.
 * \retval 0; -CIRRUS_ENOENT (404), -CIRRUS_EEXIST (409, a file zone),
 *         -CIRRUS_EINVAL (400, bad name or type), -CIRRUS_EIO (500), cb's code
 */
int ctl_policy_list(ctl_t *ctl, const char *zone, const char *name, const char *type,
                    ctl_policy_cb_t cb, void *ctx, ctl_error_t *err);

/*!
 * \brief Create or replace the policy at name and type: compiled first (a
 * bad spec changes nothing), checked against the zone's data, then stored
 * with its audit row ("policy.put") and served by the next version.
 * \param name, type  from the request path; spec->name and spec->type, when
 *                    given, must say the same (they are set to the
 *                    canonical form)
 * \param paths       policy_json_read()'s paths: errors name the field
 * \param created     set when there was no policy there before
 * \retval 0; -CIRRUS_ENOENT (404), -CIRRUS_EEXIST (409: a file zone, or the
 *         policy clashes with the zone's RRsets), -CIRRUS_EINVAL (400),
 *         -CIRRUS_ESEMANTIC (422), -CIRRUS_EIO (500)
 */
int ctl_policy_put(ctl_t *ctl, const char *zone, const char *name, const char *type,
                   policy_spec_t *spec, const policy_strv_t *paths, const ctl_actor_t *who,
                   bool *created, ctl_error_t *err);

/*! \brief Remove a policy ("policy.delete"); its name answers no more.
 * \retval 0; -CIRRUS_ENOENT (404: no zone or no such policy), -CIRRUS_EEXIST
 *         (409, a file zone), -CIRRUS_EINVAL (400), -CIRRUS_EIO (500) */
int ctl_policy_delete(ctl_t *ctl, const char *zone, const char *name, const char *type,
                      const ctl_actor_t *who, ctl_error_t *err);

/*!
 * \brief Create or replace a latency table kept in the store (the text of
 * a table file: PREFIX REGION MILLISECONDS lines), which latency rules of
 * store-zone policies name with `latency-table`. Checked first (a bad line
 * is 400 with field "rows[LINE - 1]"), stored with its audit row
 * ("latency.put"), and every policy naming it is compiled again and served
 * by a new version of its zone at once.
 * \retval 0; -CIRRUS_EINVAL (400), -CIRRUS_EIO (500), -CIRRUS_ENOMEM
 */
int ctl_latency_put(ctl_t *ctl, const char *name, const char *text, const ctl_actor_t *who,
                    ctl_error_t *err);

/*! \brief The text of a stored latency table (malloc'ed, the caller frees).
 * \retval 0; -CIRRUS_ENOENT (404), -CIRRUS_EINVAL (400, bad name), -CIRRUS_EIO */
int ctl_latency_get(ctl_t *ctl, const char *name, char **text, ctl_error_t *err);

/*! \brief Remove a stored latency table that no policy names, with its
 * audit row ("latency.delete").
 * \retval 0; -CIRRUS_ENOENT (404), -CIRRUS_EEXIST (409: a policy names it, and
 * the message says which), -CIRRUS_EINVAL (400, bad name), -CIRRUS_EIO */
int ctl_latency_delete(ctl_t *ctl, const char *name, const ctl_actor_t *who,
                       ctl_error_t *err);

/*! \brief The store, for reads that need no zone (audit, tokens). Callers
 * must hold no other ctl call at the same time: use ctl_store_lock(). */
store_t *ctl_store_lock(ctl_t *ctl);
/*! \brief ctl_store_lock() if no change holds it now, else NULL at once. */
store_t *ctl_store_trylock(ctl_t *ctl);
void ctl_store_unlock(ctl_t *ctl);

/*
 * RFC 2136 dynamic UPDATE, signed with TSIG keys (RFC 8945) kept in the
 * store. Each key carries rules, one per line:
 *     zone=<zone> name=<glob> types=<TYPE,TYPE,...|*>
 * A change to an RRset is allowed when some rule of the key names its zone,
 * its owner (without the trailing dot) matches the glob (fnmatch(3),
 * case-insensitive; "*" also matches dots) and its type is listed, or the
 * list is "*". Deleting every RRset of a name needs each present type.
 */

/*!
 * \brief A TSIG key name as stored and matched: lower case, without the
 * trailing dot ("Acme-Key." becomes "acme-key").
 * \retval 0, -CIRRUS_EINVAL (not a domain name, or the root)
 */
int ctl_key_name(const char *name, char *out, size_t size);

/*!
 * \brief Validate a TSIG key before it goes into the store.
 * \param name       key name ("acme-key", "Acme-Key." alike)
 * \param algorithm  "hmac-sha256" or "hmac-sha512"
 * \param secret     the secret in base64
 * \param rules      one rule per line, at least one
 * \param name_out   the name as stored (ctl_key_name())
 * \param err        why it is invalid
 * \retval 0, -CIRRUS_EINVAL
 */
int ctl_key_check(const char *name, const char *algorithm, const char *secret,
                  const char *rules, char *name_out, size_t name_len,
                  char *err, size_t errlen);

/*!
 * \brief Answer one RFC 2136 UPDATE message. Checks the TSIG signature
 * with the key of that name in the store, the zone (a store zone: NOTAUTH
 * when not served, REFUSED for a zone file), the prerequisites, the
 * request (FORMERR, NOTZONE) and the key's rules (REFUSED), then applies
 * every change in one ctl transaction ("update", actor = key name): all or
 * nothing, the serial bumped once. Unsigned updates are REFUSED (there is
 * no address-based permission). TSIG failures are NOTAUTH with the TSIG
 * error (BADKEY, BADSIG unsigned; BADTIME signed) as RFC 8945 asks.
 * Takes ctl's lock and writes to the store: it blocks the calling thread
 * for one durable commit.
 * \param msg         the request (opcode UPDATE)
 * \param remote      client address, for the log and the audit row (may be NULL)
 * \param answer      response buffer, at least 512 bytes
 * \param answer_len  set to the response's length when 0 is returned
 * \retval 0 send the response; -CIRRUS_EINVAL drop the message (a response
 *         or shorter than a header); -CIRRUS_ESPACE the response does not fit
 */
int ctl_update_handle(ctl_t *ctl, const uint8_t *msg, size_t len,
                      const struct sockaddr *remote, uint8_t *answer,
                      size_t answer_max, size_t *answer_len);
