/* SPDX-License-Identifier: Apache-2.0
 * fuzz_engine.c -- libFuzzer target for engine_handle(): every input is a
 * DNS message, answered over UDP and over TCP from a fixed zone set loaded
 * once. An ENGINE_SEND answer must parse with libknot, carry the query's ID
 * with QR set, and fit the transport's size limit. Sanitizers catch the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libknot/libknot.h>

#include "engine/engine.h"
#include "util/arena.h"
#include "zone/zone.h"

/* Apex example.com: CNAME chains (in zone, into the child zone, out of the
 * served zones, to NXDOMAIN, a loop), DNAME (in zone, to the child, one that
 * overflows a long qname), wildcards (plain, CNAME, below an ENT), a
 * delegation with glue and DS, one without glue, MX/SRV with targets in
 * and out of the zone, and an RRset too big for 512 bytes. */
static const char zone_parent[] =
	"$TTL 300\n"
	"@ 3600 SOA ns1 hostmaster 2024010101 3600 900 604800 60\n"
	"@ NS ns1\n"
	"@ NS ns2.example.net.\n"
	"@ MX 10 mail\n"
	"@ MX 20 mx.example.net.\n"
	"@ A 192.0.2.1\n"
	"@ AAAA 2001:db8::1\n"
	"ns1 A 192.0.2.2\n"
	"ns1 AAAA 2001:db8::2\n"
	"mail A 192.0.2.25\n"
	"www A 192.0.2.80\n"
	"www AAAA 2001:db8::80\n"
	"WwW.Mixed A 192.0.2.81\n"
	"alias CNAME www\n"
	"chain CNAME alias\n"
	"tochild CNAME www.sub\n"
	"out CNAME www.example.net.\n"
	"dangling CNAME nothing-here\n"
	"loop1 CNAME loop2\n"
	"loop2 CNAME loop1\n"
	"self CNAME self\n"
	"_sip._udp SRV 10 60 5060 sip\n"
	"_sip._udp SRV 20 0 5060 sip.example.net.\n"
	"sip A 192.0.2.60\n"
	"a.b.c.ent A 192.0.2.3\n"
	"* TXT \"apex wildcard\"\n"
	"*.wild A 192.0.2.42\n"
	"*.wild MX 5 mail\n"
	"*.cw CNAME www\n"
	"*.x.ent A 192.0.2.43\n"
	"deleg NS ns.deleg\n"
	"deleg NS ns.example.net.\n"
	"deleg DS 12345 13 2 "
	"3e8a0a0cdba9a2d2c0b3f0c8ba4d8d5b0a1c56e1b2c3d4e5f60718293a4b5c6d\n"
	"ns.deleg A 192.0.2.53\n"
	"ns.deleg AAAA 2001:db8::53\n"
	"noglue NS ns.example.net.\n"
	"sub NS ns.sub\n"
	"ns.sub A 192.0.2.54\n"
	"old DNAME new\n"
	"x.new A 192.0.2.99\n"
	"tosub DNAME sub\n"
	"long DNAME "
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.\n"
	"txt TXT \"v=spf1 -all\"\n"
	"caa CAA 0 issue \"ca.example.net\"\n"
	"gen TYPE65280 \\# 4 01020304\n";

static const char zone_child[] =
	"$TTL 600\n"
	"@ SOA ns.sub.example.com. hostmaster.example.com. 1 3600 900 604800 120\n"
	"@ NS ns.sub.example.com.\n"
	"ns A 192.0.2.54\n"
	"www A 192.0.2.55\n"
	"back CNAME www.example.com.\n"
	"*.w CNAME back\n";

static zone_set_t *zones;
static engine_conf_t conf_plain;
static engine_conf_t conf_full;
static arena_t arena;
static uint8_t answer[KNOT_WIRE_MAX_PKTSIZE];

static void diag_print(void *ctx, zone_diag_level_t level, const char *file,
                       uint64_t line, const char *reason)
{
	(void)ctx;
	fprintf(stderr, "%s:%llu: %s: %s\n", file, (unsigned long long)line,
	        level == ZONE_DIAG_ERROR ? "error" : "warning", reason);
}

