/* Max, average and adaptive average pooling on CUDA with PyTorch's semantics
 * (contract in backend.h; reference: cpu/pool2d.c and cpu/adaptive_avgpool2d.c,
 * whose window arithmetic is copied here function for function).
 *
 * Forward passes run one thread per output element; the flat NHWC index puts
 * the channel innermost, so a warp reads 32 consecutive channels of a pixel.
 * Adaptive pooling with large bins (global pooling) instead gives each output
 * pixel and 32-channel group a block whose rows split the bin, so that a big
 * sum is neither one long serial chain nor left to a handful of threads.
 *
 * Backward passes are gathers: one thread per input element sums, in output
 * order, the dy of the windows that contain it, so every dx element is written
 * once, with no atomics and no zeroing pass, and reruns reproduce every bit.
 * Max pooling first stores each output's argmax (first maximum in scan order,
 * the last NaN, as the CPU and PyTorch) in scratch, then gathers against it. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_ops.h"

namespace {

/* Adaptive bins at least this large on average (in pixels) take the block
 * reduction; smaller ones are summed by one thread. */
constexpr int kLargeBin = 32;
/* Block shape of that reduction: 32 channels by kBinRows rows over the bin. */
constexpr int kBinChannels = 32;
constexpr int kBinRows = 8;
/* A thread's serial run of additions is cut into chunks this long, so a bin
 * of a million pixels still rounds like a two-level sum. */
constexpr int kChunk = 256;

/* The pooling from in (., C, H, W) to out (., C, OH, OW). */
struct PoolShape {
    int c, h, w, oh, ow;
    facs_pool2d_params p;
};

PoolShape pool_shape(const facs_pool2d_params *p, const facs_tensor *in, const facs_tensor *out)
{
    return PoolShape{in->c, in->h, in->w, out->h, out->w, *p};
}

/* Window of output index o along one axis: [lo, hi) clipped to the input, and
 * PyTorch's count_include_pad extent (the window clipped to input + pad). */
struct Window {
    int lo, hi, padded;
};

__host__ __device__ inline Window window_at(int o, int in, int kernel, int stride, int pad)
{
    int lo = o * stride - pad;
    int hi = min(lo + kernel, in + pad);
    return Window{max(lo, 0), min(hi, in), hi - lo};
}

/* The outputs [*lo, *hi] whose windows contain input index i. C division
 * truncates, so a negative numerator is clamped by the max rather than
 * rounded down. */
__host__ __device__ inline void windows_containing(int i, int kernel, int stride, int pad, int out, int *lo,
                                                   int *hi)
{
    *lo = max(0, (i + pad - kernel + stride) / stride);
    *hi = min(out - 1, (i + pad) / stride);
}

__host__ __device__ inline Window row_window(const PoolShape &s, int oh)
{
    return window_at(oh, s.h, s.p.kernel_h, s.p.stride_h, s.p.pad_h);
}

__host__ __device__ inline Window col_window(const PoolShape &s, int ow)
{
    return window_at(ow, s.w, s.p.kernel_w, s.p.stride_w, s.p.pad_w);
}

/* Flat NHWC index idx of a tensor (., C, H, W) split into its coordinates. */
struct Coord {
    int n, h, w, c;
};

__host__ __device__ inline Coord coord_of(size_t idx, int c, int h, int w)
{
    Coord at;
    at.c = (int)(idx % (size_t)c);
    size_t pix = idx / (size_t)c;
    at.w = (int)(pix % (size_t)w);
    pix /= (size_t)w;
    at.h = (int)(pix % (size_t)h);
    at.n = (int)(pix / (size_t)h);
    return at;
}

__host__ __device__ inline size_t offset_of(int n, int h, int w, int c, int H, int W, int C)
{
    return (((size_t)n * H + h) * W + w) * C + c;
}

/* y at output element idx: the window's maximum over its in-bounds pixels,
 * NaN when one of them is NaN; padding never takes part. */
__host__ __device__ inline float max_at(const float *x, const PoolShape &s, size_t idx)
{
    Coord o = coord_of(idx, s.c, s.oh, s.ow);
    Window wh = row_window(s, o.h);
    Window ww = col_window(s, o.w);
    float best = -INFINITY;
    for (int h = wh.lo; h < wh.hi; h++)
        for (int w = ww.lo; w < ww.hi; w++) {
            float v = x[offset_of(o.n, h, w, o.c, s.h, s.w, s.c)];
            best = v > best || isnan(v) ? v : best;
        }
    return best;
}

/* The first maximum of output element idx's window as h W + w; the window's
 * first pixel when nothing beats -inf, the last NaN when there is one. */
