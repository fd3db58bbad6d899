/* Backend lookup: the table of each device. */
#include "backend.h"

#ifdef FACS_WITH_CUDA
extern const facs_backend facs_cuda_backend;
int facs_cuda_probe(void);
#endif

int facs_cuda_available(void)
{
#ifdef FACS_WITH_CUDA
    return facs_cuda_probe();
#else
    return 0;
#endif
}

const facs_backend *facs_backend_get(facs_device device)
{
    if (device == FACS_DEVICE_CPU)
        return &facs_cpu_backend;
    if (device == FACS_DEVICE_META)
        return &facs_meta_backend;
    if (device != FACS_DEVICE_CUDA) {
        facs_fail(FACS_ERR_ARG, "unknown device %d", (int)device);
        return NULL;
    }
#ifdef FACS_WITH_CUDA
    if (facs_cuda_available())
        return &facs_cuda_backend;
    facs_fail(FACS_ERR_BACKEND, "no usable CUDA device in this process");
#else
    facs_fail(FACS_ERR_UNSUPPORTED, "this build has no CUDA backend (configure with -DFACS_CUDA=ON)");
#endif
    return NULL;
}
