/* SPDX-License-Identifier: Apache-2.0
 * test_api_token.c -- API tokens (api/api_token.c): secrets and their
 * hashes, and making and removing tokens in a real SQLite store with their
 * audit rows, as `cirrus token` and POST /api/v1/tokens do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api.h"
#include "util/error.h"

static void test_secret_and_hash(void **state)
{
	(void)state;
	char s1[API_TOKEN_SECRET_SIZE], s2[API_TOKEN_SECRET_SIZE];
	char h1[API_TOKEN_HASH_SIZE], h2[API_TOKEN_HASH_SIZE], again[API_TOKEN_HASH_SIZE];
	assert_int_equal(api_token_generate(s1, h1), 0);
	assert_int_equal(api_token_generate(s2, h2), 0);
	/* "cirrus_" and 43 base64url characters (32 bytes, no padding). */
	assert_int_equal(strlen(s1), 7 + 43);
	assert_memory_equal(s1, "cirrus_", 7);
	assert_int_equal(strspn(s1 + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                "0123456789-_"), 43);
	assert_string_not_equal(s1, s2);
	assert_int_equal(strlen(h1), 64);
	assert_int_equal(strspn(h1, "0123456789abcdef"), 64);
	assert_int_equal(api_token_hash(s1, again), 0);
	assert_string_equal(h1, again);
	assert_string_not_equal(h1, h2);
	/* SHA-256("abc") from FIPS 180-2. */
	assert_int_equal(api_token_hash("abc", again), 0);
	assert_string_equal(again,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

typedef struct audit_seen {
	int rows;
	char action[64];
	char actor[64];
	char request_id[64];
} audit_seen_t;

static int count_audit(void *ctx, const store_audit_t *row)
{
	audit_seen_t *a = ctx;
	if (a->rows++ == 0) {
		snprintf(a->action, sizeof(a->action), "%s", row->action);
		snprintf(a->actor, sizeof(a->actor), "%s", row->actor);
		snprintf(a->request_id, sizeof(a->request_id), "%s",
		         row->request_id ? row->request_id : "");
	}
	return 0;
}

static void test_create_find_remove(void **state)
{
	(void)state;
	char path[] = "/tmp/cirrus-test-token-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	store_t *st = NULL;
	char err[512];
	assert_int_equal(store_open(path, &st, err, sizeof(err)), 0);

	const char *scopes[] = { "zone:Example.COM:write", "admin", "zone:example.com.:write" };
	ctl_actor_t who = { .actor = "tester", .request_id = "req-1" };
	char secret[API_TOKEN_SECRET_SIZE], canonical[API_SCOPES_SIZE];
	size_t bad;
	assert_int_equal(api_token_create(st, "ci", scopes, 3, &who, secret, canonical, &bad,
	                                  err, sizeof(err)), 0);
	assert_string_equal(canonical, "zone:example.com:write admin");

	char hash[API_TOKEN_HASH_SIZE];
	store_token_t tok;
	assert_int_equal(api_token_hash(secret, hash), 0);
	assert_int_equal(store_token_find(st, hash, &tok), 0);
	assert_string_equal(tok.name, "ci");
	assert_string_equal(tok.scopes, "zone:example.com:write admin");
	assert_string_not_equal(tok.hash, secret);

	/* The same name again, a bad scope: refused, nothing written. */
	assert_int_equal(api_token_create(st, "ci", scopes, 1, &who, secret, canonical, &bad,
	                                  err, sizeof(err)), CIRRUS_EEXIST);
	const char *wrong[] = { "admin", "zone:x:delete" };
	assert_int_equal(api_token_create(st, "other", wrong, 2, &who, secret, canonical, &bad,
	                                  err, sizeof(err)), CIRRUS_EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(api_token_create(st, "no scopes", scopes, 0, &who, secret, canonical,
	                                  &bad, err, sizeof(err)), CIRRUS_EINVAL);

	store_audit_filter_t f = { 0 };
	audit_seen_t seen = { 0 };
	assert_int_equal(store_audit_list(st, &f, count_audit, &seen), 0);
	assert_int_equal(seen.rows, 1);
	assert_string_equal(seen.action, "token.create");
	assert_string_equal(seen.actor, "tester");
	assert_string_equal(seen.request_id, "req-1");

	assert_int_equal(api_token_remove(st, "ci", &who, err, sizeof(err)), 0);
	assert_int_not_equal(store_token_find(st, hash, &tok), 0);
	assert_int_equal(api_token_remove(st, "ci", &who, err, sizeof(err)), CIRRUS_ENOENT);
	assert_non_null(strstr(err, "ci"));
	seen = (audit_seen_t) { 0 };
	assert_int_equal(store_audit_list(st, &f, count_audit, &seen), 0);
	assert_int_equal(seen.rows, 2);
	assert_string_equal(seen.action, "token.delete");

	store_close(st);
	char side[sizeof(path) + 8];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_and_hash),
		cmocka_unit_test(test_create_find_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
