/* SPDX-License-Identifier: Apache-2.0
 * proxy_conf.c -- read proxy.yaml (docs/proxy.md) with libyaml's document
 * loader. The proxy has its own small file rather than a section of
 * cirrus.yaml: it runs where no zones are, often as the only Cirrus process
 * on a host. Every key is checked against a table, so a mistake is
 * reported with file, line and the keys that are known. Defaults are set in
 * proxy_conf_init() and documented in docs/proxy.md; keep the two in step.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include <libknot/libknot.h>

#include "proxy/proxy.h"
#include "util/error.h"
#include "util/yaml_node.h"

typedef struct parser {
	yaml_src_t y;          /* file name and error message */
	yaml_document_t doc;
	proxy_conf_t *conf;
} parser_t;

void proxy_conf_init(proxy_conf_t *conf)
{
	*conf = (proxy_conf_t){
		.port = 53,
		.policy = PROXY_POLICY_FAILOVER,
		.deadline_ms = 2000,
		.upstream_timeout_ms = 1000,
		.tcp_idle_timeout = 10,
		.check_type = KNOT_RRTYPE_NS,
		.check_interval = 5,
		.check_timeout_ms = 1000,
		.fall = 3,
		.rise = 2,
		.cache_size = 0,
		.cache_min_ttl = 0,
		.cache_max_ttl = 86400,
		.ecs = PROXY_ECS_OFF,
		.ecs_prefix4 = 24,
		.ecs_prefix6 = 56,
		.log_level = LOG_LEVEL_INFO,
	};
}

void proxy_conf_clear_upstreams(proxy_conf_t *conf)
{
	for (size_t i = 0; i < conf->upstream_count; i++) {
		free(conf->upstreams[i].url);
		free(conf->upstreams[i].ca_file);
	}
	conf->upstream_count = 0;
}

void proxy_conf_deinit(proxy_conf_t *conf)
{
	proxy_conf_clear_upstreams(conf);
	for (size_t i = 0; i < conf->listen_count; i++) {
		free(conf->listen[i]);
	}
	free(conf->ca_file);
	free(conf->check_name);
	proxy_conf_init(conf);
}

int proxy_conf_add_upstream(proxy_conf_t *conf, const char *url, const char *ca_file)
{
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
		return CIRRUS_EINVAL;
	}
	if (conf->upstream_count == PROXY_UPSTREAMS_MAX) {
		return CIRRUS_ELIMIT;
	}
	proxy_upstream_conf_t *u = &conf->upstreams[conf->upstream_count];
	u->url = strdup(url);
	u->ca_file = ca_file ? strdup(ca_file) : NULL;
	if (u->url == NULL || (ca_file != NULL && u->ca_file == NULL)) {
		free(u->url);
		free(u->ca_file);
		return CIRRUS_ENOMEM;
	}
	conf->upstream_count++;
	return 0;
}

static yaml_node_t *node_at(parser_t *p, int index)
{
	return yaml_document_get_node(&p->doc, index);
}

static int parse_uint(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	return yaml_uint(&p->y, node, key->name, key->min, key->max, yaml_field(base, key));
}

static int set_text(parser_t *p, char **out, const char *s)
{
	free(*out);
	*out = strdup(s);
	return *out == NULL ? yaml_nomem(&p->y) : 0;
}

static int parse_text(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	const char *s;
	int r = yaml_text(&p->y, node, key->name, key->min, key->max, &s);
	return r != 0 ? r : set_text(p, yaml_field(base, key), s);
}

static int parse_rrtype(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	const char *s = yaml_scalar(node);
	uint16_t type = 0;
	if (s == NULL || knot_rrtype_from_string(s, &type) != 0) {
		return yaml_fail(&p->y, node, "%s must be a record type such as NS or A, not '%s'",
		                 key->name, yaml_shown(node));
	}
	*(uint16_t *)yaml_field(base, key) = type;
	return 0;
}

static int parse_policy(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	const char *s = yaml_scalar(node);
	if (s != NULL && (strcmp(s, "failover") == 0 || strcmp(s, "latency") == 0)) {
		p->conf->policy = s[0] == 'f' ? PROXY_POLICY_FAILOVER : PROXY_POLICY_LATENCY;
		return 0;
	}
	return yaml_fail(&p->y, node, "%s must be failover or latency, not '%s'", key->name,
	                 yaml_shown(node));
}

