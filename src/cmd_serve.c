/* SPDX-License-Identifier: Apache-2.0
 * cmd_serve.c -- `cirrus serve`: read the configuration, load every zone
 * file (refusing to start when one is broken), open the store and its
 * zones through the control plane, start the REST API, and run the
 * listeners. On SIGHUP it re-reads the configuration for the zones' routing
 * policies and the static health states, and reloads the zone files; a
 * zone that fails to load (file or policy) keeps its previous version.
 * Sockets, threads and signals belong to net/; which zones are served is
 * the control plane's (ctl/) to say.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu.h>

#include "cmd.h"
#include "alias/alias.h"
#include "api/api.h"
#include "conf/conf.h"
#include "conf/conf_zones.h"
#include "ctl/ctl.h"
#include "engine/engine.h"
#include "health/health.h"
#include "net/net.h"
#include "policy/policy.h"
#include "registry/registry.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/log.h"
#include "zone/zone.h"

static const char usage_serve[] =
	"usage: cirrus serve -c FILE [-p PORT] [-w WORKERS] [--image IMAGE]\n"
	"\n"
	"Serve the zones listed in the configuration FILE over UDP and TCP.\n"
	"  -c, --config FILE    configuration (YAML, see docs/configuration.md)\n"
	"  -p, --port PORT      port to listen on (overrides server.port)\n"
	"  -w, --workers N      UDP worker threads, 0 = one per CPU\n"
	"                       (overrides server.workers)\n"
	"  -i, --image IMAGE    start from a compiled image (cirrus zone compile)\n"
	"                       instead of parsing the zone files; a zone whose\n"
	"                       file changed since is loaded from the file\n"
	"  -h, --help           show this help\n"
	"SIGHUP reloads the zone files; SIGTERM or SIGINT stops the server.\n";

#define CIRRUS_XSTR(x) #x
#define CIRRUS_STR(x) CIRRUS_XSTR(x)

typedef struct serve {
	conf_t conf;
	engine_conf_t engine;
	zone_t **zones;        /* per zone file: its newest version (a reference) */
	net_server_t *srv;
	store_t *store;
	ctl_t *ctl;
	api_t *api;
	registry_t *registry;          /* service discovery (docs/services.md) */
	const policy_health_t *health; /* read by the engine through engine.health */
	const registry_view_t *services; /* read by the engine through engine.services */
	health_t *checker;             /* health checks; publishes into health */
	alias_t *resolver;             /* ALIAS targets outside; publishes into aliases */
	const policy_alias_view_t *aliases; /* read by the engine through engine.aliases */
	const char *image_path;        /* --image, or NULL */
} serve_t;

/* Command-line values; -1 when not given. */
typedef struct serve_args {
	const char *conf_path;
	long port;
	long workers;
	const char *image_path;
} serve_args_t;

static long parse_number(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > max) ? -1 : v;
}

/* Fill args; return -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, serve_args_t *args)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "workers", required_argument, NULL, 'w' },
		{ "image", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*args = (serve_args_t) { .port = -1, .workers = -1 };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:p:w:i:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': args->conf_path = optarg; break;
		case 'p': args->port = parse_number(optarg, 65535); break;
		case 'w': args->workers = parse_number(optarg, CONF_WORKERS_MAX); break;
		case 'i': args->image_path = optarg; break;
		case 'h': fputs(usage_serve, stdout); return 0;
		default:  return cmd_bad_option("serve", opt, argv, usage_serve);
		}
		if (opt == 'p' && args->port < 1) {
			return cmd_bad_usage("serve", "PORT must be 1 to 65535", usage_serve);
		}
		if (opt == 'w' && args->workers < 0) {
			return cmd_bad_usage("serve", "WORKERS must be 0 to "
			                     CIRRUS_STR(CONF_WORKERS_MAX), usage_serve);
		}
	}
	if (optind < argc) {
		return cmd_bad_usage("serve", "takes no positional arguments", usage_serve);
	}
	if (args->conf_path == NULL) {
		return cmd_bad_usage("serve", "needs a configuration file (-c FILE)", usage_serve);
	}
	return -1;
}

static unsigned cpu_count(void)
{
	cpu_set_t set;
	long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) :
	         sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > CONF_WORKERS_MAX ? CONF_WORKERS_MAX : n;
}

/* Load every zone (from the image or its file) into s->zones, each holding
 * a reference. */
