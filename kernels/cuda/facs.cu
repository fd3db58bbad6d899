/* The FACS op on CUDA (paper Eq. 1-3; contract in backend.h). The per-element
 * arithmetic comes from facs_fusion_math.h, the same functions the CPU runs.
 * Where an image fits a cluster's shared memory (sm_90 on), the resident
 * kernels of facs_resident.cu run instead of the classic ones below, which
 * read x twice per pass; dW and db come from here either way.
 *
 * Forward: z = spatial mean of x (a pixel reduction, kept for the backward),
 * s = W z + b and p = sigmoid(s) (one warp per (n, output channel)), then the
 * fusion at every (pixel, output channel). Backward: dL/dp by a pixel
 * reduction, ds = dL/dp p (1 - p), dW += ds z^T with the forward's z, db +=
 * sum ds, dz = W^T ds, and dx per chunk = the fusion's share + dz / HW.
 *
 * Every sum is taken in a fixed order by one thread or one warp (no atomics),
 * so results are bitwise reproducible from run to run. */
#include <stddef.h>
#include <stdint.h>

#include "../facs_fusion_math.h"
#include "facs_resident.cuh"
#include "pixel_sums.cuh"

namespace {

constexpr unsigned kThreads = 256;

struct Shape {
    int n, c, hw, co, r;
};

Shape shape_of(const facs_tensor *x, const facs_tensor *y)
{
    return Shape{x->n, x->c, x->h * x->w, y->c, x->c / y->c};
}

facs_status scratch_floats(facs_ctx *ctx, const char *op, size_t count, float **out)
{
    return facs_cuda_scratch(ctx, op, count * sizeof(float), (void **)out);
}

/* dy * dy/dp at one pixel of output channel i: its pixel sum is dL/dp. */
struct DprobTerm {
    const float *x, *dy, *prob;
    int hw, c, co, r, weighted;
    float threshold;
    __device__ float operator()(int n, int pix, int i) const
    {
        size_t row = (size_t)n * hw + pix;
        const float *chunk = x + row * c + (size_t)r * i;
        float max = facs_chunk_max(chunk, r);
        float mean = facs_chunk_mean(chunk, r);
        return dy[row * co + i] * facs_fusion_dprob(weighted, threshold, prob[(size_t)n * co + i], max, mean);
    }
};

/* out[n, ch] = a pixel sum / divisor, times p (1 - p) when prob is given:
 * the sigmoid's derivative turns dL/dp into dL/ds. */
struct ScaledStore {
    float divisor;
    const float *prob;
    float *out;
    __device__ void operator()(size_t idx, float sum) const
    {
        sum /= divisor;
        if (prob)
            sum *= prob[idx] * (1.0f - prob[idx]);
        out[idx] = sum;
    }
};

/* prob[n, i] = sigmoid(w[i, :] . z[n, :] + b[i]): one warp per (n, i), lanes
 * striding over the C inputs so the row of w is read coalesced. */
__global__ void blend_sigmoid(const float *__restrict__ z, const float *__restrict__ w, const float *__restrict__ b,
                              size_t total, int c, int co, float *__restrict__ prob)
{
    const unsigned lane = threadIdx.x % 32;
    const size_t warps = (size_t)gridDim.x * blockDim.x / 32;
    for (size_t idx = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; idx < total; idx += warps) {
        size_t n = idx / co, i = idx % co;
        const float *zn = z + n * c, *wi = w + i * c;
        float sum = 0.0f;
        for (int k = (int)lane; k < c; k += 32)
            sum += wi[k] * zn[k];
        for (int offset = 16; offset > 0; offset /= 2)
            sum += __shfl_down_sync(0xffffffffu, sum, offset);
        if (lane == 0)
            prob[idx] = facs_sigmoid_value(sum + (b ? b[i] : 0.0f));
    }
}

/* y[n, pix, i] from the chunk x[n, pix, R i .. R i + R): one thread per output. */
__global__ void fuse_forward(const float *__restrict__ x, const float *__restrict__ prob, int hw, int c, int co, int r,
                             int weighted, float threshold, size_t total, float *__restrict__ y)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t row = idx / co, i = idx % co, n = row / hw;
        const float *chunk = x + row * c + r * i;
        float max = facs_chunk_max(chunk, r);
        float mean = facs_chunk_mean(chunk, r);
        y[idx] = facs_fusion_value(weighted, threshold, prob[n * co + i], max, mean);
    }
}

