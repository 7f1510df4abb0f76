/* SPDX-License-Identifier: Apache-2.0
 * health_dns.c -- a DNS check: one query over UDP (built and parsed with
 * libknot) to address:port; healthy when an answer with the same id and
 * question comes back with the expected rcode within the timeout. The
 * socket is connected, so the kernel drops datagrams from anyone else.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <libknot/libknot.h>

#include "health/health_internal.h"

static void on_closed(uv_handle_t *handle)
{
	health_probe_idle(handle->data);
}

static void finish(health_probe_t *p)
{
	uv_timer_stop(&p->deadline);
	if (!uv_is_closing((uv_handle_t *)&p->udp)) {
		uv_close((uv_handle_t *)&p->udp, on_closed);
	}
}

static void on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
	(void)hint;
	health_probe_t *p = handle->data;
	*buf = uv_buf_init((char *)p->answer, sizeof(p->answer));
}

/* Whether wire answers our query: QR set, same id and same question. */
static bool is_our_answer(const health_probe_t *p, const uint8_t *wire, size_t len)
{
	size_t question = p->query_len - KNOT_WIRE_HEADER_SIZE;
	return len >= p->query_len && knot_wire_get_qr(wire) &&
	       knot_wire_get_id(wire) == p->dns_id && knot_wire_get_qdcount(wire) == 1 &&
	       memcmp(wire + KNOT_WIRE_HEADER_SIZE, p->query + KNOT_WIRE_HEADER_SIZE,
	              question) == 0;
}

static void on_recv(uv_udp_t *udp, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags)
{
	(void)buf, (void)flags;
	health_probe_t *p = udp->data;
	if (n == 0 && from == NULL) {
		return;   /* nothing more to read for now */
	}
	if (n < 0) {
		/* ICMP port unreachable arrives as an error on a connected socket. */
		health_probe_result(p, false, "dns: %s", uv_strerror((int)n));
		finish(p);
		return;
	}
	if (!is_our_answer(p, p->answer, (size_t)n)) {
		return;   /* not ours; keep waiting until the deadline */
	}
	uint8_t rcode = knot_wire_get_rcode(p->answer);
	const knot_lookup_t *got = knot_lookup_by_id(knot_rcode_names, rcode);
	const knot_lookup_t *want = knot_lookup_by_id(knot_rcode_names, p->spec->rcode_value);
	if (rcode == p->spec->rcode_value) {
		health_probe_result(p, true, "dns: %s", got ? got->name : "answer");
	} else {
		health_probe_result(p, false, "dns: rcode %s, expected %s",
		                    got ? got->name : "?", want ? want->name : "?");
	}
	finish(p);
}

static void on_deadline(uv_timer_t *t)
{
	health_probe_t *p = t->data;
	health_probe_result(p, false, "dns: no answer within %ums", p->spec->timeout_ms);
	finish(p);
}

static void on_sent(uv_udp_send_t *req, int status)
{
	health_probe_t *p = req->data;
	if (status != 0 && status != UV_ECANCELED) {
		health_probe_result(p, false, "dns: send: %s", uv_strerror(status));
		finish(p);
	}
}

/* The query in p->query with a fresh random id. */
static int build_query(health_probe_t *p)
{
	knot_dname_storage_t qname;
	const char *name = p->spec->query != NULL ? p->spec->query : ".";
	knot_pkt_t *pkt = knot_pkt_new(p->query, sizeof(p->query), NULL);
	if (pkt == NULL || knot_dname_from_str(qname, name, sizeof(qname)) == NULL) {
		knot_pkt_free(pkt);
		return KNOT_EINVAL;
	}
	/* An unpredictable id, so that a forged answer is unlikely to match. */
	if (getrandom(&p->dns_id, sizeof(p->dns_id), 0) != sizeof(p->dns_id)) {
		p->dns_id = (uint16_t)health_now_us();
	}
	knot_wire_set_id(pkt->wire, p->dns_id);
	int r = knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, p->spec->qtype);
	p->query_len = pkt->size;
	knot_pkt_free(pkt);
	return r;
}

static int send_query(health_probe_t *p)
{
	int r = uv_udp_connect(&p->udp, (const struct sockaddr *)&p->spec->addr);
	if (r == 0) {
		r = uv_udp_recv_start(&p->udp, on_alloc, on_recv);
	}
	uv_buf_t buf = uv_buf_init((char *)p->query, (unsigned)p->query_len);
	p->send.data = p;
	return r != 0 ? r : uv_udp_send(&p->send, &p->udp, &buf, 1, NULL, on_sent);
}

void health_dns_start(health_probe_t *p)
{
	if (build_query(p) != 0) {
		health_probe_result(p, false, "dns: cannot build the query");
		health_probe_idle(p);
		return;
	}
	int r = uv_udp_init(&p->h->loop, &p->udp);
	if (r != 0) {
		health_probe_result(p, false, "dns: socket: %s", uv_strerror(r));
		health_probe_idle(p);
		return;
	}
	p->udp.data = p;
	if ((r = send_query(p)) != 0) {
		health_probe_result(p, false, "dns: %s", uv_strerror(r));
		finish(p);
		return;
	}
	uv_timer_start(&p->deadline, on_deadline, p->spec->timeout_ms, 0);
}

void health_dns_abort(health_probe_t *p)
{
	finish(p);
}
