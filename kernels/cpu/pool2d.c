/* Max and average pooling on NHWC tensors with PyTorch's semantics.
 *
 * Max pooling runs own loops, forward and backward: oneDNN's max drops NaN
 * (its vector max returns the other operand) where PyTorch's max of a window
 * holding a NaN is NaN. Backward recomputes each window's argmax from x
 * (first maximum in scan order, or the last NaN, as PyTorch) and routes dy
 * there.
 *
 * Average pooling runs oneDNN's pooling primitive. PyTorch's ceil_mode adds
 * output rows and columns whose windows hang past the bottom/right padding;
 * oneDNN has no ceil mode, so those windows are expressed by a larger right
 * padding. That reproduces PyTorch for count_include_pad = 0 (both divide by
 * the in-bounds element count). It does not for count_include_pad = 1 when a
 * window hangs past input + pad: PyTorch then divides by the window clipped
 * to input + pad, oneDNN by the whole kernel. Only that case runs own loops,
 * forward and backward. */
#include <math.h>

#include "cpu_ops.h"
#include "dnnl_util.h"

/* Channels per argmax pass: a window's running maxima stay on the stack. */
#define CBLOCK 64
/* Below this many input elements a single thread beats waking the pool. */
#define PARALLEL_MIN 32768

static int min_i(int a, int b) { return a < b ? a : b; }
static int max_i(int a, int b) { return a > b ? a : b; }

/* oneDNN's right padding that yields the out rows PyTorch computed. In floor
 * mode it equals pad (the primitive drops the rows PyTorch drops); in ceil
 * mode it may exceed pad, by less than the kernel. */
static int right_pad(int in, int out, int kernel, int stride, int pad)
{
    return max_i(pad, (out - 1) * stride + kernel - in - pad);
}

static int onednn_matches(const facs_pool2d_params *p, const facs_tensor *in, const facs_tensor *out)
{
    return !p->count_include_pad ||
           (right_pad(in->h, out->h, p->kernel_h, p->stride_h, p->pad_h) == p->pad_h &&
            right_pad(in->w, out->w, p->kernel_w, p->stride_w, p->pad_w) == p->pad_w);
}

static dnnl_alg_kind_t avg_alg(const facs_pool2d_params *p)
{
    return p->count_include_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
}

/* Descriptor of the pooling from in (N, C, H, W) to out; dnnl_prop_kind_undef
 * asks for the backward descriptor. */
static facs_status pool_desc(dnnl_pooling_v2_desc_t *desc, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg,
                             const facs_pool2d_params *p, const facs_tensor *in, const facs_tensor *out,
                             dnnl_memory_desc_t *in_md, dnnl_memory_desc_t *out_md)
{
    facs_dnnl_md_nhwc(in_md, in);
    facs_dnnl_md_nhwc(out_md, out);
    dnnl_dims_t strides = {p->stride_h, p->stride_w}, kernel = {p->kernel_h, p->kernel_w}, dilation = {0, 0};
    dnnl_dims_t pad_l = {p->pad_h, p->pad_w};
    dnnl_dims_t pad_r = {right_pad(in->h, out->h, p->kernel_h, p->stride_h, p->pad_h),
                         right_pad(in->w, out->w, p->kernel_w, p->stride_w, p->pad_w)};
    dnnl_status_t s =
        prop_kind == dnnl_prop_kind_undef
            ? dnnl_pooling_v2_backward_desc_init(desc, alg, in_md, out_md, strides, kernel, dilation, pad_l, pad_r)
            : dnnl_pooling_v2_forward_desc_init(desc, prop_kind, alg, in_md, out_md, strides, kernel, dilation, pad_l,
                                                pad_r);
    return facs_dnnl_check(s, "pooling descriptor");
}

