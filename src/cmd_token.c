/* SPDX-License-Identifier: Apache-2.0
 * cmd_token.c -- `cirrus token create|list|delete`: manage API tokens in the
 * store directly, which is how the first admin token is made. Works while
 * the server runs (SQLite in WAL mode takes both). The secret of a new
 * token is printed once, alone on stdout, so scripts can capture it.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "cmd.h"
#include "conf/conf.h"
#include "store/store.h"
#include "util/error.h"

static const char usage_token[] =
	"usage: cirrus token create --name NAME --scope SCOPE [--scope SCOPE ...] [STORE]\n"
	"       cirrus token list [STORE]\n"
	"       cirrus token delete NAME [STORE]\n"
	"\n"
	"Manage the bearer tokens of the REST API (see docs/api.yaml).\n"
	"  -n, --name NAME      token name, shown as the actor in the audit log\n"
	"  -s, --scope SCOPE    admin, zone:PATTERN:read or zone:PATTERN:write;\n"
	"                       PATTERN is a zone name where * matches anything\n"
	"                       (zone:*.example.com:write); repeat for more\n"
	"STORE is where the tokens live:\n"
	"  -c, --config FILE    the store.path of this configuration\n"
	"  -d, --db PATH        this SQLite file\n"
	"  (neither: ./cirrus.db, as `cirrus serve`)\n"
	"  -h, --help           show this help\n"
	"`create` prints the secret once on stdout; it cannot be shown again.\n";

#define SCOPES_MAX 64

typedef struct token_args {
	const char *name;
	const char *scopes[SCOPES_MAX];
	size_t scope_count;
	const char *config;
	const char *db;
} token_args_t;

/* Parse options from argv (argv[0] is the subcommand); -1 to go on, else
 * the exit code. */
static int parse_args(int argc, char **argv, const char *cmd, bool takes_name,
                      token_args_t *a)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "scope", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:s:c:d:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': a->name = optarg; break;
		case 'c': a->config = optarg; break;
		case 'd': a->db = optarg; break;
		case 'h': fputs(usage_token, stdout); return 0;
		case 's':
			if (a->scope_count == SCOPES_MAX) {
				return cmd_bad_usage(cmd, "too many --scope options", usage_token);
			}
			a->scopes[a->scope_count++] = optarg;
			break;
		default:
			return cmd_bad_option(cmd, opt, argv, usage_token);
		}
		if ((opt == 'n' || opt == 's') && !takes_name) {
			return cmd_bad_usage(cmd, "takes no --name or --scope", usage_token);
		}
	}
	if (a->config != NULL && a->db != NULL) {
		return cmd_bad_usage(cmd, "give --config or --db, not both", usage_token);
	}
	return -1;
}

