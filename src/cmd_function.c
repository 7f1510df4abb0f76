/* SPDX-License-Identifier: Apache-2.0
 * cmd_function.c -- `cirrus function http`: answer DNS over HTTP as a
 * serverless function (Cloud Run, Knative, Fly): load the zones (zone files
 * from the configuration, the store read-only), listen on $PORT, poll the
 * store for changes, and on SIGTERM finish the requests in flight and exit
 * within a second; and `cirrus function lambda`, the AWS Lambda custom
 * runtime (also run as `bootstrap`). The HTTP side, the Lambda loop and the
 * zone view live in src/fn/.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "conf/conf.h"
#include "engine/engine.h"
#include "fn/fn.h"
#include "util/error.h"
#include "util/log.h"

static const char usage_function[] =
	"usage: cirrus function http [-c FILE] [-d PATH] [-l ADDR] [-p PORT]\n"
	"                            [-t CIDR ...] [--poll-interval MS] [--threads N]\n"
	"                            [-i IMAGE]\n"
	"\n"
	"Answer DNS over HTTP as a serverless function: RFC 8484 DoH on /dns-query\n"
	"(GET ?dns= and POST), the JSON API on /resolve?name=&type=, and /healthz,\n"
	"/readyz. Give zone files (-c), a store (-d), or both.\n"
	"  -c, --config FILE         zone files, store.path, nsid, identity, version\n"
	"                            and log.level from a cirrus.yaml\n"
	"  -i, --image IMAGE         take the -c zones from a compiled image (cirrus\n"
	"                            zone compile) instead of parsing their files\n"
	"  -d, --db PATH             SQLite store to serve, opened read-only\n"
	"                            (overrides store.path; must exist)\n"
	"  -l, --listen ADDR         address to listen on (default 0.0.0.0)\n"
	"  -p, --port PORT           port (default $PORT, else 8080)\n"
	"  -t, --trusted-proxy CIDR  believe Forwarded / X-Forwarded-For from peers\n"
	"                            in CIDR (repeat for more)\n"
	"      --poll-interval MS    check the store for changes every MS\n"
	"                            milliseconds (default 1000, 0 = never)\n"
	"      --threads N           HTTP worker threads (default one per CPU)\n"
	"  -h, --help                show this help\n"
	"SIGTERM or SIGINT: stop accepting, finish requests in flight, exit 0.\n"
	"For the AWS Lambda custom runtime: cirrus function lambda -h.\n";

static const char usage_lambda[] =
	"usage: cirrus function lambda [-c FILE] [-i IMAGE] [-d PATH] [--poll-interval MS]\n"
	"\n"
	"Run as an AWS Lambda custom runtime (also what a binary named bootstrap\n"
	"does): take events from the Runtime API at $AWS_LAMBDA_RUNTIME_API and answer\n"
	"API Gateway HTTP API / Function URL requests (DoH on /dns-query, JSON on\n"
	"/resolve) and direct invocations {\"name\",\"type\"} or {\"query\"}.\n"
	"  -c, --config FILE         default $CIRRUS_CONFIG, else\n"
	"                            $LAMBDA_TASK_ROOT/cirrus.yaml\n"
	"  -i, --image IMAGE         compiled zone image, default $CIRRUS_IMAGE\n"
	"  -d, --db PATH             SQLite store, read-only, default $CIRRUS_DB\n"
	"      --poll-interval MS    re-read the store before an event at most every\n"
	"                            MS milliseconds (default 1000, 0 = never)\n"
	"  -h, --help                show this help\n"
	"A configuration or zone that does not load is reported to init/error (exit 1).\n";

#define FN_DEFAULT_PORT 8080
#define FN_TRUSTED_MAX 64
#define FN_THREADS_MAX 256
/* SIGTERM to exit: at most this long for requests in flight, and this
 * long for a store rebuild in progress; the rest of a second is cleanup. */
#define FN_DRAIN_MS 600
#define FN_POLL_STOP_MS 150

typedef struct fn_args {
	const char *conf_path;
	const char *image_path;
	const char *db;
	const char *listen;
	long port;
	long poll_ms;
	long threads;
	fn_cidr_t trusted[FN_TRUSTED_MAX];
	size_t trusted_count;
} fn_args_t;

static long parse_number(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > max) ? -1 : v;
}

static int add_trusted(fn_args_t *a, const char *text)
{
	if (a->trusted_count == FN_TRUSTED_MAX) {
		return cmd_bad_usage("function http", "too many --trusted-proxy blocks (64 at most)",
		                     usage_function);
	}
	if (fn_cidr_parse(text, &a->trusted[a->trusted_count]) != 0) {
		char problem[160];
		snprintf(problem, sizeof(problem), "'%.64s' is not an address or ADDRESS/PREFIX",
		         text);
		return cmd_bad_usage("function http", problem, usage_function);
	}
	a->trusted_count++;
	return -1;
}