__host__ __device__ inline int32_t argmax_at(const float *x, const PoolShape &s, size_t idx)
{
    Coord o = coord_of(idx, s.c, s.oh, s.ow);
    Window wh = row_window(s, o.h);
    Window ww = col_window(s, o.w);
    float best = -INFINITY;
    int32_t arg = wh.lo * s.w + ww.lo;
    for (int h = wh.lo; h < wh.hi; h++)
        for (int w = ww.lo; w < ww.hi; w++) {
            float v = x[offset_of(o.n, h, w, o.c, s.h, s.w, s.c)];
            if (v > best || isnan(v)) {
                best = v;
                arg = h * s.w + w;
            }
        }
    return arg;
}

/* dx at input element idx: the dy of the windows whose argmax it is, added in
 * output order as the CPU's gather adds them. */
__host__ __device__ inline float max_grad_at(const int32_t *arg, const float *dy, const PoolShape &s, size_t idx)
{
    Coord i = coord_of(idx, s.c, s.h, s.w);
    int oh_lo, oh_hi, ow_lo, ow_hi;
    windows_containing(i.h, s.p.kernel_h, s.p.stride_h, s.p.pad_h, s.oh, &oh_lo, &oh_hi);
    windows_containing(i.w, s.p.kernel_w, s.p.stride_w, s.p.pad_w, s.ow, &ow_lo, &ow_hi);
    const int32_t at = i.h * s.w + i.w;
    float sum = 0.0f;
    for (int oh = oh_lo; oh <= oh_hi; oh++)
        for (int ow = ow_lo; ow <= ow_hi; ow++) {
            size_t o = offset_of(i.n, oh, ow, i.c, s.oh, s.ow, s.c);
            sum += arg[o] == at ? dy[o] : 0.0f;
        }
    return sum;
}

__host__ __device__ inline float avg_divisor(const PoolShape &s, Window wh, Window ww)
{
    int count = s.p.count_include_pad ? wh.padded * ww.padded : (wh.hi - wh.lo) * (ww.hi - ww.lo);
    return (float)count;
}

/* y at output element idx: the window's in-bounds sum over avg_divisor. */
__host__ __device__ inline float avg_at(const float *x, const PoolShape &s, size_t idx)
{
    Coord o = coord_of(idx, s.c, s.oh, s.ow);
    Window wh = row_window(s, o.h);
    Window ww = col_window(s, o.w);
    float sum = 0.0f;
    for (int h = wh.lo; h < wh.hi; h++)
        for (int w = ww.lo; w < ww.hi; w++)
            sum += x[offset_of(o.n, h, w, o.c, s.h, s.w, s.c)];
    return sum / avg_divisor(s, wh, ww);
}

/* dx at input element idx: dy / divisor summed over the windows containing it. */
__host__ __device__ inline float avg_grad_at(const float *dy, const PoolShape &s, size_t idx)
{
    Coord i = coord_of(idx, s.c, s.h, s.w);
    int oh_lo, oh_hi, ow_lo, ow_hi;
    windows_containing(i.h, s.p.kernel_h, s.p.stride_h, s.p.pad_h, s.oh, &oh_lo, &oh_hi);
    windows_containing(i.w, s.p.kernel_w, s.p.stride_w, s.p.pad_w, s.ow, &ow_lo, &ow_hi);
    float sum = 0.0f;
    for (int oh = oh_lo; oh <= oh_hi; oh++) {
        Window wh = row_window(s, oh);
        for (int ow = ow_lo; ow <= ow_hi; ow++) {
            Window ww = col_window(s, ow);
            sum += dy[offset_of(i.n, oh, ow, i.c, s.oh, s.ow, s.c)] / avg_divisor(s, wh, ww);
        }
    }
    return sum;
}

/* Adaptive bins: bin i of an axis of size in split into out bins covers
 * [floor(i in / out), ceil((i + 1) in / out)); the bins containing input j
 * are the mirror image, [floor(j out / in), ceil((j + 1) out / in) - 1]. */
__host__ __device__ inline int bin_start(int i, int in, int out) { return (int)((int64_t)i * in / out); }
__host__ __device__ inline int bin_end(int i, int in, int out)
{
    return (int)(((int64_t)(i + 1) * in + out - 1) / out);
}
__host__ __device__ inline int first_bin(int j, int in, int out) { return bin_start(j, out, in); }
__host__ __device__ inline int last_bin(int j, int in, int out) { return bin_end(j, out, in) - 1; }

struct AdaptiveShape {
    int c, h, w, oh, ow;
};

