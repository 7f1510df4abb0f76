/* SPDX-License-Identifier: Apache-2.0
 * helpers.c -- fixtures shared by the unit tests; see helpers.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"

void diag_capture(void *ctx, zone_diag_level_t level, const char *file,
                  uint64_t line, const char *reason)
{
	diag_capture_t *d = ctx;
	size_t used = strlen(d->text);
	const char *slash = strrchr(file, '/');
	snprintf(d->text + used, sizeof(d->text) - used, "%s:%llu: %s: %s\n",
	         slash ? slash + 1 : file, (unsigned long long)line,
	         level == ZONE_DIAG_ERROR ? "error" : "warning", reason);
	if (level == ZONE_DIAG_ERROR) {
		d->errors++;
	} else {
		d->warnings++;
	}
}

int load_zone_text(const char *origin, const char *text, diag_capture_t *diag,
                   zone_t **out)
{
	char path[] = "/tmp/cirrus-unit-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	if (diag != NULL) {
		memset(diag, 0, sizeof(*diag));
	}
	int rc = zone_load_file(path, origin, diag ? diag_capture : NULL, diag, out);
	unlink(path);
	return rc;
}

zone_t *must_load(const char *origin, const char *text)
{
	diag_capture_t diag;
	zone_t *zone = NULL;
	int rc = load_zone_text(origin, text, &diag, &zone);
	if (rc != 0) {
		fail_msg("zone did not load (%d):\n%s", rc, diag.text);
	}
	return zone;
}
