/* SPDX-License-Identifier: Apache-2.0
 * api_internal.h -- what the files of api/ share: the server, one request
 * in flight, the reply helpers and the handlers. A handler runs once the
 * whole body is in; it leaves exactly one reply on the request through an
 * api_reply_*() call, and api_http.c sends it with the common headers.
 */
#pragma once

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"
#include "api/api_parse.h"

typedef struct api_sync api_sync_t;

/*! \brief The running API. */
struct api {
	struct MHD_Daemon *daemon;
	api_sync_t *sync;            /*!< where changes wait for the disk (api_sync.c) */
	ctl_t *ctl;
	registry_t *registry;        /*!< service registry, or NULL */
	size_t max_body;
	char *cert_pem;              /*!< TLS certificate chain, or NULL */
	char *key_pem;               /*!< TLS key, or NULL */
	char start_err[256];         /*!< libmicrohttpd's last word while starting */
	atomic_bool running;         /*!< started: log lines no longer go to start_err */
};

/*! \brief Room for a request id with its NUL (ids are 1 to 64 bytes). */
#define API_REQUEST_ID_SIZE 65
/*! \brief Room for a zone name in presentation form with its NUL. */
#define API_ZONE_SIZE 1025

typedef struct api_req api_req_t;
typedef void (*api_handler_t)(api_req_t *req);

/*! \brief One request in flight; lives from its first byte to its reply. */
struct api_req {
	api_t *api;
	struct MHD_Connection *conn;
	const char *method;              /*!< libmicrohttpd's, valid until the reply */
	char id[API_REQUEST_ID_SIZE];    /*!< X-Request-Id, received or made */
	api_handler_t handler;           /*!< from the route, NULL until routed */
	char *arg;                       /*!< the {zone} or {name} of the path, or NULL;
	                                      with several, from the first to the last
	                                      ("zone/service/instances/id") */
	char actor[128];                 /*!< token name once authenticated */
	char scopes[API_SCOPES_SIZE];    /*!< its canonical scopes */
	char *body;                      /*!< request body, NUL-terminated */
	size_t body_len;
	size_t dropped;                  /*!< body bytes read and dropped after a reply */
	unsigned status;                 /*!< of the reply, 0 until there is one */
	struct MHD_Response *response;
	bool www_authenticate;           /*!< add WWW-Authenticate to the reply */
	bool renewal;                    /*!< a lease renewal: logged at debug, not as a change */
	bool lazy;                       /*!< its handler committed lazily: the reply waits
	                                      for the disk (api_sync.c) */
	bool synced;                     /*!< its change is on disk (or the reply says why not) */
	api_req_t *sync_next;            /*!< in api_sync's queue */
};

/* api_sync.c: replies to changes wait for the disk off the request's thread. */

/*! \brief Start the thread. \retval 0, -CIRRUS_ENOMEM */
int api_sync_start(ctl_t *ctl, api_sync_t **out);

/*! \brief Called with a change's reply ready: if a commit still waits for
 * the disk, suspend the connection and queue it (true: reply when
 * libmicrohttpd calls again, req->synced then set); else false (reply
 * now). While stopping, it waits for the disk itself and returns false. */
bool api_sync_defer(api_sync_t *s, api_req_t *req);

/*! \brief Resume every queued connection (after their fsync) and stop the
 * thread; later changes wait for the disk in their own thread. Before
 * MHD_stop_daemon() (which may close a resumed connection before its reply
 * is sent: the change is on disk, its client sees a closed connection);
 * api_sync_free() after it. */
void api_sync_stop(api_sync_t *s);
void api_sync_free(api_sync_t *s);

/* api_reply.c: the reply, with JSON bodies and errors. */

/*! \brief Reply with a JSON value (stolen; NULL means out of memory → 500). */
void api_reply_json(api_req_t *req, unsigned status, json_t *body);

