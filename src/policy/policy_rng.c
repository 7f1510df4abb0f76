/* SPDX-License-Identifier: Apache-2.0
 * policy_rng.c -- the random numbers behind weighted and multivalue
 * answers: xoshiro256** seeded with splitmix64, one state per thread, so
 * workers never share a cache line or a lock for it (rand() has a lock).
 */
#include <pthread.h>
#include <time.h>

#include "policy/policy.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void policy_rng_seed(policy_rng_t *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		rng->s[i] = splitmix64(&seed);
	}
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t policy_rng_next(policy_rng_t *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Lemire, "Fast Random Integer Generation in an Interval" (2019): one
 * multiplication, and a rejection only in the rare biased zone. */
uint64_t policy_rng_below(policy_rng_t *rng, uint64_t bound)
{
	unsigned __int128 m = (unsigned __int128)policy_rng_next(rng) * bound;
	uint64_t low = (uint64_t)m;
	if (low < bound) {
		uint64_t threshold = -bound % bound;
		for (int i = 0; low < threshold && i < 64; i++) {
			m = (unsigned __int128)policy_rng_next(rng) * bound;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

static _Thread_local policy_rng_t thread_rng;
static _Thread_local bool thread_seeded;

policy_rng_t *policy_rng_thread(void)
{
	if (!thread_seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		seed ^= (uint64_t)(uintptr_t)&thread_rng * UINT64_C(0x9e3779b97f4a7c15);
		seed ^= (uint64_t)pthread_self();
		policy_rng_seed(&thread_rng, seed);
		thread_seeded = true;
	}
	return &thread_rng;
}
