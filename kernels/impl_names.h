/* Which implementation a device runs for a shape, in words, for the
 * benchmarks' records: the one place outside the backends that knows which
 * device has which query (DESIGN.md: no CUDA #ifdef outside kernels/). */
#ifndef FACS_IMPL_NAMES_H
#define FACS_IMPL_NAMES_H

#include <stddef.h>

#include "conv2d_impl.h"

/* conv2d's implementations on device for x and w (conv2d_impl.h): oneDNN's
 * kernels on the CPU, cuDNN's algorithms on CUDA. */
facs_status facs_conv2d_impl_names(facs_device device, const facs_conv2d_params *p, const facs_tensor *x,
                                   const facs_tensor *w, int with_bias, facs_conv2d_impl *out);

/* The FACS op's kernels on device for n images of hw pixels, c -> co
 * channels, fusion p, forward or backward, into buf (at most size bytes,
 * terminated): the CUDA plan (cuda/facs_kernels.h), "cpu" on the CPU. */
void facs_facs_kernel_names(facs_device device, int n, int hw, int c, int co, const facs_fuse_params *p,
                            int backward, char *buf, size_t size);

#endif
