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

typedef struct yaml_key yaml_key_t;

/*!
 * \brief A key's parser: node is its value, base + key->offset the field it
 * fills (yaml_field), ctx the loader's own state.
 */
typedef int (*yaml_parse_fn)(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base);

/*! \brief One key of a mapping: its name, parser, field and limits. */
struct yaml_key {
	const char *name;
	yaml_parse_fn parse;
	size_t offset;          /*!< of the field in the parser's base */
	unsigned min, max;      /*!< range of an integer, or length of a text */
};

/*! \brief The field key names in base. */
static inline void *yaml_field(void *base, const yaml_key_t *key)
{
	return (char *)base + key->offset;
}

/*!
 * \brief Parse a mapping whose keys must all be in keys (at most 32), each
 * at most once, handing each value to its key's parser with ctx and base.
 * An empty value (nothing, ~ or null) is an empty mapping. Errors name
 * where ("server", "a zone") and, for an unknown key, the known ones.
 */
int yaml_map(const yaml_src_t *src, yaml_document_t *doc, yaml_node_t *node,
             const char *where, const yaml_key_t *keys, size_t count, void *ctx, void *base);

/*!
 * \brief A value that is one scalar or a non-empty list of them: each goes
 * to item(ctx, node). Anything else is "<what> must be <noun> or a list of
 * at least one".
 */
int yaml_one_or_list(const yaml_src_t *src, yaml_document_t *doc, yaml_node_t *node,
                     const char *what, const char *noun,
                     int (*item)(void *ctx, yaml_node_t *node), void *ctx);
