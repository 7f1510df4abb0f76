/* SPDX-License-Identifier: Apache-2.0
 * policy.h -- routing policies: an A, AAAA or CNAME RRset of a zone whose
 * records are chosen per query by a rule (weighted, failover, multivalue,
 * ip, geo, latency) over endpoints, reading a health snapshot and the client's
 * subnet. Policies are compiled once from a plain spec (what cirrus.yaml
 * says) and attached to a zone version; evaluation is pure and lock-free.
 * Not for YAML (conf/), wire answers (engine/) or running health checks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <libknot/libknot.h>

#include "zone/zone.h"

/*! \brief Most records one policy answer holds. */
#define POLICY_ANSWER_MAX 16
/*! \brief Most endpoints one rule lists. */
#define POLICY_ITEMS_MAX 64
/*! \brief Deepest nesting of rules. */
#define POLICY_DEPTH_MAX 4

/*
 * Addresses and prefixes.
 */

/*! \brief Address family numbers as in ECS (RFC 7871 6, IANA). */
enum policy_family {
	POLICY_FAMILY_NONE = 0,   /*!< client unknown */
	POLICY_FAMILY_IPV4 = 1,
	POLICY_FAMILY_IPV6 = 2,
};

/*! \brief An address with the number of leading bits that are known. */
typedef struct policy_addr {
	uint8_t family;     /*!< policy_family */
	uint8_t prefix;     /*!< known bits: 0..32 or 0..128 */
	uint8_t bytes[16];  /*!< network order; bits past prefix are zero */
} policy_addr_t;

/*! \brief Bits of an address of family (32, 128, or 0). */
unsigned policy_family_bits(uint8_t family);

/*!
 * \brief Parse "ADDR/LEN" or a bare address (full length) into out.
 * \retval 0, -CIRRUS_EINVAL (not an address, bad length, or host bits set)
 */
int policy_cidr_parse(const char *text, policy_addr_t *out);

/*! \brief The packet source as a full-length address (IPv4-mapped IPv6 becomes IPv4). */
void policy_addr_from_sockaddr(const struct sockaddr *sa, policy_addr_t *out);

/*! \brief Whether the full address addr lies in cidr. */
bool policy_cidr_contains(const policy_addr_t *cidr, const policy_addr_t *addr);

/*
 * Random choice: xoshiro256** (Blackman and Vigna), seeded with splitmix64.
 * Not cryptographic, and need not be: it only spreads load.
 */

/*! \brief PRNG state; one per worker thread. */
typedef struct policy_rng {
	uint64_t s[4];
} policy_rng_t;

/*! \brief Seed a state; the same seed gives the same sequence. */
void policy_rng_seed(policy_rng_t *rng, uint64_t seed);

/*! \brief Next 64 random bits. */
uint64_t policy_rng_next(policy_rng_t *rng);

/*! \brief Uniform integer in [0, bound) (Lemire's method, unbiased); bound > 0. */
uint64_t policy_rng_below(policy_rng_t *rng, uint64_t bound);

/*! \brief The calling thread's state, seeded on first use from the clock
 * and the thread. Lives as long as the thread. */
policy_rng_t *policy_rng_thread(void);

/*
 * Health snapshots. Immutable once built: a publisher (today the
 * configuration loader, later the health-check thread) builds a new one
 * and swaps a pointer that readers load with acquire semantics inside
 * their RCU read-side section; the old one is freed after a grace period.
 */

typedef struct policy_health policy_health_t;

/*!
 * \brief Build a snapshot in which the listed health keys are down and
 * every other key is up.
 * \param down   key names (copied)
 * \param count  how many
 * \param out    the snapshot, owned by the caller (policy_health_free)
 * \retval 0, -CIRRUS_ENOMEM
 */
int policy_health_new(const char *const *down, size_t count, policy_health_t **out);

/*! \brief Free a snapshot no reader can see any more (NULL is fine). */
void policy_health_free(policy_health_t *h);

/*! \brief Whether key is up in h (NULL h: everything is up). */
bool policy_health_up(const policy_health_t *h, const char *key);

