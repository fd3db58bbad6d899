/* The FACS op (paper Eq. 1-3) with an image group resident in a cluster's
 * shared memory, so that DRAM sees x once per pass (docs/cuda.md, "FACS
 * bandwidth"). The per-element arithmetic is facs_fusion_math.h's, as in
 * facs.cu and on the CPU.
 *
 * A cluster of K blocks takes G consecutive images. Block r holds channels
 * [r L, r L + L) of them (L = C / K; K divides C / R, so L is a whole number
 * of chunks) and owns output channels [r O, r O + O), O = L / R:
 *   forward:  load its x (cp.async); z of its channels; its share of s = W z
 *             for every output, from its channels; cluster barrier; p of its
 *             outputs, the K shares added in rank order through distributed
 *             shared memory, + b; cluster barrier (no block returns while
 *             another still reads its shares); y of its outputs.
 *   backward: load its x; dL/dp of its outputs (dy read once), ds = dL/dp
 *             p (1 - p), also to global memory for dW and db (facs.cu);
 *             cluster barrier; every block's ds gathered; cluster barrier;
 *             dz of its channels, W^T ds / HW; dx of its chunks (dy again,
 *             now from L2).
 * Every sum runs in a fixed order (block_column_sums, the W slices), so
 * reruns give the same bits; the order differs from the classic kernels', so
 * the two paths agree to rounding, not bitwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>
#include <type_traits>

#if !defined(FACS_CUDA_EMULATION)
#include <cuda_pipeline.h>
#endif

#include "../env_word.h"
#include "../facs_fusion_math.h"
#include "cluster.cuh"
#include "facs_kernels.h"
#include "facs_resident.cuh"

namespace {

constexpr unsigned kThreads = 512;
/* Images per cluster at most: each thread keeps one sum per image in
 * registers in the W z and W^T ds steps, beside 4 loads of W in flight; with
 * 8, a thread of 64 registers (two blocks an SM) spills or keeps 2 loads in
 * flight. The plans of ResNet-50's shapes at batch 64 on an H200 take at
 * most 4 anyway (docs/cuda.md). */
constexpr int kMaxImages = 4;

/* The shared memory of a block, in floats: x [G][HW][L], then per image z or
 * dz [L], p [O], ds [O] and the exchange [CO] (the forward's partial scores,
 * the backward's gathered ds), then scratch [kThreads][G]. */
struct Layout {
    float *x, *z, *p, *ds, *exchange, *scratch;
};

/* A block's floats per image of its group, scratch included. */
__host__ __device__ inline size_t image_floats(const FacsResident &s)
{
    size_t l = (size_t)(s.c / s.blocks), o = (size_t)(s.co / s.blocks);
    return (size_t)s.hw * l + l + 2 * o + (size_t)s.co + kThreads;
}

__host__ __device__ inline size_t shared_bytes(const FacsResident &s)
{
    return (size_t)s.images * image_floats(s) * sizeof(float);
}

__device__ inline Layout layout_of(float *smem, const FacsResident &s)
{
    size_t g = (size_t)s.images, l = (size_t)(s.c / s.blocks), o = (size_t)(s.co / s.blocks);
    Layout m;
    m.x = smem;
    m.z = m.x + g * s.hw * l;
    m.p = m.z + g * l;
    m.ds = m.p + g * o;
    m.exchange = m.ds + g * o;
    m.scratch = m.exchange + g * s.co;
    return m;
}

/* The cells (row, col) of a rows x width grid that this thread visits:
 * thread t from cell t on, in steps of blockDim.x, without a division per
 * step. */
struct Cells {
    int row, col, width, drow, dcol;
    __device__ explicit Cells(int w)
        : row((int)threadIdx.x / w), col((int)threadIdx.x % w), width(w), drow((int)blockDim.x / w),
          dcol((int)blockDim.x % w)
    {
    }
    __device__ void next()
    {
        row += drow;
        col += dcol;
        if (col >= width) {
            col -= width;
            row++;
        }
    }
};

/* Cells whose global loads for_each_cell issues before their bodies run. */
constexpr int kCellLoads = 4;

