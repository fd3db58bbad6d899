/* Bilinear resize on CUDA with PyTorch 1.13's F.interpolate(mode="bilinear")
 * arithmetic, both align_corners values (contract in backend.h; reference:
 * cpu/resize_bilinear.c, whose tap arithmetic is copied here).
 *
 * A small kernel first tabulates every output row's and column's two source
 * taps and weights, exactly as the CPU does: the scale in float (computed on
 * the host, as the CPU computes it), the source coordinate in double. Every
 * multiply and add that the CPU rounds separately is rounded separately here
 * too (the _rn intrinsics stop nvcc from fusing them into FMAs), so GPU and
 * CPU agree to the bit in the taps and, for a CPU build without FMA
 * contraction, in the results.
 *
 * Backward is a gather, with no atomics: one thread per input element sums
 * the weighted dy of the output pixels whose stencil touches it, in the order
 * in which the CPU's scatter adds them. The outputs that can touch input row
 * (column) i are those whose first tap is i - 1 or i; the first tap is a
 * monotone function of the output index, so the tabulating kernel finds that
 * span by binary search over the exact tap arithmetic. The gather still
 * tests each output's taps for equality with its own index. */
#include <stddef.h>
#include <stdint.h>

#include "cuda_ops.h"

namespace {

struct Tap {
    int i0, i1;   /* source indices, i1 = i0 + 1 except at the last one */
    float l0, l1; /* their weights, l0 + l1 = 1 */
};

/* The outputs [lo, hi) whose taps may reference one input index. */
struct Span {
    int lo, hi;
};

/* One axis of the resize: in source pixels to out outputs. */
struct Axis {
    int in, out;
    float scale;
};

__host__ __device__ inline double dmul_rn(double a, double b)
{
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

__host__ __device__ inline float fmul_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

__host__ __device__ inline float fadd_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

/* The CPU's scale, in float. */
Axis axis_of(int in, int out, int align_corners)
{
    float scale;
    if (align_corners)
        scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else
        scale = (float)in / (float)out;
    return Axis{in, out, scale};
}

/* The taps of output index d: cpu/resize_bilinear.c's compute_taps. */
__host__ __device__ inline Tap tap_at(const Axis &a, int align_corners, int d)
{
    if (a.in == a.out)
        return Tap{d, d, 1.0f, 0.0f};
    double src = align_corners ? dmul_rn((double)a.scale, (double)d)
                               : dmul_rn((double)a.scale, d + 0.5) - 0.5;
    if (src < 0.0)
        src = 0.0;
    int i0 = (int)src;
    if (i0 > a.in - 1)
        i0 = a.in - 1;
    float l1 = (float)(src - i0);
    return Tap{i0, i0 + (i0 < a.in - 1), 1.0f - l1, l1};
}

/* The first output index whose first tap is at least target (out when none). */
__host__ __device__ inline int first_output_from(const Axis &a, int align_corners, int target)
{
    int lo = 0, hi = a.out;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (tap_at(a, align_corners, mid).i0 < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Outputs reference input i when their first tap is i - 1 (through i1) or i.
 * Widened by one on each side: the gather tests every tap anyway. */
__host__ __device__ inline Span span_at(const Axis &a, int align_corners, int i)
{
    int lo = first_output_from(a, align_corners, i - 1) - 1;
    int hi = first_output_from(a, align_corners, i + 1) + 1;
    return Span{lo > 0 ? lo : 0, hi < a.out ? hi : a.out};
}

/* taps = the OH row taps then the OW column taps; when spans is not NULL it
 * receives the H row spans then the W column spans. */
__global__ void tabulate(Axis rows, Axis cols, int align_corners, Tap *__restrict__ taps, Span *__restrict__ spans)
{
    const int tap_count = rows.out + cols.out;
    const int total = tap_count + (spans ? rows.in + cols.in : 0);
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        if (idx < rows.out)
            taps[idx] = tap_at(rows, align_corners, idx);
        else if (idx < tap_count)
            taps[idx] = tap_at(cols, align_corners, idx - rows.out);
        else if (idx < tap_count + rows.in)
            spans[idx - tap_count] = span_at(rows, align_corners, idx - tap_count);
        else
            spans[idx - tap_count] = span_at(cols, align_corners, idx - tap_count - rows.in);
    }
}

struct Shape {
    int c, h, w, oh, ow;
};

/* y at output element idx: interpolate along W in each source row, then
 * along H, PyTorch's (and the CPU's) order. */
__host__ __device__ inline float resize_at(const float *x, const Tap *th, const Tap *tw, const Shape &s, size_t idx)
{
    const int c = (int)(idx % (size_t)s.c);
    size_t pix = idx / (size_t)s.c;
    const int ow = (int)(pix % (size_t)s.ow);
    pix /= (size_t)s.ow;
    const int oh = (int)(pix % (size_t)s.oh);
    const size_t n = pix / (size_t)s.oh;
    const Tap v = th[oh], u = tw[ow];
    const float *row0 = x + (n * s.h + v.i0) * s.w * s.c + c;
    const float *row1 = x + (n * s.h + v.i1) * s.w * s.c + c;
    const float a = row0[(size_t)u.i0 * s.c], b = row0[(size_t)u.i1 * s.c];
    const float d = row1[(size_t)u.i0 * s.c], e = row1[(size_t)u.i1 * s.c];
    const float top = fadd_rn(fmul_rn(a, u.l0), fmul_rn(b, u.l1));
    const float bottom = fadd_rn(fmul_rn(d, u.l0), fmul_rn(e, u.l1));
    return fadd_rn(fmul_rn(top, v.l0), fmul_rn(bottom, v.l1));
}

/* dx at input element idx: for each output in the spans, in output order,
 * the four terms of the CPU's scatter that land on this element, in the
 * scatter's order and each rounded as the scatter rounds it. At the last
 * row or column, where i0 == i1, both of its terms are added one by one. */
__host__ __device__ inline float resize_grad_at(const float *dy, const Tap *th, const Tap *tw, const Span *sh,
                                                const Span *sw, const Shape &s, size_t idx)
{
    const int c = (int)(idx % (size_t)s.c);
    size_t pix = idx / (size_t)s.c;
    const int iw = (int)(pix % (size_t)s.w);
    pix /= (size_t)s.w;
    const int ih = (int)(pix % (size_t)s.h);
    const size_t n = pix / (size_t)s.h;
    const Span rows = sh[ih], cols = sw[iw];
    float sum = 0.0f;
    for (int oh = rows.lo; oh < rows.hi; oh++) {
        const Tap v = th[oh];
        const bool top = v.i0 == ih, bottom = v.i1 == ih;
        if (!top && !bottom)
            continue;
        const float *g_row = dy + ((n * s.oh + oh) * s.ow) * s.c + c;
        for (int ow = cols.lo; ow < cols.hi; ow++) {
            const Tap u = tw[ow];
            const bool left = u.i0 == iw, right = u.i1 == iw;
            if (!left && !right)
                continue;
            const float g = g_row[(size_t)ow * s.c];
            if (top && left)
                sum = fadd_rn(sum, fmul_rn(fmul_rn(v.l0, u.l0), g));
            if (top && right)
                sum = fadd_rn(sum, fmul_rn(fmul_rn(v.l0, u.l1), g));
            if (bottom && left)
                sum = fadd_rn(sum, fmul_rn(fmul_rn(v.l1, u.l0), g));
            if (bottom && right)
                sum = fadd_rn(sum, fmul_rn(fmul_rn(v.l1, u.l1), g));
        }
    }
    return sum;
}

__global__ void resize_forward(const float *__restrict__ x, const Tap *__restrict__ taps, Shape s, size_t total,
                               float *__restrict__ y)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        y[idx] = resize_at(x, taps, taps + s.oh, s, idx);
}

__global__ void resize_backward(const float *__restrict__ dy, const Tap *__restrict__ taps,
                                const Span *__restrict__ spans, Shape s, size_t total, float *__restrict__ dx)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x)
        dx[idx] = resize_grad_at(dy, taps, taps + s.oh, spans, spans + s.h, s, idx);
}

