#include "tensor.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

const char *facs_device_name(facs_device device)
{
    switch (device) {
    case FACS_DEVICE_CPU: return "cpu";
    case FACS_DEVICE_CUDA: return "cuda";
    case FACS_DEVICE_META: return "meta";
    }
    return "unknown";
}

int facs_tensor_same_shape(const facs_tensor *a, const facs_tensor *b)
{
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->dtype == b->dtype &&
           a->device == b->device;
}

void facs_tensor_touch(facs_tensor *t)
{
    static atomic_uint_fast64_t last_version;
    t->version = (uint64_t)atomic_fetch_add(&last_version, 1) + 1;
}

facs_status facs_check_shape(facs_dtype dtype, int n, int c, int h, int w)
{
    if (dtype != FACS_F32 && dtype != FACS_I32)
        return facs_fail(FACS_ERR_ARG, "tensor dtype %d is neither FACS_F32 nor FACS_I32", (int)dtype);
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return facs_fail(FACS_ERR_ARG, "tensor shape (%d, %d, %d, %d) has a non-positive size", n, c, h, w);
    /* Each factor is below 2^31, so the products of two fit; the last one is checked against the 4-byte limit. */
    size_t nc = (size_t)n * (size_t)c, hw = (size_t)h * (size_t)w;
    if (nc > SIZE_MAX / 4 / hw)
        return facs_fail(FACS_ERR_ARG, "tensor shape (%d, %d, %d, %d) is too large to address", n, c, h, w);
    return FACS_OK;
}

facs_tensor *facs_tensor_create(facs_device device, facs_dtype dtype, int n, int c, int h, int w)
{
    if (facs_check_shape(dtype, n, c, h, w) != FACS_OK)
        return NULL;
    const facs_backend *be = facs_backend_get(device);
    if (!be)
        return NULL;
    facs_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        facs_fail(FACS_ERR_MEMORY, "out of host memory for a tensor header");
        return NULL;
    }
    *t = (facs_tensor){.n = n, .c = c, .h = h, .w = w, .dtype = dtype, .device = device, .owns_data = 1};
    t->data = be->alloc(facs_tensor_bytes(t));
    if (!t->data || be->fill_zero(t->data, facs_tensor_bytes(t)) != FACS_OK) {
        if (t->data)
            be->free(t->data);
        free(t);
        return NULL;
    }
    facs_tensor_touch(t);
    return t;
}

facs_status facs_tensor_move_to(facs_tensor *t, facs_device device)
{
    if (t->device == device)
        return FACS_OK;
    if (!t->owns_data)
        return facs_fail(FACS_ERR_ARG, "only a heap tensor can move to another device");
    if (t->grad)
        FACS_TRY(facs_tensor_move_to(t->grad, device));
    const facs_backend *from = facs_backend_get(t->device), *to = facs_backend_get(device);
    if (!from || !to)
        return FACS_ERR_BACKEND;
    size_t bytes = facs_tensor_bytes(t);
    void *data = to->alloc(bytes);
    if (!data)
        return FACS_ERR_MEMORY;
    facs_status s = FACS_OK;
    if (t->device == FACS_DEVICE_CPU)
        s = to->copy_from_host(data, t->data, bytes);
    else if (device == FACS_DEVICE_CPU)
        s = from->copy_to_host(data, t->data, bytes);
    else
        s = facs_fail(FACS_ERR_UNSUPPORTED, "no copy from %s to %s", facs_device_name(t->device),
                      facs_device_name(device));
    if (s != FACS_OK) {
        to->free(data);
        return s;
    }
    from->free(t->data);
    t->data = data;
    t->device = device;
    facs_tensor_touch(t);
    return FACS_OK;
}

void facs_tensor_free(facs_tensor *t)
{
    if (!t)
        return;
    if (t->is_param && t->grad)
        facs_tensor_free(t->grad);
    if (t->owns_data)
        facs_backend_get(t->device)->free(t->data);
    free(t);
}

facs_status facs_tensor_ensure_grad(facs_tensor *t)
{
    if (t->grad)
        return FACS_OK;
    t->grad = facs_tensor_create(t->device, t->dtype, t->n, t->c, t->h, t->w);
    return t->grad ? FACS_OK : FACS_ERR_MEMORY;
}

void facs_nchw_to_nhwc(const float *src, float *dst, int n, int c, int h, int w)
{
    for (int in = 0; in < n; in++)
        for (int ic = 0; ic < c; ic++)
            for (int ih = 0; ih < h; ih++)
                for (int iw = 0; iw < w; iw++)
                    dst[(((size_t)in * h + ih) * w + iw) * c + ic] = src[(((size_t)in * c + ic) * h + ih) * w + iw];
}