/*
 * Specs: a policy as the configuration states it, plain text with the
 * line each part came from. One type serves the three places a mapping
 * can stand: a policy (name, type, ttl, fail), a rule (rule, pick, map,
 * endpoints; at the top or nested in an endpoint) and an endpoint (rdata
 * or a nested rule, with attributes).
 */

/*! \brief A list of strings. */
typedef struct policy_strv {
	char **v;
	size_t n;
} policy_strv_t;

typedef struct policy_spec {
	uint64_t line;            /*!< line of this mapping in the file */
	/* a policy (top level only) */
	char *name;               /*!< owner, absolute or relative to the zone */
	char *type;               /*!< A, AAAA, CNAME or ALIAS */
	char *target;             /*!< ALIAS: the name flattened, absolute or relative */
	unsigned ttl;
	char *fail;               /*!< "open" (default) or "closed" */
	/* a rule */
	char *rule;               /*!< weighted, failover, multivalue, ip, geo, latency */
	unsigned pick;            /*!< weighted: endpoints per answer; multivalue: most records; 0 = default */
	char *map;                /*!< geo: CIDR map file, resolved path */
	char *mmdb;               /*!< geo: MaxMind DB file, resolved path */
	char *latency;            /*!< latency: table file, resolved path */
	char *latency_table;      /*!< latency: a table kept in the store, by name (API) */
	char *latency_data;       /*!< its text, filled in by the control plane before
	                               compiling (NULL: the table does not exist) */
	struct policy_spec *endpoints;
	size_t endpoint_count;
	/* an endpoint */
	char *rdata;              /*!< presentation form; NULL when the endpoint is a rule */
	unsigned weight;          /*!< weighted; 0 = drained */
	unsigned level;           /*!< failover; 0 = its position in the list */
	char *region;             /*!< latency: the region the endpoint serves from */
	char *health;             /*!< health key, NULL = always up */
	policy_strv_t countries;  /*!< geo: ISO 3166 alpha-2 codes */
	policy_strv_t continents; /*!< geo: AF AN AS EU NA OC SA */
	policy_strv_t subdivisions; /*!< geo: ISO 3166-2 codes such as US-CA */
	policy_strv_t cidrs;      /*!< ip: client prefixes */
	bool is_default;          /*!< ip, geo, latency: answer when nothing matches */
} policy_spec_t;

/*! \brief Defaults of an endpoint or policy mapping before its keys are read. */
void policy_spec_init(policy_spec_t *spec, uint64_t line);

/*! \brief Free what a spec owns (not the spec itself). */
void policy_spec_deinit(policy_spec_t *spec);

/*
 * Compiled policies.
 */

typedef struct policy policy_t;

/*!
 * \brief Compile a spec for the zone at origin: names resolved, RDATA
 * parsed to wire, CIDR lists, map, MaxMind DB and latency files loaded,
 * rules checked.
 * \param spec    a top-level policy spec
 * \param origin  zone apex (wire, lower case)
 * \param file    configuration file name for messages
 * \param out     the policy, owned by the caller (policy_free)
 * \param err     on failure "FILE:LINE: reason"
 * \retval 0, -CIRRUS_EINVAL (reason in err), -CIRRUS_EIO (a file named in the
 *         spec cannot be read; reason in err), -CIRRUS_ENOMEM
 */
int policy_compile(const policy_spec_t *spec, const knot_dname_t *origin,
                   const char *file, policy_t **out, char *err, size_t errlen);

/*! \brief Take one more reference on a compiled policy: zone versions that
 * carry it over share it (atomic: versions are freed on other threads). */
void policy_ref(policy_t *p);

/*! \brief Drop a reference; the last one frees the policy (NULL is fine). */
void policy_free(policy_t *p);

/*!
 * \brief A policy's type by name, A, AAAA, CNAME or ALIAS (any case); ALIAS
 * is POLICY_TYPE_ALIAS, which libknot has no name for.
 * \retval 0, CIRRUS_EINVAL (not a policy type)
 */
