/* Softmax cross-entropy over the channels of NHWC logits on CUDA (contract in
 * backend.h; CPU twin: cpu/softmax_ce.c, whose precision choices are kept:
 * float softmax, per-pixel loss terms and their sum in double).
 *
 * Forward: a group of lanes per pixel (its K logits are contiguous) computes
 * the softmax, writes the probabilities, and its leader the pixel's loss term.
 * Every block reduces its pixels' (loss sum, valid count, first bad label) by a
 * fixed tree into one partial; a single block then combines the partials in
 * the same fixed order, so the loss is reproducible bit for bit. The label
 * check rides along: the first bad pixel in index order is a min over pixels.
 * Backward is element-wise. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../softmax_ce_math.h"
#include "cuda_ops.h"

namespace {

/* Threads per block: a power of two, for the reduction tree. */
constexpr unsigned kThreads = 256;
/* About one resident wave on current GPUs; more pixels loop in the kernel,
 * and fewer partials leave less for the final single block. */
constexpr unsigned kMaxBlocks = 1024;
constexpr unsigned kFullMask = 0xffffffffu;
/* Below this a float probability has lost digits to underflow, so the pixel's
 * loss is recomputed from its logits (as on the CPU). */
constexpr float kTinyProb = 1e-30f;

/* A share of the forward's reduction. bad: the first pixel whose label is
 * neither in [0, K) nor the ignore_index, or the pixel count when none. */
struct Partial {
    double sum;
    long long count;
    long long bad;
};

/* What the host reads back. */
struct Result {
    long long count;
    long long bad;
    int label;
};

__device__ void combine(Partial &into, const Partial &other)
{
    into.sum += other.sum;
    into.count += other.count;
    into.bad = min(into.bad, other.bad);
}

/* The block's partials combined by a fixed tree (blockDim.x a power of two);
 * the total is left in shared[0]. */
__device__ void block_reduce(const Partial &mine, Partial *shared)
{
    shared[threadIdx.x] = mine;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s)
            combine(shared[threadIdx.x], shared[threadIdx.x + s]);
        __syncthreads();
    }
}

/* Butterfly reductions over groups of L lanes: every lane ends with the
 * group's result, and each pair adds commutatively, so all lanes agree bit
 * for bit. */
template <int L, class T> __device__ T group_sum(T v)
{
    for (int offset = L / 2; offset > 0; offset /= 2)
        v += __shfl_xor_sync(kFullMask, v, offset, L);
    return v;
}

/* The pixel's softmax: zmax is facs_chunk_max (NaN when a logit is NaN), and
 * the softmax is NaN throughout when zmax is not finite (PyTorch's). */
struct PixelSoftmax {
    float zmax, sum;
    bool nan;
};

template <int L> __device__ PixelSoftmax pixel_softmax(const float *z, int k_end, int lane)
{
    float m = -INFINITY;
    int any_nan = 0;
    for (int k = lane; k < k_end; k += L) {
        m = z[k] > m ? z[k] : m;
        any_nan |= isnan(z[k]);
    }
    for (int offset = L / 2; offset > 0; offset /= 2) {
        m = fmaxf(m, __shfl_xor_sync(kFullMask, m, offset, L));
        any_nan |= __shfl_xor_sync(kFullMask, any_nan, offset, L);
    }
    PixelSoftmax s;
    s.zmax = any_nan ? NAN : m;
    s.nan = !isfinite(s.zmax);
    float sum = 0.0f;
    if (!s.nan)
        for (int k = lane; k < k_end; k += L)
            sum += expf(z[k] - s.zmax);
    s.sum = group_sum<L>(sum);
    return s;
}

/* One probability; the same expression for the stored value and the loss. */
__device__ float prob_of(float zk, const PixelSoftmax &s) { return s.nan ? NAN : expf(zk - s.zmax) / s.sum; }

/* sum_k -log softmax(z)_k = K logsumexp(z) - sum_k z_k in double, the
 * smoothing term (the CPU's sum_nll, summed across the group). */
