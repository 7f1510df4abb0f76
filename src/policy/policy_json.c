/* SPDX-License-Identifier: Apache-2.0
 * policy_json.c -- a policy spec to and from JSON (policy_json.h). One
 * table of keys, with the JSON type, limits and place (policy, rule,
 * endpoint) of each, drives both directions, so that what is written reads
 * back as the same spec. The limits are those of the YAML reader
 * (src/conf/conf.c); rule-level checks are policy_compile()'s.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_json.h"
#include "util/error.h"

typedef enum { K_TEXT, K_FILE, K_UINT, K_BOOL, K_LIST, K_ENDPOINTS } kind_t;

/* Where a key may stand: the policy itself, any rule (the policy or a
 * nested one in an endpoint), an endpoint. */
enum { AT_POLICY = 1, AT_RULE = 2, AT_ENDPOINT = 4 };

typedef struct jkey {
	const char *name;
	kind_t kind;
	size_t offset;
	unsigned min, max;      /* numbers: range; texts: length; lists: item length */
	unsigned at;
} jkey_t;

#define F(f) offsetof(policy_spec_t, f)

static const jkey_t keys[] = {
	{ "name", K_TEXT, F(name), 1, 1024, AT_POLICY },
	{ "type", K_TEXT, F(type), 1, 16, AT_POLICY },
	{ "ttl", K_UINT, F(ttl), 0, 2147483647, AT_POLICY },
	{ "fail", K_TEXT, F(fail), 1, 16, AT_POLICY },
	{ "target", K_TEXT, F(target), 1, 1024, AT_POLICY },
	{ "rule", K_TEXT, F(rule), 1, 32, AT_RULE },
	{ "pick", K_UINT, F(pick), 1, POLICY_ANSWER_MAX, AT_RULE },
	{ "map", K_FILE, F(map), 1, 4096, AT_RULE },
	{ "mmdb", K_FILE, F(mmdb), 1, 4096, AT_RULE },
	{ "latency", K_FILE, F(latency), 1, 4096, AT_RULE },
	{ "latency-table", K_TEXT, F(latency_table), 1, 64, AT_RULE },
	{ "rdata", K_TEXT, F(rdata), 1, 4096, AT_ENDPOINT },
	{ "weight", K_UINT, F(weight), 0, 1000000, AT_ENDPOINT },
	{ "level", K_UINT, F(level), 1, 1000, AT_ENDPOINT },
	{ "region", K_TEXT, F(region), 1, 64, AT_ENDPOINT },
	{ "health", K_TEXT, F(health), 1, 255, AT_ENDPOINT },
	{ "countries", K_LIST, F(countries), 1, 2, AT_ENDPOINT },
	{ "continents", K_LIST, F(continents), 1, 2, AT_ENDPOINT },
	{ "subdivisions", K_LIST, F(subdivisions), 1, 6, AT_ENDPOINT },
	{ "cidrs", K_LIST, F(cidrs), 1, 64, AT_ENDPOINT },
	{ "default", K_BOOL, F(is_default), 0, 0, AT_ENDPOINT },
	{ "endpoints", K_ENDPOINTS, 0, 1, POLICY_ITEMS_MAX, AT_RULE },
};

#define KEY_COUNT (sizeof(keys) / sizeof(keys[0]))

/* What reading one request needs besides the spec. */
typedef struct reader {
	policy_strv_t *paths;
	char *field;
	size_t fieldlen;
	char *err;
	size_t errlen;
} reader_t;

static int fail(reader_t *rd, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(reader_t *rd, const char *path, const char *key, const char *fmt, ...)
{
	snprintf(rd->field, rd->fieldlen, "%s%s%s", path, path[0] && key[0] ? "." : "", key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rd->err, rd->errlen, fmt, ap);
	va_end(ap);
	return CIRRUS_EINVAL;
}

static int nomem(reader_t *rd)
{
	rd->field[0] = '\0';
	snprintf(rd->err, rd->errlen, "out of memory");
	return CIRRUS_ENOMEM;
}

static const jkey_t *find_key(const char *name, unsigned at)
{
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if ((keys[i].at & at) && strcmp(keys[i].name, name) == 0) {
			return &keys[i];
		}
	}
	return NULL;
}

