/* SPDX-License-Identifier: Apache-2.0
 * dns_stream.c -- DNS messages over a libuv stream (see dns_stream.h).
 */
#include <stdlib.h>
#include <string.h>
#include <libknot/libknot.h>

#include "net/dns_stream.h"

#define DNS_STREAM_INIT 4096   /* first buffer; grows to the message being read */

/* A queued write; req first, so the uv_write_t pointer is the allocation. */
typedef struct stream_write {
	uv_write_t req;
	uv_write_cb done;
	uint8_t data[];
} stream_write_t;

static size_t msg_len(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

void dns_stream_room(dns_stream_t *s, uv_buf_t *out)
{
	size_t need = s->len >= 2 ? 2 + msg_len(s->buf) : 0;
	need = need < DNS_STREAM_INIT ? DNS_STREAM_INIT : need;
	if (need > s->cap) {
		uint8_t *grown = realloc(s->buf, need);
		if (grown == NULL) {
			*out = uv_buf_init(NULL, 0);
			return;
		}
		s->buf = grown;
		s->cap = need;
	}
	*out = uv_buf_init((char *)s->buf + s->len, s->cap - s->len);
}

void dns_stream_received(dns_stream_t *s, size_t n)
{
	s->len += n;
}

dns_stream_next_t dns_stream_next(const dns_stream_t *s, size_t *off,
                                  const uint8_t **msg, size_t *len)
{
	if (s->len - *off < 2) {
		return DNS_STREAM_MORE;
	}
	size_t n = msg_len(s->buf + *off);
	if (n < KNOT_WIRE_HEADER_SIZE) {
		return DNS_STREAM_BAD;
	}
	if (s->len - *off - 2 < n) {
		return DNS_STREAM_MORE;
	}
	*msg = s->buf + *off + 2;
	*len = n;
	*off += 2 + n;
	return DNS_STREAM_MSG;
}

void dns_stream_consume(dns_stream_t *s, size_t off)
{
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
}

void dns_stream_free(dns_stream_t *s)
{
	free(s->buf);
	*s = (dns_stream_t){ 0 };
}

static void on_written(uv_write_t *req, int status)
{
	stream_write_t *w = (stream_write_t *)req;
	if (w->done != NULL) {
		w->done(req, status);
	}
	free(w);
}

int dns_stream_write(uv_stream_t *stream, const uint8_t *msg, size_t len, uv_write_cb done)
{
	uint8_t prefix[2] = { len >> 8, len & 0xff };
	uv_buf_t bufs[2] = { uv_buf_init((char *)prefix, 2), uv_buf_init((char *)msg, len) };
	int sent = uv_try_write(stream, bufs, 2);
	if (sent == (int)len + 2) {
		return 0;
	}
	if (sent < 0 && sent != UV_EAGAIN) {
		return sent;
	}
	/* Queue what did not go out, copied: the caller's buffer is reused. */
	size_t from = sent < 0 ? 0 : (size_t)sent;
	stream_write_t *w = malloc(sizeof(*w) + len + 2);
	if (w == NULL) {
		return UV_ENOMEM;
	}
	w->done = done;
	memcpy(w->data, prefix, 2);
	memcpy(w->data + 2, msg, len);
	uv_buf_t rest = uv_buf_init((char *)w->data + from, len + 2 - from);
	int r = uv_write(&w->req, stream, &rest, 1, on_written);
	if (r != 0) {
		free(w);
	}
	return r;
}