template <int L> __device__ double pixel_sum_nll(const float *z, int K, int k_end, int lane, float zmax)
{
    double e = 0.0, sum_z = 0.0;
    for (int k = lane; k < k_end; k += L) {
        e += exp((double)z[k] - zmax);
        sum_z += z[k];
    }
    e = group_sum<L>(e);
    sum_z = group_sum<L>(sum_z);
    return K * (log(e) + zmax) - sum_z;
}

/* The loss term of a pixel with a label in [0, K), as on the CPU (smoothing
 * only when positive, so that e = 0 leaves the plain loss bit for bit). */
__device__ double pixel_loss(const float *z, int K, int label, const PixelSoftmax &s, float smoothing, double snll)
{
    const float prob = prob_of(z[label], s);
    double nll = prob > kTinyProb ? -(double)logf(prob) : isnan(prob) ? (double)NAN : facs_ce_exact_nll(z, K, label);
    return smoothing > 0 ? (1.0 - smoothing) * nll + smoothing / K * snll : nll;
}

/* Groups of L lanes per pixel, blockDim.x / L pixels per block and step. The
 * loop bound is the same for the whole block, so every lane reaches every
 * shuffle; a group past the last pixel runs with no logits. */
template <int L>
__global__ void softmax_ce_forward_kernel(const float *__restrict__ z_all, const int32_t *__restrict__ lab,
                                          long long pixels, int K, int ignore_index, float smoothing,
                                          float *__restrict__ q_all, Partial *__restrict__ partials)
{
    __shared__ Partial shared[kThreads];
    const int groups = blockDim.x / L;
    const int lane = threadIdx.x % L;
    Partial mine{0.0, 0, pixels};
    for (long long base = (long long)blockIdx.x * groups; base < pixels; base += (long long)gridDim.x * groups) {
        const long long p = base + threadIdx.x / L;
        const bool active = p < pixels;
        const int k_end = active ? K : 0;
        const float *z = z_all + (active ? p : 0) * K;
        const PixelSoftmax s = pixel_softmax<L>(z, k_end, lane);
        float *q = q_all + (active ? p : 0) * K;
        for (int k = lane; k < k_end; k += L)
            q[k] = prob_of(z[k], s);
        /* Warp-uniform condition: the group sums inside need every lane. */
        const double snll = smoothing > 0 ? pixel_sum_nll<L>(z, K, k_end, lane, s.zmax) : 0.0;
        if (!active || lane != 0)
            continue;
        const int label = lab[p];
        if (label == ignore_index)
            continue;
        if (label < 0 || label >= K) {
            mine.bad = min(mine.bad, p);
            continue;
        }
        mine.sum += pixel_loss(z, K, label, s, smoothing, snll);
        mine.count++;
    }
    block_reduce(mine, shared);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = shared[0];
}

/* One block: the partials in a fixed order, then the mean loss (NaN with no
 * valid pixel, as PyTorch) and what the host needs. */
__global__ void finish_loss(const Partial *__restrict__ partials, unsigned blocks, const int32_t *__restrict__ lab,
                            long long pixels, float *__restrict__ loss, Result *__restrict__ result)
{
    __shared__ Partial shared[kThreads];
    Partial mine{0.0, 0, pixels};
    for (unsigned i = threadIdx.x; i < blocks; i += blockDim.x)
        combine(mine, partials[i]);
    block_reduce(mine, shared);
    if (threadIdx.x != 0)
        return;
    const Partial all = shared[0];
    loss[0] = all.count > 0 ? (float)(all.sum / (double)all.count) : NAN;
    result->count = all.count;
    result->bad = all.bad;
    result->label = all.bad < pixels ? lab[all.bad] : 0;
}

template <int L>
facs_status launch_forward(unsigned blocks, int ignore_index, float smoothing, const facs_tensor *logits,
                           const facs_tensor *labels, facs_tensor *probs, long long pixels, Partial *partials)
{
    softmax_ce_forward_kernel<L><<<blocks, kThreads>>>(facs_f32(logits), facs_i32(labels), pixels, logits->c,
                                                       ignore_index, smoothing, facs_f32(probs), partials);
    FACS_CUDA_CHECK_LAUNCH("softmax_ce_forward_kernel");
    return FACS_OK;
}