/* y at output element idx by one thread, for small bins. */
__host__ __device__ inline float adaptive_avg_at(const float *x, const AdaptiveShape &s, size_t idx)
{
    Coord o = coord_of(idx, s.c, s.oh, s.ow);
    int h0 = bin_start(o.h, s.h, s.oh), h1 = bin_end(o.h, s.h, s.oh);
    int w0 = bin_start(o.w, s.w, s.ow), w1 = bin_end(o.w, s.w, s.ow);
    float sum = 0.0f;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++)
            sum += x[offset_of(o.n, h, w, o.c, s.h, s.w, s.c)];
    return sum / (float)((h1 - h0) * (w1 - w0));
}

/* dx at input element idx: dy / bin size summed over the bins containing it. */
__host__ __device__ inline float adaptive_avg_grad_at(const float *dy, const AdaptiveShape &s, size_t idx)
{
    Coord i = coord_of(idx, s.c, s.h, s.w);
    int oh0 = first_bin(i.h, s.h, s.oh), oh1 = last_bin(i.h, s.h, s.oh);
    int ow0 = first_bin(i.w, s.w, s.ow), ow1 = last_bin(i.w, s.w, s.ow);
    float sum = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++) {
        int kh = bin_end(oh, s.h, s.oh) - bin_start(oh, s.h, s.oh);
        for (int ow = ow0; ow <= ow1; ow++) {
            float count = (float)(kh * (bin_end(ow, s.w, s.ow) - bin_start(ow, s.w, s.ow)));
            sum += dy[offset_of(i.n, oh, ow, i.c, s.oh, s.ow, s.c)] / count;
        }
    }
    return sum;
}

__global__ void maxpool_forward(const float *__restrict__ x, PoolShape s, size_t total, float *__restrict__ y)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        y[idx] = max_at(x, s, idx);
}

__global__ void maxpool_argmax(const float *__restrict__ x, PoolShape s, size_t total, int32_t *__restrict__ arg)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        arg[idx] = argmax_at(x, s, idx);
}

__global__ void maxpool_backward(const int32_t *__restrict__ arg, const float *__restrict__ dy, PoolShape s,
                                 size_t total, float *__restrict__ dx)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        dx[idx] = max_grad_at(arg, dy, s, idx);
}

__global__ void avgpool_forward(const float *__restrict__ x, PoolShape s, size_t total, float *__restrict__ y)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        y[idx] = avg_at(x, s, idx);
}

__global__ void avgpool_backward(const float *__restrict__ dy, PoolShape s, size_t total, float *__restrict__ dx)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        dx[idx] = avg_grad_at(dy, s, idx);
}

__global__ void adaptive_forward_small(const float *__restrict__ x, AdaptiveShape s, size_t total,
                                       float *__restrict__ y)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        y[idx] = adaptive_avg_at(x, s, idx);
}

/* The bin of output pixel pix = (n OH + oh) OW + ow. */
struct Bin {
    int n, h0, w0, width, area;
};

__host__ __device__ inline Bin bin_of(const AdaptiveShape &s, size_t pix)
{
    const int ow = (int)(pix % (size_t)s.ow), oh = (int)(pix / (size_t)s.ow % (size_t)s.oh);
    const int h0 = bin_start(oh, s.h, s.oh), w0 = bin_start(ow, s.w, s.ow);
    const int width = bin_end(ow, s.w, s.ow) - w0;
    return Bin{(int)(pix / (size_t)s.ow / (size_t)s.oh), h0, w0, width, (bin_end(oh, s.h, s.oh) - h0) * width};
}

/* Channel c's sum over the bin's pixels row, row + kBinRows, ... (pixels
 * counted row-major in the bin), added in chunks of kChunk. */
__host__ __device__ inline float bin_row_sum(const float *x, const AdaptiveShape &s, Bin b, int c, int row)
{
    float sum = 0.0f, chunk = 0.0f;
    int run = 0;
    for (int k = row; k < b.area; k += kBinRows) {
        chunk += x[offset_of(b.n, b.h0 + k / b.width, b.w0 + k % b.width, c, s.h, s.w, s.c)];
        if (++run == kChunk) {
            sum += chunk;
            chunk = 0.0f;
            run = 0;
        }
    }
    return sum + chunk;
}

/* One block per (output pixel, group of kBinChannels channels): thread row
 * ty takes bin_row_sum(ty), then row 0 adds the rows' sums in row order. */
__global__ void adaptive_forward_large(const float *__restrict__ x, AdaptiveShape s, size_t pixels,
                                       float *__restrict__ y)
{
    __shared__ float rows[kBinRows][kBinChannels];
    const int groups = (s.c + kBinChannels - 1) / kBinChannels;
    const size_t tasks = pixels * (size_t)groups;
    for (size_t task = blockIdx.x; task < tasks; task += gridDim.x) {
        const size_t pix = task / (size_t)groups;
        const int c = (int)(task % (size_t)groups) * kBinChannels + (int)threadIdx.x;
        const Bin b = bin_of(s, pix);
        rows[threadIdx.y][threadIdx.x] = c < s.c ? bin_row_sum(x, s, b, c, (int)threadIdx.y) : 0.0f;
        __syncthreads();
        if (threadIdx.y == 0 && c < s.c) {
            float total = 0.0f;
            for (int r = 0; r < kBinRows; r++)
                total += rows[r][threadIdx.x];
            y[pix * (size_t)s.c + (size_t)c] = total / (float)b.area;
        }
        /* The next task overwrites rows. */
        __syncthreads();
    }
}

