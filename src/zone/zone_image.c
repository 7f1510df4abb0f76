/* SPDX-License-Identifier: Apache-2.0
 * zone_image.c -- compiled zone images (`cirrus zone compile`): loaded zones
 * written out in the in-memory layout of zone_t, with file offsets where the
 * pointers go, so that a start needs one read and one pass that turns
 * offsets into pointers -- no parsing, no hashing, no per-node malloc.
 *
 * Layout (host byte order; every part 8-byte aligned):
 *   image_header_t
 *   image_zone_t[zone_count]
 *   per zone: the node table as uint64 offsets (0 = empty slot), then each
 *   node (zone_node_t with its owner, rrsets holding an offset), its
 *   zone_rrset_t array (rrs.rdata holding an offset) and its rdata.
 * The header records the struct sizes it was written with; an image from a
 * build with another layout is refused, not misread. Every offset is checked
 * against the image size before it becomes a pointer, so a damaged image
 * gives an error, never a wild read.
 *
 * A loaded zone's nodes live inside the image block (ZONE_NODE_IMAGE): they
 * are never freed one by one; every version of the zone that may share them
 * holds a reference on the block (zone->image), the last one unmaps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "zone/zone_internal.h"

#define IMAGE_MAGIC "CIRRUSZI"
#define IMAGE_VERSION 1
#define IMAGE_ALIGN 8

typedef struct image_header {
	char magic[8];
	uint32_t version;
	uint32_t zone_count;
	uint64_t size;              /*!< bytes in the file */
	uint16_t node_size;         /*!< sizeof(zone_node_t) of the writer */
	uint16_t rrset_size;        /*!< sizeof(zone_rrset_t) */
	uint16_t pointer_size;
	uint16_t byte_order;        /*!< 0x0102 as written */
	uint32_t reserved;
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
	uint8_t *base;
	size_t size;
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

/* Copy node n to buf + at; return the offset after it. */
static size_t put_node(uint8_t *buf, size_t at, const zone_node_t *n)
{
	zone_node_t *out = (zone_node_t *)(buf + at);
	memcpy(out, n, sizeof(*n) + n->owner_size);
	out->flags &= ZONE_NODE_NS | ZONE_NODE_DNAME | ZONE_NODE_CNAME;
	size_t next = align_up(at + sizeof(*n) + n->owner_size);
	if (n->rrset_count == 0) {
		out->rrsets = NULL;
		return next;
	}
	uint64_t rrsets_at = next;
	memcpy(&out->rrsets, &rrsets_at, sizeof(rrsets_at));
	zone_rrset_t *rs = (zone_rrset_t *)(buf + next);
	next = align_up(next + n->rrset_count * sizeof(zone_rrset_t));
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		rs[i] = n->rrsets[i];
		uint64_t rdata_at = next;
		memcpy(buf + next, n->rrsets[i].rrs.rdata, n->rrsets[i].rrs.size);
		memcpy(&rs[i].rrs.rdata, &rdata_at, sizeof(rdata_at));
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
	size_t size = (z->table_mask + 1) * sizeof(uint64_t);
	for (size_t i = 0; i <= z->table_mask; i++) {
		if (z->table[i] != NULL) {
			size += node_image_size(z->table[i]);
		}
	}
	char *source = image_source(z);
	size += source != NULL ? align_up(strlen(source) + 1) : 0;
	free(source);
	return size;
}

