/* SPDX-License-Identifier: Apache-2.0
 * conf_zones.h -- the zones a configuration declares, loaded the way every
 * command that serves them (serve, function http) loads them: from a
 * compiled image when it holds the zone and is current, else from the zone
 * file; then with the zone's policies attached. Diagnostics go to the log.
 */
#pragma once

#include "conf/conf.h"
#include "zone/zone.h"

/*! \brief The zones of a compiled image, for conf_zone_load() to take from. */
typedef struct conf_image {
	const char *path;
	zone_t **zones;     /*!< NULL once taken */
	size_t count;
} conf_image_t;

/*!
 * \brief Open a compiled image (`cirrus zone compile`). One that cannot be
 * used (missing, damaged, another build's, older than its files) is logged
 * as a warning and leaves img empty: the zone files are loaded instead.
 * \param path          the image, or NULL for none
 * \param verify_later  its checksum is left to the caller
 *                      (ZONE_IMAGE_VERIFY_LATER: function mode)
 */
void conf_image_open(const char *path, bool verify_later, conf_image_t *img);

/*! \brief Free the image's zones no one took. */
void conf_image_close(conf_image_t *img);

/*!
 * \brief Load one configured zone with its policies.
 * \param conf_path  the configuration, named in policy errors
 * \param img        an open image to take the zone from, or NULL
 * \param out        the zone, owned by the caller
 * \retval 0, or the error of zone_load_file() / policy compilation (logged)
 */
int conf_zone_load(const char *conf_path, const conf_zone_t *z, conf_image_t *img,
                   zone_t **out);
