/* SPDX-License-Identifier: Apache-2.0
 * addr.h -- numeric socket addresses from configuration and requests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/*!
 * \brief Read a numeric IPv4 or IPv6 address and give it a port.
 *
 * IPv4 goes through inet_pton(), which refuses short forms such as 127.1;
 * IPv6 through getaddrinfo() with AI_NUMERICHOST, which also reads a scope
 * such as fe80::1%eth0. Names are never resolved.
 * \retval true with *ss set (port in network order); false when text is
 *         not a numeric address (*ss is zeroed).
 */
bool addr_parse(const char *text, uint16_t port, struct sockaddr_storage *ss);
