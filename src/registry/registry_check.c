/* SPDX-License-Identifier: Apache-2.0
 * registry_check.c -- an instance's optional health check: the "check"
 * object of a registration, read into the health module's own spec and
 * validated by its rules (health_spec_check), so an instance check is a
 * `checks:` entry of cirrus.yaml in JSON. Pure: the running registry hands
 * the spec to the checker (health_watch_add).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "util/error.h"

typedef enum { KEY_TEXT, KEY_DURATION, KEY_UINT, KEY_BOOL, KEY_LIST } key_kind_t;

/* The keys of a check object: those of a `checks:` entry that make sense
 * for an instance (no name: the registry names it; no ca-file: a path on
 * the server is not the API's to choose; no calculated checks). */
static const struct {
	const char *name;
	key_kind_t kind;
	size_t offset;
	unsigned max;     /* longest text, largest integer or most items */
} keys[] = {
	{ "type", KEY_TEXT, offsetof(health_spec_t, type), 16 },
	{ "address", KEY_TEXT, offsetof(health_spec_t, address), 64 },
	{ "port", KEY_UINT, offsetof(health_spec_t, port), 65535 },
	{ "interval", KEY_DURATION, offsetof(health_spec_t, interval), 16 },
	{ "timeout", KEY_DURATION, offsetof(health_spec_t, timeout), 16 },
	{ "rise", KEY_UINT, offsetof(health_spec_t, rise), 10 },
	{ "fall", KEY_UINT, offsetof(health_spec_t, fall), 10 },
	{ "method", KEY_TEXT, offsetof(health_spec_t, method), 16 },
	{ "path", KEY_TEXT, offsetof(health_spec_t, path), 1024 },
	{ "host", KEY_TEXT, offsetof(health_spec_t, host), 255 },
	{ "expect", KEY_LIST, offsetof(health_spec_t, expect), HEALTH_EXPECT_MAX },
	{ "body", KEY_TEXT, offsetof(health_spec_t, body), 1024 },
	{ "insecure", KEY_BOOL, offsetof(health_spec_t, insecure), 0 },
	{ "query", KEY_TEXT, offsetof(health_spec_t, query), 1024 },
	{ "query-type", KEY_TEXT, offsetof(health_spec_t, query_type), 16 },
	{ "rcode", KEY_TEXT, offsetof(health_spec_t, rcode), 16 },
};

#define KEY_COUNT (sizeof(keys) / sizeof(keys[0]))

static int bad(char *field, size_t fieldlen, const char *key, char *err, size_t errlen,
               const char *why)
{
	snprintf(field, fieldlen, key ? "check.%s" : "check", key);
	snprintf(err, errlen, "%s%s%s", key ? "check." : "check: ", key ? key : "", why);
	return CIRRUS_EINVAL;
}

/* A scalar as text: strings as they are, integers in decimal. */
static char *scalar_text(const json_t *v)
{
	char num[32];
	if (json_is_string(v)) {
		return strdup(json_string_value(v));
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return strdup(num);
	}
	return NULL;
}

/* One key into spec; a static reason on failure (NULL: out of memory). */
static int set_key(health_spec_t *spec, size_t k, const json_t *v, const char **why)
{
	void *at = (char *)spec + keys[k].offset;
	*why = NULL;
	switch (keys[k].kind) {
	case KEY_TEXT:
	case KEY_DURATION: {
		if (!json_is_string(v) && !(keys[k].kind == KEY_DURATION && json_is_integer(v))) {
			*why = keys[k].kind == KEY_TEXT ? ": must be a string" :
			       ": must be a duration (\"1s\", \"500ms\") or whole seconds";
			return CIRRUS_EINVAL;
		}
		char *text = scalar_text(v);
		if (text == NULL) {
			*why = json_is_integer(v) ? ": must not be negative" : NULL;
			return json_is_integer(v) ? CIRRUS_EINVAL : CIRRUS_ENOMEM;
		}
		if (text[0] == '\0' || strlen(text) > keys[k].max) {
			free(text);
			*why = ": must be 1 to its longest length of characters";
			return CIRRUS_EINVAL;
		}
		*(char **)at = text;
		return 0;
	}
	case KEY_UINT:
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > keys[k].max) {
			*why = keys[k].max == 10 ? ": an integer from 1 to 10" :
			       ": an integer from 1 to 65535";
			return CIRRUS_EINVAL;
		}
		*(unsigned *)at = (unsigned)json_integer_value(v);
		return 0;
	case KEY_BOOL:
		if (!json_is_boolean(v)) {
			*why = ": must be true or false";
			return CIRRUS_EINVAL;
		}
		*(bool *)at = json_is_true(v);
		return 0;
	case KEY_LIST: {
		policy_strv_t *list = at;
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > keys[k].max) {
			*why = ": must be a list of 1 to 16 status codes (200) or ranges (\"200-299\")";
			return CIRRUS_EINVAL;
		}
		list->v = calloc(json_array_size(v), sizeof(char *));
		if (list->v == NULL) {
			return CIRRUS_ENOMEM;
		}
		for (size_t i = 0; i < json_array_size(v); i++) {
			char *text = scalar_text(json_array_get(v, i));
			if (text == NULL) {
				*why = json_is_string(json_array_get(v, i)) ? NULL :
				       ": must be a list of status codes (200) or ranges (\"200-299\")";
				return *why ? CIRRUS_EINVAL : CIRRUS_ENOMEM;
			}
			list->v[list->n++] = text;
		}
		return 0;
	}
	}
	return CIRRUS_EINVAL;
}