/* Lay zone z out at buf + at; fill its descriptor; return the end. */
static size_t put_zone(uint8_t *buf, size_t at, const zone_t *z, image_zone_t *d)
{
	uint64_t *table = (uint64_t *)(buf + at);
	size_t slots = z->table_mask + 1;
	*d = (image_zone_t){
		.table = at, .table_mask = z->table_mask, .node_count = z->node_count,
		.record_count = z->record_count, .cut_count = z->cut_count,
	};
	size_t next = at + slots * sizeof(uint64_t);
	for (size_t i = 0; i < slots; i++) {
		const zone_node_t *n = z->table[i];
		table[i] = n != NULL ? next : 0;
		if (n == z->apex) {
			d->apex = next;
		}
		if (n != NULL) {
			next = put_node(buf, next, n);
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
		strcpy((char *)buf + next, source);
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
	uint8_t *buf = calloc(1, size);
	if (buf == NULL) {
		return fail(err, errlen, CIRRUS_ENOMEM, "out of memory for a %zu-byte image", size);
	}
	image_header_t *h = (image_header_t *)buf;
	*h = (image_header_t){
		.version = IMAGE_VERSION, .zone_count = (uint32_t)count, .size = size,
		.node_size = sizeof(zone_node_t), .rrset_size = sizeof(zone_rrset_t),
		.pointer_size = sizeof(void *), .byte_order = 0x0102,
	};
	memcpy(h->magic, IMAGE_MAGIC, sizeof(h->magic));
	image_zone_t *d = (image_zone_t *)(buf + sizeof(*h));
	size_t at = align_up(sizeof(*h) + count * sizeof(image_zone_t));
	for (size_t i = 0; i < count; i++) {
		at = put_zone(buf, at, zones[i], &d[i]);
	}
	int r = write_all(path, buf, size, err, errlen);
	free(buf);
	return r;
}

/* Loading ---------------------------------------------------------------- */

/* Read the whole file into fresh anonymous memory: MAP_POPULATE faults it
 * in with one call, where touching it page by page costs a fault each. */
static int read_image(const char *path, zone_image_t **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
		}
		return fail(err, errlen, CIRRUS_EIO, "%s: %s", path, strerror(e));
	}
	size_t size = (size_t)st.st_size;
	if (size < sizeof(image_header_t)) {
		close(fd);
		return fail(err, errlen, CIRRUS_EINVAL, "%s: not a zone image (too short)", path);
	}
	zone_image_t *img = calloc(1, sizeof(*img));
	uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE,
	                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (img == NULL || base == MAP_FAILED) {
		close(fd);
		free(img);
		if (base != MAP_FAILED) {
			munmap(base, size);
		}
		return fail(err, errlen, CIRRUS_ENOMEM, "%s: no memory for %zu bytes", path, size);
	}
	size_t done = 0;
	while (done < size) {
		ssize_t r = read(fd, base + done, size - done);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			munmap(base, size);
			free(img);
			return fail(err, errlen, CIRRUS_EIO, "%s: %s", path, strerror(e));
		}
		done += (size_t)r;
	}
	close(fd);
	*img = (zone_image_t){ .base = base, .size = size, .refs = 1 };
	*out = img;
	return 0;
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

/* Is [off, off + len) inside the image, off aligned? */
static bool in_image(const zone_image_t *img, uint64_t off, uint64_t len)
{
	return off % IMAGE_ALIGN == 0 && off <= img->size && len <= img->size - off;
}

/* Turn one node's offsets into pointers, checking each. */
static bool relocate_node(const zone_image_t *img, zone_node_t *n)
{
	if (n->owner_size == 0 ||
	    !in_image(img, (uint8_t *)n - img->base, sizeof(*n) + n->owner_size) ||
	    knot_dname_wire_check(n->owner, n->owner + n->owner_size, NULL) != n->owner_size) {
		return false;
	}
	n->flags = (n->flags & (ZONE_NODE_NS | ZONE_NODE_DNAME | ZONE_NODE_CNAME)) |
	           ZONE_NODE_IMAGE;
	n->labels = knot_dname_labels(n->owner, NULL);
	if (n->rrset_count == 0) {
		n->rrsets = NULL;
		return true;
	}
	uint64_t off;
	memcpy(&off, &n->rrsets, sizeof(off));
	if (!in_image(img, off, (uint64_t)n->rrset_count * sizeof(zone_rrset_t))) {
		return false;
	}
	n->rrsets = (zone_rrset_t *)(img->base + off);
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		knot_rdataset_t *rrs = &n->rrsets[i].rrs;
		memcpy(&off, &rrs->rdata, sizeof(off));
		if (rrs->count == 0 || !in_image(img, off, rrs->size)) {
			return false;
		}
		rrs->rdata = (knot_rdata_t *)(img->base + off);
		/* The records must fill exactly the bytes the set claims. */
		size_t used = 0;
		knot_rdata_t *rd = rrs->rdata;
		for (uint16_t k = 0; k < rrs->count; k++) {
			if (used + sizeof(uint16_t) > rrs->size ||
			    used + knot_rdata_size(rd->len) > rrs->size) {
				return false;
			}
			used += knot_rdata_size(rd->len);
			rd = knot_rdataset_next(rd);
		}
		if (used != rrs->size) {
			return false;
		}
	}
	return true;
}

