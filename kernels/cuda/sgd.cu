/* The SGD step on CUDA: one fused kernel per tensor, every thread running
 * sgd_math.h's update (the function the CPU loop runs) at its indices, so
 * that weight decay, momentum and the parameter change need one pass over
 * memory instead of a chain of axpys. */
#include <stddef.h>

#include "cuda_ops.h"

namespace {

/* k by value: a kernel argument lives in constant memory, read by every thread. */
__global__ void sgd_update_kernel(facs_sgd_coeffs k, int first, size_t count, float *p, const float *g, float *buf)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
        facs_sgd_update(k, first, p, g, buf, i);
}

} // namespace

facs_status facs_cuda_sgd_update(facs_sgd_coeffs k, int first, size_t count, float *p, const float *g, float *buf)
{
    if (count == 0)
        return FACS_OK;
    sgd_update_kernel<<<facs_cuda_blocks(count), kFacsCudaThreads>>>(k, first, count, p, g, buf);
    FACS_CUDA_CHECK_LAUNCH("sgd_update_kernel");
    return FACS_OK;
}
