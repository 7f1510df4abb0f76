/* SPDX-License-Identifier: Apache-2.0
 * fuzz_api.c -- libFuzzer target for the parsers of the REST API that are
 * ours (JSON itself is jansson's): the first byte picks one, the rest is its
 * input. 0: a PATCH body through api_patch_read() (every change it accepts
 * must be complete); 1: api_time_parse(), whose result must format and parse
 * back to itself; 2: a scope through api_scope_normalize(), whose canonical
 * form must be a fixed point, then api_scopes_allow() with it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_parse.h"

static void fuzz_patch(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (root == NULL) {
		return;
	}
	api_patch_t p;
	api_fail_t fail;
	if (api_patch_read(root, &p, &fail) == 0) {
		for (size_t i = 0; i < p.count; i++) {
			const ctl_change_t *c = &p.changes[i];
			if (c->name == NULL || c->type == NULL || c->ttl > 2147483647 ||
			    (c->op == CTL_CHANGE_REPLACE && c->record_count == 0)) {
				abort();
			}
			for (size_t k = 0; k < c->record_count; k++) {
				if (c->records[k] == NULL) {
					abort();
				}
			}
		}
	}
	api_patch_free(&p);
	json_decref(root);
}

static void fuzz_time(const char *text)
{
	int64_t us, again;
	char out[40];
	if (api_time_parse(text, &us) && us >= 0 && us < INT64_C(253402300800000000)) {
		api_time_format(us, out);
		if (!api_time_parse(out, &again) || again != us) {
			abort();
		}
	}
}

static void fuzz_scope(const char *text)
{
	char canon[API_SCOPES_SIZE], again[API_SCOPES_SIZE], err[256];
	if (api_scope_normalize(text, canon, sizeof(canon), err, sizeof(err)) != 0) {
		return;
	}
	if (api_scope_normalize(canon, again, sizeof(again), err, sizeof(err)) != 0 ||
	    strcmp(canon, again) != 0) {
		abort();
	}
	(void)api_scopes_allow(canon, "example.com.", API_ACCESS_WRITE);
	(void)api_scopes_allow(canon, text, API_ACCESS_READ);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536) {
		return 0;
	}
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: fuzz_patch(data + 1, size - 1); break;
	case 1: fuzz_time(text); break;
	default: fuzz_scope(text); break;
	}
	free(text);
	return 0;
}