static int serve_load(serve_t *s)
{
	size_t n = s->conf.zone_count, failed = 0;
	s->zones = calloc(n ? n : 1, sizeof(zone_t *));
	if (s->zones == NULL) {
		return CIRRUS_ENOMEM;
	}
	conf_image_t image;
	conf_image_open(s->image_path, false, &image);
	for (size_t i = 0; i < n; i++) {
		const conf_zone_t *z = &s->conf.zones[i];
		int r = conf_zone_load(s->conf.path, z, &image, &s->zones[i]);
		if (r != 0) {
			log_error("zone %s: cannot load %s (%s)", z->origin, z->file,
			          cirrus_strerror(r));
			failed++;
		}
	}
	conf_image_close(&image);
	for (size_t i = 0; i < n; i++) {
		if (s->zones[i] != NULL) {
			zone_ref(s->zones[i]);
		}
	}
	return failed ? CIRRUS_EINVAL : 0;
}

/* What a publisher swapped out, once no worker can be reading it any more
 * (an RCU grace period), for the publisher to free. */
static void *after_grace(const void *old)
{
	if (old != NULL) {
		synchronize_rcu();
	}
	return (void *)old;
}

/* The views the engine reads, swapped by their one publisher each: the
 * checker and the registry under their locks, the resolver thread alone. */
static void serve_publish_health(void *ctx, policy_health_t *fresh)
{
	serve_t *s = ctx;
	policy_health_free(after_grace(__atomic_exchange_n(&s->health, fresh, __ATOMIC_ACQ_REL)));
}

static void serve_publish_services(void *ctx, registry_view_t *fresh)
{
	serve_t *s = ctx;
	registry_view_free(after_grace(__atomic_exchange_n(&s->services, fresh, __ATOMIC_ACQ_REL)));
}

static void serve_publish_aliases(void *ctx, policy_alias_view_t *fresh)
{
	serve_t *s = ctx;
	policy_alias_view_free(after_grace(__atomic_exchange_n(&s->aliases, fresh,
	                                                       __ATOMIC_ACQ_REL)));
}

/* The alias targets of zones that no zone serves (served: the set that
 * answers, or NULL for each alias's own zone only); NULL when out of memory
 * (logged). */
static knot_dname_t **alias_targets(zone_t *const *zones, size_t count,
                                    const zone_set_t *served, size_t *n)
{
	knot_dname_t **targets = NULL;
	if (policy_alias_targets(zones, count, served, &targets, n) != 0) {
		log_error("cirrus: out of memory; ALIAS targets not updated");
	}
	return targets;
}

static void free_targets(knot_dname_t **targets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(targets[i]);
	}
	free(targets);
}

/* Tell the resolver the alias targets that no zone of set serves: on every
 * publish, so SIGHUP, the API and UPDATE all reach it (it skips repeats). */
static void serve_alias_targets(serve_t *s, const zone_set_t *set)
{
	size_t n = 0;
	knot_dname_t **targets = s->resolver != NULL ?
		alias_targets(set->zones, set->count, set, &n) : NULL;
	if (targets != NULL && alias_set_targets(s->resolver, targets, n) != 0) {
		log_error("cirrus: out of memory; ALIAS targets not updated");
	}
	free_targets(targets, n);
}

static void serve_unref_zones(serve_t *s)
{
	for (size_t i = 0; s->zones != NULL && i < s->conf.zone_count; i++) {
		zone_unref(s->zones[i]);
	}
}

/* Hand the file zones to the control plane, which publishes. */
static int serve_file_zones(serve_t *s)
{
	char warning[512];
	int r = ctl_set_file_zones(s->ctl, s->zones, s->conf.zone_count, warning,
	                           sizeof(warning));
	if (warning[0] != '\0') {
		log_warning("%s", warning);
	}
	return r;
}

