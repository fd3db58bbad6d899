/* Backends: one table of function pointers per device (CPU always, CUDA when
 * built with it). An op runs on the device of its tensors; the differentiable
 * API in ops.h checks that all of an op's tensors share one device and then
 * calls the entry of that device's table. An entry that is NULL means the op
 * does not exist on that device (an error, never a silent fallback).
 *
 * Conventions for every op entry:
 *   - Tensors are NHWC with (N, C, H, W) shapes as documented in tensor.h.
 *     The caller (ops.h) has already checked shapes; backends may assume them.
 *   - Outputs are written (=). Parameter gradients (dw, db, dgamma, dbeta) are
 *     accumulated (+=). Activation input gradients (dx) are written (=).
 *   - Any gradient pointer may be NULL: that gradient is not wanted.
 *   - ctx gives scratch memory (facs_ctx_scratch) that lives until the step's
 *     arena reset; backends must not malloc in the hot path.
 *   - Return FACS_OK or a status with facs_fail's message. */
#ifndef FACS_BACKEND_H
#define FACS_BACKEND_H

#include <stdint.h>

#include "rng.h" /* the dropout contract below draws with facs_rng_uniform */
#include "sgd_math.h" /* the sgd_update entry applies facs_sgd_update */
#include "tensor.h"

struct facs_ctx;

/* The activation that ends a convolution's inference post-ops. */
typedef enum {
    FACS_POST_NONE = 0,
    FACS_POST_RELU = 1,  /* max(0, .) */
    FACS_POST_RELU6 = 2, /* min(max(0, .), 6): MobileNet-v2's ReLU6 */
} facs_post_act;

typedef struct {
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dil_h, dil_w; /* PyTorch convention: 1 = no dilation */
    int groups;       /* 1 = dense; C_in = groups for depthwise */
    /* Inference-only post-ops of conv2d_forward (facs_conv2d_fused; never
     * recorded, so never in training): post_sum: y holds a residual on entry
     * and gets conv + residual; post_act: then that activation. 0 (none) in
     * facs_conv2d_defaults(). */
    int post_sum;
    facs_post_act post_act;
} facs_conv2d_params;

typedef struct {
    float eps;      /* 1e-5 */
    float momentum; /* 0.1: running = (1 - m) * running + m * batch (unbiased var) */
    int training;   /* 1: batch statistics; 0: running statistics */
} facs_batchnorm_params;

typedef enum { FACS_ACT_RELU, FACS_ACT_RELU6, FACS_ACT_SIGMOID } facs_activation;

typedef struct {
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int ceil_mode;         /* PyTorch's ceil_mode output-size rule */
    int count_include_pad; /* avg pool only; PyTorch's default is 1 */
} facs_pool2d_params;

typedef enum { FACS_FUSION_THRESHOLD = 0, FACS_FUSION_WEIGHTED = 1 } facs_fusion;

typedef struct {
    facs_fusion fusion;
    float threshold; /* T_cf of Eq. 2: p <= T takes Max, p > T takes Avg */
} facs_fuse_params;

/* How channel_pool reduces each group of R channels. */
typedef enum { FACS_CHANNEL_POOL_MAX = 0, FACS_CHANNEL_POOL_AVG = 1 } facs_channel_pool_mode;

