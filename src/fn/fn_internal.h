/* SPDX-License-Identifier: Apache-2.0
 * fn_internal.h -- shared by fn_http.c (the server and a request's stages)
 * and fn_handle.c (the endpoints): the server's state and one request's.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <microhttpd.h>

#include "fn/fn.h"

struct fn_http {
	struct MHD_Daemon *daemon;
	fn_http_conf_t conf;
	pthread_key_t worker_key;   /*!< per-thread fn_worker_t */
	atomic_uint inflight;       /*!< requests begun and not completed */
	atomic_bool draining;       /*!< SIGTERM: answer with Connection: close */
	char start_err[256];
	atomic_bool started;
};

/*! \brief One request; libmicrohttpd keeps it between calls. */
typedef struct fn_req {
	fn_http_t *http;
	struct MHD_Connection *conn;
	const char *method;
	void (*handler)(struct fn_req *req);
	uint8_t *body;              /*!< POST body, at most FN_MSG_MAX */
	size_t body_len;
	size_t dropped;             /*!< body bytes thrown away after a refusal */
	unsigned status;            /*!< 0 until a reply is decided */
	struct sockaddr_storage client;  /*!< who the engine was told asked
	                                      (AF_UNSPEC when it was not asked) */
	struct MHD_Response *response;
} fn_req_t;

/*! \brief Reply with a short text reason (errors, health). */
void fn_reply_text(fn_req_t *req, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief A request header, or NULL. */
const char *fn_header(fn_req_t *req, const char *name);

/*! \brief Free a worker thread's buffers (the worker_key destructor). */
void fn_worker_free(void *worker);

/* The endpoints (fn_handle.c). */
void fn_handle_doh(fn_req_t *req);
void fn_handle_resolve(fn_req_t *req);
void fn_handle_healthz(fn_req_t *req);
void fn_handle_readyz(fn_req_t *req);

/*! \brief Check the checksum of the image zones come from (the first zone
 *  from one names it) on a detached thread of idle priority; a damaged one
 *  ends the process (fn_verify.c). \retval 0, -CIRRUS_ENOMEM, -CIRRUS_EIO */
int fn_image_verify_start(zone_t *const *zones, size_t count, const char *path);
