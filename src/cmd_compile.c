/* SPDX-License-Identifier: Apache-2.0
 * cmd_compile.c -- `cirrus zone compile`: load zone files once, check them
 * as `serve` would, and write a compiled image (zone/zone_image.c) that
 * `serve --image` starts from without parsing. Either every zone of a
 * configuration file, or one zone file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "conf/conf.h"
#include "util/clock.h"
#include "util/error.h"
#include "zone/zone.h"

static const char usage_compile[] =
	"usage: cirrus zone compile -c CONFIG -O IMAGE\n"
	"       cirrus zone compile FILE [--origin NAME] -O IMAGE\n"
	"\n"
	"Load and check every zone file of CONFIG (or FILE alone) and write them\n"
	"as one compiled image, which `cirrus serve --image IMAGE` loads without\n"
	"parsing. The image records each file's size and time: a server refuses\n"
	"an image older than its files and loads the files instead.\n"
	"  -c, --config FILE   compile the zones this configuration serves\n"
	"  -o, --origin NAME   zone apex of FILE (default: its name without .zone or .db)\n"
	"  -O, --output IMAGE  where to write the image (replaced atomically)\n"
	"  -h, --help          show this help\n"
	"Exit status: 0 success, 1 failure, 2 bad usage.\n";

typedef struct compile_args {
	const char *config;
	const char *origin;
	const char *output;
	const char *file;
} compile_args_t;

static void print_diag(void *ctx, zone_diag_level_t level, const char *file,
                       uint64_t line, const char *reason)
{
	const char *what = level == ZONE_DIAG_ERROR ? "error" : "warning";
	file = file != NULL ? file : ctx;
	if (line == 0) {
		fprintf(stderr, "%s: %s: %s\n", file, what, reason);
	} else {
		fprintf(stderr, "%s:%llu: %s: %s\n", file, (unsigned long long)line, what, reason);
	}
}

static int parse_args(int argc, char **argv, compile_args_t *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "origin", required_argument, NULL, 'o' },
		{ "output", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (compile_args_t){ 0 };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:o:O:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->config = optarg; break;
		case 'o': a->origin = optarg; break;
		case 'O': a->output = optarg; break;
		case 'h': fputs(usage_compile, stdout); return 0;
		default:  return cmd_bad_option("zone compile", opt, argv, usage_compile);
		}
	}
	if (a->output == NULL) {
		return cmd_bad_usage("zone compile", "needs an output file (-O IMAGE)", usage_compile);
	}
	int files = argc - optind;
	if ((a->config == NULL) == (files != 1) || (a->config != NULL && a->origin != NULL)) {
		return cmd_bad_usage("zone compile", "needs either -c CONFIG or one FILE",
		                     usage_compile);
	}
	a->file = files == 1 ? argv[optind] : NULL;
	return -1;
}

static int load_one(const char *file, const char *origin, zone_t **out)
{
	int r = zone_load_file(file, origin, print_diag, (void *)file, out);
	if (r != 0) {
		fprintf(stderr, "%s: error: zone %s not compiled: %s\n", file, origin,
		        cirrus_strerror(r));
	}
	return r;
}

int cmd_zone_compile(int argc, char **argv)
{
	compile_args_t a;
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0) {
		return rc;
	}
	conf_t conf = { 0 };
	char err[1024] = "";
	if (a.config != NULL && conf_load(&conf, a.config, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	size_t count = a.config != NULL ? conf.zone_count : 1;
	zone_t **zones = calloc(count ? count : 1, sizeof(*zones));
	char *origin = a.file == NULL ? NULL :
	               a.origin != NULL ? strdup(a.origin) : cmd_zone_origin(a.file);
	int r = zones == NULL || (a.file != NULL && origin == NULL) ? CIRRUS_ENOMEM : 0;
	double start = clock_monotonic_ms();
	size_t records = 0;
	for (size_t i = 0; r == 0 && i < count; i++) {
		r = a.file != NULL ? load_one(a.file, origin, &zones[i]) :
		                     load_one(conf.zones[i].file, conf.zones[i].origin, &zones[i]);
		records += r == 0 ? zones[i]->record_count : 0;
	}
	if (r == 0) {
		r = zone_image_write(a.output, zones, count, err, sizeof(err));
		if (r != 0) {
			fprintf(stderr, "%s\n", err);
		}
	}
	if (r == 0) {
		printf("%s: %zu zones, %zu records compiled in %.0f ms\n", a.output, count, records,
		       clock_monotonic_ms() - start);
	}
	for (size_t i = 0; zones != NULL && i < count; i++) {
		zone_free(zones[i]);
	}
	free(zones);
	free(origin);
	conf_deinit(&conf);
	return r == 0 ? 0 : 1;
}
