/* cuBLAS as the CPU EMULATION of the CUDA runtime (tests/cuda_emu) knows it:
 * the handle and status types only. cuBLAS is not emulated: linear.cu and
 * handles.cu are left out of the emulation build and their entries fail
 * (not_emulated.cpp). */
#ifndef FACS_CUDA_EMU_CUBLAS_V2_H
#define FACS_CUDA_EMU_CUBLAS_V2_H

#include <cuda_runtime.h>

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_NOT_SUPPORTED = 15
} cublasStatus_t;

struct cublasContext;
typedef struct cublasContext *cublasHandle_t;

static inline const char *cublasGetStatusString(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED (cuBLAS is not emulated)";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

#endif
