/* SPDX-License-Identifier: Apache-2.0
 * test_update.c -- RFC 2136 UPDATE through the control plane over a real
 * SQLite store: every prerequisite type, every kind of change with the
 * special cases of 3.4.2, FORMERR/NOTZONE/NOTAUTH, one serial step and one
 * audit row per update. TSIG and rules: test_update_auth.c.
 */
#include "update_fixture.h"

#include "ctl/ctl_update.h"

#define P KNOT_ANSWER      /* prerequisite section */
#define U KNOT_AUTHORITY   /* update section */
#define IN KNOT_CLASS_IN
#define NONE KNOT_CLASS_NONE
#define ANY KNOT_CLASS_ANY

/* A prerequisite alone (with a harmless change): its rcode. */
static uint16_t prereq(fixture_t *f, const char *owner, uint16_t rclass, const char *type,
                       uint32_t ttl, const char *rdata)
{
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	msg_rr(f, P, owner, rclass, type, ttl, rdata);
	msg_rr(f, U, "flag.example.com.", IN, "TXT", 60, "\"ran\"");
	uint32_t before = serial(f);
	uint16_t rcode = send_signed(f, ADMIN);
	bool ran = served(f, "flag.example.com.", KNOT_RRTYPE_TXT) != NULL;
	assert_int_equal(ran, rcode == KNOT_RCODE_NOERROR);
	assert_int_equal(serial(f), before + (ran ? 1 : 0));
	if (ran) { /* back to the start for the next prerequisite */
		msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
		msg_rr(f, U, "flag.example.com.", ANY, "ANY", 0, NULL);
		assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	}
	return rcode;
}

static void test_prerequisites(void **state)
{
	fixture_t *f = *state;
	/* 2.4.4 name is in use, 2.4.5 name is not in use */
	assert_int_equal(prereq(f, "www.example.com.", ANY, "ANY", 0, NULL), KNOT_RCODE_NOERROR);
	assert_int_equal(prereq(f, "nx.example.com.", ANY, "ANY", 0, NULL), KNOT_RCODE_NXDOMAIN);
	assert_int_equal(prereq(f, "b.example.com.", ANY, "ANY", 0, NULL), KNOT_RCODE_NXDOMAIN);
	assert_int_equal(prereq(f, "WWW.example.com.", NONE, "ANY", 0, NULL), KNOT_RCODE_YXDOMAIN);
	assert_int_equal(prereq(f, "nx.example.com.", NONE, "ANY", 0, NULL), KNOT_RCODE_NOERROR);
	/* 2.4.1 RRset exists (value independent), 2.4.3 RRset does not exist */
	assert_int_equal(prereq(f, "www.example.com.", ANY, "A", 0, NULL), KNOT_RCODE_NOERROR);
	assert_int_equal(prereq(f, "www.example.com.", ANY, "AAAA", 0, NULL), KNOT_RCODE_NXRRSET);
	assert_int_equal(prereq(f, "www.example.com.", NONE, "A", 0, NULL), KNOT_RCODE_YXRRSET);
	assert_int_equal(prereq(f, "www.example.com.", NONE, "AAAA", 0, NULL), KNOT_RCODE_NOERROR);
	/* 2.4.2 RRset exists (value dependent), names compared in canonical form */
	assert_int_equal(prereq(f, "www.example.com.", IN, "A", 0, "192.0.2.1"),
	                 KNOT_RCODE_NOERROR);
	assert_int_equal(prereq(f, "alias.example.com.", IN, "CNAME", 0, "WWW.Example.COM."),
	                 KNOT_RCODE_NOERROR);
	assert_int_equal(prereq(f, "www.example.com.", IN, "A", 0, "192.0.2.2"),
	                 KNOT_RCODE_NXRRSET);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* more records than the zone has */
	msg_rr(f, P, "www.example.com.", IN, "A", 0, "192.0.2.1");
	msg_rr(f, P, "www.example.com.", IN, "A", 0, "192.0.2.9");
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NXRRSET);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* both apex NS, in another order */
	msg_rr(f, P, "example.com.", IN, "NS", 0, "ns2.example.net.");
	msg_rr(f, P, "example.com.", IN, "NS", 0, "ns1.example.net.");
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	/* malformed prerequisites */
	assert_int_equal(prereq(f, "www.example.com.", ANY, "A", 300, NULL), KNOT_RCODE_FORMERR);
	assert_int_equal(prereq(f, "www.example.com.", ANY, "A", 0, "192.0.2.1"),
	                 KNOT_RCODE_FORMERR);
	assert_int_equal(prereq(f, "www.example.com.", KNOT_CLASS_CH, "A", 0, NULL),
	                 KNOT_RCODE_FORMERR);
	assert_int_equal(prereq(f, "www.example.org.", ANY, "A", 0, NULL), KNOT_RCODE_NOTZONE);
}

