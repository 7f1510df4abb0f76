/* SPDX-License-Identifier: Apache-2.0
 * update_fixture.h -- shared by the RFC 2136 UPDATE unit tests: a real
 * temporary SQLite store with a control plane, the zone example.com. and
 * three TSIG keys, and UPDATE messages built and signed with libknot.
 * Static functions: each test file includes this once.
 */
#pragma once

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libknot/libknot.h>

#include "ctl/ctl.h"
#include "util/error.h"

typedef struct test_key {
	const char *name, *algorithm, *secret, *rules;
} test_key_t;

static const test_key_t keys[] = {
	{ "acme", "hmac-sha256", "Y2lycnVzLXVuaXQtdGVzdC1hY21lLXNlY3JldC0zMmI=",
	  "zone=example.com name=_acme-challenge.* types=TXT" },
	{ "admin", "hmac-sha512",
	  "Y2lycnVzLXVuaXQtdGVzdC1hZG1pbi1zZWNyZXQtZm9yLWhtYWMtc2hhNTEyLTY0LWJ5dGVzLWxvbmctMDAwMA==",
	  "zone=example.org name=* types=*\nzone=Example.COM. name=* types=*" },
	{ "other", "hmac-sha256", "Y2lycnVzLXVuaXQtdGVzdC1vdGhlci1zZWNyZXQtMzI=",
	  "zone=example.org name=* types=*" },
};

typedef struct fixture {
	char path[64];
	store_t *st;
	ctl_t *ctl;
	zone_set_t *served;
	knot_pkt_t *msg;              /* the message being built */
	uint8_t answer[65535];
	size_t answer_len;
	uint16_t tsig_error;          /* TSIG error of the last signed answer */
} fixture_t;

static void publish(void *ctx, zone_set_t *set)
{
	fixture_t *f = ctx;
	zone_set_free(f->served); /* no readers in a unit test: no grace period */
	f->served = set;
}

static void add_records(fixture_t *f)
{
	const char *www[] = { "192.0.2.1" }, *alias[] = { "www.example.com." };
	const char *deep[] = { "192.0.2.7" }, *ns[] = { "ns1.example.net.", "ns2.example.net." };
	const ctl_change_t changes[] = {
		{ .op = CTL_CHANGE_REPLACE, .name = "www", .type = "A", .ttl = 300,
		  .records = www, .record_count = 1 },
		{ .op = CTL_CHANGE_REPLACE, .name = "alias", .type = "CNAME", .ttl = 300,
		  .records = alias, .record_count = 1 },
		{ .op = CTL_CHANGE_REPLACE, .name = "a.b", .type = "A", .ttl = 300,
		  .records = deep, .record_count = 1 },
		{ .op = CTL_CHANGE_REPLACE, .name = "@", .type = "NS", .ttl = 300,
		  .records = ns, .record_count = 2 },
	};
	ctl_actor_t who = { .actor = "unit" };
	ctl_error_t err = { 0 };
	assert_int_equal(ctl_rrsets_patch(f->ctl, "example.com.", changes, 4, &who, &err), 0);
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/cirrus-update-%d.db", getpid());
	unlink(f->path);
	char err[256];
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), 0);
	assert_int_equal(ctl_new(f->st, CTL_SERIAL_INCREMENT, publish, f, &f->ctl, err,
	                         sizeof(err)), 0);
	const char *ns[] = { "ns1.example.net." };
	ctl_zone_defaults_t d = { .nameservers = ns, .nameserver_count = 1 };
	ctl_actor_t who = { .actor = "unit" };
	ctl_error_t cerr = { 0 };
	assert_int_equal(ctl_zone_create(f->ctl, "example.com.", &d, &who, &cerr), 0);
	add_records(f);
	store_t *st = ctl_store_lock(f->ctl);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		store_tsig_t k = { 0 };
		assert_int_equal(ctl_key_check(keys[i].name, keys[i].algorithm, keys[i].secret,
		                               keys[i].rules, k.name, sizeof(k.name), err,
		                               sizeof(err)), 0);
		snprintf(k.algorithm, sizeof(k.algorithm), "%s", keys[i].algorithm);
		snprintf(k.secret, sizeof(k.secret), "%s", keys[i].secret);
		snprintf(k.rules, sizeof(k.rules), "%s", keys[i].rules);
		assert_int_equal(store_tsig_insert(st, &k), 0);
	}
	ctl_store_unlock(f->ctl);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	knot_pkt_free(f->msg);
	ctl_free(f->ctl);
	zone_set_free(f->served);
	store_close(f->st);
	char side[80];
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	free(f);
	return 0;
}

/* Start a new UPDATE for zone with a zone section of type ztype. */
static void msg_new(fixture_t *f, const char *zone, uint16_t ztype)
{
	knot_pkt_free(f->msg);
	f->msg = knot_pkt_new(NULL, 65535, NULL);
	assert_non_null(f->msg);
	knot_wire_set_id(f->msg->wire, 0x2136);
	knot_wire_set_opcode(f->msg->wire, KNOT_OPCODE_UPDATE);
	knot_dname_storage_t apex;
	assert_non_null(knot_dname_from_str(apex, zone, sizeof(apex)));
	assert_int_equal(knot_pkt_put_question(f->msg, apex, KNOT_CLASS_IN, ztype), KNOT_EOK);
}

