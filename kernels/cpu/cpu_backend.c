/* The CPU backend: memory copies and the table of CPU op entries (its memory
 * is the host's: host_memory.c). */
#include <omp.h>
#include <string.h>

#include "cpu_ops.h"

static facs_status cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        memcpy(dst, src, bytes);
    return FACS_OK;
}

/* Copies between activations (keep_only's block outputs, gradients handed
 * on) reach hundreds of MB a step at batch 32. One core's memcpy moved 6.1
 * GB/s on the 2-core machine of docs/perf.md, two 12.3 GB/s, so a large copy
 * is split into one contiguous part per thread. Host uploads keep cpu_copy:
 * loader threads call them, and each would start a team of its own. */
#define PARALLEL_COPY_BYTES ((size_t)1 << 20)

static facs_status cpu_copy_on_all_threads(void *dst, const void *src, size_t bytes)
{
    if (bytes < PARALLEL_COPY_BYTES)
        return cpu_copy(dst, src, bytes);
#pragma omp parallel
    {
        const size_t parts = (size_t)omp_get_num_threads(), part = (size_t)omp_get_thread_num();
        const size_t first = bytes * part / parts, end = bytes * (part + 1) / parts;
        memcpy((char *)dst + first, (const char *)src + first, end - first);
    }
    return FACS_OK;
}

static facs_status cpu_fill_zero(void *dst, size_t bytes)
{
    memset(dst, 0, bytes);
    return FACS_OK;
}

static facs_status cpu_axpy(size_t count, float alpha, const float *x, float *y)
{
#pragma omp parallel for schedule(static) if (count > 65536)
    for (size_t i = 0; i < count; i++)
        y[i] += alpha * x[i];
    return FACS_OK;
}

static facs_status cpu_sync(void) { return FACS_OK; }

static facs_status cpu_sgd_update(facs_sgd_coeffs k, int first, size_t count, float *p, const float *g, float *buf)
{
    /* firstprivate: each thread's own copy of k stays in registers; a shared
     * one is read through a pointer that every store might alias. */
#pragma omp parallel for schedule(static) firstprivate(k) if (count > 65536)
    for (size_t i = 0; i < count; i++)
        facs_sgd_update(k, first, p, g, buf, i);
    return FACS_OK;
}

const facs_backend facs_cpu_backend = {
    .name = "cpu",
    .alloc = facs_cpu_host_alloc,
    .free = facs_cpu_host_free,
    .copy_from_host = cpu_copy,
    .copy_to_host = cpu_copy,
    .copy = cpu_copy_on_all_threads,
    .fill_zero = cpu_fill_zero,
    .axpy = cpu_axpy,
    .sync = cpu_sync,
    .host_alloc = facs_cpu_host_alloc,
    .host_free = facs_cpu_host_free,
    .copy_from_host_async = cpu_copy,
    .count_non_finite = facs_cpu_count_non_finite,
    .sgd_update = cpu_sgd_update,
    .conv2d_forward = facs_cpu_conv2d_forward,
    .conv2d_backward = facs_cpu_conv2d_backward,
    .batchnorm_forward = facs_cpu_batchnorm_forward,
    .batchnorm_backward = facs_cpu_batchnorm_backward,
    .activation_forward = facs_cpu_activation_forward,
    .activation_backward = facs_cpu_activation_backward,
    .add_forward = facs_cpu_add_forward,
    .maxpool2d_forward = facs_cpu_maxpool2d_forward,
    .maxpool2d_backward = facs_cpu_maxpool2d_backward,
    .avgpool2d_forward = facs_cpu_avgpool2d_forward,
    .avgpool2d_backward = facs_cpu_avgpool2d_backward,
    .adaptive_avgpool2d_forward = facs_cpu_adaptive_avgpool2d_forward,
    .adaptive_avgpool2d_backward = facs_cpu_adaptive_avgpool2d_backward,
    .resize_bilinear_forward = facs_cpu_resize_bilinear_forward,
    .resize_bilinear_backward = facs_cpu_resize_bilinear_backward,
    .concat_forward = facs_cpu_concat_forward,
    .concat_backward = facs_cpu_concat_backward,
    .dropout2d_forward = facs_cpu_dropout2d_forward,
    .dropout2d_backward = facs_cpu_dropout2d_backward,
    .linear_forward = facs_cpu_linear_forward,
    .linear_backward = facs_cpu_linear_backward,
    .softmax_ce_forward = facs_cpu_softmax_ce_forward,
    .softmax_ce_backward = facs_cpu_softmax_ce_backward,
    .scale_channels_forward = facs_cpu_scale_channels_forward,
    .scale_channels_backward = facs_cpu_scale_channels_backward,
    .channel_pool_forward = facs_cpu_channel_pool_forward,
    .channel_pool_backward = facs_cpu_channel_pool_backward,
    .facs_forward = facs_cpu_facs_forward,
    .facs_backward = facs_cpu_facs_backward,
};
