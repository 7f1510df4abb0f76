/* SPDX-License-Identifier: Apache-2.0
 * proxy_internal.h -- what the files of src/proxy/ share and nobody else
 * sees: the upstream set (libcurl multi on the libuv loop) and the
 * listeners (UDP and TCP on the same loop). One thread runs everything.
 */
#pragma once

#include <uv.h>

#include "proxy/proxy.h"

/* ------------------------------------------------------------------ */
/* Upstreams (proxy_upstream.c)                                        */

typedef struct proxy_upstreams proxy_upstreams_t;
typedef struct proxy_fetch proxy_fetch_t;

/*!
 * Called once per fetch that was not cancelled: status 0 with the body of
 * an HTTP 200 application/dns-message answer of at least a header, or a
 * negative status (answer NULL). The fetch is freed after the call.
 */
typedef void (*proxy_fetch_cb)(void *arg, int status, const uint8_t *answer, size_t len);

/*! \brief Set up curl multi on loop for the upstreams of conf; checks start too. */
int proxy_upstreams_new(uv_loop_t *loop, const proxy_conf_t *conf, proxy_upstreams_t **out);

/*! \brief Cancel every fetch, stop the checks, close the handles (the loop
 *  must run afterwards for the closes to finish) and free the set. */
void proxy_upstreams_free(proxy_upstreams_t *ups);

/*!
 * \brief The upstream to try next: a healthy one not in tried (a bit per
 * index) by the policy, else an untried unhealthy one, else -1.
 */
int proxy_upstream_pick(const proxy_upstreams_t *ups, uint32_t tried);

/*! \brief An upstream's URL, for logs. */
const char *proxy_upstream_url(const proxy_upstreams_t *ups, int index);

/*!
 * \brief POST query to upstream index, giving up after timeout_ms.
 * \return the fetch (cancel with proxy_fetch_cancel), or NULL if it could not start
 */
proxy_fetch_t *proxy_fetch_start(proxy_upstreams_t *ups, int index, const uint8_t *query,
                                 size_t len, unsigned timeout_ms, proxy_fetch_cb cb,
                                 void *arg);

/*! \brief Abandon a fetch: its callback is not called; health is not touched. */
void proxy_fetch_cancel(proxy_fetch_t *fetch);

/* ------------------------------------------------------------------ */
/* Listeners (proxy_listen.c)                                          */

typedef struct proxy_listen proxy_listen_t;
typedef struct proxy_tcp_conn proxy_tcp_conn_t;

/*! Where an answer goes: a UDP peer on a socket, or a TCP connection. */
typedef struct proxy_client {
	struct sockaddr_storage addr;
	uv_udp_t *udp;              /*!< UDP: the socket the query came on */
	proxy_tcp_conn_t *tcp;      /*!< TCP: the connection (a reference held) */
} proxy_client_t;

/*!
 * A message arrived. The callback owns the client from here on and must
 * end it with proxy_client_reply() or proxy_client_release(), exactly once
 * (now or later); wire is valid only during the call.
 */
typedef void (*proxy_query_cb)(void *arg, const proxy_client_t *client,
                               const uint8_t *wire, size_t len);

/*! \brief Bind UDP and TCP on every conf->listen address at conf->port. */
int proxy_listen_start(uv_loop_t *loop, const proxy_conf_t *conf, proxy_query_cb cb,
                       void *arg, proxy_listen_t **out);

/*! \brief Close every socket and connection; free after the loop has run. */
void proxy_listen_close(proxy_listen_t *l);

/*! \brief Free the listeners once their handles have closed. */
void proxy_listen_free(proxy_listen_t *l);

/*! \brief Send an answer (length-prefixed on TCP) and release the client. */
void proxy_client_reply(proxy_client_t *client, const uint8_t *wire, size_t len);

/*! \brief Release the client without an answer. */
void proxy_client_release(proxy_client_t *client);

/*! \brief Monotonic milliseconds (CLOCK_MONOTONIC). */
uint64_t proxy_now_ms(void);
