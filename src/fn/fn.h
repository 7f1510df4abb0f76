/* SPDX-License-Identifier: Apache-2.0
 * fn.h -- serverless function mode: the same engine answering over HTTP
 * (`cirrus function http`), for Cloud Run, Knative, Fly and the like. The
 * request decoders (DoH, the JSON API, client addresses behind proxies) are
 * pure and tested on their own; fn_zones keeps a read-only view of the
 * store and the zone files, and fn_http serves it with libmicrohttpd.
 * Not for the control plane: function mode never writes to the store.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <libknot/libknot.h>

#include "conf/conf.h"
#include "engine/engine.h"
#include "zone/zone.h"

/* Largest DNS message over HTTP (RFC 8484 6: the TCP limit). */
#define FN_MSG_MAX 65535

/* Longest text/plain refusal line, its newline included. */
#define FN_TEXT_MAX 512

/*!
 * \brief The body of a text/plain refusal (HTTP server and Lambda events
 * alike): fmt formatted, cut to fit, ended by a newline.
 * \return its length (at most FN_TEXT_MAX - 1; text is not NUL-terminated
 *         when it is that long)
 */
size_t fn_text_line(char text[FN_TEXT_MAX], const char *fmt, va_list ap);

/*
 * DoH (RFC 8484), fn_doh.c.
 */

/*!
 * \brief Decode base64url (RFC 4648 5), without padding as RFC 8484 6 asks
 * (trailing '=' is tolerated).
 * \param out      at least (in_len * 3) / 4 bytes, or out_max
 * \retval 0, -CIRRUS_EINVAL (a character outside the alphabet, a length no
 *         encoding has, or bits set past the end), -CIRRUS_ESPACE (more
 *         than out_max bytes)
 */
int fn_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max,
                     size_t *out_len);

/*! \brief Whether a Content-Type is application/dns-message (parameters allowed). */
bool fn_doh_content_type_ok(const char *content_type);

/*!
 * \brief Check that a message is one the engine should answer over DoH: a
 * header's worth of bytes, QR=0 and opcode QUERY.
 * \param reason  set to a short text when it is not
 * \retval 0, -CIRRUS_EINVAL
 */
int fn_doh_check_query(const uint8_t *msg, size_t len, const char **reason);

/*!
 * \brief Freshness of an answer for Cache-Control (RFC 8484 5.1): the
 * smallest TTL of its records (OPT aside); for an answer with no records
 * in ANSWER, also the SOA MINIMUM of a SOA in AUTHORITY (RFC 2308 5).
 * \retval true with *ttl set; false when the answer has no records (or
 *         does not parse): then no max-age is sent
 */
bool fn_cache_ttl(const uint8_t *answer, size_t len, uint32_t *ttl);

/*
 * The JSON API (Google and Cloudflare public DNS style), fn_json.c.
 */

/*! \brief The parameters of GET /resolve. */
typedef struct fn_resolve {
	knot_dname_storage_t qname;
	uint16_t qtype;                 /*!< default A */
	bool dnssec_ok;                 /*!< do=1 */
	bool checking_disabled;         /*!< cd=1 */
	bool has_ecs;                   /*!< edns_client_subnet was given */
	knot_edns_client_subnet_t ecs;  /*!< source prefix, address masked */
} fn_resolve_t;

/*! \brief Look up one request parameter by name; NULL when absent. */
typedef const char *(*fn_arg_cb_t)(void *ctx, const char *name);

/*!
 * \brief Read name, type, do, cd and edns_client_subnet.
 * \param reason  on failure, what is wrong (for a 400 reply)
 * \retval 0, -CIRRUS_EINVAL
 */
int fn_resolve_parse(fn_arg_cb_t arg, void *ctx, fn_resolve_t *out, char *reason,
                     size_t reason_len);

/*!
 * \brief Write the query for r: ID 0, RD=1, CD as asked, and an OPT record
 * when DO or a client subnet (RFC 7871) is asked for.
 * \retval 0, -CIRRUS_ESPACE
 */
int fn_resolve_query(const fn_resolve_t *r, uint8_t *wire, size_t max, size_t *len);

/*!
 * \brief Render an answer as application/dns-json: Status, TC, RD, RA, AD,
 * CD, Question, Answer, Authority, Additional (OPT left out), each record
 * {name, type, TTL, data} with data in presentation form.
 * \param r    the request, to echo edns_client_subnet (may be NULL)
 * \param out  NUL-terminated JSON, malloc'ed; the caller frees it
 * \retval 0, -CIRRUS_EINVAL (the answer does not parse), -CIRRUS_ENOMEM
 */
int fn_json_render(const uint8_t *answer, size_t len, const fn_resolve_t *r, char **out);

