/* The CUDA op entries (one .cu file per op family, like the CPU backend's
 * cpu/ folder) and the helpers they share. cuda_backend.cu puts the entries in
 * the backend table; their contracts are backend.h's, word for word.
 *
 * Declared with C++ linkage, so a definition whose signature drifts from its
 * declaration here fails to link instead of being called wrongly.
 *
 * Rules every kernel here follows (docs/cuda.md):
 *   - All work goes to the legacy default stream (ordering keeps the arena safe).
 *   - Reductions run in a fixed order: no float atomics, so a rerun on the
 *     same card reproduces every bit.
 *   - Scratch memory comes from facs_cuda_scratch (the context's arena), never
 *     from cudaMalloc in the hot path. */
#ifndef FACS_CUDA_OPS_H
#define FACS_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_check.h"

extern "C" {
#include "../backend.h"
#include "../ctx.h"
#include "../sgd_math.h"
}

/* Threads per block for simple element-wise kernels. */
constexpr unsigned kFacsCudaThreads = 256;

/* Blocks for a grid-stride loop over total items; the cap only bounds the
 * grid, larger totals loop inside the kernel. At least 1. */
static inline unsigned facs_cuda_blocks(size_t total, unsigned per_block = kFacsCudaThreads)
{
    size_t blocks = (total + per_block - 1) / per_block;
    if (blocks == 0)
        blocks = 1;
    return blocks < 65536 ? (unsigned)blocks : 65536u;
}

/* Device scratch from the context's arena (valid until the next begin_step),
 * or FACS_ERR_MEMORY naming op. */
facs_status facs_cuda_scratch(facs_ctx *ctx, const char *op, size_t bytes, void **out);

/* The process's cuDNN handle, created on first use (on the default stream). */
facs_status facs_cuda_cudnn(cudnnHandle_t *out);

/* conv2d.cu (cuDNN) */
facs_status facs_cuda_conv2d_forward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                     const facs_tensor *w, const facs_tensor *b, facs_tensor *y);
facs_status facs_cuda_conv2d_backward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                      const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                      facs_tensor *db);

/* batchnorm.cu */
facs_status facs_cuda_batchnorm_forward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                        const facs_tensor *gamma, const facs_tensor *beta, facs_tensor *running_mean,
                                        facs_tensor *running_var, facs_tensor *y, facs_tensor *save_mean,
                                        facs_tensor *save_invstd);
facs_status facs_cuda_batchnorm_backward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                         const facs_tensor *gamma, const facs_tensor *save_mean,
                                         const facs_tensor *save_invstd, const facs_tensor *dy, facs_tensor *dx,
                                         facs_tensor *dgamma, facs_tensor *dbeta);

/* elementwise.cu: activations, add, dropout2d, scale_channels */
facs_status facs_cuda_activation_forward(facs_ctx *ctx, facs_activation act, const facs_tensor *x, facs_tensor *y);
facs_status facs_cuda_activation_backward(facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                          const facs_tensor *y, const facs_tensor *dy, facs_tensor *dx);
facs_status facs_cuda_add_forward(facs_ctx *ctx, const facs_tensor *a, const facs_tensor *b, facs_post_act act,
                                  facs_tensor *y);
facs_status facs_cuda_dropout2d_forward(facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                        facs_tensor *mask, facs_tensor *y);
facs_status facs_cuda_dropout2d_backward(facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                         facs_tensor *dx);
facs_status facs_cuda_scale_channels_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                             facs_tensor *y);
facs_status facs_cuda_scale_channels_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                              const facs_tensor *dy, facs_tensor *dx, facs_tensor *ds);

/* channels.cu: concat, channel_pool */
facs_status facs_cuda_concat_forward(facs_ctx *ctx, int count, const facs_tensor *const *xs, facs_tensor *y);
facs_status facs_cuda_concat_backward(facs_ctx *ctx, int count, const facs_tensor *const *xs, const facs_tensor *dy,
                                      facs_tensor *const *dxs);
facs_status facs_cuda_channel_pool_forward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                           facs_tensor *y);
facs_status facs_cuda_channel_pool_backward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                            const facs_tensor *dy, facs_tensor *dx);

/* pool2d.cu: max/avg pooling, adaptive average pooling */
facs_status facs_cuda_maxpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                        facs_tensor *y);
facs_status facs_cuda_maxpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                         const facs_tensor *dy, facs_tensor *dx);
facs_status facs_cuda_avgpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                        facs_tensor *y);
facs_status facs_cuda_avgpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *dy,
                                         facs_tensor *dx);
facs_status facs_cuda_adaptive_avgpool2d_forward(facs_ctx *ctx, const facs_tensor *x, facs_tensor *y);
facs_status facs_cuda_adaptive_avgpool2d_backward(facs_ctx *ctx, const facs_tensor *dy, facs_tensor *dx);

/* resize_bilinear.cu */
facs_status facs_cuda_resize_bilinear_forward(facs_ctx *ctx, int align_corners, const facs_tensor *x,
                                              facs_tensor *y);
facs_status facs_cuda_resize_bilinear_backward(facs_ctx *ctx, int align_corners, const facs_tensor *dy,
                                               facs_tensor *dx);

/* linear.cu (own tiled matrix product) */
facs_status facs_cuda_linear_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                     const facs_tensor *b, facs_tensor *y);
facs_status facs_cuda_linear_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                      const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db);

/* softmax_ce.cu */
facs_status facs_cuda_softmax_ce_forward(facs_ctx *ctx, int ignore_index, float smoothing,
                                         const facs_tensor *logits, const facs_tensor *labels, facs_tensor *probs,
                                         facs_tensor *loss, int64_t *valid);
facs_status facs_cuda_softmax_ce_backward(facs_ctx *ctx, int ignore_index, float smoothing,
                                          const facs_tensor *probs, const facs_tensor *labels, float dloss,
                                          int64_t valid, facs_tensor *dlogits);

/* sgd.cu: one fused kernel per tensor (sgd_math.h's update at every index). */
facs_status facs_cuda_sgd_update(facs_sgd_coeffs k, int first, size_t count, float *p, const float *g, float *buf);

/* non_finite.cu: integer counts, one atomic per block (exact in any order). */
facs_status facs_cuda_count_non_finite(size_t count, const float *x, int64_t *counter);

/* facs.cu */
facs_status facs_cuda_facs_forward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *z,
                                   facs_tensor *prob);
facs_status facs_cuda_facs_backward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                    const facs_tensor *w, const facs_tensor *z, const facs_tensor *prob,
                                    const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db);

#endif
