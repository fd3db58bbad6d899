/* The per-element arithmetic of the FACS op (paper Sec. 3, Eq. 1-3), shared
 * verbatim by the CPU backend and the CUDA kernels so that the CPU tests
 * exercise the same formulas the GPU runs.
 *
 * For output channel i, p_i = sigmoid(s_i) with s = W z + b and z the spatial
 * mean of x (Eq. 1). At every pixel the R channels of chunk i, [R i, R i + R),
 * reduce to M = max and A = mean, and
 *   threshold fusion (Eq. 2): y = p M if p <= T, else y = p A;
 *   weighted fusion  (Eq. 3): y = p M + (1 - p) A.
 * The branch of Eq. 2 is a choice, not a function of x, so its gradient flows
 * through p and through the chosen reduction only. The gradient of M goes to
 * the first maximal channel of the chunk. */
#ifndef FACS_FUSION_MATH_H
#define FACS_FUSION_MATH_H

#ifdef __CUDACC__
#define FACS_HD __host__ __device__ static inline
#else
#define FACS_HD static inline
#endif

#include <math.h>

FACS_HD float facs_sigmoid_value(float s) { return 1.0f / (1.0f + expf(-s)); }

/* Index in [0, r) of the first maximum of the r contiguous values at x. */
FACS_HD int facs_chunk_argmax(const float *x, int r)
{
    int best = 0;
    for (int k = 1; k < r; k++)
        if (x[k] > x[best])
            best = k;
    return best;
}

FACS_HD float facs_chunk_mean(const float *x, int r)
{
    float sum = 0.0f;
    for (int k = 0; k < r; k++)
        sum += x[k];
    return sum / (float)r;
}

/* The weights of M and A in the output: y = cmax M + cavg A. */
FACS_HD void facs_fusion_coeffs(int weighted, float threshold, float p, float *cmax, float *cavg)
{
    if (weighted) {
        *cmax = p;
        *cavg = 1.0f - p;
    } else if (p <= threshold) {
        *cmax = p;
        *cavg = 0.0f;
    } else {
        *cmax = 0.0f;
        *cavg = p;
    }
}

FACS_HD float facs_fusion_value(int weighted, float threshold, float p, float max, float mean)
{
    float cmax, cavg;
    facs_fusion_coeffs(weighted, threshold, p, &cmax, &cavg);
    return cmax * max + cavg * mean;
}

/* d y / d p at one pixel. */
FACS_HD float facs_fusion_dprob(int weighted, float threshold, float p, float max, float mean)
{
    if (weighted)
        return max - mean;
    return p <= threshold ? max : mean;
}

#endif
