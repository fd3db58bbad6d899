/* Per-channel sums over pixels, in a fixed order: the one reduction behind the
 * FACS descriptor and dL/dp, the SE scale gradient and the bias gradients of
 * conv2d and linear (a linear layer is N "pixels" of OUT channels).
 *
 *     facs_cuda_pixel_sums(value, n, hw, channels, partial, finish);
 *
 * sums value(i, pix, ch) over pix in [0, hw) for every (i, ch) of n images,
 * then calls finish(i * channels + ch, sum) once per sum. value and finish are
 * small functors with a __device__ operator(), passed by value.
 *
 * A block covers 32 consecutive channels (coalesced NHWC reads) and 8 pixel
 * rows side by side. Large images are cut into at most kPixelSumMaxSlices
 * slices so that a small batch still fills the GPU; each slice writes a
 * partial sum to `partial` (facs_cuda_pixel_sum_floats(n, hw, channels)
 * floats of scratch) and a second kernel adds the slices in order. No
 * atomics: every rerun gives the same bits. */
#ifndef FACS_CUDA_PIXEL_SUMS_CUH
#define FACS_CUDA_PIXEL_SUMS_CUH

#include "cuda_ops.h"

constexpr int kPixelSumChannels = 32;
constexpr int kPixelSumRows = 8;
constexpr int kPixelSumSliceLen = 256;
constexpr int kPixelSumMaxSlices = 64;

static inline int facs_cuda_pixel_sum_slices(int hw)
{
    int slices = (hw + kPixelSumSliceLen - 1) / kPixelSumSliceLen;
    return slices < kPixelSumMaxSlices ? slices : kPixelSumMaxSlices;
}

/* Scratch floats that facs_cuda_pixel_sums needs for `partial`. */
static inline size_t facs_cuda_pixel_sum_floats(int n, int hw, int channels)
{
    return (size_t)n * facs_cuda_pixel_sum_slices(hw) * channels;
}

/* partial[(i, slice), ch] = sum of value(i, pix, ch) over the slice's pixels.
 * grid.x = channel blocks x images, grid.y = slices. */
template <class Value>
__global__ void facs_pixel_partial_sums(Value value, int hw, int channels, int slice_len, float *__restrict__ partial)
{
    __shared__ float rows[kPixelSumRows][kPixelSumChannels];
    int channel_blocks = (channels + kPixelSumChannels - 1) / kPixelSumChannels;
    int n = blockIdx.x / channel_blocks;
    int ch = (blockIdx.x % channel_blocks) * kPixelSumChannels + threadIdx.x;
    int begin = blockIdx.y * slice_len;
    int end = min(hw, begin + slice_len);
    float sum = 0.0f;
    if (ch < channels)
        for (int pix = begin + threadIdx.y; pix < end; pix += kPixelSumRows)
            sum += value(n, pix, ch);
    rows[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && ch < channels) {
        float total = 0.0f;
        for (int k = 0; k < kPixelSumRows; k++)
            total += rows[k][threadIdx.x];
        partial[((size_t)n * gridDim.y + blockIdx.y) * channels + ch] = total;
    }
}

/* finish(idx, the slices' partials added in slice order) for every (i, ch). */
template <class Finish>
__global__ void facs_pixel_finish_sums(const float *__restrict__ partial, int slices, size_t total, int channels,
                                       Finish finish)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t n = idx / channels, ch = idx % channels;
        float sum = 0.0f;
        for (int s = 0; s < slices; s++)
            sum += partial[(n * slices + s) * channels + ch];
        finish(idx, sum);
    }
}

template <class Value, class Finish>
facs_status facs_cuda_pixel_sums(Value value, int n, int hw, int channels, float *partial, Finish finish)
{
    int slices = facs_cuda_pixel_sum_slices(hw);
    int slice_len = (hw + slices - 1) / slices;
    int channel_blocks = (channels + kPixelSumChannels - 1) / kPixelSumChannels;
    dim3 grid((unsigned)(channel_blocks * n), (unsigned)slices);
    dim3 block(kPixelSumChannels, kPixelSumRows);
    facs_pixel_partial_sums<<<grid, block>>>(value, hw, channels, slice_len, partial);
    FACS_CUDA_CHECK_LAUNCH("facs_pixel_partial_sums");
    size_t total = (size_t)n * channels;
    facs_pixel_finish_sums<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(partial, slices, total, channels, finish);
    FACS_CUDA_CHECK_LAUNCH("facs_pixel_finish_sums");
    return FACS_OK;
}

/* The stored values of an (n, hw, channels) NHWC tensor. */
struct FacsPixelValue {
    const float *x;
    int hw, c;
    __device__ float operator()(int n, int pix, int ch) const { return x[((size_t)n * hw + pix) * c + ch]; }
};

/* The sums written (=): activation gradients. */
struct FacsSumStore {
    float *out;
    __device__ void operator()(size_t idx, float sum) const { out[idx] = sum; }
};

/* The sums accumulated (+=): parameter gradients (biases). */
struct FacsSumAccumulate {
    float *out;
    __device__ void operator()(size_t idx, float sum) const { out[idx] += sum; }
};

#endif
