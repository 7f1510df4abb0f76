/* SPDX-License-Identifier: Apache-2.0
 * fn_client.c -- who a request is for when it comes through proxies: the
 * trusted-proxy blocks, and the walk over Forwarded (RFC 7239) or
 * X-Forwarded-For from the right. Only hops appended by a trusted proxy are
 * believed; anything to the left of the first untrusted hop is what a
 * client wrote and is ignored, so a client cannot choose its own address.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fn/fn.h"
#include "util/error.h"

/* Longest hop text considered ("[v6%scope]:port" fits easily). */
#define HOP_MAX 128

void fn_prefix_mask(uint8_t *addr, size_t size, unsigned prefix)
{
	for (size_t i = 0; i < size; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int fn_cidr_parse(const char *text, fn_cidr_t *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	if (len == 0 || len >= sizeof(addr)) {
		return CIRRUS_EINVAL;
	}
	memcpy(addr, text, len);
	addr[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
	} else {
		return CIRRUS_EINVAL;
	}
	unsigned max = out->family == AF_INET ? 32 : 128;
	unsigned long prefix = max;
	if (slash != NULL) {
		char *end = NULL;
		if (!isdigit((unsigned char)slash[1]) ||
		    (prefix = strtoul(slash + 1, &end, 10)) > max || *end != '\0') {
			return CIRRUS_EINVAL;
		}
	}
	out->prefix = (uint8_t)prefix;
	fn_prefix_mask(out->addr, max / 8, out->prefix);
	return 0;
}

/* The family and bytes of sa; IPv4-mapped IPv6 becomes IPv4. */
static int addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6) {
		return AF_UNSPEC;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(out, a6->s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, a6->s6_addr, 16);
	return AF_INET6;
}

bool fn_cidr_match(const fn_cidr_t *blocks, size_t count, const struct sockaddr *sa)
{
	uint8_t addr[16];
	int family = addr_bytes(sa, addr);
	for (size_t i = 0; i < count; i++) {
		const fn_cidr_t *b = &blocks[i];
		if (b->family != family) {
			continue;
		}
		uint8_t masked[16];
		size_t size = family == AF_INET ? 4 : 16;
		memcpy(masked, addr, size);
		fn_prefix_mask(masked, size, b->prefix);
		if (memcmp(masked, b->addr, size) == 0) {
			return true;
		}
	}
	return false;
}

/* A hop as proxies write it: "192.0.2.1", "192.0.2.1:80", "2001:db8::1",
 * "[2001:db8::1]:80". False for "unknown", obfuscated names or garbage. */
static bool parse_hop(const char *s, size_t len, struct sockaddr_storage *out)
{
	char buf[HOP_MAX];
	while (len > 0 && isspace((unsigned char)*s)) {
		s++, len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1])) {
		len--;
	}
	if (len == 0 || len >= sizeof(buf)) {
		return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *host = buf, *port = NULL;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			return false;
		}
		*close = '\0';
		host = buf + 1;
		port = close[1] == ':' ? close + 2 : NULL;
	} else if (strchr(buf, ':') == strrchr(buf, ':') && strchr(buf, ':') != NULL) {
		port = strchr(buf, ':');  /* one colon: IPv4 with a port */
		*port++ = '\0';
	}
	unsigned long p = 0;
	if (port != NULL) {
		char *end = NULL;
		if (!isdigit((unsigned char)*port) || (p = strtoul(port, &end, 10)) > 65535 ||
		    *end != '\0') {
			return false;
		}
	}
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		return true;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		return true;
	}
	return false;
}

/* Length of the value of a Forwarded parameter at s, unquoted into buf. */
static size_t forwarded_value(const char *s, size_t len, char *buf, size_t size)
{
	size_t n = 0;
	if (len == 0 || s[0] != '"') {
		n = len < size ? len : 0;
		memcpy(buf, s, n);
		return n;
	}
	for (size_t i = 1; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			i++;
		}
		if (n + 1 >= size) {
			return 0;
		}
		buf[n++] = s[i];
	}
	return n;
}

/* The for= node of one Forwarded element (pairs separated by ';'). */
static bool forwarded_for(const char *el, size_t len, struct sockaddr_storage *out)
{
	const char *end = el + len;
	while (el < end) {
		const char *semi = memchr(el, ';', (size_t)(end - el));
		const char *pair_end = semi ? semi : end;
		while (el < pair_end && isspace((unsigned char)*el)) {
			el++;
		}
		if (pair_end - el > 4 && strncasecmp(el, "for=", 4) == 0) {
			char buf[HOP_MAX];
			size_t n = forwarded_value(el + 4, (size_t)(pair_end - el - 4), buf,
			                           sizeof(buf));
			return parse_hop(buf, n, out);
		}
		el = semi ? semi + 1 : end;
	}
	return false;
}

/* Parses one hop of a list. */
typedef bool (*hop_parse_t)(const char *s, size_t len, struct sockaddr_storage *out);

/* Walk a comma-separated list from the right while hops are trusted. */
static void walk(const char *list, hop_parse_t parse, const fn_cidr_t *trusted,
                 size_t count, struct sockaddr_storage *out)
{
	size_t end = strlen(list);
	while (end > 0) {
		size_t start = end;
		while (start > 0 && list[start - 1] != ',') {
			start--;
		}
		struct sockaddr_storage hop;
		if (!parse(list + start, end - start, &hop)) {
			return;
		}
		*out = hop;
		if (!fn_cidr_match(trusted, count, (const struct sockaddr *)&hop)) {
			return;
		}
		end = start > 0 ? start - 1 : 0;
	}
}

/* A quoted Forwarded value may hold a comma; no address does, so such an
 * element fails to parse and ends the walk, which is the safe side. */
void fn_client_addr(const struct sockaddr *peer, const fn_cidr_t *trusted, size_t count,
                    const char *forwarded, const char *xff,
                    struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	size_t size = peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	              sizeof(struct sockaddr_in);
	memcpy(out, peer, size);
	if (count == 0 || !fn_cidr_match(trusted, count, peer)) {
		return;
	}
	if (forwarded != NULL && *forwarded != '\0') {
		walk(forwarded, forwarded_for, trusted, count, out);
	} else if (xff != NULL) {
		walk(xff, parse_hop, trusted, count, out);
	}
}