facs_status bad_label_error(const facs_tensor *labels, int K, int ignore_index, long long bad, int label)
{
    const int w = (int)(bad % labels->w), h = (int)(bad / labels->w % labels->h);
    const int n = (int)(bad / ((long long)labels->w * labels->h));
    return facs_fail(FACS_ERR_ARG,
                     "softmax_cross_entropy: label %d at (n %d, h %d, w %d) is outside [0, %d) and is not the "
                     "ignore_index %d",
                     label, n, h, w, K, ignore_index);
}

/* dlogits of one element: the gradient of the mean loss, 0 at an ignored
 * pixel (NaN where the forward made the probabilities NaN, as on the CPU). */
__global__ void softmax_ce_backward_kernel(const float *__restrict__ q, const int32_t *__restrict__ lab, size_t total,
                                           int K, int ignore_index, float scale, float off, float on,
                                           float *__restrict__ d)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        const int label = lab[idx / K];
        const int k = (int)(idx % K);
        d[idx] = label == ignore_index ? 0.0f * q[idx] : scale * (q[idx] - (k == label ? on : off));
    }
}

} // namespace

facs_status facs_cuda_softmax_ce_forward(facs_ctx *ctx, int ignore_index, float smoothing,
                                         const facs_tensor *logits, const facs_tensor *labels, facs_tensor *probs,
                                         facs_tensor *loss, int64_t *valid)
{
    const char *op = "softmax_cross_entropy forward (cuda)";
    const int K = logits->c;
    const long long pixels = (long long)logits->n * logits->h * logits->w;
    /* Narrow groups for few classes keep most lanes busy; wide ones read a
     * long row of logits coalesced. */
    const int lanes = K <= 64 ? 8 : 32;
    unsigned blocks = facs_cuda_blocks((size_t)pixels, kThreads / lanes);
    blocks = blocks < kMaxBlocks ? blocks : kMaxBlocks;
    void *partials, *result;
    FACS_TRY(facs_cuda_scratch(ctx, op, blocks * sizeof(Partial), &partials));
    FACS_TRY(facs_cuda_scratch(ctx, op, sizeof(Result), &result));
    if (lanes == 8)
        FACS_TRY(launch_forward<8>(blocks, ignore_index, smoothing, logits, labels, probs, pixels,
                                   (Partial *)partials));
    else
        FACS_TRY(launch_forward<32>(blocks, ignore_index, smoothing, logits, labels, probs, pixels,
                                    (Partial *)partials));
    finish_loss<<<1, kThreads>>>((const Partial *)partials, blocks, facs_i32(labels), pixels, facs_f32(loss),
                                 (Result *)result);
    FACS_CUDA_CHECK_LAUNCH("finish_loss");
    Result r;
    FACS_CUDA_CHECK(cudaMemcpy(&r, result, sizeof r, cudaMemcpyDeviceToHost));
    if (r.bad < pixels)
        return bad_label_error(labels, K, ignore_index, r.bad, r.label);
    *valid = r.count;
    return FACS_OK;
}

facs_status facs_cuda_softmax_ce_backward(facs_ctx *ctx, int ignore_index, float smoothing,
                                          const facs_tensor *probs, const facs_tensor *labels, float dloss,
                                          int64_t valid, facs_tensor *dlogits)
{
    (void)ctx;
    if (!dlogits)
        return FACS_OK;
    const int K = probs->c;
    const size_t total = facs_tensor_numel(probs);
    /* With no valid pixel every pixel is ignored and every gradient is 0. */
    const float scale = valid > 0 ? dloss / (float)valid : 0.0f;
    /* The target: off = e / K on every class, on = 1 - e + e / K on the label. */
    const float off = smoothing / (float)K, on = 1.0f - smoothing + off;
    softmax_ce_backward_kernel<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(
        facs_f32(probs), facs_i32(labels), total, K, ignore_index, scale, off, on, facs_f32(dlogits));
    FACS_CUDA_CHECK_LAUNCH("softmax_ce_backward_kernel");
    return FACS_OK;
}
