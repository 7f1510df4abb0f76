/*
 * curl_dl.c -- libcurl, loaded the first time it is used.
 *
 * libcurl is what health checks, the proxy and the Lambda runtime talk
 * HTTP with, but linking it makes every exec of cirrus map and relocate
 * about twenty shared libraries it drags in (Kerberos, LDAP, SSH, RTMP,
 * brotli, ...): 8 ms of a 19 ms `cirrus version` on this machine, paid by
 * `serve` and by every cold function instance that never checks a URL.
 * So the binary does not link libcurl: this file defines the part of its
 * API that Cirrus calls and forwards each call to the library, opened with
 * dlopen(3) on first use. Callers include <curl/curl.h> and see no
 * difference. Without the library, the init calls fail (NULL or
 * CURLE_FAILED_INIT) and the callers report it as they would any other
 * libcurl failure. docs/architecture.md ("Startup cost") has the numbers.
 *
 * The variadic setopt/getinfo calls are forwarded by the argument type
 * that curl encodes in the option number (CURLOPTTYPE_*), as curl's own
 * type checker reads it.
 */

/* The typecheck macros would rename the definitions below. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* The one table of forwarded functions: X(return type, name, parameters). */
#define CURL_DL_FUNCTIONS(X) \
	X(CURLcode, curl_global_init, (long)) \
	X(void, curl_global_cleanup, (void)) \
	X(CURL *, curl_easy_init, (void)) \
	X(void, curl_easy_cleanup, (CURL *)) \
	X(void, curl_easy_reset, (CURL *)) \
	X(CURLcode, curl_easy_perform, (CURL *)) \
	X(CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...)) \
	X(CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...)) \
	X(const char *, curl_easy_strerror, (CURLcode)) \
	X(char *, curl_easy_escape, (CURL *, const char *, int)) \
	X(void, curl_free, (void *)) \
	X(struct curl_slist *, curl_slist_append, (struct curl_slist *, const char *)) \
	X(void, curl_slist_free_all, (struct curl_slist *)) \
	X(CURLM *, curl_multi_init, (void)) \
	X(CURLMcode, curl_multi_cleanup, (CURLM *)) \
	X(CURLMcode, curl_multi_add_handle, (CURLM *, CURL *)) \
	X(CURLMcode, curl_multi_remove_handle, (CURLM *, CURL *)) \
	X(CURLMcode, curl_multi_assign, (CURLM *, curl_socket_t, void *)) \
	X(CURLMcode, curl_multi_setopt, (CURLM *, CURLMoption, ...)) \
	X(CURLMcode, curl_multi_socket_action, (CURLM *, curl_socket_t, int, int *)) \
	X(CURLMsg *, curl_multi_info_read, (CURLM *, int *)) \
	X(const char *, curl_multi_strerror, (CURLMcode))

#define CURL_DL_FIELD(ret, name, params) ret (*name) params;
static struct {
	CURL_DL_FUNCTIONS(CURL_DL_FIELD)
} lib;
static int lib_loaded;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/* The libcurl flavours Debian ships; any is API and ABI compatible. */
static const char *const lib_names[] = {
	"libcurl-gnutls.so.4", "libcurl.so.4", "libcurl-nss.so.4",
};

