/* SPDX-License-Identifier: Apache-2.0
 * udp.c -- UDP workers. Each thread owns one SO_REUSEPORT socket (the
 * kernel spreads clients over the workers of an address), blocks in
 * recvmmsg until a batch is there, answers each query with engine_handle()
 * (net_answer()) and sends the answers with one sendmmsg. There is no
 * poll(): under load that was a third of the worker's system calls. Buffers
 * are allocated once per worker: the query path takes no lock and calls no
 * malloc (an UPDATE, handed to the control plane, does both and waits for a
 * commit). net_udp_stop() wakes the blocked receive with shutdown().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu.h>

#include "net/net_internal.h"
#include "util/arena.h"
#include "util/error.h"
#include "util/log.h"

#define UDP_BATCH 64            /* datagrams per recvmmsg */
#define UDP_MSG_MAX 65535       /* largest datagram, query or answer */
#define UDP_SOCKBUF (4 << 20)   /* SO_RCVBUF and SO_SNDBUF we ask for */
#define UDP_SCRATCH (64 * 1024) /* arena chunk */
#define UDP_COALESCE_BELOW 8    /* batches smaller than this are followed by a pause */

/* Room for the one control message we ask for: the query's destination. */
#define UDP_CMSG_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

struct net_udp {
	net_server_t *srv;
	pthread_t thread;
	int fd;                     /* this worker's socket, -1 until open */
	arena_t scratch;            /* engine scratch, reset after each batch */
	uint8_t *rx;                /* UDP_BATCH queries of UDP_MSG_MAX bytes */
	uint8_t *tx;                /* UDP_BATCH answers of UDP_MSG_MAX bytes */
	struct mmsghdr rx_msgs[UDP_BATCH];
	struct mmsghdr tx_msgs[UDP_BATCH];
	struct iovec rx_iov[UDP_BATCH];
	struct iovec tx_iov[UDP_BATCH];
	struct sockaddr_storage peers[UDP_BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[UDP_CMSG_SPACE];
	} cmsg[UDP_BATCH];
};

static socklen_t addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	                                  sizeof(struct sockaddr_in6);
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Socket options and bind; -1 with errno set on failure. */
static int udp_setup(int fd, const struct sockaddr_storage *addr)
{
	int on = 1, size = UDP_SOCKBUF;
	/* A smaller buffer than asked for (net.core.rmem_max) still works. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
		return -1;
	}
	bool v6 = addr->ss_family == AF_INET6;
	if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
		return -1;
	}
	/* On a wildcard address, learn each query's destination to answer from it. */
	if (is_wildcard(addr) &&
	    setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_RECVPKTINFO : IP_PKTINFO,
	               &on, sizeof(on)) != 0) {
		return -1;
	}
	return bind(fd, (const struct sockaddr *)addr, addr_len(addr));
}

static int udp_socket(const net_addr_t *a, int *out)
{
	/* Blocking: the worker sleeps in recvmmsg, not in poll. */
	int fd = socket(a->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || udp_setup(fd, &a->addr) != 0) {
		int err = errno;
		log_error("cannot listen on UDP %s port %u: %s", a->text, net_addr_port(a),
		          strerror(err));
		if (fd >= 0) {
			close(fd);
		}
		return CIRRUS_EIO;
	}
	*out = fd;
	return 0;
}

/* Point every receive header at its buffers; done once. */
static void udp_init_msgs(net_udp_t *u)
{
	for (size_t i = 0; i < UDP_BATCH; i++) {
		u->rx_iov[i] = (struct iovec) { u->rx + i * UDP_MSG_MAX, UDP_MSG_MAX };
		struct msghdr *h = &u->rx_msgs[i].msg_hdr;
		h->msg_name = &u->peers[i];
		h->msg_iov = &u->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = u->cmsg[i].buf;
	}
}

int net_udp_new(net_server_t *srv, const net_addr_t *addr, net_udp_t **out)
{
	net_udp_t *u = calloc(1, sizeof(*u));
	if (u == NULL) {
		return CIRRUS_ENOMEM;
	}
	u->srv = srv;
	u->fd = -1;
	arena_init(&u->scratch, UDP_SCRATCH);
	u->rx = malloc((size_t)UDP_BATCH * UDP_MSG_MAX);
	u->tx = malloc((size_t)UDP_BATCH * UDP_MSG_MAX);
	if (u->rx == NULL || u->tx == NULL) {
		net_udp_free(u);
		return CIRRUS_ENOMEM;
	}
	udp_init_msgs(u);
	int r = udp_socket(addr, &u->fd);
	if (r != 0) {
		net_udp_free(u);
		return r;
	}
	*out = u;
	return 0;
}

/* The kernel overwrites these on every receive. */
static void udp_prepare(net_udp_t *u)
{
	for (size_t i = 0; i < UDP_BATCH; i++) {
		struct msghdr *h = &u->rx_msgs[i].msg_hdr;
		h->msg_namelen = sizeof(u->peers[i]);
		h->msg_controllen = sizeof(u->cmsg[i].buf);
		h->msg_flags = 0;
	}
}

