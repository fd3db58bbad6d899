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
 * the first maximal channel of the chunk.
 *
 * NaN and Inf propagate as in the PyTorch twin (tests/ref/facs_torch.py):
 * M = chunks.max(2) is NaN when the chunk holds a NaN (its gradient goes to
 * the first NaN), and Eq. 2 is torch.where(p <= T, p M, p A): a select, so
 * the branch not taken never multiplies its value by 0 (0 * Inf is NaN), and
 * a NaN p takes the Avg branch (NaN <= T is false), which is NaN anyway. */
#ifndef FACS_FUSION_MATH_H
#define FACS_FUSION_MATH_H

#ifdef __CUDACC__
#define FACS_HD __host__ __device__ static inline
#else
#define FACS_HD static inline
#endif

#include <math.h>

FACS_HD float facs_sigmoid_value(float s) { return 1.0f / (1.0f + expf(-s)); }

/* NaN tests are kept apart from the comparisons below: folded into them
 * (v > m || isnan(v)), GCC compiles the chunk loops to branches, which random
 * data mispredicts (the loops ran 10x slower); a plain compare-and-select
 * plus a separate flag stays branch-free and vectorises for a constant r. */

/* The maximum of the r contiguous values at x, NaN when one of them is NaN
 * (torch.max over a dim); the value at facs_chunk_argmax. */
FACS_HD float facs_chunk_max(const float *x, int r)
{
    float m = x[0];
    int nan = isnan(x[0]);
    for (int k = 1; k < r; k++) {
        m = x[k] > m ? x[k] : m;
        nan |= isnan(x[k]);
    }
    return nan ? NAN : m;
}

/* Index in [0, r) of the first NaN of the r contiguous values at x, else of
 * their first maximum (torch.max over a dim): ties go to the lowest index. */
FACS_HD int facs_chunk_argmax(const float *x, int r)
{
    int best = 0, first_nan = isnan(x[0]) ? 0 : r;
    float m = x[0];
    for (int k = 1; k < r; k++) {
        const float v = x[k];
        const int greater = v > m;
        best = greater ? k : best;
        m = greater ? v : m;
        first_nan = (first_nan == r) & isnan(v) ? k : first_nan;
    }
    return first_nan < r ? first_nan : best;
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

/* y = cmax M + cavg A, except that threshold fusion selects its branch rather
 * than adding 0 times the other (which an infinite M or A would make NaN). */
FACS_HD float facs_fusion_value(int weighted, float threshold, float p, float max, float mean)
{
    if (weighted)
        return p * max + (1.0f - p) * mean;
    /* The select picks an operand, not a product: a product in each arm is
     * not speculated (it may trap) and turns into a branch. */
    return p * (p <= threshold ? max : mean);
}

/* d y / d p at one pixel. For threshold fusion the twin's torch.where sends a
 * zero gradient to the branch not taken, and autograd multiplies that zero by
 * the branch's value: 0 * other is 0 for a finite value and NaN for NaN or
 * Inf, so it is kept here (the compiler may not drop it without fast-math). */
FACS_HD float facs_fusion_dprob(int weighted, float threshold, float p, float max, float mean)
{
    if (weighted)
        return max - mean;
    const int take_max = p <= threshold;
    return (take_max ? max : mean) + 0.0f * (take_max ? mean : max);
}

#endif
