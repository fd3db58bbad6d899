/* The CPU backend's op entries; see backend.h for shapes and gradient rules.
 * One file per op (forward + backward) in this folder. */
#ifndef FACS_CPU_OPS_H
#define FACS_CPU_OPS_H

#include "../backend.h"
#include "../ctx.h"

/* host_memory.c: 64-byte aligned host blocks (NULL with last error), the
 * CPU's alloc and host_alloc and the meta backend's host_alloc. */
void *facs_cpu_host_alloc(size_t bytes);
void facs_cpu_host_free(void *ptr);

/* non_finite.c */
facs_status facs_cpu_count_non_finite(size_t count, const float *x, int64_t *counter);

facs_status facs_cpu_conv2d_forward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                    const facs_tensor *w, const facs_tensor *b, facs_tensor *y);
facs_status facs_cpu_conv2d_backward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                     const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                     facs_tensor *db);

facs_status facs_cpu_batchnorm_forward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                       const facs_tensor *gamma, const facs_tensor *beta, facs_tensor *running_mean,
                                       facs_tensor *running_var, facs_tensor *y, facs_tensor *save_mean,
                                       facs_tensor *save_invstd);
facs_status facs_cpu_batchnorm_backward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                        const facs_tensor *gamma, const facs_tensor *save_mean,
                                        const facs_tensor *save_invstd, const facs_tensor *dy, facs_tensor *dx,
                                        facs_tensor *dgamma, facs_tensor *dbeta);

facs_status facs_cpu_activation_forward(facs_ctx *ctx, facs_activation act, const facs_tensor *x, facs_tensor *y);
facs_status facs_cpu_activation_backward(facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                         const facs_tensor *y, const facs_tensor *dy, facs_tensor *dx);
facs_status facs_cpu_add_forward(facs_ctx *ctx, const facs_tensor *a, const facs_tensor *b, facs_post_act act,
                                 facs_tensor *y);

facs_status facs_cpu_maxpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                       facs_tensor *y);
facs_status facs_cpu_maxpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                        const facs_tensor *dy, facs_tensor *dx);
facs_status facs_cpu_avgpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                       facs_tensor *y);
facs_status facs_cpu_avgpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *dy,
                                        facs_tensor *dx);
facs_status facs_cpu_adaptive_avgpool2d_forward(facs_ctx *ctx, const facs_tensor *x, facs_tensor *y);
facs_status facs_cpu_adaptive_avgpool2d_backward(facs_ctx *ctx, const facs_tensor *dy, facs_tensor *dx);

facs_status facs_cpu_resize_bilinear_forward(facs_ctx *ctx, int align_corners, const facs_tensor *x,
                                             facs_tensor *y);
facs_status facs_cpu_resize_bilinear_backward(facs_ctx *ctx, int align_corners, const facs_tensor *dy,
                                              facs_tensor *dx);

facs_status facs_cpu_concat_forward(facs_ctx *ctx, int count, const facs_tensor *const *xs, facs_tensor *y);
facs_status facs_cpu_concat_backward(facs_ctx *ctx, int count, const facs_tensor *const *xs, const facs_tensor *dy,
                                     facs_tensor *const *dxs);

facs_status facs_cpu_dropout2d_forward(facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                       facs_tensor *mask, facs_tensor *y);
facs_status facs_cpu_dropout2d_backward(facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                        facs_tensor *dx);

facs_status facs_cpu_linear_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w, const facs_tensor *b,
                                    facs_tensor *y);
facs_status facs_cpu_linear_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                     const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db);

facs_status facs_cpu_softmax_ce_forward(facs_ctx *ctx, int ignore_index, float smoothing, const facs_tensor *logits,
                                        const facs_tensor *labels, facs_tensor *probs, facs_tensor *loss,
                                        int64_t *valid);
facs_status facs_cpu_softmax_ce_backward(facs_ctx *ctx, int ignore_index, float smoothing, const facs_tensor *probs,
                                         const facs_tensor *labels, float dloss, int64_t valid,
                                         facs_tensor *dlogits);

facs_status facs_cpu_scale_channels_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                            facs_tensor *y);
facs_status facs_cpu_scale_channels_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                             const facs_tensor *dy, facs_tensor *dx, facs_tensor *ds);

facs_status facs_cpu_channel_pool_forward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                          facs_tensor *y);
facs_status facs_cpu_channel_pool_backward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                           const facs_tensor *dy, facs_tensor *dx);

facs_status facs_cpu_facs_forward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                  const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *z,
                                  facs_tensor *prob);
facs_status facs_cpu_facs_backward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *z, const facs_tensor *prob,
                                   const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db);

#endif