/* Inference needs no workspace: average pooling's backward needs none. */
static facs_status onednn_forward(dnnl_alg_kind_t alg, const facs_pool2d_params *p, const facs_tensor *x,
                                  facs_tensor *y)
{
    dnnl_pooling_v2_desc_t desc;
    dnnl_memory_desc_t xmd, ymd;
    FACS_TRY(pool_desc(&desc, dnnl_forward_inference, alg, p, x, y, &xmd, &ymd));
    dnnl_primitive_desc_t pd;
    FACS_TRY(facs_dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, facs_dnnl_engine(), NULL),
                             "pooling forward primitive"));
    facs_dnnl_arg args[] = {{DNNL_ARG_SRC, &xmd, x->data}, {DNNL_ARG_DST, &ymd, y->data}};
    facs_status s = facs_dnnl_execute(pd, 2, args, "pooling forward");
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* Window of output index o along one axis: [lo, hi) clipped to the input, and
 * PyTorch's count_include_pad extent (the window clipped to input + pad). */
typedef struct {
    int lo, hi, padded;
} window;

static window window_at(int o, int in, int kernel, int stride, int pad)
{
    int lo = o * stride - pad;
    int hi = min_i(lo + kernel, in + pad);
    return (window){max_i(lo, 0), min_i(hi, in), hi - lo};
}

/* y = the maximum of each window over its in-bounds pixels, NaN when one of
 * them is NaN (PyTorch's `val > max || isnan(val)`; padding never takes
 * part). Each output pixel's C channels are contiguous and updated by a
 * branch-free select that vectorises. */
facs_status facs_cpu_maxpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                       facs_tensor *y)
{
    (void)ctx;
    const int N = x->n, C = x->c, H = x->h, W = x->w, OH = y->h, OW = y->w;
    const float *xd = facs_f32(x);
    float *yd = facs_f32(y);
#pragma omp parallel for schedule(static) if (facs_tensor_numel(x) >= PARALLEL_MIN)
    for (int t = 0; t < N * OH; t++) {
        const int n = t / OH, oh = t % OH;
        const window wh = window_at(oh, H, p->kernel_h, p->stride_h, p->pad_h);
        for (int ow = 0; ow < OW; ow++) {
            const window ww = window_at(ow, W, p->kernel_w, p->stride_w, p->pad_w);
            float *out = yd + ((size_t)t * OW + ow) * C;
            for (int c = 0; c < C; c++)
                out[c] = -INFINITY;
            for (int h = wh.lo; h < wh.hi; h++)
                for (int w = ww.lo; w < ww.hi; w++) {
                    const float *v = xd + ((size_t)(n * H + h) * W + w) * C;
#pragma omp simd
                    for (int c = 0; c < C; c++)
                        out[c] = v[c] > out[c] || isnan(v[c]) ? v[c] : out[c];
                }
        }
    }
    return FACS_OK;
}

/* The outputs [*lo, *hi] whose windows (starting at o stride - pad, kernel
 * long) contain input index i. C division truncates, so a negative
 * numerator is clamped by the max rather than rounded down. */
static void windows_containing(int i, int kernel, int stride, int pad, int out, int *lo, int *hi)
{
    *lo = max_i(0, (i + pad - kernel + stride) / stride);
    *hi = min_i(out - 1, (i + pad) / stride);
}

/* First maximum of one window for cb channels (scan order h then w), as an
 * index h W + w per channel; the last NaN wins, as in PyTorch. */
static void window_argmax(const float *img, int W, int C, window wh, window ww, int cb, int32_t *arg)
{
    float best[CBLOCK];
    for (int c = 0; c < cb; c++) {
        best[c] = -INFINITY;
        arg[c] = wh.lo * W + ww.lo;
    }
    for (int h = wh.lo; h < wh.hi; h++)
        for (int w = ww.lo; w < ww.hi; w++) {
            const float *v = img + (size_t)(h * W + w) * C;
            const int32_t at = h * W + w;
            /* Branch-free so that it vectorises: on real data the branch
             * would be unpredictable. */
#pragma omp simd
            for (int c = 0; c < cb; c++) {
                int take = v[c] > best[c] || isnan(v[c]);
                best[c] = take ? v[c] : best[c];
                arg[c] = take ? at : arg[c];
            }
        }
}

/* Two passes, both race-free and contiguous in channels: the argmax of every
 * output into scratch, then a gather in which each input pixel sums the dy
 * of the windows whose argmax it is (in output order, like PyTorch's
 * scatter). dx is written once, with no zeroing pass. */
