/* SPDX-License-Identifier: Apache-2.0
 * zone_generate.h -- BIND's $GENERATE directive expanded into record text.
 * Syntax: $GENERATE start-stop[/step] lhs [ttl] [class] type rhs
 * where lhs and rhs may hold $ or ${offset[,width[,base]]} (base d o x X n N).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*! \brief Receives one generated record line (with a trailing newline). */
typedef void (*zone_generate_cb_t)(void *ctx, const char *record, size_t len,
                                   uint64_t line);

/*!
 * \brief Expand one $GENERATE line (without its newline).
 * \param line_no  line of the directive, passed on to cb
 * \retval 0, -CIRRUS_EPARSE on a malformed directive (nothing generated)
 */
int zone_generate(const char *line, size_t len, uint64_t line_no,
                  zone_generate_cb_t cb, void *ctx);
