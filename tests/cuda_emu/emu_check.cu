/* facs-cuda-emu-check: the CPU emulation of the CUDA runtime (cuda_emu.h)
 * checked against CUDA's own definitions, so that a kernel test passing on
 * the emulation means what it says: thread and block indices, the block
 * barrier, shared memory that no block inherits from the previous one, every
 * shuffle at every width against a reference written from the CUDA
 * programming guide, votes and warp reductions, dynamic shared memory, launch
 * configuration errors, device memory, cp.async copies held back until the
 * wait that covers their group, thread-block clusters (ranks, distributed
 * shared memory, a returned block's memory poisoned). Then the faults the emulation must stop
 * on (each run in a child process): a barrier some threads skip, barriers on
 * different lines, a host pointer given to a kernel, writes past an
 * allocation, bad copies, lanes that disagree on a shuffle's mask.
 *
 * Usage: facs-cuda-emu-check   (prints failures and "N checks failed"; exit 1 on any) */
#include <cuda_runtime.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

int checks, failures;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        checks++;                                                \
        if (!(cond)) {                                           \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
            printf(__VA_ARGS__);                                 \
            printf("\n");                                        \
            failures++;                                          \
        }                                                        \
    } while (0)

#define CUDA_OK(call) CHECK((call) == cudaSuccess, "%s failed", #call)

constexpr unsigned kFull = 0xffffffffu;

template <class T> T *device(size_t count)
{
    void *p = nullptr;
    if (cudaMalloc(&p, count * sizeof(T)) != cudaSuccess) {
        printf("cudaMalloc of %zu bytes failed\n", count * sizeof(T));
        exit(1);
    }
    return static_cast<T *>(p);
}

