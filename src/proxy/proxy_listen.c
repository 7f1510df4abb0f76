/* SPDX-License-Identifier: Apache-2.0
 * proxy_listen.c -- the proxy's client side on the libuv loop: UDP sockets,
 * and TCP with RFC 7766 framing (2-byte length), pipelining and an idle
 * timeout, as src/net/tcp.c does for the server. The difference: answers
 * come later (from an upstream), possibly out of order, so every query in
 * flight holds a reference on its connection, which is freed only when it
 * is closed and no query refers to it.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <libknot/libknot.h>

#include "net/dns_stream.h"
#include "proxy/proxy_internal.h"
#include "util/error.h"
#include "util/log.h"

#define TCP_BACKLOG 1024
#define TCP_PIPELINE_MAX 64          /* queries in flight per connection */
#define TCP_QUEUE_HIGH (256 * 1024)  /* unsent bytes that pause reading */

struct proxy_tcp_conn {
	uv_tcp_t handle;
	uv_timer_t timer;            /* idle timeout */
	proxy_listen_t *l;
	proxy_tcp_conn_t *prev, *next;
	struct sockaddr_storage peer;
	dns_stream_t in;             /* bytes read and not yet handed on */
	unsigned pending;            /* queries handed on, not yet answered */
	int open_handles;
	bool closing, paused, eof;
};

typedef struct udp_sock {
	uv_udp_t handle;
	proxy_listen_t *l;
	uint8_t buf[PROXY_MSG_MAX];
} udp_sock_t;

struct proxy_listen {
	uv_loop_t *loop;
	const proxy_conf_t *conf;
	proxy_query_cb cb;
	void *arg;
	udp_sock_t *udp[PROXY_LISTEN_MAX];
	uv_tcp_t *tcp[PROXY_LISTEN_MAX];
	size_t count;
	proxy_tcp_conn_t *conns;
	int open_handles;            /* sockets not closed yet */
	bool closing;
};

/* A UDP answer libuv could not send at once. */
typedef struct udp_send {
	uv_udp_send_t req;
	uint8_t data[];
} udp_send_t;

/* ------------------------------------------------------------------ */
/* TCP connections                                                     */

static void conn_maybe_free(proxy_tcp_conn_t *c)
{
	if (c->open_handles > 0 || c->pending > 0) {
		return;
	}
	dns_stream_free(&c->in);
	free(c);
}

static void on_conn_closed(uv_handle_t *handle)
{
	proxy_tcp_conn_t *c = handle->data;
	c->open_handles--;
	conn_maybe_free(c);
}

static void conn_close(proxy_tcp_conn_t *c)
{
	if (c->closing) {
		return;
	}
	c->closing = true;
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		c->l->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
	uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

static void on_idle(uv_timer_t *timer)
{
	proxy_tcp_conn_t *c = timer->data;
	if (c->pending > 0) {
		/* Answers are on their way (the deadline bounds them). */
		uv_timer_again(timer);
		return;
	}
	conn_close(c);
}

static void on_tcp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Hand every whole message on; stop early when the pipeline is full. */
static void conn_consume(proxy_tcp_conn_t *c)
{
	size_t off = 0, len;
	const uint8_t *msg;
	while (!c->closing && c->pending < TCP_PIPELINE_MAX) {
		dns_stream_next_t next = dns_stream_next(&c->in, &off, &msg, &len);
		if (next == DNS_STREAM_BAD) {
			conn_close(c);   /* not even a header: the stream is out of step */
			return;
		}
		if (next == DNS_STREAM_MORE) {
			break;
		}
		proxy_client_t client = { .tcp = c };
		memcpy(&client.addr, &c->peer, sizeof(c->peer));
		c->pending++;
		c->l->cb(c->l->arg, &client, msg, len);
	}
	if (c->closing) {
		return;
	}
	dns_stream_consume(&c->in, off);
	uv_stream_t *s = (uv_stream_t *)&c->handle;
	bool full = c->pending >= TCP_PIPELINE_MAX ||
	            uv_stream_get_write_queue_size(s) > TCP_QUEUE_HIGH;
	if (full && !c->paused) {
		uv_read_stop(s);
		c->paused = true;
	} else if (!full && c->paused && !c->eof) {
		c->paused = false;
		if (uv_read_start(s, on_tcp_alloc, on_tcp_read) != 0) {
			conn_close(c);
		}
	}
}

static void on_tcp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	proxy_tcp_conn_t *c = handle->data;
	(void)suggested;
	dns_stream_room(&c->in, buf);
}

