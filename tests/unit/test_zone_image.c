/* SPDX-License-Identifier: Apache-2.0
 * test_zone_image.c -- compiled zone images (zone/zone_image.c): a zone
 * written and loaded back is the same zone; damaged, foreign and stale
 * images are refused; versions made from a loaded zone share its block
 * safely. Run under ASan, a wild read or a bad free fails the test.
 *
 * Offsets into image_header_t used here: node_size at 24, base (the home
 * address) at 32, checksum at 40; the header is 48 bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"
#include "util/checksum.h"
#include "util/error.h"

#define HEADER_SIZE 48
#define CHECKSUM_AT 40

#define ZONE_A \
	"$TTL 300\n" \
	"@ SOA ns1 hostmaster 7 3600 900 604800 60\n" \
	"@ NS ns1\n" \
	"@ MX 10 mail\n" \
	"ns1 A 192.0.2.1\n" \
	"mail A 192.0.2.25\n" \
	"mail AAAA 2001:db8::25\n" \
	"www A 192.0.2.80\n" \
	"www A 192.0.2.81\n" \
	"www TXT \"hello\" \"world\"\n" \
	"alias CNAME www\n" \
	"*.wild A 192.0.2.99\n" \
	"a.b.c.ent TXT \"deep\"\n" \
	"sub NS ns.sub\n" \
	"ns.sub A 192.0.2.53\n" \
	"_sip._udp SRV 0 5 5060 www\n" \
	"caa CAA 0 issue \"ca.example\"\n" \
	"old DNAME example.net.\n" \
	"x TYPE65280 \\# 3 010203\n"

#define ZONE_B \
	"$TTL 60\n" \
	"@ SOA ns hostmaster 1 3600 900 604800 60\n" \
	"@ NS ns\n" \
	"ns A 198.51.100.1\n"

static char image_path[] = "/tmp/cirrus-test-image-XXXXXX";

static int setup(void **state)
{
	(void)state;
	int fd = mkstemp(image_path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(image_path);
	return 0;
}

static char *export(const zone_t *z)
{
	char *text = NULL;
	assert_int_equal(zone_export_text(z, &text), 0);
	return text;
}

static void write_image(zone_t *const *zones, size_t count)
{
	char err[256] = "";
	assert_int_equal(zone_image_write(image_path, zones, count, err, sizeof(err)), 0);
}

static int load_image(zone_t ***zones, size_t *count, char *err, size_t errlen)
{
	return zone_image_load(image_path, ZONE_IMAGE_SOURCES, zones, count, err, errlen);
}

static void free_zones(zone_t **zones, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		zone_free(zones[i]);
	}
	free(zones);
}

static uint8_t *read_file(size_t *size)
{
	FILE *f = fopen(image_path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*size = (size_t)ftell(f);
	rewind(f);
	uint8_t *buf = malloc(*size);
	assert_int_equal(fread(buf, 1, *size, f), *size);
	fclose(f);
	return buf;
}

static void put_file(const uint8_t *buf, size_t size)
{
	FILE *f = fopen(image_path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, size, f), size);
	fclose(f);
}

/* Give damaged image bytes a matching checksum, as a buggy or hostile
 * writer could: computed here independently of zone_image.c, from the
 * documented layout (the header with the checksum zeroed, then the rest). */
static void reseal(uint8_t *buf, size_t size)
{
	uint8_t header[HEADER_SIZE];
	memcpy(header, buf, sizeof(header));
	memset(header + CHECKSUM_AT, 0, sizeof(uint64_t));
	uint64_t sum = checksum64(buf + HEADER_SIZE, size - HEADER_SIZE,
	                          checksum64(header, sizeof(header), 0));
	memcpy(buf + CHECKSUM_AT, &sum, sizeof(sum));
}

/* Compile one zone to the test image and return the image's bytes. */
static uint8_t *image_bytes(const char *origin, const char *text, size_t *size)
{
	zone_t *src = must_load(origin, text);
	write_image(&src, 1);
	zone_free(src);
	return read_file(size);
}

/* Take the image's home address (a page there), so that it loads as a
 * moved copy; munmap(result, 4096) gives it back. */