static void lib_open(void)
{
	void *handle = NULL;
	for (size_t i = 0; handle == NULL && i < sizeof(lib_names) / sizeof(lib_names[0]); i++) {
		handle = dlopen(lib_names[i], RTLD_NOW | RTLD_LOCAL);
	}
	if (handle == NULL) {
		return;
	}
	int complete = 1;
	void *symbol;
#define CURL_DL_RESOLVE(ret, name, params) \
	symbol = dlsym(handle, #name); \
	memcpy(&lib.name, &symbol, sizeof(symbol)); \
	complete &= symbol != NULL;
	CURL_DL_FUNCTIONS(CURL_DL_RESOLVE)
	/* The handle stays open for the life of the process. */
	lib_loaded = complete;
}

static int lib_ready(void)
{
	pthread_once(&lib_once, lib_open);
	return lib_loaded;
}

/* Without the library every call fails the way libcurl reports failure. */

CURLcode curl_global_init(long flags)
{
	return lib_ready() ? lib.curl_global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (lib_ready()) {
		lib.curl_global_cleanup();
	}
}

CURL *curl_easy_init(void)
{
	return lib_ready() ? lib.curl_easy_init() : NULL;
}

void curl_easy_cleanup(CURL *curl)
{
	if (lib_ready()) {
		lib.curl_easy_cleanup(curl);
	}
}

void curl_easy_reset(CURL *curl)
{
	if (lib_ready()) {
		lib.curl_easy_reset(curl);
	}
}

CURLcode curl_easy_perform(CURL *curl)
{
	return lib_ready() ? lib.curl_easy_perform(curl) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
	return lib_ready() ? lib.curl_easy_strerror(code) : "libcurl is not installed";
}

char *curl_easy_escape(CURL *curl, const char *text, int length)
{
	return lib_ready() ? lib.curl_easy_escape(curl, text, length) : NULL;
}

void curl_free(void *p)
{
	if (lib_ready()) {
		lib.curl_free(p);
	}
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *text)
{
	return lib_ready() ? lib.curl_slist_append(list, text) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (lib_ready()) {
		lib.curl_slist_free_all(list);
	}
}

CURLM *curl_multi_init(void)
{
	return lib_ready() ? lib.curl_multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
	return lib_ready() ? lib.curl_multi_cleanup(multi) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl)
{
	return lib_ready() ? lib.curl_multi_add_handle(multi, curl) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl)
{
	return lib_ready() ? lib.curl_multi_remove_handle(multi, curl) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_assign(CURLM *multi, curl_socket_t fd, void *data)
{
	return lib_ready() ? lib.curl_multi_assign(multi, fd, data) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t fd, int mask, int *running)
{
	return lib_ready() ? lib.curl_multi_socket_action(multi, fd, mask, running)
	                   : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *queued)
{
	return lib_ready() ? lib.curl_multi_info_read(multi, queued) : NULL;
}

const char *curl_multi_strerror(CURLMcode code)
{
	return lib_ready() ? lib.curl_multi_strerror(code) : "libcurl is not installed";
}

/* The argument of an option, by the type class in its number
 * (CURLOPTTYPE_LONG 0, OBJECTPOINT 10000, FUNCTIONPOINT 20000,
 * OFF_T 30000, BLOB 40000); the multi options use the same classes. */
enum arg_class { ARG_LONG, ARG_POINTER, ARG_FUNCTION, ARG_OFF_T };

static enum arg_class option_class(int option)
{
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		return ARG_LONG;
	}
	if (option < CURLOPTTYPE_FUNCTIONPOINT) {
		return ARG_POINTER;
	}
	if (option < CURLOPTTYPE_OFF_T) {
		return ARG_FUNCTION;
	}
	if (option < CURLOPTTYPE_BLOB) {
		return ARG_OFF_T;
	}
	return ARG_POINTER;
}

typedef void (*any_function)(void);

/* Calls `forward` with the option's one argument read as its class. */
#define FORWARD_OPTION(forward, handle, option, ap) \
	(option_class(option) == ARG_LONG ? forward(handle, option, va_arg(ap, long)) : \
	 option_class(option) == ARG_FUNCTION ? forward(handle, option, va_arg(ap, any_function)) : \
	 option_class(option) == ARG_OFF_T ? forward(handle, option, va_arg(ap, curl_off_t)) : \
	 forward(handle, option, va_arg(ap, void *)))

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	if (!lib_ready()) {
		return CURLE_FAILED_INIT;
	}
	va_list ap;
	va_start(ap, option);
	CURLcode rc = FORWARD_OPTION(lib.curl_easy_setopt, curl, option, ap);
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
	if (!lib_ready()) {
		return CURLM_INTERNAL_ERROR;
	}
	va_list ap;
	va_start(ap, option);
	CURLMcode rc = FORWARD_OPTION(lib.curl_multi_setopt, multi, option, ap);
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	if (!lib_ready()) {
		return CURLE_FAILED_INIT;
	}
	va_list ap;
	va_start(ap, info);
	CURLcode rc = lib.curl_easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
