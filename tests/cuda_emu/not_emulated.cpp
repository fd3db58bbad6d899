/* The CUDA entries of the CPU emulation that need cuDNN (conv2d.cu and
 * handles.cu, which the emulation does not compile):
 * each fails with FACS_ERR_UNSUPPORTED and says so, so that a test on the
 * emulated device reports them as not checked here. They are checked on a
 * GPU only. */
#include "cuda_ops.h"

namespace {

facs_status not_emulated(const char *op, const char *library)
{
    return facs_fail(FACS_ERR_UNSUPPORTED,
                     "%s (cuda): not emulated: needs %s on a GPU (this is the CPU emulation of the CUDA backend, "
                     "tests/cuda_emu)",
                     op, library);
}

} // namespace

facs_status facs_cuda_cudnn(cudnnHandle_t *out)
{
    *out = nullptr;
    return not_emulated("cuDNN handle", "cuDNN");
}

facs_status facs_cuda_conv2d_forward(facs_ctx *, const facs_conv2d_params *, const facs_tensor *, const facs_tensor *,
                                     const facs_tensor *, facs_tensor *)
{
    return not_emulated("conv2d forward", "cuDNN");
}

facs_status facs_cuda_conv2d_backward(facs_ctx *, const facs_conv2d_params *, const facs_tensor *,
                                      const facs_tensor *, const facs_tensor *, facs_tensor *, facs_tensor *,
                                      facs_tensor *)
{
    return not_emulated("conv2d backward", "cuDNN");
}
