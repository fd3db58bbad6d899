/* Which CUDA kernels the FACS op runs for a shape, in words (C-callable,
 * for benchmarks: bench-facs records it per shape): the resident kernels'
 * plan (facs_resident.cu), or the classic kernels and why. The plan is the
 * one the op's calls use, from the same cache. */
#ifndef FACS_CUDA_FACS_KERNELS_H
#define FACS_CUDA_FACS_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../backend.h"

/* The kernels of n images of hw pixels, c -> co channels, fusion p, forward
 * or backward, into buf (at most size bytes, terminated). */
void facs_cuda_facs_kernels(int n, int hw, int c, int co, const facs_fuse_params *p, int backward, char *buf,
                            size_t size);

#ifdef __cplusplus
}
#endif

#endif
