/* SPDX-License-Identifier: Apache-2.0
 * test_curl_dl.c -- libcurl through the loader in src/util/curl_dl.c:
 * every argument class of the variadic calls (long, pointer, function,
 * curl_off_t) reaches libcurl intact, shown by a real transfer of a local
 * file:// URL, and the plain calls (escape, slists, the multi interface)
 * forward their results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

typedef struct sink {
	char data[64];
	size_t len;
} sink_t;

static size_t sink_write(char *p, size_t size, size_t n, void *userdata)
{
	sink_t *s = userdata;
	size_t len = size * n;
	if (s->len + len > sizeof(s->data)) {
		return 0;
	}
	memcpy(s->data + s->len, p, len);
	s->len += len;
	return len;
}

/* A temporary file holding text; its file:// URL goes to url. */
static void temp_file(const char *text, char *path, size_t pathlen, char *url, size_t urllen)
{
	snprintf(path, pathlen, "/tmp/cirrus-curl-dl-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(url, urllen, "file://%s", path);
}

static void test_transfer_with_every_argument_class(void **state)
{
	(void)state;
	char path[64], url[96];
	temp_file("hello from a file", path, sizeof(path), url, sizeof(url));
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	CURL *curl = curl_easy_init();
	assert_non_null(curl);
	sink_t sink = { .len = 0 };
	assert_int_equal(curl_easy_setopt(curl, CURLOPT_URL, url), CURLE_OK);               /* pointer */
	assert_int_equal(curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L), CURLE_OK);      /* long */
	assert_int_equal(curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink_write), CURLE_OK); /* function */
	assert_int_equal(curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink), CURLE_OK);
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	assert_int_equal(sink.len, strlen("hello from a file"));
	assert_memory_equal(sink.data, "hello from a file", sink.len);
	curl_off_t size = 0;
	assert_int_equal(curl_easy_getinfo(curl, CURLINFO_SIZE_DOWNLOAD_T, &size), CURLE_OK);
	assert_int_equal(size, (curl_off_t)sink.len);

	/* An off_t option: resuming at byte 6 skips "hello ". */
	sink.len = 0;
	assert_int_equal(curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)6), CURLE_OK);
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	assert_int_equal(sink.len, strlen("from a file"));
	assert_memory_equal(sink.data, "from a file", sink.len);

	/* A long option: NOBODY=1 transfers no data. */
	sink.len = 0;
	assert_int_equal(curl_easy_setopt(curl, CURLOPT_NOBODY, 1L), CURLE_OK);
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	assert_int_equal(sink.len, 0);

	/* reset forgets the options: the write callback is gone, so nothing
	 * reaches the sink (libcurl writes to stdout; point that at /dev/null). */
	curl_easy_reset(curl);
	sink.len = 0;
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, devnull);
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	assert_int_equal(sink.len, 0);
	fclose(devnull);
	assert_non_null(strstr(curl_easy_strerror(CURLE_COULDNT_CONNECT), "connect"));
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	unlink(path);
}

static void test_escape_slist_and_multi(void **state)
{
	(void)state;
	char *escaped = curl_easy_escape(NULL, "a b/c", 0);
	assert_string_equal(escaped, "a%20b%2Fc");
	curl_free(escaped);

	struct curl_slist *list = curl_slist_append(NULL, "X-One: 1");
	list = curl_slist_append(list, "X-Two: 2");
	assert_string_equal(list->next->data, "X-Two: 2");
	curl_slist_free_all(list);

	CURLM *multi = curl_multi_init();
	assert_non_null(multi);
	assert_int_equal(curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 4L), CURLM_OK);
	int queued = -1;
	assert_null(curl_multi_info_read(multi, &queued));
	assert_int_equal(queued, 0);
	assert_non_null(curl_multi_strerror(CURLM_BAD_HANDLE));
	assert_int_equal(curl_multi_cleanup(multi), CURLM_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer_with_every_argument_class),
		cmocka_unit_test(test_escape_slist_and_multi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
