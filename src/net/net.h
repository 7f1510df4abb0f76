/* SPDX-License-Identifier: Apache-2.0
 * net.h -- the DNS listeners: UDP workers (one SO_REUSEPORT socket per worker
 * and address, recvmmsg/sendmmsg), TCP on a libuv loop (RFC 7766), signal
 * handling, the zone set they answer from, published with RCU, and the
 * hand-off of RFC 2136 UPDATE messages to a handler (the control plane).
 * Not for answering (engine/) nor for loading zones (the reload callback).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine/engine.h"
#include "zone/zone.h"

typedef struct net_server net_server_t;

/*!
 * \brief Called on SIGHUP, on a thread of its own, never twice at once.
 * It may load zones and call net_server_publish().
 */
typedef void (*net_reload_cb_t)(void *ctx);

/*!
 * \brief Answers an RFC 2136 UPDATE (opcode 5) message: ctl_update_handle()
 * behind a void context. It runs on the UDP worker or the TCP loop thread
 * that received the message, outside any RCU read-side section.
 * \return 0 to send answer_len bytes of answer, anything else to drop
 */
typedef int (*net_update_cb_t)(void *ctx, const uint8_t *msg, size_t len,
                               const struct sockaddr *remote, uint8_t *answer,
                               size_t max, size_t *answer_len);

/*! \brief What to listen on and how; the server copies what it needs. */
typedef struct net_conf {
	const struct sockaddr_storage *listen;  /*!< addresses with the port set */
	size_t listen_count;
	unsigned workers;             /*!< UDP worker threads, at least 1 */
	unsigned udp_coalesce_us;     /*!< pause after a small batch (udp.c); 0 = off */
	unsigned tcp_idle_timeout;    /*!< seconds without a query before close */
	unsigned tcp_io_timeout;      /*!< seconds to finish a started message */
	unsigned tcp_max_clients;     /*!< open TCP connections at most */
	const engine_conf_t *engine;  /*!< must outlive the server */
	net_reload_cb_t reload;       /*!< on SIGHUP (may be NULL) */
	void *reload_ctx;
	/* UPDATE messages go here instead of the engine (which says NOTIMP
	 * when this is NULL). It blocks the receiving UDP worker, or the TCP
	 * loop with every connection on it, for one durable store commit. */
	net_update_cb_t update;
	void *update_ctx;
} net_conf_t;

/*!
 * \brief Open and bind every socket, so that address errors show at once.
 *
 * ::1 is skipped with a warning when IPv6 is not available; every other
 * address that cannot be bound is an error (logged with the address).
 *
 * \param conf  listen settings
 * \param out   the server, not yet running; release with net_server_free()
 * \retval 0 on success
 * \retval CIRRUS_EIO     a socket could not be opened or bound
 * \retval CIRRUS_EINVAL  no address could be used
 * \retval CIRRUS_ENOMEM
 */
int net_server_new(const net_conf_t *conf, net_server_t **out);

/*!
 * \brief Make zones the set every new query is answered from.
 *
 * Waits until no query uses the previous set (RCU grace period), then frees
 * it. Call from one thread at a time: before net_server_run() or from the
 * reload callback.
 *
 * \param srv    server
 * \param zones  the new set; the server owns it from now on
 */
void net_server_publish(net_server_t *srv, zone_set_t *zones);

/*!
 * \brief Serve until SIGTERM or SIGINT: start the UDP workers, run the TCP
 * loop on the calling thread, then stop and join everything.
 * SIGHUP calls conf->reload. The calling thread must not hold an RCU
 * registration of its own.
 *
 * \retval 0 after an orderly shutdown
 * \retval CIRRUS_EIO     a thread or a signal handler could not be started
 * \retval CIRRUS_ENOMEM
 */
int net_server_run(net_server_t *srv);

/*! \brief Close every socket and free the server and its zone set. */
void net_server_free(net_server_t *srv);