static zone_t *load_text(const char *origin, const char *text)
{
	char path[] = "/tmp/cirrus-fuzz-zone-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		abort();
	}
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len) {
		perror("write");
		abort();
	}
	close(fd);
	zone_t *zone = NULL;
	int rc = zone_load_file(path, origin, diag_print, NULL, &zone);
	unlink(path);
	if (rc != 0 || zone == NULL) {
		fprintf(stderr, "fuzz_engine: zone %s did not load (%d)\n", origin, rc);
		abort();
	}
	return zone;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	zone_t *loaded[2] = {
		load_text("example.com", zone_parent),
		load_text("sub.example.com", zone_child),
	};
	if (zone_set_new(loaded, 2, &zones) != 0) {
		fprintf(stderr, "fuzz_engine: zone_set_new failed\n");
		abort();
	}
	engine_conf_init(&conf_plain);
	engine_conf_init(&conf_full);
	static const uint8_t nsid[] = "fuzz-nsid";
	conf_full.nsid = nsid;
	conf_full.nsid_len = sizeof(nsid) - 1;
	conf_full.identity = "fuzz.example";
	conf_full.version = "cirrus-fuzz";
	conf_full.udp_payload = 4096;
	arena_init(&arena, 16384);
	return 0;
}

static void check_answer(const uint8_t *query, size_t answer_len, size_t limit)
{
	if (answer_len < KNOT_WIRE_HEADER_SIZE || answer_len > limit) {
		fprintf(stderr, "fuzz_engine: answer of %zu bytes (limit %zu)\n",
		        answer_len, limit);
		abort();
	}
	if (knot_wire_get_id(answer) != knot_wire_get_id(query)) {
		fprintf(stderr, "fuzz_engine: answer ID %04x, query ID %04x\n",
		        knot_wire_get_id(answer), knot_wire_get_id(query));
		abort();
	}
	if (!knot_wire_get_qr(answer)) {
		fprintf(stderr, "fuzz_engine: answer without QR\n");
		abort();
	}
	/* Parse an exact-size heap copy so that ASan flags any read past the
	 * answer's end. */
	uint8_t *copy = malloc(answer_len);
	if (copy == NULL) {
		abort();
	}
	memcpy(copy, answer, answer_len);
	knot_pkt_t *pkt = knot_pkt_new(copy, (uint16_t)answer_len, NULL);
	if (pkt == NULL) {
		abort();
	}
	int rc = knot_pkt_parse(pkt, 0);
	if (rc != KNOT_EOK) {
		fprintf(stderr, "fuzz_engine: answer does not parse: %s\n", knot_strerror(rc));
		abort();
	}
	knot_pkt_free(pkt);
	free(copy);
}

static void run(const engine_conf_t *conf, engine_transport_t transport,
                const uint8_t *data, size_t size)
{
	engine_query_t q = { .transport = transport, .remote = NULL };
	size_t max = transport == ENGINE_TRANSPORT_TCP ? sizeof(answer) : 4096;
	size_t answer_len = 0;
	engine_action_t action = engine_handle(zones, conf, &q, data, size, answer, max,
	                                       &answer_len, &arena);
	if (action == ENGINE_SEND) {
		size_t limit = max;
		if (transport == ENGINE_TRANSPORT_UDP) {
			/* RFC 6891 6.2.5: never more than our own payload size,
			 * and 512 is always allowed. */
			limit = conf->udp_payload > KNOT_WIRE_MIN_PKTSIZE ?
			        conf->udp_payload : KNOT_WIRE_MIN_PKTSIZE;
		}
		check_answer(data, answer_len, limit);
	} else if (action != ENGINE_DROP) {
		fprintf(stderr, "fuzz_engine: unknown action %d\n", (int)action);
		abort();
	}
	arena_reset(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The engine must not read past size: hand it an exact-size copy so
	 * ASan sees any overread. */
	uint8_t *query = malloc(size ? size : 1);
	if (query == NULL) {
		return 0;
	}
	memcpy(query, data, size);
	run(&conf_plain, ENGINE_TRANSPORT_UDP, query, size);
	run(&conf_plain, ENGINE_TRANSPORT_TCP, query, size);
	run(&conf_full, ENGINE_TRANSPORT_UDP, query, size);
	run(&conf_full, ENGINE_TRANSPORT_TCP, query, size);
	free(query);
	return 0;
}