static int parse_level(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	static const char *names[] = { "error", "warning", "info", "debug" };
	const char *s = yaml_scalar(node);
	for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			p->conf->log_level = (log_level_t)i;
			return 0;
		}
	}
	return yaml_fail(&p->y, node, "%s must be error, warning, info or debug, not '%s'",
	                 key->name, yaml_shown(node));
}

static int add_listen(void *ctx, yaml_node_t *node)
{
	parser_t *p = ctx;
	const char *s = yaml_scalar(node);
	struct in6_addr a;
	if (s == NULL || (inet_pton(AF_INET, s, &a) != 1 && inet_pton(AF_INET6, s, &a) != 1)) {
		return yaml_fail(&p->y, node, "listen: '%s' is not an IP address", node ? yaml_shown(node) : "");
	}
	if (p->conf->listen_count == PROXY_LISTEN_MAX) {
		return yaml_fail(&p->y, node, "listen: at most %d addresses", PROXY_LISTEN_MAX);
	}
	char **slot = &p->conf->listen[p->conf->listen_count];
	*slot = NULL;
	int r = set_text(p, slot, s);
	p->conf->listen_count += r == 0;
	return r;
}

static int parse_listen(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	(void)key;
	return yaml_one_or_list(&p->y, &p->doc, node, "listen", "an address", add_listen, p);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(f) offsetof(proxy_conf_t, f)

/* One upstream: a URL, or a mapping {url, ca-file}. */
static int parse_one_upstream(parser_t *p, yaml_node_t *node)
{
	const char *url = yaml_scalar(node), *ca = NULL;
	yaml_node_t *at = node;
	if (node->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
		     pair < node->data.mapping.pairs.top; pair++) {
			const char *k = yaml_scalar(node_at(p, pair->key));
			yaml_node_t *v = node_at(p, pair->value);
			if (k != NULL && strcmp(k, "url") == 0) {
				url = yaml_scalar(v);
				at = v;
			} else if (k != NULL && strcmp(k, "ca-file") == 0 && yaml_scalar(v) != NULL) {
				ca = yaml_scalar(v);
			} else {
				return yaml_fail(&p->y, node_at(p, pair->key), "upstreams: unknown key or bad "
				                 "value '%s' (known: url, ca-file)", k ? k : "?");
			}
		}
	}
	int r = url != NULL ? proxy_conf_add_upstream(p->conf, url, ca) : CIRRUS_EINVAL;
	switch (r) {
	case 0:             return 0;
	case CIRRUS_ENOMEM: return yaml_nomem(&p->y);
	case CIRRUS_ELIMIT: return yaml_fail(&p->y, at, "upstreams: at most %d", PROXY_UPSTREAMS_MAX);
	default:            return yaml_fail(&p->y, at, "upstreams: '%s' is not an http:// or https:// "
	                                     "URL (or a mapping with url)", yaml_shown(at));
	}
}