/* body(row, col, load(row, col)) for every cell of a rows x cols grid,
 * thread t from cell t on in steps of blockDim.x. Where cols divides the
 * block (a thread's column then stays), the loads (of global memory) of
 * kCellLoads cells go first, so that several are in flight: one at a time,
 * the backward's dx pass waited for L2 once per cell. */
template <class Load, class Body>
__device__ inline void for_each_cell(int rows, int cols, const Load &load, const Body &body)
{
    const int t = (int)threadIdx.x, threads = (int)blockDim.x;
    if (threads % cols) {
        for (Cells e(cols); e.row < rows; e.next())
            body(e.row, e.col, load(e.row, e.col));
        return;
    }
    const int col = t % cols, step = threads / cols;
    for (int row = t / cols; row < rows; row += kCellLoads * step) {
        float loaded[kCellLoads];
#pragma unroll
        for (int u = 0; u < kCellLoads; u++)
            loaded[u] = row + u * step < rows ? load(row + u * step, col) : 0.0f;
#pragma unroll
        for (int u = 0; u < kCellLoads; u++)
            if (row + u * step < rows)
                body(row + u * step, col, loaded[u]);
    }
}

/* store(col, sum of value(row, col) over rows) for every col < cols. Thread t
 * adds rows t / cols, t / cols + phases, ... of column t % cols (unrolled, so
 * that value's global loads, the backward's dy, overlap); then one thread
 * per column adds the phases in order: a fixed order, bank-conflict free
 * where value reads row-major shared memory. Every thread of the block calls
 * it; it ends with a barrier. */
template <class Value, class Store>
__device__ void block_column_sums(const Value &value, int rows, int cols, float *scratch, const Store &store)
{
    const int t = (int)threadIdx.x, threads = (int)blockDim.x;
    if (cols >= threads) {
        for (int col = t; col < cols; col += threads) {
            float sum = 0.0f;
            for (int row = 0; row < rows; row++)
                sum += value(row, col);
            store(col, sum);
        }
    } else {
        const int phases = threads / cols;
        if (t < phases * cols) {
            float sum = 0.0f;
#pragma unroll 4
            for (int row = t / cols; row < rows; row += phases)
                sum += value(row, t % cols);
            scratch[t] = sum;
        }
        __syncthreads();
        if (t < cols) {
            float sum = 0.0f;
            for (int phase = 0; phase < phases; phase++)
                sum += scratch[phase * cols + t];
            store(t, sum);
        }
    }
    __syncthreads();
}

/* The block's channels of the group's images into shared memory, as
 * asynchronous copies (cp.async: many in flight, no registers), 16 bytes
 * each where rows and x allow; one commit group per image, so that the
 * first image's sums can start while the others load (wait_for_image). */
__device__ void load_channels(const float *__restrict__ x, const FacsResident &s, unsigned rank, int n0, int images,
                              float *xs)
{
    const int l = s.c / s.blocks;
    const bool quads = l % 4 == 0 && s.c % 4 == 0 && (uintptr_t)x % 16 == 0;
    const int step = quads ? 4 : 1;
    for (int g = 0; g < images; g++) {
        const float *src = x + (size_t)(n0 + g) * s.hw * s.c + (size_t)rank * l;
        float *dst = xs + (size_t)g * s.hw * l;
        for (Cells e(l / step); e.row < s.hw; e.next())
            __pipeline_memcpy_async(dst + (size_t)e.row * l + e.col * step,
                                    src + (size_t)e.row * s.c + e.col * step, step * sizeof(float));
        __pipeline_commit();
    }
}

/* Waits until image g of the block's group is in its shared memory (of
 * `images`, loaded in order by load_channels), the later ones still in
 * flight: the thread's own copies, then the block's barrier. The count of
 * groups left pending is an immediate operand of cp.async.wait_group, hence
 * the switch. Every thread calls it. */
__device__ inline void wait_for_image(int g, int images)
{
    static_assert(kMaxImages == 4, "a case per image that may stay in flight");
    switch (images - 1 - g) {
    case 0: __pipeline_wait_prior(0); break;
    case 1: __pipeline_wait_prior(1); break;
    case 2: __pipeline_wait_prior(2); break;
    default: __pipeline_wait_prior(3); break;
    }
    __syncthreads();
}

