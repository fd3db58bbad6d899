#include "impl_names.h"

#include <stdio.h>

#ifdef FACS_WITH_CUDA
#include "cuda/facs_kernels.h"
#endif

facs_status facs_conv2d_impl_names(facs_device device, const facs_conv2d_params *p, const facs_tensor *x,
                                   const facs_tensor *w, int with_bias, facs_conv2d_impl *out)
{
#ifdef FACS_WITH_CUDA
    if (device == FACS_DEVICE_CUDA)
        return facs_cuda_conv2d_impl_names(p, x, w, out); /* the bias changes no cuDNN algorithm */
#endif
    (void)device;
    return facs_cpu_conv2d_impl_names(p, x, w, with_bias, out);
}

void facs_facs_kernel_names(facs_device device, int n, int hw, int c, int co, const facs_fuse_params *p,
                            int backward, char *buf, size_t size)
{
#ifdef FACS_WITH_CUDA
    if (device == FACS_DEVICE_CUDA) {
        facs_cuda_facs_kernels(n, hw, c, co, p, backward, buf, size);
        return;
    }
#endif
    (void)device, (void)n, (void)hw, (void)c, (void)co, (void)p, (void)backward;
    snprintf(buf, size, "cpu");
}
