/* SPDX-License-Identifier: Apache-2.0
 * zone_image.c -- compiled zone images (`cirrus zone compile`): loaded zones
 * written out in the in-memory layout of zone_t, so that a start maps the
 * file and uses it as it is -- no parsing, no hashing, no per-node malloc,
 * and no copy: the pages are the page cache's, shared by every process that
 * maps the image.
 *
 * Layout (host byte order; every part 8-byte aligned):
 *   image_header_t
 *   image_zone_t[zone_count]                     (offsets from the file start)
 *   per zone: the node table, then each node (zone_node_t and its owner),
 *   its zone_rrset_t array and its rdata.
 * Pointers inside the table, the nodes and the RRsets are written as they
 * will be when the file is mapped at its home address (header.base, picked
 * at random per image in a range programs leave alone). The loader maps the
 * file there (MAP_FIXED_NOREPLACE, read-only); when that address is taken,
 * it reads the file into memory elsewhere and moves every pointer by the
 * difference. The header records the struct sizes it was written with
 * (another build's image is refused) and a checksum of the whole file
 * (util/checksum.c), checked at every load (function mode checks it just
 * after it starts answering: ZONE_IMAGE_VERIFY_LATER): a damaged image is
 * an error.
 * At home the pointers are then used as written -- the image is trusted
 * like the binary and the configuration, and walking every node to check
 * them took a tenth of a function's 10k-record cold start. A moved copy is
 * walked anyway to move its pointers, and there each pointer is also
 * checked against the image's bounds and each RRset's records must fill
 * exactly its byte count, so that path never reads wild even from an image
 * whose checksum was forged to match.
 *
 * A loaded zone's nodes and table live inside the image (ZONE_NODE_IMAGE):
 * they are never freed one by one; every version of the zone that may share
 * them holds a reference on the image (zone->image), the last one unmaps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/checksum.h"
#include "util/error.h"
#include "zone/zone_internal.h"

#define IMAGE_MAGIC "CIRRUSZI"
#define IMAGE_VERSION 3
#define IMAGE_ALIGN 8

/* Home addresses: one of 64 slots of 1 TiB from 17 TiB up: above
 * AddressSanitizer's shadow memory (which ends just past 16 TiB), below where
 * Linux puts PIE executables and their heap (about 85 TiB) and far below
 * the mmap area near 128 TiB. */
#define IMAGE_HOME_FIRST 0x110000000000ULL
#define IMAGE_HOME_SLOT 0x10000000000ULL
#define IMAGE_HOME_SLOTS 64

/* Node flags an image keeps (ZONE_NODE_POLICY belongs to a version with
 * policies attached, which the image does not hold). */
#define NODE_FLAGS_KEPT (ZONE_NODE_NS | ZONE_NODE_DNAME | ZONE_NODE_CNAME)

typedef struct image_header {
	char magic[8];
	uint32_t version;
	uint32_t zone_count;
	uint64_t size;              /*!< bytes in the file */
	uint16_t node_size;         /*!< sizeof(zone_node_t) of the writer */
	uint16_t rrset_size;        /*!< sizeof(zone_rrset_t) */
	uint16_t pointer_size;
	uint16_t byte_order;        /*!< 0x0102 as written */
	uint64_t base;              /*!< home address the pointers are written for */
	uint64_t checksum;          /*!< image_checksum() of the file */
} image_header_t;

typedef struct image_zone {
	uint64_t table;             /*!< offset of table_mask + 1 uint64 offsets */
	uint64_t table_mask;
	uint64_t node_count;
	uint64_t record_count;
	uint64_t cut_count;
	uint64_t apex;              /*!< offset of the apex node */
	uint64_t source;            /*!< offset of the NUL-terminated file name, 0 = none */
	int64_t source_mtime_ns;    /*!< of the source when compiled */
	uint64_t source_size;
} image_zone_t;

struct zone_image {
	uint8_t *base;              /*!< where the image is */
	size_t size;
	uintptr_t home;             /*!< where its pointers say it is */
	bool mapped;                /*!< a read-only file mapping, else a private copy */
	uint32_t refs;              /*!< atomic: versions may die on other threads */
};