void facs_nhwc_to_nchw(const float *src, float *dst, int n, int c, int h, int w)
{
    for (int in = 0; in < n; in++)
        for (int ic = 0; ic < c; ic++)
            for (int ih = 0; ih < h; ih++)
                for (int iw = 0; iw < w; iw++)
                    dst[(((size_t)in * c + ic) * h + ih) * w + iw] = src[(((size_t)in * h + ih) * w + iw) * c + ic];
}

/* The checks and bookkeeping both uploads share; the backend to copy with. */
static const facs_backend *start_upload(facs_tensor *dst, size_t bytes)
{
    if (bytes != facs_tensor_bytes(dst)) {
        facs_fail(FACS_ERR_ARG, "upload of %zu bytes into a tensor of %zu bytes", bytes, facs_tensor_bytes(dst));
        return NULL;
    }
    facs_tensor_touch(dst);
    return facs_backend_get(dst->device);
}

facs_status facs_tensor_upload(facs_tensor *dst, const void *host, size_t bytes)
{
    const facs_backend *be = start_upload(dst, bytes);
    return be ? be->copy_from_host(dst->data, host, bytes) : facs_last_status();
}

facs_status facs_tensor_upload_async(facs_tensor *dst, const void *host, size_t bytes)
{
    const facs_backend *be = start_upload(dst, bytes);
    return be ? be->copy_from_host_async(dst->data, host, bytes) : facs_last_status();
}

static void *backend_host_alloc(void *user, size_t bytes) { return ((const facs_backend *)user)->host_alloc(bytes); }

static void backend_host_free(void *user, void *ptr) { ((const facs_backend *)user)->host_free(ptr); }

facs_status facs_device_host_allocator(facs_device device, facs_host_allocator *out)
{
    const facs_backend *be = facs_backend_get(device);
    if (!be)
        return facs_last_status();
    /* The table is only read through user. */
    *out = (facs_host_allocator){.alloc = backend_host_alloc, .free = backend_host_free, .user = (void *)be};
    return FACS_OK;
}

facs_status facs_tensor_download(const facs_tensor *src, void *host, size_t bytes)
{
    if (bytes != facs_tensor_bytes(src))
        return facs_fail(FACS_ERR_ARG, "download of %zu bytes from a tensor of %zu bytes", bytes,
                         facs_tensor_bytes(src));
    return facs_backend_get(src->device)->copy_to_host(host, src->data, bytes);
}

facs_status facs_tensor_from_nchw(facs_tensor *dst, const float *nchw, size_t count)
{
    if (count != facs_tensor_numel(dst))
        return facs_fail(FACS_ERR_ARG, "%zu values given for a tensor of %zu", count, facs_tensor_numel(dst));
    if (dst->device == FACS_DEVICE_META) {
        facs_tensor_touch(dst);
        return FACS_OK; /* no storage: nothing to convert or copy */
    }
    float *tmp = malloc(count * sizeof *tmp);
    if (!tmp)
        return facs_fail(FACS_ERR_MEMORY, "out of host memory converting %zu values", count);
    facs_nchw_to_nhwc(nchw, tmp, dst->n, dst->c, dst->h, dst->w);
    facs_status s = facs_tensor_upload(dst, tmp, count * sizeof *tmp);
    free(tmp);
    return s;
}

facs_status facs_tensor_to_nchw(const facs_tensor *src, float *nchw, size_t count)
{
    if (count != facs_tensor_numel(src))
        return facs_fail(FACS_ERR_ARG, "%zu values asked of a tensor of %zu", count, facs_tensor_numel(src));
    if (src->device == FACS_DEVICE_META) {
        memset(nchw, 0, count * sizeof *nchw); /* a meta tensor reads as zeros */
        return FACS_OK;
    }
    float *tmp = malloc(count * sizeof *tmp);
    if (!tmp)
        return facs_fail(FACS_ERR_MEMORY, "out of host memory converting %zu values", count);
    facs_status s = facs_tensor_download(src, tmp, count * sizeof *tmp);
    if (s == FACS_OK)
        facs_nhwc_to_nchw(tmp, nchw, src->n, src->c, src->h, src->w);
    free(tmp);
    return s;
}

const char *facs_shape_str(const facs_tensor *t, char *buf, size_t size)
{
    snprintf(buf, size, "(%d, %d, %d, %d)", t->n, t->c, t->h, t->w);
    return buf;
}
