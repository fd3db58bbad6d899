/* CPU EMULATION of the CUDA execution model, for checking the logic of our
 * own kernels (the .cu files of kernels/cuda) on every CI run, where there is
 * no GPU. It is a test tool, not a backend: nothing outside tests/ links it.
 *
 * The build (tests/cuda_emu/CMakeLists.txt) compiles each .cu file as C++17
 * with g++, this header forced in first (-include), after
 * rewrite_launches.py has turned every k<<<grid, block>>>(args) into a call
 * of facs_emu_launch and marked every __shared__ declaration. include/ stands
 * in for cuda_runtime.h and cudnn.h (types only: cuDNN is not emulated; the
 * convolution entries run the CPU backend's on the emulated memory, see
 * not_emulated.cpp).
 *
 * How a launch runs (cuda_emu_launch.cpp):
 *   - To completion, before the launch returns (the legacy default stream's
 *     order); blocks one after another on the calling thread, in blockIdx
 *     order, except that the blocks of a thread-block cluster run together
 *     (see "thread-block clusters" below).
 *   - The threads of a block are cooperative fibers (64 KiB stacks with a
 *     guard page). A thread runs until it reaches __syncthreads or a warp
 *     collective (shuffle, vote, __syncwarp), then the next thread runs, in
 *     threadIdx order. __syncthreads is a real barrier of the whole block; a
 *     warp collective is a barrier of the lanes named in its mask and
 *     exchanges their values.
 *   - __shared__ variables are function statics, filled with NaN bytes
 *     (0xFF) when the first thread of a block reaches their declaration, and
 *     dynamic shared memory before every block: a read before the block wrote
 *     gives NaN, not the last block's data. cudaMalloc'ed memory starts as
 *     0xFF bytes too, between red zones.
 *   - A bad launch configuration sets the last error, as CUDA does.
 * What it stops on at once with a message (abort), where a GPU would hang,
 * compute garbage or report an error at the next synchronisation:
 *   - a __syncthreads that not every thread of the block reaches (a thread
 *     returned early, or threads wait at different __syncthreads lines), and
 *     any other deadlock of barriers and warp collectives;
 *   - a warp collective whose lanes disagree on the mask or the operation, or
 *     whose own lane is not in its mask;
 *   - a pointer argument of a kernel that is not device memory (a host
 *     pointer), a cudaMemcpy or cudaMemset range outside one allocation or in
 *     the wrong direction, an overlapping device-to-device copy, a write into
 *     a red zone (checked after every launch and at cudaFree);
 *   - a page-locked (cudaHostAlloc) source of a cudaMemcpyAsync that changes
 *     before the next synchronising call (cudaDeviceSynchronize,
 *     cudaStreamSynchronize, a cudaMemcpy other than device to device), or
 *     that cudaFreeHost frees before one: on a GPU the copy may not have read
 *     it yet. cudaFreeHost of memory cudaHostAlloc did not give fails.
 * A shuffle that reads a lane not taking part returns all-ones bits (a NaN).
 *
 * What it cannot catch (deviations from a GPU):
 *   - Races. Threads between two barriers run one at a time in a fixed order,
 *     so a missing __syncthreads shows only when that order reads before the
 *     write: CTest runs every kernel test in index order and again with
 *     FACS_CUDA_EMU_ORDER=reverse (threads and blocks reversed). Data races
 *     between blocks never show.
 *   - Warp-synchronous code that relies on lanes running in lockstep without
 *     __syncwarp (undefined since Volta) may pass or fail here regardless of
 *     what a GPU does; memory ordering, fences and volatile have no effect.
 *   - Atomics are trivially atomic and run in thread order, so a result that
 *     depends on atomics' order is deterministic here and not on a GPU.
 *   - Floating point: host libm instead of CUDA's device functions (expf and
 *     friends differ by an ulp or two), __expf/__fdividef are exact, and nvcc
 *     contracts a * b + c into an FMA where the emulation build does not
 *     (-ffp-contract=off).
 *   - Out-of-bounds accesses inside an allocation (a tensor inside the arena;
 *     test_backend_ops's guard margins catch those writes), out-of-bounds reads
 *     that land in a red zone, and host pointers hidden inside struct
 *     arguments.
 *   - Asynchronous copies run at once: a cudaMemcpyAsync to the host gives
 *     its data before any synchronisation (only sources are checked, above).
 *   - Resource limits: registers per thread, __launch_bounds__, shared memory
 *     size, occupancy (also whether a cluster can be scheduled at all: a GPU
 *     build asks cudaOccupancyMaxActiveClusters), and timing. Launch
 *     configuration limits are checked.
 *   - cuDNN (conv2d.cu, conv2d_graph.cu, handles.cu): checked only on a
 *     GPU (test_backend_ops -b cuda on a device).
 *   - __CUDACC__ and __CUDA_ARCH__ are not defined: the shared math headers
 *     (facs_fusion_math.h, ...) take their plain C++ path, which is the same
 *     arithmetic.
 *
 * Environment: FACS_CUDA_EMU_ORDER=reverse (see above),
 * FACS_CUDA_EMU_STATS=1 (launch, block, thread and barrier counts and the
 * time in kernels at exit), FACS_CUDA_EMU_MEMORY_MB (the emulated device's
 * memory, default 4096), FACS_CUDA_EMU_STACK_KB (fiber stack, default 64),
 * FACS_CUDA_EMU_GPC_SMS (SMs a cluster may span, default all 16),
 * FACS_CUDA_EMU_MAX_GRID_YZ (gridDim.y and z's limit, default 65535). */
