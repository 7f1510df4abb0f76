/* SPDX-License-Identifier: Apache-2.0
 * engine_edns.c -- EDNS(0) (RFC 6891) for the engine: checking the query's
 * OPT and building the response's, with NSID (RFC 5001) and TCP keepalive
 * (RFC 7828) when asked for, and EDNS Client Subnet (RFC 7871): checked,
 * trusted only from configured resolvers, echoed with the scope the
 * answer used. Cookies come later.
 */
#include <string.h>

#include "engine/engine_internal.h"

#define EDE_TEXT_MAX 64   /* our own reasons are short */

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

/* The single ECS option of opt, NULL when there is none; *dup when there
 * are several. */
static const uint8_t *find_ecs(const knot_rrset_t *opt, bool *dup)
{
	const uint8_t *first = knot_edns_get_option(opt, KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL);
	*dup = first != NULL &&
	       knot_edns_get_option(opt, KNOT_EDNS_OPTION_CLIENT_SUBNET, first) != NULL;
	return first;
}

/* RFC 7871 6 and 7.1.1: a known family, a source prefix that fits it, just
 * enough address octets, and no bits set past the prefix; else FORMERR.
 * SCOPE in a query is ignored (it "MUST be 0" and carries nothing). */
static bool ecs_parse(const uint8_t *option, policy_addr_t *out)
{
	uint16_t len = knot_edns_opt_get_length(option);
	const uint8_t *data = option + 4;
	if (len < 4) {
		return false;
	}
	memset(out, 0, sizeof(*out));
	uint16_t family = knot_wire_read_u16(data);
	unsigned bits = family <= 2 ? policy_family_bits((uint8_t)family) : 0;
	uint8_t source = data[2];
	unsigned octets = (source + 7u) / 8;
	if (bits == 0 || source > bits || len - 4u != octets) {
		return false;
	}
	memcpy(out->bytes, data + 4, octets);
	if (source % 8 != 0 && (out->bytes[octets - 1] & (0xff >> (source % 8))) != 0) {
		return false;
	}
	out->family = (uint8_t)family;
	out->prefix = source;
	return true;
}

static bool ecs_trusted(const engine_ctx_t *ctx)
{
	const engine_conf_t *conf = ctx->conf;
	if (conf->ecs_trust_count == 0) {
		return false;
	}
	policy_addr_t source;
	policy_addr_from_sockaddr(ctx->q->remote, &source);
	for (size_t i = 0; i < conf->ecs_trust_count; i++) {
		if (policy_cidr_contains(&conf->ecs_trust[i], &source)) {
			return true;
		}
	}
	return false;
}

/* ECS of the query: FORMERR when malformed; when trusted, it is the
 * client policies answer for. */
static uint16_t parse_client_subnet(engine_ctx_t *ctx, const knot_rrset_t *opt)
{
	bool dup = false;
	const uint8_t *option = find_ecs(opt, &dup);
	if (option == NULL) {
		return KNOT_RCODE_NOERROR;
	}
	if (dup || !ecs_parse(option, &ctx->ecs_addr)) {
		return KNOT_RCODE_FORMERR;
	}
	ctx->ecs = true;
	if (ecs_trusted(ctx)) {
		ctx->ecs_trusted = true;
		ctx->client = ctx->ecs_addr;
		ctx->client_set = true;
	}
	return KNOT_RCODE_NOERROR;
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
	return parse_client_subnet(ctx, opt);
}

/* Echo ECS (RFC 7871 7.2.1): family, source prefix and address as sent;
 * the scope is patched in by engine_edns_write once the answer is known. */
static int add_client_subnet(engine_ctx_t *ctx)
{
	const policy_addr_t *a = &ctx->ecs_addr;
	uint8_t data[4 + 16];
	unsigned octets = (a->prefix + 7u) / 8;
	knot_wire_write_u16(data, a->family);
	data[2] = a->prefix;
	data[3] = 0;
	memcpy(data + 4, a->bytes, octets);
	return knot_edns_add_option(&ctx->opt, KNOT_EDNS_OPTION_CLIENT_SUBNET,
	                            (uint16_t)(4 + octets), data, &ctx->mm);
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
	if (ctx->ecs && add_client_subnet(ctx) != KNOT_EOK) {
		return -1;
	}
	return knot_pkt_reserve(ctx->resp, knot_edns_wire_size(&ctx->opt)) == KNOT_EOK ? 0 : -1;
}

void engine_set_ede(engine_ctx_t *ctx, uint16_t code, const char *text)
{
	if (!ctx->ede_set) {
		ctx->ede_set = true;
		ctx->ede_code = code;
		ctx->ede_text = text;
	}
}

/* The EDE option is not reserved up front (it is rare, and reserving it in
 * every answer would truncate earlier): it goes in when what the answer
 * left has room for it, else it is left out. */
static void add_extended_error(engine_ctx_t *ctx)
{
	uint8_t data[2 + EDE_TEXT_MAX];
	size_t text = ctx->ede_set ? strlen(ctx->ede_text) : 0;
	if (!ctx->ede_set || text > EDE_TEXT_MAX ||
	    ctx->resp->size + knot_edns_wire_size(&ctx->opt) + KNOT_EDNS_OPTION_HDRLEN +
	    sizeof(uint16_t) + text > ctx->resp->max_size) {
		return;
	}
	knot_wire_write_u16(data, ctx->ede_code);
	memcpy(data + 2, ctx->ede_text, text);
	(void)knot_edns_add_option(&ctx->opt, KNOT_EDNS_OPTION_EDE, (uint16_t)(2 + text),
	                           data, &ctx->mm);
}

void engine_edns_write(engine_ctx_t *ctx)
{
	if (!ctx->edns || ctx->opt.rrs.rdata == NULL) {
		return;
	}
	knot_edns_set_ext_rcode(&ctx->opt, (uint8_t)(ctx->rcode >> 4));
	if (ctx->ecs) {
		uint8_t *ecs = knot_edns_get_option(&ctx->opt, KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL);
		if (ecs != NULL) {
			ecs[4 + 3] = ctx->ecs_scope;
		}
	}
	knot_pkt_reclaim(ctx->resp, knot_edns_wire_size(&ctx->opt));
	add_extended_error(ctx);
	if (knot_pkt_begin(ctx->resp, KNOT_ADDITIONAL) == KNOT_EOK) {
		(void)knot_pkt_put(ctx->resp, KNOT_COMPR_HINT_NONE, &ctx->opt, 0);
	}
}
