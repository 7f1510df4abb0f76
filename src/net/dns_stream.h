/* SPDX-License-Identifier: Apache-2.0
 * dns_stream.h -- DNS messages over a libuv stream (RFC 1035 4.2.2,
 * RFC 7766): the read buffer that splits the 2-byte length framing into
 * whole messages, and a write that sends one message with its length.
 * Shared by the server's TCP (net/tcp.c) and the proxy's (proxy_listen.c),
 * which differ only in what they do with a message.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*! \brief Bytes read from a connection and not yet taken as messages. */
typedef struct dns_stream {
	uint8_t *buf;
	size_t len, cap;
} dns_stream_t;

/*! \brief What dns_stream_next() found. */
typedef enum dns_stream_next {
	DNS_STREAM_MSG,    /*!< a whole message */
	DNS_STREAM_MORE,   /*!< the next message is not all here yet */
	DNS_STREAM_BAD,    /*!< a length that cannot hold a DNS header: out of step */
} dns_stream_next_t;

/*!
 * \brief Where libuv should read into (for an alloc callback): room for at
 * least the whole message being read. A zero-length buffer when memory runs
 * out or the buffer is full, which libuv reports to the read callback as
 * UV_ENOBUFS.
 */
void dns_stream_room(dns_stream_t *s, uv_buf_t *out);

/*! \brief Count n more bytes as read (after a successful read callback). */
void dns_stream_received(dns_stream_t *s, size_t n);

/*!
 * \brief The message at *off: on DNS_STREAM_MSG, *msg and *len are set and
 * *off moves past it.
 */
dns_stream_next_t dns_stream_next(const dns_stream_t *s, size_t *off,
                                  const uint8_t **msg, size_t *len);

/*! \brief Drop the first off bytes (the messages taken). */
void dns_stream_consume(dns_stream_t *s, size_t off);

/*! \brief Free the buffer. */
void dns_stream_free(dns_stream_t *s);

/*!
 * \brief Send msg with its 2-byte length on stream. What the socket takes at
 * once goes out without a copy; the rest is copied and queued, and done
 * (if not NULL) is called when it has been written; the request is freed
 * after done returns.
 * \retval 0, or a libuv error (then nothing is queued)
 */
int dns_stream_write(uv_stream_t *stream, const uint8_t *msg, size_t len, uv_write_cb done);
