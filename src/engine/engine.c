/* SPDX-License-Identifier: Apache-2.0
 * engine.c -- engine_handle(): one query through named stages, top to bottom:
 *   1. header   drop responses and runts; NOTIMP for opcodes we do not serve
 *   2. parse    libknot parse; FORMERR for malformed messages
 *   3. edns     OPT checks (FORMERR, BADVERS), response OPT reserved
 *   4. class    IN answered from zones, CH for identity, the rest REFUSED
 *   5. answer   engine_lookup.c
 *   6. finish   truncation, rcode, OPT
 * All memory comes from the caller's scratch arena.
 */
#include <string.h>

#include "engine/engine_internal.h"

void engine_conf_init(engine_conf_t *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->udp_payload = 1232;
	conf->tcp_keepalive = 100; /* 10 s */
}

/* Largest answer for this query (RFC 6891 6.2.5, RFC 1035 4.2.1). */
static uint16_t answer_limit(const engine_ctx_t *ctx, size_t buffer)
{
	size_t limit = KNOT_WIRE_MIN_PKTSIZE;
	if (ctx->q->transport == ENGINE_TRANSPORT_TCP) {
		limit = KNOT_WIRE_MAX_PKTSIZE;
	} else if (ctx->edns) {
		limit = ctx->client_payload < ctx->conf->udp_payload ?
		        ctx->client_payload : ctx->conf->udp_payload;
		if (limit < KNOT_WIRE_MIN_PKTSIZE) {
			limit = KNOT_WIRE_MIN_PKTSIZE;
		}
	}
	return (uint16_t)(limit < buffer ? limit : buffer);
}

/* A response carrying only the header (and the question if it parsed). */
static size_t header_only(const uint8_t *query, size_t query_len, uint8_t *answer,
                          size_t question_len, uint16_t rcode)
{
	size_t len = KNOT_WIRE_HEADER_SIZE + question_len;
	if (len > query_len) {
		len = KNOT_WIRE_HEADER_SIZE;
	}
	memcpy(answer, query, len);
	knot_wire_set_qr(answer);
	knot_wire_clear_aa(answer);
	knot_wire_clear_tc(answer);
	knot_wire_clear_ra(answer);
	knot_wire_clear_ad(answer);
	knot_wire_clear_z(answer);
	knot_wire_set_rcode(answer, rcode);
	knot_wire_set_qdcount(answer, len > KNOT_WIRE_HEADER_SIZE ? 1 : 0);
	knot_wire_set_ancount(answer, 0);
	knot_wire_set_nscount(answer, 0);
	knot_wire_set_arcount(answer, 0);
	return len;
}

static bool chaos_name(const knot_dname_t *name, const char *const *names)
{
	for (; *names != NULL; names++) {
		knot_dname_storage_t wire;
		if (knot_dname_from_str(wire, *names, sizeof(wire)) != NULL &&
		    knot_dname_is_case_equal(name, wire)) {
			return true;
		}
	}
	return false;
}

/* CH TXT id.server/hostname.bind and version.bind/version.server, the
 * conventional server-identification queries; REFUSED unless configured. */
static void answer_chaos(engine_ctx_t *ctx)
{
	static const char *const id_names[] = { "id.server.", "hostname.bind.", NULL };
	static const char *const version_names[] = { "version.server.", "version.bind.", NULL };
	const char *text = NULL;
	if (chaos_name(ctx->qname_lower, id_names)) {
		text = ctx->conf->identity;
	} else if (chaos_name(ctx->qname_lower, version_names)) {
		text = ctx->conf->version;
	}
	if (text == NULL || (ctx->qtype != KNOT_RRTYPE_TXT && ctx->qtype != KNOT_RRTYPE_ANY)) {
		ctx->rcode = KNOT_RCODE_REFUSED;
		return;
	}
	size_t len = strlen(text) > 255 ? 255 : strlen(text);
	uint8_t rdata[256];
	rdata[0] = (uint8_t)len;
	memcpy(rdata + 1, text, len);
	knot_rrset_t rr;
	knot_rrset_init(&rr, (knot_dname_t *)ctx->qname, KNOT_RRTYPE_TXT, KNOT_CLASS_CH, 0);
	if (knot_rrset_add_rdata(&rr, rdata, (uint16_t)(len + 1), &ctx->mm) != KNOT_EOK ||
	    knot_pkt_put(ctx->resp, KNOT_COMPR_HINT_QNAME, &rr, 0) != KNOT_EOK) {
		ctx->rcode = KNOT_RCODE_SERVFAIL;
		return;
	}
	knot_wire_set_aa(ctx->resp->wire);
}

/* Stage 4: class and type gate, then the answer. */
static void answer_query(engine_ctx_t *ctx)
{
	uint16_t qclass = knot_pkt_qclass(ctx->query);
	if (knot_pkt_begin(ctx->resp, KNOT_ANSWER) != KNOT_EOK) {
		ctx->rcode = KNOT_RCODE_SERVFAIL;
		return;
	}
	if (ctx->qtype == KNOT_RRTYPE_OPT || ctx->qtype == KNOT_RRTYPE_TSIG ||
	    ctx->qtype == KNOT_RRTYPE_TKEY) {
		ctx->rcode = KNOT_RCODE_FORMERR; /* RFC 6891 6.1.1, RFC 8945 5.1 */
	} else if (qclass == KNOT_CLASS_CH) {
		answer_chaos(ctx);
	} else if (qclass != KNOT_CLASS_IN) {
		ctx->rcode = KNOT_RCODE_REFUSED;
	} else if (ctx->qtype == KNOT_RRTYPE_AXFR || ctx->qtype == KNOT_RRTYPE_IXFR) {
		ctx->rcode = KNOT_RCODE_REFUSED; /* zone transfers are not served yet */
	} else {
		engine_answer(ctx);
	}
}

