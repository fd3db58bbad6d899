/* Which oneDNN implementations the CPU conv2d picks for a shape: tests check
 * that hot shapes never land on the slow "ref" kernels, benchmarks report it. */
#ifndef FACS_CPU_CONV2D_IMPL_H
#define FACS_CPU_CONV2D_IMPL_H

#include "../backend.h"

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

#endif
