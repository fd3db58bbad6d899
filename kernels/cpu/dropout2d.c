/* dropout2d: one mask value per (sample, channel), broadcast over H and W, so
 * applying the (N, C, 1, 1) mask is scale_channels with the mask as scale. */
#include "cpu_ops.h"

facs_status facs_cpu_dropout2d_forward(facs_ctx *ctx, float prob, uint64_t seed, const facs_tensor *x,
                                       facs_tensor *mask, facs_tensor *y)
{
    /* prob = 1 drops every channel (PyTorch zeroes the output); never divide by 0. */
    const float keep_scale = prob < 1.0f ? 1.0f / (1.0f - prob) : 0.0f;
    const int64_t count = (int64_t)x->n * x->c, first = (int64_t)ctx->batch_offset * x->c;
    float *m = facs_f32(mask);
    for (int64_t i = 0; i < count; i++)
        m[i] = facs_rng_uniform(seed, (uint64_t)(first + i)) < prob ? 0.0f : keep_scale;
    return facs_cpu_scale_channels_forward(ctx, x, mask, y);
}

facs_status facs_cpu_dropout2d_backward(facs_ctx *ctx, const facs_tensor *mask, const facs_tensor *dy,
                                        facs_tensor *dx)
{
    return dx ? facs_cpu_scale_channels_forward(ctx, dy, mask, dx) : FACS_OK;
}
