/* SPDX-License-Identifier: Apache-2.0
 * server.c -- the server's life: choose the addresses, open the UDP workers
 * and TCP listeners, run the libuv loop (TCP, signals, reloads) on the
 * calling thread, publish zone sets with RCU, and shut down in order.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu.h>

#include "net/net_internal.h"
#include "util/error.h"
#include "util/log.h"

unsigned net_addr_port(const net_addr_t *a)
{
	if (a->addr.ss_family == AF_INET) {
		return ntohs(((const struct sockaddr_in *)&a->addr)->sin_port);
	}
	return ntohs(((const struct sockaddr_in6 *)&a->addr)->sin6_port);
}

/*
 * Whether addr is ::1 on a host without IPv6. ::1 is in the default listen
 * list, so such a host would otherwise fail to start with the defaults.
 */
static bool ipv6_loopback_missing(const struct sockaddr_storage *addr)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
	if (addr->ss_family != AF_INET6 || !IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
		return false;
	}
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return errno == EAFNOSUPPORT;
	}
	struct sockaddr_in6 probe = *a6;
	probe.sin6_port = 0;
	bool missing = bind(fd, (struct sockaddr *)&probe, sizeof(probe)) != 0 &&
	               (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT);
	close(fd);
	return missing;
}

static int server_addrs(net_server_t *srv, const net_conf_t *conf)
{
	srv->addrs = calloc(conf->listen_count, sizeof(net_addr_t));
	if (srv->addrs == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < conf->listen_count; i++) {
		net_addr_t *a = &srv->addrs[srv->addr_count];
		a->addr = conf->listen[i];
		socklen_t len = a->addr.ss_family == AF_INET ?
		                sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		getnameinfo((struct sockaddr *)&a->addr, len, a->text, sizeof(a->text),
		            NULL, 0, NI_NUMERICHOST);
		if (ipv6_loopback_missing(&a->addr)) {
			log_warning("IPv6 is not available: not listening on %s", a->text);
			continue;
		}
		srv->addr_count++;
	}
	if (srv->addr_count == 0) {
		log_error("no address to listen on");
		return CIRRUS_EINVAL;
	}
	return 0;
}

