/* SPDX-License-Identifier: Apache-2.0
 * policy_internal.h -- the compiled form of a policy, shared by the
 * policy/ files only: rule nodes, items, and the binary prefix trie that
 * the ip, geo and latency rules answer from.
 */
#pragma once

#include "policy/policy.h"

typedef enum {
	POLICY_RULE_WEIGHTED,
	POLICY_RULE_FAILOVER,
	POLICY_RULE_MULTIVALUE,
	POLICY_RULE_IP,
	POLICY_RULE_GEO,
	POLICY_RULE_LATENCY,
} policy_rule_t;

/*! \brief Name of a rule for messages. */
const char *policy_rule_name(policy_rule_t rule);

/*
 * Prefix trie (policy_trie.c): one bit per level, no path compression.
 * Node 0 is the root; child index 0 means "no child" (the root is never
 * a child). Values are small non-negative integers, -1 = none.
 */
typedef struct policy_trie_node {
	uint32_t child[2];
	int32_t value;
} policy_trie_node_t;

typedef struct policy_trie {
	policy_trie_node_t *nodes;
	uint32_t count;
	uint32_t alloc;
} policy_trie_t;

/*! \brief Most prefixes a lookup can match on its path (0..128 bits). */
#define POLICY_TRIE_MATCH_MAX 129

/*!
 * \brief Store value at prefix (bits of addr); an existing value is kept.
 * \retval 0, -CIRRUS_EEXIST (prefix already has a value), -CIRRUS_ENOMEM
 */
int policy_trie_insert(policy_trie_t *t, const uint8_t *addr, unsigned prefix,
                       int32_t value);

/*!
 * \brief Longest-prefix lookup of the first bits of addr.
 * \param matches  values of every prefix on the path, longest first
 * \param count    how many
 * \return the scope: the fewest leading bits of addr that every address
 *         getting the same matches shares (RFC 7871 SCOPE PREFIX-LENGTH)
 */
unsigned policy_trie_lookup(const policy_trie_t *t, const uint8_t *addr, unsigned bits,
                            int32_t *matches, unsigned *count);

void policy_trie_deinit(policy_trie_t *t);

struct policy_node;

/*! \brief One endpoint of a rule: a record or a nested rule. */
typedef struct policy_item {
	knot_rdata_t *rdata;          /*!< leaf: wire RDATA (owned), else NULL */
	struct policy_node *nested;   /*!< nested rule (owned), else NULL */
	uint32_t weight;
	uint32_t level;
	char *health;                 /*!< health key, NULL = always up */
	char *region;
	int16_t region_id;            /*!< latency: index among the rule's regions */
} policy_item_t;

/*! \brief Geo: the endpoints to try, most specific first, for one location. */
typedef struct policy_geo_choice {
	int16_t subdivision[2]; /*!< item indexes or -1, most specific first */
	int16_t country;     /*!< item index or -1 */
	int16_t continent;   /*!< item index or -1 */
} policy_geo_choice_t;

/*! \brief Latency: the rule's regions in order of latency for one prefix,
 * as a slice of policy_node.region_order. */
typedef struct policy_latency_choice {
	uint32_t start;
	uint16_t count;
} policy_latency_choice_t;

typedef struct policy_mmdb policy_mmdb_t;

/*! \brief A rule over items. */
typedef struct policy_node {
	policy_rule_t rule;
	uint16_t pick;                /*!< weighted k, multivalue N */
	policy_item_t *items;         /*!< failover: sorted by level */
	uint16_t item_count;
	int16_t default_item;         /*!< ip, geo, latency: -1 = none */
	policy_trie_t trie[2];        /*!< ip, geo map, latency: [0] IPv4, [1] IPv6 */
	policy_geo_choice_t *choices; /*!< geo: trie values and mmdb records index these */
	size_t choice_count;
	policy_mmdb_t *mmdb;          /*!< geo from a MaxMind DB, else NULL */
	policy_latency_choice_t *orders; /*!< latency: trie values index these */
	size_t order_count;
	int16_t *region_order;        /*!< latency: region ids, see orders */
	size_t region_order_len;
} policy_node_t;

struct policy {
	uint32_t refs;                /*!< references besides the first (atomic) */
	knot_dname_storage_t owner;
	uint16_t type;
	uint32_t ttl;
	bool fail_closed;
	policy_node_t *root;          /*!< NULL for an alias */
	knot_rdata_t *alias;          /*!< ALIAS: the target name as RDATA (owned) */
};

/*! \brief Free a node and everything below it. */
void policy_node_free(policy_node_t *n);

/*! \brief Where compile errors go: file name and buffer. */
typedef struct policy_errbuf {
	const char *file;
	char *text;
	size_t size;
} policy_errbuf_t;

/*! \brief Write "FILE:LINE: reason" and return -CIRRUS_EINVAL. */
int policy_fail(policy_errbuf_t *e, uint64_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*!
 * \brief Geo rule: read the CIDR map file into n's trie, resolving each
 * location to the endpoints that serve it (policy_geo.c).
 * \retval 0, -CIRRUS_EINVAL, -CIRRUS_EIO, -CIRRUS_ENOMEM (reason in e)
 */
int policy_geo_load(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e);

/*!
 * \brief Geo: the choice (index into n->choices, added when new) for a
 * location given by its ISO codes, most specific subdivision first; any
 * code may be missing (NULL, or nsub 0).
 * \return the index, or -1 when out of memory
 */
int32_t policy_geo_choose(policy_node_t *n, const policy_spec_t *spec,
                          const char *const *subdivisions, size_t nsub,
                          const char *country, const char *continent);

/*!
 * \brief Geo: open the MaxMind DB spec->mmdb and resolve each of its
 * records to a choice of n (policy_mmdb.c).
 * \retval 0, -CIRRUS_EIO (cannot open, or corrupt: "FILE: reason" in e),
 *         -CIRRUS_ENOMEM
 */
int policy_mmdb_load(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e);

/*!
 * \brief Geo: the choice for a client, or -1 when its network has no
 * record or none that an endpoint serves. Allocates nothing.
 * \param scope  set to the prefix length of the database network that
 *               holds the client (in the client's family), as ECS scope
 */
int32_t policy_mmdb_lookup(const policy_mmdb_t *m, const policy_addr_t *client,
                           unsigned *scope);

/*! \brief Close and free (NULL is fine). */
void policy_mmdb_free(policy_mmdb_t *m);

/*!
 * \brief Latency rule: read the table file spec->latency into n's trie,
 * ordering the rule's regions by latency for each prefix (policy_latency.c).
 * \retval 0, -CIRRUS_EINVAL, -CIRRUS_EIO, -CIRRUS_ENOMEM (reason in e)
 */
int policy_latency_load(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e);

/*!
 * \brief ALIAS: check the spec of an alias (no rule keys, a target that is
 * a name) and set p's target (policy_alias.c).
 * \retval 0, -CIRRUS_EINVAL (reason in e), -CIRRUS_ENOMEM
 */
int policy_alias_compile(policy_errbuf_t *e, const policy_spec_t *spec,
                         const knot_dname_t *origin, policy_t *p);

/*!
 * \brief ALIAS: an alias answers A and AAAA at its owner, so the owner
 * must hold no A or AAAA records (static or a policy's) when an alias is
 * placed, and no alias when an A or AAAA policy is.
 * \param node  the owner's node in the version being built, or NULL
 * \retval 0, -CIRRUS_EINVAL (reason in err, no file or line)
 */
int policy_alias_check_node(const policy_t *p, const zone_node_t *node, char *err,
                            size_t errlen);
