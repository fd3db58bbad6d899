/* batchnorm2d on CUDA (contract in backend.h; reference semantics are
 * cpu/batchnorm.c's, i.e. PyTorch's).
 *
 * Per-channel reductions over the M = N*H*W pixels run in two kernels: a
 * block covers 32 consecutive channels (coalesced NHWC reads) and one slice
 * of pixels and writes its partial result to scratch; a finishing kernel
 * merges the slices in index order per channel and derives everything the
 * element-wise pass needs. Each thread accumulates in float over at most
 * kChunk values and folds those runs into double, and all merges above
 * that run in double, so statistics over millions of pixels keep ~1e-7
 * relative error. Every merge happens in a fixed order: no atomics, so a
 * rerun reproduces every bit.
 *
 * Forward statistics are (count, mean, centred sum of squares) triples
 * merged with Chan's formula: one read of x, and no cancellation between a
 * sum and a sum of squares. The backward sums are compensated.
 *
 * Synchronised (ctx->bn_comm over more than one rank, training), as on the
 * CPU (cpu/batchnorm_sync.h): each rank's per-channel results become
 * (sum, sum of squares, count) in double in a device buffer, summed over the
 * ranks in stream order (facs_comm_sum_on), and a last kernel derives the
 * global batch's statistics from them; backward sums dy and dy (x - mean)
 * the same way before the dx coefficients. The rank's parameter gradients
 * stay its own sums (gradient sync adds them over the ranks later). Each
 * rank's reduction keeps its fixed order, and the transports (NCCL, MPI) add
 * the ranks in an order fixed by the run's setup, so a rerun on the same
 * ranks still reproduces every bit. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_ops.h"

extern "C" {
#include "../comm.h"
}

namespace {

constexpr int kChannelsPerBlock = 32;
constexpr int kRowsPerBlock = 8;
/* Longest run a thread sums in float before folding into double. */
constexpr int kChunk = 256;
/* Values a thread loads at once (see strided_moments). */
constexpr int kGroup = 8;
/* Slices are added until the grid has about this many blocks (a batch-1
 * 57x57 map still fills the card), but never thinner than kMinSliceLen
 * pixels. The scratch then stays near kTargetBlocks * 32 partials. */
constexpr int64_t kTargetBlocks = 2048;
constexpr int64_t kMinSliceLen = 4 * kRowsPerBlock;
constexpr int64_t kMaxSlices = 512;

struct Layout {
    int64_t m;         /* pixels per channel */
    int c;             /* channels */
    int channel_blocks;
    int slices;
    int64_t slice_len; /* pixels per slice; the last slice may be shorter */
};

Layout layout_of(const facs_tensor *x)
{
    Layout l;
    l.m = (int64_t)x->n * x->h * x->w;
    l.c = x->c;
    l.channel_blocks = (x->c + kChannelsPerBlock - 1) / kChannelsPerBlock;
    int64_t slices = (kTargetBlocks + l.channel_blocks - 1) / l.channel_blocks;
    int64_t by_length = (l.m + kMinSliceLen - 1) / kMinSliceLen;
    if (slices > by_length)
        slices = by_length;
    if (slices > kMaxSlices)
        slices = kMaxSlices;
    if (slices < 1)
        slices = 1;
    /* m >= 1 here. Rounding slice_len up can leave trailing slices empty;
     * they are dropped. */
    l.slice_len = (l.m + slices - 1) / slices;
    l.slices = (int)((l.m + l.slice_len - 1) / l.slice_len);
    return l;
}

dim3 reduce_block() { return dim3(kChannelsPerBlock, kRowsPerBlock); }

/* Count, mean and sum of squared deviations of a set of values. */
struct Moments {
    double n, mean, m2;
};

/* Chan et al.'s pairwise merge; either side may be empty. */
__device__ Moments merge(Moments a, Moments b)
{
    double n = a.n + b.n;
    if (n == 0.0)
        return a;
    double delta = b.mean - a.mean, wb = b.n / n;
    return Moments{n, a.mean + delta * wb, a.m2 + b.m2 + delta * delta * a.n * wb};
}

/* Sums over pixels for the backward pass: dy and dy (x - mean). */
struct GradSums {
    double dy, dy_xc;
};

