/* The arithmetic of rng.h's counter-based generator, shared by the CPU
 * (rng.c) and the CUDA kernels (the dropout masks of cuda/elementwise.cu), so
 * both devices draw the same numbers bit for bit: the integer hash is exact
 * everywhere, and so is the float conversion (a 24-bit integer times 2^-24). */
#ifndef FACS_RNG_MATH_H
#define FACS_RNG_MATH_H

#include <stdint.h>

#ifdef __CUDACC__
#define FACS_RNG_HD __host__ __device__ static inline
#else
#define FACS_RNG_HD static inline
#endif

/* SplitMix64's finaliser. */
FACS_RNG_HD uint64_t facs_rng_mix64_inline(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The top 24 bits of the hash of (seed, counter), scaled into [0, 1). */
FACS_RNG_HD float facs_rng_uniform_inline(uint64_t seed, uint64_t counter)
{
    uint64_t z = facs_rng_mix64_inline(seed + 0x9e3779b97f4a7c15ULL * (counter + 1));
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

#endif
