/* SPDX-License-Identifier: Apache-2.0
 * answer.c -- which handler answers a message, for UDP and TCP alike:
 * RFC 2136 UPDATE goes to the control plane's handler when the server has
 * one (it writes to the store, so it runs outside RCU), every other message
 * to the engine with the zone set read under RCU.
 */
#include <urcu.h>
#include <libknot/libknot.h>

#include "net/net_internal.h"

static bool is_update(const net_server_t *srv, const uint8_t *msg, size_t len)
{
	return srv->conf.update != NULL && len >= KNOT_WIRE_HEADER_SIZE &&
	       !knot_wire_get_qr(msg) && knot_wire_get_opcode(msg) == KNOT_OPCODE_UPDATE;
}

engine_action_t net_answer(const net_server_t *srv, const engine_query_t *q,
                           const uint8_t *msg, size_t len, uint8_t *answer,
                           size_t answer_max, size_t *answer_len, arena_t *scratch)
{
	if (is_update(srv, msg, len)) {
		/* Blocks this thread for one durable commit (see net_conf_t). */
		int r = srv->conf.update(srv->conf.update_ctx, msg, len, q->remote, answer,
		                         answer_max, answer_len);
		return r == 0 ? ENGINE_SEND : ENGINE_DROP;
	}
	rcu_read_lock();
	engine_action_t act = engine_handle(rcu_dereference(srv->zones), srv->conf.engine, q,
	                                    msg, len, answer, answer_max, answer_len, scratch);
	rcu_read_unlock();
	return act;
}
