/* SPDX-License-Identifier: Apache-2.0
 * tcp.c -- DNS over TCP (RFC 7766) on the libuv loop: 2-byte length framing,
 * pipelined queries answered as they arrive, an idle timeout, a deadline to
 * finish a started message, and a cap on connections. Answers go out with
 * uv_try_write(); only what the socket does not take at once is copied.
 * An UPDATE holds the loop for its store commit (net_answer()).
 */
#include <stdlib.h>
#include <string.h>
#include <libknot/libknot.h>

#include "net/dns_stream.h"
#include "net/net_internal.h"
#include "util/arena.h"
#include "util/error.h"
#include "util/log.h"

#define TCP_MSG_MAX 65535           /* a length prefix cannot say more */
#define TCP_BACKLOG 1024
#define TCP_QUEUE_HIGH (256 * 1024) /* unsent bytes that pause reading */
#define TCP_SCRATCH (64 * 1024)

typedef struct tcp_conn tcp_conn_t;

struct tcp_conn {
	uv_tcp_t handle;
	uv_timer_t timer;           /* idle or partial-message deadline */
	net_tcp_t *tcp;
	tcp_conn_t *prev, *next;    /* in net_tcp.conns */
	struct sockaddr_storage peer;
	dns_stream_t in;            /* bytes read and not yet answered */
	int open_handles;           /* freed when both handles have closed */
	bool in_msg;                /* buf holds the start of a message */
	bool paused;                /* reading stopped until the answers drain */
	bool eof;                   /* the client sent everything it will */
};

struct net_tcp {
	net_server_t *srv;
	uv_tcp_t *listeners;
	size_t listener_count;      /* initialised handles */
	tcp_conn_t *conns;
	size_t conn_count;
	arena_t scratch;            /* engine scratch, reset after each answer */
	uint8_t answer[TCP_MSG_MAX];
};

static void on_conn_closed(uv_handle_t *handle)
{
	tcp_conn_t *c = handle->data;
	if (--c->open_handles > 0) {
		return;
	}
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		c->tcp->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	c->tcp->conn_count--;
	dns_stream_free(&c->in);
	free(c);
}

