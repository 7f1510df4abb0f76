/* SPDX-License-Identifier: Apache-2.0
 * yaml_node.c -- libyaml node helpers shared by the configuration loaders
 * (see yaml_node.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"
#include "util/yaml_node.h"

int yaml_fail(const yaml_src_t *src, const yaml_node_t *node, const char *fmt, ...)
{
	int n = snprintf(src->err, src->err_size, "%s:%zu: ", src->path,
	                 node->start_mark.line + 1);
	if (n >= 0 && (size_t)n < src->err_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(src->err + n, src->err_size - n, fmt, ap);
		va_end(ap);
	}
	return CIRRUS_EINVAL;
}

int yaml_nomem(const yaml_src_t *src)
{
	snprintf(src->err, src->err_size, "%s: out of memory", src->path);
	return CIRRUS_ENOMEM;
}

const char *yaml_scalar(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE ||
	    strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
		return NULL;
	}
	return (const char *)node->data.scalar.value;
}

const char *yaml_shown(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:  return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default:                 return yaml_scalar(node) ? yaml_scalar(node) : "binary text";
	}
}

bool yaml_is_null(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return false;
	}
	const char *v = (const char *)node->data.scalar.value;
	return *v == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

int yaml_uint(const yaml_src_t *src, const yaml_node_t *node, const char *name,
              unsigned min, unsigned max, unsigned *out)
{
	const char *s = yaml_scalar(node);
	char *end = NULL;
	unsigned long v = 0;
	errno = 0;
	if (s != NULL && *s >= '0' && *s <= '9') {
		v = strtoul(s, &end, 10);
	}
	if (end == NULL || *end != '\0' || errno != 0 || v < min || v > max) {
		return yaml_fail(src, node, "%s must be an integer from %u to %u, not '%s'",
		                 name, min, max, yaml_shown(node));
	}
	*out = (unsigned)v;
	return 0;
}

int yaml_text(const yaml_src_t *src, const yaml_node_t *node, const char *name,
              unsigned min, unsigned max, const char **out)
{
	const char *s = yaml_scalar(node);
	if (s == NULL || strlen(s) < min || strlen(s) > max) {
		return yaml_fail(src, node, "%s must be text of %u to %u bytes, not '%s'",
		                 name, min, max, yaml_shown(node));
	}
	*out = s;
	return 0;
}

static const yaml_key_t *find_key(const yaml_key_t *keys, size_t count, const char *name)
{
	for (size_t i = 0; name != NULL && i < count; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			return &keys[i];
		}
	}
	return NULL;
}

static int unknown_key(const yaml_src_t *src, const yaml_node_t *node, const char *where,
                       const yaml_key_t *keys, size_t count)
{
	char known[512] = "";
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(known);
		snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", keys[i].name);
	}
	return yaml_fail(src, node, "unknown key '%s' in %s (known: %s)", yaml_shown(node),
	                 where, known);
}

int yaml_map(const yaml_src_t *src, yaml_document_t *doc, yaml_node_t *node,
             const char *where, const yaml_key_t *keys, size_t count, void *ctx, void *base)
{
	if (yaml_is_null(node)) {
		return 0;
	}
	if (node->type != YAML_MAPPING_NODE) {
		return yaml_fail(src, node, "%s must be a mapping of keys, not '%s'", where,
		                 yaml_shown(node));
	}
	uint32_t seen = 0;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(doc, pair->key);
		const yaml_key_t *key = find_key(keys, count, yaml_scalar(k));
		if (key == NULL) {
			return unknown_key(src, k, where, keys, count);
		}
		uint32_t bit = UINT32_C(1) << (key - keys);
		if (seen & bit) {
			return yaml_fail(src, k, "key '%s' appears twice in %s", key->name, where);
		}
		seen |= bit;
		int r = key->parse(ctx, yaml_document_get_node(doc, pair->value), key, base);
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

int yaml_one_or_list(const yaml_src_t *src, yaml_document_t *doc, yaml_node_t *node,
                     const char *what, const char *noun,
                     int (*item)(void *ctx, yaml_node_t *node), void *ctx)
{
	if (node->type == YAML_SCALAR_NODE) {
		return item(ctx, node);
	}
	if (node->type != YAML_SEQUENCE_NODE ||
	    node->data.sequence.items.start == node->data.sequence.items.top) {
		return yaml_fail(src, node, "%s must be %s or a list of at least one", what, noun);
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		int r = item(ctx, yaml_document_get_node(doc, *i));
		if (r != 0) {
			return r;
		}
	}
	return 0;
}
