/* cuDNN as the CPU EMULATION of the CUDA runtime (tests/cuda_emu) knows it:
 * the types kernels/cuda/cuda_check.h names, nothing else. cuDNN is not
 * emulated: conv2d.cu and handles.cu are left out of the emulation build and
 * their entries fail (not_emulated.cpp). */
#ifndef FACS_CUDA_EMU_CUDNN_H
#define FACS_CUDA_EMU_CUDNN_H

#include <cuda_runtime.h>

typedef enum {
    CUDNN_STATUS_SUCCESS = 0,
    CUDNN_STATUS_NOT_INITIALIZED = 1001,
    CUDNN_STATUS_NOT_SUPPORTED = 3000
} cudnnStatus_t;

struct cudnnContext;
typedef struct cudnnContext *cudnnHandle_t;

static inline const char *cudnnGetErrorString(cudnnStatus_t status)
{
    switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED (cuDNN is not emulated)";
    }
    return "CUDNN_STATUS_UNKNOWN";
}

#endif