#ifndef FACS_CUDA_EMU_H
#define FACS_CUDA_EMU_H

#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <tuple>
#include <type_traits>
#include <utility>

#define FACS_CUDA_EMULATION 1

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
/* Shared memory is a function static: blocks run one at a time.
 * rewrite_launches.py also adds a facs_emu_shared_reached call to every
 * __shared__ declaration of a .cu file, which this macro (for headers) does
 * not. */
#define __shared__ static

struct facs_emu_builtins {
    uint3 thread_idx, block_idx;
    dim3 block_dim, grid_dim;
};
/* The running thread's; the scheduler sets them at every switch. Read through
 * an external variable, so the compiler reloads them after every barrier. */
extern facs_emu_builtins facs_emu_builtin;
#define threadIdx (static_cast<const uint3 &>(facs_emu_builtin.thread_idx))
#define blockIdx (static_cast<const uint3 &>(facs_emu_builtin.block_idx))
#define blockDim (static_cast<const dim3 &>(facs_emu_builtin.block_dim))
#define gridDim (static_cast<const dim3 &>(facs_emu_builtin.grid_dim))
static constexpr int warpSize = 32;

/* ---- shared memory ------------------------------------------------------ */

/* Counts the blocks run; a __shared__ variable whose block_of differs is
 * reached for the first time in this block and is filled with NaN bytes, as
 * uninitialised shared memory holds garbage on a GPU. */
extern unsigned long long facs_emu_block_serial;
extern unsigned facs_emu_cluster_blocks; /* of the running launch */
void facs_emu_static_shared_in_cluster(void);
static inline void facs_emu_shared_reached(unsigned long long *block_of, void *var, size_t bytes)
{
    if (facs_emu_cluster_blocks > 1)
        facs_emu_static_shared_in_cluster();
    if (*block_of != facs_emu_block_serial) {
        *block_of = facs_emu_block_serial;
        memset(var, 0xFF, bytes);
    }
}

/* ---- block barrier ------------------------------------------------------ */

