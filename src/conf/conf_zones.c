/* SPDX-License-Identifier: Apache-2.0
 * conf_zones.c -- configured zones from a compiled image or their files,
 * with their policies attached (see conf_zones.h).
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf_zones.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

/* Zone diagnostics go to the log; ctx is the zone file. */
static void log_diag(void *ctx, zone_diag_level_t level, const char *file,
                     uint64_t line, const char *reason)
{
	log_level_t l = level == ZONE_DIAG_ERROR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARNING;
	file = file != NULL ? file : ctx;
	if (line == 0) {
		log_msg(l, "%s: %s", file, reason);
	} else {
		log_msg(l, "%s:%llu: %s", file, (unsigned long long)line, reason);
	}
}

/* Compile a zone's policies and attach them to the freshly loaded *zone;
 * on failure *zone is freed and NULL. conf_path names the file for errors. */
static int attach_policies(const char *conf_path, const conf_zone_t *z, zone_t **zone)
{
	size_t n = z->policy_count;
	policy_t **pol = calloc(n, sizeof(*pol));
	uint64_t *lines = calloc(n, sizeof(*lines));
	char err[1024] = "";
	int r = (pol == NULL || lines == NULL) ? CIRRUS_ENOMEM : 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		lines[i] = z->policies[i].line;
		r = policy_compile(&z->policies[i], zone_apex(*zone), conf_path, &pol[i],
		                   err, sizeof(err));
	}
	if (r == 0) {
		r = policy_zone_attach(zone, pol, n, conf_path, lines, err, sizeof(err));
	} else {
		for (size_t i = 0; pol != NULL && i < n; i++) {
			policy_free(pol[i]);
		}
	}
	if (r != 0) {
		log_error("%s", err[0] ? err : cirrus_strerror(r));
		zone_free(*zone);
		*zone = NULL;
	}
	free(pol);
	free(lines);
	return r;
}

void conf_image_open(const char *path, bool verify_later, conf_image_t *img)
{
	char err[1024] = "";
	*img = (conf_image_t){ .path = path };
	if (path == NULL) {
		return;
	}
	double start = clock_monotonic_ms();
	unsigned flags = ZONE_IMAGE_SOURCES | (verify_later ? ZONE_IMAGE_VERIFY_LATER : 0);
	if (zone_image_load(path, flags, &img->zones, &img->count, err, sizeof(err)) != 0) {
		log_warning("%s; loading the zone files instead", err);
		return;
	}
	log_info("image %s: %zu zone%s mapped%s in %.1f ms", path, img->count,
	         img->count == 1 ? "" : "s", verify_later ? "" : " and checked",
	         clock_monotonic_ms() - start);
}

void conf_image_close(conf_image_t *img)
{
	for (size_t i = 0; i < img->count; i++) {
		zone_free(img->zones[i]); /* zones the configuration does not serve */
	}
	free(img->zones);
	*img = (conf_image_t){ 0 };
}

/* Take the image zone for z out of img: the same apex, compiled from the
 * same file (zone_image_load has checked that the file did not change). */
static zone_t *take_image_zone(const conf_zone_t *z, conf_image_t *img)
{
	knot_dname_storage_t apex;
	char *file = img != NULL && img->count > 0 ? realpath(z->file, NULL) : NULL;
	zone_t *found = NULL;
	if (file != NULL && knot_dname_from_str(apex, z->origin, sizeof(apex)) != NULL) {
		knot_dname_to_lower(apex);
		for (size_t i = 0; found == NULL && i < img->count; i++) {
			zone_t *c = img->zones[i];
			if (c != NULL && knot_dname_is_equal(zone_apex(c), apex) &&
			    c->source != NULL && strcmp(c->source, file) == 0) {
				found = c;
				img->zones[i] = NULL;
			}
		}
	}
	free(file);
	return found;
}

int conf_zone_load(const char *conf_path, const conf_zone_t *z, conf_image_t *img,
                   zone_t **out)
{
	*out = take_image_zone(z, img);
	int r = 0;
	if (*out != NULL) {
		log_info("zone %s: %zu records from image %s", z->origin, (*out)->record_count,
		         img->path);
	} else {
		r = zone_load_file(z->file, z->origin, log_diag, z->file, out);
	}
	if (r == 0 && z->policy_count > 0) {
		r = attach_policies(conf_path, z, out);
	}
	return r;
}
