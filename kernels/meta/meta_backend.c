/* The meta backend (FACS_DEVICE_META, tensor.h): shapes without storage.
 *
 * Memory: alloc hands out placeholder addresses, distinct 64-byte aligned
 * ranges of an address space that maps nothing, so the arenas and every
 * piece of bookkeeping built on addresses (ctx.h marks, keep_only, the
 * gradient free list) run unchanged and the arenas' peaks still say what a
 * step would need on a real device. The addresses lie at and above 2^62 on a
 * 64-bit machine (non-canonical on x86-64), so a stray dereference faults
 * at once instead of reading memory. Copies into a meta tensor do nothing;
 * copies out of one give zeros. Host staging memory (host_alloc) is real,
 * the CPU's: the host writes it before uploading.
 *
 * Ops: the ops layer (ops.h) has already checked the shapes and allocated the
 * outputs, which is all a meta op is for; every entry returns FACS_OK at
 * once. The one value an entry hands back on the host, softmax_ce's count of
 * non-ignored pixels, is taken to be every pixel. */
#include <stdatomic.h>
#include <string.h>

#include "../backend.h"
#include "../cpu/cpu_ops.h" /* host staging memory is real memory, as on the CPU */

#define META_ALIGN 64
/* Placeholders span [META_BASE, 2 META_BASE): 2^62 bytes on 64-bit machines. */
#define META_BASE ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 2))

static atomic_uintptr_t meta_next;

static void *meta_alloc(size_t bytes)
{
    uintptr_t rounded = bytes ? ((uintptr_t)bytes + META_ALIGN - 1) / META_ALIGN * META_ALIGN : META_ALIGN;
    if (bytes > META_BASE - META_ALIGN) {
        facs_fail(FACS_ERR_MEMORY, "meta: %zu bytes exceed the placeholder address space", bytes);
        return NULL;
    }
    uintptr_t offset = atomic_fetch_add(&meta_next, rounded);
    if (offset > META_BASE - rounded) {
        facs_fail(FACS_ERR_MEMORY, "meta: placeholder address space exhausted");
        return NULL;
    }
    return (void *)(META_BASE + offset);
}

static void meta_free(void *ptr) { (void)ptr; }

static facs_status meta_copy_from_host(void *dst, const void *src, size_t bytes)
{
    (void)dst, (void)src, (void)bytes;
    return FACS_OK;
}

static facs_status meta_copy_to_host(void *dst, const void *src, size_t bytes)
{
    (void)src;
    if (bytes)
        memset(dst, 0, bytes);
    return FACS_OK;
}

static facs_status meta_copy(void *dst, const void *src, size_t bytes)
{
    (void)dst, (void)src, (void)bytes;
    return FACS_OK;
}

static facs_status meta_fill_zero(void *dst, size_t bytes)
{
    (void)dst, (void)bytes;
    return FACS_OK;
}

static facs_status meta_axpy(size_t count, float alpha, const float *x, float *y)
{
    (void)count, (void)alpha, (void)x, (void)y;
    return FACS_OK;
}

static facs_status meta_sync(void) { return FACS_OK; }

/* Meta tensors hold no values (tensor.h: their data pointers are never
 * read), so none is bad: the counter is left as it is. */
static facs_status meta_count_non_finite(size_t count, const float *x, int64_t *counter)
{
    (void)count, (void)x, (void)counter;
    return FACS_OK;
}

static facs_status conv2d_forward(struct facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                  const facs_tensor *w, const facs_tensor *b, facs_tensor *y)
{
    (void)ctx, (void)p, (void)x, (void)w, (void)b, (void)y;
    return FACS_OK;
}

static facs_status conv2d_backward(struct facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                   facs_tensor *db)
{
    (void)ctx, (void)p, (void)x, (void)w, (void)dy, (void)dx, (void)dw, (void)db;
    return FACS_OK;
}