static void *squat_home(const uint8_t *image)
{
	uint64_t home;
	memcpy(&home, image + 32, sizeof(home)); /* image_header_t.base */
	void *squat = mmap((void *)(uintptr_t)home, 4096, PROT_NONE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_ptr_equal(squat, (void *)(uintptr_t)home);
	return squat;
}

static void test_round_trip_is_the_same_zone(void **state)
{
	(void)state;
	zone_t *src[2] = { must_load("example.com", ZONE_A), must_load("example.org", ZONE_B) };
	write_image(src, 2);
	zone_t **got = NULL;
	size_t count = 0;
	char err[256] = "";
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), 0);
	assert_int_equal(count, 2);
	/* mapped at its home address: nothing was copied or moved */
	size_t size;
	uint8_t *head = read_file(&size);
	uint64_t home;
	memcpy(&home, head + 32, sizeof(home));
	free(head);
	assert_true((uintptr_t)got[0]->apex >= home && (uintptr_t)got[0]->apex < home + size);
	for (size_t i = 0; i < 2; i++) {
		char *want = export(src[i]), *have = export(got[i]);
		assert_string_equal(have, want);
		free(want);
		free(have);
		assert_int_equal(got[i]->node_count, src[i]->node_count);
		assert_int_equal(got[i]->record_count, src[i]->record_count);
		assert_int_equal(got[i]->cut_count, src[i]->cut_count);
		assert_int_equal(got[i]->apex->labels, src[i]->apex->labels);
	}
	/* node flags and the empty non-terminals come back too */
	knot_dname_storage_t name;
	knot_dname_from_str(name, "sub.example.com.", sizeof(name));
	const zone_node_t *sub = zone_find(got[0], name);
	assert_non_null(sub);
	assert_true(sub->flags & ZONE_NODE_NS);
	knot_dname_from_str(name, "c.ent.example.com.", sizeof(name));
	const zone_node_t *ent = zone_find(got[0], name);
	assert_non_null(ent);
	assert_int_equal(ent->rrset_count, 0);
	assert_int_equal(ent->children, 1);
	free_zones(got, count);
	zone_free(src[0]);
	zone_free(src[1]);
}

/* A version made from an image zone copies what it changes and shares the
 * rest; freeing the versions in either order frees the block once. */
static void test_versions_share_the_block(void **state)
{
	(void)state;
	zone_t *src = must_load("example.com", ZONE_A);
	write_image(&src, 1);
	zone_free(src);
	zone_t **got = NULL;
	size_t count = 0;
	char err[256] = "";
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), 0);
	zone_t *v1 = got[0];
	free(got);

	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	knot_dname_storage_t www;
	knot_dname_from_str(www, "www.example.com.", sizeof(www));
	knot_rdata_t *first = zone_node_rrset(zone_find(v1, www), KNOT_RRTYPE_A)->rrs.rdata;
	assert_int_equal(zone_update_remove_rr(u, www, KNOT_RRTYPE_A, first), 0);
	assert_int_equal(zone_update_set_serial(u, 8), 0);
	zone_t *v2 = NULL;
	assert_int_equal(zone_update_commit(u, &v2), 0);
	assert_int_equal(zone_node_rrset(zone_find(v2, www), KNOT_RRTYPE_A)->rrs.count, 1);
	assert_int_equal(zone_node_rrset(zone_find(v1, www), KNOT_RRTYPE_A)->rrs.count, 2);

	/* an aborted update releases its reference as well */
	assert_int_equal(zone_update_new(v2, &u), 0);
	zone_update_abort(u);

	zone_free(v2);   /* the newest first: v1 still reads the block */
	assert_int_equal(zone_node_rrset(zone_find(v1, www), KNOT_RRTYPE_A)->rrs.count, 2);
	zone_free(v1);
}

static void test_refuses_what_is_not_an_image(void **state)
{
	(void)state;
	FILE *f = fopen(image_path, "w");
	assert_non_null(f);
	fputs("$ORIGIN example.com.\n@ SOA ns hm 1 2 3 4 5\n", f);
	fclose(f);
	zone_t **got = NULL;
	size_t count = 0;
	char err[256] = "";
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "not a zone image"));
	assert_int_equal(zone_image_load("/nonexistent/cirrus.img", 0, &got, &count, err,
	                                 sizeof(err)), CIRRUS_EIO);
}

/* Truncations and random byte damage anywhere (header, table, padding):
 * every one is refused, by the header checks or the checksum. */
static void test_damage_never_crashes(void **state)
{
	(void)state;
	size_t size;
	uint8_t *good = image_bytes("example.com", ZONE_A, &size);
	uint8_t *bad = malloc(size);
	zone_t **got = NULL;
	size_t count = 0;
	char err[256];

	for (size_t cut = 0; cut < size; cut += 37) {
		put_file(good, cut);
		assert_int_not_equal(load_image(&got, &count, err, sizeof(err)), 0);
	}
	srandom(20261201);
	size_t refused = 0;
	for (int round = 0; round < 1000; round++) {
		memcpy(bad, good, size);
		for (int k = 0; k < 1 + round % 4; k++) {
			bad[(size_t)random() % size] ^= (uint8_t)(1 + random() % 255);
		}
		put_file(bad, size);
		if (load_image(&got, &count, err, sizeof(err)) != 0) {
			refused++;
			continue;
		}
		free_zones(got, count);
	}
	assert_int_equal(refused, 1000);
	memcpy(bad, good, size);
	bad[size / 2] ^= 1;
	put_file(bad, size);
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "damaged zone image (checksum)"));
	free(bad);
	free(good);
}

/* ZONE_IMAGE_VERIFY_LATER: an image at home loads without its checksum
 * checked, and zone_image_verify() then tells intact from damaged; a
 * moved copy is checked at load all the same. */
