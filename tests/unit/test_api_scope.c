/* SPDX-License-Identifier: Apache-2.0
 * test_api_scope.c -- API token scopes (api/api_scope.c): what a user may
 * write, its canonical form, and which zones a scope lets a token read or
 * change. The rule is documented in docs/api.yaml; these cases pin it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/api.h"
#include "util/error.h"

static const char *norm(const char *scope)
{
	static char out[API_SCOPES_SIZE];
	char err[256];
	int r = api_scope_normalize(scope, out, sizeof(out), err, sizeof(err));
	return r == 0 ? out : NULL;
}

static void test_normalize(void **state)
{
	(void)state;
	assert_string_equal(norm("admin"), "admin");
	assert_string_equal(norm("ADMIN"), "admin");
	assert_string_equal(norm("zone:example.com:read"), "zone:example.com:read");
	assert_string_equal(norm("zone:Example.COM.:WRITE"), "zone:example.com:write");
	assert_string_equal(norm("zone:*:write"), "zone:*:write");
	assert_string_equal(norm("zone:*.example.com:read"), "zone:*.example.com:read");
	assert_string_equal(norm("zone:.:read"), "zone:.:read");
	assert_string_equal(norm("zone:_tcp.example.com:read"), "zone:_tcp.example.com:read");
}

static void test_normalize_rejects(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "root", "admins", "zone", "zone:", "zone::read", "zone:example.com",
		"zone:example.com:", "zone:example.com:delete", "zone:example.com:read:x",
		"zone:exa mple.com:read", "zone:a..b:read", "zone:.a:read", "zone:a/b:read",
		"zone:[ab].com:read", "zone:a?.com:read", "zone:example.com..:read",
		"zones:example.com:read", "zone:ex\\ample.com:read",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[API_SCOPES_SIZE], err[256] = "";
		int r = api_scope_normalize(bad[i], out, sizeof(out), err, sizeof(err));
		if (r != CIRRUS_EINVAL) {
			fail_msg("scope '%s' accepted as '%s'", bad[i], out);
		}
		assert_true(err[0] != '\0');
	}
	char small[8], err[64];
	assert_int_equal(api_scope_normalize("zone:example.com:read", small, sizeof(small),
	                                     err, sizeof(err)), CIRRUS_ESPACE);
}

static void test_admin(void **state)
{
	(void)state;
	assert_true(api_scopes_admin("admin"));
	assert_true(api_scopes_admin("zone:a.com:read admin"));
	assert_false(api_scopes_admin("zone:admin:write"));
	assert_false(api_scopes_admin("administrator"));
	assert_false(api_scopes_admin(""));
	assert_true(api_scopes_allow("admin", "anything.example.", API_ACCESS_WRITE));
}

static void test_exact(void **state)
{
	(void)state;
	const char *s = "zone:example.com:read";
	assert_true(api_scopes_allow(s, "example.com.", API_ACCESS_READ));
	assert_true(api_scopes_allow(s, "example.com", API_ACCESS_READ));
	assert_true(api_scopes_allow(s, "EXAMPLE.Com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(s, "example.com.", API_ACCESS_WRITE));
	assert_false(api_scopes_allow(s, "www.example.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(s, "example.co.", API_ACCESS_READ));
	assert_false(api_scopes_allow(s, "badexample.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(s, "example.com.evil.", API_ACCESS_READ));
}

static void test_write_implies_read(void **state)
{
	(void)state;
	const char *s = "zone:example.com:write";
	assert_true(api_scopes_allow(s, "example.com.", API_ACCESS_READ));
	assert_true(api_scopes_allow(s, "example.com.", API_ACCESS_WRITE));
}

static void test_globs(void **state)
{
	(void)state;
	const char *sub = "zone:*.example.com:write";
	assert_true(api_scopes_allow(sub, "a.example.com.", API_ACCESS_WRITE));
	assert_true(api_scopes_allow(sub, "a.b.example.com.", API_ACCESS_WRITE));
	assert_false(api_scopes_allow(sub, "example.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(sub, "aexample.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(sub, "a.example.com.evil.", API_ACCESS_READ));

	const char *all = "zone:*:read";
	assert_true(api_scopes_allow(all, "example.com.", API_ACCESS_READ));
	assert_true(api_scopes_allow(all, "com.", API_ACCESS_READ));
	assert_true(api_scopes_allow(all, ".", API_ACCESS_READ));
	assert_false(api_scopes_allow(all, "example.com.", API_ACCESS_WRITE));

	const char *cust = "zone:cust-*.example.net:write";
	assert_true(api_scopes_allow(cust, "cust-42.example.net.", API_ACCESS_WRITE));
	assert_false(api_scopes_allow(cust, "shop.example.net.", API_ACCESS_WRITE));
}

static void test_root(void **state)
{
	(void)state;
	assert_true(api_scopes_allow("zone:.:read", ".", API_ACCESS_READ));
	assert_false(api_scopes_allow("zone:.:read", "com.", API_ACCESS_READ));
	assert_false(api_scopes_allow("zone:com:read", ".", API_ACCESS_READ));
}

static void test_several(void **state)
{
	(void)state;
	const char *s = "zone:a.com:read  zone:b.com:write zone:*.c.com:read";
	assert_true(api_scopes_allow(s, "a.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(s, "a.com.", API_ACCESS_WRITE));
	assert_true(api_scopes_allow(s, "b.com.", API_ACCESS_WRITE));
	assert_true(api_scopes_allow(s, "x.c.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(s, "x.c.com.", API_ACCESS_WRITE));
	assert_false(api_scopes_allow(s, "d.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow("", "a.com.", API_ACCESS_READ));
	/* Only canonical scopes count: a stored scope is never upper case. */
	assert_false(api_scopes_allow("zone:a.com:READ", "a.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow("zone:a.com", "a.com.", API_ACCESS_READ));
}

static void test_token_names(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(api_token_name_check("ci-deploy_1.prod@team", err, sizeof(err)), 0);
	assert_int_equal(api_token_name_check("", err, sizeof(err)), CIRRUS_EINVAL);
	assert_int_equal(api_token_name_check("a b", err, sizeof(err)), CIRRUS_EINVAL);
	assert_int_equal(api_token_name_check("a/b", err, sizeof(err)), CIRRUS_EINVAL);
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(api_token_name_check(longname, err, sizeof(err)), CIRRUS_EINVAL);
	longname[127] = '\0';
	assert_int_equal(api_token_name_check(longname, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_normalize_rejects),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_write_implies_read),
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_token_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