static void on_tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	proxy_tcp_conn_t *c = stream->data;
	(void)buf;
	if (nread == UV_EOF) {
		c->eof = true;
		uv_read_stop(stream);
		if (c->pending == 0 && uv_stream_get_write_queue_size(stream) == 0) {
			conn_close(c);
		}
		return;
	}
	if (nread < 0) {
		conn_close(c);
		return;
	}
	dns_stream_received(&c->in, (size_t)nread);
	uv_timer_again(&c->timer);
	conn_consume(c);
}

static void on_accept(uv_stream_t *server, int status)
{
	proxy_listen_t *l = server->data;
	if (status < 0 || l->closing) {
		return;
	}
	proxy_tcp_conn_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return;
	}
	c->l = l;
	uv_tcp_init(l->loop, &c->handle);
	uv_timer_init(l->loop, &c->timer);
	c->handle.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = l->conns;
	if (c->next != NULL) {
		c->next->prev = c;
	}
	l->conns = c;
	int len = sizeof(c->peer);
	uint64_t idle = l->conf->tcp_idle_timeout * 1000ULL;
	if (uv_accept(server, (uv_stream_t *)&c->handle) != 0 ||
	    uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->peer, &len) != 0 ||
	    uv_read_start((uv_stream_t *)&c->handle, on_tcp_alloc, on_tcp_read) != 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->handle, 1);
	uv_timer_start(&c->timer, on_idle, idle, idle);
}

static void on_tcp_written(uv_write_t *req, int status)
{
	proxy_tcp_conn_t *c = req->handle->data;
	if (status < 0 && status != UV_ECANCELED) {
		conn_close(c);
	} else if (!c->closing && c->eof && c->pending == 0 &&
	           uv_stream_get_write_queue_size((uv_stream_t *)&c->handle) == 0) {
		conn_close(c);
	} else if (!c->closing && c->paused) {
		conn_consume(c);
	}
}

static void tcp_send(proxy_tcp_conn_t *c, const uint8_t *wire, size_t len)
{
	if (dns_stream_write((uv_stream_t *)&c->handle, wire, len, on_tcp_written) != 0) {
		conn_close(c);
	}
}

/* A query of this connection is over (answered or not). */
static void tcp_done(proxy_tcp_conn_t *c)
{
	c->pending--;
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	uv_stream_t *s = (uv_stream_t *)&c->handle;
	if (c->eof && c->pending == 0 && uv_stream_get_write_queue_size(s) == 0) {
		conn_close(c);
	} else if (c->paused) {
		conn_consume(c);
	}
}

/* ------------------------------------------------------------------ */
/* UDP                                                                 */

static void on_udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	udp_sock_t *u = handle->data;
	(void)suggested;
	*buf = uv_buf_init((char *)u->buf, sizeof(u->buf));
}

static void on_udp_read(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags)
{
	udp_sock_t *u = handle->data;
	if (nread <= 0 || addr == NULL || (flags & UV_UDP_PARTIAL) || u->l->closing) {
		return;
	}
	proxy_client_t client = { .udp = handle };
	memcpy(&client.addr, addr, addr->sa_family == AF_INET6 ?
	       sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	u->l->cb(u->l->arg, &client, (const uint8_t *)buf->base, (size_t)nread);
}

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req);
}

