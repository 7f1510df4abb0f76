/* SPDX-License-Identifier: Apache-2.0
 * conf.c -- read cirrus.yaml with libyaml's document loader and check every
 * key against a table of known keys, so each mistake is reported with its
 * file and line. Defaults are set in conf_defaults() and documented in
 * docs/configuration.md; keep the three in step.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include <libknot/libknot.h>

#include "conf/conf.h"
#include "util/error.h"
#include "util/addr.h"
#include "util/yaml_node.h"

typedef struct parser {
	yaml_src_t y;          /* file name and error message */
	yaml_document_t doc;
	conf_t *conf;
} parser_t;

static int parse_uint(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	return yaml_uint(&p->y, node, key->name, key->min, key->max, yaml_field(base, key));
}

static int parse_text(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	char **out = yaml_field(base, key);
	if (yaml_is_null(node)) {
		return 0;
	}
	const char *s;
	int r = yaml_text(&p->y, node, key->name, key->min, key->max, &s);
	if (r == 0 && (*out = strdup(s)) == NULL) {
		r = yaml_nomem(&p->y);
	}
	return r;
}

static int parse_level(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	static const char *names[] = {
		[LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARNING] = "warning",
		[LOG_LEVEL_INFO] = "info", [LOG_LEVEL_DEBUG] = "debug",
	};
	const char *s = yaml_scalar(node);
	for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*(log_level_t *)yaml_field(base, key) = (log_level_t)i;
			return 0;
		}
	}
	return yaml_fail(&p->y, node, "%s must be error, warning, info or debug, not '%s'",
	                 key->name, yaml_shown(node));
}