static void test_add_and_delete(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* 2.5.1 add, to a new and an old RRset */
	msg_rr(f, U, "new.example.com.", IN, "A", 120, "192.0.2.10");
	msg_rr(f, U, "new.example.com.", IN, "A", 120, "192.0.2.11");
	msg_rr(f, U, "www.example.com.", IN, "A", 120, "192.0.2.1"); /* already there */
	msg_rr(f, U, "www.example.com.", IN, "TXT", 120, "\"hello\"");
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_int_equal(served(f, "new.example.com.", KNOT_RRTYPE_A)->rrs.count, 2);
	assert_int_equal(served(f, "www.example.com.", KNOT_RRTYPE_A)->rrs.count, 1);
	assert_int_equal(serial(f), start + 1);

	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* 2.5.4 delete an RR */
	msg_rr(f, U, "new.example.com.", NONE, "A", 0, "192.0.2.10");
	msg_rr(f, U, "new.example.com.", NONE, "A", 0, "192.0.2.99"); /* not there */
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_int_equal(served(f, "new.example.com.", KNOT_RRTYPE_A)->rrs.count, 1);

	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* 2.5.2 delete an RRset */
	msg_rr(f, U, "www.example.com.", ANY, "TXT", 0, NULL);
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_null(served(f, "www.example.com.", KNOT_RRTYPE_TXT));
	assert_non_null(served(f, "www.example.com.", KNOT_RRTYPE_A));

	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* 2.5.3 delete all RRsets of a name */
	msg_rr(f, U, "new.example.com.", ANY, "ANY", 0, NULL);
	msg_rr(f, U, "a.b.example.com.", ANY, "ANY", 0, NULL);
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_null(served(f, "new.example.com.", KNOT_RRTYPE_A));
	assert_null(served(f, "a.b.example.com.", KNOT_RRTYPE_A));
	assert_int_equal(serial(f), start + 4);

	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* nothing to do: the serial stays */
	msg_rr(f, U, "nx.example.com.", ANY, "A", 0, NULL);
	msg_rr(f, U, "www.example.com.", NONE, "A", 0, "192.0.2.200");
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_int_equal(serial(f), start + 4);
}

static void test_apex_soa_and_cname_rules(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	char soa[128];
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* none of these may happen */
	msg_rr(f, U, "example.com.", ANY, "SOA", 0, NULL);
	msg_rr(f, U, "example.com.", ANY, "NS", 0, NULL);
	msg_rr(f, U, "example.com.", ANY, "ANY", 0, NULL);
	snprintf(soa, sizeof(soa), "ns1.example.net. h.example.com. %u 1 1 1 1", start);
	msg_rr(f, U, "example.com.", IN, "SOA", 300, soa); /* serial not newer */
	msg_rr(f, U, "alias.example.com.", IN, "A", 300, "192.0.2.5"); /* next to a CNAME */
	msg_rr(f, U, "www.example.com.", IN, "CNAME", 300, "example.net."); /* next to data */
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_int_equal(serial(f), start);
	assert_int_equal(served(f, "example.com.", KNOT_RRTYPE_NS)->rrs.count, 2);
	assert_null(served(f, "alias.example.com.", KNOT_RRTYPE_A));
	assert_null(served(f, "www.example.com.", KNOT_RRTYPE_CNAME));

	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* the last apex NS stays */
	msg_rr(f, U, "example.com.", NONE, "NS", 0, "ns1.example.net.");
	msg_rr(f, U, "example.com.", NONE, "NS", 0, "ns2.example.net.");
	msg_rr(f, U, "alias.example.com.", IN, "CNAME", 300, "mail.example.net."); /* replaced */
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_int_equal(served(f, "example.com.", KNOT_RRTYPE_NS)->rrs.count, 1);
	const zone_rrset_t *cname = served(f, "alias.example.com.", KNOT_RRTYPE_CNAME);
	assert_int_equal(cname->rrs.count, 1);
	assert_int_equal(serial(f), start + 1);

	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* a newer SOA replaces the old one */
	snprintf(soa, sizeof(soa), "ns9.example.net. admin.example.com. %u 7200 600 86400 60",
	         start + 100);
	msg_rr(f, U, "example.com.", IN, "SOA", 600, soa);
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	const zone_rrset_t *s = served(f, "example.com.", KNOT_RRTYPE_SOA);
	assert_int_equal(s->ttl, 600);
	assert_int_equal(knot_soa_refresh(s->rrs.rdata), 7200);
	/* the serial policy still moves it once past the client's serial */
	assert_int_equal(serial(f), start + 101);
}