/* The check object into spec (name and defaults set by the caller after). */
static int read_spec(const json_t *check, health_spec_t *spec, char *field,
                     size_t fieldlen, char *err, size_t errlen)
{
	health_spec_init(spec, 0);
	if (!json_is_object(check)) {
		return bad(field, fieldlen, NULL, err, errlen, "must be an object "
		           "({\"type\": \"http\", \"path\": \"/health\", ...})");
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)check, key, v) {
		size_t k = 0;
		while (k < KEY_COUNT && strcmp(keys[k].name, key) != 0) {
			k++;
		}
		if (k == KEY_COUNT) {
			return bad(field, fieldlen, key, err, errlen, ": unknown field (a check takes "
			           "the keys of a checks: entry of cirrus.yaml but name, ca-file and "
			           "those of calculated checks)");
		}
		const char *why;
		int r = set_key(spec, k, v, &why);
		if (r != 0) {
			return why ? bad(field, fieldlen, key, err, errlen, why) : r;
		}
	}
	return 0;
}

/* Defaults from the instance, then the health module's own rules. */
static int complete(health_spec_t *spec, const registry_instance_t *in, const char *name,
                    char *err, size_t errlen)
{
	if (spec->type != NULL && strcmp(spec->type, "calculated") == 0) {
		snprintf(err, errlen, "type must be http, https, tcp or dns");
		return CIRRUS_EINVAL;
	}
	if (spec->type == NULL) {
		snprintf(err, errlen, "type is required: http, https, tcp or dns");
		return CIRRUS_EINVAL;
	}
	if (spec->address == NULL && (spec->address = strdup(in->addrs[0])) == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (spec->port == 0) {
		spec->port = in->port;
	}
	if ((spec->name = strdup(name)) == NULL) {
		return CIRRUS_ENOMEM;
	}
	char why[512];
	int r = health_spec_check(spec, why, sizeof(why));
	if (r != 0) {
		/* "check NAME: reason": the name is ours, the reason is the user's */
		const char *colon = strstr(why, ": ");
		snprintf(err, errlen, "%s", colon ? colon + 2 : why);
	}
	return r;
}

int registry_check_parse(const json_t *check, registry_instance_t *in, char *field,
                         size_t fieldlen, char *err, size_t errlen)
{
	health_spec_t spec;
	char why[512];
	int r = read_spec(check, &spec, field, fieldlen, err, errlen);
	if (r == 0 && (r = complete(&spec, in, REGISTRY_HEALTH_PREFIX "check", why,
	                            sizeof(why))) != 0 && r != CIRRUS_ENOMEM) {
		bad(field, fieldlen, NULL, err, errlen, why);
	}
	health_spec_deinit(&spec);
	if (r != 0) {
		return r == CIRRUS_ENOMEM ? bad(field, fieldlen, NULL, err, errlen, "out of memory") :
		       CIRRUS_EINVAL;
	}
	char *text = json_dumps(check, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL || strlen(text) >= sizeof(in->check)) {
		free(text);
		return bad(field, fieldlen, NULL, err, errlen, "is longer than 1023 bytes as JSON");
	}
	memcpy(in->check, text, strlen(text) + 1);
	free(text);
	return 0;
}

int registry_check_spec(const registry_instance_t *in, const char *name,
                        health_spec_t *spec, char *err, size_t errlen)
{
	char field[64];
	json_t *check = in->check[0] ? json_loads(in->check, 0, NULL) : NULL;
	if (check == NULL) {
		health_spec_init(spec, 0);
		snprintf(err, errlen, "no check");
		return CIRRUS_EINVAL;
	}
	int r = read_spec(check, spec, field, sizeof(field), err, errlen);
	if (r == 0) {
		r = complete(spec, in, name, err, errlen);
	}
	json_decref(check);
	if (r != 0) {
		health_spec_deinit(spec);
	}
	return r;
}

int registry_check_key(const char *zone, const registry_instance_t *in, char *out,
                       size_t size)
{
	size_t zlen = strlen(zone);
	if (zlen > 0 && zone[zlen - 1] == '.') {
		zlen--;
	}
	int n = snprintf(out, size, REGISTRY_HEALTH_PREFIX "%s.%s.%.*s", in->id, in->service,
	                 (int)zlen, zone);
	if (n < 0 || (size_t)n >= size || n > 127 ||
	    strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") !=
	    (size_t)n) {
		return CIRRUS_ESPACE;
	}
	return 0;
}