static void test_verify_later(void **state)
{
	(void)state;
	size_t size;
	uint8_t *good = image_bytes("example.com", ZONE_A, &size);
	zone_t **got = NULL;
	size_t count = 0;
	char err[256] = "";
	assert_int_equal(zone_image_load(image_path, ZONE_IMAGE_VERIFY_LATER, &got, &count, err,
	                                 sizeof(err)), 0);
	assert_non_null(zone_image_of(got[0]));
	assert_int_equal(zone_image_verify(zone_image_of(got[0])), 0);
	free_zones(got, count);

	uint8_t *bad = malloc(size);
	memcpy(bad, good, size);
	bad[size - 3] ^= 0x20;     /* in the source file's name: harmless to load */
	put_file(bad, size);
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), CIRRUS_EINVAL);
	assert_int_equal(zone_image_load(image_path, ZONE_IMAGE_VERIFY_LATER, &got, &count, err,
	                                 sizeof(err)), 0);
	assert_int_equal(zone_image_verify(zone_image_of(got[0])), CIRRUS_EINVAL);
	free_zones(got, count);

	void *squat = squat_home(good);
	assert_int_equal(zone_image_load(image_path, ZONE_IMAGE_VERIFY_LATER, &got, &count, err,
	                                 sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "checksum"));
	munmap(squat, 4096);
	zone_t *text = must_load("example.org", ZONE_B);
	assert_null(zone_image_of(text));
	zone_free(text);
	free(bad);
	free(good);
}

static void test_header_from_another_build_is_refused(void **state)
{
	(void)state;
	size_t size;
	uint8_t *buf = image_bytes("example.org", ZONE_B, &size);
	buf[24] ^= 0xff; /* image_header_t.node_size */
	put_file(buf, size);
	free(buf);
	zone_t **got = NULL;
	size_t count = 0;
	char err[256] = "";
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "compile again"));
}

/* When the image's home address is taken, it is read into memory elsewhere
 * and its pointers moved: the same zone. Every pointer is checked as it is
 * moved, so even damage with a forged checksum is an error or a zone, never
 * a wild read (ASan watches every read); plain damage is refused. */
static void test_home_taken_loads_a_moved_copy(void **state)
{
	(void)state;
	zone_t *src = must_load("example.com", ZONE_A);
	write_image(&src, 1);
	size_t size;
	uint8_t *buf = read_file(&size);
	void *squat = squat_home(buf);
	uint64_t home = (uintptr_t)squat;

	zone_t **got = NULL;
	size_t count = 0;
	char err[256] = "";
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), 0);
	assert_true((uintptr_t)got[0]->apex < home || (uintptr_t)got[0]->apex >= home + size);
	char *want = export(src), *have = export(got[0]);
	assert_string_equal(have, want);
	free(want);
	free(have);
	free_zones(got, count);

	srandom(7);
	size_t refused = 0, forged_refused = 0;
	for (int round = 0; round < 600; round++) {
		uint8_t *bad = malloc(size);
		memcpy(bad, buf, size);
		bad[64 + (size_t)random() % (size - 64)] ^= (uint8_t)(1 + random() % 255);
		bool forged = round % 2 == 1;
		if (forged) {
			reseal(bad, size);
		}
		put_file(bad, size);
		free(bad);
		if (load_image(&got, &count, err, sizeof(err)) == 0) {
			for (size_t i = 0; i < count; i++) {
				char *text = NULL;
				(void)zone_export_text(got[i], &text);
				free(text);
			}
			free_zones(got, count);
		} else {
			refused += !forged;
			forged_refused += forged;
		}
	}
	assert_int_equal(refused, 300);
	assert_true(forged_refused > 0);   /* the pointer checks caught some */
	munmap(squat, 4096);
	free(buf);
	zone_free(src);
}

static void test_stale_source_is_refused(void **state)
{
	(void)state;
	char zone_path[] = "/tmp/cirrus-test-image-zone-XXXXXX";
	int fd = mkstemp(zone_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ZONE_B, strlen(ZONE_B)), (ssize_t)strlen(ZONE_B));
	close(fd);
	zone_t *src = NULL;
	assert_int_equal(zone_load_file(zone_path, "example.org", NULL, NULL, &src), 0);
	write_image(&src, 1);
	zone_free(src);

	zone_t **got = NULL;
	size_t count = 0;
	char err[512] = "";
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), 0);
	free_zones(got, count);

	FILE *f = fopen(zone_path, "a");
	assert_non_null(f);
	fputs("extra A 198.51.100.2\n", f);
	fclose(f);
	assert_int_equal(load_image(&got, &count, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "changed after the image was compiled"));
	/* without the check it loads, as compiled */
	assert_int_equal(zone_image_load(image_path, 0, &got, &count, err, sizeof(err)), 0);
	free_zones(got, count);
	unlink(zone_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_is_the_same_zone),
		cmocka_unit_test(test_versions_share_the_block),
		cmocka_unit_test(test_refuses_what_is_not_an_image),
		cmocka_unit_test(test_damage_never_crashes),
		cmocka_unit_test(test_verify_later),
		cmocka_unit_test(test_header_from_another_build_is_refused),
		cmocka_unit_test(test_home_taken_loads_a_moved_copy),
		cmocka_unit_test(test_stale_source_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
