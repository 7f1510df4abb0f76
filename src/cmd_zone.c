/* SPDX-License-Identifier: Apache-2.0
 * cmd_zone.c -- `cirrus zone check FILE [--origin NAME]`: load a master file
 * the way the server would and print every diagnostic as FILE:LINE: LEVEL:
 * reason, the format editors and CI annotations understand.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util/error.h"
#include "zone/zone.h"

static const char usage_zone[] =
	"usage: cirrus zone check FILE [--origin NAME]\n"
	"\n"
	"Load FILE as a zone and report errors and warnings as FILE:LINE: LEVEL: reason.\n"
	"  -o, --origin NAME   zone apex (default: FILE's name without .zone or .db)\n"
	"  -h, --help          show this help\n"
	"Exit status: 0 the zone is good, 1 it has errors, 2 bad usage.\n";

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

/* The origin implied by a file name: its base name without .zone or .db. */
static char *origin_from_path(const char *path)
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

static int cmd_zone_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *origin = NULL;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': origin = optarg; break;
		case 'h': fputs(usage_zone, stdout); return 0;
		default:  return cmd_bad_option("zone check", opt, argv, usage_zone);
		}
	}
	if (argc - optind != 1) {
		return cmd_bad_usage("zone check", "needs exactly one FILE", usage_zone);
	}
	const char *path = argv[optind];
	char *implied = origin == NULL ? origin_from_path(path) : NULL;
	if (origin == NULL && implied == NULL) {
		fprintf(stderr, "cirrus: out of memory\n");
		return 1;
	}
	int rc = zone_check(path, origin != NULL ? origin : implied);
	free(implied);
	return rc;
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
	char problem[256];
	snprintf(problem, sizeof(problem), "unknown subcommand '%s'", argv[1]);
	return cmd_bad_usage("zone", problem, usage_zone);
}
