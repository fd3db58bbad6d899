/* Checked CUDA and cuDNN calls for the .cu files of this folder.
 *
 *     FACS_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
 *     kernel<<<grid, block>>>(...);
 *     FACS_CUDA_CHECK_LAUNCH("kernel");
 *
 * Each macro returns from the enclosing function (which must return a
 * facs_status) with FACS_ERR_BACKEND and a last-error message naming the call,
 * the runtime's error, and the file and line. FACS_CUDA_STATUS gives the status
 * without returning, for functions that report failure another way (alloc
 * returns NULL). Kernel launches are asynchronous: FACS_CUDA_CHECK_LAUNCH
 * catches a bad launch configuration at once, while a fault inside a kernel
 * surfaces at the next synchronising call (copy_to_host, sync). */
#ifndef FACS_CUDA_CHECK_H
#define FACS_CUDA_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>
#include <cudnn.h>

extern "C" {
#include "../status.h"
}

static inline facs_status facs_cuda_status_(cudaError_t err, const char *call, const char *file, int line)
{
    if (err == cudaSuccess)
        return FACS_OK;
    /* A failure that is not sticky (out of memory, a bad argument) would
     * otherwise stay in the runtime's last-error slot and be reported again by
     * the next launch check, blamed on an innocent kernel. */
    (void)cudaGetLastError();
    return facs_fail(FACS_ERR_BACKEND, "%s failed: %s (%s) at %s:%d", call, cudaGetErrorName(err),
                     cudaGetErrorString(err), file, line);
}

static inline facs_status facs_cudnn_status_(cudnnStatus_t err, const char *call, const char *file, int line)
{
    if (err == CUDNN_STATUS_SUCCESS)
        return FACS_OK;
    return facs_fail(FACS_ERR_BACKEND, "%s failed: %s at %s:%d", call, cudnnGetErrorString(err), file, line);
}

#define FACS_CUDA_STATUS(call) facs_cuda_status_((call), #call, __FILE__, __LINE__)

#define FACS_CUDA_CHECK(call)                              \
    do {                                                   \
        facs_status facs_cuda_s_ = FACS_CUDA_STATUS(call); \
        if (facs_cuda_s_ != FACS_OK)                       \
            return facs_cuda_s_;                           \
    } while (0)

#define FACS_CUDA_CHECK_LAUNCH(kernel_name)                                                      \
    do {                                                                                         \
        facs_status facs_cuda_s_ =                                                               \
            facs_cuda_status_(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__); \
        if (facs_cuda_s_ != FACS_OK)                                                             \
            return facs_cuda_s_;                                                                 \
    } while (0)

#define FACS_CUDNN_CHECK(call)                                                              \
    do {                                                                                    \
        facs_status facs_cudnn_s_ = facs_cudnn_status_((call), #call, __FILE__, __LINE__); \
        if (facs_cudnn_s_ != FACS_OK)                                                       \
            return facs_cudnn_s_;                                                           \
    } while (0)

#endif
