/*
 * rng.h: the project's deterministic pseudo-random numbers.
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64, written from
 * the published algorithm. The same seed gives the same stream on every
 * platform, which the demo data and model training rely on for determinism.
 * Header-only: these are hot in generators and initialisers.
 */
#ifndef SAVOR_RNG_H
#define SAVOR_RNG_H

#include "common/base.h"

struct rng {
    uint64_t s[4];
};

/* One splitmix64 step: advances *x and returns the next output. */
static inline uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline void rng_seed(struct rng *r, uint64_t seed)
{
    for (size_t i = 0; i < 4; i++)
        r->s[i] = rng_splitmix64(&seed);
}

static inline uint64_t rng__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rng__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng__rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double rng_unif(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

#endif
