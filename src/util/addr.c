/* SPDX-License-Identifier: Apache-2.0
 * addr.c -- numeric socket addresses (see addr.h).
 */
#include "util/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

bool addr_parse(const char *text, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (text == NULL) {
		return false;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		return true;
	}
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_family = AF_INET6 };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(text, NULL, &hints, &ai) != 0) {
		return false;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return true;
}