int policy_type_from_string(const char *text, uint16_t *type);

/*! \brief The name of a policy type, or NULL when it is not one. */
const char *policy_type_to_string(uint16_t type);

/*! \brief Owner (wire, lower case) and type of a policy (POLICY_TYPE_ALIAS
 * for an alias). */
const knot_dname_t *policy_owner(const policy_t *p);
uint16_t policy_type(const policy_t *p);
uint32_t policy_ttl(const policy_t *p);

/*! \brief What one evaluation chose. */
typedef struct policy_answer {
	const knot_rdata_t *rdata[POLICY_ANSWER_MAX];  /*!< point into the policy */
	unsigned count;
	uint8_t scope;   /*!< client prefix bits the choice depended on (RFC 7871) */
} policy_answer_t;

/*!
 * \brief Choose the records for one query. Pure: reads p, health and
 * client, advances rng, allocates nothing.
 * \param health  snapshot (NULL: everything up)
 * \param client  client address/subnet (family NONE: unknown)
 * \param out     chosen records; count 0 when the policy is fail-closed
 *                and nothing is healthy
 */
void policy_eval(const policy_t *p, const policy_health_t *health,
                 const policy_addr_t *client, policy_rng_t *rng, policy_answer_t *out);

/*
 * Zones. A policy lives in a zone version as an ordinary RRset holding its
 * first endpoint (so that zone checks, ANY and export see a real RRset)
 * whose node carries ZONE_NODE_POLICY; the engine asks policy_zone_find()
 * only for nodes with that flag.
 */

/*!
 * \brief Attach compiled policies to a freshly loaded zone that no set
 * holds yet: produces the next version with a placeholder RRset and the
 * flag at each owner, and frees the old version.
 * \param zone      in: the loaded zone; out: the version with policies
 * \param policies  taken over in every case (freed on failure)
 * \param lines     configuration line of each policy, for messages
 * \param err       on failure "FILE:LINE: reason"
 * \retval 0, -CIRRUS_EINVAL (outside the zone, clashes with zone data,
 *         twice the same name and type), -CIRRUS_ENOMEM
 */
int policy_zone_attach(zone_t **zone, policy_t **policies, size_t count,
                       const char *file, const uint64_t *lines,
                       char *err, size_t errlen);

/*!
 * \brief Put a policy into an update of a zone, with the checks attaching
 * makes: no static RRset of its type at its owner, not at or below a zone
 * cut or DNAME; then its placeholder RRset and flag, and the update's checks
 * (CNAME exclusivity). The caller adds the policy to the table of the
 * version it commits (policy_zone_set).
 * \param err  on failure the reason (no file or line)
 * \retval 0, -CIRRUS_EINVAL, -CIRRUS_ESEMANTIC (reason in err), -CIRRUS_ENOMEM
 */
int policy_zone_place(zone_update_t *u, const knot_dname_t *apex, const policy_t *p,
                      char *err, size_t errlen);

/*!
 * \brief Check that a policy already placed is still where it can answer
 * after other changes in the update: not at or below a zone cut or DNAME.
 * \retval 0, -CIRRUS_EINVAL (reason in err)
 */
int policy_zone_check(const zone_update_t *u, const knot_dname_t *apex, const policy_t *p,
                      char *err, size_t errlen);

/*!
 * \brief Hang policies on a new zone version no reader sees yet and that
 * has none: each policy's owner must hold its placeholder (placed in this
 * or an earlier version). The version takes a reference on each. Used to
 * carry a zone's policies over to the next version and to change them.
 * \retval 0 (also for count 0), -CIRRUS_ENOENT (an owner is missing),
 *         -CIRRUS_ENOMEM
 */
int policy_zone_set(zone_t *zone, policy_t *const *policies, size_t count);

/*! \brief The policies of a zone version (none: 0), owned by it. */
size_t policy_zone_policies(const zone_t *zone, policy_t *const **out);

