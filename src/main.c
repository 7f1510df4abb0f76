/* SPDX-License-Identifier: Apache-2.0
 * main.c -- the `cirrus` command line: pick the subcommand and hand it the
 * rest of argv. Usage errors exit 2 with the usage on stderr; --help prints
 * it on stdout and exits 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"


static const char usage_top[] =
	"usage: cirrus COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  serve -c FILE [-p PORT] [-w WORKERS]   run the DNS server\n"
	"  zone check FILE [--origin NAME]        check a zone file\n"
	"  token create|list|delete ...           manage REST API tokens\n"
	"  key add|list|delete ...                manage TSIG keys for RFC 2136 UPDATE\n"
	"  function http [-c FILE] [-d PATH]      answer DoH and JSON over HTTP ($PORT)\n"
	"  function lambda [-c FILE] [-d PATH]    AWS Lambda custom runtime (or as bootstrap)\n"
	"  health [-c FILE]                       show a running server's health checks\n"
	"  drill KEY --down DURATION [-c FILE]    force a health key down for a while\n"
	"  proxy -c FILE | -u URL ...             relay UDP/TCP DNS to DoH upstreams\n"
	"  version                                print the version\n"
	"\n"
	"Each command takes -h/--help.\n";

static const char usage_version[] = "usage: cirrus version\n";

static int is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cmd_bad_usage(const char *cmd, const char *problem, const char *usage)
{
	fprintf(stderr, "cirrus %s: %s\n%s", cmd, problem, usage);
	return 2;
}

int cmd_bad_option(const char *cmd, int opt, char *const argv[], const char *usage)
{
	char problem[256];
	const char *arg = argv[optind - 1];
	if (opt == ':') {
		snprintf(problem, sizeof(problem), "option '%s' needs a value", arg);
	} else if (optopt != 0) {
		snprintf(problem, sizeof(problem), "unknown option '-%c'", optopt);
	} else {
		snprintf(problem, sizeof(problem), "unknown option '%s'", arg);
	}
	return cmd_bad_usage(cmd, problem, usage);
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && is_help(argv[1])) {
		fputs(usage_version, stdout);
		return 0;
	}
	if (argc > 1) {
		return cmd_bad_usage("version", "takes no arguments", usage_version);
	}
	printf("cirrus %s\n", CIRRUS_VERSION);
	return 0;
}

/* Lambda's custom runtimes start $LAMBDA_TASK_ROOT/bootstrap with no
 * arguments: the cirrus binary shipped under that name is the runtime. */
static int is_bootstrap(const char *argv0)
{
	const char *slash = argv0 != NULL ? strrchr(argv0, '/') : NULL;
	return argv0 != NULL && strcmp(slash != NULL ? slash + 1 : argv0, "bootstrap") == 0;
}

int main(int argc, char **argv)
{
	if (argc >= 1 && is_bootstrap(argv[0])) {
		return cmd_function_lambda(argc, argv);
	}
	if (argc < 2) {
		fputs(usage_top, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (is_help(cmd)) {
		fputs(usage_top, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		return cmd_version(argc - 1, argv + 1);
	}
	/* Every function instance starts cold, and it never uses GnuTLS: it
	 * skips GnuTLS's initialisation (src/crypto_defer.c). */
	if (strcmp(cmd, "function") == 0) {
		return cmd_function(argc - 1, argv + 1);
	}
	if (crypto_init() < 0) {
		return 1;
	}
	if (strcmp(cmd, "serve") == 0) {
		return cmd_serve(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "zone") == 0) {
		return cmd_zone(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "token") == 0) {
		return cmd_token(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "key") == 0) {
		return cmd_key(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "health") == 0) {
		return cmd_health(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "drill") == 0) {
		return cmd_drill(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "proxy") == 0) {
		return cmd_proxy(argc - 1, argv + 1);
	}
	fprintf(stderr, "cirrus: unknown command '%s'\n%s", cmd, usage_top);
	return 2;
}
