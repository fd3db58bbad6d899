/* linear on CUDA through cuBLAS (contract in backend.h; CPU twin: cpu/linear.c).
 *
 * x (N, IN), w (OUT, IN), y and dy (N, OUT) are plain row-major matrices in
 * NHWC storage. cuBLAS is column-major, and a row-major (r, c) buffer read as
 * column-major is its (c, r) transpose, so each product is computed for the
 * transposed result: y^T = w x^T, dx^T = w^T dy^T, dw^T = x^T dy. No copies.
 *
 * The handle runs in pedantic math mode: no TF32 or reduced-precision tensor
 * cores, so results stay within float rounding of the CPU's. The bias
 * gradient is our own two-pass column sum, whose order is fixed. */
#include <stddef.h>

#include <cublas_v2.h>

#include "pixel_sums.cuh"

namespace {

facs_status cublas_status(cublasStatus_t err, const char *call, const char *file, int line)
{
    if (err == CUBLAS_STATUS_SUCCESS)
        return FACS_OK;
    return facs_fail(FACS_ERR_BACKEND, "%s failed: %s at %s:%d", call, cublasGetStatusString(err), file, line);
}

#define FACS_CUBLAS_CHECK(call)                                                      \
    do {                                                                             \
        facs_status facs_cublas_s_ = cublas_status((call), #call, __FILE__, __LINE__); \
        if (facs_cublas_s_ != FACS_OK)                                               \
            return facs_cublas_s_;                                                   \
    } while (0)

/* The process handle, set up for every call: other code shares it, so the
 * modes this file relies on are not assumed to have survived. */
facs_status linear_handle(cublasHandle_t *out)
{
    FACS_TRY(facs_cuda_cublas(out));
    FACS_CUBLAS_CHECK(cublasSetMathMode(*out, CUBLAS_PEDANTIC_MATH));
    FACS_CUBLAS_CHECK(cublasSetPointerMode(*out, CUBLAS_POINTER_MODE_HOST));
    return FACS_OK;
}

/* y[i, o] += b[o] over the rows x cols outputs. */
__global__ void add_bias(const float *__restrict__ b, size_t total, int cols, float *__restrict__ y)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        y[idx] += b[idx % cols];
}

/* out[col] += the column sums of m (rows, cols): the rows as one image's pixels. */
facs_status accumulate_column_sums(facs_ctx *ctx, const float *m, int rows, int cols, float *out)
{
    void *partial;
    FACS_TRY(facs_cuda_scratch(ctx, "linear backward (cuda)",
                               facs_cuda_pixel_sum_floats(1, rows, cols) * sizeof(float), &partial));
    return facs_cuda_pixel_sums(FacsPixelValue{m, rows, cols}, 1, rows, cols, (float *)partial,
                                FacsSumAccumulate{out});
}

} // namespace

facs_status facs_cuda_linear_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                     const facs_tensor *b, facs_tensor *y)
{
    (void)ctx;
    const int n = x->n, in = x->c, out = w->n;
    cublasHandle_t h;
    FACS_TRY(linear_handle(&h));
    const float one = 1.0f, zero = 0.0f;
    /* y^T (OUT, N) = w (OUT, IN) x^T (IN, N); w's buffer reads as w^T, hence OP_T. */
    FACS_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, facs_f32(w), in, facs_f32(x), in,
                                  &zero, facs_f32(y), out));
    if (b) {
        size_t total = (size_t)n * out;
        add_bias<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(b), total, out, facs_f32(y));
        FACS_CUDA_CHECK_LAUNCH("add_bias");
    }
    return FACS_OK;
}

facs_status facs_cuda_linear_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w,
                                      const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db)
{
    const int n = x->n, in = x->c, out = w->n;
    if (!dx && !dw && !db)
        return FACS_OK;
    cublasHandle_t h;
    FACS_TRY(linear_handle(&h));
    const float one = 1.0f, zero = 0.0f;
    if (dx) {
        /* dx^T (IN, N) = w^T (IN, OUT) dy^T (OUT, N): both buffers already read transposed. */
        FACS_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, facs_f32(w), in,
                                      facs_f32(dy), out, &zero, facs_f32(dx), in));
    }
    if (dw) {
        /* dw^T (IN, OUT) += x^T (IN, N) dy (N, OUT); dy's buffer reads as dy^T, hence OP_T. */
        FACS_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, facs_f32(x), in, facs_f32(dy),
                                      out, &one, facs_f32(dw), in));
    }
    if (db)
        FACS_TRY(accumulate_column_sums(ctx, facs_f32(dy), n, out, facs_f32(db)));
    return FACS_OK;
}