/* part[g CO + i] = w[i, own channels] . z[g, own channels] for every output
 * i: this block's share of s = W z. One thread per output and slice of the
 * channels (several slices where outputs are fewer than threads): each reads
 * its own part of a row of w, 16 bytes a load where rows allow, several
 * loads in flight (a warp per output waited for L2 once per output, longer
 * than loading x on 2048 -> 512 @ 7); a warp's threads read the same z, a
 * shared-memory broadcast. The slices' sums are added in slice order, after
 * a barrier. Every thread calls it; part is complete once a barrier follows. */
__device__ void partial_scores(const float *__restrict__ w, const float *zs, const FacsResident &s, unsigned rank,
                               int images, float *scratch, float *part)
{
    const int l = s.c / s.blocks, t = (int)threadIdx.x, threads = (int)blockDim.x, co = s.co;
    const int slices = co < threads ? threads / co : 1;
    const bool quads = l % 4 == 0 && s.c % 4 == 0 && (uintptr_t)w % 16 == 0;
    const int unit = quads ? 4 : 1, units = l / unit;
    for (int e = t; e < co * slices; e += threads) {
        const int i = e % co, slice = e / co;
        const int first = slice * units / slices * unit, end = (slice + 1) * units / slices * unit;
        const float *wi = w + (size_t)i * s.c + (size_t)rank * l;
        float acc[kMaxImages] = {};
        if (quads) {
#pragma unroll 4
            for (int k = first; k < end; k += 4) {
                const float4 wk = *reinterpret_cast<const float4 *>(wi + k);
#pragma unroll
                for (int g = 0; g < kMaxImages; g++)
                    if (g < images) {
                        const float4 zk = *reinterpret_cast<const float4 *>(zs + g * l + k);
                        acc[g] += wk.x * zk.x;
                        acc[g] += wk.y * zk.y;
                        acc[g] += wk.z * zk.z;
                        acc[g] += wk.w * zk.w;
                    }
            }
        } else {
            for (int k = first; k < end; k++) {
                const float wk = wi[k];
#pragma unroll
                for (int g = 0; g < kMaxImages; g++)
                    if (g < images)
                        acc[g] += wk * zs[g * l + k];
            }
        }
        float *out = slices > 1 ? scratch + (size_t)slice * images * co + i : part + i;
#pragma unroll
        for (int g = 0; g < kMaxImages; g++)
            if (g < images)
                out[g * co] = acc[g];
    }
    if (slices > 1) {
        __syncthreads();
        for (int e = t; e < images * co; e += threads) {
            float sum = 0.0f;
            for (int slice = 0; slice < slices; slice++)
                sum += scratch[slice * images * co + e];
            part[e] = sum;
        }
    }
}

/* Loads issued before their products are added, in the W^T ds step. */
constexpr int kColumnLoads = 8;

/* acc[g] += sum over outputs i = first, first + step, ... of w[i, k] ds[g, i],
 * in that order; kColumnLoads loads of w at a time, so that several are in
 * flight (one at a time, the step waits for L2 once per output). */
__device__ inline void column_dot(const float *__restrict__ w_k, const float *ds_all, const FacsResident &s,
                                  int images, int first, int step, float *acc)
{
    int i = first;
    for (; i + (kColumnLoads - 1) * step < s.co; i += kColumnLoads * step) {
        float wk[kColumnLoads];
#pragma unroll
        for (int u = 0; u < kColumnLoads; u++)
            wk[u] = w_k[(size_t)(i + u * step) * s.c];
#pragma unroll
        for (int u = 0; u < kColumnLoads; u++)
#pragma unroll
            for (int g = 0; g < kMaxImages; g++)
                if (g < images)
                    acc[g] += wk[u] * ds_all[g * s.co + i + u * step];
    }
    for (; i < s.co; i += step) {
        const float wk = w_k[(size_t)i * s.c];
#pragma unroll
        for (int g = 0; g < kMaxImages; g++)
            if (g < images)
                acc[g] += wk * ds_all[g * s.co + i];
    }
}

/* dz[g L + k] = (w[:, own channel k] . ds[g, :]) / HW for the block's
 * channels: threads over k (coalesced columns of w), the outputs split into
 * phases when there are more threads than channels, one sum per image per
 * thread, the phases added in order. Ends with a barrier. */
