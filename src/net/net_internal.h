/* SPDX-License-Identifier: Apache-2.0
 * net_internal.h -- what server.c, udp.c and tcp.c share: the server state
 * and the UDP and TCP halves it drives. Only net/ includes this file; other
 * modules use net.h.
 */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <uv.h>

#include "net/net.h"

/*! \brief A listen address in use, with its text for log lines. */
typedef struct net_addr {
	struct sockaddr_storage addr;
	char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
} net_addr_t;

typedef struct net_udp net_udp_t;
typedef struct net_tcp net_tcp_t;

struct net_server {
	zone_set_t *zones;          /*!< RCU-protected: rcu_dereference() to read */
	net_conf_t conf;            /*!< as given, without the listen list */
	net_addr_t *addrs;          /*!< addresses in use */
	size_t addr_count;
	net_udp_t **udp;            /*!< workers x addresses, one socket each */
	size_t udp_count;
	uv_loop_t loop;             /*!< TCP, signals and reloads */
	net_tcp_t *tcp;
	uv_signal_t signals[3];     /*!< SIGTERM, SIGINT, SIGHUP */
	size_t signal_count;
	uv_work_t reload_req;
	bool reload_busy;           /*!< a reload is running */
	bool reload_again;          /*!< SIGHUP came during it: run once more */
	bool stopping;              /*!< set once (atomically): workers end */
};

/*!
 * \brief Answer one message (net/answer.c): an UPDATE to conf.update when it
 * is set, everything else to the engine with the current zone set (RCU).
 * Arguments as for engine_handle().
 */
engine_action_t net_answer(const net_server_t *srv, const engine_query_t *q,
                           const uint8_t *msg, size_t len, uint8_t *answer,
                           size_t answer_max, size_t *answer_len, arena_t *scratch);

/*! \brief Port of a listen address, for log lines. */
unsigned net_addr_port(const net_addr_t *a);

/*!
 * \brief Open one UDP worker: its socket on addr, bound with SO_REUSEPORT.
 * \retval 0, CIRRUS_EIO (logged), CIRRUS_ENOMEM
 */
int net_udp_new(net_server_t *srv, const net_addr_t *addr, net_udp_t **out);

/*! \brief Start the worker thread. \retval 0, CIRRUS_EIO */
int net_udp_start(net_udp_t *udp);

/*! \brief Wake the worker so that it sees srv->stopping and ends. */
void net_udp_stop(net_udp_t *udp);

/*! \brief Wait for a started worker to end (after net_udp_stop()). */
void net_udp_join(net_udp_t *udp);

/*! \brief Close the sockets and free the worker (joined or never started). */
void net_udp_free(net_udp_t *udp);

/*! \brief Allocate the TCP state. \retval 0, CIRRUS_ENOMEM */
int net_tcp_new(net_server_t *srv, net_tcp_t **out);

/*!
 * \brief Open a listener per address on srv->loop. On failure, the ones
 * opened stay for net_tcp_stop().
 * \retval 0, CIRRUS_EIO (logged)
 */
int net_tcp_listen(net_tcp_t *tcp);

/*! \brief Close the listeners and every connection (on the loop thread). */
void net_tcp_stop(net_tcp_t *tcp);

/*! \brief Free the TCP state once the loop has run every close callback. */
void net_tcp_free(net_tcp_t *tcp);