static int parse_bool(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	static const char *yes[] = { "true", "yes", "on" }, *no[] = { "false", "no", "off" };
	const char *s = yaml_scalar(node);
	for (size_t i = 0; s != NULL && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*(bool *)yaml_field(base, key) = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return yaml_fail(&p->y, node, "%s must be true or false, not '%s'", key->name, yaml_shown(node));
}

static int parse_policy(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	const char *s = yaml_scalar(node);
	if (s != NULL && (strcmp(s, "increment") == 0 || strcmp(s, "date") == 0)) {
		*(conf_serial_policy_t *)yaml_field(base, key) =
			s[0] == 'd' ? CONF_SERIAL_DATE : CONF_SERIAL_INCREMENT;
		return 0;
	}
	return yaml_fail(&p->y, node, "%s must be increment or date, not '%s'", key->name,
	                 yaml_shown(node));
}

static char *resolve_path(const char *conf_path, const char *file);

/* Text naming a file, resolved against the directory of the configuration. */
static int parse_path(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	char **out = yaml_field(base, key);
	int r = parse_text(p, node, key, base);
	if (r != 0 || *out == NULL) {
		return r;
	}
	char *resolved = resolve_path(p->y.path, *out);
	free(*out);
	*out = resolved;
	return resolved == NULL ? yaml_nomem(&p->y) : 0;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
	       x->sin6_scope_id == y->sin6_scope_id;
}

/* Append a numeric address. CIRRUS_EINVAL: not one; CIRRUS_EEXIST: listed. */
static int add_addr(conf_t *conf, const char *text)
{
	conf_addr_t a = { 0 };
	if (!addr_parse(text, 0, &a.addr)) {
		return CIRRUS_EINVAL;
	}
	a.text = strdup(text);
	for (size_t i = 0; i < conf->listen_count; i++) {
		if (same_addr(&conf->listen[i].addr, &a.addr)) {
			free(a.text);
			return CIRRUS_EEXIST;
		}
	}
	conf_addr_t *grown = realloc(conf->listen, (conf->listen_count + 1) * sizeof(*grown));
	if (grown != NULL) {
		conf->listen = grown;
	}
	if (a.text == NULL || grown == NULL) {
		free(a.text);
		return CIRRUS_ENOMEM;
	}
	conf->listen[conf->listen_count++] = a;
	return 0;
}

static int parse_addr(void *ctx, yaml_node_t *node)
{
	parser_t *p = ctx;
	const char *s = yaml_scalar(node);
	int r = s != NULL ? add_addr(p->conf, s) : CIRRUS_EINVAL;
	switch (r) {
	case 0:             return 0;
	case CIRRUS_ENOMEM: return yaml_nomem(&p->y);
	case CIRRUS_EEXIST: return yaml_fail(&p->y, node, "listen: address '%s' is listed twice", s);
	default:            return yaml_fail(&p->y, node, "listen: '%s' is not an IP address",
	                                     yaml_shown(node));
	}
}

static int parse_listen(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key, (void)base;
	return yaml_one_or_list(&p->y, &p->doc, node, "listen", "an address", parse_addr, p);
}

/* One numeric address, kept as text (api.listen). */
static int parse_one_addr(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	struct sockaddr_storage ss;
	const char *s = yaml_scalar(node);
	if (s == NULL || !addr_parse(s, 0, &ss)) {
		return yaml_fail(&p->y, node, "%s: '%s' is not an IP address", key->name, yaml_shown(node));
	}
	char **out = yaml_field(base, key);
	*out = strdup(s);
	return *out == NULL ? yaml_nomem(&p->y) : 0;
}

/* server.ecs-trust: "all", "none", or a list of prefixes. */
static int add_trust(parser_t *p, yaml_node_t *node, const char *text)
{
	policy_addr_t a;
	if (policy_cidr_parse(text, &a) != 0) {
		return yaml_fail(&p->y, node, "ecs-trust: '%s' is not a prefix such as 192.0.2.0/24 "
		                 "(or write all or none)", text);
	}
	policy_addr_t *grown = realloc(p->conf->ecs_trust,
	                               (p->conf->ecs_trust_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		return yaml_nomem(&p->y);
	}
	p->conf->ecs_trust = grown;
	grown[p->conf->ecs_trust_count++] = a;
	return 0;
}

static int parse_ecs_trust(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key, (void)base;
	const char *s = yaml_scalar(node);
	if (s != NULL && strcmp(s, "none") == 0) {
		return 0;
	}
	if (s != NULL && strcmp(s, "all") == 0) {
		int r = add_trust(p, node, "0.0.0.0/0");
		return r != 0 ? r : add_trust(p, node, "::/0");
	}
	if (s != NULL) {
		return add_trust(p, node, s);
	}
	if (node->type != YAML_SEQUENCE_NODE) {
		return yaml_fail(&p->y, node, "ecs-trust must be all, none, or a list of prefixes");
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(&p->doc, *i);
		int r = yaml_scalar(item) ? add_trust(p, item, yaml_scalar(item)) :
		        yaml_fail(&p->y, item, "ecs-trust: '%s' is not a prefix", yaml_shown(item));
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

static int strv_push(parser_t *p, policy_strv_t *v, const char *text)
{
	char **grown = realloc(v->v, (v->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		return yaml_nomem(&p->y);
	}
	v->v = grown;
	if ((v->v[v->n] = strdup(text)) == NULL) {
		return yaml_nomem(&p->y);
	}
	v->n++;
	return 0;
}

/* A list of short texts (or one text alone). */
static int parse_strv(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	policy_strv_t *out = yaml_field(base, key);
	bool single = node->type == YAML_SCALAR_NODE;
	yaml_node_item_t *start = single ? NULL : node->data.sequence.items.start;
	yaml_node_item_t *top = single ? NULL : node->data.sequence.items.top;
	if (!single && node->type != YAML_SEQUENCE_NODE) {
		return yaml_fail(&p->y, node, "%s must be a list, not '%s'", key->name, yaml_shown(node));
	}
	for (size_t i = 0; single ? i < 1 : start + i < top; i++) {
		yaml_node_t *item = single ? node : yaml_document_get_node(&p->doc, start[i]);
		const char *s = yaml_scalar(item);
		if (s == NULL || strlen(s) < 1 || strlen(s) > key->max) {
			return yaml_fail(&p->y, item, "%s: '%s' must be text of 1 to %u bytes", key->name,
			                 yaml_shown(item), key->max);
		}
		int r = strv_push(p, out, s);
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

/* health: a mapping of health key to up or down. */
static int parse_health(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key, (void)base;
	if (yaml_is_null(node)) {
		return 0;
	}
	if (node->type != YAML_MAPPING_NODE) {
		return yaml_fail(&p->y, node, "health must be a mapping of health keys to up or down");
	}
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&p->doc, pair->value);
		const char *name = yaml_scalar(k), *state = yaml_scalar(v);
		if (name == NULL || *name == '\0') {
			return yaml_fail(&p->y, k, "health: a key must be a name, not '%s'", yaml_shown(k));
		}
		if (state == NULL || (strcmp(state, "up") != 0 && strcmp(state, "down") != 0)) {
			return yaml_fail(&p->y, v, "health: %s must be up or down, not '%s'", name, yaml_shown(v));
		}
		int r = state[0] == 'd' ? strv_push(p, &p->conf->health_down, name) : 0;
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

static const yaml_key_t server_keys[] = {
	{ "listen", parse_listen, 0, 0, 0 },
	{ "port", parse_uint, offsetof(conf_t, port), 1, 65535 },
	{ "workers", parse_uint, offsetof(conf_t, workers), 0, CONF_WORKERS_MAX },
	{ "udp-payload", parse_uint, offsetof(conf_t, udp_payload), 512, 4096 },
	{ "udp-coalesce-us", parse_uint, offsetof(conf_t, udp_coalesce_us), 0, 1000 },
	{ "tcp-idle-timeout", parse_uint, offsetof(conf_t, tcp_idle_timeout), 1, 6553 },
	{ "tcp-max-clients", parse_uint, offsetof(conf_t, tcp_max_clients), 1, 1000000 },
	{ "tcp-io-timeout", parse_uint, offsetof(conf_t, tcp_io_timeout), 1, 3600 },
	{ "nsid", parse_text, offsetof(conf_t, nsid), 1, 255 },
	{ "identity", parse_text, offsetof(conf_t, identity), 1, 255 },
	{ "version", parse_text, offsetof(conf_t, version), 1, 255 },
	{ "ecs-trust", parse_ecs_trust, 0, 0, 0 },
};

static const yaml_key_t log_keys[] = {
	{ "level", parse_level, offsetof(conf_t, log_level), 0, 0 },
};

static const yaml_key_t store_keys[] = {
	{ "path", parse_path, offsetof(conf_t, store_path), 1, 4096 },
	{ "serial-policy", parse_policy, offsetof(conf_t, serial_policy), 0, 0 },
};

static const yaml_key_t api_keys[] = {
	{ "enabled", parse_bool, offsetof(conf_t, api_enabled), 0, 0 },
	{ "listen", parse_one_addr, offsetof(conf_t, api_listen), 0, 0 },
	{ "port", parse_uint, offsetof(conf_t, api_port), 1, 65535 },
	{ "max-body", parse_uint, offsetof(conf_t, api_max_body), 1024, 67108864 },
	{ "tls-cert", parse_path, offsetof(conf_t, api_tls_cert), 1, 4096 },
	{ "tls-key", parse_path, offsetof(conf_t, api_tls_key), 1, 4096 },
};

/* resolver.timeout: a duration such as 500ms or 2s (as checks take). */
static int parse_timeout(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	const char *s = yaml_scalar(node);
	uint64_t ms = 0;
	if (s == NULL || health_duration_parse(s, &ms) != 0 || ms < key->min || ms > key->max) {
		return yaml_fail(&p->y, node, "%s must be a duration from %llums to %llums, such "
		                 "as 500ms or 2s, not '%s'", key->name, (unsigned long long)key->min,
		                 (unsigned long long)key->max, yaml_shown(node));
	}
	*(unsigned *)yaml_field(base, key) = (unsigned)ms;
	return 0;
}

static const yaml_key_t resolver_keys[] = {
	{ "address", parse_one_addr, offsetof(conf_resolver_t, address), 0, 0 },
	{ "port", parse_uint, offsetof(conf_resolver_t, port), 1, 65535 },
	{ "timeout", parse_timeout, offsetof(conf_resolver_t, timeout_ms), 10, 30000 },
	{ "retries", parse_uint, offsetof(conf_resolver_t, retries), 0, 10 },
	{ "min-ttl", parse_uint, offsetof(conf_resolver_t, min_ttl), 1, 86400 },
	{ "max-ttl", parse_uint, offsetof(conf_resolver_t, max_ttl), 1, 604800 },
	{ "serve-stale", parse_uint, offsetof(conf_resolver_t, serve_stale), 0, 604800 },
};

static const yaml_key_t services_keys[] = {
	{ "answer-max", parse_uint, offsetof(conf_t, services_answer_max), 1, 64 },
};

static int parse_endpoints(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base);

/* An endpoint: a record with attributes, or a nested rule (docs/policies.md). */
static const yaml_key_t endpoint_keys[] = {
	{ "rdata", parse_text, offsetof(policy_spec_t, rdata), 1, 4096 },
	{ "weight", parse_uint, offsetof(policy_spec_t, weight), 0, 1000000 },
	{ "level", parse_uint, offsetof(policy_spec_t, level), 1, 1000 },
	{ "region", parse_text, offsetof(policy_spec_t, region), 1, 64 },
	{ "health", parse_text, offsetof(policy_spec_t, health), 1, 255 },
	{ "countries", parse_strv, offsetof(policy_spec_t, countries), 1, 2 },
	{ "continents", parse_strv, offsetof(policy_spec_t, continents), 1, 2 },
	{ "subdivisions", parse_strv, offsetof(policy_spec_t, subdivisions), 1, 6 },
	{ "cidrs", parse_strv, offsetof(policy_spec_t, cidrs), 1, 64 },
	{ "default", parse_bool, offsetof(policy_spec_t, is_default), 0, 0 },
	{ "rule", parse_text, offsetof(policy_spec_t, rule), 1, 32 },
	{ "pick", parse_uint, offsetof(policy_spec_t, pick), 1, POLICY_ANSWER_MAX },
	{ "map", parse_path, offsetof(policy_spec_t, map), 1, 4096 },
	{ "mmdb", parse_path, offsetof(policy_spec_t, mmdb), 1, 4096 },
	{ "latency", parse_path, offsetof(policy_spec_t, latency), 1, 4096 },
	{ "endpoints", parse_endpoints, 0, 0, 0 },
};

/* A policy: where it answers, and its top rule. */
static const yaml_key_t policy_keys[] = {
	{ "name", parse_text, offsetof(policy_spec_t, name), 1, 1024 },
	{ "type", parse_text, offsetof(policy_spec_t, type), 1, 16 },
	{ "target", parse_text, offsetof(policy_spec_t, target), 1, 1024 },
	{ "ttl", parse_uint, offsetof(policy_spec_t, ttl), 0, 2147483647 },
	{ "fail", parse_text, offsetof(policy_spec_t, fail), 1, 16 },
	{ "rule", parse_text, offsetof(policy_spec_t, rule), 1, 32 },
	{ "pick", parse_uint, offsetof(policy_spec_t, pick), 1, POLICY_ANSWER_MAX },
	{ "map", parse_path, offsetof(policy_spec_t, map), 1, 4096 },
	{ "mmdb", parse_path, offsetof(policy_spec_t, mmdb), 1, 4096 },
	{ "latency", parse_path, offsetof(policy_spec_t, latency), 1, 4096 },
	{ "endpoints", parse_endpoints, 0, 0, 0 },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A list of mappings, each read into a fresh spec appended to *list. */
static int parse_specs(parser_t *p, yaml_node_t *node, const char *what,
                       const yaml_key_t *keys, size_t count,
                       policy_spec_t **list, size_t *n)
{
	if (node->type != YAML_SEQUENCE_NODE ||
	    node->data.sequence.items.start == node->data.sequence.items.top) {
		return yaml_fail(&p->y, node, "%s must be a list of at least one mapping", what);
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(&p->doc, *i);
		policy_spec_t spec;
		policy_spec_init(&spec, item->start_mark.line + 1);
		int r = item->type == YAML_MAPPING_NODE ?
		        yaml_map(&p->y, &p->doc, item, what, keys, count, p, &spec) :
		        yaml_fail(&p->y, item, "%s must be a list of mappings, not '%s'", what, yaml_shown(item));
		policy_spec_t *grown = r == 0 ? realloc(*list, (*n + 1) * sizeof(*grown)) : NULL;
		if (r == 0 && grown == NULL) {
			r = yaml_nomem(&p->y);
		}
		if (r != 0) {
			policy_spec_deinit(&spec);
			return r;
		}
		*list = grown;
		(*list)[(*n)++] = spec;
	}
	return 0;
}

static int parse_endpoints(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	policy_spec_t *spec = base;
	return parse_specs(p, node, "endpoints", endpoint_keys, COUNT(endpoint_keys),
	                   &spec->endpoints, &spec->endpoint_count);
}

static int parse_policies(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	conf_zone_t *z = base;
	if (yaml_is_null(node)) {
		return 0;
	}
	return parse_specs(p, node, "policies", policy_keys, COUNT(policy_keys),
	                   &z->policies, &z->policy_count);
}

static const yaml_key_t zone_keys[] = {
	{ "origin", parse_text, offsetof(conf_zone_t, origin), 1, 1024 },
	{ "file", parse_text, offsetof(conf_zone_t, file), 1, 4096 },
	{ "policies", parse_policies, 0, 0, 0 },
};

static int parse_server(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	return yaml_map(&p->y, &p->doc, node, "server", server_keys, COUNT(server_keys), p,
	                base);
}

static int parse_log(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	return yaml_map(&p->y, &p->doc, node, "log", log_keys, COUNT(log_keys), p, base);
}

static int parse_store(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	return yaml_map(&p->y, &p->doc, node, "store", store_keys, COUNT(store_keys), p, base);
}

static int parse_services(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	return yaml_map(&p->y, &p->doc, node, "services", services_keys, COUNT(services_keys),
	                p, base);
}

static int parse_resolver(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	conf_resolver_t *r = &((conf_t *)base)->resolver;
	int rc = yaml_map(&p->y, &p->doc, node, "resolver", resolver_keys, COUNT(resolver_keys),
	                  p, r);
	if (rc == 0 && r->address == NULL) {
		rc = yaml_fail(&p->y, node, "resolver: needs an address");
	}
	if (rc == 0 && r->min_ttl > r->max_ttl) {
		rc = yaml_fail(&p->y, node, "resolver: min-ttl %u is above max-ttl %u",
		               r->min_ttl, r->max_ttl);
	}
	return rc;
}

static int parse_api(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key;
	conf_t *c = base;
	int r = yaml_map(&p->y, &p->doc, node, "api", api_keys, COUNT(api_keys), p, base);
	if (r == 0 && (c->api_tls_cert == NULL) != (c->api_tls_key == NULL)) {
		r = yaml_fail(&p->y, node, "api: TLS needs both tls-cert and tls-key (or neither, "
		              "for plain HTTP)");
	}
	return r;
}

/* The file of a zone, relative to the directory of the configuration. */
static char *resolve_path(const char *conf_path, const char *file)
{
	const char *slash = strrchr(conf_path, '/');
	if (file[0] == '/' || slash == NULL) {
		return strdup(file);
	}
	char *out = NULL;
	int dir_len = (int)(slash - conf_path);
	return asprintf(&out, "%.*s/%s", dir_len, conf_path, file) < 0 ? NULL : out;
}

/* Check origin and that no earlier zone has the same apex. */
static int check_origin(parser_t *p, const yaml_node_t *node, const char *origin)
{
	knot_dname_storage_t apex, other;
	if (knot_dname_from_str(apex, origin, sizeof(apex)) == NULL) {
		return yaml_fail(&p->y, node, "zone origin '%s' is not a domain name", origin);
	}
	knot_dname_to_lower(apex);
	for (size_t i = 0; i < p->conf->zone_count; i++) {
		knot_dname_from_str(other, p->conf->zones[i].origin, sizeof(other));
		knot_dname_to_lower(other);
		if (knot_dname_is_equal(apex, other)) {
			return yaml_fail(&p->y, node, "zone '%s' is listed twice", origin);
		}
	}
	return 0;
}

/* Append z with its file resolved; on success the list owns its strings. */
static int add_zone(parser_t *p, conf_zone_t *z)
{
	char *path = resolve_path(p->y.path, z->file);
	conf_zone_t *grown = NULL;
	if (path != NULL) {
		grown = realloc(p->conf->zones, (p->conf->zone_count + 1) * sizeof(*grown));
	}
	if (grown == NULL) {
		free(path);
		return yaml_nomem(&p->y);
	}
	free(z->file);
	z->file = path;
	p->conf->zones = grown;
	p->conf->zones[p->conf->zone_count++] = *z;
	return 0;
}

static void zone_deinit(conf_zone_t *z)
{
	free(z->origin);
	free(z->file);
	for (size_t i = 0; i < z->policy_count; i++) {
		policy_spec_deinit(&z->policies[i]);
	}
	free(z->policies);
}

static int parse_zone(parser_t *p, yaml_node_t *node)
{
	conf_zone_t z = { 0 };
	int r = yaml_map(&p->y, &p->doc, node, "a zone", zone_keys, COUNT(zone_keys), p, &z);
	if (r == 0 && (z.origin == NULL || z.file == NULL)) {
		r = yaml_fail(&p->y, node, "a zone needs both 'origin' and 'file'");
	}
	if (r == 0) {
		r = check_origin(p, node, z.origin);
	}
	if (r == 0) {
		r = add_zone(p, &z);
	}
	if (r != 0) {
		zone_deinit(&z);
	}
	return r;
}

static int parse_zones(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key, (void)base;
	if (yaml_is_null(node)) {
		return 0;
	}
	if (node->type != YAML_SEQUENCE_NODE) {
		return yaml_fail(&p->y, node, "zones must be a list, not '%s'", yaml_shown(node));
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		int r = parse_zone(p, yaml_document_get_node(&p->doc, *i));
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

/* A health check (docs/configuration.md); health/ checks the values. */
static const yaml_key_t check_keys[] = {
	{ "name", parse_text, offsetof(health_spec_t, name), 1, 127 },
	{ "type", parse_text, offsetof(health_spec_t, type), 1, 16 },
	{ "address", parse_text, offsetof(health_spec_t, address), 1, 64 },
	{ "port", parse_uint, offsetof(health_spec_t, port), 1, 65535 },
	{ "interval", parse_text, offsetof(health_spec_t, interval), 1, 16 },
	{ "timeout", parse_text, offsetof(health_spec_t, timeout), 1, 16 },
	{ "rise", parse_uint, offsetof(health_spec_t, rise), 1, 10 },
	{ "fall", parse_uint, offsetof(health_spec_t, fall), 1, 10 },
	{ "method", parse_text, offsetof(health_spec_t, method), 1, 16 },
	{ "path", parse_text, offsetof(health_spec_t, path), 1, 1024 },
	{ "host", parse_text, offsetof(health_spec_t, host), 1, 255 },
	{ "expect", parse_strv, offsetof(health_spec_t, expect), 1, 7 },
	{ "body", parse_text, offsetof(health_spec_t, body), 1, 1024 },
	{ "ca-file", parse_path, offsetof(health_spec_t, ca_file), 1, 4096 },
	{ "insecure", parse_bool, offsetof(health_spec_t, insecure), 0, 0 },
	{ "query", parse_text, offsetof(health_spec_t, query), 1, 1024 },
	{ "query-type", parse_text, offsetof(health_spec_t, query_type), 1, 16 },
	{ "rcode", parse_text, offsetof(health_spec_t, rcode), 1, 16 },
	{ "rule", parse_text, offsetof(health_spec_t, rule), 1, 16 },
	{ "at-least", parse_uint, offsetof(health_spec_t, at_least), 1, HEALTH_CHILDREN_MAX },
	{ "checks", parse_strv, offsetof(health_spec_t, checks), 1, 127 },
};

/* One check: its keys, then the rules for their values. */
static int parse_check(parser_t *p, yaml_node_t *node, health_spec_t *spec)
{
	char why[512];
	int r = node->type == YAML_MAPPING_NODE ?
	        yaml_map(&p->y, &p->doc, node, "a check", check_keys, COUNT(check_keys), p,
	                 spec) :
	        yaml_fail(&p->y, node, "checks must be a list of mappings, not '%s'", yaml_shown(node));
	if (r == 0 && health_spec_check(spec, why, sizeof(why)) != 0) {
		r = yaml_fail(&p->y, node, "%s", why);
	}
	return r;
}

/* checks: a list of health checks, linked once all are read. */
static int parse_checks(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)key, (void)base;
	conf_t *c = p->conf;
	if (yaml_is_null(node)) {
		return 0;
	}
	if (node->type != YAML_SEQUENCE_NODE) {
		return yaml_fail(&p->y, node, "checks must be a list of checks, not '%s'", yaml_shown(node));
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(&p->doc, *i);
		health_spec_t *grown = realloc(c->checks, (c->check_count + 1) * sizeof(*grown));
		if (grown == NULL) {
			return yaml_nomem(&p->y);
		}
		c->checks = grown;
		health_spec_init(&grown[c->check_count], item->start_mark.line + 1);
		c->check_count++;
		int r = parse_check(p, item, &grown[c->check_count - 1]);
		if (r != 0) {
			return r;
		}
	}
	char why[512];
	size_t bad = 0;
	if (health_specs_link(c->checks, c->check_count, &bad, why, sizeof(why)) != 0) {
		snprintf(p->y.err, p->y.err_size, "%s:%llu: %s", p->y.path,
		         (unsigned long long)c->checks[bad].line, why);
		return CIRRUS_EINVAL;
	}
	return 0;
}

static const yaml_key_t top_keys[] = {
	{ "server", parse_server, 0, 0, 0 },
	{ "log", parse_log, 0, 0, 0 },
	{ "zones", parse_zones, 0, 0, 0 },
	{ "store", parse_store, 0, 0, 0 },
	{ "api", parse_api, 0, 0, 0 },
	{ "health", parse_health, 0, 0, 0 },
	{ "checks", parse_checks, 0, 0, 0 },
	{ "services", parse_services, 0, 0, 0 },
	{ "resolver", parse_resolver, 0, 0, 0 },
};

static void conf_defaults(conf_t *conf)
{
	*conf = (conf_t) {
		.port = 5353,
		.workers = 1,
		.udp_payload = 1232,
		.udp_coalesce_us = 30,
		.tcp_idle_timeout = 10,
		.tcp_max_clients = 1024,
		.tcp_io_timeout = 5,
		.log_level = LOG_LEVEL_INFO,
		.serial_policy = CONF_SERIAL_INCREMENT,
		.api_enabled = false,
		.api_port = 8053,
		.api_max_body = 1048576,
		.services_answer_max = 8,
		.resolver = { .port = 53, .timeout_ms = 1000, .retries = 2, .min_ttl = 5,
		              .max_ttl = 3600, .serve_stale = 86400 },
	};
}

static int syntax_error(parser_t *p, const yaml_parser_t *yp)
{
	if (yp->error == YAML_MEMORY_ERROR) {
		return yaml_nomem(&p->y);
	}
	snprintf(p->y.err, p->y.err_size, "%s:%zu: %s%s%s", p->y.path,
	         yp->problem_mark.line + 1, yp->problem ? yp->problem : "invalid YAML",
	         yp->context ? " " : "", yp->context ? yp->context : "");
	return CIRRUS_EPARSE;
}

/* Parse the open file f into p->conf. */
static int parse_file(parser_t *p, FILE *f)
{
	yaml_parser_t yp;
	if (!yaml_parser_initialize(&yp)) {
		return yaml_nomem(&p->y);
	}
	yaml_parser_set_input_file(&yp, f);
	int r;
	if (!yaml_parser_load(&yp, &p->doc)) {
		r = syntax_error(p, &yp);
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&p->doc);
		r = root == NULL ? 0 : yaml_map(&p->y, &p->doc, root, "the top level", top_keys,
		                                COUNT(top_keys), p, p->conf);
		yaml_document_delete(&p->doc);
	}
	yaml_parser_delete(&yp);
	return r;
}

int conf_load(conf_t *conf, const char *path, char *err, size_t err_size)
{
	parser_t p = { .y = { .path = path, .err = err, .err_size = err_size }, .conf = conf };
	conf_defaults(conf);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return CIRRUS_EIO;
	}
	int r = parse_file(&p, f);
	fclose(f);
	if (r == 0 && conf->listen_count == 0 &&
	    (add_addr(conf, "127.0.0.1") != 0 || add_addr(conf, "::1") != 0)) {
		r = yaml_nomem(&p.y);
	}
	if (r == 0 && (conf->path = strdup(path)) == NULL) {
		r = yaml_nomem(&p.y);
	}
	/* Without a store section: ./cirrus.db, the file `cirrus token` and
	 * `cirrus zone import|export` use when given no --db. */
	if (r == 0 && conf->store_path == NULL &&
	    (conf->store_path = strdup("cirrus.db")) == NULL) {
		r = yaml_nomem(&p.y);
	}
	if (r == 0 && conf->api_listen == NULL &&
	    (conf->api_listen = strdup("127.0.0.1")) == NULL) {
		r = yaml_nomem(&p.y);
	}
	if (r != 0) {
		conf_deinit(conf);
	}
	return r;
}

void conf_deinit(conf_t *conf)
{
	for (size_t i = 0; i < conf->listen_count; i++) {
		free(conf->listen[i].text);
	}
	for (size_t i = 0; i < conf->zone_count; i++) {
		zone_deinit(&conf->zones[i]);
	}
	for (size_t i = 0; i < conf->health_down.n; i++) {
		free(conf->health_down.v[i]);
	}
	free(conf->health_down.v);
	for (size_t i = 0; i < conf->check_count; i++) {
		health_spec_deinit(&conf->checks[i]);
	}
	free(conf->checks);
	free(conf->ecs_trust);
	free(conf->listen);
	free(conf->zones);
	free(conf->nsid);
	free(conf->identity);
	free(conf->version);
	free(conf->path);
	free(conf->store_path);
	free(conf->api_listen);
	free(conf->api_tls_cert);
	free(conf->api_tls_key);
	free(conf->resolver.address);
	conf_defaults(conf);
}