static int load_zone(zone_image_t *img, const image_zone_t *d, bool check_sources,
                     zone_t **out, char *err, size_t errlen, const char *path)
{
	size_t slots = d->table_mask + 1;
	if (slots == 0 || (slots & d->table_mask) != 0 || slots > ((size_t)1 << 40) ||
	    !in_image(img, d->table, slots * sizeof(uint64_t)) || d->node_count >= slots) {
		return fail(err, errlen, CIRRUS_EINVAL, "%s: damaged zone image (node table)", path);
	}
	zone_t *z = calloc(1, sizeof(*z));
	zone_node_t **table = malloc(slots * sizeof(*table));
	if (z == NULL || table == NULL) {
		free(z);
		free(table);
		return fail(err, errlen, CIRRUS_ENOMEM, "%s: out of memory", path);
	}
	*z = (zone_t){ .table = table, .table_mask = d->table_mask, .node_count = d->node_count,
	               .record_count = d->record_count, .cut_count = d->cut_count,
	               .image = img };
	zone_image_retain(img);
	const uint64_t *offs = (const uint64_t *)(img->base + d->table);
	bool ok = true;
	for (size_t i = 0; ok && i < slots; i++) {
		if (offs[i] == 0) {
			table[i] = NULL;
			continue;
		}
		zone_node_t *n = (zone_node_t *)(img->base + offs[i]);
		ok = in_image(img, offs[i], sizeof(*n)) && relocate_node(img, n);
		table[i] = ok ? n : NULL;
		if (ok && offs[i] == d->apex) {
			z->apex = n;
		}
	}
	for (size_t i = 0; !ok && i < slots; i++) {
		table[i] = NULL; /* half-relocated: none of it may be used */
	}
	z->soa = ok && z->apex != NULL ? zone_node_rrset(z->apex, KNOT_RRTYPE_SOA) : NULL;
	if (z->soa == NULL) {
		zone_free(z);
		return fail(err, errlen, CIRRUS_EINVAL, "%s: damaged zone image (nodes)", path);
	}
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

static int check_header(const zone_image_t *img, const char *path, char *err, size_t errlen)
{
	const image_header_t *h = (const image_header_t *)img->base;
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
	if (h->size != img->size ||
	    !in_image(img, sizeof(*h), (uint64_t)h->zone_count * sizeof(image_zone_t))) {
		return fail(err, errlen, CIRRUS_EINVAL, "%s: truncated zone image", path);
	}
	return 0;
}

int zone_image_load(const char *path, bool check_sources, zone_t ***zones, size_t *count,
                    char *err, size_t errlen)
{
	zone_image_t *img = NULL;
	int r = read_image(path, &img, err, errlen);
	if (r != 0) {
		return r;
	}
	r = check_header(img, path, err, errlen);
	const image_header_t *h = (const image_header_t *)img->base;
	size_t n = r == 0 ? h->zone_count : 0;
	zone_t **list = r == 0 ? calloc(n ? n : 1, sizeof(*list)) : NULL;
	if (r == 0 && list == NULL) {
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
