/* SPDX-License-Identifier: Apache-2.0
 * api_scope.c -- token scopes: checking what a user writes and deciding
 * whether a token's scopes allow a request. Pure string functions, so the
 * unit tests need nothing else. The rule, also in docs/api.yaml:
 *   admin                  everything, tokens and the whole audit log included
 *   zone:<pattern>:read    read zones whose name matches pattern
 *   zone:<pattern>:write   read and change them, create and delete them
 *   service:<pattern>/<name>:write
 *                          register, renew and deregister instances of the
 *                          service <name> (a label) in zones matching
 *                          pattern, and list that service (docs/services.md)
 * A zone name is matched in lower case without its final dot ("." for the
 * root) with fnmatch(3) and no flags: `*` matches any run of characters,
 * dots included, so `*.example.com` is every zone below example.com but not
 * example.com itself, and `*` is every zone.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "util/error.h"

/* Longest presentation zone name we match (255 wire bytes, escaped). */
#define ZONE_TEXT_MAX 1024

static int scope_error(char *err, size_t errlen, const char *scope, const char *why)
{
	snprintf(err, errlen, "scope '%s': %s (use admin, zone:PATTERN:read or "
	         "zone:PATTERN:write or service:ZONE/NAME:write)", scope, why);
	return CIRRUS_EINVAL;
}

/* Canonical pattern from text of length len; CIRRUS_EINVAL with a reason. */
static int pattern_normalize(const char *text, size_t len, char *out, const char **why)
{
	if (len == 1 && text[0] == '.') {
		strcpy(out, ".");
		return 0;
	}
	if (len > 1 && text[len - 1] == '.') {
		len--;
	}
	if (len == 0 || len > 253) {
		*why = "the zone pattern must have 1 to 253 characters";
		return CIRRUS_EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != '*') {
			*why = "the zone pattern may hold only letters, digits, '-', '_', '.' and '*'";
			return CIRRUS_EINVAL;
		}
		if (c == '.' && (i == 0 || i == len - 1 || text[i - 1] == '.')) {
			*why = "the zone pattern has an empty label";
			return CIRRUS_EINVAL;
		}
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return 0;
}

/* service:<pattern>/<name>:write; out has room for the scope (checked). */
static int service_normalize(const char *scope, char *out, size_t outlen, char *err,
                             size_t errlen)
{
	const char *last = strrchr(scope, ':');
	const char *slash = strrchr(scope, '/');
	if (last == NULL || last < scope + 8 || strcasecmp(last + 1, "write") != 0) {
		return scope_error(err, errlen, scope, "a service scope ends in :write");
	}
	if (slash == NULL || slash < scope + 8 || slash > last) {
		return scope_error(err, errlen, scope, "a service scope is service:ZONE/NAME:write");
	}
	size_t name_len = (size_t)(last - slash - 1);
	if (name_len == 0 || name_len > 63 || slash[1] == '-' || last[-1] == '-') {
		return scope_error(err, errlen, scope, "the service name must be 1 to 63 letters, "
		                   "digits and inner hyphens");
	}
	const char *why = NULL;
	memcpy(out, "service:", 8);
	if (pattern_normalize(scope + 8, (size_t)(slash - scope - 8), out + 8, &why) != 0) {
		return scope_error(err, errlen, scope, why);
	}
	size_t used = strlen(out);
	out[used++] = '/';
	for (size_t i = 0; i < name_len; i++) {
		unsigned char c = (unsigned char)slash[1 + i];
		if (!isalnum(c) && c != '-') {
			return scope_error(err, errlen, scope, "the service name must be 1 to 63 "
			                   "letters, digits and inner hyphens");
		}
		out[used++] = (char)tolower(c);
	}
	snprintf(out + used, outlen - used, ":write");
	return 0;
}

int api_scope_normalize(const char *scope, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t len = strlen(scope);
	if (outlen < len + 1) {
		snprintf(err, errlen, "scope '%.64s...' is too long", scope);
		return CIRRUS_ESPACE;
	}
	if (strcasecmp(scope, "admin") == 0) {
		strcpy(out, "admin");
		return 0;
	}
	if (strncasecmp(scope, "service:", 8) == 0) {
		return service_normalize(scope, out, outlen, err, errlen);
	}
	const char *last = strrchr(scope, ':');
	if (strncasecmp(scope, "zone:", 5) != 0 || last == NULL || last < scope + 5) {
		return scope_error(err, errlen, scope, "unknown scope");
	}
	const char *access = last + 1;
	if (strcasecmp(access, "read") != 0 && strcasecmp(access, "write") != 0) {
		return scope_error(err, errlen, scope, "the access must be read or write");
	}
	const char *why = NULL;
	memcpy(out, "zone:", 5);
	if (pattern_normalize(scope + 5, (size_t)(last - scope - 5), out + 5, &why) != 0) {
		return scope_error(err, errlen, scope, why);
	}
	size_t used = strlen(out);
	snprintf(out + used, outlen - used, ":%s", tolower((unsigned char)*access) == 'r' ?
	         "read" : "write");
	return 0;
}

