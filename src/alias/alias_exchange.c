/* SPDX-License-Identifier: Apache-2.0
 * alias_exchange.c -- one query to the upstream resolver on the thread's
 * libuv loop: a connected UDP socket (the kernel drops datagrams from
 * anyone else), a timeout per try and a bounded number of tries; an answer
 * with TC set is asked again over TCP (RFC 7766), length-prefixed. The
 * exchange frees itself once its handles are closed.
 */
#include <stdlib.h>
#include <string.h>

#include "alias/alias_internal.h"
#include "util/error.h"

struct alias_exchange {
	uv_udp_t udp;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_udp_send_t send;
	uv_connect_t connect;
	uv_write_t write;
	int handles;              /* open handles; the last close frees */
	bool tcp_started;
	bool finished;            /* done ran, or cancelled: no more callbacks */
	struct sockaddr_storage upstream;
	unsigned timeout_ms;
	unsigned tries_left;
	alias_done_cb_t done;
	void *ctx;
	size_t query_len;
	uint8_t frame[2 + 512];   /* TCP length, then the query */
	size_t got;               /* TCP: bytes of answer read */
	uint8_t answer[2 + ALIAS_ANSWER_MAX];
};

static void on_closed(uv_handle_t *h)
{
	alias_exchange_t *x = h->data;
	if (--x->handles == 0) {
		free(x);
	}
}

static void close_all(alias_exchange_t *x)
{
	uv_handle_t *hs[] = { (uv_handle_t *)&x->udp, (uv_handle_t *)&x->tcp,
	                      (uv_handle_t *)&x->timer };
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		if (hs[i]->data != NULL && !uv_is_closing(hs[i])) {
			uv_close(hs[i], on_closed);
		}
	}
}

static void finish(alias_exchange_t *x, const uint8_t *wire, size_t len, const char *why)
{
	if (!x->finished) {
		x->finished = true;
		x->done(x->ctx, wire, len, why);
	}
	close_all(x);
}

void alias_exchange_cancel(alias_exchange_t *x)
{
	x->finished = true;
	close_all(x);
}

static const uint8_t *query_of(const alias_exchange_t *x)
{
	return x->frame + 2;
}

/* An answer to our query as far as its header tells: QR and our id. */
static bool ours(const alias_exchange_t *x, const uint8_t *wire, size_t len)
{
	return len >= KNOT_WIRE_HEADER_SIZE && knot_wire_get_qr(wire) &&
	       knot_wire_get_id(wire) == knot_wire_get_id(query_of(x));
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)hint;
	alias_exchange_t *x = h->data;
	if (h == (uv_handle_t *)&x->udp) {
		*buf = uv_buf_init((char *)x->answer, ALIAS_ANSWER_MAX);
	} else {
		*buf = uv_buf_init((char *)x->answer + x->got, (unsigned)(sizeof(x->answer) - x->got));
	}
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	alias_exchange_t *x = s->data;
	if (n < 0) {
		finish(x, NULL, 0, n == UV_EOF ? "TCP: closed before the whole answer" :
		       uv_strerror((int)n));
		return;
	}
	x->got += (size_t)n;
	size_t want = x->got >= 2 ? (size_t)2 + knot_wire_read_u16(x->answer) : SIZE_MAX;
	if (x->got >= want) {
		if (ours(x, x->answer + 2, want - 2)) {
			finish(x, x->answer + 2, want - 2, NULL);
		} else {
			finish(x, NULL, 0, "TCP: not an answer to our query");
		}
	} else if (x->got == sizeof(x->answer)) {
		finish(x, NULL, 0, "TCP: answer too long");
	}
}

static void on_tcp_written(uv_write_t *w, int status)
{
	alias_exchange_t *x = w->data;
	if (status != 0 && !x->finished) {
		finish(x, NULL, 0, uv_strerror(status));
	}
}

static void on_tcp_connected(uv_connect_t *c, int status)
{
	alias_exchange_t *x = c->data;
	if (x->finished) {
		return;
	}
	uv_buf_t buf = uv_buf_init((char *)x->frame, (unsigned)(2 + x->query_len));
	x->write.data = x;
	int r = status != 0 ? status : uv_write(&x->write, (uv_stream_t *)&x->tcp, &buf, 1,
	                                        on_tcp_written);
	if (r == 0) {
		r = uv_read_start((uv_stream_t *)&x->tcp, on_alloc, on_tcp_read);
	}
	if (r != 0) {
		finish(x, NULL, 0, uv_strerror(r));
	}
}