enum { FACS_EMU_BAR_PLAIN, FACS_EMU_BAR_COUNT, FACS_EMU_BAR_AND, FACS_EMU_BAR_OR };
int facs_emu_syncthreads(int kind, int pred, const char *file, int line);
#define __syncthreads() ((void)facs_emu_syncthreads(FACS_EMU_BAR_PLAIN, 0, __FILE__, __LINE__))
#define __syncthreads_count(pred) facs_emu_syncthreads(FACS_EMU_BAR_COUNT, (pred) != 0, __FILE__, __LINE__)
#define __syncthreads_and(pred) facs_emu_syncthreads(FACS_EMU_BAR_AND, (pred) != 0, __FILE__, __LINE__)
#define __syncthreads_or(pred) facs_emu_syncthreads(FACS_EMU_BAR_OR, (pred) != 0, __FILE__, __LINE__)

static inline void __threadfence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

/* ---- warp collectives --------------------------------------------------- */

enum {
    FACS_EMU_WARP_SYNC,
    FACS_EMU_SHFL_IDX,
    FACS_EMU_SHFL_UP,
    FACS_EMU_SHFL_DOWN,
    FACS_EMU_SHFL_XOR,
    FACS_EMU_VOTE_BALLOT,
    FACS_EMU_VOTE_ANY,
    FACS_EMU_VOTE_ALL,
    FACS_EMU_REDUCE_ADD,
    FACS_EMU_REDUCE_MIN_S,
    FACS_EMU_REDUCE_MAX_S,
    FACS_EMU_REDUCE_MIN_U,
    FACS_EMU_REDUCE_MAX_U,
    FACS_EMU_REDUCE_AND,
    FACS_EMU_REDUCE_OR,
    FACS_EMU_REDUCE_XOR
};
/* One warp collective of the running lane: waits for every lane of mask (that
 * exists in the block) and returns this lane's result. */
uint64_t facs_emu_warp_op(int op, unsigned mask, uint64_t value, int param, int width);
unsigned facs_emu_activemask(void);

template <class T> static inline uint64_t facs_emu_bits(T v)
{
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type wider than 64 bits");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    return bits;
}

template <class T> static inline T facs_emu_from_bits(uint64_t bits)
{
    T v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

template <class T> static inline T facs_emu_shuffle(int op, unsigned mask, T v, int param, int width)
{
    return facs_emu_from_bits<T>(facs_emu_warp_op(op, mask, facs_emu_bits(v), param, width));
}

template <class T> static inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32)
{
    return facs_emu_shuffle(FACS_EMU_SHFL_IDX, mask, var, src_lane, width);
}
template <class T> static inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32)
{
    return facs_emu_shuffle(FACS_EMU_SHFL_UP, mask, var, (int)delta, width);
}
template <class T> static inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32)
{
    return facs_emu_shuffle(FACS_EMU_SHFL_DOWN, mask, var, (int)delta, width);
}
template <class T> static inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32)
{
    return facs_emu_shuffle(FACS_EMU_SHFL_XOR, mask, var, lane_mask, width);
}
static inline void __syncwarp(unsigned mask = 0xffffffffu)
{
    (void)facs_emu_warp_op(FACS_EMU_WARP_SYNC, mask, 0, 0, 32);
}
static inline unsigned __ballot_sync(unsigned mask, int pred)
{
    return (unsigned)facs_emu_warp_op(FACS_EMU_VOTE_BALLOT, mask, pred != 0, 0, 32);
}
static inline int __any_sync(unsigned mask, int pred)
{
    return (int)facs_emu_warp_op(FACS_EMU_VOTE_ANY, mask, pred != 0, 0, 32);
}
static inline int __all_sync(unsigned mask, int pred)
{
    return (int)facs_emu_warp_op(FACS_EMU_VOTE_ALL, mask, pred != 0, 0, 32);
}
static inline unsigned __activemask(void) { return facs_emu_activemask(); }
static inline unsigned __reduce_add_sync(unsigned mask, unsigned v)
{
    return (unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_ADD, mask, v, 0, 32);
}
static inline int __reduce_add_sync(unsigned mask, int v)
{
    return (int)(unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_ADD, mask, (unsigned)v, 0, 32);
}
static inline int __reduce_min_sync(unsigned mask, int v)
{
    return (int)(unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_MIN_S, mask, (unsigned)v, 0, 32);
}
static inline unsigned __reduce_min_sync(unsigned mask, unsigned v)
{
    return (unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_MIN_U, mask, v, 0, 32);
}
static inline int __reduce_max_sync(unsigned mask, int v)
{
    return (int)(unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_MAX_S, mask, (unsigned)v, 0, 32);
}
static inline unsigned __reduce_max_sync(unsigned mask, unsigned v)
{
    return (unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_MAX_U, mask, v, 0, 32);
}
static inline unsigned __reduce_and_sync(unsigned mask, unsigned v)
{
    return (unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_AND, mask, v, 0, 32);
}
static inline unsigned __reduce_or_sync(unsigned mask, unsigned v)
{
    return (unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_OR, mask, v, 0, 32);
}
static inline unsigned __reduce_xor_sync(unsigned mask, unsigned v)
{
    return (unsigned)facs_emu_warp_op(FACS_EMU_REDUCE_XOR, mask, v, 0, 32);
}

