/* The CUDA backend: device memory and the table of CUDA op entries.
 *
 * All work goes to the legacy default stream, so kernels, memsets and copies
 * run in the order they were issued. That ordering is what makes the arena
 * safe: memory handed out again after a reset is only touched by work queued
 * after the work that used it before. */
#include <stddef.h>
#include <stdint.h>

#include "cuda_check.h"

extern "C" {
#include "../backend.h"
#include "../ctx.h"

extern const facs_backend facs_cuda_backend;
int facs_cuda_probe(void);
}

/* Defined in facs.cu; C++ linkage, so a signature that drifts from this
 * declaration fails to link instead of being called with the wrong arguments. */
facs_status facs_cuda_facs_forward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *prob);
facs_status facs_cuda_facs_backward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                    const facs_tensor *w, const facs_tensor *prob, const facs_tensor *dy,
                                    facs_tensor *dx, facs_tensor *dw, facs_tensor *db);

static int probe_once(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        /* No driver or no device: leave no error behind for later checks. */
        (void)cudaGetLastError();
        return 0;
    }
    return count >= 1;
}

int facs_cuda_probe(void)
{
    /* A function-local static is initialised once, thread-safely. */
    static const int available = probe_once();
    return available;
}

/* cudaMalloc aligns to 256 bytes, more than the 64 the table promises. */
static void *cuda_alloc(size_t bytes)
{
    void *ptr = NULL;
    if (FACS_CUDA_STATUS(cudaMalloc(&ptr, bytes ? bytes : 1)) != FACS_OK)
        return NULL;
    return ptr;
}

/* free has no status to return; a failure here means the device is already
 * in a broken state, which the next checked call reports. */
static void cuda_free(void *ptr)
{
    if (ptr && cudaFree(ptr) != cudaSuccess)
        (void)cudaGetLastError();
}

static facs_status cuda_copy_from_host(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        FACS_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return FACS_OK;
}

static facs_status cuda_copy_to_host(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        FACS_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
    return FACS_OK;
}

static facs_status cuda_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes)
        FACS_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
    return FACS_OK;
}

static facs_status cuda_fill_zero(void *dst, size_t bytes)
{
    if (bytes)
        FACS_CUDA_CHECK(cudaMemset(dst, 0, bytes));
    return FACS_OK;
}

static __global__ void axpy_kernel(size_t count, float alpha, const float *x, float *y)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
        y[i] += alpha * x[i];
}

static facs_status cuda_axpy(size_t count, float alpha, const float *x, float *y)
{
    if (count == 0)
        return FACS_OK;
    const unsigned threads = 256;
    /* Enough blocks to fill any current GPU; larger counts loop in the kernel. */
    size_t blocks = (count + threads - 1) / threads;
    if (blocks > 4096)
        blocks = 4096;
    axpy_kernel<<<(unsigned)blocks, threads>>>(count, alpha, x, y);
    FACS_CUDA_CHECK_LAUNCH("axpy_kernel");
    return FACS_OK;
}

static facs_status cuda_sync(void)
{
    FACS_CUDA_CHECK(cudaDeviceSynchronize());
    return FACS_OK;
}

/* Entries not set are NULL: those ops do not exist on CUDA yet, and the ops
 * layer reports that instead of falling back to the CPU. Built by a constexpr
 * function rather than designated initializers, which C++ compilers flag as
 * missing fields; the table is still initialised at compile time. */
static constexpr facs_backend make_cuda_backend(void)
{
    facs_backend be{};
    be.name = "cuda";
    be.alloc = cuda_alloc;
    be.free = cuda_free;
    be.copy_from_host = cuda_copy_from_host;
    be.copy_to_host = cuda_copy_to_host;
    be.copy = cuda_copy;
    be.fill_zero = cuda_fill_zero;
    be.axpy = cuda_axpy;
    be.sync = cuda_sync;
    be.facs_forward = facs_cuda_facs_forward;
    be.facs_backward = facs_cuda_facs_backward;
    return be;
}

extern "C" const facs_backend facs_cuda_backend = make_cuda_backend();
