/* SPDX-License-Identifier: Apache-2.0
 * test_lazy_libs.c -- p11-kit and LMDB through src/util/lazy_libs.c. This
 * program links neither library, so each right answer below comes from the
 * library opened on first use (the fallbacks answer 0, NULL or an error).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <lmdb.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

static void test_p11_kit_calls_reach_the_library(void **state)
{
	(void)state;
	assert_int_equal(p11_kit_space_strlen((const unsigned char *)"token   ", 8), 5);
	P11KitUri *uri = p11_kit_uri_new();
	assert_non_null(uri);
	assert_int_equal(p11_kit_uri_parse("pkcs11:token=cirrus;pin-source=file:/k",
	                                   P11_KIT_URI_FOR_ANY, uri), P11_KIT_URI_OK);
	CK_TOKEN_INFO *token = p11_kit_uri_get_token_info(uri);
	assert_non_null(token);
	assert_int_equal(p11_kit_space_strlen(token->label, sizeof(token->label)), 6);
	assert_memory_equal(token->label, "cirrus", 6);
	assert_string_equal(p11_kit_uri_get_pin_source(uri), "file:/k");
	p11_kit_uri_free(uri);
}

static void test_lmdb_strerror_reaches_the_library(void **state)
{
	(void)state;
	assert_non_null(strstr(mdb_strerror(MDB_NOTFOUND), "MDB_NOTFOUND"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p11_kit_calls_reach_the_library),
		cmocka_unit_test(test_lmdb_strerror_reaches_the_library),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
