/* The process-wide cuDNN handle (cuda_ops.h). Created on first use, on the
 * legacy default stream like every other call of this backend, and kept for
 * the life of the process: creating one costs milliseconds and allocates
 * device memory, so no op may create its own. A handle is not thread-safe,
 * and neither is a facs_ctx: one thread drives the device. */
#include <mutex>

#include "cuda_ops.h"

namespace {

std::mutex handle_mutex;
cudnnHandle_t cudnn_handle;

}

facs_status facs_cuda_cudnn(cudnnHandle_t *out)
{
    std::lock_guard<std::mutex> lock(handle_mutex);
    if (!cudnn_handle)
        FACS_CUDNN_CHECK(cudnnCreate(&cudnn_handle));
    *out = cudnn_handle;
    return FACS_OK;
}
