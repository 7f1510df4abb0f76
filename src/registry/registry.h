/* SPDX-License-Identifier: Apache-2.0
 * registry.h -- service discovery (docs/services.md): instances of a
 * service register with a lease, and their DNS data (A/AAAA, SRV, DNS-SD
 * PTR/SRV/TXT, tag names) is materialized into a store zone as ordinary
 * RRsets through ctl, so answers, audit, journal, durability and snapshots
 * are those of every other change. The instances table (store) is the
 * source of truth; the records are derived from it. A heartbeat moves the
 * lease end in memory; the sweeper stores them in batches, removes expired
 * instances and takes instances whose health check is down out of the
 * records (they stay registered), and the registry publishes the view the
 * engine shuffles and caps service answers with (registry_view.h).
 *
 * Two layers: the pure mapping (registration JSON <-> instance, instances
 * -> RRsets, old RRsets vs new -> ctl changes; registry_records.c, unit
 * tested) and the running registry (registry.c).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/ctl.h"
#include "health/health.h"
#include "registry/registry_view.h"
#include "util/arena.h"

/*! \brief Most addresses and tags of one instance. */
#define REGISTRY_ADDR_MAX 16
#define REGISTRY_TAG_MAX 32
/*! \brief Room for a label (service, instance, tag names: 1 to 63 bytes). */
#define REGISTRY_LABEL_SIZE 64
/*! \brief Room for one tag (TXT string, "key=value" or "key"). */
#define REGISTRY_TAG_SIZE 128
/*! \brief Default DNS TTL of registry records, in seconds. */
#define REGISTRY_TTL_DEFAULT 5
/*! \brief Lease bounds, in seconds. */
#define REGISTRY_LEASE_MIN 1
#define REGISTRY_LEASE_MAX 86400
/*! \brief Room for an instance's health check as compact JSON. */
#define REGISTRY_CHECK_SIZE 1024
/*! \brief Prefix of the health keys of instance checks ("svc@ID.SVC.ZONE"). */
#define REGISTRY_HEALTH_PREFIX "svc@"

/*! \brief One registered instance. */
typedef struct registry_instance {
	char service[REGISTRY_LABEL_SIZE];   /*!< lower-case label */
	char id[REGISTRY_LABEL_SIZE];        /*!< lower-case label */
	char proto[4];                       /*!< "tcp" or "udp" */
	char addrs[REGISTRY_ADDR_MAX][46];   /*!< canonical text (inet_ntop) */
	size_t addr_count;
	uint16_t port, weight, priority;
	char tags[REGISTRY_TAG_MAX][REGISTRY_TAG_SIZE];
	size_t tag_count;
	uint32_t ttl;                        /*!< DNS TTL of its records */
	uint32_t lease;                      /*!< seconds a heartbeat extends the lease */
	char check[REGISTRY_CHECK_SIZE];     /*!< health check as compact JSON; "" = none */
	/* the running registry's state, not in the JSON */
	int64_t expires_us;                  /*!< lease end */
	bool dirty;                          /*!< lease end not stored yet (a heartbeat) */
	bool down;                           /*!< left out of the answers: its check is down */
	health_status_t health;              /*!< what its check said at the last look */
} registry_instance_t;

/*! \brief Whether s is a label the registry accepts: 1 to 63 of a-z, 0-9,
 * '-', not starting or ending with '-' (upper case is folded by callers). */
bool registry_label_ok(const char *s);

/*!
 * \brief Read a registration body (or stored data) into out: addresses,
 * port, protocol, weight, priority, tags, ttl_lease, ttl. service and id
 * are the caller's to set.
 * \param field  on failure, the JSON field at fault ("addresses[1]")
 * \retval 0, -CIRRUS_EINVAL (err and field say why)
 */
int registry_instance_parse(const json_t *obj, registry_instance_t *out, char *field,
                            size_t fieldlen, char *err, size_t errlen);

/*! \brief The registration as JSON (what registry_instance_parse reads);
 * NULL when out of memory. */
json_t *registry_instance_json(const registry_instance_t *in);

/*!
 * \brief Read a registration's "check" (docs/services.md) into in->check:
 * the same kinds and keys as the `checks:` of cirrus.yaml (http, https,
 * tcp, dns; not calculated, no ca-file), validated by health_spec_check();
 * address and port default to the instance's first address and its port.
 * in's addresses and port must be parsed already.
 * \retval 0, -CIRRUS_EINVAL (field is "check" or "check.KEY", err says why)
 */
int registry_check_parse(const json_t *check, registry_instance_t *in, char *field,
                         size_t fieldlen, char *err, size_t errlen);

/*!
 * \brief The health check of an instance as a spec for the checker.
 * \param name  its health key (registry_check_key)
 * \param spec  filled and checked; free with health_spec_deinit
 * \retval 0, -CIRRUS_EINVAL (no check, or it no longer checks), -CIRRUS_ENOMEM
 */
int registry_check_spec(const registry_instance_t *in, const char *name,
                        health_spec_t *spec, char *err, size_t errlen);

/*! \brief The health key of an instance's check: "svc@ID.SVC.ZONE" (zone
 * without its final dot). \retval 0, -CIRRUS_ESPACE (over 127 characters
 * or not a health key) */
