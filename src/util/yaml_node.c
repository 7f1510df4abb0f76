/* SPDX-License-Identifier: Apache-2.0
 * yaml_node.c -- libyaml node helpers shared by the configuration loaders
 * (see yaml_node.h).
 */
#include <errno.h>
#include <stdarg.h>
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