__device__ GradSums merge(GradSums a, GradSums b) { return GradSums{a.dy + b.dy, a.dy_xc + b.dy_xc}; }

/* The pixels of this thread: begin + threadIdx.y + j * kRowsPerBlock for j
 * in [0, count) within this block's slice. */
struct ThreadPixels {
    int64_t begin, count;
};

__device__ ThreadPixels thread_pixels(int64_t m, int64_t slice_len)
{
    int64_t begin = (int64_t)blockIdx.y * slice_len;
    int64_t end = min(m, begin + slice_len);
    int64_t first = begin + threadIdx.y;
    int64_t count = first < end ? (end - first + kRowsPerBlock - 1) / kRowsPerBlock : 0;
    return ThreadPixels{first, count};
}

/* Merges the kRowsPerBlock values of each channel column in row order;
 * row 0 receives the result. T must have a merge overload. */
template <class T>
__device__ T merge_rows(T mine)
{
    __shared__ T rows[kRowsPerBlock][kChannelsPerBlock];
    rows[threadIdx.y][threadIdx.x] = mine;
    __syncthreads();
    T total = rows[0][threadIdx.x];
    if (threadIdx.y == 0)
        for (int r = 1; r < kRowsPerBlock; r++)
            total = merge(total, rows[r][threadIdx.x]);
    return total;
}

/* Moments of count values p[0], p[stride], ... Groups of kGroup values are
 * loaded together (independent loads keep enough bytes in flight), reduced
 * centred on their own mean, and merged into a float run of at most kChunk
 * values (one division per group, not per value); each run folds into
 * double. */
__device__ Moments strided_moments(const float *p, size_t stride, int64_t count)
{
    Moments acc{0.0, 0.0, 0.0};
    for (int64_t j0 = 0; j0 < count; j0 += kChunk) {
        int64_t end = min(count, j0 + kChunk);
        float n = 0.0f, mean = 0.0f, m2 = 0.0f;
        for (int64_t j = j0; j < end; j += kGroup) {
            int g = (int)min((int64_t)kGroup, end - j);
            float v[kGroup], sum = 0.0f;
#pragma unroll
            for (int q = 0; q < kGroup; q++) {
                v[q] = q < g ? p[(size_t)(j + q) * stride] : 0.0f;
                sum += v[q];
            }
            float group_mean = sum / (float)g, group_m2 = 0.0f;
#pragma unroll
            for (int q = 0; q < kGroup; q++) {
                float d = q < g ? v[q] - group_mean : 0.0f;
                group_m2 += d * d;
            }
            float total = n + (float)g, delta = group_mean - mean, weight = (float)g / total;
            mean += delta * weight;
            m2 += group_m2 + delta * delta * n * weight;
            n = total;
        }
        acc = merge(acc, Moments{(double)n, (double)mean, (double)m2});
    }
    return acc;
}

/* partial[slice, ch] = moments of x[., ch] over the slice's pixels.
 * grid (channel_blocks, slices), block (32, 8). */
__global__ void __launch_bounds__(kChannelsPerBlock * kRowsPerBlock, 4)
    moments_partials(const float *__restrict__ x, Layout l, Moments *__restrict__ partial)
{
    int ch = blockIdx.x * kChannelsPerBlock + threadIdx.x;
    Moments acc{0.0, 0.0, 0.0};
    if (ch < l.c) {
        ThreadPixels px = thread_pixels(l.m, l.slice_len);
        acc = strided_moments(x + (size_t)px.begin * l.c + ch, (size_t)kRowsPerBlock * l.c, px.count);
    }
    Moments total = merge_rows(acc);
    if (threadIdx.y == 0 && ch < l.c)
        partial[(size_t)blockIdx.y * l.c + ch] = total;
}

/* Merges column ch of partial (slices x c) in a fixed order: row r takes
 * slices r, r + 8, ... in turn, then row 0 merges the rows. Row 0 gets the
 * result. grid (channel_blocks), block (32, 8). */
template <class T>
__device__ T merge_slices(const T *__restrict__ partial, int slices, int c, int ch, T zero)
{
    T acc = zero;
    if (ch < c)
        for (int s = threadIdx.y; s < slices; s += kRowsPerBlock)
            acc = merge(acc, partial[(size_t)s * c + ch]);
    return merge_rows(acc);
}