typedef struct facs_backend {
    const char *name;

    /* Memory. alloc returns 64-byte aligned memory or NULL with last error. */
    void *(*alloc)(size_t bytes);
    void (*free)(void *ptr);
    facs_status (*copy_from_host)(void *dst, const void *src, size_t bytes);
    facs_status (*copy_to_host)(void *dst, const void *src, size_t bytes);
    facs_status (*copy)(void *dst, const void *src, size_t bytes); /* same device */
    facs_status (*fill_zero)(void *dst, size_t bytes);
    /* y[i] += alpha * x[i] over count floats: gradient accumulation. */
    facs_status (*axpy)(size_t count, float alpha, const float *x, float *y);
    /* Waits for queued work (no-op on the CPU). */
    facs_status (*sync)(void);
    /* Host staging memory for data on its way to the device (the loader's
     * batches): page-locked on CUDA, so that copies from it are DMA transfers
     * that copy_from_host_async queues without waiting; 64-byte aligned
     * ordinary memory on the CPU and meta backends. Always host memory that
     * the CPU reads and writes, whatever the device. host_alloc returns NULL
     * with last error; host_free first waits for the device's queued work,
     * so a copy still pending from the buffer never reads freed memory. */
    void *(*host_alloc)(size_t bytes);
    void (*host_free)(void *ptr);
    /* copy_from_host without waiting for the copy: it is queued behind the
     * work before it and ahead of every later op (CUDA: the legacy default
     * stream), so later ops read the new values. The contract: src must
     * stay unchanged and allocated until the next synchronising call on the
     * host, sync or copy_to_host (host_free waits too). From host_alloc
     * memory it returns at once on CUDA; from other memory the runtime
     * stages the data first. A plain copy on the CPU. */
    facs_status (*copy_from_host_async)(void *dst, const void *src, size_t bytes);
    /* Adds to *counter (device memory, one int64_t) how many of x[0, count)
     * are NaN or infinite. Integer sums, so the count is exact in any order,
     * and many calls can add into one buffer that a single copy_to_host
     * reads (train/finite.c: one download checks every gradient). */
    facs_status (*count_non_finite)(size_t count, const float *x, int64_t *counter);
    /* One SGD step of one tensor: facs_sgd_update (sgd_math.h) at every index
     * of p, g and buf (buf NULL when k.momentum is 0), in one pass. */
    facs_status (*sgd_update)(facs_sgd_coeffs k, int first, size_t count, float *p, const float *g, float *buf);

    /* conv2d. x (N, Ci, H, W); w (Co, Ci/groups, KH, KW); b (Co, 1, 1, 1) or NULL;
     * y (N, Co, OH, OW) with OH = (H + 2 pad - dil (KH - 1) - 1) / stride + 1. */
    facs_status (*conv2d_forward)(struct facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                  const facs_tensor *w, const facs_tensor *b, facs_tensor *y);
    facs_status (*conv2d_backward)(struct facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                   facs_tensor *db);

    /* batchnorm2d. gamma, beta, running_mean, running_var, save_mean, save_invstd: (C, 1, 1, 1).
     * Training: normalise with batch statistics, update the running statistics in place,
     * write save_mean and save_invstd = 1 / sqrt(batch_var + eps).
     * Eval: use running statistics; save_mean = running_mean, save_invstd = 1 / sqrt(running_var + eps).
     * backward uses p->training to pick the formula (batch statistics or constants). */
    facs_status (*batchnorm_forward)(struct facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                     const facs_tensor *gamma, const facs_tensor *beta, facs_tensor *running_mean,
                                     facs_tensor *running_var, facs_tensor *y, facs_tensor *save_mean,
                                     facs_tensor *save_invstd);
    facs_status (*batchnorm_backward)(struct facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                      const facs_tensor *gamma, const facs_tensor *save_mean,
                                      const facs_tensor *save_invstd, const facs_tensor *dy, facs_tensor *dx,
                                      facs_tensor *dgamma, facs_tensor *dbeta);

    /* relu, relu6 (min(max(x, 0), 6)), sigmoid; x, y same shape; forward may
     * run in place (y == x). backward receives both x and y (sigmoid uses y,
     * the ReLUs use x; a ReLU's output in place of x gives the same mask). */
    facs_status (*activation_forward)(struct facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                      facs_tensor *y);
    facs_status (*activation_backward)(struct facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                       const facs_tensor *y, const facs_tensor *dy, facs_tensor *dx);

    /* y = act(a + b), same shapes, act FACS_POST_NONE, _RELU or _RELU6 (the
     * ReLUs as activation_forward's, NaN included); may run in place (y == a
     * or y == b). Its backward is a copy (done by ops.h), through the
     * activation's backward first when act is not none. */
    facs_status (*add_forward)(struct facs_ctx *ctx, const facs_tensor *a, const facs_tensor *b, facs_post_act act,
                               facs_tensor *y);

    /* Max pooling; backward routes each dy to the first maximum of its window
     * (PyTorch's choice), recomputed from x. Padding never wins. */
    facs_status (*maxpool2d_forward)(struct facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                     facs_tensor *y);
    facs_status (*maxpool2d_backward)(struct facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                      const facs_tensor *dy, facs_tensor *dx);
    facs_status (*avgpool2d_forward)(struct facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                     facs_tensor *y);
    facs_status (*avgpool2d_backward)(struct facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *dy,
                                      facs_tensor *dx);

    /* Adaptive average pooling to y's (OH, OW) with PyTorch's bin edges:
     * start = floor(i H / OH), end = ceil((i + 1) H / OH). Global average pooling
     * is the OH = OW = 1 case. */
    facs_status (*adaptive_avgpool2d_forward)(struct facs_ctx *ctx, const facs_tensor *x, facs_tensor *y);
    facs_status (*adaptive_avgpool2d_backward)(struct facs_ctx *ctx, const facs_tensor *dy, facs_tensor *dx);

    /* Bilinear resize of x to y's (OH, OW), PyTorch's F.interpolate(mode="bilinear"). */
    facs_status (*resize_bilinear_forward)(struct facs_ctx *ctx, int align_corners, const facs_tensor *x,
                                           facs_tensor *y);
    facs_status (*resize_bilinear_backward)(struct facs_ctx *ctx, int align_corners, const facs_tensor *dy,
                                            facs_tensor *dx);

    /* Concatenation along channels of count tensors of equal N, H, W. backward
     * splits dy into dxs[i] for the inputs whose dxs[i] is not NULL; xs gives
     * every input's width. */
    facs_status (*concat_forward)(struct facs_ctx *ctx, int count, const facs_tensor *const *xs, facs_tensor *y);
    facs_status (*concat_backward)(struct facs_ctx *ctx, int count, const facs_tensor *const *xs,
                                   const facs_tensor *dy, facs_tensor *const *dxs);

    /* dropout2d: mask (N, C, 1, 1) holds 0 or 1 / (1 - prob) per channel, drawn by
     * forward from (seed, n * C + c) with facs_rng_uniform; y = x * mask. */
    facs_status (*dropout2d_forward)(struct facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                     facs_tensor *mask, facs_tensor *y);
    facs_status (*dropout2d_backward)(struct facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                      facs_tensor *dx);

    /* linear: x (N, IN, 1, 1); w (OUT, IN, 1, 1); b (OUT, 1, 1, 1) or NULL; y (N, OUT, 1, 1). */
    facs_status (*linear_forward)(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                  const facs_tensor *b, facs_tensor *y);
    facs_status (*linear_backward)(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                   const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db);

    /* Softmax cross-entropy over channels. logits (N, K, H, W) f32; labels (N, 1, H, W)
     * i32 in [0, K) or == ignore_index (any other label is an error naming it);
     * probs (N, K, H, W) receives the softmax; loss (1, 1, 1, 1) = mean over the
     * non-ignored pixels (NaN when there are none, as in PyTorch); *valid = their count.
     * With label smoothing e (0: none) the target is (1 - e) onehot + e / K (ops.h).
     * backward: dlogits = dloss * (probs - target) / valid, 0 at ignored pixels. */
    facs_status (*softmax_ce_forward)(struct facs_ctx *ctx, int ignore_index, float smoothing,
                                      const facs_tensor *logits, const facs_tensor *labels, facs_tensor *probs,
                                      facs_tensor *loss, int64_t *valid);
    facs_status (*softmax_ce_backward)(struct facs_ctx *ctx, int ignore_index, float smoothing,
                                       const facs_tensor *probs, const facs_tensor *labels, float dloss,
                                       int64_t valid, facs_tensor *dlogits);

    /* Per-channel scaling (squeeze-and-excitation): x (N, C, H, W), s (N, C, 1, 1),
     * y = x * s broadcast over pixels. backward: dx = dy * s and ds = the sum over
     * pixels of dy * x; both are activation gradients, written (=). */
    facs_status (*scale_channels_forward)(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                          facs_tensor *y);
    facs_status (*scale_channels_backward)(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                           const facs_tensor *dy, facs_tensor *dx, facs_tensor *ds);

    /* Channel pooling (depth-wise pooling): x (N, C, H, W) to y (N, C/R, H, W),
     * output channel i the max or mean of input channels [R i, R i + R), the
     * FACS op's chunks. Max backward routes dy to the chunk's first maximum,
     * recomputed from x; avg spreads dy / R. dx is written (=). */
    facs_status (*channel_pool_forward)(struct facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                        facs_tensor *y);
    facs_status (*channel_pool_backward)(struct facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                         const facs_tensor *dy, facs_tensor *dx);

    /* The FACS op (paper Eq. 1-3). x (N, C, H, W); w (C/R, C, 1, 1) the squeeze
     * weight; b (C/R, 1, 1, 1) or NULL; y (N, C/R, H, W); z (N, C, 1, 1)
     * receives the spatial mean of x and prob (N, C/R, 1, 1) p = sigmoid(w z +
     * b). Chunk i of R channels is [R i, R i + R). Per-element math:
     * facs_fusion_math.h. The backward takes the forward's z and prob (z is
     * read only for dw), so that it need not sum x over the pixels again. */
    facs_status (*facs_forward)(struct facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *z,
                                facs_tensor *prob);
    facs_status (*facs_backward)(struct facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                 const facs_tensor *w, const facs_tensor *z, const facs_tensor *prob,
                                 const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db);
} facs_backend;

/* The table for a device, or NULL (with last error) when that backend was not
 * built or no device is present. */
const facs_backend *facs_backend_get(facs_device device);

/* Whether a CUDA device can be used in this process. */
int facs_cuda_available(void);

/* A tool's --device: "cpu", "cuda" (device 0) or "cuda:N". An unknown name, a
 * bad index or cuda in a build without it is FACS_ERR_ARG naming the text. */
facs_status facs_device_parse(const char *text, facs_device *device, int *index);

/* "cpu" or "cuda:N" into buf (what --device takes), for logs and JSON. */
const char *facs_device_label(facs_device device, int index, char *buf, size_t size);

/* Makes CUDA device index the one this process uses (before any tensor is
 * created on it); nothing for the CPU. Fails naming the index when it does
 * not exist. */
facs_status facs_device_select(facs_device device, int index);

extern const facs_backend facs_cpu_backend;
extern const facs_backend facs_meta_backend; /* FACS_DEVICE_META: shapes only (tensor.h) */

#endif