/* ---- atomics: fibers switch only at barriers, so a plain read-modify-write
 * is atomic here ---------------------------------------------------------- */

template <class T, class U> static inline T atomicAdd(T *p, U v)
{
    T old = *p;
    *p = (T)(old + (T)v);
    return old;
}
template <class T, class U> static inline T atomicSub(T *p, U v)
{
    T old = *p;
    *p = (T)(old - (T)v);
    return old;
}
template <class T, class U> static inline T atomicExch(T *p, U v)
{
    T old = *p;
    *p = (T)v;
    return old;
}
template <class T, class U> static inline T atomicMax(T *p, U v)
{
    T old = *p;
    *p = old < (T)v ? (T)v : old;
    return old;
}
template <class T, class U> static inline T atomicMin(T *p, U v)
{
    T old = *p;
    *p = (T)v < old ? (T)v : old;
    return old;
}
template <class T, class U, class V> static inline T atomicCAS(T *p, U compare, V v)
{
    T old = *p;
    if (old == (T)compare)
        *p = (T)v;
    return old;
}
template <class T, class U> static inline T atomicAnd(T *p, U v)
{
    T old = *p;
    *p = (T)(old & (T)v);
    return old;
}
template <class T, class U> static inline T atomicOr(T *p, U v)
{
    T old = *p;
    *p = (T)(old | (T)v);
    return old;
}

/* ---- device functions --------------------------------------------------- */

/* CUDA's min/max: integer overloads compare in the common type, floating
 * ones are fminf/fmaxf (a NaN loses to a number). */
template <class A, class B>
using facs_emu_arith = typename std::enable_if<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value,
                                               typename std::common_type<A, B>::type>::type;

