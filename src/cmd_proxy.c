/* SPDX-License-Identifier: Apache-2.0
 * cmd_proxy.c -- `cirrus proxy`: a UDP/TCP DNS frontend for DoH upstreams
 * (serverless functions, public resolvers). Reads proxy.yaml, lets flags
 * override it, and runs src/proxy/ until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "cmd.h"
#include "proxy/proxy.h"
#include "util/error.h"
#include "util/log.h"

static const char usage_proxy[] =
	"usage: cirrus proxy [-c FILE] [-l ADDR] [-p PORT] [-u URL ...] [--policy P]\n"
	"                    [--deadline MS] [--cache N] [--ecs MODE] [--ca-file FILE]\n"
	"\n"
	"Answer DNS over UDP and TCP by relaying each query to DoH upstreams\n"
	"(RFC 8484 POST), with health checks, failover, a deadline, a cache and\n"
	"EDNS Client Subnet. Flags override the file (docs/proxy.md).\n"
	"  -c, --config FILE     proxy.yaml\n"
	"  -l, --listen ADDR     address to listen on (default 127.0.0.1; repeat)\n"
	"  -p, --port PORT       port for UDP and TCP (default 53)\n"
	"  -u, --upstream URL    DoH URL, http:// or https:// (repeat; replaces the\n"
	"                        file's upstreams)\n"
	"      --policy P        failover (default) or latency\n"
	"      --deadline MS     a client never waits longer (default 2000)\n"
	"      --cache N         cache up to N answers (default 0: no cache)\n"
	"      --ecs MODE        off (default), add or override\n"
	"      --ca-file FILE    CA bundle for https upstreams\n"
	"  -h, --help            show this help\n"
	"SIGTERM or SIGINT: stop at once, exit 0.\n";

static long parse_number(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min || v > max) ?
	       -1 : v;
}

static int bad(const char *problem)
{
	return cmd_bad_usage("proxy", problem, usage_proxy);
}

/* Options that take a value and set a field; -1 to go on, or the exit code. */
static int set_value(proxy_conf_t *c, int opt, const char *v, bool *upstreams_given)
{
	long n;
	switch (opt) {
	case 'p':
		if ((n = parse_number(v, 1, 65535)) < 0) {
			return bad("PORT must be 1 to 65535");
		}
		c->port = (unsigned)n;
		return -1;
	case 'u':
		if (!*upstreams_given) {
			proxy_conf_clear_upstreams(c);
			*upstreams_given = true;
		}
		return proxy_conf_add_upstream(c, v, NULL) == 0 ? -1 :
		       bad("an upstream must be an http:// or https:// URL (16 at most)");
	case 'P':
		if (strcmp(v, "failover") != 0 && strcmp(v, "latency") != 0) {
			return bad("--policy must be failover or latency");
		}
		c->policy = v[0] == 'f' ? PROXY_POLICY_FAILOVER : PROXY_POLICY_LATENCY;
		return -1;
	case 'D':
		if ((n = parse_number(v, 10, 60000)) < 0) {
			return bad("--deadline must be 10 to 60000 milliseconds");
		}
		c->deadline_ms = (unsigned)n;
		return -1;
	case 'C':
		if ((n = parse_number(v, 0, 100000000)) < 0) {
			return bad("--cache must be 0 to 100000000 entries");
		}
		c->cache_size = (unsigned)n;
		return -1;
	case 'E':
		if (strcmp(v, "off") != 0 && strcmp(v, "add") != 0 && strcmp(v, "override") != 0) {
			return bad("--ecs must be off, add or override");
		}
		c->ecs = v[0] == 'a' ? PROXY_ECS_ADD : v[0] == 'o' && v[1] == 'v' ?
		         PROXY_ECS_OVERRIDE : PROXY_ECS_OFF;
		return -1;
	case 'A':
		free(c->ca_file);
		c->ca_file = strdup(v);
		return c->ca_file != NULL ? -1 : 1;
	}
	return -1;
}

static int add_listen(proxy_conf_t *c, const char *addr, bool *listen_given)
{
	if (!*listen_given) {
		for (size_t i = 0; i < c->listen_count; i++) {
			free(c->listen[i]);
		}
		c->listen_count = 0;
		*listen_given = true;
	}
	if (c->listen_count == PROXY_LISTEN_MAX) {
		return bad("too many --listen addresses (16 at most)");
	}
	if ((c->listen[c->listen_count] = strdup(addr)) == NULL) {
		return 1;
	}
	c->listen_count++;
	return -1;
}

/* The file first (-c anywhere on the line), then the flags over it. */
static int load_file(int argc, char **argv, proxy_conf_t *c)
{
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			char err[1024];
			if (proxy_conf_load(c, argv[i + 1], err, sizeof(err)) != 0) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
		}
	}
	return -1;
}

static int parse_args(int argc, char **argv, proxy_conf_t *c)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "policy", required_argument, NULL, 'P' },
		{ "deadline", required_argument, NULL, 'D' },
		{ "cache", required_argument, NULL, 'C' },
		{ "ecs", required_argument, NULL, 'E' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool upstreams_given = false, listen_given = false;
	int opt, rc = -1;
	opterr = 0;
	while (rc < 0 && (opt = getopt_long(argc, argv, ":c:l:p:u:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': break;   /* read by load_file() */
		case 'l': rc = add_listen(c, optarg, &listen_given); break;
		case 'h': fputs(usage_proxy, stdout); return 0;
		case '?': case ':': return cmd_bad_option("proxy", opt, argv, usage_proxy);
		default:  rc = set_value(c, opt, optarg, &upstreams_given); break;
		}
	}
	if (rc >= 0) {
		return rc;
	}
	if (optind < argc) {
		return bad("takes no positional arguments");
	}
	if (c->upstream_count == 0) {
		return bad("needs at least one upstream: -u URL or upstreams in -c FILE");
	}
	return -1;
}

int cmd_proxy(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_proxy, stdout);
			return 0;
		}
	}
	proxy_conf_t conf;
	proxy_conf_init(&conf);
	int rc = load_file(argc, argv, &conf);
	if (rc < 0) {
		rc = parse_args(argc, argv, &conf);
	}
	if (rc < 0) {
		log_set_level(conf.log_level);
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_error("proxy: libcurl did not initialise");
			rc = 1;
		} else {
			rc = proxy_run(&conf) == 0 ? 0 : 1;
			curl_global_cleanup();
		}
	}
	proxy_conf_deinit(&conf);
	return rc;
}
