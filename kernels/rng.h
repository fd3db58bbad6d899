/* Counter-based random numbers: a value is a pure function of (seed,
 * counter), so every backend draws the same numbers for any thread count and
 * any order of evaluation. Used by dropout masks (backend.h), weight
 * initialisation (backbone/init.h), augmentation streams (datasets/) and
 * per-step seeding (ctx.h facs_ctx_seed_step). Needs nothing else of the
 * library. */
#ifndef FACS_RNG_H
#define FACS_RNG_H

#include <stdint.h>

/* A uniform float in [0, 1) (24 bits) from a hash of (seed, counter). */
float facs_rng_uniform(uint64_t seed, uint64_t counter);

/* SplitMix64's finaliser: a bijective 64-bit mix, for deriving seeds. */
uint64_t facs_rng_mix64(uint64_t z);

#endif
