/* The per-pixel arithmetic of softmax cross-entropy that the CPU op and the
 * CUDA kernel share (backend.h's contract), so both round the same way. */
#ifndef FACS_SOFTMAX_CE_MATH_H
#define FACS_SOFTMAX_CE_MATH_H

#include <math.h>

#ifdef __CUDACC__
#define FACS_CE_HD __host__ __device__ static inline
#else
#define FACS_CE_HD static inline
#endif

/* -log softmax(z)_label in double from the K logits, for the rare pixel
 * whose probability is too small for -log(p) to keep float precision. */
FACS_CE_HD double facs_ce_exact_nll(const float *z, int K, int label)
{
    float zmax = z[0];
    for (int k = 1; k < K; k++)
        zmax = z[k] > zmax ? z[k] : zmax;
    double sum = 0.0;
    for (int k = 0; k < K; k++)
        sum += exp((double)z[k] - zmax);
    return log(sum) + zmax - z[label];
}

#endif
