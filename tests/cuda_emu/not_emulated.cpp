/* The CUDA entries of the CPU emulation that need cuDNN (conv2d.cu and
 * handles.cu, which the emulation does not compile). The cuDNN handle fails
 * with FACS_ERR_UNSUPPORTED and says so; the convolutions stand in through
 * the CPU backend (below). */
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

/* Convolutions run the CPU backend's oneDNN entries on the emulated device
 * memory, which is host memory: whole networks then run end to end on the
 * emulated device (networks_cuda_emu), with every other op in our own
 * emulated kernels. cuDNN itself, and conv2d.cu's algorithm choice and
 * workspace, are checked on a GPU only (test_backend_ops reports the conv2d
 * cases "not emulated": the CPU against itself would prove nothing). */
facs_status facs_cuda_conv2d_forward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                     const facs_tensor *w, const facs_tensor *b, facs_tensor *y)
{
    return facs_cpu_backend.conv2d_forward(ctx, p, x, w, b, y);
}

facs_status facs_cuda_conv2d_backward(facs_ctx *ctx, const facs_conv2d_params *p, const facs_tensor *x,
                                      const facs_tensor *w, const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw,
                                      facs_tensor *db)
{
    return facs_cpu_backend.conv2d_backward(ctx, p, x, w, dy, dx, dw, db);
}