facs_status facs_cpu_maxpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                        const facs_tensor *dy, facs_tensor *dx)
{
    if (!dx)
        return FACS_OK;
    const int N = x->n, C = x->c, H = x->h, W = x->w, OH = dy->h, OW = dy->w;
    int32_t *arg = facs_ctx_scratch(ctx, facs_tensor_numel(dy) * sizeof *arg);
    if (!arg)
        return facs_fail(FACS_ERR_MEMORY, "maxpool2d backward: no scratch memory for %zu argmax indices",
                         facs_tensor_numel(dy));
    const int parallel = facs_tensor_numel(x) >= PARALLEL_MIN;
    const float *xd = facs_f32(x), *dyd = facs_f32(dy);
    float *dxd = facs_f32(dx);
#pragma omp parallel for schedule(static) if (parallel)
    for (int t = 0; t < N * OH; t++) {
        const int n = t / OH, oh = t % OH;
        const window wh = window_at(oh, H, p->kernel_h, p->stride_h, p->pad_h);
        for (int ow = 0; ow < OW; ow++) {
            const window ww = window_at(ow, W, p->kernel_w, p->stride_w, p->pad_w);
            for (int c0 = 0; c0 < C; c0 += CBLOCK)
                window_argmax(xd + (size_t)n * H * W * C + c0, W, C, wh, ww, min_i(CBLOCK, C - c0),
                              arg + ((size_t)t * OW + ow) * C + c0);
        }
    }
#pragma omp parallel for schedule(static) if (parallel)
    for (int t = 0; t < N * H; t++) {
        const int n = t / H, ih = t % H;
        int oh_lo, oh_hi;
        windows_containing(ih, p->kernel_h, p->stride_h, p->pad_h, OH, &oh_lo, &oh_hi);
        for (int iw = 0; iw < W; iw++) {
            int ow_lo, ow_hi;
            windows_containing(iw, p->kernel_w, p->stride_w, p->pad_w, OW, &ow_lo, &ow_hi);
            const int32_t at = ih * W + iw;
            float *out = dxd + ((size_t)t * W + iw) * C;
            for (int c = 0; c < C; c++)
                out[c] = 0.0f;
            for (int oh = oh_lo; oh <= oh_hi; oh++)
                for (int ow = ow_lo; ow <= ow_hi; ow++) {
                    const size_t o = ((size_t)(n * OH + oh) * OW + ow) * C;
                    const int32_t *a = arg + o;
                    const float *g = dyd + o;
                    /* g[c] is read unconditionally so the select vectorises. */
#pragma omp simd
                    for (int c = 0; c < C; c++) {
                        const float gc = g[c];
                        out[c] += a[c] == at ? gc : 0.0f;
                    }
                }
        }
    }
    return FACS_OK;
}

static float avg_divisor(const facs_pool2d_params *p, window wh, window ww)
{
    int count = p->count_include_pad ? wh.padded * ww.padded : (wh.hi - wh.lo) * (ww.hi - ww.lo);
    return (float)count;
}

/* PyTorch's average pooling, for the case oneDNN's divisor differs. */
static void avgpool_forward_loop(const facs_pool2d_params *p, const facs_tensor *x, facs_tensor *y)
{
    const int N = x->n, C = x->c, H = x->h, W = x->w, OH = y->h, OW = y->w;
    const float *xd = facs_f32(x);
    float *yd = facs_f32(y);
#pragma omp parallel for schedule(static) if (facs_tensor_numel(x) >= PARALLEL_MIN)
    for (int t = 0; t < N * OH; t++) {
        int n = t / OH, oh = t % OH;
        window wh = window_at(oh, H, p->kernel_h, p->stride_h, p->pad_h);
        for (int ow = 0; ow < OW; ow++) {
            window ww = window_at(ow, W, p->kernel_w, p->stride_w, p->pad_w);
            float *out = yd + ((size_t)t * OW + ow) * C;
            for (int c = 0; c < C; c++)
                out[c] = 0.0f;
            for (int h = wh.lo; h < wh.hi; h++)
                for (int w = ww.lo; w < ww.hi; w++) {
                    const float *v = xd + ((size_t)(n * H + h) * W + w) * C;
#pragma omp simd
                    for (int c = 0; c < C; c++)
                        out[c] += v[c];
                }
            float div = avg_divisor(p, wh, ww);
            for (int c = 0; c < C; c++)
                out[c] /= div;
        }
    }
}