__device__ void mean_gradient(const float *__restrict__ w, const float *ds_all, const FacsResident &s, unsigned rank,
                              int images, float *scratch, float *dz)
{
    const int l = s.c / s.blocks, t = (int)threadIdx.x, threads = (int)blockDim.x;
    const float *w_own = w + (size_t)rank * l;
    const float hw = (float)s.hw;
    if (l >= threads) {
        for (int k = t; k < l; k += threads) {
            float acc[kMaxImages] = {};
            column_dot(w_own + k, ds_all, s, images, 0, 1, acc);
#pragma unroll
            for (int g = 0; g < kMaxImages; g++)
                if (g < images)
                    dz[g * l + k] = acc[g] / hw;
        }
    } else {
        const int phases = threads / l, k = t % l, phase = t / l;
        if (phase < phases) {
            float acc[kMaxImages] = {};
            column_dot(w_own + k, ds_all, s, images, phase, phases, acc);
#pragma unroll
            for (int g = 0; g < kMaxImages; g++)
                if (g < images)
                    scratch[(phase * images + g) * l + k] = acc[g];
        }
        __syncthreads();
        for (int e = t; e < images * l; e += threads) {
            const int g = e / l, kk = e % l;
            float sum = 0.0f;
            for (int ph = 0; ph < phases; ph++)
                sum += scratch[(ph * images + g) * l + kk];
            dz[e] = sum / hw;
        }
    }
    __syncthreads();
}

/* A block's part of the work: its shared memory, its rank in the cluster,
 * its channels (l) and output channels (o) of each image, and its group's
 * first image and image count. */
struct Block {
    Layout m;
    unsigned rank;
    int l, o, n0, images;
};

/* This block's part, with the loads of its channels of the group's images
 * issued (wait_for_image waits for each). */
__device__ Block start_block(const FacsResident &s, const float *__restrict__ x, float *smem)
{
    Block k;
    k.m = layout_of(smem, s);
    k.rank = facs_cluster_rank();
    k.l = s.c / s.blocks, k.o = s.co / s.blocks;
    k.n0 = (int)(blockIdx.x / s.blocks) * s.images;
    k.images = min(s.images, s.n - k.n0);
    load_channels(x, s, k.rank, k.n0, k.images, k.m.x);
    return k;
}

/* A chunk's R values in shared memory, for the per-pixel passes. R = 4 or
 * 2 (the chunk size, known at compile time): one 16- or 8-byte load into v,
 * since a warp's float-by-float reads of R-float chunks would hit each bank
 * R times. Otherwise the chunk is read in place. */
template <int R> __device__ inline const float *chunk_values(const float *chunk, float *v)
{
    if constexpr (R == 4) {
        const float4 q = *reinterpret_cast<const float4 *>(chunk);
        v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
        return v;
    } else if constexpr (R == 2) {
        const float2 q = *reinterpret_cast<const float2 *>(chunk);
        v[0] = q.x, v[1] = q.y;
        return v;
    } else {
        (void)v;
        return chunk;
    }
}

/* The kernels are instantiated for chunks of 4, 2 and 1 channels (R) and
 * for any other size (R = 0, the size from s.r). */
__device__ inline int chunk_size(int R, const FacsResident &s) { return R > 0 ? R : s.r; }
template <int R> using ChunkArray = float[R > 0 ? R : 1];