/* Where a channel's batch statistics go, and the constants they need. */
struct StatsOut {
    float eps, momentum;
    const float *gamma;
    float *running_mean, *running_var, *save_mean, *save_invstd, *scale;
};

/* From a channel's batch mean and biased variance over count values:
 * save_mean, save_invstd, the running statistics' momentum update (unbiased
 * variance) and the forward scale gamma * invstd, in the CPU reference's
 * double arithmetic. */
__device__ void store_stats(const StatsOut &o, int ch, double batch_mean, double batch_var, double count)
{
    float mean = (float)batch_mean;
    float var = (float)batch_var;
    float invstd = (float)(1.0 / sqrt((double)var + (double)o.eps));
    o.save_mean[ch] = mean;
    o.save_invstd[ch] = invstd;
    o.scale[ch] = o.gamma[ch] * invstd;
    double mom = o.momentum, unbias = count / (count - 1.0);
    o.running_mean[ch] = (float)((1.0 - mom) * o.running_mean[ch] + mom * mean);
    o.running_var[ch] = (float)((1.0 - mom) * o.running_var[ch] + mom * var * unbias);
}

/* This rank's batch statistics. grid (channel_blocks), block (32, 8). */
__global__ void finish_train_stats(const Moments *__restrict__ partial, Layout l, StatsOut o)
{
    int ch = blockIdx.x * kChannelsPerBlock + threadIdx.x;
    Moments total = merge_slices(partial, l.slices, l.c, ch, Moments{0.0, 0.0, 0.0});
    if (threadIdx.y != 0 || ch >= l.c)
        return;
    store_stats(o, ch, total.mean, total.m2 / total.n, (double)l.m);
}

/* Synchronised forward, before the sum over ranks: sums[ch] = sum x,
 * sums[c + ch] = sum x^2 over this rank's pixels, sums[2c] = their count.
 * grid (channel_blocks), block (32, 8). */
__global__ void local_stat_sums(const Moments *__restrict__ partial, Layout l, double *__restrict__ sums)
{
    int ch = blockIdx.x * kChannelsPerBlock + threadIdx.x;
    Moments total = merge_slices(partial, l.slices, l.c, ch, Moments{0.0, 0.0, 0.0});
    if (threadIdx.y != 0 || ch >= l.c)
        return;
    sums[ch] = total.n * total.mean;
    sums[l.c + ch] = total.m2 + total.n * total.mean * total.mean;
    if (ch == 0)
        sums[2 * l.c] = (double)l.m;
}

/* Synchronised forward, after the sum over ranks: the global batch's
 * statistics from local_stat_sums' layout, as cpu/batchnorm_sync.c derives
 * them. */
__global__ void global_stats(const double *__restrict__ sums, int c, StatsOut o)
{
    const double count = sums[2 * c];
    for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x) {
        double mean = sums[ch] / count, var = sums[c + ch] / count - mean * mean;
        store_stats(o, ch, mean, var > 0.0 ? var : 0.0, count);
    }
}

/* Eval: the running statistics stand in for the batch's. */
__global__ void eval_stats(const float *__restrict__ running_mean, const float *__restrict__ running_var,
                           const float *__restrict__ gamma, int c, float eps, float *__restrict__ save_mean,
                           float *__restrict__ save_invstd, float *__restrict__ scale)
{
    for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x) {
        float invstd = (float)(1.0 / sqrt((double)running_var[ch] + (double)eps));
        save_mean[ch] = running_mean[ch];
        save_invstd[ch] = invstd;
        scale[ch] = gamma[ch] * invstd;
    }
}

/* The channel (group) of the first item this thread visits in a
 * grid-stride loop over an NHWC tensor, and how far it moves per stride:
 * tracking it incrementally avoids a 64-bit modulo per item. */
struct ChannelCursor {
    int ch, step;
    __device__ ChannelCursor(size_t first, size_t stride, int c) : ch((int)(first % c)), step((int)(stride % c)) {}
    __device__ void advance(int c)
    {
        ch += step;
        if (ch >= c)
            ch -= c;
    }
};

