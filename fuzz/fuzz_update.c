/* SPDX-License-Identifier: Apache-2.0
 * fuzz_update.c -- libFuzzer target for ctl_update_handle(): every input
 * becomes an UPDATE (QR cleared, opcode 5) and is sent once unsigned and
 * once signed by the harness with a key allowed everything in example.com,
 * so mutations reach the prerequisites and the changes, not only TSIG. The
 * store is a temporary SQLite file (in /dev/shm when there is one). Every
 * answer must carry the request's ID with QR set; sanitizers catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libknot/libknot.h>

#include "ctl/ctl.h"
#include "util/log.h"

#define FUZZ_SECRET "ZnV6ei11cGRhdGUta2V5LWZvci1leGFtcGxlLWNvbSE="

static ctl_t *ctl;
static knot_tsig_key_t key;
static uint8_t msg[65535], answer[65535];
static char path[64];

static void remove_store(void)
{
	char side[80];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

static void drop_set(void *ctx, zone_set_t *set)
{
	(void)ctx;
	zone_set_free(set); /* nothing reads it: no grace period */
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_update: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	char err[256];
	snprintf(path, sizeof(path), "%s/cirrus-fuzz-update-%d.db",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", getpid());
	atexit(remove_store);
	store_t *st = NULL;
	if (store_open(path, &st, err, sizeof(err)) != 0 ||
	    ctl_new(st, CTL_SERIAL_INCREMENT, drop_set, NULL, &ctl, err, sizeof(err)) != 0) {
		fail(err);
	}
	const char *ns[] = { "ns1.example.com." }, *www[] = { "192.0.2.80" };
	const char *alias[] = { "www.example.com." }, *txt[] = { "\"v=spf1 -all\"" };
	ctl_zone_defaults_t d = { .nameservers = ns, .nameserver_count = 1 };
	ctl_actor_t who = { .actor = "fuzz" };
	ctl_error_t cerr = { 0 };
	const ctl_change_t changes[] = {
		{ .op = CTL_CHANGE_REPLACE, .name = "www", .type = "A", .ttl = 60,
		  .records = www, .record_count = 1 },
		{ .op = CTL_CHANGE_REPLACE, .name = "alias", .type = "CNAME", .ttl = 60,
		  .records = alias, .record_count = 1 },
		{ .op = CTL_CHANGE_REPLACE, .name = "a.b", .type = "TXT", .ttl = 60,
		  .records = txt, .record_count = 1 },
	};
	if (ctl_zone_create(ctl, "example.com.", &d, &who, &cerr) != 0 ||
	    ctl_rrsets_patch(ctl, "example.com.", changes, 3, &who, &cerr) != 0) {
		fail(cerr.message);
	}
	store_tsig_t row = { .algorithm = "hmac-sha256", .secret = FUZZ_SECRET,
	                     .rules = "zone=example.com name=* types=*" };
	snprintf(row.name, sizeof(row.name), "fuzz");
	st = ctl_store_lock(ctl);
	int rc = store_tsig_insert(st, &row);
	ctl_store_unlock(ctl);
	if (rc != 0 || knot_tsig_key_init(&key, "hmac-sha256", "fuzz", FUZZ_SECRET) != KNOT_EOK) {
		fail("no key");
	}
	return 0;
}

static void send_one(size_t len)
{
	size_t answer_len = 0;
	if (ctl_update_handle(ctl, msg, len, NULL, answer, sizeof(answer), &answer_len) != 0) {
		return;
	}
	if (answer_len < KNOT_WIRE_HEADER_SIZE || !knot_wire_get_qr(answer) ||
	    knot_wire_get_id(answer) != knot_wire_get_id(msg)) {
		fail("bad answer header");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < KNOT_WIRE_HEADER_SIZE || size > sizeof(msg) - 512) {
		return 0;
	}
	memcpy(msg, data, size);
	knot_wire_clear_qr(msg);
	knot_wire_set_opcode(msg, KNOT_OPCODE_UPDATE);
	send_one(size);
	uint8_t digest[64];
	size_t len = size, digest_len = sizeof(digest);
	if (knot_tsig_sign(msg, &len, sizeof(msg), NULL, 0, digest, &digest_len, &key, 0, 0) ==
	    KNOT_EOK) {
		send_one(len);
	}
	return 0;
}
