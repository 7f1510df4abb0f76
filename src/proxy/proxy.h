/* SPDX-License-Identifier: Apache-2.0
 * proxy.h -- `cirrus proxy`: a UDP/TCP DNS frontend that relays each query
 * to DoH upstreams (RFC 8484 POST) with health checks, failover or
 * latency-based choice, a client deadline, an optional answer cache and
 * EDNS Client Subnet. The public face of src/proxy/: configuration, the
 * pure message helpers and the cache (also used by the unit tests and the
 * fuzz target), and proxy_run().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <libknot/consts.h>

#include "util/log.h"

/* ------------------------------------------------------------------ */
/* Configuration (proxy_conf.c)                                        */

#define PROXY_UPSTREAMS_MAX 16
#define PROXY_LISTEN_MAX 16

typedef enum {
	PROXY_POLICY_FAILOVER = 0,  /*!< first healthy upstream in order */
	PROXY_POLICY_LATENCY,       /*!< healthy upstream with the lowest EWMA */
} proxy_policy_t;

typedef enum {
	PROXY_ECS_OFF = 0,    /*!< pass queries as they come */
	PROXY_ECS_ADD,        /*!< add the client's subnet unless the query has ECS */
	PROXY_ECS_OVERRIDE,   /*!< replace any ECS the client sent */
} proxy_ecs_mode_t;

typedef struct proxy_upstream_conf {
	char *url;            /*!< http:// or https:// DoH endpoint */
	char *ca_file;        /*!< CA bundle for https (NULL: system default) */
} proxy_upstream_conf_t;

typedef struct proxy_conf {
	char *listen[PROXY_LISTEN_MAX];   /*!< numeric addresses */
	size_t listen_count;
	unsigned port;
	proxy_upstream_conf_t upstreams[PROXY_UPSTREAMS_MAX];
	size_t upstream_count;
	char *ca_file;                    /*!< default CA bundle for https upstreams */
	proxy_policy_t policy;
	unsigned deadline_ms;             /*!< a client never waits longer */
	unsigned upstream_timeout_ms;     /*!< one attempt at one upstream */
	unsigned tcp_idle_timeout;        /*!< seconds */
	/* health checks */
	char *check_name;                 /*!< probe query name (default ".") */
	uint16_t check_type;              /*!< probe query type (default NS) */
	unsigned check_interval;          /*!< seconds between probes, 0 = none */
	unsigned check_timeout_ms;
	unsigned fall, rise;
	/* cache */
	unsigned cache_size;              /*!< entries; 0 = no cache */
	unsigned cache_min_ttl, cache_max_ttl;
	/* EDNS Client Subnet */
	proxy_ecs_mode_t ecs;
	unsigned ecs_prefix4, ecs_prefix6;
	log_level_t log_level;
} proxy_conf_t;

/*! \brief Fill in every default (docs/proxy.md). */
void proxy_conf_init(proxy_conf_t *conf);

/*!
 * \brief Read a proxy.yaml on top of the defaults.
 * \return 0, or -CIRRUS_E* with "file:line: reason" in err
 */
int proxy_conf_load(proxy_conf_t *conf, const char *path, char *err, size_t err_size);

/*! \brief Add an upstream URL (checked: http:// or https://). */
int proxy_conf_add_upstream(proxy_conf_t *conf, const char *url, const char *ca_file);

/*! \brief Drop every upstream (command-line -u replaces the file's list). */
void proxy_conf_clear_upstreams(proxy_conf_t *conf);

/*! \brief Free what the configuration holds. */
void proxy_conf_deinit(proxy_conf_t *conf);

/* ------------------------------------------------------------------ */
/* Messages (proxy_msg.c): pure functions over DNS wire format         */

#define PROXY_MSG_MAX 65535
/* qname, qtype, qclass, DO, then ECS family, source and address */
#define PROXY_KEY_MAX (KNOT_DNAME_MAXLEN + 2 + 2 + 1 + 2 + 1 + 16)

/*! What to do with a message a client sent. */
typedef enum {
	PROXY_FORWARD = 0,   /*!< a query to answer */
	PROXY_DROP,          /*!< a response or a runt: no answer at all */
	PROXY_FORMERR,       /*!< answer FORMERR */
	PROXY_NOTIMP,        /*!< answer NOTIMP (opcode other than QUERY) */
} proxy_verdict_t;

/*! An EDNS Client Subnet, address masked to its source prefix. */
typedef struct proxy_ecs {
	uint16_t family;     /*!< 1 IPv4, 2 IPv6 (RFC 7871 FAMILY) */
	uint8_t source;      /*!< source prefix length */
	uint8_t addr[16];
} proxy_ecs_t;

/*! What the proxy needs to know of a client's query. */
typedef struct proxy_query {
	uint16_t id;
	uint16_t qtype, qclass;
	uint8_t qname[KNOT_DNAME_MAXLEN];   /*!< as sent (the client's case) */
	size_t qname_len;
	size_t question_end;    /*!< offset just past the question */
	bool edns;              /*!< the query has an OPT record */
	bool do_bit;
	uint16_t udp_size;      /*!< what a UDP answer may be: 512 without EDNS */
	bool has_ecs;           /*!< the client sent an ECS option */
	proxy_ecs_t ecs;        /*!< that option, when has_ecs */
} proxy_query_t;