/* dw[i, k] += sum_n ds[n, i] z[n, k]: one thread per weight. */
__global__ void weight_grad(const float *__restrict__ ds, const float *__restrict__ z, int n, int c, int co,
                            float *__restrict__ dw)
{
    size_t total = (size_t)co * c;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t i = idx / c, k = idx % c;
        float sum = 0.0f;
        for (int m = 0; m < n; m++)
            sum += ds[(size_t)m * co + i] * z[(size_t)m * c + k];
        dw[idx] += sum;
    }
}

/* db[i] += sum_n ds[n, i]. */
__global__ void bias_grad(const float *__restrict__ ds, int n, int co, float *__restrict__ db)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < co; i += gridDim.x * blockDim.x) {
        float sum = 0.0f;
        for (int m = 0; m < n; m++)
            sum += ds[(size_t)m * co + i];
        db[i] += sum;
    }
}

/* dz_hw[n, k] = (w[:, k] . ds[n, :]) / HW: the mean's share of dx, the same at
 * every pixel. */
__global__ void mean_grad(const float *__restrict__ ds, const float *__restrict__ w, size_t total, int c, int co,
                          float hw, float *__restrict__ dz_hw)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t n = idx / c, k = idx % c;
        float sum = 0.0f;
        for (int i = 0; i < co; i++)
            sum += w[(size_t)i * c + k] * ds[n * co + i];
        dz_hw[idx] = sum / hw;
    }
}

/* dx of the chunk behind dy[n, pix, i]: every channel gets dz / HW and the
 * average's share, the first maximum also the max's share. One thread per
 * chunk, so each dx element is written exactly once. */
__global__ void fuse_backward(const float *__restrict__ x, const float *__restrict__ prob,
                              const float *__restrict__ dy, const float *__restrict__ dz_hw, int hw, int c, int co,
                              int r, int weighted, float threshold, size_t total, float *__restrict__ dx)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t row = idx / co, i = idx % co, n = row / hw;
        const float *chunk = x + row * c + r * i;
        float cmax, cavg;
        facs_fusion_coeffs(weighted, threshold, prob[n * co + i], &cmax, &cavg);
        float g = dy[idx];
        float g_avg = g * cavg / (float)r;
        int best = facs_chunk_argmax(chunk, r);
        const float *dz_chunk = dz_hw + n * c + r * i;
        float *out = dx + row * c + r * i;
        for (int k = 0; k < r; k++)
            out[k] = dz_chunk[k] + g_avg + (k == best ? g * cmax : 0.0f);
    }
}

} // namespace

facs_status facs_cuda_facs_forward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                   const facs_tensor *w, const facs_tensor *b, facs_tensor *y, facs_tensor *zt,
                                   facs_tensor *prob)
{
    const char *op = "facs forward (cuda)";
    Shape s = shape_of(x, y);
    int weighted = p->fusion == FACS_FUSION_WEIGHTED;
    float *z = facs_f32(zt), *partial;
    FacsResident plan;
    if (facs_cuda_resident_plan(s.n, s.hw, s.c, s.co, p, false, &plan))
        return facs_cuda_resident_forward(plan, facs_f32(x), facs_f32(w), b ? facs_f32(b) : NULL, z, facs_f32(prob),
                                          facs_f32(y));
    FACS_TRY(scratch_floats(ctx, op, facs_cuda_pixel_sum_floats(s.n, s.hw, s.c), &partial));

    FACS_TRY(facs_cuda_pixel_sums(FacsPixelValue{facs_f32(x), s.hw, s.c}, s.n, s.hw, s.c, partial,
                                       ScaledStore{(float)s.hw, NULL, z}));

    size_t descriptors = (size_t)s.n * s.co;
    blend_sigmoid<<<facs_cuda_blocks(descriptors * 32, kThreads), kThreads>>>(z, facs_f32(w), b ? facs_f32(b) : NULL,
                                                                        descriptors, s.c, s.co, facs_f32(prob));
    FACS_CUDA_CHECK_LAUNCH("blend_sigmoid");

    size_t outputs = facs_tensor_numel(y);
    fuse_forward<<<facs_cuda_blocks(outputs, kThreads), kThreads>>>(facs_f32(x), facs_f32(prob), s.hw, s.c, s.co, s.r,
                                                              weighted, p->threshold, outputs, facs_f32(y));
    FACS_CUDA_CHECK_LAUNCH("fuse_forward");
    return FACS_OK;
}