/* Serve the zones in next (fresh ones are not in s->zones yet). */
static void serve_swap(serve_t *s, zone_t **next, size_t fresh)
{
	size_t n = s->conf.zone_count;
	for (size_t i = 0; i < n; i++) {
		if (next[i] != s->zones[i]) {
			zone_ref(next[i]);
			zone_unref(s->zones[i]); /* the served set still holds it */
			s->zones[i] = next[i];
		}
	}
	int r = serve_file_zones(s);
	if (r != 0) {
		log_error("reload failed: %s; still serving the previous zones",
		          cirrus_strerror(r));
		return;
	}
	log_info("cirrus: reloaded %zu of %zu zones", fresh, n);
}

/* The entry of conf for the zone with this origin, or NULL. */
static const conf_zone_t *find_conf_zone(const conf_t *conf, const char *origin)
{
	knot_dname_storage_t want, have;
	if (knot_dname_from_str(want, origin, sizeof(want)) == NULL) {
		return NULL;
	}
	knot_dname_to_lower(want);
	for (size_t i = 0; i < conf->zone_count; i++) {
		if (knot_dname_from_str(have, conf->zones[i].origin, sizeof(have)) != NULL) {
			knot_dname_to_lower(have);
			if (knot_dname_is_equal(want, have)) {
				return &conf->zones[i];
			}
		}
	}
	return NULL;
}

/* Re-read every zone file with the policies fresh declares; a zone that
 * fails keeps its previous version. */