static void test_format_errors(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	msg_new(f, "example.com.", KNOT_RRTYPE_A); /* zone section not SOA */
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_FORMERR);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	knot_wire_set_qdcount(f->msg->wire, 0); /* no zone section */
	f->msg->size = KNOT_WIRE_HEADER_SIZE;
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_FORMERR);
	assert_int_equal(f->answer_len > KNOT_WIRE_HEADER_SIZE, true); /* signed anyway */

	struct { uint16_t rclass; const char *type; uint32_t ttl; const char *rdata; } bad[] = {
		{ KNOT_CLASS_CH, "A", 0, "192.0.2.1" },   /* no such class for updates */
		{ IN, "ANY", 0, NULL },                   /* meta type added */
		{ IN, "A", 60, NULL },                    /* empty rdata added */
		{ ANY, "A", 60, NULL },                   /* delete with a TTL */
		{ ANY, "A", 0, "192.0.2.1" },             /* delete RRset with rdata */
		{ NONE, "ANY", 0, NULL },                 /* delete RR of type ANY */
		{ NONE, "A", 60, "192.0.2.1" },           /* delete RR with a TTL */
		{ ANY, "AXFR", 0, NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
		msg_rr(f, U, "ok.example.com.", IN, "A", 60, "192.0.2.3");
		msg_rr(f, U, "www.example.com.", bad[i].rclass, bad[i].type, bad[i].ttl,
		       bad[i].rdata);
		assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_FORMERR);
	}
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	msg_rr(f, U, "ok.example.com.", IN, "A", 60, "192.0.2.3");
	msg_rr(f, U, "www.example.net.", IN, "A", 60, "192.0.2.3");
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOTZONE);
	assert_null(served(f, "ok.example.com.", KNOT_RRTYPE_A));
	assert_int_equal(serial(f), start);

	msg_new(f, "example.org.", KNOT_RRTYPE_SOA); /* a zone we do not serve */
	msg_rr(f, U, "www.example.org.", IN, "A", 60, "192.0.2.3");
	assert_int_equal(send_signed(f, OTHER), KNOT_RCODE_NOTAUTH);
	msg_new(f, "www.example.com.", KNOT_RRTYPE_SOA); /* inside ours, not an apex */
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOTAUTH);

	/* a response is dropped, a short message too */
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	knot_wire_set_qr(f->msg->wire);
	assert_int_equal(ctl_update_handle(f->ctl, f->msg->wire, f->msg->size, NULL, f->answer,
	                                   sizeof(f->answer), &f->answer_len), CIRRUS_EINVAL);
	assert_int_equal(ctl_update_handle(f->ctl, f->msg->wire, 5, NULL, f->answer,
	                                   sizeof(f->answer), &f->answer_len), CIRRUS_EINVAL);
}

/* Records whose layout libknot's parser leaves unchecked are checked before
 * they are stored (the fuzzer found an NSEC3 that crashed the audit dump). */