__global__ void adaptive_backward(const float *__restrict__ dy, AdaptiveShape s, size_t total,
                                  float *__restrict__ dx)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        dx[idx] = adaptive_avg_grad_at(dy, s, idx);
}

AdaptiveShape adaptive_shape(const facs_tensor *in, const facs_tensor *out)
{
    return AdaptiveShape{in->c, in->h, in->w, out->h, out->w};
}

} // namespace

facs_status facs_cuda_maxpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                        facs_tensor *y)
{
    (void)ctx;
    size_t total = facs_tensor_numel(y);
    if (total == 0)
        return FACS_OK;
    maxpool_forward<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(x), pool_shape(p, x, y), total,
                                                                    facs_f32(y));
    FACS_CUDA_CHECK_LAUNCH("maxpool_forward");
    return FACS_OK;
}

facs_status facs_cuda_maxpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                         const facs_tensor *dy, facs_tensor *dx)
{
    if (!dx)
        return FACS_OK;
    size_t outputs = facs_tensor_numel(dy), inputs = facs_tensor_numel(dx);
    if (inputs == 0)
        return FACS_OK;
    PoolShape s = pool_shape(p, x, dy);
    int32_t *arg = NULL;
    if (outputs > 0) {
        void *mem;
        FACS_TRY(facs_cuda_scratch(ctx, "maxpool2d backward (cuda)", outputs * sizeof *arg, &mem));
        arg = (int32_t *)mem;
        maxpool_argmax<<<facs_cuda_blocks(outputs), kFacsCudaThreads>>>(facs_f32(x), s, outputs, arg);
        FACS_CUDA_CHECK_LAUNCH("maxpool_argmax");
    }
    maxpool_backward<<<facs_cuda_blocks(inputs), kFacsCudaThreads>>>(arg, facs_f32(dy), s, inputs, facs_f32(dx));
    FACS_CUDA_CHECK_LAUNCH("maxpool_backward");
    return FACS_OK;
}

facs_status facs_cuda_avgpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                        facs_tensor *y)
{
    (void)ctx;
    size_t total = facs_tensor_numel(y);
    if (total == 0)
        return FACS_OK;
    avgpool_forward<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(x), pool_shape(p, x, y), total,
                                                                    facs_f32(y));
    FACS_CUDA_CHECK_LAUNCH("avgpool_forward");
    return FACS_OK;
}

facs_status facs_cuda_avgpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *dy,
                                         facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    size_t total = facs_tensor_numel(dx);
    if (total == 0)
        return FACS_OK;
    avgpool_backward<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(dy), pool_shape(p, dx, dy), total,
                                                                     facs_f32(dx));
    FACS_CUDA_CHECK_LAUNCH("avgpool_backward");
    return FACS_OK;
}

facs_status facs_cuda_adaptive_avgpool2d_forward(facs_ctx *ctx, const facs_tensor *x, facs_tensor *y)
{
    (void)ctx;
    size_t total = facs_tensor_numel(y);
    if (total == 0)
        return FACS_OK;
    AdaptiveShape s = adaptive_shape(x, y);
    if ((int64_t)s.h * s.w >= (int64_t)kLargeBin * s.oh * s.ow) {
        size_t pixels = total / (size_t)s.c;
        size_t tasks = pixels * (size_t)((s.c + kBinChannels - 1) / kBinChannels);
        dim3 block(kBinChannels, kBinRows);
        adaptive_forward_large<<<facs_cuda_blocks(tasks, 1), block>>>(facs_f32(x), s, pixels, facs_f32(y));
        FACS_CUDA_CHECK_LAUNCH("adaptive_forward_large");
        return FACS_OK;
    }
    adaptive_forward_small<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(x), s, total, facs_f32(y));
    FACS_CUDA_CHECK_LAUNCH("adaptive_forward_small");
    return FACS_OK;
}

facs_status facs_cuda_adaptive_avgpool2d_backward(facs_ctx *ctx, const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    size_t total = facs_tensor_numel(dx);
    if (total == 0)
        return FACS_OK;
    adaptive_backward<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(dy), adaptive_shape(dx, dy), total,
                                                                      facs_f32(dx));
    FACS_CUDA_CHECK_LAUNCH("adaptive_backward");
    return FACS_OK;
}
