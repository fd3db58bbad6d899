/* Channel concatenation on NHWC data: every pixel of the output is the inputs'
 * channel vectors of that pixel laid end to end, so forward and backward are
 * one contiguous copy per input and pixel. */
#include <string.h>

#include "cpu_ops.h"

/* Below this many floats the copies finish faster than threads start. */
#define PARALLEL_MIN 32768

facs_status facs_cpu_concat_forward(facs_ctx *ctx, int count, const facs_tensor *const *xs, facs_tensor *y)
{
    (void)ctx;
    const size_t pixels = (size_t)y->n * y->h * y->w;
    const int total = y->c;
    float *dst = facs_f32(y);
#pragma omp parallel for schedule(static) if (pixels * (size_t)total > PARALLEL_MIN)
    for (size_t p = 0; p < pixels; p++) {
        float *out = dst + p * total;
        for (int i = 0; i < count; i++) {
            const int c = xs[i]->c;
            memcpy(out, facs_f32(xs[i]) + p * c, (size_t)c * sizeof *out);
            out += c;
        }
    }
    return FACS_OK;
}

facs_status facs_cpu_concat_backward(facs_ctx *ctx, int count, const facs_tensor *const *xs, const facs_tensor *dy,
                                     facs_tensor *const *dxs)
{
    (void)ctx;
    const size_t pixels = (size_t)dy->n * dy->h * dy->w;
    const int total = dy->c;
    const float *src = facs_f32(dy);
#pragma omp parallel for schedule(static) if (pixels * (size_t)total > PARALLEL_MIN)
    for (size_t p = 0; p < pixels; p++) {
        const float *in = src + p * total;
        for (int i = 0; i < count; i++) {
            const int c = xs[i]->c;
            if (dxs[i])
                memcpy(facs_f32(dxs[i]) + p * c, in, (size_t)c * sizeof *in);
            in += c;
        }
    }
    return FACS_OK;
}