/* Call fn for each space-separated word of scopes until it returns true. */
static bool any_scope(const char *scopes, bool (*fn)(const char *s, size_t len, void *ctx),
                      void *ctx)
{
	const char *p = scopes;
	while (*p != '\0') {
		while (*p == ' ') {
			p++;
		}
		size_t len = strcspn(p, " ");
		if (len > 0 && fn(p, len, ctx)) {
			return true;
		}
		p += len;
	}
	return false;
}

static bool is_admin(const char *s, size_t len, void *ctx)
{
	(void)ctx;
	return len == 5 && memcmp(s, "admin", 5) == 0;
}

bool api_scopes_admin(const char *scopes)
{
	return any_scope(scopes, is_admin, NULL);
}

typedef struct want {
	char zone[ZONE_TEXT_MAX];
	api_access_t access;
} want_t;

static bool scope_allows(const char *s, size_t len, void *ctx)
{
	const want_t *w = ctx;
	if (is_admin(s, len, NULL)) {
		return true;
	}
	char scope[API_SCOPES_SIZE];
	if (len < 5 || len >= sizeof(scope) || memcmp(s, "zone:", 5) != 0) {
		return false;
	}
	memcpy(scope, s, len);
	scope[len] = '\0';
	char *access = strrchr(scope, ':');
	if (access == scope + 4) {
		return false;
	}
	*access++ = '\0';
	bool level = strcmp(access, "write") == 0 ||
	             (strcmp(access, "read") == 0 && w->access == API_ACCESS_READ);
	return level && fnmatch(scope + 5, w->zone, 0) == 0;
}

bool api_scopes_allow(const char *scopes, const char *zone, api_access_t want)
{
	want_t w = { .access = want };
	size_t len = strlen(zone);
	if (len >= sizeof(w.zone)) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		w.zone[i] = (char)tolower((unsigned char)zone[i]);
	}
	/* Drop the final dot, unless it is the root or an escaped dot ("a\."). */
	if (len > 1 && zone[len - 1] == '.' && zone[len - 2] != '\\') {
		len--;
	}
	w.zone[len] = '\0';
	return any_scope(scopes, scope_allows, &w);
}

typedef struct want_service {
	const char *zone;       /* lower case, no final dot */
	const char *service;
} want_service_t;

static bool service_allows(const char *s, size_t len, void *ctx)
{
	const want_service_t *w = ctx;
	char scope[API_SCOPES_SIZE];
	if (len < 8 || len >= sizeof(scope) || memcmp(s, "service:", 8) != 0) {
		return false;
	}
	memcpy(scope, s, len);
	scope[len] = '\0';
	char *access = strrchr(scope, ':');
	char *slash = strrchr(scope, '/');
	if (access == NULL || slash == NULL || slash > access || strcmp(access, ":write") != 0) {
		return false;
	}
	*access = '\0';
	*slash = '\0';
	return strcmp(slash + 1, w->service) == 0 && fnmatch(scope + 8, w->zone, 0) == 0;
}

bool api_scopes_allow_service(const char *scopes, const char *zone, const char *service)
{
	if (api_scopes_allow(scopes, zone, API_ACCESS_WRITE)) {
		return true;
	}
	char z[ZONE_TEXT_MAX], svc[64];
	size_t len = strlen(zone), slen = strlen(service);
	if (len >= sizeof(z) || slen >= sizeof(svc)) {
		return false;
	}
	for (size_t i = 0; i <= len; i++) {
		z[i] = (char)tolower((unsigned char)zone[i]);
	}
	for (size_t i = 0; i <= slen; i++) {
		svc[i] = (char)tolower((unsigned char)service[i]);
	}
	if (len > 1 && z[len - 1] == '.' && z[len - 2] != '\\') {
		z[len - 1] = '\0';
	}
	want_service_t w = { .zone = z, .service = svc };
	return any_scope(scopes, service_allows, &w);
}