static void on_timeout(uv_timer_t *t);

/* The answer was truncated: ask again over TCP, within one more timeout. */
static void start_tcp(alias_exchange_t *x)
{
	uv_udp_recv_stop(&x->udp);
	x->tcp_started = true;
	int r = uv_tcp_init(x->udp.loop, &x->tcp);
	if (r == 0) {
		x->tcp.data = x;
		x->handles++;
		x->connect.data = x;
		r = uv_tcp_connect(&x->connect, &x->tcp, (const struct sockaddr *)&x->upstream,
		                   on_tcp_connected);
	}
	if (r != 0) {
		finish(x, NULL, 0, uv_strerror(r));
		return;
	}
	uv_timer_start(&x->timer, on_timeout, x->timeout_ms, 0);
}

static void on_udp_recv(uv_udp_t *udp, ssize_t n, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags)
{
	(void)buf, (void)flags;
	alias_exchange_t *x = udp->data;
	if (x->finished || (n == 0 && from == NULL)) {
		return;
	}
	if (n < 0) {
		/* ICMP port unreachable arrives as an error on a connected socket. */
		finish(x, NULL, 0, uv_strerror((int)n));
	} else if (!ours(x, x->answer, (size_t)n)) {
		return;   /* not ours: keep waiting until the timeout */
	} else if (knot_wire_get_tc(x->answer)) {
		start_tcp(x);
	} else {
		finish(x, x->answer, (size_t)n, NULL);
	}
}

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	alias_exchange_t *x = req->data;
	if (status != 0 && status != UV_ECANCELED && !x->finished) {
		finish(x, NULL, 0, uv_strerror(status));
	}
}

static int send_udp(alias_exchange_t *x)
{
	uv_buf_t buf = uv_buf_init((char *)query_of(x), (unsigned)x->query_len);
	x->send.data = x;
	int r = uv_udp_send(&x->send, &x->udp, &buf, 1, NULL, on_udp_sent);
	if (r == 0) {
		uv_timer_start(&x->timer, on_timeout, x->timeout_ms, 0);
	}
	return r;
}

static void on_timeout(uv_timer_t *t)
{
	alias_exchange_t *x = t->data;
	if (x->tcp_started || x->tries_left == 0) {
		finish(x, NULL, 0, x->tcp_started ? "TCP: no answer in time" : "no answer in time");
		return;
	}
	x->tries_left--;
	int r = send_udp(x);
	if (r != 0) {
		finish(x, NULL, 0, uv_strerror(r));
	}
}

int alias_exchange_start(uv_loop_t *loop, const struct sockaddr_storage *upstream,
                         const uint8_t *query, size_t len, unsigned timeout_ms,
                         unsigned retries, alias_done_cb_t done, void *ctx,
                         alias_exchange_t **out)
{
	if (len > sizeof(((alias_exchange_t *)0)->frame) - 2) {
		return CIRRUS_EINVAL;
	}
	alias_exchange_t *x = calloc(1, sizeof(*x));
	if (x == NULL) {
		return CIRRUS_ENOMEM;
	}
	*x = (alias_exchange_t){ .upstream = *upstream, .timeout_ms = timeout_ms,
	                         .tries_left = retries, .done = done, .ctx = ctx,
	                         .query_len = len };
	knot_wire_write_u16(x->frame, (uint16_t)len);
	memcpy(x->frame + 2, query, len);
	uv_timer_init(loop, &x->timer);
	x->timer.data = x;
	x->handles = 1;
	int r = uv_udp_init(loop, &x->udp);
	if (r == 0) {
		x->udp.data = x;
		x->handles++;
		r = uv_udp_connect(&x->udp, (const struct sockaddr *)upstream);
	}
	if (r == 0) {
		r = uv_udp_recv_start(&x->udp, on_alloc, on_udp_recv);
	}
	if (r == 0) {
		r = send_udp(x);
	}
	if (r != 0) {
		alias_exchange_cancel(x);
		return CIRRUS_EIO;
	}
	*out = x;
	return 0;
}