/* Tap (and, for backward, span) tables of the resize from in to out, in
 * scratch. */
facs_status tables(facs_ctx *ctx, const char *op, const facs_tensor *in, const facs_tensor *out, int align_corners,
                   int with_spans, Tap **taps, Span **spans)
{
    size_t tap_count = (size_t)out->h + out->w, span_count = with_spans ? (size_t)in->h + in->w : 0;
    void *mem;
    FACS_TRY(facs_cuda_scratch(ctx, op, tap_count * sizeof(Tap) + span_count * sizeof(Span), &mem));
    *taps = (Tap *)mem;
    *spans = with_spans ? (Span *)(*taps + tap_count) : NULL;
    Axis rows = axis_of(in->h, out->h, align_corners), cols = axis_of(in->w, out->w, align_corners);
    tabulate<<<facs_cuda_blocks(tap_count + span_count), kFacsCudaThreads>>>(rows, cols, align_corners, *taps,
                                                                            *spans);
    FACS_CUDA_CHECK_LAUNCH("tabulate");
    return FACS_OK;
}

} // namespace

facs_status facs_cuda_resize_bilinear_forward(facs_ctx *ctx, int align_corners, const facs_tensor *x,
                                              facs_tensor *y)
{
    size_t total = facs_tensor_numel(y);
    if (total == 0)
        return FACS_OK;
    Tap *taps;
    Span *spans;
    FACS_TRY(tables(ctx, "resize_bilinear forward (cuda)", x, y, align_corners, 0, &taps, &spans));
    Shape s{x->c, x->h, x->w, y->h, y->w};
    resize_forward<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(x), taps, s, total, facs_f32(y));
    FACS_CUDA_CHECK_LAUNCH("resize_forward");
    return FACS_OK;
}

facs_status facs_cuda_resize_bilinear_backward(facs_ctx *ctx, int align_corners, const facs_tensor *dy,
                                               facs_tensor *dx)
{
    if (!dx)
        return FACS_OK;
    size_t total = facs_tensor_numel(dx);
    if (total == 0)
        return FACS_OK;
    Tap *taps;
    Span *spans;
    FACS_TRY(tables(ctx, "resize_bilinear backward (cuda)", dx, dy, align_corners, 1, &taps, &spans));
    Shape s{dx->c, dx->h, dx->w, dy->h, dy->w};
    resize_backward<<<facs_cuda_blocks(total), kFacsCudaThreads>>>(facs_f32(dy), taps, spans, s, total,
                                                                    facs_f32(dx));
    FACS_CUDA_CHECK_LAUNCH("resize_backward");
    return FACS_OK;
}