template <int R>
__global__ void __launch_bounds__(kThreads, 2)
    resident_forward(FacsResident s, const float *__restrict__ x, const float *__restrict__ w,
                     const float *__restrict__ b, float *__restrict__ z, float *__restrict__ prob,
                     float *__restrict__ y)
{
    extern __shared__ float smem[];
    const Block part = start_block(s, x, smem);
    const Layout &m = part.m;
    const unsigned rank = part.rank;
    const int l = part.l, o = part.o, r = chunk_size(R, s), hw = s.hw, co = s.co, n0 = part.n0;
    const int images = part.images;

    for (int g = 0; g < images; g++) {
        wait_for_image(g, images);
        const float *xg = m.x + (size_t)g * hw * l;
        float *zg = m.z + (size_t)g * l, *z_out = z + (size_t)(n0 + g) * s.c + rank * l;
        block_column_sums([=](int pix, int k) { return xg[(size_t)pix * l + k]; }, hw, l, m.scratch,
                          [=](int k, float sum) { zg[k] = z_out[k] = sum / (float)hw; });
    }
    partial_scores(w, m.z, s, rank, images, m.scratch, m.exchange);
    facs_cluster_sync();

    /* p of the own outputs: the blocks' partial scores added in rank order */
    for (Cells e(o); e.row < images; e.next()) {
        const int i = (int)rank * o + e.col;
        float sum = 0.0f;
        for (int k = 0; k < s.blocks; k++)
            sum += facs_cluster_map(m.exchange, (unsigned)k)[e.row * co + i];
        const float p = facs_sigmoid_value(sum + (b ? b[i] : 0.0f));
        m.p[e.row * o + e.col] = p;
        prob[(size_t)(n0 + e.row) * co + i] = p;
    }
    facs_cluster_sync();

    for (int g = 0; g < images; g++) {
        const float *xg = m.x + (size_t)g * hw * l, *pg = m.p + g * o;
        float *yg = y + (size_t)(n0 + g) * hw * co + rank * o;
        for (Cells e(o); e.row < hw; e.next()) {
            ChunkArray<R> v;
            const float *chunk = chunk_values<R>(xg + (size_t)e.row * l + (size_t)e.col * r, v);
            yg[(size_t)e.row * co + e.col] = facs_fusion_value(s.weighted, s.threshold, pg[e.col],
                                                               facs_chunk_max(chunk, r), facs_chunk_mean(chunk, r));
        }
    }
}

/* dx of one chunk at one pixel: out[k] = dz[k] + dy cavg / R, plus dy cmax
 * at the chunk's maximum; one store of R floats where R is 4 or 2 and out is
 * aligned to it (vector). */
template <int R>
__device__ inline void chunk_input_gradient(const FacsResident &s, float p, float grad, const float *chunk,
                                            const float *dz, float *out, bool vector)
{
    const int r = chunk_size(R, s);
    float cmax, cavg;
    facs_fusion_coeffs(s.weighted, s.threshold, p, &cmax, &cavg);
    const float g_avg = grad * cavg / (float)r;
    const int best = facs_chunk_argmax(chunk, r);
    const auto value = [&](int k) { return dz[k] + g_avg + (k == best ? grad * cmax : 0.0f); };
    if constexpr (R == 4 || R == 2) {
        float v[R];
#pragma unroll
        for (int k = 0; k < R; k++)
            v[k] = value(k);
        if (vector) {
            if constexpr (R == 4)
                *reinterpret_cast<float4 *>(out) = make_float4(v[0], v[1], v[2], v[3]);
            else
                *reinterpret_cast<float2 *>(out) = make_float2(v[0], v[1]);
            return;
        }
#pragma unroll
        for (int k = 0; k < R; k++)
            out[k] = v[k];
    } else {
        (void)vector;
        for (int k = 0; k < r; k++)
            out[k] = value(k);
    }
}

