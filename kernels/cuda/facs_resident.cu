/* The FACS op (paper Eq. 1-3) with an image group resident in a cluster's
 * shared memory, so that DRAM sees x once per pass (docs/cuda.md, "FACS
 * bandwidth"). The per-element arithmetic is facs_fusion_math.h's, as in
 * facs.cu and on the CPU.
 *
 * A cluster of K blocks takes G consecutive images. Block r holds channels
 * [r L, r L + L) of them (L = C / K; K divides C / R, so L is a whole number
 * of chunks) and owns output channels [r O, r O + O), O = L / R:
 *   forward:  load its x; z of its channels; cluster barrier; p of its
 *             outputs, s = W z + b with z read from every block's shared
 *             memory; cluster barrier (no block returns while another still
 *             reads its z); y of its outputs from the resident x.
 *   backward: load its x; dL/dp of its outputs (dy read once), ds = dL/dp
 *             p (1 - p) to global memory for dW and db (facs.cu); cluster
 *             barrier; dz of its channels, W^T ds with ds read from every
 *             block; cluster barrier; dx of its chunks (dy again, now from L2).
 * Every sum runs in a fixed order (block_column_sums), so reruns give the
 * same bits; the order differs from the classic kernels', so the two paths
 * agree to rounding, not bitwise. */
#include <stdlib.h>
#include <string.h>

#include "../facs_fusion_math.h"
#include "cluster.cuh"
#include "facs_resident.cuh"