/*
 * Make the received destination address the source of the answer: on a
 * wildcard socket the kernel would otherwise pick one by route. IPv6 takes
 * IPV6_PKTINFO back as it came; IPv4 wants it in ipi_spec_dst.
 */
static void udp_answer_source(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
		}
	}
}

/* Queue answer i (len bytes) as send slot. */
static void udp_queue(net_udp_t *u, unsigned slot, unsigned i, size_t len)
{
	struct msghdr *rx = &u->rx_msgs[i].msg_hdr;
	struct msghdr *tx = &u->tx_msgs[slot].msg_hdr;
	u->tx_iov[slot] = (struct iovec) { u->tx + (size_t)i * UDP_MSG_MAX, len };
	*tx = (struct msghdr) {
		.msg_name = rx->msg_name,
		.msg_namelen = rx->msg_namelen,
		.msg_iov = &u->tx_iov[slot],
		.msg_iovlen = 1,
		.msg_control = rx->msg_controllen > 0 ? rx->msg_control : NULL,
		.msg_controllen = rx->msg_controllen,
	};
	udp_answer_source(tx);
}

/* Answer count received queries; return how many answers were queued. */
static unsigned udp_answer(net_udp_t *u, unsigned count)
{
	const net_server_t *srv = u->srv;
	unsigned out = 0;
	for (unsigned i = 0; i < count; i++) {
		engine_query_t q = {
			.transport = ENGINE_TRANSPORT_UDP,
			.remote = (const struct sockaddr *)&u->peers[i],
		};
		size_t len = 0;
		engine_action_t act = net_answer(srv, &q, u->rx + (size_t)i * UDP_MSG_MAX,
		                                 u->rx_msgs[i].msg_len,
		                                 u->tx + (size_t)i * UDP_MSG_MAX,
		                                 UDP_MSG_MAX, &len, &u->scratch);
		if (act == ENGINE_SEND) {
			udp_queue(u, out++, i, len);
		}
	}
	return out;
}

static void udp_send(net_udp_t *u, unsigned count)
{
	unsigned sent = 0;
	while (sent < count) {
		int r = sendmmsg(u->fd, u->tx_msgs + sent, count - sent, MSG_DONTWAIT);
		if (r > 0) {
			sent += r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return; /* send buffer full: drop the rest, as a busy router would */
		} else {
			sent++; /* this one cannot be sent (say, a bad peer address): skip it */
		}
	}
}

/*
 * Interrupt moderation, as network cards do it: after a batch of fewer than
 * UDP_COALESCE_BELOW queries, wait udp_coalesce_us before reading again, so
 * that the next recvmmsg finds several queries instead of one or two. Each
 * batch costs two system calls and often a wakeup whatever its size; under
 * load that per-batch cost is most of what a query costs the server.
 * Answers are never held back (the batch is already sent), and an idle
 * worker sleeps in recvmmsg and answers a lone query at once; a query that
 * arrives just after a small batch waits at most the pause.
 */
static void udp_coalesce(const net_udp_t *u, int batch)
{
	unsigned us = u->srv->conf.udp_coalesce_us;
	if (us > 0 && batch < UDP_COALESCE_BELOW) {
		struct timespec pause = { 0, (long)us * 1000 };
		nanosleep(&pause, NULL);
	}
}

static bool udp_stopping(const net_udp_t *u)
{
	return __atomic_load_n(&u->srv->stopping, __ATOMIC_ACQUIRE);
}

static void *udp_main(void *arg)
{
	net_udp_t *u = arg;
	rcu_register_thread();
	while (!udp_stopping(u)) {
		udp_prepare(u);
		/* Sleeps until one datagram is there, then takes what else is queued. */
		int n = recvmmsg(u->fd, u->rx_msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			/* 0 or an error once net_udp_stop() shut the socket down; EINTR;
			 * or an error the next receive may not have (ENOMEM). */
			if (n < 0 && errno != EINTR && errno != EAGAIN && !udp_stopping(u)) {
				log_warning("UDP worker: recvmmsg: %s", strerror(errno));
			}
			continue;
		}
		udp_send(u, udp_answer(u, n));
		/* The answers are sent: nothing points into the scratch any more. */
		arena_reset(&u->scratch);
		udp_coalesce(u, n);
	}
	rcu_unregister_thread();
	return NULL;
}

int net_udp_start(net_udp_t *u)
{
	int r = pthread_create(&u->thread, NULL, udp_main, u);
	if (r != 0) {
		log_error("cannot start a UDP worker: %s", strerror(r));
		return CIRRUS_EIO;
	}
	return 0;
}

void net_udp_join(net_udp_t *u)
{
	pthread_join(u->thread, NULL);
}

void net_udp_stop(net_udp_t *u)
{
	/* Linux wakes a receiver blocked on an unconnected UDP socket and makes
	 * it return 0, although shutdown() itself says ENOTCONN there. */
	(void)shutdown(u->fd, SHUT_RD);
}

void net_udp_free(net_udp_t *u)
{
	if (u->fd >= 0) {
		close(u->fd);
	}
	arena_deinit(&u->scratch);
	free(u->rx);
	free(u->tx);
	free(u);
}
