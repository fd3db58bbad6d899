/* Thread-block clusters (compute capability 9.0 and later): what our kernels
 * use of them, in one place so that the CPU emulation (tests/cuda_emu) can
 * stand in for it. The blocks of a cluster run at the same time, may wait
 * for each other (facs_cluster_sync) and read each other's dynamic shared
 * memory (facs_cluster_map). A block must not return while another may still
 * read its shared memory: a cluster barrier must follow the last remote read.
 *
 *     if (facs_cuda_cluster_slots(kernel, blocks_per_cluster, threads, shared) > 0)   // once per configuration
 *         FACS_TRY(facs_cuda_launch_cluster("kernel", kernel, grid_blocks, blocks_per_cluster, threads, shared,
 *                                           args...));
 *
 * facs_cuda_cluster_slots also grants the kernel the device's opt-in shared
 * memory and clusters past 8 blocks, which every later launch relies on; it
 * makes driver calls, so callers keep its answer (facs_resident.cu caches
 * its plans).
 *
 * Kernels built for an older architecture keep compiling: there these
 * functions trap, and facs_cuda_cluster_slots says 0 before any launch. */
#ifndef FACS_CUDA_CLUSTER_CUH
#define FACS_CUDA_CLUSTER_CUH

#include <stdio.h>

#include "cuda_ops.h"

/* Blocks per cluster at most: 8 is portable, 16 needs the non-portable
 * attribute, which H100 and H200 grant. */
constexpr unsigned kFacsClusterMaxBlocks = 16;

#if defined(FACS_CUDA_EMULATION)
static inline unsigned facs_cluster_rank(void) { return facs_emu_cluster_rank(); }
#define facs_cluster_sync() facs_emu_cluster_sync(__FILE__, __LINE__)
template <class T> static inline T *facs_cluster_map(T *p, unsigned rank)
{
    return (T *)facs_emu_cluster_map(p, rank);
}
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
__device__ inline unsigned facs_cluster_rank(void)
{
    __trap();
    return 0;
}
__device__ inline void facs_cluster_sync(void) { __trap(); }
template <class T> __device__ inline T *facs_cluster_map(T *p, unsigned rank)
{
    (void)rank;
    __trap();
    return p;
}
#else
#include <cooperative_groups.h>
__device__ inline unsigned facs_cluster_rank(void) { return cooperative_groups::this_cluster().block_rank(); }
__device__ inline void facs_cluster_sync(void) { cooperative_groups::this_cluster().sync(); }
template <class T> __device__ inline T *facs_cluster_map(T *p, unsigned rank)
{
    return cooperative_groups::this_cluster().map_shared_rank(p, rank);
}
#endif

/* What the current device offers clusters: the opt-in shared memory of a
 * block, the shared memory of an SM and the part of it the driver reserves
 * for each block (bytes), the threads and registers of an SM and the SM
 * count. All 0 where it has no clusters (before sm_90) or a query fails. */
struct FacsClusterDevice {
    size_t block_shared, sm_shared, reserved;
    int sm_threads, sm_registers, sms;
};

static inline FacsClusterDevice facs_cuda_cluster_device(void)
{
    int device = 0, major = 0, optin = 0, sm_shared = 0, reserved = 0, sm_threads = 0, sm_registers = 0, sms = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sm_shared, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sm_threads, cudaDevAttrMaxThreadsPerMultiProcessor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sm_registers, cudaDevAttrMaxRegistersPerMultiprocessor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return FacsClusterDevice{};
    }
    if (major < 9)
        return FacsClusterDevice{};
    return FacsClusterDevice{(size_t)optin, (size_t)sm_shared, (size_t)reserved, sm_threads, sm_registers, sms};
}

#if !defined(FACS_CUDA_EMULATION)
/* The launch configuration of a cluster launch on the default stream; attr
 * must outlive it. */
static inline cudaLaunchConfig_t facs_cuda_cluster_config(unsigned blocks, unsigned cluster, unsigned threads,
                                                          size_t shared, cudaLaunchAttribute *attr)
{
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3(blocks);
    config.blockDim = dim3(threads);
    config.dynamicSmemBytes = shared;
    config.stream = 0;
    attr->id = cudaLaunchAttributeClusterDimension;
    attr->val.clusterDim.x = cluster;
    attr->val.clusterDim.y = 1;
    attr->val.clusterDim.z = 1;
    config.attrs = attr;
    config.numAttrs = 1;
    return config;
}