/* Stage 6: rcode and OPT. */
static void finish(engine_ctx_t *ctx)
{
	uint8_t *wire = ctx->resp->wire;
	if (ctx->rcode >= 16 && !ctx->edns) {
		ctx->rcode = KNOT_RCODE_SERVFAIL; /* no way to express it */
	}
	knot_wire_set_rcode(wire, ctx->rcode & 0xf);
	engine_edns_write(ctx);
}

/* An answer or authority RRset did not fit: send the question alone with
 * TC=1 so the client retries over TCP (RFC 2181 9, RFC 7766 5). Over TCP
 * there is nowhere to retry: the data cannot be served, SERVFAIL. */
void engine_truncate(engine_ctx_t *ctx)
{
	knot_pkt_t *resp = ctx->resp;
	uint8_t flags1 = knot_wire_get_flags1(resp->wire);
	knot_pkt_clear(resp);
	knot_pkt_init_response(resp, ctx->query);
	knot_wire_set_flags1(resp->wire, flags1);
	ctx->truncated = true;
	if (ctx->q->transport == ENGINE_TRANSPORT_TCP) {
		knot_wire_clear_tc(resp->wire); /* libknot set it on overflow */
		knot_wire_clear_aa(resp->wire);
		ctx->rcode = KNOT_RCODE_SERVFAIL;
	} else {
		knot_wire_set_tc(resp->wire);
	}
	if (ctx->edns) {
		knot_pkt_reserve(resp, knot_edns_wire_size(&ctx->opt));
	}
}

engine_action_t engine_handle(const zone_set_t *zones, const engine_conf_t *conf,
                              const engine_query_t *q,
                              const uint8_t *query, size_t query_len,
                              uint8_t *answer, size_t answer_max,
                              size_t *answer_len, arena_t *scratch)
{
	/* 1. header */
	if (query_len < KNOT_WIRE_HEADER_SIZE || knot_wire_get_qr(query) ||
	    answer_max < KNOT_WIRE_MIN_PKTSIZE || query_len > KNOT_WIRE_MAX_PKTSIZE) {
		return ENGINE_DROP;
	}
	engine_ctx_t *ctx = arena_alloc(scratch, sizeof(*ctx));
	if (ctx == NULL) {
		return ENGINE_DROP;
	}
	memset(ctx, 0, sizeof(*ctx));
	ctx->zones = zones;
	ctx->conf = conf;
	ctx->q = q;
	arena_knot_mm(scratch, &ctx->mm);

	uint8_t *copy = arena_memdup(scratch, query, query_len);
	ctx->query = copy ? knot_pkt_new(copy, (uint16_t)query_len, &ctx->mm) : NULL;
	if (ctx->query == NULL) {
		return ENGINE_DROP;
	}
	if (knot_wire_get_opcode(query) != KNOT_OPCODE_QUERY) {
		size_t qlen = knot_pkt_parse_question(ctx->query) == KNOT_EOK ?
		              knot_pkt_question_size(ctx->query) : 0;
		*answer_len = header_only(query, query_len, answer, qlen, KNOT_RCODE_NOTIMPL);
		return ENGINE_SEND;
	}

	/* 2. parse: exactly one question, nothing in answer or authority. */
	if (knot_wire_get_qdcount(query) != 1 || knot_wire_get_ancount(query) != 0 ||
	    knot_wire_get_nscount(query) != 0 ||
	    knot_pkt_parse(ctx->query, KNOT_PF_NOCANON) != KNOT_EOK) {
		size_t qlen = (knot_wire_get_qdcount(query) == 1 &&
		               knot_pkt_parse_question(ctx->query) == KNOT_EOK) ?
		              knot_pkt_question_size(ctx->query) : 0;
		*answer_len = header_only(query, query_len, answer, qlen, KNOT_RCODE_FORMERR);
		return ENGINE_SEND;
	}
	ctx->qname = knot_pkt_qname(ctx->query);
	ctx->qtype = knot_pkt_qtype(ctx->query);
	zone_name_lower(ctx->qname_lower, ctx->qname);

	/* 3. edns */
	ctx->rcode = engine_edns_parse(ctx);
	ctx->resp = knot_pkt_new(answer, answer_limit(ctx, answer_max), &ctx->mm);
	if (ctx->resp == NULL || knot_pkt_init_response(ctx->resp, ctx->query) != KNOT_EOK) {
		return ENGINE_DROP;
	}
	knot_wire_clear_ad(answer);
	knot_wire_clear_z(answer);
	if (ctx->rcode == KNOT_RCODE_FORMERR) {
		ctx->edns = false; /* a broken OPT is not echoed */
	}
	if (engine_edns_reserve(ctx) != 0) {
		return ENGINE_DROP;
	}

	/* 4.-5. */
	if (ctx->rcode == KNOT_RCODE_NOERROR) {
		answer_query(ctx);
	}
	/* 6. */
	finish(ctx);
	*answer_len = ctx->resp->size;
	return ENGINE_SEND;
}