template <class A, class B> static inline facs_emu_arith<A, B> min(A a, B b)
{
    typedef typename std::common_type<A, B>::type T;
    if (std::is_floating_point<T>::value)
        return (T)fmin((double)a, (double)b);
    return (T)a < (T)b ? (T)a : (T)b;
}
template <class A, class B> static inline facs_emu_arith<A, B> max(A a, B b)
{
    typedef typename std::common_type<A, B>::type T;
    if (std::is_floating_point<T>::value)
        return (T)fmax((double)a, (double)b);
    return (T)a < (T)b ? (T)b : (T)a;
}
static inline unsigned umin(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned umax(unsigned a, unsigned b) { return a < b ? b : a; }
static inline long long llmin(long long a, long long b) { return a < b ? a : b; }
static inline long long llmax(long long a, long long b) { return a < b ? b : a; }

template <class T> static inline T __ldg(const T *p) { return *p; }
template <class T> static inline T __ldcs(const T *p) { return *p; }
template <class T> static inline void __stcs(T *p, T v) { *p = v; }

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
/* CUDA's fast approximations are the exact functions here; glibc declares
 * these very names for its own exact versions. */
#ifndef __GLIBC__
static inline float __expf(float x) { return expf(x); }
static inline float __logf(float x) { return logf(x); }
static inline float __log2f(float x) { return log2f(x); }
static inline float __powf(float x, float y) { return powf(x, y); }
static inline float __sinf(float x) { return sinf(x); }
static inline float __cosf(float x) { return cosf(x); }
static inline float __tanhf(float x) { return tanhf(x); }
#endif
static inline float __fdividef(float x, float y) { return x / y; }
static inline float __saturatef(float x) { return x != x ? 0.0f : x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
/* The _rn intrinsics: one correctly rounded operation; the build turns
 * contraction into FMAs off (-ffp-contract=off) everywhere. */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __frcp_rn(float a) { return 1.0f / a; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
static inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
static inline int __float2int_rz(float x) { return (int)x; }
static inline int __float2int_rd(float x) { return (int)floorf(x); }
static inline int __float2int_ru(float x) { return (int)ceilf(x); }
static inline float __int2float_rn(int x) { return (float)x; }
static inline int __float_as_int(float x) { return facs_emu_from_bits<int>(facs_emu_bits(x)); }
static inline unsigned __float_as_uint(float x) { return facs_emu_from_bits<unsigned>(facs_emu_bits(x)); }
static inline float __int_as_float(int x) { return facs_emu_from_bits<float>(facs_emu_bits(x)); }
static inline float __uint_as_float(unsigned x) { return facs_emu_from_bits<float>(facs_emu_bits(x)); }
static inline long long __double_as_longlong(double x) { return facs_emu_from_bits<long long>(facs_emu_bits(x)); }
static inline double __longlong_as_double(long long x) { return facs_emu_from_bits<double>(facs_emu_bits(x)); }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
static inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
static inline unsigned __brev(unsigned x)
{
    unsigned r = 0;
    for (int i = 0; i < 32; i++, x >>= 1)
        r = (r << 1) | (x & 1u);
    return r;
}
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b)
{
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
long long facs_emu_clock64(void);
static inline long long clock64(void) { return facs_emu_clock64(); }

/* ---- asynchronous copies into shared memory (cp.async, sm_80) ------------ */

/* A thread's copies are held back until it waits for them (or returns): a
 * read of the destination before the __pipeline_wait_prior that covers it,
 * or by another thread before a barrier that follows that wait, sees the
 * poisoned bytes. As cp.async.wait_group on the GPU, __pipeline_wait_prior(N)
 * completes the committed groups but the N most recent, and copies not yet
 * committed wait for a commit and a wait of their own; the GPU may complete
 * them earlier, the emulation never does. */
void facs_emu_pipeline_copy(void *dst, const void *src, size_t bytes);
void facs_emu_pipeline_commit(void);
void facs_emu_pipeline_wait(size_t prior);
static inline void __pipeline_memcpy_async(void *dst, const void *src, size_t bytes, size_t zero_fill = 0)
{
    (void)zero_fill;
    facs_emu_pipeline_copy(dst, src, bytes);
}
static inline void __pipeline_commit(void) { facs_emu_pipeline_commit(); }
static inline void __pipeline_wait_prior(size_t prior) { facs_emu_pipeline_wait(prior); }

/* ---- thread-block clusters (sm_90) -------------------------------------- */

/* The blocks of a cluster run together: their threads interleave at every
 * barrier, each block has its own dynamic shared memory, and a block's may be
 * read by the others through facs_emu_cluster_map until the block returns
 * (then it is poisoned). kernels/cuda/cluster.cuh calls these where a GPU
 * build calls cooperative_groups::this_cluster(). Static __shared__ variables
 * are one copy here, so a cluster launch that reaches one stops. */
unsigned facs_emu_cluster_rank(void);
void facs_emu_cluster_sync(const char *file, int line);
void *facs_emu_cluster_map(const void *ptr, unsigned rank);
/* The SMs of a GPC, the group a cluster's blocks must all run in: the whole
 * device unless FACS_CUDA_EMU_GPC_SMS says fewer (a divisor of the 16 SMs),
 * so that plans can meet a GPU whose GPCs hold fewer SMs than a cluster of 16
 * blocks needs. cluster.cuh counts the clusters that fit with it. */
int facs_emu_gpc_sms(void);

/* ---- launches ----------------------------------------------------------- */

/* Dynamic shared memory of the running block (extern __shared__ x[], as
 * rewrite_launches.py turns it). */
void *facs_emu_dynamic_shared(void);

/* Runs body(ctx) as every thread of grid x block (cuda_emu_launch.cpp), in
 * clusters of `cluster` consecutive blocks along x (0: a <<<>>> launch, whose
 * blocks run one at a time). Sets the runtime's last error for a bad
 * configuration, as CUDA does; a cluster launch (kernels/cuda/cluster.cuh)
 * may have up to 227 KiB of dynamic shared memory per block (sm_90's opt-in
 * limit, which its GPU build asks for), a <<<>>> launch 48 KiB. */
void facs_emu_run(const char *kernel, const char *file, int line, dim3 grid, dim3 block, size_t shared_bytes,
                  unsigned cluster, void (*body)(void *), void *ctx);

/* Stops with a message when ptr, a pointer argument of a kernel, is neither
 * NULL nor inside (or one past) a cudaMalloc'ed allocation. */
void facs_emu_check_argument(const char *kernel, const char *file, int line, int index, const void *ptr);

template <class T> static inline void facs_emu_check_arg(const char *kernel, const char *file, int line, int index,
                                                         const T &arg)
{
    if constexpr (std::is_pointer<T>::value && !std::is_function<typename std::remove_pointer<T>::type>::value)
        facs_emu_check_argument(kernel, file, line, index, (const void *)arg);
    else {
        (void)kernel, (void)file, (void)line, (void)index, (void)arg;
    }
}

template <class F, class Args> struct facs_emu_kernel_call {
    F call;
    Args args;
    static void run(void *self)
    {
        facs_emu_kernel_call *k = static_cast<facs_emu_kernel_call *>(self);
        std::apply(k->call, k->args);
    }
};

template <class... A, std::size_t... I>
static inline void facs_emu_check_args(const char *kernel, const char *file, int line, const std::tuple<A...> &args,
                                       std::index_sequence<I...>)
{
    (facs_emu_check_arg(kernel, file, line, (int)I + 1, std::get<I>(args)), ...);
    (void)kernel, (void)file, (void)line, (void)args;
}

/* kernel<<<grid, block, shared_bytes, stream>>>(args...): the arguments are
 * evaluated once, here, and every thread calls the kernel with them. The
 * legacy default stream is the only stream: a launch runs to completion. */
template <class F, class... A>
static inline void facs_emu_launch_cluster(const char *kernel, const char *file, int line, dim3 grid, dim3 block,
                                           size_t shared_bytes, unsigned cluster, F call, A &&...args)
{
    typedef std::tuple<typename std::decay<A>::type...> Args;
    facs_emu_kernel_call<F, Args> k{call, Args(std::forward<A>(args)...)};
    facs_emu_check_args(kernel, file, line, k.args, std::index_sequence_for<A...>());
    facs_emu_run(kernel, file, line, grid, block, shared_bytes, cluster, &facs_emu_kernel_call<F, Args>::run, &k);
}

template <class F, class... A>
static inline void facs_emu_launch(const char *kernel, const char *file, int line, dim3 grid, dim3 block,
                                   size_t shared_bytes, cudaStream_t stream, F call, A &&...args)
{
    (void)stream;
    facs_emu_launch_cluster(kernel, file, line, grid, block, shared_bytes, 0, call, std::forward<A>(args)...);
}

#endif
