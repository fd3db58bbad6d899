/* The process-wide cuDNN and cuBLAS handles (cuda_ops.h). Created on first
 * use, on the legacy default stream like every other call of this backend, and
 * kept for the life of the process: creating one costs milliseconds and
 * allocates device memory, so no op may create its own. A handle is not
 * thread-safe, and neither is a facs_ctx: one thread drives the device. */
#include <mutex>

#include <cublas_v2.h>

#include "cuda_ops.h"

namespace {

std::mutex handle_mutex;
cudnnHandle_t cudnn_handle;
cublasHandle_t cublas_handle;

}

facs_status facs_cuda_cudnn(cudnnHandle_t *out)
{
    std::lock_guard<std::mutex> lock(handle_mutex);
    if (!cudnn_handle)
        FACS_CUDNN_CHECK(cudnnCreate(&cudnn_handle));
    *out = cudnn_handle;
    return FACS_OK;
}

facs_status facs_cuda_cublas(cublasContext **out)
{
    std::lock_guard<std::mutex> lock(handle_mutex);
    if (!cublas_handle) {
        cublasStatus_t st = cublasCreate(&cublas_handle);
        if (st != CUBLAS_STATUS_SUCCESS)
            return facs_fail(FACS_ERR_BACKEND, "cublasCreate failed: %s", cublasGetStatusString(st));
        /* Full fp32 products: TF32 tensor cores would round inputs to 10
         * mantissa bits, far outside the 1e-5 agreement with the CPU. */
        st = cublasSetMathMode(cublas_handle, CUBLAS_PEDANTIC_MATH);
        if (st != CUBLAS_STATUS_SUCCESS)
            return facs_fail(FACS_ERR_BACKEND, "cublasSetMathMode failed: %s", cublasGetStatusString(st));
    }
    *out = cublas_handle;
    return FACS_OK;
}
