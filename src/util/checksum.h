/* SPDX-License-Identifier: Apache-2.0
 * checksum.h -- a fast 64-bit checksum of a byte range, for detecting
 * damage to files we wrote ourselves (compiled zone images). Not a
 * cryptographic hash: it catches accidents, not forgeries.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*! \brief Checksum of size bytes at data, starting from seed (pass the
 *  checksum of what comes before to cover several ranges). Any alignment. */
uint64_t checksum64(const void *data, size_t size, uint64_t seed);
