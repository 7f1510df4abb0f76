/* SPDX-License-Identifier: Apache-2.0
 * lazy_libs.c -- p11-kit and LMDB, loaded the first time they are called.
 *
 * The GnuTLS and libknot archives Cirrus links name functions of two shared
 * libraries that Cirrus never calls: p11-kit (GnuTLS's PKCS#11 tokens; we
 * read keys and certificates from PEM files) and LMDB (knot_strerror() can
 * name an LMDB error; we keep no LMDB database). Linked, they and libffi
 * behind p11-kit are mapped and relocated at every exec: 1.1 ms and 44 page
 * faults of a function's 10 ms cold start on this machine. So the
 * executable defines the functions the archives call and forwards each to
 * the library, opened with dlopen(3) on first use, as util/curl_dl.c does
 * for libcurl (docs/architecture.md, "Startup cost"). Without the library
 * a call fails the way the function reports failure.
 *
 * Only the statically linked executable uses this file (src/meson.build):
 * a shared build links GnuTLS and libknot with their own dependencies.
 */
#include <dlfcn.h>
#include <lmdb.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pin.h>
#include <p11-kit/uri.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

typedef struct lazy_lib {
	const char *soname;
	pthread_mutex_t lock;
	bool tried;
	void *handle;           /*!< stays open for the life of the process */
} lazy_lib_t;

static lazy_lib_t p11_kit = { "libp11-kit.so.0", PTHREAD_MUTEX_INITIALIZER, false, NULL };
static lazy_lib_t lmdb = { "liblmdb.so.0", PTHREAD_MUTEX_INITIALIZER, false, NULL };

/* The library's function name, or NULL without the library. */
static void *lazy_symbol(lazy_lib_t *lib, const char *name)
{
	pthread_mutex_lock(&lib->lock);
	if (!lib->tried) {
		lib->tried = true;
		lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	}
	void *handle = lib->handle;
	pthread_mutex_unlock(&lib->lock);
	return handle != NULL ? dlsym(handle, name) : NULL;
}

/* A forwarder with a result, and one without. args names the parameters
 * params declares. */