static void conn_close(tcp_conn_t *c)
{
	if (uv_is_closing((uv_handle_t *)&c->handle)) {
		return;
	}
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
	uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

static void on_timeout(uv_timer_t *timer)
{
	conn_close(timer->data);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
	uv_stream_t *stream = req->handle;
	tcp_conn_t *c = stream->data;
	if (status == UV_ECANCELED || uv_is_closing((uv_handle_t *)stream)) {
		return;
	}
	size_t queued = uv_stream_get_write_queue_size(stream);
	if (status < 0 || (c->eof && queued == 0)) {
		conn_close(c);
	} else if (c->paused && queued < TCP_QUEUE_HIGH / 4) {
		c->paused = false;
		if (uv_read_start(stream, on_alloc, on_read) != 0) {
			conn_close(c);
		}
	}
}

/* Answer one query; 0 or a libuv error. */
static int conn_answer(tcp_conn_t *c, const uint8_t *query, size_t len)
{
	net_tcp_t *tcp = c->tcp;
	engine_query_t q = { .transport = ENGINE_TRANSPORT_TCP,
	                     .remote = (const struct sockaddr *)&c->peer };
	size_t answer_len = 0;
	engine_action_t act = net_answer(tcp->srv, &q, query, len, tcp->answer,
	                                 TCP_MSG_MAX, &answer_len, &tcp->scratch);
	int r = 0;
	if (act == ENGINE_SEND) {
		r = dns_stream_write((uv_stream_t *)&c->handle, tcp->answer, answer_len, on_write);
	}
	/* The answer is sent or copied: nothing points into the scratch. */
	arena_reset(&tcp->scratch);
	return r;
}

/* Answer every whole message in the buffer; false if the connection closed. */
static bool conn_answer_all(tcp_conn_t *c, size_t *used)
{
	size_t off = 0, len;
	const uint8_t *msg;
	dns_stream_next_t next;
	while ((next = dns_stream_next(&c->in, &off, &msg, &len)) == DNS_STREAM_MSG) {
		if (conn_answer(c, msg, len) != 0) {
			conn_close(c);
			return false;
		}
	}
	if (next == DNS_STREAM_BAD) {
		conn_close(c);
		return false;
	}
	*used = off;
	return true;
}

/* Idle timeout between messages; the I/O deadline from a message's start. */
static void conn_arm_timer(tcp_conn_t *c, bool fresh)
{
	const net_conf_t *conf = &c->tcp->srv->conf;
	if (c->in.len == 0) {
		c->in_msg = false;
		uv_timer_start(&c->timer, on_timeout, conf->tcp_idle_timeout * 1000ULL, 0);
	} else if (fresh) {
		c->in_msg = true;
		uv_timer_start(&c->timer, on_timeout, conf->tcp_io_timeout * 1000ULL, 0);
	}
}

static void conn_consume(tcp_conn_t *c)
{
	size_t used = 0;
	if (!conn_answer_all(c, &used)) {
		return;
	}
	bool fresh = used > 0 || !c->in_msg;
	dns_stream_consume(&c->in, used);
	conn_arm_timer(c, fresh);
	uv_stream_t *stream = (uv_stream_t *)&c->handle;
	if (uv_stream_get_write_queue_size(stream) > TCP_QUEUE_HIGH) {
		/* The client sends faster than it reads: wait for it. */
		uv_read_stop(stream);
		c->paused = true;
	}
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	tcp_conn_t *c = handle->data;
	(void)suggested;
	dns_stream_room(&c->in, buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	tcp_conn_t *c = stream->data;
	(void)buf;
	if (nread == UV_EOF && uv_stream_get_write_queue_size(stream) > 0) {
		/* Half-closed: send the answers still queued, then close. */
		uv_read_stop(stream);
		c->eof = true;
		return;
	}
	if (nread < 0) {
		conn_close(c);
		return;
	}
	dns_stream_received(&c->in, (size_t)nread);
	conn_consume(c);
}

static void free_handle(uv_handle_t *handle)
{
	free(handle);
}

/* Over the connection cap: accept and close at once, so the client knows. */
static void reject(uv_stream_t *server)
{
	uv_tcp_t *h = malloc(sizeof(*h));
	if (h == NULL) {
		return;
	}
	uv_tcp_init(server->loop, h);
	uv_accept(server, (uv_stream_t *)h);
	uv_close((uv_handle_t *)h, free_handle);
}

static void conn_open(net_tcp_t *tcp, tcp_conn_t *c, uv_stream_t *server)
{
	c->tcp = tcp;
	uv_tcp_init(server->loop, &c->handle);
	uv_timer_init(server->loop, &c->timer);
	c->handle.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = tcp->conns;
	if (c->next != NULL) {
		c->next->prev = c;
	}
	tcp->conns = c;
	tcp->conn_count++;
	int len = sizeof(c->peer);
	uv_stream_t *stream = (uv_stream_t *)&c->handle;
	if (uv_accept(server, stream) != 0 ||
	    uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->peer, &len) != 0 ||
	    uv_read_start(stream, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	/* Pipelined answers are separate writes: do not hold one back. */
	uv_tcp_nodelay(&c->handle, 1);
	conn_arm_timer(c, false);
}

static void on_connection(uv_stream_t *server, int status)
{
	net_tcp_t *tcp = server->data;
	if (status < 0) {
		log_warning("TCP accept failed: %s", uv_strerror(status));
		return;
	}
	tcp_conn_t *c = NULL;
	if (tcp->conn_count < tcp->srv->conf.tcp_max_clients) {
		c = calloc(1, sizeof(*c));
	}
	if (c == NULL) {
		reject(server);
		return;
	}
	conn_open(tcp, c, server);
}

int net_tcp_new(net_server_t *srv, net_tcp_t **out)
{
	net_tcp_t *tcp = calloc(1, sizeof(*tcp));
	if (tcp == NULL) {
		return CIRRUS_ENOMEM;
	}
	tcp->listeners = calloc(srv->addr_count, sizeof(uv_tcp_t));
	if (tcp->listeners == NULL) {
		free(tcp);
		return CIRRUS_ENOMEM;
	}
	tcp->srv = srv;
	arena_init(&tcp->scratch, TCP_SCRATCH);
	*out = tcp;
	return 0;
}

static int tcp_listen_one(net_tcp_t *tcp, const net_addr_t *a)
{
	uv_tcp_t *l = &tcp->listeners[tcp->listener_count];
	int r = uv_tcp_init_ex(&tcp->srv->loop, l, a->addr.ss_family);
	if (r == 0) {
		tcp->listener_count++;
		l->data = tcp;
		r = uv_tcp_bind(l, (const struct sockaddr *)&a->addr,
		                a->addr.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	}
	if (r == 0) {
		r = uv_listen((uv_stream_t *)l, TCP_BACKLOG, on_connection);
	}
	if (r != 0) {
		log_error("cannot listen on TCP %s port %u: %s", a->text, net_addr_port(a),
		          uv_strerror(r));
		return CIRRUS_EIO;
	}
	return 0;
}

int net_tcp_listen(net_tcp_t *tcp)
{
	for (size_t i = 0; i < tcp->srv->addr_count; i++) {
		int r = tcp_listen_one(tcp, &tcp->srv->addrs[i]);
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

void net_tcp_stop(net_tcp_t *tcp)
{
	for (size_t i = 0; i < tcp->listener_count; i++) {
		uv_handle_t *l = (uv_handle_t *)&tcp->listeners[i];
		if (!uv_is_closing(l)) {
			uv_close(l, NULL);
		}
	}
	for (tcp_conn_t *c = tcp->conns; c != NULL; c = c->next) {
		conn_close(c);
	}
}

void net_tcp_free(net_tcp_t *tcp)
{
	if (tcp == NULL) {
		return;
	}
	arena_deinit(&tcp->scratch);
	free(tcp->listeners);
	free(tcp);
}
