/* SPDX-License-Identifier: Apache-2.0
 * api_auth.c -- who is asking: the bearer token of a request (its SHA-256
 * in the token cache, else one lookup in the store; see api_token.c and
 * api_token_cache.c) and the request id that follows the request into logs
 * and the audit log. Scopes are decided in api_scope.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gnutls/crypto.h>

#include "api/api_internal.h"
#include "util/error.h"
#include "util/log.h"

/* Longest Authorization value looked at; longer ones cannot be ours. */
#define TOKEN_TEXT_MAX 256

static void unauthorized(api_req_t *req, const char *why)
{
	api_reply_error(req, MHD_HTTP_UNAUTHORIZED, NULL, "%s", why);
}

bool api_authenticate(api_req_t *req)
{
	const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	                                            MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL) {
		unauthorized(req, "this needs a token: send 'Authorization: Bearer TOKEN' "
		             "(make one with `cirrus token create`)");
		return false;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		unauthorized(req, "the Authorization header must use the Bearer scheme");
		return false;
	}
	char secret[TOKEN_TEXT_MAX + 1];
	h += 7 + strspn(h + 7, " ");
	size_t len = strcspn(h, " \t");
	if (len == 0 || len > TOKEN_TEXT_MAX || h[len + strspn(h + len, " \t")] != '\0') {
		unauthorized(req, "the bearer token is malformed");
		return false;
	}
	memcpy(secret, h, len);
	secret[len] = '\0';
	char hash[API_TOKEN_HASH_SIZE];
	store_token_t tok;
	int r = api_token_hash(secret, hash);
	if (r == 0) {
		r = api_token_find(req->api->ctl, hash, &tok);
	}
	if (api_code_is(r, CIRRUS_ENOENT)) {
		unauthorized(req, "unknown token (deleted, or never made here)");
		return false;
	}
	if (r != 0) {
		log_error("api: %s: cannot look up a token: %s", req->id, cirrus_strerror(-abs(r)));
		api_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		                "cannot check the token now; see the server log");
		return false;
	}
	snprintf(req->actor, sizeof(req->actor), "%s", tok.name);
	snprintf(req->scopes, sizeof(req->scopes), "%s", tok.scopes);
	return true;
}

/* A client's id is kept when it is 1 to 64 characters of this set, so it
 * can go into logs and the audit table as it is. */
static bool sane_request_id(const char *id)
{
	size_t len = id != NULL ? strlen(id) : 0;
	return len > 0 && len < API_REQUEST_ID_SIZE &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                  "0123456789-_.:/+=") == len;
}

void api_request_id(api_req_t *req)
{
	const char *id = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	                                             "X-Request-Id");
	if (sane_request_id(id)) {
		snprintf(req->id, sizeof(req->id), "%s", id);
		return;
	}
	uint8_t random[16];
	static const char digits[] = "0123456789abcdef";
	if (gnutls_rnd(GNUTLS_RND_NONCE, random, sizeof(random)) < 0) {
		static atomic_uint_fast64_t counter;
		snprintf(req->id, sizeof(req->id), "req-%llu",
		         (unsigned long long)atomic_fetch_add(&counter, 1));
		return;
	}
	for (size_t i = 0; i < sizeof(random); i++) {
		req->id[2 * i] = digits[random[i] >> 4];
		req->id[2 * i + 1] = digits[random[i] & 0xf];
	}
	req->id[2 * sizeof(random)] = '\0';
}