static int server_open(net_server_t *srv, const net_conf_t *conf)
{
	int r = server_addrs(srv, conf);
	if (r != 0) {
		return r;
	}
	srv->udp = calloc((size_t)conf->workers * srv->addr_count, sizeof(net_udp_t *));
	if (srv->udp == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (unsigned i = 0; i < conf->workers; i++) {
		for (size_t a = 0; a < srv->addr_count; a++) {
			r = net_udp_new(srv, &srv->addrs[a], &srv->udp[srv->udp_count]);
			if (r != 0) {
				return r;
			}
			srv->udp_count++;
		}
	}
	r = net_tcp_new(srv, &srv->tcp);
	return r != 0 ? r : net_tcp_listen(srv->tcp);
}

int net_server_new(const net_conf_t *conf, net_server_t **out)
{
	net_server_t *srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (uv_loop_init(&srv->loop) != 0) {
		free(srv);
		return CIRRUS_EIO;
	}
	srv->conf = *conf;
	srv->conf.listen = NULL;
	int r = server_open(srv, conf);
	if (r != 0) {
		net_server_free(srv);
		return r;
	}
	*out = srv;
	return 0;
}

void net_server_publish(net_server_t *srv, zone_set_t *zones)
{
	zone_set_t *old = srv->zones;
	rcu_assign_pointer(srv->zones, zones);
	synchronize_rcu();
	zone_set_free(old);
}

/* Loop thread: stop accepting and answering; uv_run() returns when done. */
static void server_stop(net_server_t *srv)
{
	if (srv->stopping) {
		return;
	}
	__atomic_store_n(&srv->stopping, true, __ATOMIC_RELEASE);
	for (size_t i = 0; i < srv->udp_count; i++) {
		net_udp_stop(srv->udp[i]);
	}
	net_tcp_stop(srv->tcp);
	for (size_t i = 0; i < srv->signal_count; i++) {
		uv_close((uv_handle_t *)&srv->signals[i], NULL);
	}
}

static void reload_work(uv_work_t *req)
{
	net_server_t *srv = req->data;
	srv->conf.reload(srv->conf.reload_ctx);
}

static void server_reload(net_server_t *srv);

static void reload_done(uv_work_t *req, int status)
{
	net_server_t *srv = req->data;
	(void)status;
	srv->reload_busy = false;
	if (srv->reload_again) {
		srv->reload_again = false;
		server_reload(srv);
	}
}

/* Run the reload callback off the loop, so TCP keeps answering meanwhile. */
static void server_reload(net_server_t *srv)
{
	if (srv->conf.reload == NULL || srv->stopping) {
		return;
	}
	if (srv->reload_busy) {
		srv->reload_again = true;
		return;
	}
	log_info("cirrus: reloading zones");
	srv->reload_req.data = srv;
	int r = uv_queue_work(&srv->loop, &srv->reload_req, reload_work, reload_done);
	if (r != 0) {
		log_error("cannot start a reload: %s", uv_strerror(r));
		return;
	}
	srv->reload_busy = true;
}

static void on_signal(uv_signal_t *handle, int signum)
{
	net_server_t *srv = handle->data;
	if (signum == SIGHUP) {
		server_reload(srv);
		return;
	}
	log_info("cirrus: SIG%s, shutting down", sigabbrev_np(signum));
	server_stop(srv);
}

static int server_signals(net_server_t *srv)
{
	static const int signums[] = { SIGTERM, SIGINT, SIGHUP };
	for (size_t i = 0; i < sizeof(signums) / sizeof(signums[0]); i++) {
		uv_signal_t *sig = &srv->signals[i];
		int r = uv_signal_init(&srv->loop, sig);
		if (r != 0) {
			log_error("cannot handle signals: %s", uv_strerror(r));
			return CIRRUS_EIO;
		}
		srv->signal_count++;
		sig->data = srv;
		r = uv_signal_start(sig, on_signal, signums[i]);
		if (r != 0) {
			log_error("cannot handle SIG%s: %s", sigabbrev_np(signums[i]), uv_strerror(r));
			return CIRRUS_EIO;
		}
	}
	return 0;
}

/* Start the UDP threads with the signals blocked: the loop handles those. */
static int server_start_udp(net_server_t *srv, size_t *started)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int r = 0;
	for (*started = 0; *started < srv->udp_count; (*started)++) {
		r = net_udp_start(srv->udp[*started]);
		if (r != 0) {
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static void log_ready(net_server_t *srv)
{
	char list[512] = "";
	for (size_t i = 0; i < srv->addr_count; i++) {
		size_t len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
		         srv->addrs[i].text);
	}
	rcu_read_lock();
	const zone_set_t *zones = rcu_dereference(srv->zones);
	size_t count = zones != NULL ? zones->count : 0;
	rcu_read_unlock();
	log_info("cirrus: serving %zu zones on %s port %u", count, list,
	         net_addr_port(&srv->addrs[0]));
}

int net_server_run(net_server_t *srv)
{
	rcu_register_thread();
	size_t started = 0;
	int r = server_signals(srv);
	if (r == 0) {
		r = server_start_udp(srv, &started);
	}
	if (r == 0) {
		log_ready(srv);
	} else {
		server_stop(srv);
	}
	uv_run(&srv->loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < started; i++) {
		net_udp_join(srv->udp[i]);
	}
	rcu_unregister_thread();
	if (r == 0) {
		log_info("cirrus: stopped");
	}
	return r;
}

void net_server_free(net_server_t *srv)
{
	if (srv == NULL) {
		return;
	}
	/* After a failed net_server_new() the listeners are still open. */
	if (srv->tcp != NULL) {
		net_tcp_stop(srv->tcp);
	}
	uv_run(&srv->loop, UV_RUN_DEFAULT);
	net_tcp_free(srv->tcp);
	uv_loop_close(&srv->loop);
	for (size_t i = 0; i < srv->udp_count; i++) {
		net_udp_free(srv->udp[i]);
	}
	free(srv->udp);
	free(srv->addrs);
	zone_set_free(srv->zones);
	free(srv);
}