template <int V>
__device__ void load(const float *p, size_t i, float (&v)[V])
{
    if constexpr (V == 4) {
        float4 t = reinterpret_cast<const float4 *>(p)[i];
        v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
    } else {
        v[0] = p[i];
    }
}

template <int V>
__device__ void store(float *p, size_t i, const float (&v)[V])
{
    if constexpr (V == 4)
        reinterpret_cast<float4 *>(p)[i] = make_float4(v[0], v[1], v[2], v[3]);
    else
        p[i] = v[0];
}

/* out = op(a, b, channel) at every element, V consecutive channels of one
 * pixel at a time (V = 4 needs C % 4 == 0 and 16-byte aligned streams);
 * b may be NULL (op then sees 0). No __restrict__ on the streams: out may
 * alias an input element-wise. */
template <int V, class Op>
__global__ void channelwise(Op op, const float *a, const float *b, size_t total, int c, float *out)
{
    const int groups = c / V;
    const size_t items = total / V, first = (size_t)blockIdx.x * blockDim.x + threadIdx.x,
                 stride = (size_t)gridDim.x * blockDim.x;
    ChannelCursor cur(first, stride, groups);
    for (size_t i = first; i < items; i += stride, cur.advance(groups)) {
        float va[V], vb[V] = {}, r[V];
        load<V>(a, i, va);
        if (b)
            load<V>(b, i, vb);
#pragma unroll
        for (int k = 0; k < V; k++)
            r[k] = op(va[k], vb[k], cur.ch * V + k);
        store<V>(out, i, r);
    }
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* Launches channelwise, vectorised where the layout allows; the caller
 * checks the launch. */
template <class Op>
void launch_channelwise(Op op, const float *a, const float *b, size_t total, int c, float *out)
{
    if (c % 4 == 0 && aligned16(a) && (!b || aligned16(b)) && aligned16(out))
        channelwise<4><<<facs_cuda_blocks(total / 4), kFacsCudaThreads>>>(op, a, b, total, c, out);
    else
        channelwise<1><<<facs_cuda_blocks(total), kFacsCudaThreads>>>(op, a, b, total, c, out);
}

/* y = (x - mean) * gamma * invstd + beta. */
struct NormalizeOp {
    const float *mean, *scale, *beta;
    __device__ float operator()(float x, float, int ch) const { return (x - mean[ch]) * scale[ch] + beta[ch]; }
};

/* A float sum that also tracks its rounding errors (Knuth's TwoSum, and
 * an fma for a product's), so a run is as exact as a double sum. Plain float
 * runs leave a bias of a few ulps of the result on sum dy, which nearly
 * cancels (BN bias gradients at initialisation); the extra flops are free in
 * a kernel bound by memory. The _rn intrinsics are never contracted into an
 * fma, which would break the error terms. */
struct CompensatedSum {
    float sum = 0.0f, error = 0.0f;
    __device__ void add(float v)
    {
        float t = __fadd_rn(sum, v), v_part = __fsub_rn(t, sum);
        error = __fadd_rn(error, __fadd_rn(__fsub_rn(sum, __fsub_rn(t, v_part)), __fsub_rn(v, v_part)));
        sum = t;
    }
    __device__ void add_product(float a, float b)
    {
        float p = __fmul_rn(a, b);
        error = __fadd_rn(error, fmaf(a, b, -p));
        add(p);
    }
    __device__ double value() const { return (double)sum + (double)error; }
};

/* Sums of dy and dy (x - mu) over count values at p[0], p[stride], ...
 * (p = x and dy), loaded kGroup at a time, compensated float runs of at
 * most kChunk values folded into double. Missing values of a short group
 * add exact zeros. */
__device__ GradSums strided_grad_sums(const float *x, const float *dy, size_t stride, int64_t count, float mu)
{
    GradSums acc{0.0, 0.0};
    for (int64_t j0 = 0; j0 < count; j0 += kChunk) {
        int64_t end = min(count, j0 + kChunk);
        CompensatedSum s_dy, s_dy_xc;
        for (int64_t j = j0; j < end; j += kGroup) {
            int g = (int)min((int64_t)kGroup, end - j);
            float gv[kGroup], xv[kGroup];
#pragma unroll
            for (int q = 0; q < kGroup; q++) {
                size_t at = (size_t)(j + q) * stride;
                gv[q] = q < g ? dy[at] : 0.0f;
                xv[q] = q < g ? x[at] : mu;
            }
#pragma unroll
            for (int q = 0; q < kGroup; q++) {
                s_dy.add(gv[q]);
                s_dy_xc.add_product(gv[q], xv[q] - mu);
            }
        }
        acc = merge(acc, GradSums{s_dy.value(), s_dy_xc.value()});
    }
    return acc;
}

/* partial[slice, ch] = sums of dy and dy (x - mean) over the slice's pixels.
 * grid (channel_blocks, slices), block (32, 8). */
__global__ void __launch_bounds__(kChannelsPerBlock * kRowsPerBlock, 4)
    grad_partials(const float *__restrict__ x, const float *__restrict__ dy, const float *__restrict__ mean, Layout l,
                  GradSums *__restrict__ partial)
{
    int ch = blockIdx.x * kChannelsPerBlock + threadIdx.x;
    GradSums acc{0.0, 0.0};
    if (ch < l.c) {
        ThreadPixels px = thread_pixels(l.m, l.slice_len);
        size_t offset = (size_t)px.begin * l.c + ch;
        acc = strided_grad_sums(x + offset, dy + offset, (size_t)kRowsPerBlock * l.c, px.count, mean[ch]);
    }
    GradSums total = merge_rows(acc);
    if (threadIdx.y == 0 && ch < l.c)
        partial[(size_t)blockIdx.y * l.c + ch] = total;
}

/* Training dx = k (dy - a - (x - mean) b), per channel. */
struct DxCoeffs {
    float *k, *a, *b;
};

/* k = gamma invstd, a = sum dy / M and b = invstd^2 sum dy (x - mean) / M
 * for one channel, M values per channel. */
__device__ void store_dx_coeffs(const DxCoeffs &coeffs, int ch, GradSums total, double m,
                                const float *__restrict__ gamma, const float *__restrict__ invstd)
{
    double is = invstd[ch];
    coeffs.k[ch] = gamma[ch] * invstd[ch];
    coeffs.a[ch] = (float)(total.dy / m);
    coeffs.b[ch] = (float)(total.dy_xc * is * is / m);
}

/* Per channel: dgamma += sum dy xhat, dbeta += sum dy (either may be NULL)
 * over this rank's pixels; then either the training dx coefficients from
 * these sums (coeffs.k set) or, synchronised (sums set), the sums to add
 * over the ranks: sums[ch] = sum dy, sums[c + ch] = sum dy (x - mean),
 * sums[2c] = the pixel count. */
__global__ void finish_grad(const GradSums *__restrict__ partial, Layout l,
                            const float *__restrict__ gamma, const float *__restrict__ invstd,
                            float *__restrict__ dgamma, float *__restrict__ dbeta, DxCoeffs coeffs,
                            double *__restrict__ sums)
{
    int ch = blockIdx.x * kChannelsPerBlock + threadIdx.x;
    GradSums total = merge_slices(partial, l.slices, l.c, ch, GradSums{0.0, 0.0});
    if (threadIdx.y != 0 || ch >= l.c)
        return;
    double is = invstd[ch];
    if (dgamma)
        dgamma[ch] += (float)(total.dy_xc * is);
    if (dbeta)
        dbeta[ch] += (float)total.dy;
    if (sums) {
        sums[ch] = total.dy;
        sums[l.c + ch] = total.dy_xc;
        if (ch == 0)
            sums[2 * l.c] = (double)l.m;
    } else if (coeffs.k) {
        store_dx_coeffs(coeffs, ch, total, (double)l.m, gamma, invstd);
    }
}

/* Synchronised backward, after the sum over ranks: the dx coefficients from
 * the global sums (finish_grad's layout). */
__global__ void global_dx_coeffs(const double *__restrict__ sums, int c, const float *__restrict__ gamma,
                                 const float *__restrict__ invstd, DxCoeffs coeffs)
{
    const double count = sums[2 * c];
    for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x)
        store_dx_coeffs(coeffs, ch, GradSums{sums[ch], sums[c + ch]}, count, gamma, invstd);
}

