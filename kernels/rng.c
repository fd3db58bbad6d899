/* The counter-based random numbers of rng.h; the arithmetic lives in
 * rng_math.h, which the CUDA kernels share. */
#include "rng.h"
#include "rng_math.h"

uint64_t facs_rng_mix64(uint64_t z) { return facs_rng_mix64_inline(z); }

float facs_rng_uniform(uint64_t seed, uint64_t counter) { return facs_rng_uniform_inline(seed, counter); }
