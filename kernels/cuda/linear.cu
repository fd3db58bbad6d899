/* linear on CUDA (contract in backend.h; CPU twin: cpu/linear.c) with our own
 * tiled matrix product rather than cuBLAS.
 *
 * Why not cuBLAS: linking it costs every process of a CUDA build 0.5 s and
 * 210 MB of resident memory at start (its libraries' initialisers), whether
 * or not it ever runs a GPU op, and the toolkit's only linear layers are
 * classifier heads (2048 -> 1000 at most), where a simple tiled kernel is
 * plenty. Our kernel also sums in a fixed order by construction, and runs on
 * the CPU emulation (tests/cuda_emu) like the other kernels.
 *
 * x (N, IN), w (OUT, IN), y and dy (N, OUT) are row-major matrices in NHWC
 * storage: y = x w^T (+ b), dx = dy w, dw += dy^T x, db += column sums of dy. */
#include <stddef.h>

#include "pixel_sums.cuh"

namespace {

constexpr int kTile = 16;

/* A matrix operand read through strides, so that one kernel serves the three
 * products: element (r, c) at data[r * row + c * col]. */
struct Operand {
    const float *data;
    size_t row, col;
    __device__ float at(int r, int c) const { return data[(size_t)r * row + (size_t)c * col]; }
};

/* c (rows, cols, row-major) = a (rows, depth) b (depth, cols), or += when
 * accumulate. One thread per output; 16x16 tiles of a and b go through shared
 * memory; each output sums its depth terms in index order. A block takes
 * the row tiles blockIdx.y, + gridDim.y, ...: gridDim.y stops at 65535, and a
 * batch may have more than that many tiles of rows. */
__global__ void matmul(Operand a, Operand b, int rows, int cols, int depth, int accumulate, float *__restrict__ c)
{
    __shared__ float ta[kTile][kTile];
    __shared__ float tb[kTile][kTile + 1];
    const int col = blockIdx.x * kTile + threadIdx.x;
    for (long long row0 = (long long)blockIdx.y * kTile; row0 < rows; row0 += (long long)gridDim.y * kTile) {
        const int r = (int)row0 + threadIdx.y;
        float sum = 0.0f;
        for (int k0 = 0; k0 < depth; k0 += kTile) {
            int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
            ta[threadIdx.y][threadIdx.x] = r < rows && ka < depth ? a.at(r, ka) : 0.0f;
            tb[threadIdx.y][threadIdx.x] = kb < depth && col < cols ? b.at(kb, col) : 0.0f;
            __syncthreads();
            for (int k = 0; k < kTile; k++)
                sum += ta[threadIdx.y][k] * tb[k][threadIdx.x];
            __syncthreads();
        }
        if (r < rows && col < cols) {
            size_t at = (size_t)r * cols + col;
            c[at] = accumulate ? c[at] + sum : sum;
        }
    }
}

facs_status launch_matmul(Operand a, Operand b, int rows, int cols, int depth, int accumulate, float *c)
{
    int device, max_grid_y;
    FACS_CUDA_CHECK(cudaGetDevice(&device));
    FACS_CUDA_CHECK(cudaDeviceGetAttribute(&max_grid_y, cudaDevAttrMaxGridDimY, device));
    int row_tiles = (rows + kTile - 1) / kTile;
    dim3 block(kTile, kTile);
    dim3 grid((unsigned)((cols + kTile - 1) / kTile), (unsigned)(row_tiles < max_grid_y ? row_tiles : max_grid_y));
    matmul<<<grid, block>>>(a, b, rows, cols, depth, accumulate, c);
    FACS_CUDA_CHECK_LAUNCH("matmul");
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
    /* y (N, OUT) = x (N, IN) w^T: w^T's (k, o) is w[o * IN + k]. */
    FACS_TRY(launch_matmul(Operand{facs_f32(x), (size_t)in, 1}, Operand{facs_f32(w), 1, (size_t)in}, n, out, in, 0,
                           facs_f32(y)));
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
    /* dx (N, IN) = dy (N, OUT) w (OUT, IN). */
    if (dx)
        FACS_TRY(launch_matmul(Operand{facs_f32(dy), (size_t)out, 1}, Operand{facs_f32(w), (size_t)in, 1}, n, in, out,
                               0, facs_f32(dx)));
    /* dw (OUT, IN) += dy^T x: dy^T's (o, i) is dy[i * OUT + o]. */
    if (dw)
        FACS_TRY(launch_matmul(Operand{facs_f32(dy), 1, (size_t)out}, Operand{facs_f32(x), (size_t)in, 1}, out, in, n,
                               1, facs_f32(dw)));
    if (db)
        FACS_TRY(accumulate_column_sums(ctx, facs_f32(dy), n, out, facs_f32(db)));
    return FACS_OK;
}