static size_t align_up(size_t n)
{
	return (n + IMAGE_ALIGN - 1) & ~(size_t)(IMAGE_ALIGN - 1);
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

/* The checksum of a whole image: the header with its checksum field zeroed,
 * then everything after it. */
static uint64_t image_checksum(const uint8_t *image, size_t size)
{
	image_header_t h;
	memcpy(&h, image, sizeof(h));
	h.checksum = 0;
	return checksum64(image + sizeof(h), size - sizeof(h), checksum64(&h, sizeof(h), 0));
}

/* Writing ---------------------------------------------------------------- */

/* Bytes one node takes in the image: itself, its RRsets, their rdata. */
static size_t node_image_size(const zone_node_t *n)
{
	size_t size = align_up(sizeof(*n) + n->owner_size);
	size += align_up(n->rrset_count * sizeof(zone_rrset_t));
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		size += align_up(n->rrsets[i].rrs.size);
	}
	return size;
}

/* The image being written: its buffer and its home address. */
typedef struct image_out {
	uint8_t *buf;
	uintptr_t home;
} image_out_t;

/* What a pointer to buf + at will be once the image is mapped at home. */
static void *home_ptr(const image_out_t *o, size_t at)
{
	return (void *)(o->home + at);
}

/* Copy node n to the image at `at`; return the offset after it. */
static size_t put_node(const image_out_t *o, size_t at, const zone_node_t *n)
{
	zone_node_t *out = (zone_node_t *)(o->buf + at);
	memcpy(out, n, sizeof(*n) + n->owner_size);
	out->flags = (n->flags & NODE_FLAGS_KEPT) | ZONE_NODE_IMAGE;
	size_t next = align_up(at + sizeof(*n) + n->owner_size);
	if (n->rrset_count == 0) {
		out->rrsets = NULL;
		return next;
	}
	out->rrsets = home_ptr(o, next);
	zone_rrset_t *rs = (zone_rrset_t *)(o->buf + next);
	next = align_up(next + n->rrset_count * sizeof(zone_rrset_t));
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		rs[i] = n->rrsets[i];
		memcpy(o->buf + next, n->rrsets[i].rrs.rdata, n->rrsets[i].rrs.size);
		rs[i].rrs.rdata = home_ptr(o, next);
		next = align_up(next + n->rrsets[i].rrs.size);
	}
	return next;
}

/* The zone's source file as the image records it: absolute, so that the
 * loader can check it from any directory. NULL for zones without a file. */
static char *image_source(const zone_t *z)
{
	if (z->source == NULL) {
		return NULL;
	}
	char *abs = realpath(z->source, NULL);
	return abs != NULL ? abs : strdup(z->source);
}

/* Size of one zone's part: table, nodes, source name. */
static size_t zone_image_part(const zone_t *z)
{
	size_t size = (z->table_mask + 1) * sizeof(void *);
	for (size_t i = 0; i <= z->table_mask; i++) {
		if (zone_slot(z, i) != NULL) {
			size += node_image_size(zone_slot(z, i));
		}
	}
	char *source = image_source(z);
	size += source != NULL ? align_up(strlen(source) + 1) : 0;
	free(source);
	return size;
}

/* Lay zone z out at `at`; fill its descriptor; return the end. */
static size_t put_zone(const image_out_t *o, size_t at, const zone_t *z, image_zone_t *d)
{
	void **table = (void **)(o->buf + at);
	size_t slots = z->table_mask + 1;
	*d = (image_zone_t){
		.table = at, .table_mask = z->table_mask, .node_count = z->node_count,
		.record_count = z->record_count, .cut_count = z->cut_count,
	};
	size_t next = at + slots * sizeof(void *);
	for (size_t i = 0; i < slots; i++) {
		const zone_node_t *n = zone_slot(z, i);
		table[i] = n != NULL ? home_ptr(o, next) : NULL;
		if (n == z->apex) {
			d->apex = next;
		}
		if (n != NULL) {
			next = put_node(o, next, n);
		}
	}
	char *source = image_source(z);
	if (source != NULL) {
		struct stat st;
		if (stat(source, &st) == 0) {
			d->source_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			d->source_size = (uint64_t)st.st_size;
		}
		d->source = next;
		strcpy((char *)o->buf + next, source);
		next = align_up(next + strlen(source) + 1);
		free(source);
	}
	return next;
}

static int write_all(const char *path, const uint8_t *buf, size_t size, char *err,
                     size_t errlen)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		return fail(err, errlen, CIRRUS_EINVAL, "%s: path too long", path);
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		return fail(err, errlen, CIRRUS_EIO, "%s: %s", tmp, strerror(errno));
	}
	size_t done = 0;
	while (done < size) {
		ssize_t w = write(fd, buf + done, size - done);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return fail(err, errlen, CIRRUS_EIO, "%s: %s", tmp, strerror(e));
		}
		done += (size_t)w;
	}
	/* Readers see the old image or the whole new one, never a part. */
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return fail(err, errlen, CIRRUS_EIO, "%s: %s", path, strerror(e));
	}
	return 0;
}