/* One record in a section (ANSWER = prerequisites, AUTHORITY = update);
 * rdata NULL means empty. */
static void msg_rr(fixture_t *f, knot_section_t sec, const char *owner, uint16_t rclass,
                   const char *type, uint32_t ttl, const char *rdata)
{
	knot_dname_storage_t name;
	uint16_t rtype;
	assert_non_null(knot_dname_from_str(name, owner, sizeof(name)));
	assert_int_equal(knot_rrtype_from_string(type, &rtype), 0);
	/* the packet frees the owner and rdata (KNOT_PF_FREE), not the struct */
	knot_rrset_t rr;
	knot_rrset_init(&rr, knot_dname_copy(name, &f->msg->mm), rtype, rclass, ttl);
	uint8_t *buf = malloc(65535);
	uint16_t len = 0;
	char err[256];
	if (rdata != NULL) {
		assert_int_equal(zone_rdata_parse((const knot_dname_t *)"", rtype, rdata, buf, &len,
		                                  err, sizeof(err)), 0);
	}
	assert_int_equal(knot_rrset_add_rdata(&rr, buf, len, &f->msg->mm), KNOT_EOK);
	free(buf);
	assert_int_equal(knot_pkt_begin(f->msg, sec), KNOT_EOK);
	assert_int_equal(knot_pkt_put(f->msg, KNOT_COMPR_HINT_NONE, &rr, KNOT_PF_FREE), KNOT_EOK);
}

static void key_init(knot_tsig_key_t *k, const char *name, const char *algorithm,
                     const char *secret)
{
	assert_int_equal(knot_tsig_key_init(k, algorithm, name, secret), KNOT_EOK);
}

/* Sign the message (key NULL: unsigned) with the time given (0: now), send
 * it, check the answer's signature and return its rcode. */
static uint16_t send_at(fixture_t *f, const test_key_t *key, uint64_t when)
{
	knot_tsig_key_t k;
	uint8_t mac[64];
	size_t mac_len = sizeof(mac);
	knot_pkt_t *m = f->msg;
	if (key != NULL) {
		key_init(&k, key->name, key->algorithm, key->secret);
		/* knot signs with a chosen time only in its BADTIME form */
		assert_int_equal(knot_tsig_sign(m->wire, &m->size, m->max_size, NULL, 0, mac,
		                                &mac_len, &k, when ? KNOT_RCODE_BADTIME : 0,
		                                when), KNOT_EOK);
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5300) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(ctl_update_handle(f->ctl, m->wire, m->size, (struct sockaddr *)&sa,
	                                   f->answer, sizeof(f->answer), &f->answer_len), 0);
	assert_int_equal(knot_wire_get_id(f->answer), 0x2136);
	assert_true(knot_wire_get_qr(f->answer));
	if (key != NULL) {
		knot_pkt_t *resp = knot_pkt_new(f->answer, f->answer_len, NULL);
		assert_int_equal(knot_pkt_parse(resp, 0), KNOT_EOK);
		/* a request libknot cannot parse gets FORMERR without TSIG */
		uint16_t error = 0;
		if (resp->tsig_rr == NULL) {
			assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_FORMERR);
		} else {
			/* signed unless BADKEY/BADSIG; a BADTIME answer has our old time */
			error = knot_tsig_rdata_error(resp->tsig_rr);
			int check = knot_tsig_client_check(resp->tsig_rr, resp->wire, resp->size,
			                                   mac, mac_len, &k, 0);
			if (error == 0 || error == KNOT_RCODE_BADTIME) {
				assert_int_equal(check, error ? KNOT_TSIG_EBADTIME : KNOT_EOK);
			} else {
				assert_int_equal(knot_tsig_rdata_mac_length(resp->tsig_rr), 0);
			}
		}
		f->tsig_error = error;
		knot_pkt_free(resp);
		knot_tsig_key_deinit(&k);
	}
	return knot_wire_get_rcode(f->answer);
}

static uint16_t send_signed(fixture_t *f, const test_key_t *key)
{
	return send_at(f, key, 0);
}

static const zone_rrset_t *served(const fixture_t *f, const char *owner, uint16_t type)
{
	knot_dname_storage_t apex, name;
	knot_dname_from_str(apex, "example.com.", sizeof(apex));
	knot_dname_from_str(name, owner, sizeof(name));
	knot_dname_to_lower(name);
	const zone_node_t *n = zone_find(zone_set_get(f->served, apex), name);
	return n ? zone_node_rrset(n, type) : NULL;
}

static uint32_t serial(const fixture_t *f)
{
	return knot_soa_serial(served(f, "example.com.", KNOT_RRTYPE_SOA)->rrs.rdata);
}

#define ACME (&keys[0])
#define ADMIN (&keys[1])
#define OTHER (&keys[2])