/* $PORT, the serverless contract; -1 when absent, -2 when bad. */
static long env_port(void)
{
	const char *p = getenv("PORT");
	if (p == NULL || *p == '\0') {
		return -1;
	}
	long v = parse_number(p, 65535);
	return v < 0 ? -2 : v;
}

/* Fill args; return -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, fn_args_t *a)
{
	enum { OPT_POLL = 256, OPT_THREADS };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "image", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "trusted-proxy", required_argument, NULL, 't' },
		{ "poll-interval", required_argument, NULL, OPT_POLL },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc = -1;
	opterr = 0;
	while (rc < 0 && (opt = getopt_long(argc, argv, ":c:d:i:l:p:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->conf_path = optarg; break;
		case 'd': a->db = optarg; break;
		case 'i': a->image_path = optarg; break;
		case 'l': a->listen = optarg; break;
		case 'p':
			if ((a->port = parse_number(optarg, 65535)) < 0) {
				return cmd_bad_usage("function http", "PORT must be 0 to 65535",
				                     usage_function);
			}
			break;
		case 't': rc = add_trusted(a, optarg); break;
		case OPT_POLL:
			if ((a->poll_ms = parse_number(optarg, 3600000)) < 0) {
				return cmd_bad_usage("function http", "--poll-interval must be 0 to "
				                     "3600000 milliseconds", usage_function);
			}
			break;
		case OPT_THREADS:
			if ((a->threads = parse_number(optarg, FN_THREADS_MAX)) < 1) {
				return cmd_bad_usage("function http", "--threads must be 1 to 256",
				                     usage_function);
			}
			break;
		case 'h': fputs(usage_function, stdout); return 0;
		default:  return cmd_bad_option("function http", opt, argv, usage_function);
		}
	}
	if (rc >= 0) {
		return rc;
	}
	if (optind < argc) {
		return cmd_bad_usage("function http", "takes no positional arguments",
		                     usage_function);
	}
	if (a->conf_path == NULL && a->db == NULL) {
		return cmd_bad_usage("function http", "needs zones: -c FILE, -d PATH or both",
		                     usage_function);
	}
	return -1;
}

static unsigned cpu_count(void)
{
	cpu_set_t set;
	long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) :
	         sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > FN_THREADS_MAX ? FN_THREADS_MAX : (unsigned)n;
}

static void engine_settings(const conf_t *c, bool have_conf, engine_conf_t *e)
{
	engine_conf_init(e);
	if (!have_conf) {
		return;
	}
	if (c->nsid != NULL) {
		e->nsid = (const uint8_t *)c->nsid;
		e->nsid_len = (uint16_t)strlen(c->nsid);
	}
	e->identity = c->identity;
	e->version = c->version;
	e->ecs_trust = c->ecs_trust;
	e->ecs_trust_count = c->ecs_trust_count;
}

/* Wait for SIGTERM or SIGINT (blocked in every thread since start). */
static void wait_for_stop(const sigset_t *stop)
{
	int sig = 0;
	while (sigwait(stop, &sig) != 0) {
	}
	log_info("function: %s: draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Serve until told to stop; the exit code. */
static int run(const fn_args_t *a, const conf_t *conf, const sigset_t *stop)
{
	char err[1024];
	fn_zones_conf_t zc = {
		.conf_path = a->conf_path,
		.image_path = a->image_path,
		.files = a->conf_path ? conf->zones : NULL,
		.file_count = a->conf_path ? conf->zone_count : 0,
		.store_path = a->db ? a->db : a->conf_path ? conf->store_path : NULL,
		.store_required = a->db != NULL,
		.poll_ms = a->poll_ms < 0 ? 1000 : (unsigned)a->poll_ms,
	};
	fn_zones_t *zones = NULL;
	if (fn_zones_new(&zc, &zones, err, sizeof(err)) != 0) {
		log_error("function: not starting: %s", err);
		return 1;
	}
	engine_conf_t engine;
	engine_settings(conf, a->conf_path != NULL, &engine);
	/* The configuration's static health states, as serve starts with; they
	 * do not change in function mode. */
	policy_health_t *health = NULL;
	if (a->conf_path != NULL && conf->health_down.n > 0 &&
	    policy_health_new((const char *const *)conf->health_down.v, conf->health_down.n,
	                      &health) != 0) {
		log_error("function: not starting: out of memory");
		fn_zones_free(zones);
		return 1;
	}
	const policy_health_t *health_slot = health;
	engine.health = &health_slot;
	long port = a->port >= 0 ? a->port : env_port() >= 0 ? env_port() : FN_DEFAULT_PORT;
	fn_http_conf_t hc = {
		.listen = a->listen ? a->listen : "0.0.0.0",
		.port = (uint16_t)port,
		.threads = a->threads > 0 ? (unsigned)a->threads : cpu_count(),
		.trusted = a->trusted,
		.trusted_count = a->trusted_count,
		.engine = &engine,
		.zones = zones,
	};
	fn_http_t *http = NULL;
	int rc = fn_http_start(&hc, &http, err, sizeof(err));
	if (rc == 0 && (rc = fn_zones_start(zones)) != 0) {
		snprintf(err, sizeof(err), "cannot start the store poll thread");
	}
	if (rc == 0 && (rc = fn_zones_verify_image(zones)) != 0) {
		snprintf(err, sizeof(err), "cannot start the image check");
	}
	if (rc == 0) {
		log_info("function: ready, %zu zone%s", fn_zones_count(zones),
		         fn_zones_count(zones) == 1 ? "" : "s");
		wait_for_stop(stop);
	} else {
		log_error("function: %s", err);
	}
	unsigned left = fn_http_stop(http, FN_DRAIN_MS);
	if (left > 0) {
		log_warning("function: %u request%s still in flight closed", left,
		            left == 1 ? "" : "s");
	}
	if (fn_zones_stop(zones, FN_POLL_STOP_MS) != 0) {
		/* A disposable instance need not wait for a rebuild nobody will see. */
		log_warning("function: a store rebuild is in progress; exiting without it");
		_exit(rc == 0 ? 0 : 1);
	}
	fn_zones_free(zones);
	policy_health_free(health);
	return rc == 0 ? 0 : 1;
}

static int function_http(int argc, char **argv)
{
	fn_args_t *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return 1;
	}
	a->port = a->poll_ms = a->threads = -1;
	int rc = parse_args(argc, argv, a);
	if (rc < 0 && a->port < 0 && env_port() == -2) {
		rc = cmd_bad_usage("function http", "$PORT must be a number from 0 to 65535",
		                   usage_function);
	}
	conf_t conf = { 0 };
	char err[1024];
	bool loaded = false;
	if (rc < 0 && a->conf_path != NULL) {
		loaded = conf_load(&conf, a->conf_path, err, sizeof(err)) == 0;
		if (!loaded) {
			fprintf(stderr, "%s\n", err);
			rc = 1;
		}
	}
	if (rc < 0) {
		if (loaded) {
			log_set_level(conf.log_level);
		}
		/* Block the stop signals in every thread; the main thread waits. */
		sigset_t stop;
		sigemptyset(&stop);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGINT);
		pthread_sigmask(SIG_BLOCK, &stop, NULL);
		signal(SIGPIPE, SIG_IGN);
		rc = run(a, &conf, &stop);
	}
	if (loaded) {
		conf_deinit(&conf);
	}
	free(a);
	return rc;
}