int zone_image_write(const char *path, zone_t *const *zones, size_t count, char *err,
                     size_t errlen)
{
	size_t size = align_up(sizeof(image_header_t) + count * sizeof(image_zone_t));
	for (size_t i = 0; i < count; i++) {
		size += zone_image_part(zones[i]);
	}
	if (size > IMAGE_HOME_SLOT) {
		return fail(err, errlen, CIRRUS_ELIMIT, "an image of %zu bytes is too large", size);
	}
	/* A random home, so that two images rarely want the same one. */
	uint8_t slot = 0;
	if (getrandom(&slot, 1, 0) != 1) {
		slot = (uint8_t)time(NULL);
	}
	image_out_t o = {
		.buf = calloc(1, size),
		.home = IMAGE_HOME_FIRST + (slot % IMAGE_HOME_SLOTS) * IMAGE_HOME_SLOT,
	};
	if (o.buf == NULL) {
		return fail(err, errlen, CIRRUS_ENOMEM, "out of memory for a %zu-byte image", size);
	}
	image_header_t *h = (image_header_t *)o.buf;
	*h = (image_header_t){
		.version = IMAGE_VERSION, .zone_count = (uint32_t)count, .size = size,
		.node_size = sizeof(zone_node_t), .rrset_size = sizeof(zone_rrset_t),
		.pointer_size = sizeof(void *), .byte_order = 0x0102, .base = o.home,
	};
	memcpy(h->magic, IMAGE_MAGIC, sizeof(h->magic));
	image_zone_t *d = (image_zone_t *)(o.buf + sizeof(*h));
	size_t at = align_up(sizeof(*h) + count * sizeof(image_zone_t));
	for (size_t i = 0; i < count; i++) {
		at = put_zone(&o, at, zones[i], &d[i]);
	}
	h->checksum = image_checksum(o.buf, size);
	int r = write_all(path, o.buf, size, err, errlen);
	free(o.buf);
	return r;
}

/* Loading ---------------------------------------------------------------- */

/* A private, writable copy of the file, for when its home is taken. */
static uint8_t *copy_image(int fd, size_t size)
{
	uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE,
	                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (base == MAP_FAILED) {
		return NULL;
	}
	for (size_t done = 0; done < size;) {
		ssize_t r = pread(fd, base + done, size - done, (off_t)done);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			munmap(base, size);
			return NULL;
		}
		done += (size_t)r;
	}
	return base;
}

static int check_header(const image_header_t *h, size_t size, const char *path, char *err,
                        size_t errlen)
{
	if (memcmp(h->magic, IMAGE_MAGIC, sizeof(h->magic)) != 0) {
		return fail(err, errlen, CIRRUS_EINVAL, "%s: not a zone image", path);
	}
	if (h->version != IMAGE_VERSION || h->byte_order != 0x0102 ||
	    h->node_size != sizeof(zone_node_t) || h->rrset_size != sizeof(zone_rrset_t) ||
	    h->pointer_size != sizeof(void *)) {
		return fail(err, errlen, CIRRUS_EINVAL,
		            "%s: zone image from another version or machine; "
		            "run cirrus zone compile again", path);
	}
	if (h->size != size || size > IMAGE_HOME_SLOT || h->base % IMAGE_HOME_SLOT != 0 ||
	    sizeof(*h) + (uint64_t)h->zone_count * sizeof(image_zone_t) > size) {
		return fail(err, errlen, CIRRUS_EINVAL, "%s: truncated or damaged zone image", path);
	}
	return 0;
}

/* Map the image at its home, read-only and shared with the page cache; or,
 * when something else is there, copy it anywhere (its pointers then need
 * moving: img->base != img->home). */
