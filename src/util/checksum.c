/* SPDX-License-Identifier: Apache-2.0
 * checksum.c -- checksum64(): four independent multiply-rotate lanes over
 * 32-byte blocks, so the multiplications overlap and a megabyte takes a
 * few tens of microseconds, then a final avalanche. Each step is a
 * bijection of the lane's state, so damage within one 8-byte word always
 * changes the sum; wider damage (or a truncation: the size is mixed in)
 * goes unnoticed with odds of about 2^-64.
 *
 * The round and the final mix follow the well-known 64-bit multiply-rotate
 * construction (the constants are the usual odd 64-bit primes); the byte
 * order of the words is the host's, like the images it checks.
 */
#include <string.h>

#include "util/checksum.h"

#define PRIME1 0x9E3779B185EBCA87ULL
#define PRIME2 0xC2B2AE3D27D4EB4FULL
#define PRIME3 0x165667B19E3779F9ULL

static uint64_t rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t word_at(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

static uint64_t round64(uint64_t acc, uint64_t word)
{
	return rotl(acc + word * PRIME2, 31) * PRIME1;
}

static uint64_t avalanche(uint64_t h)
{
	h ^= h >> 33;
	h *= PRIME2;
	h ^= h >> 29;
	h *= PRIME3;
	h ^= h >> 32;
	return h;
}

uint64_t checksum64(const void *data, size_t size, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t lane[4] = { seed + PRIME1 + PRIME2, seed + PRIME2, seed, seed - PRIME1 };
	size_t blocks = size / 32;
	for (size_t b = 0; b < blocks; b++, p += 32) {
		for (int i = 0; i < 4; i++) {
			lane[i] = round64(lane[i], word_at(p + 8 * i));
		}
	}
	uint64_t h = rotl(lane[0], 1) + rotl(lane[1], 7) + rotl(lane[2], 12) + rotl(lane[3], 18);
	h += (uint64_t)size * PRIME3;
	size_t left = size % 32;
	for (; left >= 8; left -= 8, p += 8) {
		h = rotl(h ^ round64(0, word_at(p)), 27) * PRIME1 + PRIME3;
	}
	for (; left > 0; left--, p++) {
		h = rotl(h ^ (*p * PRIME3), 11) * PRIME1;
	}
	return avalanche(h);
}