namespace {

constexpr unsigned kThreads = 256;

/* The shared memory of a block, in floats: x [G][HW][L], then per image
 * z or dz [L], p [O] and ds [O], then the reduction scratch [kThreads]. */
struct Layout {
    float *x, *z, *p, *ds, *scratch;
};

__host__ __device__ inline size_t image_floats(const FacsResident &s)
{
    size_t l = (size_t)(s.c / s.blocks), o = (size_t)(s.co / s.blocks);
    return (size_t)s.hw * l + l + 2 * o;
}

__host__ __device__ inline size_t shared_bytes(const FacsResident &s)
{
    return ((size_t)s.images * image_floats(s) + kThreads) * sizeof(float);
}

__device__ inline Layout layout_of(float *smem, const FacsResident &s)
{
    size_t g = (size_t)s.images, l = (size_t)(s.c / s.blocks), o = (size_t)(s.co / s.blocks);
    Layout m;
    m.x = smem;
    m.z = m.x + g * s.hw * l;
    m.p = m.z + g * l;
    m.ds = m.p + g * o;
    m.scratch = m.ds + g * o;
    return m;
}

/* store(col, sum of value(row, col) over rows) for every col < cols. Thread t
 * adds rows t / cols, t / cols + phases, ... of column t % cols; then one
 * thread per column adds the phases in order: a fixed order, bank-conflict
 * free where value reads row-major shared memory. Every thread of the block
 * calls it; it ends with a barrier. */
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

/* The block's channels of the group's images into shared memory: rows of L
 * floats, read as float4 where rows and x allow. */
__device__ void load_channels(const float *__restrict__ x, const FacsResident &s, unsigned rank, int n0, int images,
                              float *xs)
{
    const int l = s.c / s.blocks;
    const size_t rows = (size_t)images * s.hw, first = (size_t)n0 * s.hw;
    const float *src = x + (size_t)rank * l;
    if (l % 4 == 0 && s.c % 4 == 0 && (uintptr_t)x % 16 == 0) {
        const size_t quads = rows * (l / 4);
        for (size_t e = threadIdx.x; e < quads; e += blockDim.x) {
            size_t row = e / (l / 4), q = e % (l / 4);
            *(float4 *)(xs + row * l + 4 * q) = *(const float4 *)(src + (first + row) * s.c + 4 * q);
        }
    } else {
        for (size_t e = threadIdx.x; e < rows * l; e += blockDim.x) {
            size_t row = e / l, k = e % l;
            xs[e] = src[(first + row) * s.c + k];
        }
    }
}

__global__ void __launch_bounds__(kThreads)
    resident_forward(FacsResident s, const float *__restrict__ x, const float *__restrict__ w,
                     const float *__restrict__ b, float *__restrict__ z, float *__restrict__ prob,
                     float *__restrict__ y)
{
    extern __shared__ float smem[];
    const Layout m = layout_of(smem, s);
    const unsigned rank = facs_cluster_rank();
    const int l = s.c / s.blocks, o = s.co / s.blocks, r = s.r, hw = s.hw, c = s.c;
    const int n0 = (int)(blockIdx.x / s.blocks) * s.images, images = min(s.images, s.n - n0);
    load_channels(x, s, rank, n0, images, m.x);
    __syncthreads();

    for (int g = 0; g < images; g++) {
        const float *xg = m.x + (size_t)g * hw * l;
        float *zg = m.z + (size_t)g * l, *z_out = z + (size_t)(n0 + g) * c + rank * l;
        block_column_sums([=](int pix, int k) { return xg[(size_t)pix * l + k]; }, hw, l, m.scratch,
                          [=](int k, float sum) { zg[k] = z_out[k] = sum / (float)hw; });
    }
    facs_cluster_sync();

    /* column g O + i: s = w[rank O + i, :] . z[g, :], over every block's z */
    block_column_sums(
        [=](int k, int col) {
            const float *zk = facs_cluster_map(m.z, (unsigned)(k / l));
            return w[(size_t)(rank * o + col % o) * c + k] * zk[(col / o) * l + k % l];
        },
        c, images * o, m.scratch,
        [=](int col, float sum) {
            int i = (int)rank * o + col % o;
            float p = facs_sigmoid_value(sum + (b ? b[i] : 0.0f));
            m.p[col] = p;
            prob[(size_t)(n0 + col / o) * s.co + i] = p;
        });
    facs_cluster_sync();

    const size_t outputs = (size_t)images * hw * o;
    for (size_t e = threadIdx.x; e < outputs; e += blockDim.x) {
        size_t row = e / o;
        int i = (int)(e % o), g = (int)(row / hw);
        const float *chunk = m.x + row * l + (size_t)i * r;
        y[((size_t)n0 * hw + row) * s.co + rank * o + i] = facs_fusion_value(
            s.weighted, s.threshold, m.p[g * o + i], facs_chunk_max(chunk, r), facs_chunk_mean(chunk, r));
    }
}

__global__ void __launch_bounds__(kThreads)
    resident_backward(FacsResident s, const float *__restrict__ x, const float *__restrict__ w,
                      const float *__restrict__ prob, const float *__restrict__ dy, float *__restrict__ ds,
                      float *__restrict__ dx)
{
    extern __shared__ float smem[];
    const Layout m = layout_of(smem, s);
    const unsigned rank = facs_cluster_rank();
    const int l = s.c / s.blocks, o = s.co / s.blocks, r = s.r, hw = s.hw, c = s.c, co = s.co;
    const int n0 = (int)(blockIdx.x / s.blocks) * s.images, images = min(s.images, s.n - n0);
    load_channels(x, s, rank, n0, images, m.x);
    for (int e = (int)threadIdx.x; e < images * o; e += (int)blockDim.x)
        m.p[e] = prob[(size_t)(n0 + e / o) * co + rank * o + e % o];
    __syncthreads();

    for (int g = 0; g < images; g++) {
        const float *xg = m.x + (size_t)g * hw * l, *pg = m.p + (size_t)g * o;
        const float *dyg = dy + (size_t)(n0 + g) * hw * co + rank * o;
        float *dsg = m.ds + (size_t)g * o, *ds_out = ds + (size_t)(n0 + g) * co + rank * o;
        block_column_sums(
            [=](int pix, int i) {
                const float *chunk = xg + (size_t)pix * l + (size_t)i * r;
                return dyg[(size_t)pix * co + i] * facs_fusion_dprob(s.weighted, s.threshold, pg[i],
                                                                     facs_chunk_max(chunk, r),
                                                                     facs_chunk_mean(chunk, r));
            },
            hw, o, m.scratch, [=](int i, float sum) { dsg[i] = ds_out[i] = sum * pg[i] * (1.0f - pg[i]); });
    }
    if (!dx)
        return;
    facs_cluster_sync();

    /* column g L + k: dz = w[:, rank L + k] . ds[g, :] over every block's ds */
    block_column_sums(
        [=](int i, int col) {
            const float *dsi = facs_cluster_map(m.ds, (unsigned)(i / o));
            return w[(size_t)i * c + rank * l + col % l] * dsi[(col / l) * o + i % o];
        },
        co, images * l, m.scratch, [=](int col, float sum) { m.z[col] = sum / (float)hw; });
    facs_cluster_sync();

    const size_t chunks = (size_t)images * hw * o;
    for (size_t e = threadIdx.x; e < chunks; e += blockDim.x) {
        size_t row = e / o;
        int i = (int)(e % o), g = (int)(row / hw);
        const float *chunk = m.x + row * l + (size_t)i * r;
        float cmax, cavg;
        facs_fusion_coeffs(s.weighted, s.threshold, m.p[g * o + i], &cmax, &cavg);
        float grad = dy[((size_t)n0 * hw + row) * co + rank * o + i];
        float g_avg = grad * cavg / (float)r;
        int best = facs_chunk_argmax(chunk, r);
        const float *dz = m.z + (size_t)g * l + (size_t)i * r;
        float *out = dx + ((size_t)n0 * hw + row) * c + rank * l + (size_t)i * r;
        for (int k = 0; k < r; k++)
            out[k] = dz[k] + g_avg + (k == best ? grad * cmax : 0.0f);
    }
}

bool classic_requested(void)
{
    const char *kernels = getenv("FACS_CUDA_FACS_KERNELS");
    return kernels && !strcmp(kernels, "classic");
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

} // namespace

bool facs_cuda_resident_plan(int n, int hw, int c, int co, const facs_fuse_params *p, bool backward,
                             FacsResident *plan)
{
    if (classic_requested() || n < 1 || hw < 1 || co < 1 || c % co)
        return false;
    size_t optin;
    int sms;
    facs_cuda_cluster_device(&optin, &sms);
    FacsResident s = {n, hw, c, co, c / co, cluster_blocks(co), 1, p->fusion == FACS_FUSION_WEIGHTED, p->threshold};
    if (optin < kThreads * sizeof(float))
        return false;
    size_t fit = (optin / sizeof(float) - kThreads) / image_floats(s);
    if (fit == 0)
        return false;
    /* As many images per cluster as fill the SMs once: fewer clusters read W
     * fewer times. */
    int slots = sms / s.blocks > 0 ? sms / s.blocks : 1;
    size_t wanted = ((size_t)n + slots - 1) / slots;
    s.images = (int)(wanted < fit ? wanted : fit);
    size_t bytes = shared_bytes(s);
    bool fits = backward ? facs_cuda_cluster_fits(resident_backward, s.blocks, kThreads, bytes)
                         : facs_cuda_cluster_fits(resident_forward, s.blocks, kThreads, bytes);
    if (!fits)
        return false;
    *plan = s;
    return true;
}

static unsigned grid_blocks(const FacsResident &s)
{
    return (unsigned)((s.n + s.images - 1) / s.images * s.blocks);
}

facs_status facs_cuda_resident_forward(const FacsResident &s, const float *x, const float *w, const float *b,
                                       float *z, float *prob, float *y)
{
    return facs_cuda_launch_cluster("resident_forward", resident_forward, grid_blocks(s), (unsigned)s.blocks,
                                    kThreads, shared_bytes(s), s, x, w, b, z, prob, y);
}

facs_status facs_cuda_resident_backward(const FacsResident &s, const float *x, const float *w, const float *prob,
                                        const float *dy, float *ds, float *dx)
{
    return facs_cuda_launch_cluster("resident_backward", resident_backward, grid_blocks(s), (unsigned)s.blocks,
                                    kThreads, shared_bytes(s), s, x, w, prob, dy, ds, dx);
}