static void test_record_layouts(void **state)
{
	fixture_t *f = *state;
	struct { const char *type, *rdata; uint16_t rcode; } cases[] = {
		{ "DS", "\\# 2 0001", KNOT_RCODE_FORMERR },           /* no algorithm, digest */
		{ "TXT", "\\# 4 05616263", KNOT_RCODE_FORMERR },      /* string runs past the end */
		{ "HINFO", "\\# 4 03616263", KNOT_RCODE_FORMERR },    /* one string of two */
		{ "CAA", "\\# 3 000061", KNOT_RCODE_FORMERR },        /* empty tag */
		{ "NSEC3", "1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S A", KNOT_RCODE_REFUSED },
		{ "APL", "1:192.0.2.0/24", KNOT_RCODE_REFUSED },
		{ "TXT", "\"a\" \"\" \"c\"", KNOT_RCODE_NOERROR },
		{ "CAA", "0 issue \"ca.example.net\"", KNOT_RCODE_NOERROR },
		{ "TLSA", "3 1 1 0123456789abcdef", KNOT_RCODE_NOERROR },
		{ "TYPE65534", "\\# 3 010203", KNOT_RCODE_NOERROR },   /* unknown: opaque */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
		msg_rr(f, U, "rec.example.com.", IN, cases[i].type, 60, cases[i].rdata);
		assert_int_equal(send_signed(f, ADMIN), cases[i].rcode);
	}
	assert_non_null(served(f, "rec.example.com.", 65534));
	assert_int_equal(served(f, "rec.example.com.", KNOT_RRTYPE_TXT)->rrs.count, 1);
}

/* Whatever the check accepts, libknot can print (audit, journal, export):
 * random rdata of every type below 300, parsed as a request's would be. */
static void test_accepted_records_print(void **state)
{
	(void)state;
	static uint8_t wire[128];
	static char text[65536];
	ctl_upd_t upd = { 0 }; /* the root zone: every owner is in it */
	srand(2136);
	for (uint16_t type = 1; type < 300; type++) {
		for (int n = 0; n < 300 && !ctl_upd_is_meta(type); n++) {
			size_t len = (size_t)(rand() % 40);
			uint8_t head[] = { 0, type >> 8, type & 0xff, 0, 1, 0, 0, 0, 0, 0, len };
			memcpy(wire, head, sizeof(head));
			for (size_t i = 0; i < len; i++) {
				wire[sizeof(head) + i] = rand() % 4 ? (uint8_t)rand() : (uint8_t)(rand() % 8);
			}
			size_t pos = 0;
			knot_rrset_t rr;
			knot_rrset_init_empty(&rr);
			if (knot_rrset_rr_from_wire(wire, &pos, sizeof(head) + len, &rr, NULL,
			                            true) != KNOT_EOK) {
				continue;
			}
			if (ctl_upd_prescan(&upd, rr.owner, &rr, rr.rrs.rdata) == KNOT_RCODE_NOERROR) {
				assert_true(knot_rrset_txt_dump_data(&rr, 0, text, sizeof(text),
				                                     &KNOT_DUMP_STYLE_DEFAULT) >= 0);
			}
			knot_rrset_clear(&rr, NULL);
		}
	}
}

static int audit_row(void *ctx, const store_audit_t *row)
{
	char *out = ctx;
	snprintf(out, 256, "%s %s %s", row->actor, row->action, row->zone);
	return 0;
}

static void test_one_serial_one_audit_row(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	store_t *st = ctl_store_lock(f->ctl);
	int journal = store_journal_count(st, "example.com.");
	ctl_store_unlock(f->ctl);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	msg_rr(f, P, "www.example.com.", ANY, "A", 0, NULL);
	msg_rr(f, U, "one.example.com.", IN, "A", 60, "192.0.2.1");
	msg_rr(f, U, "two.example.com.", IN, "AAAA", 60, "2001:db8::2");
	msg_rr(f, U, "www.example.com.", ANY, "A", 0, NULL);
	assert_int_equal(send_signed(f, ADMIN), KNOT_RCODE_NOERROR);
	assert_int_equal(serial(f), start + 1);
	char row[256] = "";
	store_audit_filter_t filter = { .zone = "example.com.", .limit = 1 };
	st = ctl_store_lock(f->ctl);
	assert_int_equal(store_audit_list(st, &filter, audit_row, row), 0);
	assert_int_equal(store_journal_count(st, "example.com."), journal + 1);
	ctl_store_unlock(f->ctl);
	assert_string_equal(row, "admin update example.com.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prerequisites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apex_soa_and_cname_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_layouts, setup, teardown),
		cmocka_unit_test(test_accepted_records_print),
		cmocka_unit_test_setup_teardown(test_one_serial_one_audit_row, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