/*! \brief The policy for a flagged node and type in zone, or NULL. */
const policy_t *policy_zone_find(const zone_t *zone, const zone_node_t *node,
                                 uint16_t type);

/*
 * ALIAS (policy_alias.c, policy_alias_view.c): a policy of type ALIAS at an
 * owner names a target whose A and AAAA records the owner answers with,
 * flattened per query. In the zone it is a record of POLICY_TYPE_ALIAS at
 * the owner whose RDATA is the target name (as PowerDNS stores ALIAS), on
 * a node flagged ZONE_NODE_POLICY. A target in a zone the server serves is
 * read from that zone; any other is resolved upstream by the resolver
 * thread (alias/), which publishes its results as an immutable view.
 */

/*! \brief The record type an alias is kept as: PowerDNS's private ALIAS type. */
#define POLICY_TYPE_ALIAS 65401

/*! \brief The target of an alias (wire, lower case), or NULL for other policies. */
const knot_dname_t *policy_alias_target(const policy_t *p);

/*!
 * \brief The targets of the aliases of zones that no zone serves: the names
 * the resolver thread resolves upstream. Each name is listed once.
 * \param zones   zone versions holding aliases (NULL entries are skipped)
 * \param served  the set that answers queries: a target in one of its
 *                zones is read from there; NULL: only each alias's own
 *                zone counts
 * \param out     a new array of new names (malloc'ed), owned by the caller
 * \retval 0, -CIRRUS_ENOMEM (nothing to free)
 */
int policy_alias_targets(zone_t *const *zones, size_t count, const zone_set_t *served,
                         knot_dname_t ***out, size_t *n);

/*! \brief What the resolver knows about one target and type. */
typedef enum {
	POLICY_ALIAS_UNKNOWN,   /*!< not resolved yet, failing past the stale window, or
	                             not a target at all: the alias answers SERVFAIL */
	POLICY_ALIAS_DATA,      /*!< records (fresh, or stale within the window) */
	POLICY_ALIAS_NODATA,    /*!< the upstream said NXDOMAIN or NODATA */
} policy_alias_status_t;

/*! \brief Answer TTL of data served stale (RFC 8767 4 recommends 30 s). */
#define POLICY_ALIAS_STALE_TTL 30

/*! \brief One result of the resolver, as the view is built from. */
typedef struct policy_alias_result {
	const knot_dname_t *target;   /*!< lower case */
	uint16_t type;                /*!< A or AAAA */
	policy_alias_status_t status;
	uint64_t expire_ms;           /*!< policy_alias_clock_ms() when the TTL runs out */
	uint64_t stale_ms;            /*!< until when DATA may be served after that */
	knot_rdataset_t rrs;          /*!< DATA: the records */
} policy_alias_result_t;

/*! \brief The resolver's view: immutable, published by pointer like health. */
typedef struct policy_alias_view policy_alias_view_t;

/*!
 * \brief Build a view holding copies of results.
 * \param out  owned by the caller (policy_alias_view_free)
 * \retval 0, -CIRRUS_ENOMEM
 */
int policy_alias_view_new(const policy_alias_result_t *results, size_t count,
                          policy_alias_view_t **out);

/*! \brief Free a view no reader can see any more (NULL is fine). */
void policy_alias_view_free(policy_alias_view_t *v);

/*!
 * \brief What the view says about target and type at now_ms. Pure,
 * allocates nothing.
 * \param rrs  DATA: the records (pointing into the view)
 * \param ttl  DATA: seconds left of the upstream TTL (at least 1), or
 *             POLICY_ALIAS_STALE_TTL when served stale
 * \param stale  DATA or NODATA: set true when past the TTL (RFC 8767),
 *               else false; may be NULL
 */
policy_alias_status_t policy_alias_view_answer(const policy_alias_view_t *v,
                                               const knot_dname_t *target, uint16_t type,
                                               uint64_t now_ms, knot_rdataset_t *rrs,
                                               uint32_t *ttl, bool *stale);

/*! \brief Milliseconds on the monotonic clock: the time base of expire_ms. */
uint64_t policy_alias_clock_ms(void);
