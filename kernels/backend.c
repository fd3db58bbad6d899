/* Backend lookup: the table of each device. */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FACS_WITH_CUDA
extern const facs_backend facs_cuda_backend;
int facs_cuda_probe(void);
facs_status facs_cuda_select(int index);
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

facs_status facs_device_parse(const char *text, facs_device *device, int *index)
{
    *index = 0;
    if (!strcmp(text, "cpu")) {
        *device = FACS_DEVICE_CPU;
        return FACS_OK;
    }
    if (strncmp(text, "cuda", 4) || (text[4] && text[4] != ':'))
        return facs_fail(FACS_ERR_ARG, "--device %s: expected cpu, cuda or cuda:N", text);
    if (text[4] == ':') {
        char *end;
        errno = 0;
        long n = strtol(text + 5, &end, 10);
        if (end == text + 5 || *end || errno || n < 0 || n > 1023)
            return facs_fail(FACS_ERR_ARG, "--device %s: N in cuda:N must be a device index 0, 1, ...", text);
        *index = (int)n;
    }
#ifndef FACS_WITH_CUDA
    return facs_fail(FACS_ERR_ARG, "--device %s: this build has no CUDA backend (configure with -DFACS_CUDA=ON)", text);
#else
    *device = FACS_DEVICE_CUDA;
    return FACS_OK;
#endif
}

facs_status facs_device_select(facs_device device, int index)
{
    if (device != FACS_DEVICE_CUDA)
        return FACS_OK;
#ifdef FACS_WITH_CUDA
    if (!facs_cuda_available())
        return facs_fail(FACS_ERR_BACKEND, "--device cuda: no usable CUDA device in this process");
    return facs_cuda_select(index);
#else
    (void)index;
    return facs_fail(FACS_ERR_ARG, "this build has no CUDA backend (configure with -DFACS_CUDA=ON)");
#endif
}

const char *facs_device_label(facs_device device, int index, char *buf, size_t size)
{
    if (device == FACS_DEVICE_CUDA)
        snprintf(buf, size, "cuda:%d", index);
    else
        snprintf(buf, size, "%s", facs_device_name(device));
    return buf;
}
