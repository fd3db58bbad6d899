/* Which implementations conv2d picks for a shape: oneDNN's kernels on the CPU
 * (tests check that hot shapes never land on the slow "ref" kernels), cuDNN's
 * algorithms on CUDA; benchmarks report both. */
#ifndef FACS_CONV2D_IMPL_H
#define FACS_CONV2D_IMPL_H

#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "backend.h"

typedef struct {
    char forward[64];
    char backward_data[64];
    char backward_weights[64];
} facs_conv2d_impl;

/* Names (oneDNN's impl_info_str, e.g. "jit:avx2") for x (N, Ci, H, W) and
 * w (Co, Ci/groups, KH, KW), with or without bias. Only the shapes of x and w
 * are read; their data may be NULL. */
facs_status facs_cpu_conv2d_impl_names(const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w,
                                       int with_bias, facs_conv2d_impl *out);

#ifdef FACS_WITH_CUDA
/* The cuDNN algorithms (e.g. "IMPLICIT_GEMM, 0 MiB workspace") that the CUDA
 * conv2d runs for these shapes: the same choice, from the same table, as its
 * calls make (kernels/cuda/conv2d.cu); the bias changes none of them. */
facs_status facs_cuda_conv2d_impl_names(const facs_conv2d_params *p, const facs_tensor *x, const facs_tensor *w,
                                        facs_conv2d_impl *out);
#endif

/* The shape (N, Co, OH, OW) of conv2d's output for x and w; no data. */
static inline facs_tensor facs_conv2d_impl_output(const facs_conv2d_params *p, const facs_tensor *x,
                                                  const facs_tensor *w)
{
    facs_tensor y;
    memset(&y, 0, sizeof y);
    y.n = x->n;
    y.c = w->n;
    y.h = (x->h + 2 * p->pad_h - p->dil_h * (w->h - 1) - 1) / p->stride_h + 1;
    y.w = (x->w + 2 * p->pad_w - p->dil_w * (w->w - 1) - 1) / p->stride_w + 1;
    return y;
}

#ifdef __cplusplus
}
#endif

#endif
