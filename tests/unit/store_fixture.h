/* SPDX-License-Identifier: Apache-2.0
 * store_fixture.h -- shared by the store's unit tests: a fresh SQLite
 * store in a temporary directory per test, removed with its -wal and -shm
 * files afterwards. Static functions: each test file includes this once.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"

typedef struct fixture {
	char dir[64];
	char path[128];
	store_t *st;
} fixture_t;

/* cmocka setup: the store at a new temporary directory's cirrus.db. */
static int store_fixture_setup(void **state)
{
	fixture_t *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/cirrus-store-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/cirrus.db", fx->dir);
	char err[256];
	assert_int_equal(store_open(fx->path, &fx->st, err, sizeof(err)), 0);
	*state = fx;
	return 0;
}

/* cmocka teardown: close the store, remove its files and directory. */
static int store_fixture_teardown(void **state)
{
	fixture_t *fx = *state;
	store_close(fx->st);
	char file[160];
	const char *suffix[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(file, sizeof(file), "%s%s", fx->path, suffix[i]);
		unlink(file);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}
