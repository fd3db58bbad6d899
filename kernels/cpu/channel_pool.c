/* Channel pooling on NHWC data: at every pixel, output channel i reduces the
 * contiguous input channels [R i, R i + R). The reductions are the FACS op's
 * own (facs_fusion_math.h), so the chunks, the arithmetic and the tie rule
 * (first maximum) are those of FACS's Max and Avg branches; so is NaN: a
 * group holding a NaN pools to NaN and max backward sends the gradient to its
 * first NaN, as x.view(N, C/R, R, H, W).max(2) does. */
#include "../facs_fusion_math.h"
#include "cpu_ops.h"

/* Below this many input elements the OpenMP fork costs more than the loop. */
#define PARALLEL_MIN 32768

facs_status facs_cpu_channel_pool_forward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                          facs_tensor *y)
{
    (void)ctx;
    const int c = x->c, co = y->c, r = c / co;
    const int64_t pixels = (int64_t)x->n * x->h * x->w;
    const float *xd = facs_f32(x);
    float *yd = facs_f32(y);
    const int max = mode == FACS_CHANNEL_POOL_MAX;
#pragma omp parallel for schedule(static) if (pixels * c > PARALLEL_MIN)
    for (int64_t q = 0; q < pixels; q++)
        for (int i = 0; i < co; i++) {
            const float *chunk = xd + q * c + (int64_t)i * r;
            yd[q * co + i] = max ? facs_chunk_max(chunk, r) : facs_chunk_mean(chunk, r);
        }
    return FACS_OK;
}

facs_status facs_cpu_channel_pool_backward(facs_ctx *ctx, facs_channel_pool_mode mode, const facs_tensor *x,
                                           const facs_tensor *dy, facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    const int c = x->c, co = dy->c, r = c / co;
    const int64_t pixels = (int64_t)x->n * x->h * x->w;
    const float *xd = facs_f32(x), *gd = facs_f32(dy);
    float *dxd = facs_f32(dx);
    const int max = mode == FACS_CHANNEL_POOL_MAX;
#pragma omp parallel for schedule(static) if (pixels * c > PARALLEL_MIN)
    for (int64_t q = 0; q < pixels; q++)
        for (int i = 0; i < co; i++) {
            const int64_t first = q * c + (int64_t)i * r;
            const float g = gd[q * co + i], share = max ? 0.0f : g / (float)r;
            for (int k = 0; k < r; k++)
                dxd[first + k] = share;
            if (max)
                dxd[first + facs_chunk_argmax(xd + first, r)] = g;
        }
    return FACS_OK;
}