template <int R>
__global__ void __launch_bounds__(kThreads, 2)
    resident_backward(FacsResident s, const float *__restrict__ x, const float *__restrict__ w,
                      const float *__restrict__ prob, const float *__restrict__ dy, float *__restrict__ ds,
                      float *__restrict__ dx)
{
    extern __shared__ float smem[];
    const Block part = start_block(s, x, smem);
    const Layout &m = part.m;
    const unsigned rank = part.rank;
    const int l = part.l, o = part.o, r = chunk_size(R, s), hw = s.hw, co = s.co, n0 = part.n0;
    const int images = part.images;
    for (Cells e(o); e.row < images; e.next())
        m.p[e.row * o + e.col] = prob[(size_t)(n0 + e.row) * co + rank * o + e.col];

    for (int g = 0; g < images; g++) {
        wait_for_image(g, images); /* and m.p is everyone's */
        const float *xg = m.x + (size_t)g * hw * l, *pg = m.p + (size_t)g * o;
        const float *dyg = dy + (size_t)(n0 + g) * hw * co + rank * o;
        float *dsg = m.ds + (size_t)g * o, *ds_out = ds + (size_t)(n0 + g) * co + rank * o;
        block_column_sums(
            [=](int pix, int i) {
                ChunkArray<R> v;
                const float *chunk = chunk_values<R>(xg + (size_t)pix * l + (size_t)i * r, v);
                return dyg[(size_t)pix * co + i] * facs_fusion_dprob(s.weighted, s.threshold, pg[i],
                                                                     facs_chunk_max(chunk, r),
                                                                     facs_chunk_mean(chunk, r));
            },
            hw, o, m.scratch, [=](int i, float sum) { dsg[i] = ds_out[i] = sum * pg[i] * (1.0f - pg[i]); });
    }
    if (!dx)
        return;
    facs_cluster_sync();
    /* every block's ds, gathered; the barrier after it lets blocks return */
    for (Cells e(co); e.row < images; e.next())
        m.exchange[e.row * co + e.col] = facs_cluster_map(m.ds, (unsigned)(e.col / o))[e.row * o + e.col % o];
    facs_cluster_sync();
    mean_gradient(w, m.exchange, s, rank, images, m.scratch, m.z);

    const bool vector = (uintptr_t)dx % (sizeof(float) * r) == 0;
    for (int g = 0; g < images; g++) {
        const float *xg = m.x + (size_t)g * hw * l, *pg = m.p + g * o, *dzg = m.z + (size_t)g * l;
        const float *dyg = dy + (size_t)(n0 + g) * hw * co + rank * o;
        float *dxg = dx + (size_t)(n0 + g) * hw * s.c + rank * l;
        for_each_cell(
            hw, o, [=](int pix, int i) { return dyg[(size_t)pix * co + i]; },
            [=](int pix, int i, float grad) {
                ChunkArray<R> xv, dzv;
                const float *chunk = chunk_values<R>(xg + (size_t)pix * l + (size_t)i * r, xv);
                const float *dz = chunk_values<R>(dzg + (size_t)i * r, dzv);
                chunk_input_gradient<R>(s, pg[i], grad, chunk, dz, dxg + (size_t)pix * s.c + (size_t)i * r, vector);
            });
    }
}

/* FACS_CUDA_FACS_KERNELS=classic; resident (the default) where unset, and
 * where the value is neither (then named on stderr once). */
bool classic_requested(void)
{
    static const char *const kernels[] = {"resident", "classic"};
    static const bool classic = facs_env_word("FACS_CUDA_FACS_KERNELS", kernels, 2) == 1;
    return classic;
}

/* FACS_CUDA_RESIDENT_IMAGES=G: G images per cluster (1 to kMaxImages) where
 * they fit, so that benchmarks can sweep the group size and tests reach
 * groups of several images; 0 when unset. A value that is not such a whole
 * number is named on stderr once and ignored. */
int requested_images(void)
{
    static const int images = [] {
        const char *text = getenv("FACS_CUDA_RESIDENT_IMAGES");
        if (!text)
            return 0;
        char *end;
        long value = strtol(text, &end, 10);
        if (end == text || *end || value < 1 || value > kMaxImages) {
            fprintf(stderr, "facs: FACS_CUDA_RESIDENT_IMAGES=%s is not a whole number from 1 to %d; ignored\n", text,
                    kMaxImages);
            return 0;
        }
        return (int)value;
    }();
    return images;
}

/* FACS_CUDA_FACS_VERBOSE=1: each new plan on stderr (once per shape). */
bool verbose_plans(void)
{
    static const bool verbose = [] {
        const char *text = getenv("FACS_CUDA_FACS_VERBOSE");
        return text && strcmp(text, "0") && *text;
    }();
    return verbose;
}

/* The most blocks per cluster that divide co: each image spread over as many
 * SMs as a cluster allows. */
int cluster_blocks(int co)
{
    for (int k = (int)kFacsClusterMaxBlocks; k > 1; k--)
        if (co % k == 0)
            return k;
    return 1;
}

/* f(std::integral_constant<int, R>()) with R the kernels' instantiation for
 * chunks of r channels: 4, 2 and 1 have their own, any other size R = 0. */
template <class F> auto for_chunk_size(int r, const F &f)
{
    switch (r) {
    case 4: return f(std::integral_constant<int, 4>());
    case 2: return f(std::integral_constant<int, 2>());
    case 1: return f(std::integral_constant<int, 1>());
    default: return f(std::integral_constant<int, 0>());
    }
}

