/* SPDX-License-Identifier: Apache-2.0
 * test_proxy_fixture.h -- DNS messages for the proxy's unit tests, written
 * by libknot's packet writer (the real one, not bytes typed by hand):
 * queries with or without EDNS, and answers with records in ANSWER and
 * AUTHORITY. Included by test_proxy_*.c only.
 */
#pragma once

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <libknot/libknot.h>

typedef struct px_rr {
	const char *owner;
	uint16_t type;
	uint32_t ttl;
	uint8_t rdata[64];
	uint16_t rdlen;
} px_rr_t;

static inline px_rr_t px_a(const char *owner, uint32_t ttl, const char *addr)
{
	px_rr_t rr = { .owner = owner, .type = KNOT_RRTYPE_A, .ttl = ttl, .rdlen = 4 };
	inet_pton(AF_INET, addr, rr.rdata);
	return rr;
}

/* SOA with ns.<zone> and host.<zone> as names, serial 1, the given MINIMUM. */
static inline px_rr_t px_soa(const char *owner, uint32_t ttl, uint32_t minimum)
{
	px_rr_t rr = { .owner = owner, .type = KNOT_RRTYPE_SOA, .ttl = ttl };
	static const uint8_t names[] = "\x02ns\x00\x04host\x00";
	memcpy(rr.rdata, names, 10);
	uint32_t v[5] = { 1, 3600, 900, 604800, minimum };
	for (int i = 0; i < 5; i++) {
		knot_wire_write_u32(rr.rdata + 10 + 4 * i, v[i]);
	}
	rr.rdlen = 30;
	return rr;
}

static inline void px_put(knot_pkt_t *pkt, const px_rr_t *rr)
{
	knot_dname_t *owner = knot_dname_from_str_alloc(rr->owner);
	knot_rrset_t *set = knot_rrset_new(owner, rr->type, KNOT_CLASS_IN, rr->ttl, NULL);
	knot_dname_free(owner, NULL);
	knot_rrset_add_rdata(set, rr->rdata, rr->rdlen, NULL);
	knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, set, KNOT_PF_FREE);
	free(set);   /* the packet owns the owner and rdata now, not the struct */
}

/* An OPT with payload, DO as asked, and one option (code 0: none). */
static inline void px_put_opt(knot_pkt_t *pkt, uint16_t payload, bool do_bit,
                              uint16_t code, const uint8_t *data, uint16_t len)
{
	knot_rrset_t opt;   /* knot_edns_init() allocates its owner and rdata */
	knot_edns_init(&opt, payload, 0, 0, NULL);
	if (do_bit) {
		knot_edns_set_do(&opt);
	}
	if (code != 0) {
		knot_edns_add_option(&opt, code, len, data, NULL);
	}
	knot_pkt_begin(pkt, KNOT_ADDITIONAL);
	knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_FREE);
}

/* A query; edns 0 means no OPT record. */
static inline size_t px_query(uint8_t *buf, size_t cap, const char *name, uint16_t type,
                              uint16_t id, uint16_t edns, bool do_bit)
{
	knot_pkt_t *pkt = knot_pkt_new(buf, cap, NULL);
	knot_pkt_clear(pkt);   /* a new message in buf, not one already there */
	knot_dname_t *qname = knot_dname_from_str_alloc(name);
	knot_wire_set_id(pkt->wire, id);
	knot_wire_set_rd(pkt->wire);
	knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, type);
	free(qname);
	if (edns != 0) {
		px_put_opt(pkt, edns, do_bit, 0, NULL, 0);
	}
	size_t size = pkt->size;
	knot_pkt_free(pkt);
	return size;
}

/* An answer (ID 0, QR, AA) with records in ANSWER and AUTHORITY. */
static inline size_t px_answer(uint8_t *buf, size_t cap, const char *name, uint16_t type,
                               uint8_t rcode, const px_rr_t *an, size_t nan,
                               const px_rr_t *ns, size_t nns, uint16_t edns)
{
	knot_pkt_t *pkt = knot_pkt_new(buf, cap, NULL);
	knot_pkt_clear(pkt);   /* a new message in buf, not one already there */
	knot_dname_t *qname = knot_dname_from_str_alloc(name);
	knot_wire_set_qr(pkt->wire);
	knot_wire_set_aa(pkt->wire);
	knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, type);
	free(qname);
	knot_wire_set_rcode(pkt->wire, rcode);
	knot_pkt_begin(pkt, KNOT_ANSWER);
	for (size_t i = 0; i < nan; i++) {
		px_put(pkt, &an[i]);
	}
	knot_pkt_begin(pkt, KNOT_AUTHORITY);
	for (size_t i = 0; i < nns; i++) {
		px_put(pkt, &ns[i]);
	}
	if (edns != 0) {
		px_put_opt(pkt, edns, false, 0, NULL, 0);
	}
	size_t size = pkt->size;
	knot_pkt_free(pkt);
	return size;
}

/* TTL of the record number i (0-based, question skipped) in a message. */
static inline uint32_t px_ttl(const uint8_t *wire, size_t len, size_t i)
{
	knot_pkt_t *pkt = knot_pkt_new((void *)wire, len, NULL);
	uint32_t ttl = UINT32_MAX;
	if (knot_pkt_parse(pkt, 0) == KNOT_EOK && i < pkt->rrset_count) {
		ttl = pkt->rr[i].ttl;
	}
	knot_pkt_free(pkt);
	return ttl;
}
