/* SPDX-License-Identifier: Apache-2.0
 * yaml_node.h -- what every YAML configuration loader here needs from a
 * libyaml document node: its text, how to show it in an error, and errors
 * as `file:line: reason`. Shared by cirrus.yaml (conf/) and proxy.yaml
 * (proxy/); the schemas themselves stay with their loaders.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/*! \brief The file being read and where its error message goes. */
typedef struct yaml_src {
	const char *path;
	char *err;
	size_t err_size;
} yaml_src_t;

/*! \brief Write "path:line: reason" for node. \return -CIRRUS_EINVAL */
int yaml_fail(const yaml_src_t *src, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief Write "path: out of memory". \return -CIRRUS_ENOMEM */
int yaml_nomem(const yaml_src_t *src);

/*! \brief Text of a scalar node; NULL for a mapping, a list or text with a NUL. */
const char *yaml_scalar(const yaml_node_t *node);

/*! \brief A node as shown in an error: its text, or what kind of node it is. */
const char *yaml_shown(const yaml_node_t *node);

/*! \brief An unquoted empty value, ~ or null. */
bool yaml_is_null(const yaml_node_t *node);

/*! \brief An integer from min to max, or an error naming the key. */
int yaml_uint(const yaml_src_t *src, const yaml_node_t *node, const char *name,
              unsigned min, unsigned max, unsigned *out);

/*! \brief Text of min to max bytes (not copied), or an error naming the key. */
int yaml_text(const yaml_src_t *src, const yaml_node_t *node, const char *name,
              unsigned min, unsigned max, const char **out);