/* Clusters of s's kernel the device runs at a time (0: none). */
int cluster_slots(const FacsResident &s, bool backward)
{
    return for_chunk_size(s.r, [&](auto chunk) {
        constexpr int R = decltype(chunk)::value;
        return backward ? facs_cuda_cluster_slots(resident_backward<R>, s.blocks, kThreads, shared_bytes(s))
                        : facs_cuda_cluster_slots(resident_forward<R>, s.blocks, kThreads, shared_bytes(s));
    });
}

/* Images per cluster that let `per_sm` blocks share an SM. */
int images_fitting(const FacsResident &s, const FacsClusterDevice &d, size_t per_sm)
{
    if (d.sm_shared / per_sm <= d.reserved)
        return 0;
    size_t bytes = d.sm_shared / per_sm - d.reserved;
    bytes = bytes < d.block_shared ? bytes : d.block_shared;
    size_t fit = bytes / (image_floats(s) * sizeof(float));
    return fit < (size_t)kMaxImages ? (int)fit : kMaxImages;
}

/* The most images a cluster takes: as many as fit one block per SM, unless
 * two blocks fit an SM with groups in which W (read once per cluster, from
 * L2) is at most a quarter of x: then as many as fit two, so that one
 * block's loads run while the other computes. With one block per SM, DRAM
 * waits during every step after the load. */
int group_limit(const FacsResident &s, const FacsClusterDevice &d)
{
    const int one = images_fitting(s, d, 1), two = images_fitting(s, d, 2);
    /* W is co x c floats, the group's x G x hw x c */
    if (two > 0 && 4 * (size_t)s.co <= (size_t)two * s.hw)
        return two;
    return one;
}

/* s in clusters of `blocks` blocks: its group size (images 0: no group fits
 * or the driver runs none of its clusters) and how many clusters run at once. */
FacsResident plan_with_blocks(FacsResident s, int blocks, bool backward, const FacsClusterDevice &device,
                              int requested, int *slots)
{
    s.blocks = blocks;
    const int fit = images_fitting(s, device, 1);
    s.images = requested > 0 ? (requested < fit ? requested : fit) : group_limit(s, device);
    *slots = s.images > 0 ? cluster_slots(s, backward) : 0;
    if (*slots == 0)
        s.images = 0;
    return s;
}

/* The plan of s's shape on the current device (images 0: none), with the
 * driver's word on whether its clusters can run. The cluster size is the
 * divisor of co up to 16 whose clusters keep the most blocks running at once
 * (clusters at a time x blocks), the larger on a tie: large clusters spread
 * an image over more SMs, but a cluster's blocks must all fit one GPC, and
 * where the GPCs have fewer free SMs than a cluster of 16 needs, smaller
 * clusters fill more of the GPU, or are the only ones that run. */
FacsResident plan_shape(FacsResident s, bool backward)
{
    const FacsClusterDevice device = facs_cuda_cluster_device();
    const int requested = min(requested_images(), s.n);
    s.blocks = cluster_blocks(s.co);
    s.images = 0;
    if (device.sms == 0)
        return s;
    int slots = 0;
    for (int blocks = s.blocks; blocks >= 1; blocks--) {
        if (s.co % blocks)
            continue;
        int blocks_slots;
        const FacsResident p = plan_with_blocks(s, blocks, backward, device, requested, &blocks_slots);
        if (p.images > 0 && (size_t)blocks_slots * blocks > (size_t)slots * s.blocks) {
            s = p;
            slots = blocks_slots;
        }
    }
    if (slots == 0 || requested > 0)
        return s;
    /* As few waves of `slots` clusters as the images need, each as full as
     * the others: the last wave of 64 images in clusters of 7 on 8 slots
     * would hold 1 image where clusters of 4 fill both waves. Fewer, fuller
     * clusters also read W fewer times. */
    const size_t per_wave = (size_t)slots * (size_t)s.images;
    const size_t waves = ((size_t)s.n + per_wave - 1) / per_wave;
    s.images = (int)(((size_t)s.n + (size_t)slots * waves - 1) / ((size_t)slots * waves));
    return s;
}

