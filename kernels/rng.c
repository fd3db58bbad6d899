/* The counter-based random numbers of rng.h. */
#include "rng.h"

uint64_t facs_rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

float facs_rng_uniform(uint64_t seed, uint64_t counter)
{
    uint64_t z = facs_rng_mix64(seed + 0x9e3779b97f4a7c15ULL * (counter + 1));
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}