#define FORWARD(lib, ret, name, params, args, fail) \
	ret name params \
	{ \
		ret (*fn) params; \
		void *symbol = lazy_symbol(&lib, #name); \
		if (symbol == NULL) { \
			return fail; \
		} \
		memcpy(&fn, &symbol, sizeof(fn)); \
		return fn args; \
	}
#define FORWARD_VOID(lib, name, params, args) \
	void name params \
	{ \
		void (*fn) params; \
		void *symbol = lazy_symbol(&lib, #name); \
		if (symbol != NULL) { \
			memcpy(&fn, &symbol, sizeof(fn)); \
			fn args; \
		} \
	}

FORWARD(p11_kit, char *, p11_kit_config_option, (CK_FUNCTION_LIST *m, const char *o), (m, o),
        NULL)
FORWARD(p11_kit, const char *, p11_kit_message, (void), (), "p11-kit is not installed")
FORWARD(p11_kit, CK_RV, p11_kit_module_finalize, (CK_FUNCTION_LIST *m), (m), CKR_GENERAL_ERROR)
FORWARD(p11_kit, int, p11_kit_module_get_flags, (CK_FUNCTION_LIST *m), (m), 0)
FORWARD(p11_kit, char *, p11_kit_module_get_name, (CK_FUNCTION_LIST *m), (m), NULL)
FORWARD(p11_kit, CK_FUNCTION_LIST *, p11_kit_module_load, (const char *path, int flags),
        (path, flags), NULL)
FORWARD_VOID(p11_kit, p11_kit_module_release, (CK_FUNCTION_LIST *m), (m))
FORWARD(p11_kit, CK_FUNCTION_LIST **, p11_kit_modules_load, (const char *r, int flags),
        (r, flags), NULL)
FORWARD(p11_kit, P11KitPin *, p11_kit_pin_file_callback,
        (const char *source, P11KitUri *uri, const char *what, P11KitPinFlags flags,
         void *data), (source, uri, what, flags, data), NULL)
FORWARD(p11_kit, size_t, p11_kit_pin_get_length, (P11KitPin *pin), (pin), 0)
FORWARD(p11_kit, const unsigned char *, p11_kit_pin_get_value, (P11KitPin *pin, size_t *len),
        (pin, len), NULL)
FORWARD(p11_kit, P11KitPin *, p11_kit_pin_new_for_string, (const char *value), (value), NULL)
FORWARD(p11_kit, int, p11_kit_pin_register_callback,
        (const char *source, p11_kit_pin_callback cb, void *data,
         p11_kit_pin_destroy_func destroy), (source, cb, data, destroy), -1)
FORWARD(p11_kit, P11KitPin *, p11_kit_pin_request,
        (const char *source, P11KitUri *uri, const char *what, P11KitPinFlags flags),
        (source, uri, what, flags), NULL)
FORWARD_VOID(p11_kit, p11_kit_pin_unref, (P11KitPin *pin), (pin))
FORWARD_VOID(p11_kit, p11_kit_pin_unregister_callback,
             (const char *source, p11_kit_pin_callback cb, void *data), (source, cb, data))
FORWARD(p11_kit, char *, p11_kit_space_strdup, (const unsigned char *s, size_t max), (s, max),
        NULL)
FORWARD(p11_kit, size_t, p11_kit_space_strlen, (const unsigned char *s, size_t max), (s, max), 0)
FORWARD(p11_kit, const char *, p11_kit_strerror, (CK_RV rv), (rv), "p11-kit is not installed")
FORWARD(p11_kit, int, p11_kit_uri_format, (P11KitUri *uri, P11KitUriType type, char **out),
        (uri, type, out), P11_KIT_URI_UNEXPECTED)
FORWARD_VOID(p11_kit, p11_kit_uri_free, (P11KitUri *uri), (uri))
FORWARD(p11_kit, CK_ATTRIBUTE_PTR, p11_kit_uri_get_attribute,
        (P11KitUri *uri, CK_ATTRIBUTE_TYPE type), (uri, type), NULL)
FORWARD(p11_kit, CK_ATTRIBUTE_PTR, p11_kit_uri_get_attributes, (P11KitUri *uri, CK_ULONG *n),
        (uri, n), NULL)
FORWARD(p11_kit, CK_INFO_PTR, p11_kit_uri_get_module_info, (P11KitUri *uri), (uri), NULL)
FORWARD(p11_kit, const char *, p11_kit_uri_get_pin_source, (const P11KitUri *uri), (uri), NULL)
FORWARD(p11_kit, const char *, p11_kit_uri_get_pin_value, (const P11KitUri *uri), (uri), NULL)
FORWARD(p11_kit, CK_TOKEN_INFO_PTR, p11_kit_uri_get_token_info, (P11KitUri *uri), (uri), NULL)
FORWARD(p11_kit, int, p11_kit_uri_match_module_info, (const P11KitUri *uri, const CK_INFO *i),
        (uri, i), 0)
FORWARD(p11_kit, int, p11_kit_uri_match_token_info,
        (const P11KitUri *uri, const CK_TOKEN_INFO *i), (uri, i), 0)
FORWARD(p11_kit, P11KitUri *, p11_kit_uri_new, (void), (), NULL)
FORWARD(p11_kit, int, p11_kit_uri_parse, (const char *s, P11KitUriType type, P11KitUri *uri),
        (s, type, uri), P11_KIT_URI_UNEXPECTED)
FORWARD(p11_kit, int, p11_kit_uri_set_attribute, (P11KitUri *uri, CK_ATTRIBUTE_PTR attr),
        (uri, attr), P11_KIT_URI_UNEXPECTED)

FORWARD(lmdb, char *, mdb_strerror, (int err), (err), (char *)"LMDB error (liblmdb not installed)")
