/* SPDX-License-Identifier: Apache-2.0
 * crypto_defer.c -- GnuTLS is initialised by the commands that use it, not
 * before main().
 *
 * GnuTLS initialises itself from a constructor, and libmicrohttpd's
 * constructor calls gnutls_global_init() again. That work (the PKIX ASN.1
 * trees built on the heap, the crypto back ends registered) cost about 3 ms
 * and 45 page faults at every exec here, a quarter of a function's cold start,
 * although `function http|lambda` never hash, sign or speak TLS with this
 * GnuTLS (libcurl, opened on demand, brings its own).
 *
 * So the executable is linked with -Wl,--wrap=gnutls_global_init (every call
 * in the archives we link comes here) and overrides GnuTLS's documented weak
 * hook _gnutls_global_init_skip() to skip its constructor. Calls before
 * crypto_init() are deferred (they return success and do nothing); after
 * it they initialise as usual. A GnuTLS function used before crypto_init()
 * fails with GNUTLS_E_LIB_IN_ERROR_STATE rather than misbehaving, so a
 * command that forgot to call it fails visibly.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "cmd.h"

int __real_gnutls_global_init(void);
int __wrap_gnutls_global_init(void);
int _gnutls_global_init_skip(void);

static bool crypto_wanted;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_status;

int _gnutls_global_init_skip(void)
{
	return 1;
}

int __wrap_gnutls_global_init(void)
{
	return crypto_wanted ? __real_gnutls_global_init() : 0;
}

static void crypto_init_once(void)
{
	crypto_wanted = true;
	crypto_status = __real_gnutls_global_init();
}

int crypto_init(void)
{
	pthread_once(&crypto_once, crypto_init_once);
	if (crypto_status < 0) {
		fprintf(stderr, "cirrus: GnuTLS could not be initialised (%d)\n", crypto_status);
	}
	return crypto_status;
}