static int read_text(reader_t *rd, const char *path, const jkey_t *k, json_t *v, char **out)
{
	const char *s = json_string_value(v);
	size_t len = s ? strlen(s) : 0;
	if (s == NULL || len < k->min || len > k->max) {
		return fail(rd, path, k->name, "%s must be a string of %u to %u bytes", k->name,
		            k->min, k->max);
	}
	if (k->kind == K_FILE && s[0] != '/') {
		return fail(rd, path, k->name, "%s must be an absolute file name ('%s' is "
		            "relative: the server's directories are not the client's)",
		            k->name, s);
	}
	return (*out = strdup(s)) == NULL ? nomem(rd) : 0;
}

static int read_list(reader_t *rd, const char *path, const jkey_t *k, json_t *v,
                     policy_strv_t *out)
{
	if (!json_is_array(v) || json_array_size(v) == 0) {
		return fail(rd, path, k->name, "%s must be a list of strings", k->name);
	}
	if ((out->v = calloc(json_array_size(v), sizeof(*out->v))) == NULL) {
		return nomem(rd);
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		char item[48];
		snprintf(item, sizeof(item), "%s[%zu]", k->name, i);
		int r = read_text(rd, path, k, json_array_get(v, i), &out->v[i]);
		if (r != 0) {
			snprintf(rd->field, rd->fieldlen, "%s%s%s", path, path[0] ? "." : "", item);
			return r;
		}
		out->n = i + 1;
	}
	return 0;
}

static int read_mapping(reader_t *rd, json_t *obj, const char *path, unsigned at,
                        policy_spec_t *spec);

