/* dropout2d: one mask value per (sample, channel), broadcast over H and W.
 * Plain loops: in NHWC every pixel row of C channels is multiplied by the
 * sample's row of the mask. */
#include "cpu_ops.h"

/* Below this many elements the OpenMP fork costs more than the loop. */
#define PARALLEL_MIN 32768

/* out = in * mask, for in/out (N, C, H, W) NHWC and mask (N, C, 1, 1). */
static void scale_rows(const facs_tensor *shape, const float *mask, const float *in, float *out)
{
    const int64_t C = shape->c, pixels = (int64_t)shape->h * shape->w, rows = shape->n * pixels;
#pragma omp parallel for schedule(static) if (rows * C > PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *m = mask + (r / pixels) * C;
        const float *src = in + r * C;
        float *dst = out + r * C;
        for (int64_t c = 0; c < C; c++)
            dst[c] = src[c] * m[c];
    }
}

facs_status facs_cpu_dropout2d_forward(facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                       facs_tensor *mask, facs_tensor *y)
{
    (void)ctx;
    /* prob = 1 drops every channel (PyTorch zeroes the output); never divide by 0. */
    const float keep_scale = prob < 1.0f ? 1.0f / (1.0f - prob) : 0.0f;
    const int64_t count = (int64_t)x->n * x->c;
    float *m = facs_f32(mask);
    for (int64_t i = 0; i < count; i++)
        m[i] = facs_rng_uniform(seed, (uint64_t)i) < prob ? 0.0f : keep_scale;
    scale_rows(x, m, facs_f32(x), facs_f32(y));
    return FACS_OK;
}

facs_status facs_cpu_dropout2d_backward(facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                        facs_tensor *dx)
{
    (void)ctx;
    if (dx)
        scale_rows(dy, facs_f32(mask), facs_f32(dy), facs_f32(dx));
    return FACS_OK;
}