static int open_image(const char *path, bool verify_later, zone_image_t **out, char *err,
                      size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	image_header_t h;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
		}
		return fail(err, errlen, CIRRUS_EIO, "%s: %s", path, strerror(e));
	}
	size_t size = (size_t)st.st_size;
	int r = size < sizeof(h) || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ?
	        fail(err, errlen, CIRRUS_EINVAL, "%s: not a zone image (too short)", path) :
	        check_header(&h, size, path, err, errlen);
	zone_image_t *img = r == 0 ? calloc(1, sizeof(*img)) : NULL;
	if (r == 0 && img == NULL) {
		r = fail(err, errlen, CIRRUS_ENOMEM, "%s: out of memory", path);
	}
	if (r == 0) {
		void *home = (void *)(uintptr_t)h.base;
		uint8_t *at = mmap(home, size, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE |
		                   MAP_POPULATE, fd, 0);
		if (at != MAP_FAILED && at != home) {
			munmap(at, size); /* a kernel before 4.17 took the address as a hint */
		}
		*img = (zone_image_t){ .base = at, .size = size, .home = h.base, .refs = 1,
		                       .mapped = at == home };
		if (!img->mapped && (img->base = copy_image(fd, size)) == NULL) {
			r = fail(err, errlen, CIRRUS_EIO, "%s: cannot read %zu bytes: %s", path, size,
			         strerror(errno));
			free(img);
		} else if ((!img->mapped || !verify_later) && zone_image_verify(img) != 0) {
			r = fail(err, errlen, CIRRUS_EINVAL, "%s: damaged zone image (checksum)", path);
			zone_image_release(img);
		}
	}
	close(fd);
	if (r == 0) {
		*out = img;
	}
	return r;
}

void zone_image_retain(zone_image_t *img)
{
	if (img != NULL) {
		__atomic_add_fetch(&img->refs, 1, __ATOMIC_RELAXED);
	}
}

void zone_image_release(zone_image_t *img)
{
	if (img != NULL && __atomic_sub_fetch(&img->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		munmap(img->base, img->size);
		free(img);
	}
}

zone_image_t *zone_image_of(const zone_t *zone)
{
	return zone->image;
}

int zone_image_verify(const zone_image_t *img)
{
	const image_header_t *h = (const image_header_t *)img->base;
	return image_checksum(img->base, img->size) == h->checksum ? 0 : CIRRUS_EINVAL;
}

bool zone_image_holds(const zone_image_t *img, const void *p)
{
	return img != NULL && (const uint8_t *)p >= img->base &&
	       (const uint8_t *)p < img->base + img->size;
}

/* Is [off, off + len) inside the image, off aligned? */
static bool in_image(const zone_image_t *img, uint64_t off, uint64_t len)
{
	return off % IMAGE_ALIGN == 0 && off <= img->size && len <= img->size - off;
}

/* Where a pointer stored in the image points in this process, when the len
 * bytes there are inside the image; NULL otherwise. */
static void *resolve(const zone_image_t *img, const void *stored, uint64_t len)
{
	uint64_t off = (uintptr_t)stored - img->home;
	return in_image(img, off, len) ? img->base + off : NULL;
}

/* The records must fill exactly the bytes the set claims. */
static bool rdataset_sound(const knot_rdataset_t *rrs, const knot_rdata_t *rd)
{
	size_t used = 0;
	for (uint16_t k = 0; k < rrs->count; k++) {
		if (used + sizeof(uint16_t) > rrs->size ||
		    used + knot_rdata_size(rd->len) > rrs->size) {
			return false;
		}
		used += knot_rdata_size(rd->len);
		rd = knot_rdataset_next((knot_rdata_t *)rd);
	}
	return rrs->count > 0 && used == rrs->size;
}

/* Check one node of a moved copy (n points into it, its header in bounds)
 * and move its pointers to where the copy is. */
static bool move_node(const zone_image_t *img, zone_node_t *n)
{
	if (n->owner_size == 0 ||
	    !in_image(img, (uint8_t *)n - img->base, sizeof(*n) + n->owner_size) ||
	    knot_dname_wire_check(n->owner, n->owner + n->owner_size, NULL) != n->owner_size ||
	    n->labels != knot_dname_labels(n->owner, NULL) ||
	    (n->flags & ~NODE_FLAGS_KEPT) != ZONE_NODE_IMAGE) {
		return false;
	}
	if (n->rrset_count == 0) {
		return n->rrsets == NULL;
	}
	zone_rrset_t *rs = resolve(img, n->rrsets, (uint64_t)n->rrset_count * sizeof(*rs));
	if (rs == NULL) {
		return false;
	}
	n->rrsets = rs;
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		knot_rdata_t *rd = resolve(img, rs[i].rrs.rdata, rs[i].rrs.size);
		if (rd == NULL || !rdataset_sound(&rs[i].rrs, rd)) {
			return false;
		}
		rs[i].rrs.rdata = rd;
	}
	return true;
}

/* Move every node of a moved copy's table, checking each on the way; the
 * apex must be one of them. */
