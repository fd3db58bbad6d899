/* Tensors: float32 (or int32 for labels) arrays that know their device.
 *
 * Shapes are always spoken as (N, C, H, W), like PyTorch. Storage is
 * channels-last (NHWC): element (n, c, h, w) lives at
 *     ((n * H + h) * W + w) * C + c.
 * A vector or matrix is a tensor with H = W = 1, so (N, C, 1, 1) is an
 * ordinary row-major N x C matrix. Convolution weights (O, I/groups, KH, KW)
 * are stored the same way, i.e. OHWI. Files and PyTorch use NCHW / OIHW;
 * facs_tensor_from_nchw and facs_tensor_to_nchw convert at that boundary.
 *
 * Ownership: facs_tensor_create returns a heap tensor freed with
 * facs_tensor_free (parameters, persistent buffers). Activations come from a
 * context's arena (facs_ctx_tensor in ctx.h) and die when the arena is reset.
 *
 * Gradient fields are used by the tape (autograd.h): grad is NULL until the
 * backward pass writes it. Parameter gradients accumulate (+=) across backward
 * calls until the optimizer zeroes them; activation gradients are written. */
#ifndef FACS_TENSOR_H
#define FACS_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* FACS_DEVICE_META: tensors with a shape and no storage, whose ops compute
 * nothing (PyTorch's "meta" device). A model built there and run forward
 * through a META context goes through every shape check and reports every op
 * to the profiling hook (ctx.h) at no memory or compute cost, whatever the
 * input size: how facs-summary counts (backbone/flops.h). A meta tensor's
 * data is a placeholder address that must never be dereferenced; uploads and
 * initialisation do nothing and a download reads zeros. */
typedef enum { FACS_DEVICE_CPU = 0, FACS_DEVICE_CUDA = 1, FACS_DEVICE_META = 2 } facs_device;
typedef enum { FACS_F32 = 0, FACS_I32 = 1 } facs_dtype;

typedef struct facs_tensor {
    int n, c, h, w;
    facs_dtype dtype;
    facs_device device;
    void *data;
    struct facs_tensor *grad;  /* same shape and device; NULL until written */
    unsigned requires_grad : 1; /* the tape records ops that consume it */
    unsigned is_param : 1;      /* grad is persistent and accumulates */
    unsigned keep_grad : 1;     /* activation whose grad survives backward */
    unsigned owns_data : 1;     /* data was allocated by facs_tensor_create */
    /* Unique across all tensors, renewed by facs_tensor_touch whenever the
     * library writes the values (upload, SGD): what caches derived from a
     * tensor (ctx.h facs_ctx_weight_cache) compare. 0 for arena tensors. */
    uint64_t version;
    /* Parameters while the tape records (autograd.h "Gradient readiness"): the
     * step (ctx->step_id) of the stamp and the index of the first tape node
     * that consumed the tensor in it. */
    uint64_t tape_step;
    int tape_first;
} facs_tensor;

static inline size_t facs_tensor_numel(const facs_tensor *t)
{
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

static inline size_t facs_tensor_bytes(const facs_tensor *t) { return facs_tensor_numel(t) * 4; }

static inline float *facs_f32(const facs_tensor *t) { return (float *)t->data; }
static inline int32_t *facs_i32(const facs_tensor *t) { return (int32_t *)t->data; }

/* "cpu", "cuda" or "meta", for messages. */
const char *facs_device_name(facs_device device);

/* Same (N, C, H, W), dtype and device. */
int facs_tensor_same_shape(const facs_tensor *a, const facs_tensor *b);

/* A zero-filled heap tensor on device; NULL (with last error) on failure. */
facs_tensor *facs_tensor_create(facs_device device, facs_dtype dtype, int n, int c, int h, int w);

/* Refuses (FACS_ERR_ARG) an unknown dtype, a non-positive size and a shape
 * whose byte count does not fit in size_t; every tensor constructor asks. */
facs_status facs_check_shape(facs_dtype dtype, int n, int c, int h, int w);

/* Gives t a new version: its values have changed. Code that writes a
 * parameter's values through facs_f32 must call it. */
void facs_tensor_touch(facs_tensor *t);

/* Frees a heap tensor, its data if owned, and its gradient. NULL is ignored. */
void facs_tensor_free(facs_tensor *t);

/* Moves a heap tensor's values (and its gradient's) to device in place: the
 * header keeps its address, so every layer holding the tensor follows it.
 * Needs owns_data; a no-op when t is already there. A failure (out of device
 * memory) can leave the gradient moved and the values not: drop the tensor. */
facs_status facs_tensor_move_to(facs_tensor *t, facs_device device);

/* Allocates t->grad (zeroed, heap) if missing: used for parameters. */
facs_status facs_tensor_ensure_grad(facs_tensor *t);

/* Copies between host NCHW (OIHW for weights) order and the tensor's storage,
 * converting layout and crossing devices as needed. count must equal numel. */
facs_status facs_tensor_from_nchw(facs_tensor *dst, const float *nchw, size_t count);
facs_status facs_tensor_to_nchw(const facs_tensor *src, float *nchw, size_t count);

/* Raw copies in storage order between a host buffer and the tensor. */
facs_status facs_tensor_upload(facs_tensor *dst, const void *host, size_t bytes);
facs_status facs_tensor_download(const facs_tensor *src, void *host, size_t bytes);

/* facs_tensor_upload without waiting for the copy (backend.h
 * copy_from_host_async): ops queued after it read the new values, but host
 * must stay unchanged and allocated until the next synchronising call on
 * dst's device (a download, the backend's sync). Fastest from memory of
 * facs_device_host_allocator. */
facs_status facs_tensor_upload_async(facs_tensor *dst, const void *host, size_t bytes);

/* An allocator of host memory, for buffers whose data goes to a device (the
 * loader's batches, datasets/loader.h). alloc returns NULL with last error. */
typedef struct {
    void *(*alloc)(void *user, size_t bytes);
    void (*free)(void *user, void *ptr);
    void *user;
} facs_host_allocator;

/* The host staging memory of device's backend (backend.h host_alloc):
 * page-locked on CUDA, so facs_tensor_upload_async from it does not hold up
 * the host; 64-byte aligned memory elsewhere. Fails when the backend is
 * missing. */
facs_status facs_device_host_allocator(facs_device device, facs_host_allocator *out);

/* Layout conversion on host buffers: NCHW <-> NHWC for shape (n, c, h, w). */
void facs_nchw_to_nhwc(const float *src, float *dst, int n, int c, int h, int w);
void facs_nhwc_to_nchw(const float *src, float *dst, int n, int c, int h, int w);

/* "(2, 64, 56, 56)" into buf, for messages. */
const char *facs_shape_str(const facs_tensor *t, char *buf, size_t size);

#endif