static facs_status batchnorm_forward(struct facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                     const facs_tensor *gamma, const facs_tensor *beta, facs_tensor *running_mean,
                                     facs_tensor *running_var, facs_tensor *y, facs_tensor *save_mean,
                                     facs_tensor *save_invstd)
{
    (void)ctx, (void)p, (void)x, (void)gamma, (void)beta, (void)running_mean, (void)running_var, (void)y;
    (void)save_mean, (void)save_invstd;
    return FACS_OK;
}

static facs_status batchnorm_backward(struct facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                      const facs_tensor *gamma, const facs_tensor *save_mean,
                                      const facs_tensor *save_invstd, const facs_tensor *dy, facs_tensor *dx,
                                      facs_tensor *dgamma, facs_tensor *dbeta)
{
    (void)ctx, (void)p, (void)x, (void)gamma, (void)save_mean, (void)save_invstd, (void)dy, (void)dx;
    (void)dgamma, (void)dbeta;
    return FACS_OK;
}

static facs_status activation_forward(struct facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                      facs_tensor *y)
{
    (void)ctx, (void)act, (void)x, (void)y;
    return FACS_OK;
}

static facs_status activation_backward(struct facs_ctx *ctx, facs_activation act, const facs_tensor *x,
                                       const facs_tensor *y, const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx, (void)act, (void)x, (void)y, (void)dy, (void)dx;
    return FACS_OK;
}

static facs_status add_forward(struct facs_ctx *ctx, const facs_tensor *a, const facs_tensor *b, facs_post_act act,
                               facs_tensor *y)
{
    (void)ctx, (void)a, (void)b, (void)act, (void)y;
    return FACS_OK;
}

static facs_status pool2d_forward(struct facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                  facs_tensor *y)
{
    (void)ctx, (void)p, (void)x, (void)y;
    return FACS_OK;
}

static facs_status maxpool2d_backward(struct facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                      const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx, (void)p, (void)x, (void)dy, (void)dx;
    return FACS_OK;
}

static facs_status avgpool2d_backward(struct facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *dy,
                                      facs_tensor *dx)
{
    (void)ctx, (void)p, (void)dy, (void)dx;
    return FACS_OK;
}

/* adaptive_avgpool2d forward and backward, and every other (x, y) entry. */
static facs_status unary(struct facs_ctx *ctx, const facs_tensor *x, facs_tensor *y)
{
    (void)ctx, (void)x, (void)y;
    return FACS_OK;
}

static facs_status resize_bilinear(struct facs_ctx *ctx, int align_corners, const facs_tensor *x, facs_tensor *y)
{
    (void)ctx, (void)align_corners, (void)x, (void)y;
    return FACS_OK;
}

static facs_status concat_forward(struct facs_ctx *ctx, int count, const facs_tensor *const *xs, facs_tensor *y)
{
    (void)ctx, (void)count, (void)xs, (void)y;
    return FACS_OK;
}

static facs_status concat_backward(struct facs_ctx *ctx, int count, const facs_tensor *const *xs,
                                   const facs_tensor *dy, facs_tensor *const *dxs)
{
    (void)ctx, (void)count, (void)xs, (void)dy, (void)dxs;
    return FACS_OK;
}

static facs_status dropout2d_forward(struct facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                     facs_tensor *mask, facs_tensor *y)
{
    (void)ctx, (void)prob, (void)seed, (void)x, (void)mask, (void)y;
    return FACS_OK;
}

static facs_status dropout2d_backward(struct facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                      facs_tensor *dx)
{
    (void)ctx, (void)mask, (void)dy, (void)dx;
    return FACS_OK;
}

static facs_status linear_forward(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                  const facs_tensor *b, facs_tensor *y)
{
    (void)ctx, (void)x, (void)w, (void)b, (void)y;
    return FACS_OK;
}

static facs_status linear_backward(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                   const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db)
{
    (void)ctx, (void)x, (void)w, (void)dy, (void)dx, (void)dw, (void)db;
    return FACS_OK;
}