static bool move_nodes(const zone_image_t *img, zone_node_t **table, size_t slots,
                       const zone_node_t *apex)
{
	bool apex_seen = false;
	for (size_t i = 0; i < slots; i++) {
		if (table[i] == NULL) {
			continue;
		}
		zone_node_t *n = resolve(img, table[i], sizeof(*n));
		if (n == NULL || !move_node(img, n)) {
			return false;
		}
		table[i] = n;
		apex_seen = apex_seen || n == apex;
	}
	return apex_seen;
}

static int load_zone(zone_image_t *img, const image_zone_t *d, bool check_sources,
                     zone_t **out, char *err, size_t errlen, const char *path)
{
	size_t slots = d->table_mask + 1;
	if (slots < ZONE_CHUNK_SLOTS || (slots & d->table_mask) != 0 || slots > ((size_t)1 << 40) ||
	    !in_image(img, d->table, slots * sizeof(void *)) || d->node_count >= slots) {
		return fail(err, errlen, CIRRUS_EINVAL, "%s: damaged zone image (node table)", path);
	}
	zone_t *z = calloc(1, sizeof(*z));
	/* The table stays flat in the image; the directory points into it. */
	zone_node_t ***dir = malloc((slots / ZONE_CHUNK_SLOTS) * sizeof(*dir));
	if (z == NULL || dir == NULL) {
		free(z);
		free(dir);
		return fail(err, errlen, CIRRUS_ENOMEM, "%s: out of memory", path);
	}
	zone_node_t **table = (zone_node_t **)(img->base + d->table);
	for (size_t c = 0; c < slots / ZONE_CHUNK_SLOTS; c++) {
		dir[c] = table + c * ZONE_CHUNK_SLOTS;
	}
	zone_node_t *apex = in_image(img, d->apex, sizeof(*apex)) ?
	                    (zone_node_t *)(img->base + d->apex) : NULL;
	/* At home the checksum vouches for the pointers (see the top). */
	bool ok = apex != NULL && (img->mapped || move_nodes(img, table, slots, apex));
	const zone_rrset_t *soa = ok ? zone_node_rrset(apex, KNOT_RRTYPE_SOA) : NULL;
	if (soa == NULL) {
		free(z);   /* nothing of the image is used: the caller unmaps it */
		free(dir);
		return fail(err, errlen, CIRRUS_EINVAL, "%s: damaged zone image (nodes)", path);
	}
	*z = (zone_t){ .apex = apex, .soa = soa, .table = dir, .table_mask = d->table_mask,
	               .node_count = d->node_count, .record_count = d->record_count,
	               .cut_count = d->cut_count, .image = img };
	zone_image_retain(img);
	if (d->source != 0) {
		const char *src = (const char *)img->base + d->source;
		if (!in_image(img, d->source, 1) ||
		    memchr(src, '\0', img->size - d->source) == NULL ||
		    (z->source = strdup(src)) == NULL) {
			zone_free(z);
			return fail(err, errlen, CIRRUS_EINVAL, "%s: damaged zone image (source)", path);
		}
	}
	struct stat st;
	if (check_sources && z->source != NULL && stat(z->source, &st) == 0 &&
	    ((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != d->source_mtime_ns ||
	     (uint64_t)st.st_size != d->source_size)) {
		int r = fail(err, errlen, CIRRUS_EINVAL,
		             "%s: %s changed after the image was compiled; "
		             "run cirrus zone compile again", path, z->source);
		zone_free(z);
		return r;
	}
	*out = z;
	return 0;
}

int zone_image_load(const char *path, unsigned flags, zone_t ***zones, size_t *count,
                    char *err, size_t errlen)
{
	zone_image_t *img = NULL;
	bool check_sources = flags & ZONE_IMAGE_SOURCES;
	int r = open_image(path, flags & ZONE_IMAGE_VERIFY_LATER, &img, err, errlen);
	if (r != 0) {
		return r;
	}
	const image_header_t *h = (const image_header_t *)img->base;
	size_t n = h->zone_count;
	zone_t **list = calloc(n ? n : 1, sizeof(*list));
	if (list == NULL) {
		r = fail(err, errlen, CIRRUS_ENOMEM, "%s: out of memory", path);
	}
	const image_zone_t *d = (const image_zone_t *)(img->base + sizeof(*h));
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = load_zone(img, &d[i], check_sources, &list[i], err, errlen, path);
		if (r != 0) {
			for (size_t k = 0; k < i; k++) {
				zone_free(list[k]);
			}
		}
	}
	zone_image_release(img); /* the zones hold their own references */
	if (r != 0) {
		free(list);
		return r;
	}
	*zones = list;
	*count = n;
	return 0;
}
