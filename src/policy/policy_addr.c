/* SPDX-License-Identifier: Apache-2.0
 * policy_addr.c -- client addresses and CIDR prefixes as the ip and geo
 * rules and ECS (RFC 7871) see them: family, known prefix length, bytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "util/error.h"

unsigned policy_family_bits(uint8_t family)
{
	switch (family) {
	case POLICY_FAMILY_IPV4: return 32;
	case POLICY_FAMILY_IPV6: return 128;
	default:                 return 0;
	}
}

/* Whether any bit at or after position prefix is set. */
static bool host_bits_set(const uint8_t *bytes, unsigned prefix, unsigned bits)
{
	for (unsigned i = prefix; i < bits; i++) {
		if (bytes[i / 8] & (0x80 >> (i % 8))) {
			return true;
		}
	}
	return false;
}

int policy_cidr_parse(const char *text, policy_addr_t *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(text) >= sizeof(buf)) {
		return CIRRUS_EINVAL;
	}
	strcpy(buf, text);
	char *slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->bytes) == 1) {
		out->family = POLICY_FAMILY_IPV4;
	} else if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
		out->family = POLICY_FAMILY_IPV6;
	} else {
		return CIRRUS_EINVAL;
	}
	unsigned bits = policy_family_bits(out->family);
	unsigned long prefix = bits;
	if (slash != NULL) {
		char *end = NULL;
		const char *len = slash + 1;
		prefix = (*len >= '0' && *len <= '9') ? strtoul(len, &end, 10) : bits + 1;
		if (end == NULL || *end != '\0' || prefix > bits) {
			return CIRRUS_EINVAL;
		}
	}
	out->prefix = (uint8_t)prefix;
	return host_bits_set(out->bytes, out->prefix, bits) ? CIRRUS_EINVAL : 0;
}

void policy_addr_from_sockaddr(const struct sockaddr *sa, policy_addr_t *out)
{
	memset(out, 0, sizeof(*out));
	if (sa == NULL) {
		return;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
		out->family = POLICY_FAMILY_IPV4;
		out->prefix = 32;
		memcpy(out->bytes, &v4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
			out->family = POLICY_FAMILY_IPV4;
			out->prefix = 32;
			memcpy(out->bytes, v6->sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = POLICY_FAMILY_IPV6;
			out->prefix = 128;
			memcpy(out->bytes, &v6->sin6_addr, 16);
		}
	}
}

bool policy_cidr_contains(const policy_addr_t *cidr, const policy_addr_t *addr)
{
	if (cidr->family != addr->family || addr->prefix < cidr->prefix) {
		return false;
	}
	unsigned full = cidr->prefix / 8, rest = cidr->prefix % 8;
	if (memcmp(cidr->bytes, addr->bytes, full) != 0) {
		return false;
	}
	uint8_t mask = (uint8_t)(0xff00 >> rest);
	return rest == 0 || (cidr->bytes[full] & mask) == (addr->bytes[full] & mask);
}