/*! \brief Reply {"error": message, "field": field} (field NULL → ""). */
void api_reply_error(api_req_t *req, unsigned status, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*! \brief Reply with text; owned: text was malloc'ed and is now the reply's. */
void api_reply_text(api_req_t *req, unsigned status, const char *content_type,
                    const char *text, size_t len, bool owned);

/*! \brief Reply with no body (204). */
void api_reply_empty(api_req_t *req, unsigned status);

/*! \brief HTTP status for a CIRRUS_E* code (either sign: ctl/ and store/
 * return the code negated in places). */
unsigned api_status_of(int code);

/*! \brief Reply with a failed ctl call's error (status from err, else code). */
void api_reply_ctl(api_req_t *req, int code, const ctl_error_t *err);

/*! \brief Whether code is the error want, whichever sign either has. */
bool api_code_is(int code, int want);

/* Request helpers; each one that returns false has replied. */

/*! \brief A query argument, or NULL. */
const char *api_query(api_req_t *req, const char *key);

/*! \brief Check the query has only arguments from known (NULL-terminated). */
bool api_query_known(api_req_t *req, const char *const *known);

/*! \brief Parse the body as a JSON object; 400 when it is not one. */
json_t *api_body_object(api_req_t *req);

/*! \brief Check obj has only keys from known; field names the first other
 * as prefix + key ("rrsets[2].bogus"). */
bool api_json_keys_known(api_req_t *req, json_t *obj, const char *prefix,
                         const char *const *known);

/*! \brief A zone name in canonical form (lower case, final dot); 400 with
 * field when name is not a domain name. */
bool api_zone_name(api_req_t *req, const char *name, const char *field,
                   char out[API_ZONE_SIZE]);

/*! \brief 403 unless the token's scopes allow access to zone. */
bool api_need_zone(api_req_t *req, const char *zone, api_access_t access);

/*! \brief 403 unless the token has the admin scope. */
bool api_need_admin(api_req_t *req);


/* api_auth.c */

/*! \brief Check the bearer token and fill req->actor and req->scopes;
 * 401 with WWW-Authenticate when it is missing or unknown. */
bool api_authenticate(api_req_t *req);

/*! \brief Fill req->id from a sane X-Request-Id, else with a new random one. */
void api_request_id(api_req_t *req);

/* api_token_cache.c: tokens accepted lately, by hash. Thread-safe. */

/*! \brief How long an accepted token is trusted without asking the store
 * whether another process wrote to it, while a change holds the store. */
#define API_TOKEN_CACHE_STALE_US 1000000

/*! \brief The token with this hash: from the cache when it is still good
 * (docs/api.yaml, tokens), else from the store (and then cached).
 * \retval 0, -CIRRUS_ENOENT, another store error */
int api_token_find(ctl_t *ctl, const char *hash, store_token_t *out);
/*! \brief A token was made or deleted here: drop every entry at once. */
void api_token_cache_forget(void);

/* Handlers, one file per resource. */
void api_zones_list(api_req_t *req);
void api_zones_create(api_req_t *req);
void api_zone_get(api_req_t *req);
void api_zone_delete(api_req_t *req);
void api_zone_export(api_req_t *req);
void api_rrsets_get(api_req_t *req);
void api_rrsets_patch(api_req_t *req);
void api_policies_list(api_req_t *req);
void api_policy_get(api_req_t *req);
void api_policy_put(api_req_t *req);
void api_policy_delete(api_req_t *req);
void api_latency_get(api_req_t *req);
void api_latency_put(api_req_t *req);
void api_latency_delete(api_req_t *req);
void api_audit_get(api_req_t *req);
void api_tokens_list(api_req_t *req);
void api_tokens_create(api_req_t *req);
void api_token_delete(api_req_t *req);
void api_health_get(api_req_t *req);
void api_health_drill(api_req_t *req);
void api_health_drill_end(api_req_t *req);
void api_services_list(api_req_t *req);
void api_service_get(api_req_t *req);
void api_instance_put(api_req_t *req);
void api_instance_delete(api_req_t *req);
void api_instance_heartbeat(api_req_t *req);

/* The OpenAPI document, docs/api.yaml, embedded at build time. */
extern const unsigned char api_openapi_yaml[];
extern const size_t api_openapi_yaml_len;
