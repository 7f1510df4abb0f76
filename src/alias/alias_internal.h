/* SPDX-License-Identifier: Apache-2.0
 * alias_internal.h -- shared by the alias/ files: one exchange with the
 * upstream (alias_exchange.c) that the resolver thread (alias_run.c) starts
 * for each target and type when its data is due.
 */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "alias/alias.h"

/*! \brief Largest answer read (a TCP message can be 65535 bytes). */
#define ALIAS_ANSWER_MAX 65535

/*!
 * \brief Called once per exchange: the answer (not yet checked beyond its id
 * and QR bit), or NULL with a reason when every try failed.
 */
typedef void (*alias_done_cb_t)(void *ctx, const uint8_t *wire, size_t len,
                                const char *why);

typedef struct alias_exchange alias_exchange_t;

/*!
 * \brief Send query (copied) to upstream over UDP, trying 1 + retries times
 * with timeout_ms each; a truncated answer is asked again over TCP (within
 * one more timeout). done runs on the loop, unless cancelled first.
 * \retval 0, -CIRRUS_ENOMEM, -CIRRUS_EIO (the socket cannot be opened)
 */
int alias_exchange_start(uv_loop_t *loop, const struct sockaddr_storage *upstream,
                         const uint8_t *query, size_t len, unsigned timeout_ms,
                         unsigned retries, alias_done_cb_t done, void *ctx,
                         alias_exchange_t **out);

/*! \brief Stop an exchange: done will not run; it frees itself once its
 * handles are closed. */
void alias_exchange_cancel(alias_exchange_t *x);