/* Training dx: k (dy - a - (x - mean) b). */
struct TrainDxOp {
    const float *mean, *k, *a, *b;
    __device__ float operator()(float x, float dy, int ch) const
    {
        return k[ch] * (dy - a[ch] - (x - mean[ch]) * b[ch]);
    }
};

/* Eval dx: dy gamma invstd (the statistics are constants). */
struct EvalDxOp {
    const float *gamma, *invstd;
    __device__ float operator()(float dy, float, int ch) const { return dy * (gamma[ch] * invstd[ch]); }
};

template <class T>
facs_status scratch_array(facs_ctx *ctx, const char *op, size_t count, T **out)
{
    void *ptr = NULL;
    FACS_TRY(facs_cuda_scratch(ctx, op, count * sizeof(T), &ptr));
    *out = (T *)ptr;
    return FACS_OK;
}

bool synchronised(const facs_ctx *ctx, const facs_batchnorm_params *p)
{
    return p->training && ctx->bn_comm && facs_comm_size(ctx->bn_comm) > 1;
}

/* Sums count doubles of device memory over the ranks of ctx->bn_comm, after
 * the kernels queued so far and before those queued next. */
facs_status sum_over_ranks(facs_ctx *ctx, double *sums, size_t count)
{
    FACS_TRY(facs_comm_use_device(ctx->bn_comm, FACS_DEVICE_CUDA));
    return facs_comm_sum_on(ctx->bn_comm, FACS_DEVICE_CUDA, sums, count, FACS_COMM_F64);
}

