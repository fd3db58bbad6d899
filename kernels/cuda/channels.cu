/* Channel-axis ops on CUDA (contracts in backend.h): concatenation and
 * channel pooling on NHWC data.
 *
 * Concat copies a column block per input: each pixel's row of the output
 * holds the inputs' rows side by side, so input i is a (pixels, C_i) matrix
 * placed at column offset sum of C_j for j < i. Threads walk that matrix in
 * row-major order, so consecutive threads touch consecutive floats on both
 * sides. Channel pooling reduces chunks of R contiguous channels with the
 * FACS op's functions (facs_fusion_math.h), so values, the first-maximum tie
 * rule and NaN handling are the CPU's exactly. */
#include <stddef.h>
#include <stdint.h>

#include "../facs_fusion_math.h"
#include "cuda_ops.h"

namespace {

/* dst[p, k] = src[p, k] for p < pixels, k < width, with row strides in floats
 * (the pointers already point at the block's first column). */
__global__ void copy_columns(const float *__restrict__ src, int src_stride, size_t pixels, int width,
                             float *__restrict__ dst, int dst_stride)
{
    size_t total = pixels * width;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t p = i / width, k = i % width;
        dst[p * dst_stride + k] = src[p * src_stride + k];
    }
}

facs_status launch_copy(const float *src, int src_stride, size_t pixels, int width, float *dst, int dst_stride)
{
    size_t total = pixels * width;
    if (total == 0)
        return FACS_OK;
    copy_columns<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(src, src_stride, pixels, width, dst, dst_stride);
    FACS_CUDA_CHECK_LAUNCH("copy_columns");
    return FACS_OK;
}

/* y[q, i] = the max or mean of x[q, R i .. R i + R): one thread per output. */
__global__ void channel_pool_forward_kernel(const float *__restrict__ x, int c, int co, int r, int max, size_t total,
                                            float *__restrict__ y)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t q = i / co, chunk_index = i % co;
        const float *chunk = x + q * c + chunk_index * r;
        y[i] = max ? facs_chunk_max(chunk, r) : facs_chunk_mean(chunk, r);
    }
}

/* dx of the chunk behind dy[q, i]: max sends dy to the chunk's first maximum
 * (recomputed from x) and 0 elsewhere, avg gives every channel dy / R. One
 * thread per chunk, so each dx element is written exactly once. */
__global__ void channel_pool_backward_kernel(const float *__restrict__ x, const float *__restrict__ dy, int c, int co,
                                             int r, int max, size_t total, float *__restrict__ dx)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t q = i / co, chunk_index = i % co;
        size_t first = q * c + chunk_index * r;
        float g = dy[i];
        float *out = dx + first;
        if (max) {
            int best = facs_chunk_argmax(x + first, r);
            for (int k = 0; k < r; k++)
                out[k] = k == best ? g : 0.0f;
        } else {
            float share = g / (float)r;
            for (int k = 0; k < r; k++)
                out[k] = share;
        }
    }
}

} // namespace

facs_status facs_cuda_concat_forward(facs_ctx *ctx, int count, const facs_tensor *const *xs, facs_tensor *y)
{
    (void)ctx;
    const size_t pixels = (size_t)y->n * y->h * y->w;
    float *dst = facs_f32(y);
    int offset = 0;
    for (int i = 0; i < count; i++) {
        const int c = xs[i]->c;
        FACS_TRY(launch_copy(facs_f32(xs[i]), c, pixels, c, dst + offset, y->c));
        offset += c;
    }
    return FACS_OK;
}

facs_status facs_cuda_concat_backward(facs_ctx *ctx, int count, const facs_tensor *const *xs, const facs_tensor *dy,
                                      facs_tensor *const *dxs)
{
    (void)ctx;
    const size_t pixels = (size_t)dy->n * dy->h * dy->w;
    const float *src = facs_f32(dy);
    int offset = 0;
    for (int i = 0; i < count; i++) {
        const int c = xs[i]->c;
        if (dxs[i])
            FACS_TRY(launch_copy(src + offset, dy->c, pixels, c, facs_f32(dxs[i]), c));
        offset += c;
    }
    return FACS_OK;
}

facs_status facs_cuda_channel_pool_forward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                           facs_tensor *y)
{
    (void)ctx;
    const int c = x->c, co = y->c, r = c / co;
    const size_t total = facs_tensor_numel(y);
    channel_pool_forward_kernel<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(
        facs_f32(x), c, co, r, mode == FACS_CHANNEL_POOL_MAX, total, facs_f32(y));
    FACS_CUDA_CHECK_LAUNCH("channel_pool_forward_kernel");
    return FACS_OK;
}

facs_status facs_cuda_channel_pool_backward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                            const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    const int c = x->c, co = dy->c, r = c / co;
    const size_t total = facs_tensor_numel(dy);
    channel_pool_backward_kernel<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(
        facs_f32(x), facs_f32(dy), c, co, r, mode == FACS_CHANNEL_POOL_MAX, total, facs_f32(dx));
    FACS_CUDA_CHECK_LAUNCH("channel_pool_backward_kernel");
    return FACS_OK;
}
