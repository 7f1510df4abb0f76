/* SPDX-License-Identifier: Apache-2.0
 * cmd_zone.c -- `cirrus zone check|import|export`. check loads a master
 * file the way the server would and prints every diagnostic as FILE:LINE:
 * LEVEL: reason, the format editors and CI annotations understand; import
 * and export move a zone between a master file and the store.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ctl/ctl.h"
#include "util/error.h"
#include "zone/zone.h"

static const char usage_zone[] =
	"usage: cirrus zone check FILE [--origin NAME]\n"
	"       cirrus zone import FILE [--origin NAME] [--db PATH]\n"
	"       cirrus zone export ZONE [--db PATH]\n"
	"       cirrus zone compile (-c CONFIG | FILE [--origin NAME]) -O IMAGE\n"
	"\n"
	"check   load FILE as a zone and report errors and warnings as\n"
	"        FILE:LINE: LEVEL: reason\n"
	"import  check FILE, then store it as an API-managed zone (audited)\n"
	"export  print a stored zone as a master file\n"
	"compile write zone files as an image `serve --image` starts from (see\n"
	"        cirrus zone compile --help)\n"
	"  -o, --origin NAME   zone apex (default: FILE's name without .zone or .db)\n"
	"  -d, --db PATH       the store (default ./cirrus.db, as `cirrus serve`)\n"
	"  -h, --help          show this help\n"
	"Exit status: 0 success, 1 failure, 2 bad usage.\n"
	"A running server learns of an imported zone when it restarts; while it\n"
	"runs, create zones through its API instead.\n";

typedef struct check {
	const char *path;
	size_t errors;
} check_t;

static void print_diag(void *ctx, zone_diag_level_t level, const char *file,
                       uint64_t line, const char *reason)
{
	check_t *check = ctx;
	const char *what = level == ZONE_DIAG_ERROR ? "error" : "warning";
	if (level == ZONE_DIAG_ERROR) {
		check->errors++;
	}
	file = file != NULL ? file : check->path;
	if (line == 0) {
		fprintf(stderr, "%s: %s: %s\n", file, what, reason);
	} else {
		fprintf(stderr, "%s:%llu: %s: %s\n", file, (unsigned long long)line, what, reason);
	}
}

char *cmd_zone_origin(const char *path)
{
	const char *base = strrchr(path, '/');
	char *origin = strdup(base != NULL ? base + 1 : path);
	if (origin == NULL) {
		return NULL;
	}
	size_t len = strlen(origin);
	static const char *suffixes[] = { ".zone", ".db" };
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t slen = strlen(suffixes[i]);
		if (len > slen && strcmp(origin + len - slen, suffixes[i]) == 0) {
			origin[len - slen] = '\0';
			break;
		}
	}
	return origin;
}

static int zone_check(const char *path, const char *origin)
{
	check_t check = { .path = path };
	zone_t *zone = NULL;
	int r = zone_load_file(path, origin, print_diag, &check, &zone);
	if (r == 0 && check.errors == 0) {
		printf("%s: zone %s OK, %zu records\n", path, origin, zone->record_count);
	} else if (check.errors == 0) {
		fprintf(stderr, "%s: error: %s\n", path, cirrus_strerror(r));
	}
	zone_free(zone);
	return r == 0 && check.errors == 0 ? 0 : 1;
}

typedef struct zone_args {
	const char *origin;
	const char *db;
	const char *target;    /* FILE or ZONE */
} zone_args_t;

/* Options shared by the zone subcommands; -1 to go on, else an exit code. */
static int parse_zone_args(const char *what, int argc, char **argv, zone_args_t *a)
{
	static const struct option longopts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (zone_args_t){ .db = "cirrus.db" };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":o:d:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': a->origin = optarg; break;
		case 'd': a->db = optarg; break;
		case 'h': fputs(usage_zone, stdout); return 0;
		default:  return cmd_bad_option(what, opt, argv, usage_zone);
		}
	}
	if (argc - optind != 1) {
		return cmd_bad_usage(what, "needs exactly one FILE or ZONE", usage_zone);
	}
	a->target = argv[optind];
	return -1;
}