facs_status train_statistics(facs_ctx *ctx, const char *op, const facs_batchnorm_params *p, const facs_tensor *x,
                             const StatsOut &out)
{
    Layout l = layout_of(x);
    Moments *partial;
    FACS_TRY(scratch_array(ctx, op, (size_t)l.slices * l.c, &partial));
    moments_partials<<<dim3(l.channel_blocks, l.slices), reduce_block()>>>(facs_f32(x), l, partial);
    FACS_CUDA_CHECK_LAUNCH("moments_partials");
    if (!synchronised(ctx, p)) {
        finish_train_stats<<<l.channel_blocks, reduce_block()>>>(partial, l, out);
        FACS_CUDA_CHECK_LAUNCH("finish_train_stats");
        return FACS_OK;
    }
    double *sums;
    FACS_TRY(scratch_array(ctx, op, (size_t)2 * l.c + 1, &sums));
    local_stat_sums<<<l.channel_blocks, reduce_block()>>>(partial, l, sums);
    FACS_CUDA_CHECK_LAUNCH("local_stat_sums");
    FACS_TRY(sum_over_ranks(ctx, sums, (size_t)2 * l.c + 1));
    global_stats<<<facs_cuda_blocks((size_t)l.c), kFacsCudaThreads>>>(sums, l.c, out);
    FACS_CUDA_CHECK_LAUNCH("global_stats");
    return FACS_OK;
}

/* dgamma and dbeta get this rank's sums from partial; the training dx
 * coefficients (when coeffs.k is set) come from the sums over the ranks
 * when synchronised, else from this rank's. */
facs_status finish_grad_sums(facs_ctx *ctx, const char *op, const facs_batchnorm_params *p, const Layout &l,
                             const GradSums *partial, const facs_tensor *gamma, const facs_tensor *save_invstd,
                             facs_tensor *dgamma, facs_tensor *dbeta, const DxCoeffs &coeffs)
{
    double *sums = NULL;
    if (coeffs.k && synchronised(ctx, p))
        FACS_TRY(scratch_array(ctx, op, (size_t)2 * l.c + 1, &sums));
    finish_grad<<<l.channel_blocks, reduce_block()>>>(partial, l, facs_f32(gamma), facs_f32(save_invstd),
                                                      dgamma ? facs_f32(dgamma) : NULL,
                                                      dbeta ? facs_f32(dbeta) : NULL, coeffs, sums);
    FACS_CUDA_CHECK_LAUNCH("finish_grad");
    if (!sums)
        return FACS_OK;
    FACS_TRY(sum_over_ranks(ctx, sums, (size_t)2 * l.c + 1));
    global_dx_coeffs<<<facs_cuda_blocks((size_t)l.c), kFacsCudaThreads>>>(sums, l.c, facs_f32(gamma),
                                                                          facs_f32(save_invstd), coeffs);
    FACS_CUDA_CHECK_LAUNCH("global_dx_coeffs");
    return FACS_OK;
}

} // namespace