/* The plan in words (the verbose plans, facs_cuda_facs_kernels). */
void describe_plan(const FacsResident &s, bool backward, char *buf, size_t size)
{
    if (s.images > 0)
        snprintf(buf, size,
                 "resident kernels, clusters of %d blocks taking %d images, %zu bytes of shared memory a block, %d "
                 "clusters at a time",
                 s.blocks, s.images, shared_bytes(s), cluster_slots(s, backward));
    else if (s.blocks > 0)
        snprintf(buf, size, "classic kernels (no cluster of up to %d blocks both holds an image and runs on this "
                            "device)", s.blocks);
    else
        snprintf(buf, size, "classic kernels");
}

/* The plan on stderr, where FACS_CUDA_FACS_VERBOSE asks for it. */
void print_plan(const FacsResident &s, bool backward)
{
    char words[256];
    describe_plan(s, backward, words, sizeof words);
    fprintf(stderr, "facs: %s of %d images of %d pixels, %d -> %d channels: %s\n", backward ? "backward" : "forward",
            s.n, s.hw, s.c, s.co, words);
}

/* Plans by device and shape: planning asks the driver (occupancy, function
 * attributes), which a network's every FACS call should not wait for. */
struct CachedPlan {
    int device, backward;
    FacsResident plan;
};
constexpr int kCachedPlans = 128;
CachedPlan cached_plans[kCachedPlans];
int cached_count;
std::mutex cache_mutex;

} // namespace

bool facs_cuda_resident_plan(int n, int hw, int c, int co, const facs_fuse_params *p, bool backward,
                             FacsResident *plan)
{
    int device = 0;
    if (classic_requested() || n < 1 || hw < 1 || co < 1 || c % co || cudaGetDevice(&device) != cudaSuccess)
        return false;
    FacsResident s = {n, hw, c, co, c / co, 0, 0, p->fusion == FACS_FUSION_WEIGHTED, p->threshold};
    {
        std::lock_guard<std::mutex> lock(cache_mutex);
        for (int i = 0; i < cached_count; i++) {
            const CachedPlan &k = cached_plans[i];
            if (k.device == device && k.backward == (int)backward && k.plan.n == n && k.plan.hw == hw &&
                k.plan.c == c && k.plan.co == co) {
                s.blocks = k.plan.blocks, s.images = k.plan.images;
                *plan = s;
                return s.images > 0;
            }
        }
    }
    s = plan_shape(s, backward);
    if (verbose_plans())
        print_plan(s, backward);
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cached_count < kCachedPlans)
        cached_plans[cached_count++] = CachedPlan{device, (int)backward, s};
    *plan = s;
    return s.images > 0;
}

void facs_cuda_facs_kernels(int n, int hw, int c, int co, const facs_fuse_params *p, int backward, char *buf,
                            size_t size)
{
    FacsResident plan = {};
    if (classic_requested())
        snprintf(buf, size, "classic kernels (FACS_CUDA_FACS_KERNELS=classic)");
    else {
        (void)facs_cuda_resident_plan(n, hw, c, co, p, backward != 0, &plan);
        describe_plan(plan, backward != 0, buf, size);
    }
}

static unsigned grid_blocks(const FacsResident &s)
{
    return (unsigned)((s.n + s.images - 1) / s.images * s.blocks);
}

facs_status facs_cuda_resident_forward(const FacsResident &s, const float *x, const float *w, const float *b,
                                       float *z, float *prob, float *y)
{
    return for_chunk_size(s.r, [&](auto chunk) {
        return facs_cuda_launch_cluster("resident_forward", resident_forward<decltype(chunk)::value>, grid_blocks(s),
                                        (unsigned)s.blocks, kThreads, shared_bytes(s), s, x, w, b, z, prob, y);
    });
}

facs_status facs_cuda_resident_backward(const FacsResident &s, const float *x, const float *w, const float *prob,
                                        const float *dy, float *ds, float *dx)
{
    return for_chunk_size(s.r, [&](auto chunk) {
        return facs_cuda_launch_cluster("resident_backward", resident_backward<decltype(chunk)::value>,
                                        grid_blocks(s), (unsigned)s.blocks, kThreads, shared_bytes(s), s, x, w, prob,
                                        dy, ds, dx);
    });
}
