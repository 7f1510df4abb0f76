/* SPDX-License-Identifier: Apache-2.0
 * fn_verify.c -- a function instance checks its compiled image's checksum
 * after it has started answering, not before.
 *
 * Reading the whole image for the checksum is about a tenth of a cold
 * start at 10k records (every page's first touch costs on a VM). An image
 * ships in the same deployment artifact as the binary, whose integrity the
 * platform checks (Lambda's CodeSha256, an image digest), so a function
 * uses it at once, like its own binary, and checks it on a thread of idle
 * priority that runs when the instance has nothing else to do: at start
 * that is right after the first answers. A damaged image is logged and
 * ends the process with status 1, and every instance that starts from it
 * fails the same way: loudly, not by serving the damage. `serve`, which
 * runs for long and copes with files an operator moves around, checks the
 * image before it answers (zone_image.c).
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fn/fn_internal.h"
#include "util/error.h"
#include "util/log.h"

typedef struct verify {
	zone_image_t *image;    /* a reference */
	char *path;
} verify_t;

static void *verify_main(void *arg)
{
	verify_t *v = arg;
	struct sched_param idle = { 0 };
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
	if (zone_image_verify(v->image) != 0) {
		log_error("function: %s: damaged zone image (checksum); stopping rather than "
		          "serving it: compile the image again", v->path);
		_exit(1);
	}
	log_info("function: image %s: checksum verified", v->path);
	zone_image_release(v->image);
	free(v->path);
	free(v);
	return NULL;
}

int fn_image_verify_start(zone_t *const *zones, size_t count, const char *path)
{
	zone_image_t *image = NULL;
	for (size_t i = 0; image == NULL && i < count; i++) {
		image = zone_image_of(zones[i]);   /* one image serves them all */
	}
	if (image == NULL) {
		return 0;
	}
	verify_t *v = malloc(sizeof(*v));
	pthread_attr_t attr;
	pthread_t thread;
	if (v == NULL || (v->path = strdup(path)) == NULL) {
		free(v);
		return CIRRUS_ENOMEM;
	}
	v->image = image;
	zone_image_retain(image);
	int rc = pthread_attr_init(&attr) == 0 &&
	         pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
	         pthread_create(&thread, &attr, verify_main, v) == 0 ? 0 : CIRRUS_EIO;
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		zone_image_release(image);
		free(v->path);
		free(v);
	}
	return rc;
}
