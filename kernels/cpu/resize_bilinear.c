/* Bilinear resize on NHWC data with PyTorch 1.13's F.interpolate(mode="bilinear")
 * arithmetic. oneDNN's resampling has no align_corners=True, so both modes use
 * these loops. Each output row and column reads two source taps; the taps and
 * their weights are computed once per call into scratch tables. */
#include <omp.h>
#include <string.h>

#include "cpu_ops.h"

typedef struct {
    int i0, i1;     /* source indices, i1 = i0 + 1 except at the last one */
    float l0, l1;   /* their weights, l0 + l1 = 1 */
} lerp_tap;

/* PyTorch's CPU kernel computes the scale in float but the source coordinate
 * in double (its acc_type on the CPU), then rounds the weights to float;
 * doing the same keeps our outputs within an ulp or two of its outputs. */
static void compute_taps(int in, int out, int align_corners, lerp_tap *taps)
{
    float scale;
    if (align_corners)
        scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else
        scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        if (in == out) {
            taps[d] = (lerp_tap){d, d, 1.0f, 0.0f};
            continue;
        }
        double src = align_corners ? (double)scale * d : (double)scale * (d + 0.5) - 0.5;
        if (src < 0.0)
            src = 0.0;
        int i0 = (int)src;
        /* Float rounding of the scale can never push us past the edge. */
        if (i0 > in - 1)
            i0 = in - 1;
        float l1 = (float)(src - i0);
        taps[d] = (lerp_tap){i0, i0 + (i0 < in - 1), 1.0f - l1, l1};
    }
}

static lerp_tap *taps_for(facs_ctx *ctx, int in_h, int in_w, int out_h, int out_w, int align_corners)
{
    lerp_tap *taps = facs_ctx_scratch(ctx, (size_t)(out_h + out_w) * sizeof *taps);
    if (!taps) {
        facs_fail(FACS_ERR_MEMORY, "resize_bilinear: no scratch memory for %d weights", out_h + out_w);
        return NULL;
    }
    compute_taps(in_h, out_h, align_corners, taps);
    compute_taps(in_w, out_w, align_corners, taps + out_h);
    return taps;
}

facs_status facs_cpu_resize_bilinear_forward(facs_ctx *ctx, int align_corners, const facs_tensor *x,
                                             facs_tensor *y)
{
    const int C = x->c, H = x->h, W = x->w, OH = y->h, OW = y->w, N = x->n;
    lerp_tap *taps = taps_for(ctx, H, W, OH, OW, align_corners);
    if (!taps)
        return FACS_ERR_MEMORY;
    const lerp_tap *th = taps, *tw = taps + OH;
    const float *src = facs_f32(x);
    float *dst = facs_f32(y);
#pragma omp parallel for collapse(2) schedule(static) if (facs_tensor_numel(y) > 16384)
    for (int n = 0; n < N; n++)
        for (int oh = 0; oh < OH; oh++) {
            const lerp_tap v = th[oh];
            const float *row0 = src + ((size_t)n * H + v.i0) * W * C;
            const float *row1 = src + ((size_t)n * H + v.i1) * W * C;
            float *out = dst + ((size_t)n * OH + oh) * OW * C;
            for (int ow = 0; ow < OW; ow++, out += C) {
                const lerp_tap u = tw[ow];
                const float *a = row0 + (size_t)u.i0 * C, *b = row0 + (size_t)u.i1 * C;
                const float *c = row1 + (size_t)u.i0 * C, *d = row1 + (size_t)u.i1 * C;
                /* PyTorch's order: interpolate along W in each row, then along H. */
#pragma omp simd
                for (int k = 0; k < C; k++)
                    out[k] = (a[k] * u.l0 + b[k] * u.l1) * v.l0 + (c[k] * u.l0 + d[k] * u.l1) * v.l1;
            }
        }
    return FACS_OK;
}

/* One pass per destination: a fused pass over all four destinations of an
 * output pixel measured 2x slower on 60x60x512 -> 30x30, whose destinations
 * lie a multiple of 4 KiB apart (4K aliasing between stores and loads). */
static inline void scatter(float *restrict dst, const float *restrict g, float weight, int count)
{
#pragma omp simd
    for (int k = 0; k < count; k++)
        dst[k] += weight * g[k];
}

facs_status facs_cpu_resize_bilinear_backward(facs_ctx *ctx, int align_corners, const facs_tensor *dy,
                                              facs_tensor *dx)
{
    if (!dx)
        return FACS_OK;
    const int C = dx->c, H = dx->h, W = dx->w, OH = dy->h, OW = dy->w, N = dx->n;
    lerp_tap *taps = taps_for(ctx, H, W, OH, OW, align_corners);
    if (!taps)
        return FACS_ERR_MEMORY;
    const lerp_tap *th = taps, *tw = taps + OH;
    const float *grad = facs_f32(dy);
    float *out = facs_f32(dx);
    const size_t image = (size_t)H * W * C;
#pragma omp parallel for schedule(static) if (facs_tensor_numel(dx) > 65536)
    for (int n = 0; n < N; n++)
        memset(out + n * image, 0, image * sizeof *out);

    /* Several output pixels add into one input pixel, so threads own disjoint
     * (image, channel block) pairs and never share a destination. Channels are
     * split only as far as needed to feed every thread, in blocks of at least
     * 16 floats (one cache line) so the inner loops stay contiguous. */
    int blocks = (2 * omp_get_max_threads() + N - 1) / N;
    int max_blocks = (C + 15) / 16;
    if (blocks > max_blocks)
        blocks = max_blocks;
    if (blocks < 1)
        blocks = 1;
    const int per_block = (C + blocks - 1) / blocks;
    blocks = (C + per_block - 1) / per_block;
#pragma omp parallel for collapse(2) schedule(static) if (facs_tensor_numel(dy) > 16384)
    for (int n = 0; n < N; n++)
        for (int blk = 0; blk < blocks; blk++) {
            const int k0 = blk * per_block;
            const int count = C - k0 < per_block ? C - k0 : per_block;
            float *img = out + n * image + k0;
            const float *g = grad + (size_t)n * OH * OW * C + k0;
            for (int oh = 0; oh < OH; oh++) {
                const lerp_tap v = th[oh];
                float *row0 = img + (size_t)v.i0 * W * C, *row1 = img + (size_t)v.i1 * W * C;
                for (int ow = 0; ow < OW; ow++, g += C) {
                    const lerp_tap u = tw[ow];
                    scatter(row0 + (size_t)u.i0 * C, g, v.l0 * u.l0, count);
                    scatter(row0 + (size_t)u.i1 * C, g, v.l0 * u.l1, count);
                    scatter(row1 + (size_t)u.i0 * C, g, v.l1 * u.l0, count);
                    scatter(row1 + (size_t)u.i1 * C, g, v.l1 * u.l1, count);
                }
            }
        }
    return FACS_OK;
}