template <class T> std::vector<T> to_host(const T *dev, size_t count)
{
    std::vector<T> host(count);
    CUDA_OK(cudaMemcpy(host.data(), dev, count * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
}

/* ---- indexing ----------------------------------------------------------- */

__global__ void write_ids(unsigned *count, unsigned *where)
{
    unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    unsigned t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    unsigned idx = block * (blockDim.x * blockDim.y * blockDim.z) + t;
    count[idx] += 1;
    where[idx] = threadIdx.x | threadIdx.y << 8 | threadIdx.z << 16 | blockIdx.x << 24 | blockIdx.y << 27 |
                 blockIdx.z << 30;
}

void check_indexing(void)
{
    const dim3 grid(3, 2, 2), block(5, 3, 2);
    const unsigned total = 3 * 2 * 2 * 5 * 3 * 2;
    unsigned *count = device<unsigned>(total), *where = device<unsigned>(total);
    CUDA_OK(cudaMemset(count, 0, total * sizeof(unsigned)));
    write_ids<<<grid, block>>>(count, where);
    CUDA_OK(cudaGetLastError());
    std::vector<unsigned> c = to_host(count, total), w = to_host(where, total);
    int bad = 0;
    for (unsigned i = 0; i < total; i++) {
        unsigned t = i % 30, b = i / 30;
        unsigned want = t % 5 | (t / 5 % 3) << 8 | (t / 15) << 16 | (b % 3) << 24 | (b / 3 % 2) << 27 | (b / 6) << 30;
        bad += c[i] != 1 || w[i] != want;
    }
    CHECK(bad == 0, "3-D grid and block: %d of %u threads ran not exactly once or saw wrong indices", bad, total);
    CUDA_OK(cudaFree(count));
    CUDA_OK(cudaFree(where));
}

/* ---- the block barrier and shared memory -------------------------------- */

/* Tree sum of blockDim.x values (a power of 2) per block; with_barrier false
 * leaves out the barrier between the stores and the first reads. */
__global__ void block_sum(const float *x, bool with_barrier, float *out)
{
    __shared__ float s[1024];
    unsigned t = threadIdx.x;
    s[t] = x[blockIdx.x * blockDim.x + t];
    if (with_barrier)
        __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (t < stride)
            s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = s[0];
}

void check_block_sum(void)
{
    const unsigned threads = 1024, blocks = 3;
    std::vector<float> x(threads * blocks);
    for (size_t i = 0; i < x.size(); i++)
        x[i] = (float)(i % 7);
    float *dx = device<float>(x.size()), *dout = device<float>(blocks);
    CUDA_OK(cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
    block_sum<<<blocks, threads>>>(dx, true, dout);
    std::vector<float> out = to_host(dout, blocks);
    for (unsigned b = 0; b < blocks; b++) {
        double want = 0;
        for (unsigned i = 0; i < threads; i++)
            want += x[b * threads + i];
        CHECK(out[b] == (float)want, "block sum %u: %g, want %g", b, out[b], want);
    }
    /* In the emulation's thread order thread 0 reads s[512] before thread 512
     * stored it: the missing barrier shows as a NaN. */
    const char *order = getenv("FACS_CUDA_EMU_ORDER");
    if (!order || strcmp(order, "reverse")) {
        block_sum<<<blocks, threads>>>(dx, false, dout);
        out = to_host(dout, blocks);
        CHECK(isnan(out[0]) && isnan(out[2]), "a missing __syncthreads went unnoticed (sums %g, %g)", out[0], out[2]);
    }
    CUDA_OK(cudaFree(dx));
    CUDA_OK(cudaFree(dout));
}

/* Each block reads its shared word before writing it: it must never see the
 * previous block's value. A template, whose statics the compiler places
 * apart from other functions'. */
template <class T> __global__ void shared_fresh(T *out)
{
    __shared__ T s;
    if (threadIdx.x == 0)
        out[blockIdx.x] = s;
    __syncthreads();
    if (threadIdx.x == 1)
        s = (T)12345;
}

/* Shared memory of a device function keeps its values for the whole block,
 * however often the function is called. */
__device__ float *block_scratch(void)
{
    __shared__ float buf[64];
    return buf;
}

__global__ void shared_persists(float *out)
{
    block_scratch()[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[blockIdx.x * 64 + threadIdx.x] = block_scratch()[63 - threadIdx.x];
}

__global__ void barrier_votes(int *out)
{
    unsigned t = threadIdx.x;
    out[t * 3 + 0] = __syncthreads_count(t % 3 == 0);
    out[t * 3 + 1] = __syncthreads_and(t < blockDim.x);
    out[t * 3 + 2] = __syncthreads_or(t == 77);
}

void check_shared(void)
{
    unsigned *d = device<unsigned>(4);
    shared_fresh<unsigned><<<4, 64>>>(d);
    std::vector<unsigned> v = to_host(d, 4);
    CHECK(v[0] == kFull && v[1] == kFull && v[2] == kFull && v[3] == kFull,
          "shared memory not poisoned at block start: %08x %08x %08x %08x", v[0], v[1], v[2], v[3]);
    CUDA_OK(cudaFree(d));

    float *p = device<float>(3 * 64);
    shared_persists<<<3, 64>>>(p);
    std::vector<float> h = to_host(p, 3 * 64);
    int wrong = 0;
    for (int i = 0; i < 3 * 64; i++)
        wrong += h[i] != (float)(63 - i % 64);
    CHECK(wrong == 0, "shared memory of a device function lost its values within a block (%d wrong)", wrong);
    CUDA_OK(cudaFree(p));

    int *votes = device<int>(100 * 3);
    barrier_votes<<<1, 100>>>(votes);
    std::vector<int> hv = to_host(votes, 300);
    int bad = 0;
    for (int t = 0; t < 100; t++)
        bad += hv[t * 3] != 34 || hv[t * 3 + 1] != 1 || hv[t * 3 + 2] != 1;
    CHECK(bad == 0, "__syncthreads_count/and/or wrong in %d threads", bad);
    CUDA_OK(cudaFree(votes));
}

__global__ void dynamic_reverse(float *out)
{
    extern __shared__ float dyn[];
    unsigned t = threadIdx.x;
    dyn[t] = (float)t;
    __syncthreads();
    out[t] = dyn[blockDim.x - 1 - t];
    if (t == 0)
        out[blockDim.x] = dyn[blockDim.x]; /* never written: poison */
}

void check_dynamic_shared(void)
{
    const unsigned n = 96;
    float *d = device<float>(n + 1);
    dynamic_reverse<<<2, n, (n + 1) * sizeof(float)>>>(d);
    CUDA_OK(cudaGetLastError());
    std::vector<float> h = to_host(d, n + 1);
    int bad = 0;
    for (unsigned t = 0; t < n; t++)
        bad += h[t] != (float)(n - 1 - t);
    CHECK(bad == 0 && isnan(h[n]), "dynamic shared memory: %d wrong, unwritten word %g", bad, h[n]);
    CUDA_OK(cudaFree(d));
}

/* ---- warp collectives --------------------------------------------------- */

enum { SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_XOR };

__global__ void shuffles(int op, int param, int width, int *out_i, double *out_d)
{
    int v = (int)threadIdx.x * 10 + 1;
    double dv = v + 0.25;
    int r = 0;
    double rd = 0;
    switch (op) {
    case SHFL_IDX:
        r = __shfl_sync(kFull, v, param, width), rd = __shfl_sync(kFull, dv, param, width);
        break;
    case SHFL_UP:
        r = __shfl_up_sync(kFull, v, param, width), rd = __shfl_up_sync(kFull, dv, param, width);
        break;
    case SHFL_DOWN:
        r = __shfl_down_sync(kFull, v, param, width), rd = __shfl_down_sync(kFull, dv, param, width);
        break;
    default:
        r = __shfl_xor_sync(kFull, v, param, width), rd = __shfl_xor_sync(kFull, dv, param, width);
    }
    out_i[threadIdx.x] = r;
    out_d[threadIdx.x] = rd;
}

/* The lane whose value lane reads, from the programming guide's words: the
 * warp is cut into groups of width lanes; idx reads lane srcLane % width of
 * its own group; up and down read delta lanes lower or higher and keep their
 * own value when that leaves the group; xor reads lane ^ laneMask and keeps
 * its own value when that lies in a later group. */
int reference_source(int op, int lane, int param, int width)
{
    int group = lane / width, first = group * width;
    switch (op) {
    case SHFL_IDX: return first + param % width;
    case SHFL_UP: return lane - param >= first ? lane - param : lane;
    case SHFL_DOWN: return lane + param < first + width ? lane + param : lane;
    default: return (lane ^ param) / width > group ? lane : (lane ^ param);
    }
}

void check_shuffles(void)
{
    const int threads = 64;
    int *di = device<int>(threads);
    double *dd = device<double>(threads);
    const char *names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync"};
    const int params[] = {0, 1, 3, 5, 16, 31};
    int bad_cases = 0;
    for (int op = 0; op < 4; op++)
        for (int width = 1; width <= 32; width *= 2)
            for (int param : params) {
                shuffles<<<1, threads>>>(op, param, width, di, dd);
                std::vector<int> ri = to_host(di, threads);
                std::vector<double> rd = to_host(dd, threads);
                for (int t = 0; t < threads; t++) {
                    int src = (t / 32) * 32 + reference_source(op, t % 32, param, width);
                    if (ri[t] != src * 10 + 1 || rd[t] != src * 10 + 1.25) {
                        printf("  %s(param %d, width %d): thread %d got %d, want %d\n", names[op], param, width, t,
                               ri[t], src * 10 + 1);
                        bad_cases++;
                        break;
                    }
                }
            }
    CHECK(bad_cases == 0, "%d shuffle configurations differ from CUDA's definition", bad_cases);
    CUDA_OK(cudaFree(di));
    CUDA_OK(cudaFree(dd));
}

__global__ void votes(unsigned *out)
{
    unsigned lane = threadIdx.x % 32;
    unsigned *o = out + threadIdx.x * 6;
    o[0] = __ballot_sync(kFull, lane % 3 == 0);
    o[1] = (unsigned)__any_sync(kFull, lane == 5);
    o[2] = (unsigned)__all_sync(kFull, lane < 31);
    o[3] = __reduce_add_sync(kFull, lane);
    o[4] = (unsigned)__reduce_min_sync(kFull, (int)lane - 3);
    /* Two half-warps, each synchronising only its own 16 lanes. */
    unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
    o[5] = (unsigned)__shfl_sync(half, (int)lane, 15, 16);
}

/* A partial warp: threads 32..39 exist, lanes 8..31 of warp 1 do not. */
__global__ void partial_warp(int *out)
{
    out[threadIdx.x] = __shfl_down_sync(kFull, (int)threadIdx.x, 16);
}

void check_votes(void)
{
    unsigned *d = device<unsigned>(64 * 6);
    votes<<<1, 64>>>(d);
    std::vector<unsigned> h = to_host(d, 64 * 6);
    unsigned ballot = 0;
    for (unsigned l = 0; l < 32; l += 3)
        ballot |= 1u << l;
    int bad = 0;
    for (unsigned t = 0; t < 64; t++) {
        const unsigned *o = &h[t * 6];
        unsigned lane = t % 32;
        bad += o[0] != ballot || o[1] != 1 || o[2] != 0 || o[3] != 496 || (int)o[4] != -3 ||
               o[5] != (lane < 16 ? 15u : 31u);
    }
    CHECK(bad == 0, "votes and warp reductions wrong in %d threads", bad);
    CUDA_OK(cudaFree(d));

    int *p = device<int>(40);
    partial_warp<<<1, 40>>>(p);
    std::vector<int> r = to_host(p, 40);
    bad = 0;
    for (int t = 0; t < 40; t++) {
        int want = t < 16 ? t + 16 : t < 32 ? t : -1; /* -1: all-ones bits from a lane that does not exist */
        bad += r[t] != want;
    }
    CHECK(bad == 0, "shuffles in a partial warp wrong in %d threads", bad);
    CUDA_OK(cudaFree(p));
}

/* ---- launches and memory ------------------------------------------------ */

__global__ void grid_stride_add(const float *x, size_t n, float *y)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

void check_launches_and_memory(void)
{
    const size_t n = 10007;
    float *x = device<float>(n), *y = device<float>(n);
    std::vector<float> fresh = to_host(x, n);
    unsigned bits;
    memcpy(&bits, &fresh[n - 1], sizeof bits);
    CHECK(bits == kFull, "fresh device memory is not poisoned (last word %08x)", bits);
    std::vector<float> hx(n), hy(n);
    for (size_t i = 0; i < n; i++)
        hx[i] = (float)i, hy[i] = 0.5f;
    CUDA_OK(cudaMemcpy(x, hx.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(y, hy.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    grid_stride_add<<<7, 128>>>(x, n, y);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<float> out = to_host(y, n);
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += out[i] != (float)i + 0.5f;
    CHECK(bad == 0, "grid-stride loop: %d wrong elements", bad);

    grid_stride_add<<<1, 2048>>>(x, n, y);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "a 2048-thread block was not refused");
    grid_stride_add<<<dim3(1, 70000), 32>>>(x, n, y);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "grid.y 70000 was not refused");
    CHECK(cudaGetLastError() == cudaSuccess, "a launch error stayed after cudaGetLastError");

    void *huge = nullptr;
    CHECK(cudaMalloc(&huge, (size_t)1 << 62) == cudaErrorMemoryAllocation && huge == nullptr,
          "a 4 EiB cudaMalloc did not fail");
    CHECK(cudaGetLastError() == cudaErrorMemoryAllocation, "a failed cudaMalloc left no last error");
    CHECK(cudaFree(hx.data()) == cudaErrorInvalidValue, "cudaFree of a host pointer succeeded");
    (void)cudaGetLastError();
    int count = 0;
    CUDA_OK(cudaGetDeviceCount(&count));
    CHECK(count == 1, "cudaGetDeviceCount says %d", count);
    CUDA_OK(cudaFree(x));
    CUDA_OK(cudaFree(y));
}

/* ---- asynchronous copies (cp.async) ------------------------------------- */

/* Each thread copies one float4 into shared memory; what it reads before the
 * wait is the poison, after it the copy. */
__global__ void async_copy(const float4 *src, float *before, float *after)
{
    extern __shared__ float4 staged[];
    __pipeline_memcpy_async(&staged[threadIdx.x], &src[threadIdx.x], sizeof(float4));
    __pipeline_commit();
    before[threadIdx.x] = staged[threadIdx.x].x;
    __pipeline_wait_prior(0);
    after[threadIdx.x] = staged[threadIdx.x].w;
}

void check_async_shared_copies(void)
{
    const unsigned threads = 32;
    float4 *src = device<float4>(threads);
    std::vector<float4> host(threads);
    for (unsigned t = 0; t < threads; t++)
        host[t] = make_float4(1.0f, 2.0f, 3.0f, (float)t);
    CUDA_OK(cudaMemcpy(src, host.data(), threads * sizeof(float4), cudaMemcpyHostToDevice));
    float *before = device<float>(threads), *after = device<float>(threads);
    async_copy<<<1, threads, threads * sizeof(float4)>>>(src, before, after);
    CUDA_OK(cudaGetLastError());
    std::vector<float> b = to_host(before, threads), a = to_host(after, threads);
    int bad = 0;
    for (unsigned t = 0; t < threads; t++)
        bad += !isnan(b[t]) || a[t] != (float)t;
    CHECK(bad == 0, "cp.async copies: %d threads saw the copy before the wait or not after it", bad);
    CUDA_OK(cudaFree(src));
    CUDA_OK(cudaFree(before));
    CUDA_OK(cudaFree(after));
}

/* Two committed groups and one copy never committed: wait_prior(1) completes
 * the first group only, wait_prior(0) the second, and neither the third. */
__global__ void async_copy_groups(const float *src, float *seen)
{
    extern __shared__ float slots[];
    float *mine = slots + 3 * threadIdx.x;
    for (int k = 0; k < 3; k++) {
        __pipeline_memcpy_async(&mine[k], &src[k], sizeof(float));
        if (k < 2)
            __pipeline_commit();
    }
    float *out = seen + 6 * threadIdx.x;
    __pipeline_wait_prior(1);
    out[0] = mine[0], out[1] = mine[1];
    __pipeline_wait_prior(0);
    out[2] = mine[0], out[3] = mine[1], out[4] = mine[2];
    __pipeline_commit();
    __pipeline_wait_prior(0);
    out[5] = mine[2];
}

void check_async_copy_groups(void)
{
    const unsigned threads = 8;
    float *src = device<float>(3), *seen = device<float>(6 * threads);
    const float values[3] = {1.0f, 2.0f, 3.0f};
    CUDA_OK(cudaMemcpy(src, values, sizeof values, cudaMemcpyHostToDevice));
    async_copy_groups<<<1, threads, 3 * threads * sizeof(float)>>>(src, seen);
    CUDA_OK(cudaGetLastError());
    std::vector<float> s = to_host(seen, 6 * threads);
    int bad = 0;
    for (unsigned t = 0; t < threads; t++) {
        const float *o = &s[6 * t];
        bad += o[0] != 1.0f || !isnan(o[1]) || o[2] != 1.0f || o[3] != 2.0f || !isnan(o[4]) || o[5] != 3.0f;
    }
    CHECK(bad == 0, "cp.async groups: %d threads saw a group before its wait, or an uncommitted copy", bad);
    CUDA_OK(cudaFree(src));
    CUDA_OK(cudaFree(seen));
}

/* ---- thread-block clusters ---------------------------------------------- */

/* Each block fills its dynamic shared memory, then reads its right
 * neighbour's in the cluster; the second barrier keeps the neighbour's
 * memory alive until every block has read it. */
__global__ void cluster_ring(unsigned cluster, unsigned *out)
{
    extern __shared__ unsigned mine[];
    unsigned rank = facs_emu_cluster_rank();
    mine[threadIdx.x] = blockIdx.x * 1000 + threadIdx.x;
    facs_emu_cluster_sync(__FILE__, __LINE__);
    const unsigned *next = (const unsigned *)facs_emu_cluster_map(mine, (rank + 1) % cluster);
    out[blockIdx.x * blockDim.x + threadIdx.x] = next[threadIdx.x] + (rank == blockIdx.x % cluster ? 0 : 1u << 31);
    facs_emu_cluster_sync(__FILE__, __LINE__);
}

/* Block 1 reads block 0's shared memory with no barrier keeping block 0 from
 * returning first. */
__global__ void cluster_read_after_exit(float *out)
{
    extern __shared__ float value[];
    value[threadIdx.x] = 1.0f;
    facs_emu_cluster_sync(__FILE__, __LINE__);
    if (facs_emu_cluster_rank() == 1)
        out[threadIdx.x] = ((const float *)facs_emu_cluster_map(value, 0))[threadIdx.x];
}

void check_clusters(void)
{
    const unsigned blocks = 8, cluster = 4, threads = 64;
    unsigned *out = device<unsigned>(blocks * threads);
    facs_emu_launch_cluster("cluster_ring", __FILE__, __LINE__, dim3(blocks), dim3(threads),
                            threads * sizeof(unsigned), cluster, cluster_ring, cluster, out);
    CUDA_OK(cudaGetLastError());
    std::vector<unsigned> got = to_host(out, blocks * threads);
    int bad = 0;
    for (unsigned b = 0; b < blocks; b++)
        for (unsigned t = 0; t < threads; t++)
            bad += got[b * threads + t] != (b / cluster * cluster + (b % cluster + 1) % cluster) * 1000 + t;
    CHECK(bad == 0, "cluster ranks or distributed shared memory wrong in %d threads", bad);
    facs_emu_launch_cluster("cluster_ring", __FILE__, __LINE__, dim3(6), dim3(threads), 64, cluster, cluster_ring,
                            cluster, out);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "a grid of 6 blocks in clusters of 4 was not refused");
    facs_emu_launch_cluster("cluster_ring", __FILE__, __LINE__, dim3(32), dim3(threads), 64, 32u, cluster_ring, 32u,
                            out);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "a cluster of 32 blocks was not refused");
    facs_emu_launch_cluster("cluster_ring", __FILE__, __LINE__, dim3(blocks), dim3(threads), 228 * 1024, cluster,
                            cluster_ring, cluster, out);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue, "228 KiB of shared memory per block was not refused");
    CUDA_OK(cudaFree(out));

    float *value = device<float>(threads);
    facs_emu_launch_cluster("cluster_read_after_exit", __FILE__, __LINE__, dim3(2), dim3(threads),
                            threads * sizeof(float), 2u, cluster_read_after_exit, value);
    std::vector<float> read = to_host(value, threads);
    const char *order = getenv("FACS_CUDA_EMU_ORDER");
    bool reverse = order && !strcmp(order, "reverse"); /* there block 1 runs first and reads in time */
    CHECK(reverse || isnan(read[0]), "a block read a returned block's shared memory and got %g, not NaN", read[0]);
    CUDA_OK(cudaFree(value));
}

/* ---- faults: each runs in a child, which must abort with the message ---- */

__global__ void early_return(float *out)
{
    if (threadIdx.x == 3)
        return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

__global__ void two_barriers(float *out)
{
    if (threadIdx.x < 16) {
        out[threadIdx.x] = 1.0f;
        __syncthreads();
    } else {
        __syncthreads();
        out[threadIdx.x] = 2.0f;
    }
}

__global__ void fill(float *out, size_t n)
{
    for (size_t i = threadIdx.x; i < n; i += blockDim.x)
        out[i] = 1.0f;
}

__global__ void mismatched_masks(int *out)
{
    unsigned lane = threadIdx.x % 32;
    out[lane] = __shfl_sync(lane == 0 ? 0x3u : kFull, (int)lane, 0);
}

__global__ void divergent_shuffle(int *out)
{
    int v = (int)threadIdx.x;
    if (threadIdx.x < 16)
        v = __shfl_down_sync(kFull, v, 1);
    out[threadIdx.x] = v;
}

void fault_early_return(void) { early_return<<<1, 64>>>(device<float>(64)); }
void fault_two_barriers(void) { two_barriers<<<1, 64>>>(device<float>(64)); }
void fault_host_pointer(void)
{
    static float host[64];
    fill<<<1, 32>>>(host, 64);
}
void fault_kernel_overrun(void) { fill<<<1, 32>>>(device<float>(63), 64); }
void fault_copy_overrun(void)
{
    static float host[65];
    (void)cudaMemcpy(device<float>(64), host, sizeof host, cudaMemcpyHostToDevice);
}
void fault_copy_direction(void)
{
    static float host[64];
    (void)cudaMemcpy(device<float>(64), host, sizeof host, cudaMemcpyDeviceToHost);
}
void fault_copy_overlap(void)
{
    float *d = device<float>(64);
    (void)cudaMemcpy(d + 1, d, 16 * sizeof(float), cudaMemcpyDeviceToDevice);
}
void fault_mismatched_masks(void) { mismatched_masks<<<1, 32>>>(device<int>(32)); }
void fault_divergent_shuffle(void) { divergent_shuffle<<<1, 32>>>(device<int>(32)); }
void fault_host_barrier(void) { __syncthreads(); }

/* A page-locked buffer with an asynchronous upload from it queued. */
unsigned char *queued_upload(void)
{
    void *host = nullptr;
    if (cudaHostAlloc(&host, 256, cudaHostAllocDefault) != cudaSuccess)
        abort();
    (void)cudaMemcpyAsync(device<unsigned char>(256), host, 256, cudaMemcpyHostToDevice, 0);
    return (unsigned char *)host;
}
void fault_async_source_changed(void)
{
    queued_upload()[7] ^= 1;
    (void)cudaDeviceSynchronize();
}
void fault_async_source_freed(void) { (void)cudaFreeHost(queued_upload()); }

/* What the contract allows: the source changes and is freed after a
 * synchronising call; cudaFreeHost refuses what cudaHostAlloc did not give. */
void check_async_copies(void)
{
    unsigned char *host = queued_upload();
    CHECK((uintptr_t)host % 4096 == 0, "cudaHostAlloc gave %p, not a page", (void *)host);
    float *dev = device<float>(1), value = 0.0f;
    CHECK(cudaMemcpy(&value, dev, sizeof value, cudaMemcpyDeviceToHost) == cudaSuccess, "a cudaMemcpy to the host");
    host[7] ^= 1;
    (void)cudaMemcpyAsync(device<unsigned char>(256), host, 256, cudaMemcpyHostToDevice, 0);
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "cudaDeviceSynchronize after an asynchronous upload");
    host[7] ^= 1;
    CHECK(cudaFreeHost(host) == cudaSuccess, "cudaFreeHost after a synchronisation");
    static unsigned char pageable[16];
    CHECK(cudaFreeHost(pageable) == cudaErrorInvalidValue && cudaGetLastError() == cudaErrorInvalidValue,
          "cudaFreeHost of memory cudaHostAlloc did not give");
}

__global__ void cluster_static_shared(float *out)
{
    __shared__ float one[32];
    one[threadIdx.x] = 1.0f;
    out[threadIdx.x] = one[threadIdx.x];
}

void fault_cluster_static_shared(void)
{
    float *out = device<float>(32);
    facs_emu_launch_cluster("cluster_static_shared", __FILE__, __LINE__, dim3(2), dim3(32), 0, 2u,
                            cluster_static_shared, out);
}

__global__ void cluster_barrier_skipped(float *out)
{
    if (blockIdx.x == 0)
        facs_emu_cluster_sync(__FILE__, __LINE__);
    out[threadIdx.x] = 1.0f;
}

void fault_cluster_barrier_skipped(void)
{
    float *out = device<float>(32);
    facs_emu_launch_cluster("cluster_barrier_skipped", __FILE__, __LINE__, dim3(2), dim3(32), 0, 2u,
                            cluster_barrier_skipped, out);
}

__global__ void cluster_map_global(float *out) { out[0] = *(float *)facs_emu_cluster_map(out, 1); }

void fault_cluster_map_global(void)
{
    float *out = device<float>(32);
    facs_emu_launch_cluster("cluster_map_global", __FILE__, __LINE__, dim3(2), dim3(32), 64, 2u,
                            cluster_map_global, out);
}

void expect_fault(const char *what, void (*run)(void), const char *needle)
{
    fflush(stdout);
    int pipefd[2];
    if (pipe(pipefd)) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        run();
        (void)cudaDeviceSynchronize();
        _exit(0);
    }
    close(pipefd[1]);
    std::string err;
    char buf[4096];
    ssize_t got;
    while ((got = read(pipefd[0], buf, sizeof buf)) > 0)
        err.append(buf, (size_t)got);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    bool said = err.find("FAULT") != std::string::npos && err.find(needle) != std::string::npos;
    CHECK(aborted && said, "%s: expected an abort saying '%s', got %s and:\n%s", what, needle,
          aborted ? "an abort" : "no abort", err.c_str());
    if (getenv("FACS_CUDA_EMU_CHECK_VERBOSE"))
        printf("--- %s:\n%s", what, err.c_str());
}

void check_faults(void)
{
    expect_fault("a thread returns before __syncthreads", fault_early_return, "deadlock");
    expect_fault("threads wait at two different __syncthreads", fault_two_barriers, "different barriers");
    expect_fault("a host pointer as a kernel argument", fault_host_pointer, "not device memory");
    expect_fault("a kernel writes past its allocation", fault_kernel_overrun, "past the end of the 252-byte");
    expect_fault("a cudaMemcpy past the end of an allocation", fault_copy_overrun, "runs past the end");
    expect_fault("a cudaMemcpy in the wrong direction", fault_copy_direction, "kind says host");
    expect_fault("an overlapping device-to-device copy", fault_copy_overlap, "overlap");
    expect_fault("lanes disagree on a shuffle's mask", fault_mismatched_masks, "different warp collectives");
    expect_fault("a full-mask shuffle in a divergent branch", fault_divergent_shuffle, "__shfl_down_sync");
    expect_fault("__syncthreads on the host", fault_host_barrier, "outside a kernel");
    expect_fault("a cudaMemcpyAsync's source changes before a synchronisation", fault_async_source_changed,
                 "changed before this synchronising call");
    expect_fault("cudaFreeHost of a cudaMemcpyAsync's pending source", fault_async_source_freed, "may still be running");
    expect_fault("a static __shared__ variable in a cluster launch", fault_cluster_static_shared,
                 "static __shared__ variable in a cluster launch");
    expect_fault("one block of a cluster skips the cluster barrier", fault_cluster_barrier_skipped, "deadlock");
    expect_fault("a cluster map of global memory", fault_cluster_map_global, "not in the block's dynamic shared");
}

} // namespace

int main(void)
{
    check_indexing();
    check_block_sum();
    check_shared();
    check_dynamic_shared();
    check_shuffles();
    check_votes();
    check_launches_and_memory();
    check_async_copies();
    check_async_shared_copies();
    check_async_copy_groups();
    check_clusters();
    check_faults();
    printf("facs-cuda-emu-check: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