/* The mapping's path into paths; its index + 1 becomes its line. */
static int add_path(reader_t *rd, const char *path, uint64_t *line)
{
	policy_strv_t *p = rd->paths;
	char **grown = realloc(p->v, (p->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		return nomem(rd);
	}
	p->v = grown;
	if ((p->v[p->n] = strdup(path)) == NULL) {
		return nomem(rd);
	}
	*line = ++p->n;
	return 0;
}

static int read_endpoints(reader_t *rd, const char *path, const jkey_t *k, json_t *v,
                          policy_spec_t *spec)
{
	if (!json_is_array(v) || json_array_size(v) < k->min || json_array_size(v) > k->max) {
		return fail(rd, path, k->name, "endpoints must be a list of %u to %u objects",
		            k->min, k->max);
	}
	size_t n = json_array_size(v);
	if ((spec->endpoints = calloc(n, sizeof(*spec->endpoints))) == NULL) {
		return nomem(rd);
	}
	for (size_t i = 0; i < n; i++) {
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s%sendpoints[%zu]", path, path[0] ? "." : "", i);
		policy_spec_init(&spec->endpoints[i], 0);
		spec->endpoint_count = i + 1;
		int r = read_mapping(rd, json_array_get(v, i), sub, AT_RULE | AT_ENDPOINT,
		                     &spec->endpoints[i]);
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

static int read_value(reader_t *rd, const char *path, const jkey_t *k, json_t *v,
                      policy_spec_t *spec)
{
	void *field = (char *)spec + k->offset;
	switch (k->kind) {
	case K_TEXT:
	case K_FILE:
		return read_text(rd, path, k, v, field);
	case K_UINT:
		if (!json_is_integer(v) || json_integer_value(v) < k->min ||
		    json_integer_value(v) > k->max) {
			return fail(rd, path, k->name, "%s must be an integer from %u to %u",
			            k->name, k->min, k->max);
		}
		*(unsigned *)field = (unsigned)json_integer_value(v);
		return 0;
	case K_BOOL:
		if (!json_is_boolean(v)) {
			return fail(rd, path, k->name, "%s must be true or false", k->name);
		}
		*(bool *)field = json_is_true(v);
		return 0;
	case K_LIST:
		return read_list(rd, path, k, v, field);
	case K_ENDPOINTS:
		return read_endpoints(rd, path, k, v, spec);
	}
	return CIRRUS_EINVAL;
}

static int read_mapping(reader_t *rd, json_t *obj, const char *path, unsigned at,
                        policy_spec_t *spec)
{
	if (!json_is_object(obj)) {
		return fail(rd, path, "", "%s must be an object", path[0] ? "an endpoint" :
		            "a policy");
	}
	int r = add_path(rd, path, &spec->line);
	const char *name;
	json_t *v;
	json_object_foreach(obj, name, v) {
		if (r != 0) {
			break;
		}
		const jkey_t *k = find_key(name, at);
		r = k != NULL ? read_value(rd, path, k, v, spec) :
		    fail(rd, path, name, "unknown field '%.100s' (docs/policies.md lists the keys)",
		         name);
	}
	return r;
}

int policy_json_read(json_t *obj, policy_spec_t *spec, policy_strv_t *paths,
                     char *field, size_t fieldlen, char *err, size_t errlen)
{
	reader_t rd = { .paths = paths, .field = field, .fieldlen = fieldlen,
	                .err = err, .errlen = errlen };
	*paths = (policy_strv_t){ 0 };
	policy_spec_init(spec, 0);
	return read_mapping(&rd, obj, "", AT_POLICY | AT_RULE, spec);
}

const char *policy_json_path(const policy_strv_t *paths, uint64_t line)
{
	return line >= 1 && line <= paths->n ? paths->v[line - 1] : "";
}

void policy_json_paths_free(policy_strv_t *paths)
{
	for (size_t i = 0; i < paths->n; i++) {
		free(paths->v[i]);
	}
	free(paths->v);
	*paths = (policy_strv_t){ 0 };
}

static json_t *write_mapping(const policy_spec_t *spec, unsigned at);

/* One key's value, or NULL when it holds its default. */
static json_t *write_value(const policy_spec_t *spec, const jkey_t *k)
{
	const void *field = (const char *)spec + k->offset;
	switch (k->kind) {
	case K_TEXT:
	case K_FILE:
		return *(char *const *)field ? json_string(*(char *const *)field) : NULL;
	case K_UINT: {
		unsigned v = *(const unsigned *)field;
		bool shown = strcmp(k->name, "ttl") == 0 || (strcmp(k->name, "weight") == 0 ?
		             v != 1 : v != 0);
		return shown ? json_integer(v) : NULL;
	}
	case K_BOOL:
		return *(const bool *)field ? json_true() : NULL;
	case K_LIST: {
		const policy_strv_t *l = field;
		json_t *a = l->n > 0 ? json_array() : NULL;
		for (size_t i = 0; a != NULL && i < l->n; i++) {
			json_array_append_new(a, json_string(l->v[i]));
		}
		return a;
	}
	case K_ENDPOINTS: {
		json_t *a = spec->endpoint_count > 0 ? json_array() : NULL;
		for (size_t i = 0; a != NULL && i < spec->endpoint_count; i++) {
			if (json_array_append_new(a, write_mapping(&spec->endpoints[i],
			                                           AT_RULE | AT_ENDPOINT)) != 0) {
				json_decref(a);
				a = NULL;
			}
		}
		return a;
	}
	}
	return NULL;
}

static json_t *write_mapping(const policy_spec_t *spec, unsigned at)
{
	json_t *o = json_object();
	for (size_t i = 0; o != NULL && i < KEY_COUNT; i++) {
		json_t *v = (keys[i].at & at) ? write_value(spec, &keys[i]) : NULL;
		if (v != NULL && json_object_set_new(o, keys[i].name, v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

json_t *policy_json_write(const policy_spec_t *spec)
{
	return write_mapping(spec, AT_POLICY | AT_RULE);
}