/* `function lambda`: flags, else the environment Lambda sets. */
typedef struct lambda_args {
	const char *conf_path;
	const char *image_path;
	const char *db;
	long poll_ms;
} lambda_args_t;

/* Fill a from argv; -1 to go on, or the exit code. */
static int lambda_parse_args(int argc, char **argv, lambda_args_t *a)
{
	enum { OPT_POLL = 256 };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "image", required_argument, NULL, 'i' },
		{ "poll-interval", required_argument, NULL, OPT_POLL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:d:i:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->conf_path = optarg; break;
		case 'd': a->db = optarg; break;
		case 'i': a->image_path = optarg; break;
		case OPT_POLL:
			if ((a->poll_ms = parse_number(optarg, 3600000)) < 0) {
				return cmd_bad_usage("function lambda", "--poll-interval must be 0 to "
				                     "3600000 milliseconds", usage_lambda);
			}
			break;
		case 'h': fputs(usage_lambda, stdout); return 0;
		default:  return cmd_bad_option("function lambda", opt, argv, usage_lambda);
		}
	}
	if (optind < argc) {
		return cmd_bad_usage("function lambda", "takes no positional arguments",
		                     usage_lambda);
	}
	return -1;
}

/* An unset or empty variable is NULL. */
static const char *env_value(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* The environment fills what the flags left out. A default cirrus.yaml
 * that is not there is no error: a store may be all there is. */
static void lambda_env(lambda_args_t *a, char *def, size_t def_len)
{
	a->image_path = a->image_path ? a->image_path : env_value("CIRRUS_IMAGE");
	a->db = a->db ? a->db : env_value("CIRRUS_DB");
	if (a->conf_path == NULL && (a->conf_path = env_value("CIRRUS_CONFIG")) == NULL) {
		const char *root = env_value("LAMBDA_TASK_ROOT");
		snprintf(def, def_len, "%s/cirrus.yaml", root != NULL ? root : "/var/task");
		a->conf_path = access(def, F_OK) != 0 ? NULL : def;
	}
}

/* Load the zones and answer events; an init failure goes to init/error. */
static int lambda_serve(fn_lambda_t *rt, const lambda_args_t *a)
{
	conf_t conf = { 0 };
	char err[1024];
	if (a->conf_path != NULL && conf_load(&conf, a->conf_path, err, sizeof(err)) != 0) {
		fn_lambda_init_error(rt, "Cirrus.ConfigInvalid", err);
		return 1;
	}
	if (a->conf_path != NULL) {
		log_set_level(conf.log_level);
	}
	fn_zones_conf_t zc = {
		.conf_path = a->conf_path,
		.image_path = a->image_path,
		.files = a->conf_path ? conf.zones : NULL,
		.file_count = a->conf_path ? conf.zone_count : 0,
		.store_path = a->db ? a->db : a->conf_path ? conf.store_path : NULL,
		.store_required = a->db != NULL,
		.poll_ms = a->poll_ms < 0 ? 1000 : (unsigned)a->poll_ms,
	};
	fn_zones_t *zones = NULL;
	policy_health_t *health = NULL;
	int rc = 1;
	if (fn_zones_new(&zc, &zones, err, sizeof(err)) != 0) {
		fn_lambda_init_error(rt, "Cirrus.ZonesInvalid", err);
	} else if (a->conf_path != NULL && conf.health_down.n > 0 &&
	           policy_health_new((const char *const *)conf.health_down.v,
	                             conf.health_down.n, &health) != 0) {
		fn_lambda_init_error(rt, "Cirrus.OutOfMemory", "out of memory");
	} else if (fn_zones_verify_image(zones) != 0) {
		fn_lambda_init_error(rt, "Cirrus.OutOfMemory", "cannot start the image check");
	} else {
		engine_conf_t engine;
		engine_settings(&conf, a->conf_path != NULL, &engine);
		const policy_health_t *health_slot = health;
		engine.health = &health_slot;
		fn_lambda_conf_t lc = { .engine = &engine, .zones = zones, .poll_ms = zc.poll_ms };
		log_info("lambda: ready, %zu zone%s", fn_zones_count(zones),
		         fn_zones_count(zones) == 1 ? "" : "s");
		rc = fn_lambda_run(rt, &lc) == 0 ? 0 : 1;
	}
	fn_zones_free(zones);
	policy_health_free(health);
	if (a->conf_path != NULL) {
		conf_deinit(&conf);
	}
	return rc;
}

int cmd_function_lambda(int argc, char **argv)
{
	lambda_args_t a = { .poll_ms = -1 };
	char def[1024], err[256];
	int rc = lambda_parse_args(argc, argv, &a);
	if (rc >= 0) {
		return rc;
	}
	lambda_env(&a, def, sizeof(def));
	fn_lambda_t *rt = NULL;
	if (fn_lambda_new(getenv("AWS_LAMBDA_RUNTIME_API"), &rt, err, sizeof(err)) != 0) {
		return cmd_bad_usage("function lambda", err, usage_lambda);
	}
	signal(SIGPIPE, SIG_IGN);
	if (a.conf_path == NULL && a.db == NULL) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "no zones: %s does not exist; set CIRRUS_CONFIG (a "
		         "cirrus.yaml) or CIRRUS_DB (a store)", def);
		fn_lambda_init_error(rt, "Cirrus.ConfigInvalid", msg);
		rc = 1;
	} else {
		rc = lambda_serve(rt, &a);
	}
	fn_lambda_free(rt);
	return rc;
}

int cmd_function(int argc, char **argv)
{
	if (argc < 2) {
		return cmd_bad_usage("function", "needs a mode: http or lambda", usage_function);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_function, stdout);
		return 0;
	}
	if (strcmp(argv[1], "http") == 0) {
		return function_http(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "lambda") == 0) {
		return cmd_function_lambda(argc - 1, argv + 1);
	}
	char problem[128];
	snprintf(problem, sizeof(problem), "unknown mode '%.32s' (known: http, lambda)", argv[1]);
	return cmd_bad_usage("function", problem, usage_function);
}