/*
 * The client address behind proxies, fn_client.c.
 */

/*! \brief An address block (IPv4 or IPv6) of trusted proxies. */
typedef struct fn_cidr {
	int family;             /*!< AF_INET or AF_INET6 */
	uint8_t addr[16];       /*!< network bytes, masked to prefix */
	uint8_t prefix;
} fn_cidr_t;

/*! \brief Keep the first prefix bits of addr (size bytes), clear the rest. */
void fn_prefix_mask(uint8_t *addr, size_t size, unsigned prefix);

/*! \brief Parse "10.0.0.0/8", "fd00::/8" or a bare address (a host).
 * \retval 0, -CIRRUS_EINVAL */
int fn_cidr_parse(const char *text, fn_cidr_t *out);

/*! \brief Whether sa (IPv4-mapped IPv6 counts as IPv4) is in one of the blocks. */
bool fn_cidr_match(const fn_cidr_t *blocks, size_t count, const struct sockaddr *sa);

/*!
 * \brief The client a request is on behalf of. The HTTP peer, unless it is
 * a trusted proxy: then the hops it reports (RFC 7239 Forwarded "for=", or
 * else X-Forwarded-For) are read from the right, skipping trusted proxies,
 * and the first untrusted one is the client. A hop that does not parse
 * ("unknown", an obfuscated name) ends the walk at the last good one.
 * \param peer       the HTTP peer
 * \param forwarded  every Forwarded header, joined with ',' (or NULL)
 * \param xff        every X-Forwarded-For header, joined with ',' (or NULL)
 * \param out        the client (port 0 unless Forwarded gave one)
 */
void fn_client_addr(const struct sockaddr *peer, const fn_cidr_t *trusted, size_t count,
                    const char *forwarded, const char *xff,
                    struct sockaddr_storage *out);

/*
 * Zones, fn_zones.c: zone files loaded once, store zones read through a
 * read-only connection and polled for changes. Readers get the current set
 * under RCU (the bulletproof flavour, so libmicrohttpd's threads need no
 * registration) and never wait for the store.
 */
typedef struct fn_zones fn_zones_t;

/*! \brief Where the zones come from. */
typedef struct fn_zones_conf {
	const char *conf_path;      /*!< the cirrus.yaml files came from (for errors) */
	const char *image_path;     /*!< compiled image to take them from, or NULL */
	const conf_zone_t *files;   /*!< zone files (from cirrus.yaml), with policies */
	size_t file_count;
	const char *store_path;     /*!< SQLite store, or NULL */
	bool store_required;        /*!< a missing store is an error, not "not yet" */
	unsigned poll_ms;           /*!< store poll interval; 0 = never re-read */
} fn_zones_conf_t;

/*!
 * \brief Load every zone file and the store's zones, and publish the set.
 * \retval 0, -CIRRUS_EINVAL (a zone failed; logged), -CIRRUS_EIO (store),
 *         -CIRRUS_ENOMEM
 */
int fn_zones_new(const fn_zones_conf_t *conf, fn_zones_t **out, char *err, size_t errlen);

/*!
 * \brief Read the store's zone list and rebuild the zones whose serial or
 * time changed (and add or drop zones); publish a new set when anything
 * changed. A zone that fails to build keeps its previous version.
 * \retval 1 published, 0 nothing changed, -CIRRUS_EIO (store unreadable;
 *         the previous zones keep serving)
 */
int fn_zones_poll(fn_zones_t *z);

/*! \brief Poll every conf.poll_ms on a thread of its own. \retval 0, -CIRRUS_EIO */
int fn_zones_start(fn_zones_t *z);

/*!
 * \brief Check the compiled image's checksum now that the instance answers
 * (images are loaded with ZONE_IMAGE_VERIFY_LATER), at idle priority; a
 * damaged image is logged and ends the process with status 1
 * (fn_verify.c). No image, nothing to do. \retval 0, -CIRRUS_ENOMEM, -CIRRUS_EIO
 */
int fn_zones_verify_image(fn_zones_t *z);

/*!
 * \brief Stop the poll thread, waiting at most wait_ms for a rebuild in
 * progress. \retval 0, -CIRRUS_ELIMIT (still busy: do not free z)
 */
int fn_zones_stop(fn_zones_t *z, unsigned wait_ms);

/*! \brief Free everything (after fn_zones_stop and with no reader left). */
void fn_zones_free(fn_zones_t *z);

/*! \brief Enter a read-side section and get the current set (never NULL
 * after fn_zones_new). Leave with fn_zones_unlock() before sleeping. */
const zone_set_t *fn_zones_lock(fn_zones_t *z);
void fn_zones_unlock(fn_zones_t *z);