facs_status facs_cuda_facs_backward(facs_ctx *ctx, const facs_fuse_params *p, const facs_tensor *x,
                                    const facs_tensor *w, const facs_tensor *z, const facs_tensor *prob,
                                    const facs_tensor *dy, facs_tensor *dx, facs_tensor *dw, facs_tensor *db)
{
    if (!dx && !dw && !db)
        return FACS_OK;
    const char *op = "facs backward (cuda)";
    Shape s = shape_of(x, dy);
    int weighted = p->fusion == FACS_FUSION_WEIGHTED;
    float *ds;
    FACS_TRY(scratch_floats(ctx, op, (size_t)s.n * s.co, &ds));
    FacsResident plan;
    bool resident = facs_cuda_resident_plan(s.n, s.hw, s.c, s.co, p, true, &plan);
    if (resident) {
        FACS_TRY(facs_cuda_resident_backward(plan, facs_f32(x), facs_f32(w), facs_f32(prob), facs_f32(dy), ds,
                                             dx ? facs_f32(dx) : NULL));
    } else {
        float *partial;
        FACS_TRY(scratch_floats(ctx, op, facs_cuda_pixel_sum_floats(s.n, s.hw, s.co), &partial));
        DprobTerm term{facs_f32(x), facs_f32(dy), facs_f32(prob), s.hw, s.c, s.co, s.r, weighted, p->threshold};
        FACS_TRY(facs_cuda_pixel_sums(term, s.n, s.hw, s.co, partial, ScaledStore{1.0f, facs_f32(prob), ds}));
    }

    if (dw) {
        weight_grad<<<facs_cuda_blocks((size_t)s.co * s.c, kThreads), kThreads>>>(ds, facs_f32(z), s.n, s.c, s.co,
                                                                                facs_f32(dw));
        FACS_CUDA_CHECK_LAUNCH("weight_grad");
    }
    if (db) {
        bias_grad<<<facs_cuda_blocks((size_t)s.co, kThreads), kThreads>>>(ds, s.n, s.co, facs_f32(db));
        FACS_CUDA_CHECK_LAUNCH("bias_grad");
    }
    if (dx && !resident) {
        float *dz_hw;
        size_t inputs = (size_t)s.n * s.c;
        FACS_TRY(scratch_floats(ctx, op, inputs, &dz_hw));
        mean_grad<<<facs_cuda_blocks(inputs, kThreads), kThreads>>>(ds, facs_f32(w), inputs, s.c, s.co, (float)s.hw,
                                                                dz_hw);
        FACS_CUDA_CHECK_LAUNCH("mean_grad");
        size_t chunks = facs_tensor_numel(dy);
        unsigned blocks = facs_cuda_blocks(chunks, kThreads);
        fuse_backward<<<blocks, kThreads>>>(facs_f32(x), facs_f32(prob), facs_f32(dy), dz_hw, s.hw, s.c, s.co, s.r,
                                            weighted, p->threshold, chunks, facs_f32(dx));
        FACS_CUDA_CHECK_LAUNCH("fuse_backward");
    }
    return FACS_OK;
}