/*!
 * \brief Decide what to do with a client's message and describe it.
 * QR=1 or shorter than a header: drop. Opcode other than QUERY: NOTIMP.
 * Not parsed by libknot, QDCOUNT other than 1, bad OPT: FORMERR.
 */
proxy_verdict_t proxy_msg_parse(const uint8_t *wire, size_t len, proxy_query_t *q);

/*!
 * \brief An answer of rcode to the query in wire (the question, and an OPT
 * record when the query had one); header only when the question is unreadable.
 * \return length written (0 when wire is not even a header)
 */
size_t proxy_msg_error(const uint8_t *wire, size_t len, const proxy_query_t *q,
                       uint8_t rcode, uint8_t *out, size_t cap);

/*! \brief The subnet to send for a client: its address masked to prefix4/6. */
void proxy_ecs_from_addr(const struct sockaddr *addr, unsigned prefix4,
                         unsigned prefix6, proxy_ecs_t *ecs);

/*!
 * \brief Remove every ECS option from the message's OPT and, when ecs is not
 * NULL, add one with ecs (adding an OPT record if there is none). The OPT
 * record must be the message's last record; if it is not (a TSIG follows),
 * the message is left alone.
 * \return the new length, or -CIRRUS_ESPACE / -CIRRUS_EINVAL (message unchanged)
 */
int proxy_msg_set_ecs(uint8_t *wire, size_t len, size_t cap, const proxy_ecs_t *ecs);

/*! \brief Remove the OPT record when it is the last record; the new length. */
size_t proxy_msg_strip_opt(uint8_t *wire, size_t len);

/*!
 * \brief Whether answer (from an upstream) answers the question of q:
 * QR=1, opcode QUERY, one question with q's name (any case), type, class.
 */
bool proxy_msg_matches(const uint8_t *answer, size_t len, const proxy_query_t *q);

/*!
 * \brief Seconds an answer may be cached: the smallest TTL in it, or for
 * NXDOMAIN/NODATA min(SOA TTL, SOA MINIMUM) of the authority SOA (RFC 2308).
 * \return the TTL, or -1 when it must not be cached (other rcodes, TC=1, a
 * negative answer without SOA, a message that does not parse)
 */
int64_t proxy_msg_cache_ttl(const uint8_t *wire, size_t len);

/*! \brief Lower every TTL (OPT aside) by seconds, not below 0. */
void proxy_msg_age(uint8_t *wire, size_t len, uint32_t seconds);

/*!
 * \brief Make an answer the client's: its ID, its question name's case,
 * no ECS option unless it sent one, no OPT unless it sent one.
 * \return the new length
 */
size_t proxy_msg_for_client(uint8_t *wire, size_t len, const proxy_query_t *q);

/*!
 * \brief For UDP: when the answer is longer than q->udp_size, replace it by
 * the header with TC=1, the question and the OPT record (if any).
 * \return the new length
 */
size_t proxy_msg_truncate(uint8_t *wire, size_t len, const proxy_query_t *q);

/*!
 * \brief The cache key: lower-case qname, qtype, qclass, DO bit and the
 * client subnet the upstream sees (ecs may be NULL).
 * \return key length
 */
size_t proxy_cache_key(const proxy_query_t *q, const proxy_ecs_t *ecs, uint8_t *key);

/* ------------------------------------------------------------------ */
/* Cache (proxy_cache.c): bounded, LRU, TTL-aware                      */

typedef struct proxy_cache proxy_cache_t;

/*! \brief A cache of at most size entries (NULL when out of memory). */
proxy_cache_t *proxy_cache_new(size_t size, uint32_t min_ttl, uint32_t max_ttl);

/*! \brief Free the cache and every entry. */
void proxy_cache_free(proxy_cache_t *cache);

/*!
 * \brief Store an answer under key at time now_ms (monotonic milliseconds),
 * for its proxy_msg_cache_ttl() clamped to [min_ttl, max_ttl]; replaces an
 * entry with the same key, evicts the least recently used when full.
 * \return 0, -CIRRUS_ENOENT when the answer is not cacheable, -CIRRUS_ENOMEM
 */
int proxy_cache_put(proxy_cache_t *cache, const uint8_t *key, size_t key_len,
                    const uint8_t *answer, size_t len, uint64_t now_ms);

/*!
 * \brief Copy a live answer for key into out with its TTLs lowered by the
 * whole seconds it has spent in the cache.
 * \return 0, -CIRRUS_ENOENT (absent or expired), -CIRRUS_ESPACE
 */
int proxy_cache_get(proxy_cache_t *cache, const uint8_t *key, size_t key_len,
                    uint64_t now_ms, uint8_t *out, size_t cap, size_t *len);

/*! \brief Entries held. */
size_t proxy_cache_count(const proxy_cache_t *cache);

/* ------------------------------------------------------------------ */
/* The proxy (proxy.c)                                                 */

/*!
 * \brief Run the proxy until SIGTERM or SIGINT.
 * \return 0, or -CIRRUS_E* when it could not start (logged)
 */
int proxy_run(const proxy_conf_t *conf);