/* Backward of the loop above as a gather: each input pixel sums the dy of
 * the windows that contain it, so rows are written once and in parallel. */
static void avgpool_backward_loop(const facs_pool2d_params *p, const facs_tensor *dy, facs_tensor *dx)
{
    const int N = dx->n, C = dx->c, H = dx->h, W = dx->w, OH = dy->h, OW = dy->w;
    const float *dyd = facs_f32(dy);
    float *dxd = facs_f32(dx);
#pragma omp parallel for schedule(static) if (facs_tensor_numel(dx) >= PARALLEL_MIN)
    for (int t = 0; t < N * H; t++) {
        int n = t / H, ih = t % H;
        int oh_lo, oh_hi;
        windows_containing(ih, p->kernel_h, p->stride_h, p->pad_h, OH, &oh_lo, &oh_hi);
        for (int iw = 0; iw < W; iw++) {
            int ow_lo, ow_hi;
            windows_containing(iw, p->kernel_w, p->stride_w, p->pad_w, OW, &ow_lo, &ow_hi);
            float *out = dxd + ((size_t)t * W + iw) * C;
            for (int c = 0; c < C; c++)
                out[c] = 0.0f;
            for (int oh = oh_lo; oh <= oh_hi; oh++) {
                window wh = window_at(oh, H, p->kernel_h, p->stride_h, p->pad_h);
                for (int ow = ow_lo; ow <= ow_hi; ow++) {
                    window ww = window_at(ow, W, p->kernel_w, p->stride_w, p->pad_w);
                    float div = avg_divisor(p, wh, ww);
                    const float *g = dyd + ((size_t)(n * OH + oh) * OW + ow) * C;
#pragma omp simd
                    for (int c = 0; c < C; c++)
                        out[c] += g[c] / div;
                }
            }
        }
    }
}

facs_status facs_cpu_avgpool2d_forward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *x,
                                       facs_tensor *y)
{
    (void)ctx;
    if (!onednn_matches(p, x, y)) {
        avgpool_forward_loop(p, x, y);
        return FACS_OK;
    }
    return onednn_forward(avg_alg(p), p, x, y);
}

facs_status facs_cpu_avgpool2d_backward(facs_ctx *ctx, const facs_pool2d_params *p, const facs_tensor *dy,
                                        facs_tensor *dx)
{
    (void)ctx;
    if (!dx)
        return FACS_OK;
    if (!onednn_matches(p, dx, dy)) {
        avgpool_backward_loop(p, dy, dx);
        return FACS_OK;
    }
    dnnl_pooling_v2_desc_t fdesc, bdesc;
    dnnl_memory_desc_t dxmd, dymd;
    FACS_TRY(pool_desc(&fdesc, dnnl_forward_training, avg_alg(p), p, dx, dy, &dxmd, &dymd));
    FACS_TRY(pool_desc(&bdesc, dnnl_prop_kind_undef, avg_alg(p), p, dx, dy, &dxmd, &dymd));
    dnnl_primitive_desc_t hint, pd;
    FACS_TRY(facs_dnnl_check(dnnl_primitive_desc_create(&hint, &fdesc, NULL, facs_dnnl_engine(), NULL),
                             "pooling forward primitive"));
    facs_status s = facs_dnnl_check(dnnl_primitive_desc_create(&pd, &bdesc, NULL, facs_dnnl_engine(), hint),
                                    "pooling backward primitive");
    dnnl_primitive_desc_destroy(hint);
    if (s != FACS_OK)
        return s;
    facs_dnnl_arg args[] = {{DNNL_ARG_DIFF_DST, &dymd, dy->data}, {DNNL_ARG_DIFF_SRC, &dxmd, dx->data}};
    s = facs_dnnl_execute(pd, 2, args, "pooling backward");
    dnnl_primitive_desc_destroy(pd);
    return s;
}
