/* SPDX-License-Identifier: Apache-2.0
 * engine_edns.c -- EDNS(0) (RFC 6891) for the engine: checking the query's
 * OPT and building the response's, with NSID (RFC 5001) and TCP keepalive
 * (RFC 7828) when asked for. Client subnet and cookies come later.
 */
#include <string.h>

#include "engine/engine_internal.h"

/* Options must tile the RDATA exactly (RFC 6891 6.1.2). */
static bool options_well_formed(const knot_rrset_t *opt)
{
	const knot_rdata_t *rd = opt->rrs.rdata;
	if (opt->rrs.count != 1) {
		return false;
	}
	size_t pos = 0;
	while (pos < rd->len) {
		if (rd->len - pos < 4) {
			return false;
		}
		uint16_t len = knot_wire_read_u16(rd->data + pos + 2);
		pos += 4 + (size_t)len;
	}
	return pos == rd->len;
}

uint16_t engine_edns_parse(engine_ctx_t *ctx)
{
	const knot_rrset_t *opt = ctx->query->opt_rr;
	if (opt == NULL) {
		return KNOT_RCODE_NOERROR;
	}
	ctx->edns = true;
	if (opt->owner == NULL || opt->owner[0] != '\0' || !options_well_formed(opt)) {
		return KNOT_RCODE_FORMERR;
	}
	ctx->edns_do = knot_edns_do(opt);
	ctx->client_payload = knot_edns_get_payload(opt);
	if (ctx->client_payload < KNOT_WIRE_MIN_PKTSIZE) {
		ctx->client_payload = KNOT_WIRE_MIN_PKTSIZE;
	}
	if (knot_edns_get_version(opt) != 0) {
		return KNOT_RCODE_BADVERS;
	}
	ctx->want_nsid = knot_edns_get_option(opt, KNOT_EDNS_OPTION_NSID, NULL) != NULL;
	ctx->want_keepalive = ctx->q->transport == ENGINE_TRANSPORT_TCP &&
		knot_edns_get_option(opt, KNOT_EDNS_OPTION_TCP_KEEPALIVE, NULL) != NULL;
	return KNOT_RCODE_NOERROR;
}

int engine_edns_reserve(engine_ctx_t *ctx)
{
	if (!ctx->edns) {
		return 0;
	}
	const engine_conf_t *conf = ctx->conf;
	if (knot_edns_init(&ctx->opt, conf->udp_payload, 0, 0, &ctx->mm) != KNOT_EOK) {
		return -1;
	}
	if (ctx->edns_do) {
		knot_edns_set_do(&ctx->opt);
	}
	if (ctx->want_nsid && conf->nsid != NULL &&
	    knot_edns_add_option(&ctx->opt, KNOT_EDNS_OPTION_NSID, conf->nsid_len,
	                         conf->nsid, &ctx->mm) != KNOT_EOK) {
		return -1;
	}
	if (ctx->want_keepalive) {
		uint8_t ka[2];
		knot_wire_write_u16(ka, conf->tcp_keepalive);
		if (knot_edns_add_option(&ctx->opt, KNOT_EDNS_OPTION_TCP_KEEPALIVE,
		                         sizeof(ka), ka, &ctx->mm) != KNOT_EOK) {
			return -1;
		}
	}
	return knot_pkt_reserve(ctx->resp, knot_edns_wire_size(&ctx->opt)) == KNOT_EOK ? 0 : -1;
}

void engine_edns_write(engine_ctx_t *ctx)
{
	if (!ctx->edns || ctx->opt.rrs.rdata == NULL) {
		return;
	}
	knot_edns_set_ext_rcode(&ctx->opt, (uint8_t)(ctx->rcode >> 4));
	knot_pkt_reclaim(ctx->resp, knot_edns_wire_size(&ctx->opt));
	if (knot_pkt_begin(ctx->resp, KNOT_ADDITIONAL) == KNOT_EOK) {
		(void)knot_pkt_put(ctx->resp, KNOT_COMPR_HINT_NONE, &ctx->opt, 0);
	}
}
