/* Backend lookup and the counter-based random numbers every backend shares. */
#include "backend.h"

#ifdef FACS_WITH_CUDA
extern const facs_backend facs_cuda_backend;
int facs_cuda_probe(void);
#endif

int facs_cuda_available(void)
{
#ifdef FACS_WITH_CUDA
    return facs_cuda_probe();
#else
    return 0;
#endif
}

const facs_backend *facs_backend_get(facs_device device)
{
    if (device == FACS_DEVICE_CPU)
        return &facs_cpu_backend;
#ifdef FACS_WITH_CUDA
    if (facs_cuda_available())
        return &facs_cuda_backend;
    facs_fail(FACS_ERR_BACKEND, "no usable CUDA device in this process");
#else
    facs_fail(FACS_ERR_UNSUPPORTED, "this build has no CUDA backend (configure with -DFACS_CUDA=ON)");
#endif
    return NULL;
}

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
