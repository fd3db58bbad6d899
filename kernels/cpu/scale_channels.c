/* Per-channel scaling on NHWC data (squeeze-and-excitation): every pixel row
 * of C channels is multiplied by its image's row of s.
 *
 * ds sums dy * x over the pixels of an image. Each task owns one image and one
 * block of CBLOCK channels, accumulating in a stack array while it walks the
 * pixels: every ds entry has a single writer, so there are no atomics and the
 * result does not depend on the thread count. */
#include "cpu_ops.h"

/* Channels per ds task: their running sums stay on the stack. */
#define CBLOCK 64
/* Below this many elements the OpenMP fork costs more than the loop. */
#define PARALLEL_MIN 32768

/* out = in * s for in/out (N, C, H, W) and s (N, C, 1, 1). */
static void scale_rows(const facs_tensor *shape, const float *s, const float *in, float *out)
{
    const int64_t c = shape->c, pixels = (int64_t)shape->h * shape->w, rows = shape->n * pixels;
#pragma omp parallel for schedule(static) if (rows * c > PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *scale = s + (r / pixels) * c;
        const float *src = in + r * c;
        float *dst = out + r * c;
#pragma omp simd
        for (int64_t ch = 0; ch < c; ch++)
            dst[ch] = src[ch] * scale[ch];
    }
}

/* ds[n, c] = sum over the pixels of image n of dy * x. */
static void scale_grad(const facs_tensor *x, const float *xd, const float *dy, float *ds)
{
    const int c = x->c, blocks = (c + CBLOCK - 1) / CBLOCK;
    const int64_t pixels = (int64_t)x->h * x->w, tasks = (int64_t)x->n * blocks;
#pragma omp parallel for schedule(static) if ((int64_t)x->n * c * pixels > PARALLEL_MIN)
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t img = t / blocks;
        const int first = (int)(t % blocks) * CBLOCK, width = c - first < CBLOCK ? c - first : CBLOCK;
        float acc[CBLOCK] = {0};
        for (int64_t q = img * pixels; q < (img + 1) * pixels; q++) {
            const float *xr = xd + q * c + first, *gr = dy + q * c + first;
#pragma omp simd
            for (int k = 0; k < width; k++)
                acc[k] += gr[k] * xr[k];
        }
        for (int k = 0; k < width; k++)
            ds[img * c + first + k] = acc[k];
    }
}

facs_status facs_cpu_scale_channels_forward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                            facs_tensor *y)
{
    (void)ctx;
    scale_rows(x, facs_f32(s), facs_f32(x), facs_f32(y));
    return FACS_OK;
}

facs_status facs_cpu_scale_channels_backward(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *s,
                                             const facs_tensor *dy, facs_tensor *dx, facs_tensor *ds)
{
    (void)ctx;
    if (dx)
        scale_rows(dy, facs_f32(s), facs_f32(dy), facs_f32(dx));
    if (ds)
        scale_grad(x, facs_f32(x), facs_f32(dy), facs_f32(ds));
    return FACS_OK;
}