static void udp_send(proxy_client_t *client, const uint8_t *wire, size_t len)
{
	uv_buf_t buf = uv_buf_init((char *)wire, len);
	const struct sockaddr *to = (const struct sockaddr *)&client->addr;
	int r = uv_udp_try_send(client->udp, &buf, 1, to);
	if (r != UV_EAGAIN) {
		return;   /* sent, or lost as UDP may be */
	}
	udp_send_t *s = malloc(sizeof(*s) + len);
	if (s == NULL) {
		return;
	}
	memcpy(s->data, wire, len);
	buf = uv_buf_init((char *)s->data, len);
	if (uv_udp_send(&s->req, client->udp, &buf, 1, to, on_udp_sent) != 0) {
		free(s);
	}
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */

void proxy_client_reply(proxy_client_t *client, const uint8_t *wire, size_t len)
{
	if (client->tcp != NULL) {
		if (!client->tcp->closing) {
			tcp_send(client->tcp, wire, len);
		}
		tcp_done(client->tcp);
		client->tcp = NULL;
	} else if (client->udp != NULL) {
		if (!uv_is_closing((uv_handle_t *)client->udp)) {
			udp_send(client, wire, len);
		}
		client->udp = NULL;
	}
}

void proxy_client_release(proxy_client_t *client)
{
	if (client->tcp != NULL) {
		tcp_done(client->tcp);
	}
	client->tcp = NULL;
	client->udp = NULL;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */

static int bind_one(proxy_listen_t *l, const char *text, size_t i)
{
	struct sockaddr_storage ss;
	unsigned port = l->conf->port;
	if (uv_ip4_addr(text, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(text, port, (struct sockaddr_in6 *)&ss) != 0) {
		return CIRRUS_EINVAL;
	}
	const struct sockaddr *sa = (const struct sockaddr *)&ss;
	udp_sock_t *u = calloc(1, sizeof(*u));
	uv_tcp_t *t = calloc(1, sizeof(*t));
	if (u == NULL || t == NULL) {
		free(u);
		free(t);
		return CIRRUS_ENOMEM;
	}
	u->l = l;
	uv_udp_init(l->loop, &u->handle);
	uv_tcp_init(l->loop, t);
	u->handle.data = u;
	t->data = l;
	l->udp[i] = u;
	l->tcp[i] = t;
	l->count++;
	l->open_handles += 2;
	int r = uv_udp_bind(&u->handle, sa, 0);
	r = r != 0 ? r : uv_udp_recv_start(&u->handle, on_udp_alloc, on_udp_read);
	r = r != 0 ? r : uv_tcp_bind(t, sa, 0);
	r = r != 0 ? r : uv_listen((uv_stream_t *)t, TCP_BACKLOG, on_accept);
	if (r != 0) {
		log_error("proxy: cannot listen on %s port %u: %s", text, port, uv_strerror(r));
		return CIRRUS_EIO;
	}
	log_info("proxy: listening on %s port %u (UDP and TCP)", text, port);
	return 0;
}

int proxy_listen_start(uv_loop_t *loop, const proxy_conf_t *conf, proxy_query_cb cb,
                       void *arg, proxy_listen_t **out)
{
	proxy_listen_t *l = calloc(1, sizeof(*l));
	*out = l;
	if (l == NULL) {
		return CIRRUS_ENOMEM;
	}
	*l = (proxy_listen_t){ .loop = loop, .conf = conf, .cb = cb, .arg = arg };
	int r = 0;
	for (size_t i = 0; r == 0 && i < conf->listen_count; i++) {
		r = bind_one(l, conf->listen[i], i);
	}
	if (r == 0 && conf->listen_count == 0) {
		r = bind_one(l, "127.0.0.1", 0);
	}
	return r;
}

static void on_sock_closed(uv_handle_t *handle)
{
	proxy_listen_t *l = handle->type == UV_UDP ?
	                    ((udp_sock_t *)handle->data)->l : (proxy_listen_t *)handle->data;
	l->open_handles--;
	if (handle->type == UV_UDP) {
		free(handle->data);
	} else {
		free(handle);
	}
}

void proxy_listen_close(proxy_listen_t *l)
{
	if (l == NULL || l->closing) {
		return;
	}
	l->closing = true;
	for (size_t i = 0; i < l->count; i++) {
		uv_close((uv_handle_t *)&l->udp[i]->handle, on_sock_closed);
		uv_close((uv_handle_t *)l->tcp[i], on_sock_closed);
	}
	while (l->conns != NULL) {
		conn_close(l->conns);
	}
}

void proxy_listen_free(proxy_listen_t *l)
{
	free(l);
}