int registry_check_key(const char *zone, const registry_instance_t *in, char *out,
                       size_t size);

/*! \brief One RRset owned by the registry, records in presentation form. */
typedef struct registry_rrset {
	char name[256 + 64];   /*!< absolute, lower case, trailing dot */
	char type[8];          /*!< "A", "AAAA", "SRV", "PTR", "TXT" */
	uint32_t ttl;
	char **records;        /*!< sorted, each once; the text is the set's */
	size_t count;
} registry_rrset_t;

/*! \brief A set of RRsets, sorted by name then type. */
typedef struct registry_rrsets {
	registry_rrset_t *v;
	size_t count, alloc;
	arena_t strings;       /*!< every record's text, freed with the set */
} registry_rrsets_t;

/*!
 * \brief Every RRset the registry owns in zone for these instances
 * (docs/services.md, "DNS names"); instances marked down are left out. Pure.
 * \param zone  canonical zone name ("example.com.")
 * \param out   filled (zeroed first); free with registry_rrsets_free
 * \retval 0, -CIRRUS_ENOMEM, -CIRRUS_EINVAL (a name longer than 255 bytes)
 */
int registry_records(const char *zone, const registry_instance_t *inst, size_t n,
                     registry_rrsets_t *out);

void registry_rrsets_free(registry_rrsets_t *s);

/*!
 * \brief The ctl changes that turn old into new: RECORDS (the records
 * removed and added) for an RRset in both whose records differ, REPLACE
 * for one new or whose TTL moved, DELETE for each of old missing from new.
 * The changes point into new and old (keep both until they are applied).
 * \param changes  malloc'ed block (NULL when count is 0), caller frees
 * \retval 0, -CIRRUS_ENOMEM
 */
int registry_diff(const registry_rrsets_t *old, const registry_rrsets_t *new,
                  ctl_change_t **changes, size_t *count);

/*
 * The running registry.
 */

typedef struct registry registry_t;

/*! \brief Take a new view for the engine; the receiver owns it and frees
 * the one it replaces once no reader can see it. Called with the
 * registry's lock held, so publishers never race. */
typedef void (*registry_publish_cb_t)(void *ctx, registry_view_t *fresh);

typedef struct registry_conf {
	unsigned sweep_ms;        /*!< sweeper period in milliseconds (0 = 50) */
	unsigned answer_max;      /*!< addresses per A/AAAA answer (0 = 8) */
	health_t *health;         /*!< the checker that runs instance checks;
	                               NULL: registrations with a check are refused */
	registry_publish_cb_t publish;   /*!< NULL: no view (nothing shuffled) */
	void *publish_ctx;
} registry_conf_t;

/*!
 * \brief Start the registry over a control plane: read every instance into
 * memory, reconcile every zone's registry RRsets with them (a crash between
 * the two commits of a change is repaired here), hand their checks to the
 * checker, publish the first view, then start the sweeper (lease ends,
 * stored heartbeats, health).
 * \retval 0, -CIRRUS_ENOMEM, -CIRRUS_EIO, -CIRRUS_EINVAL (answer_max)
 */
int registry_new(ctl_t *ctl, const registry_conf_t *conf, registry_t **out);

/*! \brief Stop the sweeper and free (NULL is fine). */
void registry_free(registry_t *r);

/*!
 * \brief Register or replace an instance from a request body: validate,
 * then store the instance and patch the zone in one ctl change (one store
 * transaction, audited as who). On 0 the change is served and committed,
 * but not yet on disk: call ctl_sync() before acknowledging it.
 * Nothing changes when it fails.
 * \param listing  on success, the instance as GET lists it (caller decrefs)
 * \retval 0; -CIRRUS_EINVAL (400), -CIRRUS_ENOENT (404 zone),
 *         -CIRRUS_EEXIST (409, a file zone), -CIRRUS_ESEMANTIC (422), -CIRRUS_EIO
 */
int registry_register(registry_t *r, const char *zone, const char *service,
                      const char *id, const json_t *body, const ctl_actor_t *who,
                      json_t **listing, ctl_error_t *err);

/*! \brief Renew a lease: in memory, stored by the next sweep (one
 * transaction for every heartbeat since the last); no zone change.
 * \retval 0, -CIRRUS_ENOENT (404: unknown, or the lease already ended) */
int registry_heartbeat(registry_t *r, const char *zone, const char *service,
                       const char *id, json_t **listing, ctl_error_t *err);

/*! \brief Deregister: the records and the row in one ctl change; as for
 * registry_register(), call ctl_sync() before acknowledging it.
 * \retval 0, -CIRRUS_ENOENT */
int registry_deregister(registry_t *r, const char *zone, const char *service,
                        const char *id, const ctl_actor_t *who, ctl_error_t *err);

/*! \brief {"zone", "services": {name: [instance...]}} for a zone, or one
 * service of it (service NULL = all). \retval 0, -CIRRUS_EINVAL, -CIRRUS_EIO */
int registry_list(registry_t *r, const char *zone, const char *service, json_t **out,
                  ctl_error_t *err);

/*! \brief Run one sweep now (the thread does it every sweep_ms): remove
 * the instances whose lease ended, store the heartbeats since the last
 * sweep, and follow the checker's view of instance checks. Returns how many
 * instances were removed, or a negative code. */
int registry_sweep(registry_t *r);