/* Labels have no values here, so every pixel counts as not ignored. */
static facs_status softmax_ce_forward(struct facs_ctx *ctx, int ignore_index, float smoothing,
                                      const facs_tensor *logits, const facs_tensor *labels, facs_tensor *probs,
                                      facs_tensor *loss, int64_t *valid)
{
    (void)ctx, (void)ignore_index, (void)smoothing, (void)labels, (void)probs, (void)loss;
    *valid = (int64_t)logits->n * logits->h * logits->w;
    return FACS_OK;
}

static facs_status softmax_ce_backward(struct facs_ctx *ctx, int ignore_index, float smoothing,
                                       const facs_tensor *probs, const facs_tensor *labels, float dloss,
                                       int64_t valid, facs_tensor *dlogits)
{
    (void)ctx, (void)ignore_index, (void)smoothing, (void)probs, (void)labels, (void)dloss, (void)valid, (void)dlogits;
    return FACS_OK;
}

static facs_status scale_channels_forward(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                          facs_tensor *y)
{
    (void)ctx, (void)x, (void)s, (void)y;
    return FACS_OK;
}

static facs_status scale_channels_backward(struct facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                           const facs_tensor *dy, facs_tensor *dx, facs_tensor *ds)
{
    (void)ctx, (void)x, (void)s, (void)dy, (void)dx, (void)ds;
    return FACS_OK;
}

static facs_status channel_pool_forward(struct facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                        facs_tensor *y)
{
    (void)ctx, (void)mode, (void)x, (void)y;
    return FACS_OK;
}

static facs_status channel_pool_backward(struct facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                         const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx, (void)mode, (void)x, (void)dy, (void)dx;
    return FACS_OK;
}

static facs_status meta_facs_forward(struct facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                     const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *z,
                                     facs_tensor *prob)
{
    (void)ctx, (void)p, (void)x, (void)w, (void)b, (void)y, (void)z, (void)prob;
    return FACS_OK;
}

static facs_status meta_facs_backward(struct facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                      const facs_tensor *w, const facs_tensor *z, const facs_tensor *prob,
                                      const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db)
{
    (void)ctx, (void)p, (void)x, (void)w, (void)z, (void)prob, (void)dy, (void)dx, (void)dw, (void)db;
    return FACS_OK;
}

const facs_backend facs_meta_backend = {
    .name = "meta",
    .alloc = meta_alloc,
    .free = meta_free,
    .copy_from_host = meta_copy_from_host,
    .copy_to_host = meta_copy_to_host,
    .copy = meta_copy,
    .fill_zero = meta_fill_zero,
    .axpy = meta_axpy,
    .sync = meta_sync,
    .host_alloc = facs_cpu_host_alloc,
    .host_free = facs_cpu_host_free,
    .copy_from_host_async = meta_copy_from_host,
    .count_non_finite = meta_count_non_finite,
    .conv2d_forward = conv2d_forward,
    .conv2d_backward = conv2d_backward,
    .batchnorm_forward = batchnorm_forward,
    .batchnorm_backward = batchnorm_backward,
    .activation_forward = activation_forward,
    .activation_backward = activation_backward,
    .add_forward = add_forward,
    .maxpool2d_forward = pool2d_forward,
    .maxpool2d_backward = maxpool2d_backward,
    .avgpool2d_forward = pool2d_forward,
    .avgpool2d_backward = avgpool2d_backward,
    .adaptive_avgpool2d_forward = unary,
    .adaptive_avgpool2d_backward = unary,
    .resize_bilinear_forward = resize_bilinear,
    .resize_bilinear_backward = resize_bilinear,
    .concat_forward = concat_forward,
    .concat_backward = concat_backward,
    .dropout2d_forward = dropout2d_forward,
    .dropout2d_backward = dropout2d_backward,
    .linear_forward = linear_forward,
    .linear_backward = linear_backward,
    .softmax_ce_forward = softmax_ce_forward,
    .softmax_ce_backward = softmax_ce_backward,
    .scale_channels_forward = scale_channels_forward,
    .scale_channels_backward = scale_channels_backward,
    .channel_pool_forward = channel_pool_forward,
    .channel_pool_backward = channel_pool_backward,
    .facs_forward = meta_facs_forward,
    .facs_backward = meta_facs_backward,
};