/* Lets kernel have up to `optin` bytes of dynamic shared memory (the
 * device's limit, so that any later launch may use less or more) and
 * clusters past the portable 8 blocks. */
template <class... P> static inline cudaError_t facs_cuda_cluster_attributes(void (*kernel)(P...), size_t optin)
{
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)optin);
    if (err == cudaSuccess)
        err = cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    return err;
}
#endif

/* How many clusters of `cluster` blocks of kernel, with `threads` threads
 * and `shared` bytes each, the device runs at a time (0: none can run). On a
 * GPU the driver's answer (cudaOccupancyMaxActiveClusters, which knows how
 * SMs group into GPCs and what the kernel's registers allow), 0 where the
 * loaded code has no clusters (a build without sm_90 code runs its older
 * code, whose cluster calls trap) and, said on stderr, where a query fails.
 * The emulation counts whole clusters in each of its GPCs (the whole device,
 * or FACS_CUDA_EMU_GPC_SMS), each SM holding as many blocks as its threads,
 * shared memory and registers allow; it takes the 64 registers a thread that
 * the resident FACS kernels' __launch_bounds__(512, 2) allows and ptxas
 * uses. */
template <class... P>
static inline int facs_cuda_cluster_slots(void (*kernel)(P...), unsigned cluster, unsigned threads, size_t shared)
{
    const FacsClusterDevice device = facs_cuda_cluster_device();
    if (shared > device.block_shared || cluster > kFacsClusterMaxBlocks || (int)cluster > device.sms)
        return 0;
#if defined(FACS_CUDA_EMULATION)
    (void)kernel;
    const size_t kRegistersPerThread = 64;
    const size_t by_threads = (size_t)device.sm_threads / threads;
    const size_t by_shared = device.sm_shared / (shared + device.reserved);
    const size_t by_registers = (size_t)device.sm_registers / (threads * kRegistersPerThread);
    const size_t per_sm = by_threads < by_shared ? by_threads : by_shared;
    const size_t gpc = (size_t)facs_emu_gpc_sms();
    return (int)((size_t)device.sms / gpc * (gpc * (per_sm < by_registers ? per_sm : by_registers) / cluster));
#else
    cudaFuncAttributes loaded;
    cudaError_t err = cudaFuncGetAttributes(&loaded, kernel);
    if (err == cudaSuccess && loaded.binaryVersion < 90)
        return 0;
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t config = facs_cuda_cluster_config(cluster, cluster, threads, shared, &attr);
    int active = 0;
    if (err == cudaSuccess)
        err = facs_cuda_cluster_attributes(kernel, device.block_shared);
    if (err == cudaSuccess)
        err = cudaOccupancyMaxActiveClusters(&active, kernel, &config);
    if (err != cudaSuccess) {
        fprintf(stderr, "facs: asking the driver how many clusters of %u blocks fit failed (%s); the classic FACS "
                        "kernels run for this shape\n",
                cluster, cudaGetErrorString(err));
        (void)cudaGetLastError();
        return 0;
    }
    return active;
#endif
}

/* kernel<<<blocks, threads, shared>>>(args...) in clusters of `cluster`
 * consecutive blocks (blocks a multiple of it), on the default stream, after
 * facs_cuda_cluster_slots gave that configuration a slot. */
template <class... P, class... A>
static inline facs_status facs_cuda_launch_cluster(const char *name, void (*kernel)(P...), unsigned blocks,
                                                   unsigned cluster, unsigned threads, size_t shared, A... args)
{
#if defined(FACS_CUDA_EMULATION)
    facs_emu_launch_cluster(name, __FILE__, __LINE__, dim3(blocks), dim3(threads), shared, cluster, kernel, args...);
#else
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t config = facs_cuda_cluster_config(blocks, cluster, threads, shared, &attr);
    cudaError_t err = cudaLaunchKernelEx(&config, kernel, args...);
    if (err != cudaSuccess)
        return facs_cuda_status_(err, name, __FILE__, __LINE__);
#endif
    return facs_cuda_status_(cudaGetLastError(), name, __FILE__, __LINE__);
}

#endif