static int parse_upstreams(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	(void)key;
	if (node->type != YAML_SEQUENCE_NODE ||
	    node->data.sequence.items.start == node->data.sequence.items.top) {
		return yaml_fail(&p->y, node, "upstreams must be a list of at least one URL");
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		int r = parse_one_upstream(p, node_at(p, *i));
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

static const yaml_key_t check_keys[] = {
	{ "name", parse_text, OFF(check_name), 1, 1004 },
	{ "type", parse_rrtype, OFF(check_type), 0, 0 },
	{ "interval", parse_uint, OFF(check_interval), 0, 3600 },
	{ "timeout-ms", parse_uint, OFF(check_timeout_ms), 10, 60000 },
	{ "fall", parse_uint, OFF(fall), 1, 100 },
	{ "rise", parse_uint, OFF(rise), 1, 100 },
};

static const yaml_key_t cache_keys[] = {
	{ "size", parse_uint, OFF(cache_size), 0, 100000000 },
	{ "min-ttl", parse_uint, OFF(cache_min_ttl), 0, 86400 },
	{ "max-ttl", parse_uint, OFF(cache_max_ttl), 0, 604800 },
};

static int parse_ecs_mode(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	static const char *names[] = { "off", "add", "override" };
	const char *s = yaml_scalar(node);
	for (size_t i = 0; s != NULL && i < COUNT(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			p->conf->ecs = (proxy_ecs_mode_t)i;
			return 0;
		}
	}
	return yaml_fail(&p->y, node, "%s must be off, add or override, not '%s'", key->name,
	                 yaml_shown(node));
}

static const yaml_key_t ecs_keys[] = {
	{ "mode", parse_ecs_mode, 0, 0, 0 },
	{ "ipv4-prefix", parse_uint, OFF(ecs_prefix4), 0, 32 },
	{ "ipv6-prefix", parse_uint, OFF(ecs_prefix6), 0, 128 },
};

static const yaml_key_t log_keys[] = {
	{ "level", parse_level, 0, 0, 0 },
};

static int parse_check(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	return yaml_map(&p->y, &p->doc, node, key->name, check_keys, COUNT(check_keys), p, p->conf);
}

static int parse_cache(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	return yaml_map(&p->y, &p->doc, node, key->name, cache_keys, COUNT(cache_keys), p, p->conf);
}

/* ecs: off | add | override, or the mapping {mode, ipv4-prefix, ipv6-prefix}. */
static int parse_ecs(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	if (node->type == YAML_SCALAR_NODE) {
		return parse_ecs_mode(p, node, key, base);
	}
	return yaml_map(&p->y, &p->doc, node, key->name, ecs_keys, COUNT(ecs_keys), p, p->conf);
}

static int parse_log(void *ctx, yaml_node_t *node, const yaml_key_t *key, void *base)
{
	parser_t *p = ctx;
	(void)base; /* the fields are p->conf's */
	return yaml_map(&p->y, &p->doc, node, key->name, log_keys, COUNT(log_keys), p, p->conf);
}

static const yaml_key_t top_keys[] = {
	{ "listen", parse_listen, 0, 0, 0 },
	{ "port", parse_uint, OFF(port), 1, 65535 },
	{ "upstreams", parse_upstreams, 0, 0, 0 },
	{ "ca-file", parse_text, OFF(ca_file), 1, 4096 },
	{ "policy", parse_policy, 0, 0, 0 },
	{ "deadline-ms", parse_uint, OFF(deadline_ms), 10, 60000 },
	{ "upstream-timeout-ms", parse_uint, OFF(upstream_timeout_ms), 10, 60000 },
	{ "tcp-idle-timeout", parse_uint, OFF(tcp_idle_timeout), 1, 3600 },
	{ "health-check", parse_check, 0, 0, 0 },
	{ "cache", parse_cache, 0, 0, 0 },
	{ "ecs", parse_ecs, 0, 0, 0 },
	{ "log", parse_log, 0, 0, 0 },
};

static int check_whole(parser_t *p, yaml_node_t *root)
{
	proxy_conf_t *c = p->conf;
	if (c->cache_min_ttl > c->cache_max_ttl) {
		return yaml_fail(&p->y, root, "cache: min-ttl (%u) is above max-ttl (%u)",
		                 c->cache_min_ttl, c->cache_max_ttl);
	}
	if (c->check_name != NULL) {
		knot_dname_t *name = knot_dname_from_str_alloc(c->check_name);
		free(name);
		if (name == NULL) {
			return yaml_fail(&p->y, root, "health-check: name '%s' is not a domain name",
			                 c->check_name);
		}
	}
	return 0;
}

static int load_doc(parser_t *p, FILE *f)
{
	yaml_parser_t yp;
	if (!yaml_parser_initialize(&yp)) {
		return yaml_nomem(&p->y);
	}
	yaml_parser_set_input_file(&yp, f);
	int r = 0;
	if (!yaml_parser_load(&yp, &p->doc)) {
		snprintf(p->y.err, p->y.err_size, "%s:%zu: %s", p->y.path, yp.problem_mark.line + 1,
		         yp.problem ? yp.problem : "YAML syntax error");
		r = CIRRUS_EPARSE;
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&p->doc);
		if (root != NULL) {
			r = yaml_map(&p->y, &p->doc, root, "proxy.yaml", top_keys, COUNT(top_keys), p,
			             p->conf);
			r = r != 0 ? r : check_whole(p, root);
		}
		yaml_document_delete(&p->doc);
	}
	yaml_parser_delete(&yp);
	return r;
}

int proxy_conf_load(proxy_conf_t *conf, const char *path, char *err, size_t err_size)
{
	parser_t p = { .y = { .path = path, .err = err, .err_size = err_size }, .conf = conf };
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
		return CIRRUS_EIO;
	}
	int r = load_doc(&p, f);
	fclose(f);
	return r;
}