/*! \brief Number of zones in the current set. */
size_t fn_zones_count(fn_zones_t *z);

/*
 * The HTTP function, fn_http.c.
 */
typedef struct fn_http fn_http_t;

typedef struct fn_http_conf {
	const char *listen;             /*!< numeric IP address */
	uint16_t port;
	unsigned threads;               /*!< libmicrohttpd worker threads, >= 1 */
	const fn_cidr_t *trusted;       /*!< proxies whose forwarding headers count */
	size_t trusted_count;
	const engine_conf_t *engine;
	fn_zones_t *zones;
} fn_http_conf_t;

/*! \brief Listen and serve. \retval 0, -CIRRUS_EIO (cannot listen; err says why),
 *         -CIRRUS_EINVAL, -CIRRUS_ENOMEM */
int fn_http_start(const fn_http_conf_t *conf, fn_http_t **out, char *err, size_t errlen);

/*!
 * \brief Stop accepting connections, let requests in flight finish for at
 * most wait_ms, then close everything and free h.
 * \return the number of requests still in flight when time ran out
 */
unsigned fn_http_stop(fn_http_t *h, unsigned wait_ms);

/*
 * AWS Lambda, fn_lambda_event.c (pure: one event in, one reply out) and
 * fn_lambda.c (the custom runtime's loop on the Lambda Runtime API).
 */

/*! \brief What a Lambda event is answered from. */
typedef struct fn_lambda_ctx {
	const zone_set_t *zones;        /*!< the current set (under fn_zones_lock) */
	const engine_conf_t *engine;
	arena_t *scratch;               /*!< reset after each event */
} fn_lambda_ctx_t;

/*! \brief The outcome of one event: a response payload, or an invocation error. */
typedef struct fn_lambda_reply {
	char *payload;                  /*!< JSON for invocation/{id}/response
	                                     (malloc'ed), or NULL on error */
	const char *error_type;         /*!< otherwise the errorType, e.g. Cirrus.BadEvent */
	char error_message[512];
} fn_lambda_reply_t;

/*!
 * \brief Answer one Lambda event: an API Gateway HTTP API (payload format
 * 2.0) or Function URL request carrying DoH (/dns-query) or the JSON API
 * (/resolve), answered in the 2.0 response format; a direct invocation
 * {"name": ..., "type": ...} (the JSON API object) or {"query": BASE64}
 * ({"answer": BASE64}). An HTTP request that is refused is still a
 * response (400, 404, 405, 413, 414, 415); an event of no known shape, or
 * a bad direct invocation, is an invocation error.
 * \retval 0 (out->payload set), -CIRRUS_EINVAL (out->error_type and
 *         error_message set), -CIRRUS_ENOMEM
 */
int fn_lambda_handle(const fn_lambda_ctx_t *ctx, const char *event, size_t len,
                     fn_lambda_reply_t *out);

/*! \brief Encode standard base64 (RFC 4648 4, padded), malloc'ed and NUL-terminated. */
char *fn_b64_encode(const uint8_t *in, size_t len);

/*!
 * \brief Decode standard base64 with padding (RFC 4648 4), as Lambda
 * encodes binary bodies; the base64url alphabet is accepted too.
 * \retval 0, -CIRRUS_EINVAL, -CIRRUS_ESPACE (more than out_max bytes),
 *         -CIRRUS_ENOMEM
 */
int fn_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max,
                  size_t *out_len);

/*! \brief A runtime: one keep-alive connection to the Runtime API. */
typedef struct fn_lambda fn_lambda_t;

typedef struct fn_lambda_conf {
	const engine_conf_t *engine;
	fn_zones_t *zones;
	unsigned poll_ms;               /*!< re-read the store before an event at most
	                                     this often; 0 = never */
} fn_lambda_conf_t;

/*!
 * \brief Prepare a client of the Runtime API at host:port (the value of
 * AWS_LAMBDA_RUNTIME_API). \retval 0, -CIRRUS_EINVAL, -CIRRUS_ENOMEM
 */
int fn_lambda_new(const char *api, fn_lambda_t **out, char *err, size_t errlen);

/*!
 * \brief Report a failed initialization (POST init/error); the runtime
 * should exit afterwards. \retval 0 accepted, -CIRRUS_EIO
 */
int fn_lambda_init_error(fn_lambda_t *l, const char *type, const char *message);

/*!
 * \brief Take events from invocation/next and post each one's response or
 * error, until SIGTERM or SIGINT (0) or until the Runtime API fails
 * (-CIRRUS_EIO: exit and let Lambda start a new instance).
 */
int fn_lambda_run(fn_lambda_t *l, const fn_lambda_conf_t *conf);

void fn_lambda_free(fn_lambda_t *l);