facs_status facs_cuda_batchnorm_forward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                        const facs_tensor *gamma, const facs_tensor *beta, facs_tensor *running_mean,
                                        facs_tensor *running_var, facs_tensor *y, facs_tensor *save_mean,
                                        facs_tensor *save_invstd)
{
    const char *op = "batchnorm forward (cuda)";
    const int c = x->c;
    int64_t m = (int64_t)x->n * x->h * x->w;
    if (p->training && m < 2)
        return facs_fail(FACS_ERR_ARG, "batchnorm2d: training needs more than one value per channel (N*H*W = %lld)",
                         (long long)m);
    if (c == 0)
        return FACS_OK;
    size_t total = facs_tensor_numel(x);
    float *scale;
    FACS_TRY(scratch_array(ctx, op, (size_t)c, &scale));
    if (p->training) {
        StatsOut out{p->eps, p->momentum, facs_f32(gamma), facs_f32(running_mean), facs_f32(running_var),
                     facs_f32(save_mean), facs_f32(save_invstd), scale};
        FACS_TRY(train_statistics(ctx, op, p, x, out));
    } else {
        eval_stats<<<facs_cuda_blocks((size_t)c), kFacsCudaThreads>>>(facs_f32(running_mean), facs_f32(running_var),
                                                                      facs_f32(gamma), c, p->eps, facs_f32(save_mean),
                                                                      facs_f32(save_invstd), scale);
        FACS_CUDA_CHECK_LAUNCH("eval_stats");
    }
    launch_channelwise(NormalizeOp{facs_f32(save_mean), scale, facs_f32(beta)}, facs_f32(x), NULL, total, c,
                       facs_f32(y));
    FACS_CUDA_CHECK_LAUNCH("channelwise (normalize)");
    return FACS_OK;
}

facs_status facs_cuda_batchnorm_backward(facs_ctx *ctx, const facs_batchnorm_params *p, const facs_tensor *x,
                                         const facs_tensor *gamma, const facs_tensor *save_mean,
                                         const facs_tensor *save_invstd, const facs_tensor *dy, facs_tensor *dx,
                                         facs_tensor *dgamma, facs_tensor *dbeta)
{
    if (!dx && !dgamma && !dbeta)
        return FACS_OK;
    const char *op = "batchnorm backward (cuda)";
    const int c = x->c, training = p->training;
    size_t total = facs_tensor_numel(x);
    if (total == 0)
        return FACS_OK;
    if (!training && dx) {
        launch_channelwise(EvalDxOp{facs_f32(gamma), facs_f32(save_invstd)}, facs_f32(dy), NULL, total, c,
                           facs_f32(dx));
        FACS_CUDA_CHECK_LAUNCH("channelwise (eval dx)");
    }
    if (!dgamma && !dbeta && !(training && dx))
        return FACS_OK;

    Layout l = layout_of(x);
    GradSums *partial;
    FACS_TRY(scratch_array(ctx, op, (size_t)l.slices * l.c, &partial));
    DxCoeffs coeffs{NULL, NULL, NULL};
    if (training && dx) {
        FACS_TRY(scratch_array(ctx, op, (size_t)c, &coeffs.k));
        FACS_TRY(scratch_array(ctx, op, (size_t)c, &coeffs.a));
        FACS_TRY(scratch_array(ctx, op, (size_t)c, &coeffs.b));
    }
    grad_partials<<<dim3(l.channel_blocks, l.slices), reduce_block()>>>(facs_f32(x), facs_f32(dy),
                                                                        facs_f32(save_mean), l, partial);
    FACS_CUDA_CHECK_LAUNCH("grad_partials");
    FACS_TRY(finish_grad_sums(ctx, op, p, l, partial, gamma, save_invstd, dgamma, dbeta, coeffs));
    if (coeffs.k) {
        launch_channelwise(TrainDxOp{facs_f32(save_mean), coeffs.k, coeffs.a, coeffs.b}, facs_f32(x), facs_f32(dy),
                           total, c, facs_f32(dx));
        FACS_CUDA_CHECK_LAUNCH("channelwise (training dx)");
    }
    return FACS_OK;
}