static void reload_zones(serve_t *s, const conf_t *fresh)
{
	size_t n = s->conf.zone_count, fresh_count = 0;
	zone_t **next = calloc(n ? n : 1, sizeof(*next));
	if (next == NULL) {
		log_error("reload failed: out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const conf_zone_t *z = &s->conf.zones[i];
		const conf_zone_t *declared = find_conf_zone(fresh, z->origin);
		conf_zone_t with = *z;
		with.policies = declared ? declared->policies : NULL;
		with.policy_count = declared ? declared->policy_count : 0;
		int r = conf_zone_load(fresh->path, &with, NULL, &next[i]);
		if (r == 0) {
			fresh_count++;
			continue;
		}
		log_error("zone %s: cannot reload %s (%s); keeping the previous version",
		          z->origin, z->file, cirrus_strerror(r));
		next[i] = s->zones[i];
	}
	if (fresh_count > 0) {
		serve_swap(s, next, fresh_count);
	}
	free(next);
}

/* SIGHUP: re-read the configuration (policies, health) and every zone
 * file; called by net/ on a thread of its own. A configuration that no
 * longer reads changes nothing. Zones added to or removed from the list,
 * and other keys, take a restart. */
static void serve_reload(void *ctx)
{
	serve_t *s = ctx;
	conf_t fresh;
	char err[1024];
	if (conf_load(&fresh, s->conf.path, err, sizeof(err)) != 0) {
		log_error("reload failed: %s; still serving the previous zones", err);
		return;
	}
	if (health_set_static_down(s->checker, (const char *const *)fresh.health_down.v,
	                           fresh.health_down.n) != 0) {
		log_error("reload failed: out of memory");
		conf_deinit(&fresh);
		return;
	}
	reload_zones(s, &fresh);
	conf_deinit(&fresh);
}

static void serve_engine_conf(serve_t *s)
{
	const conf_t *c = &s->conf;
	engine_conf_init(&s->engine);
	s->engine.udp_payload = c->udp_payload;
	if (c->nsid != NULL) {
		s->engine.nsid = (const uint8_t *)c->nsid;
		s->engine.nsid_len = strlen(c->nsid);
	}
	s->engine.identity = c->identity;
	s->engine.version = c->version;
	s->engine.tcp_keepalive = c->tcp_idle_timeout * 10;
	s->engine.ecs_trust = c->ecs_trust;
	s->engine.ecs_trust_count = c->ecs_trust_count;
	s->engine.health = &s->health;
	s->engine.services = &s->services;
	/* Without a resolver the engine knows outside targets cannot resolve. */
	s->engine.aliases = c->resolver.address != NULL ? &s->aliases : NULL;
}

static void serve_publish(void *ctx, zone_set_t *set)
{
	serve_t *s = ctx;
	serve_alias_targets(s, set);
	net_server_publish(s->srv, set);
}

/* The store, the control plane over it (which publishes the first zone
 * set) and the REST API. */
static int serve_control(serve_t *s)
{
	const conf_t *c = &s->conf;
	char err[1024];
	if (store_open(c->store_path, &s->store, err, sizeof(err)) != 0) {
		log_error("cirrus: %s", err);
		return CIRRUS_EIO;
	}
	/* Checkpoints go to the store's own thread, not into an API request. */
	if (store_checkpoint_start(s->store, 0) != 0) {
		log_error("cirrus: %s: %s", c->store_path, store_last_error(s->store));
		return CIRRUS_EIO;
	}
	ctl_serial_policy_t policy = c->serial_policy == CONF_SERIAL_DATE ?
	                             CTL_SERIAL_DATE : CTL_SERIAL_INCREMENT;
	int r = ctl_new(s->store, policy, serve_publish, s, &s->ctl, err, sizeof(err));
	if (r != 0) {
		log_error("cirrus: %s", err);
		return r;
	}
	if ((r = serve_file_zones(s)) != 0) {
		return r;
	}
	if ((r = health_start(s->checker, health_audit_ctl, s->ctl)) != 0) {
		log_error("cirrus: cannot start the health checks: %s", cirrus_strerror(r));
		return r;
	}
	/* After the zones: it reconciles service records into them. */
	registry_conf_t rc = {
		.answer_max = c->services_answer_max, .health = s->checker,
		.publish = serve_publish_services, .publish_ctx = s,
	};
	if ((r = registry_new(s->ctl, &rc, &s->registry)) != 0) {
		log_error("cirrus: cannot start the service registry: %s", cirrus_strerror(r));
		return r;
	}
	if (c->api_enabled) {
		api_conf_t ac = {
			.listen = c->api_listen, .port = (uint16_t)c->api_port,
			.max_body = c->api_max_body, .tls_cert = c->api_tls_cert,
			.tls_key = c->api_tls_key, .registry = s->registry,
		};
		if ((r = api_start(&ac, s->ctl, &s->api, err, sizeof(err))) != 0) {
			log_error("cirrus: API: %s", err);
			return r;
		}
	}
	return 0;
}

/* RFC 2136 UPDATE from the listeners goes to the control plane. */
static int serve_update(void *ctx, const uint8_t *msg, size_t len,
                        const struct sockaddr *remote, uint8_t *answer, size_t max,
                        size_t *answer_len)
{
	serve_t *s = ctx;
	return ctl_update_handle(s->ctl, msg, len, remote, answer, max, answer_len);
}

/* Open the listeners. */
static int serve_listen(serve_t *s)
{
	const conf_t *c = &s->conf;
	struct sockaddr_storage *addrs = calloc(c->listen_count, sizeof(*addrs));
	if (addrs == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < c->listen_count; i++) {
		addrs[i] = c->listen[i].addr;
		in_port_t port = htons(c->port);
		if (addrs[i].ss_family == AF_INET) {
			((struct sockaddr_in *)&addrs[i])->sin_port = port;
		} else {
			((struct sockaddr_in6 *)&addrs[i])->sin6_port = port;
		}
	}
	net_conf_t nc = {
		.listen = addrs,
		.listen_count = c->listen_count,
		.workers = c->workers,
		.udp_coalesce_us = c->udp_coalesce_us,
		.tcp_idle_timeout = c->tcp_idle_timeout,
		.tcp_io_timeout = c->tcp_io_timeout,
		.tcp_max_clients = c->tcp_max_clients,
		.engine = &s->engine,
		.reload = serve_reload,
		.reload_ctx = s,
		.update = serve_update,
		.update_ctx = s,
	};
	int r = net_server_new(&nc, &s->srv);
	free(addrs);
	return r;
}

/* The checker, which publishes the first health snapshot (static states)
 * at once; its checks start with the control plane (they audit). */
static int serve_checker(serve_t *s)
{
	const conf_t *c = &s->conf;
	policy_strv_t keys = { 0 };
	int r = 0;
	for (size_t i = 0; r == 0 && i < c->zone_count; i++) {
		r = health_policy_keys(c->zones[i].policies, c->zones[i].policy_count, &keys);
	}
	health_conf_t hc = {
		.specs = c->checks, .spec_count = c->check_count,
		.static_down = (const char *const *)c->health_down.v,
		.static_count = c->health_down.n,
		.known = (const char *const *)keys.v, .known_count = keys.n,
		.publish = serve_publish_health, .publish_ctx = s,
	};
	if (r == 0) {
		r = health_new(&hc, &s->checker);
	}
	free(keys.v);   /* the names are the configuration's */
	return r;
}

/* The ALIAS resolver, when the configuration names one; it gets its targets
 * with the first zone set published. */
static int serve_resolver(serve_t *s)
{
	const conf_resolver_t *c = &s->conf.resolver;
	alias_conf_t ac = {
		.timeout_ms = c->timeout_ms, .retries = c->retries, .min_ttl = c->min_ttl,
		.max_ttl = c->max_ttl, .serve_stale = c->serve_stale,
		.publish = serve_publish_aliases, .publish_ctx = s,
	};
	if (c->address == NULL) {
		size_t n = 0;
		knot_dname_t **targets = alias_targets(s->zones, s->conf.zone_count, NULL, &n);
		free_targets(targets, n);
		if (n > 0) {
			log_warning("cirrus: %zu ALIAS target%s outside the zone files, and no "
			            "resolver is configured: unless the store serves them, such "
			            "aliases answer SERVFAIL", n, n == 1 ? " is" : "s are");
		}
		return 0;
	}
	int r = addr_parse(c->address, (uint16_t)c->port, &ac.upstream) ? /* conf checked it */
	        alias_new(&ac, &s->resolver) : CIRRUS_EINVAL;
	if (r != 0) {
		log_error("cirrus: cannot start the ALIAS resolver: %s", cirrus_strerror(r));
	}
	return r;
}

static void serve_shutdown(serve_t *s)
{
	api_stop(s->api);          /* no more changes */
	registry_free(s->registry);   /* no more lease sweeps */
	health_free(s->checker);   /* no more health snapshots or audit rows */
	alias_free(s->resolver);   /* no more alias views */
	net_server_free(s->srv);   /* frees the served set */
	ctl_free(s->ctl);
	serve_unref_zones(s);
	store_close(s->store);
	policy_health_free((policy_health_t *)s->health);
	s->health = NULL;
	registry_view_free((registry_view_t *)s->services);
	s->services = NULL;
	policy_alias_view_free((policy_alias_view_t *)s->aliases);
	s->aliases = NULL;
}

static int serve_run(serve_t *s)
{
	int r = serve_load(s);
	if (r != 0) {
		log_error("cirrus: not starting: a zone failed to load");
	}
	if (r == 0 && (r = serve_checker(s)) != 0) {
		log_error("cirrus: out of memory");
	}
	serve_engine_conf(s);
	if (r == 0) {
		r = serve_resolver(s);
	}
	if (r == 0) {
		r = serve_listen(s);
	}
	if (r == 0) {
		r = serve_control(s);
	}
	if (r == 0) {
		r = net_server_run(s->srv);
	}
	serve_shutdown(s);
	return r == 0 ? 0 : 1;
}

int cmd_serve(int argc, char **argv)
{
	serve_args_t args;
	int rc = parse_args(argc, argv, &args);
	if (rc >= 0) {
		return rc;
	}
	serve_t s = { 0 };
	char err[1024];
	if (conf_load(&s.conf, args.conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (args.port > 0) {
		s.conf.port = args.port;
	}
	if (args.workers >= 0) {
		s.conf.workers = args.workers;
	}
	if (s.conf.workers == 0) {
		s.conf.workers = cpu_count();
	}
	s.image_path = args.image_path;
	log_set_level(s.conf.log_level);
	/* A client that resets a TCP connection must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	rc = serve_run(&s);
	free(s.zones);
	conf_deinit(&s.conf);
	return rc;
}
