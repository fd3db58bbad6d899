/* The CPU emulation's CUDA runtime: tracked "device" memory, the runtime API
 * of include/cuda_runtime.h, and kernel launches run as fibers (one per CUDA
 * thread of a block, blocks one after another). What it models and what it
 * cannot is in cuda_emu.h. Everything here is serialised by one mutex: a
 * launch runs to completion on the calling thread before the call returns,
 * which is the legacy default stream's order.
 *
 * The runtime is three files, by concern, which share only what
 * cuda_emu_internal.h declares: this one holds what the other two share (the
 * mutex, faults, the last error, statistics and the banner) and the device
 * itself (its limits, properties and attributes, and the error names);
 * cuda_emu_memory.cpp the device and page-locked memory with the memory and
 * copy API; cuda_emu_launch.cpp the fibers, launches, barriers, warp
 * collectives and clusters. */
#include "cuda_emu_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mutex>

using namespace facs_emu_runtime;

namespace {

constexpr size_t kReservedShared = 1024; /* sm_90's shared memory the driver keeps per block */

thread_local cudaError_t last_error = cudaSuccess;

} // namespace

namespace facs_emu_runtime {

std::recursive_mutex api_mutex;

/* ---- faults ------------------------------------------------------------- */

[[noreturn]] void fault(const char *fmt, ...)
{
    char where[512];
    context_line(where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    fputs("facs cuda emulation: FAULT: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", where);
    fflush(stderr);
    abort();
}

cudaError_t fail(cudaError_t err)
{
    last_error = err;
    return err;
}

/* ---- statistics and the banner ------------------------------------------ */

Stats stats;

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

namespace {

void print_stats(void)
{
    fprintf(stderr,
            "facs cuda emulation: %llu launches, %llu blocks, %llu threads, %llu barrier waits, %llu warp "
            "collectives, %.3f s in kernels; %llu cudaMallocs, %.1f MiB\n",
            stats.launches, stats.blocks, stats.threads, stats.barriers, stats.warp_ops, stats.seconds, stats.allocs,
            (double)stats.alloc_bytes / (1 << 20));
}

} // namespace

bool reverse_order;

void start_once(void)
{
    static std::once_flag once;
    std::call_once(once, [] {
        fprintf(stderr, "facs cuda emulation: CUDA kernels run on the CPU (tests/cuda_emu); cuDNN is not "
                        "emulated (convolutions run the CPU backend's)\n");
        const char *order = getenv("FACS_CUDA_EMU_ORDER");
        reverse_order = order && !strcmp(order, "reverse");
        const char *show = getenv("FACS_CUDA_EMU_STATS");
        if (show && *show && strcmp(show, "0"))
            atexit(print_stats);
    });
}

/* ---- device limits ------------------------------------------------------ */

/* gridDim.y and z's limit: 65535 on every CUDA device; lower with
 * FACS_CUDA_EMU_MAX_GRID_YZ, so that a kernel's loop past it runs on small
 * shapes. */
unsigned max_grid_yz(void)
{
    static const unsigned limit = [] {
        const char *text = getenv("FACS_CUDA_EMU_MAX_GRID_YZ");
        long v = text ? strtol(text, NULL, 10) : 65535;
        if (v < 1 || v > 65535) {
            fprintf(stderr, "facs cuda emulation: FACS_CUDA_EMU_MAX_GRID_YZ=%s is not in 1..65535\n", text);
            abort();
        }
        return (unsigned)v;
    }();
    return limit;
}

} // namespace facs_emu_runtime

/* ---- the runtime API: errors and the device ----------------------------- */

cudaError_t cudaGetLastError(void)
{
    cudaError_t err = last_error;
    last_error = cudaSuccess;
    return err;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

const char *cudaGetErrorName(cudaError_t err)
{
    switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t err)
{
    switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory (emulated device limit FACS_CUDA_EMU_MEMORY_MB)";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    }
    return "unknown error";
}

cudaError_t cudaGetDeviceCount(int *count)
{
    start_once();
    if (!count)
        return fail(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device)
{
    if (!device)
        return fail(cudaErrorInvalidValue);
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device)
{
    if (!prop)
        return fail(cudaErrorInvalidValue);
    if (device != 0)
        return fail(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "FACS CPU emulation of a CUDA device");
    prop->totalGlobalMem = memory_limit();
    prop->sharedMemPerBlock = kMaxDynamicShared;
    prop->regsPerBlock = 65536;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = (int)kMaxThreads;
    prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024, prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647, prop->maxGridSize[1] = prop->maxGridSize[2] = (int)max_grid_yz();
    /* 16 SMs, so that work split by the SM count (the FACS op's image groups)
     * splits into several parts on test shapes too. */
    prop->multiProcessorCount = 16;
    prop->maxThreadsPerMultiProcessor = 2048;
    prop->regsPerMultiprocessor = 65536;
    prop->sharedMemPerMultiprocessor = 228 * 1024;
    prop->l2CacheSize = 1 << 20;
    prop->major = 9, prop->minor = 0;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device)
{
    cudaDeviceProp p;
    cudaError_t err = cudaGetDeviceProperties(&p, device);
    if (err != cudaSuccess || !value)
        return err != cudaSuccess ? err : fail(cudaErrorInvalidValue);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *value = p.regsPerMultiprocessor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = (int)p.sharedMemPerMultiprocessor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)kMaxClusterShared; break;
    case cudaDevAttrReservedSharedMemoryPerBlock: *value = (int)kReservedShared; break;
    default: return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

int facs_emu_gpc_sms(void)
{
    static const int sms = [] {
        cudaDeviceProp p;
        (void)cudaGetDeviceProperties(&p, 0);
        const char *text = getenv("FACS_CUDA_EMU_GPC_SMS");
        long v = text ? strtol(text, NULL, 10) : 0;
        if (text && (v < 1 || v > p.multiProcessorCount || p.multiProcessorCount % v)) {
            fprintf(stderr, "facs cuda emulation: FACS_CUDA_EMU_GPC_SMS=%s is not a divisor of the %d SMs\n", text,
                    p.multiProcessorCount);
            abort();
        }
        return text ? (int)v : p.multiProcessorCount;
    }();
    return sms;
}
