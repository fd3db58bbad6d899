/* The per-element SGD update of optim.h, shared by the CPU loop and a CUDA
 * kernel (which would run facs_sgd_update for one index per thread), so the
 * CPU tests exercise the arithmetic a GPU runs.
 *
 * The operations follow torch.optim.SGD's order. PyTorch's vectorised CPU
 * kernels fuse each `a.add_(b, alpha=s)` into one fma; here the product and
 * the sum are rounded separately (C11 forbids contracting them), so a step
 * may differ from PyTorch's by about an ulp of each intermediate. */
#ifndef FACS_SGD_MATH_H
#define FACS_SGD_MATH_H

#include <stddef.h>

#ifdef __CUDACC__
#define FACS_SGD_HD __host__ __device__ static inline
#else
#define FACS_SGD_HD static inline
#endif

/* One parameter's coefficients, already rounded to float. */
typedef struct {
    float lr;           /* lr * lr_mult */
    float weight_decay; /* 0 for an exempt parameter */
    float momentum;     /* 0: no buffer is read or written */
    float damp_keep;    /* 1 - dampening */
    int nesterov;
} facs_sgd_coeffs;

/* Updates p[i] and, when k.momentum != 0, buf[i]. first: the buffer is new and
 * receives d itself (PyTorch clones d_p on a parameter's first step). k comes
 * by value so that a loop can keep it in registers. */
FACS_SGD_HD void facs_sgd_update(facs_sgd_coeffs k, int first, float *p, const float *g, float *buf, size_t i)
{
    float d = g[i];
    if (k.weight_decay != 0.0f)
        d = d + k.weight_decay * p[i];
    if (k.momentum != 0.0f) {
        float b = first ? d : k.momentum * buf[i] + k.damp_keep * d;
        buf[i] = b;
        d = k.nesterov ? d + k.momentum * b : b;
    }
    p[i] = p[i] - k.lr * d;
}

#endif
