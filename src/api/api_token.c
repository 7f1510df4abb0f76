/* SPDX-License-Identifier: Apache-2.0
 * api_token.c -- API tokens: a secret is "cirrus_" and 32 random bytes
 * (gnutls_rnd) in base64url; the store keeps only its SHA-256, so a copy of
 * the database lets nobody in. Making and removing a token is one store
 * transaction with its audit row; both the API and `cirrus token` use this.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>

#include "api/api.h"
#include "util/error.h"

#define TOKEN_PREFIX "cirrus_"
#define TOKEN_RANDOM 32

static void hex(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int api_token_hash(const char *secret, char hash[API_TOKEN_HASH_SIZE])
{
	uint8_t digest[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), digest) < 0) {
		return CIRRUS_EIO;
	}
	hex(digest, sizeof(digest), hash);
	return 0;
}

int api_token_generate(char secret[API_TOKEN_SECRET_SIZE], char hash[API_TOKEN_HASH_SIZE])
{
	uint8_t random[TOKEN_RANDOM];
	if (gnutls_rnd(GNUTLS_RND_KEY, random, sizeof(random)) < 0) {
		return CIRRUS_EIO;
	}
	gnutls_datum_t in = { random, sizeof(random) }, b64 = { NULL, 0 };
	int r = gnutls_base64_encode2(&in, &b64);
	gnutls_memset(random, 0, sizeof(random));
	if (r < 0) {
		return CIRRUS_EIO;
	}
	/* base64 to base64url (RFC 4648 section 5), without padding. */
	size_t len = strlen(TOKEN_PREFIX);
	memcpy(secret, TOKEN_PREFIX, len);
	for (unsigned i = 0; i < b64.size && b64.data[i] != '=' &&
	     len + 1 < API_TOKEN_SECRET_SIZE; i++) {
		char c = (char)b64.data[i];
		secret[len++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	secret[len] = '\0';
	gnutls_memset(b64.data, 0, b64.size);
	gnutls_free(b64.data);
	return api_token_hash(secret, hash);
}

int api_token_name_check(const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);
	if (len == 0 || len > 127) {
		snprintf(err, errlen, "a token name has 1 to 127 characters");
		return CIRRUS_EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != '@') {
			snprintf(err, errlen, "token name '%.127s': use only letters, digits "
			         "and . _ - @", name);
			return CIRRUS_EINVAL;
		}
	}
	return 0;
}

/* Canonical scopes, space-separated, each once; CIRRUS_EINVAL with err. */
static int join_scopes(const char *const *scopes, size_t count, char *out, size_t *bad,
                       char *err, size_t errlen)
{
	size_t used = 0;
	out[0] = '\0';
	if (count == 0) {
		snprintf(err, errlen, "a token needs at least one scope");
		return CIRRUS_EINVAL;
	}
	for (size_t i = 0; i < count; i++) {
		char one[API_SCOPES_SIZE], padded[API_SCOPES_SIZE + 2], list[API_SCOPES_SIZE + 2];
		*bad = i;
		if (api_scope_normalize(scopes[i], one, sizeof(one), err, errlen) != 0) {
			return CIRRUS_EINVAL;
		}
		snprintf(padded, sizeof(padded), " %s ", one);
		snprintf(list, sizeof(list), " %s ", out);
		if (strstr(list, padded) != NULL) {
			continue;
		}
		int n = snprintf(out + used, API_SCOPES_SIZE - used, "%s%s", used ? " " : "", one);
		if (n < 0 || (size_t)n >= API_SCOPES_SIZE - used) {
			snprintf(err, errlen, "the scopes take more than %d bytes", API_SCOPES_SIZE - 1);
			return CIRRUS_EINVAL;
		}
		used += (size_t)n;
	}
	return 0;
}

/* The store's code, either sign, as our negative one. */
static int code_of(int r)
{
	return r > 0 ? -r : r;
}

/* Run the write and its audit row in one transaction. */
static int audited(store_t *st, int write_result, const store_audit_t *row, char *err,
                   size_t errlen)
{
	int r = write_result;
	if (r == 0) {
		r = store_audit_append(st, row);
	}
	if (r == 0) {
		r = store_commit(st);
	}
	if (r != 0) {
		store_rollback(st);
		if (err[0] == '\0') {
			snprintf(err, errlen, "store: %s", cirrus_strerror(code_of(r)));
		}
	}
	return code_of(r);
}

int api_token_create(store_t *st, const char *name, const char *const *scopes,
                     size_t scope_count, const ctl_actor_t *who,
                     char secret[API_TOKEN_SECRET_SIZE], char joined[API_SCOPES_SIZE],
                     size_t *bad_scope, char *err, size_t errlen)
{
	char hash[API_TOKEN_HASH_SIZE];
	err[0] = '\0';
	*bad_scope = SIZE_MAX;
	int r = api_token_name_check(name, err, errlen);
	if (r == 0) {
		r = join_scopes(scopes, scope_count, joined, bad_scope, err, errlen);
	}
	if (r == 0 && api_token_generate(secret, hash) != 0) {
		snprintf(err, errlen, "no random numbers to make a token from");
		r = CIRRUS_EIO;
	}
	if (r != 0) {
		return r;
	}
	*bad_scope = SIZE_MAX;
	char *after = NULL;
	json_t *j = json_pack("{s:s, s:s}", "name", name, "scopes", joined);
	if (j != NULL) {
		after = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	if (after == NULL) {
		snprintf(err, errlen, "out of memory");
		return CIRRUS_ENOMEM;
	}
	store_audit_t row = { .actor = who->actor, .request_id = who->request_id,
	                      .action = "token.create", .after = after };
	r = store_begin(st);
	if (r == 0) {
		r = store_token_insert(st, name, hash, joined);
		if (code_of(r) == CIRRUS_EEXIST) {
			snprintf(err, errlen, "a token named '%s' already exists", name);
		}
		r = audited(st, r, &row, err, errlen);
	} else {
		snprintf(err, errlen, "store: %s", cirrus_strerror(code_of(r)));
		r = code_of(r);
	}
	free(after);
	if (r != 0) {
		gnutls_memset(secret, 0, API_TOKEN_SECRET_SIZE);
	}
	return r;
}

int api_token_remove(store_t *st, const char *name, const ctl_actor_t *who, char *err,
                     size_t errlen)
{
	err[0] = '\0';
	char *before = NULL;
	json_t *j = json_pack("{s:s}", "name", name);
	if (j != NULL) {
		before = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	if (before == NULL) {
		snprintf(err, errlen, "out of memory");
		return CIRRUS_ENOMEM;
	}
	store_audit_t row = { .actor = who->actor, .request_id = who->request_id,
	                      .action = "token.delete", .before = before };
	int r = store_begin(st);
	if (r == 0) {
		r = store_token_delete(st, name);
		if (code_of(r) == CIRRUS_ENOENT) {
			snprintf(err, errlen, "no token named '%s'", name);
		}
		r = audited(st, r, &row, err, errlen);
	} else {
		snprintf(err, errlen, "store: %s", cirrus_strerror(code_of(r)));
		r = code_of(r);
	}
	free(before);
	return r;
}