/* Open the store named by the arguments; NULL after printing why. */
static store_t *open_store(const token_args_t *a, bool must_exist)
{
	conf_t conf = { 0 };
	char err[1024];
	const char *path = a->db != NULL ? a->db : "cirrus.db";
	if (a->config != NULL) {
		if (conf_load(&conf, a->config, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return NULL;
		}
		path = conf.store_path;
	}
	store_t *st = NULL;
	if (must_exist && access(path, F_OK) != 0) {
		fprintf(stderr, "cirrus token: no store at %s (give -c FILE or -d PATH)\n",
		        path);
	} else if (store_open(path, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "cirrus token: cannot open the store %s: %s\n", path, err);
		st = NULL;
	}
	if (a->config != NULL) {
		conf_deinit(&conf);
	}
	return st;
}

/* The audit log names the local user behind a command-line change. */
static void cli_actor(char *out, size_t size)
{
	struct passwd *pw = getpwuid(getuid());
	snprintf(out, size, "cli:%s", pw != NULL ? pw->pw_name : "unknown");
}

static int token_create(int argc, char **argv)
{
	token_args_t a = { 0 };
	int rc = parse_args(argc, argv, "token create", true, &a);
	if (rc >= 0) {
		return rc;
	}
	if (optind < argc) {
		return cmd_bad_usage("token create", "takes no positional arguments", usage_token);
	}
	if (a.name == NULL || a.scope_count == 0) {
		return cmd_bad_usage("token create", "needs --name and at least one --scope",
		                     usage_token);
	}
	char actor[160], secret[API_TOKEN_SECRET_SIZE], canonical[API_SCOPES_SIZE], err[512];
	size_t bad;
	cli_actor(actor, sizeof(actor));
	/* Check the arguments before the store is created. */
	if (api_token_name_check(a.name, err, sizeof(err)) != 0) {
		return cmd_bad_usage("token create", err, usage_token);
	}
	for (size_t i = 0; i < a.scope_count; i++) {
		if (api_scope_normalize(a.scopes[i], canonical, sizeof(canonical), err,
		                        sizeof(err)) != 0) {
			return cmd_bad_usage("token create", err, usage_token);
		}
	}
	store_t *st = open_store(&a, false);
	if (st == NULL) {
		return 1;
	}
	ctl_actor_t who = { .actor = actor };
	int r = api_token_create(st, a.name, a.scopes, a.scope_count, &who, secret, canonical,
	                         &bad, err, sizeof(err));
	store_close(st);
	if (r != 0) {
		fprintf(stderr, "cirrus token create: %s\n", err);
		return 1;
	}
	printf("%s\n", secret);
	fprintf(stderr, "token '%s' created with scopes: %s\n"
	        "Keep the secret above: it is shown only this once.\n", a.name, canonical);
	memset(secret, 0, sizeof(secret));
	return 0;
}

static int print_token(void *ctx, const store_token_t *tok)
{
	(void)ctx;
	char when[32] = "?";
	time_t t = (time_t)(tok->created_us / 1000000);
	struct tm tm;
	if (gmtime_r(&t, &tm) != NULL) {
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	printf("%-24s %-20s %s\n", tok->name, when, tok->scopes);
	return 0;
}

static int token_list(int argc, char **argv)
{
	token_args_t a = { 0 };
	int rc = parse_args(argc, argv, "token list", false, &a);
	if (rc >= 0) {
		return rc;
	}
	if (optind < argc) {
		return cmd_bad_usage("token list", "takes no positional arguments", usage_token);
	}
	store_t *st = open_store(&a, true);
	if (st == NULL) {
		return 1;
	}
	printf("%-24s %-20s %s\n", "NAME", "CREATED", "SCOPES");
	int r = store_token_list(st, print_token, NULL);
	store_close(st);
	if (r != 0) {
		fprintf(stderr, "cirrus token list: %s\n", cirrus_strerror(r > 0 ? -r : r));
		return 1;
	}
	return 0;
}

static int token_delete(int argc, char **argv)
{
	token_args_t a = { 0 };
	int rc = parse_args(argc, argv, "token delete", false, &a);
	if (rc >= 0) {
		return rc;
	}
	if (argc - optind != 1) {
		return cmd_bad_usage("token delete", "needs exactly one NAME", usage_token);
	}
	store_t *st = open_store(&a, true);
	if (st == NULL) {
		return 1;
	}
	char actor[160], err[512];
	cli_actor(actor, sizeof(actor));
	ctl_actor_t who = { .actor = actor };
	int r = api_token_remove(st, argv[optind], &who, err, sizeof(err));
	store_close(st);
	if (r != 0) {
		fprintf(stderr, "cirrus token delete: %s\n", err);
		return 1;
	}
	fprintf(stderr, "token '%s' deleted\n", argv[optind]);
	return 0;
}

int cmd_token(int argc, char **argv)
{
	if (argc < 2) {
		return cmd_bad_usage("token", "needs a subcommand", usage_token);
	}
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(usage_token, stdout);
		return 0;
	}
	if (strcmp(sub, "create") == 0) {
		return token_create(argc - 1, argv + 1);
	}
	if (strcmp(sub, "list") == 0) {
		return token_list(argc - 1, argv + 1);
	}
	if (strcmp(sub, "delete") == 0) {
		return token_delete(argc - 1, argv + 1);
	}
	char problem[256];
	snprintf(problem, sizeof(problem), "unknown subcommand '%s'", sub);
	return cmd_bad_usage("token", problem, usage_token);
}