static int cmd_zone_check(int argc, char **argv)
{
	zone_args_t a;
	int rc = parse_zone_args("zone check", argc, argv, &a);
	if (rc >= 0) {
		return rc;
	}
	char *implied = a.origin == NULL ? cmd_zone_origin(a.target) : NULL;
	if (a.origin == NULL && implied == NULL) {
		fprintf(stderr, "cirrus: out of memory\n");
		return 1;
	}
	rc = zone_check(a.target, a.origin != NULL ? a.origin : implied);
	free(implied);
	return rc;
}

/* The CLI changes the store without serving: sets are simply dropped. */
static void discard_set(void *ctx, zone_set_t *set)
{
	(void)ctx;
	zone_set_free(set);
}

static int open_control(const char *db, store_t **st, ctl_t **ctl)
{
	char err[512];
	if (store_open(db, st, err, sizeof(err)) != 0) {
		fprintf(stderr, "cirrus: %s\n", err);
		return 1;
	}
	if (ctl_new(*st, CTL_SERIAL_INCREMENT, discard_set, NULL, ctl, err, sizeof(err)) != 0) {
		fprintf(stderr, "cirrus: %s\n", err);
		store_close(*st);
		return 1;
	}
	return 0;
}

static int cmd_zone_import(int argc, char **argv)
{
	zone_args_t a;
	int rc = parse_zone_args("zone import", argc, argv, &a);
	if (rc >= 0) {
		return rc;
	}
	char *implied = a.origin == NULL ? cmd_zone_origin(a.target) : NULL;
	const char *origin = a.origin != NULL ? a.origin : implied;
	check_t check = { .path = a.target };
	zone_t *zone = NULL;
	store_t *st = NULL;
	ctl_t *ctl = NULL;
	if (origin == NULL || zone_load_file(a.target, origin, print_diag, &check, &zone) != 0 ||
	    open_control(a.db, &st, &ctl) != 0) {
		zone_free(zone);
		free(implied);
		return 1;
	}
	ctl_error_t err = { 0 };
	ctl_actor_t who = { .actor = "cli:zone-import" };
	rc = ctl_zone_import(ctl, zone, &who, &err);
	if (rc == 0) {
		printf("%s: zone %s stored in %s, %zu records\n", a.target, origin, a.db,
		       zone->record_count);
	} else {
		fprintf(stderr, "cirrus: %s\n", err.message);
		zone_free(zone);
	}
	ctl_free(ctl);
	store_close(st);
	free(implied);
	return rc == 0 ? 0 : 1;
}

static int cmd_zone_export(int argc, char **argv)
{
	zone_args_t a;
	int rc = parse_zone_args("zone export", argc, argv, &a);
	if (rc >= 0) {
		return rc;
	}
	store_t *st = NULL;
	ctl_t *ctl = NULL;
	if (open_control(a.db, &st, &ctl) != 0) {
		return 1;
	}
	char *text = NULL;
	rc = ctl_zone_export(ctl, a.target, &text);
	if (rc == 0) {
		fputs(text, stdout);
	} else {
		fprintf(stderr, "cirrus: zone %s: %s\n", a.target, cirrus_strerror(rc));
	}
	free(text);
	ctl_free(ctl);
	store_close(st);
	return rc == 0 ? 0 : 1;
}

int cmd_zone(int argc, char **argv)
{
	if (argc < 2) {
		return cmd_bad_usage("zone", "needs a subcommand", usage_zone);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_zone, stdout);
		return 0;
	}
	if (strcmp(argv[1], "check") == 0) {
		return cmd_zone_check(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "import") == 0) {
		return cmd_zone_import(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "export") == 0) {
		return cmd_zone_export(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "compile") == 0) {
		return cmd_zone_compile(argc - 1, argv + 1);
	}
	char problem[256];
	snprintf(problem, sizeof(problem), "unknown subcommand '%s'", argv[1]);
	return cmd_bad_usage("zone", problem, usage_zone);
}
