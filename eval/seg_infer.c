/* Segmentation inference, whole images or sliding windows (see seg_infer.h). */
#include "seg_infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

facs_seg_infer_opts facs_seg_infer_defaults(void)
{
    static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
    facs_seg_infer_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.mean, mean, sizeof o.mean);
    memcpy(o.std, std, sizeof o.std);
    return o;
}

static facs_status check_cancel(const facs_seg_infer_opts *o)
{
    return o->cancel && o->cancel(o->cancel_user) ? facs_fail(FACS_ERR_CANCELLED, "cancelled") : FACS_OK;
}

/* The argmax over the K scores of each of the n pixels (NHWC: K contiguous per pixel). */
static facs_status argmax_pixels(const float *scores, size_t n, int K, int width, int32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *z = scores + i * (size_t)K;
        int best = 0;
        for (int k = 0; k < K; k++) {
            if (!isfinite(z[k]))
                return facs_fail(FACS_ERR_ARG, FACS_SEG_NOT_FINITE ": %f at x=%zu, y=%zu (class %d)", (double)z[k],
                                 i % (size_t)width, i / (size_t)width, k);
            if (z[k] > z[best])
                best = k;
        }
        out[i] = best;
    }
    return FACS_OK;
}

/* In place: each pixel's K logits become their softmax (max subtracted first,
 * as torch's softmax does). A non-finite logit is left for argmax_pixels to name. */
static void softmax_pixels(float *z, size_t n, int K)
{
    for (size_t i = 0; i < n; i++, z += K) {
        float top = z[0], sum = 0;
        for (int k = 1; k < K; k++)
            top = fmaxf(top, z[k]);
        for (int k = 0; k < K; k++)
            sum += z[k] = expf(z[k] - top);
        for (int k = 0; k < K; k++)
            z[k] /= sum;
    }
}

/* The network input: img at (h, w) (resized when that is not its size), normalised. */
static facs_status network_input(const facs_image *img, const facs_seg_infer_opts *o, int h, int w,
                                 facs_fimage *out)
{
    facs_fimage x = {0};
    FACS_TRY(facs_fimage_from_u8(img, &x));
    if (h != img->height || w != img->width) {
        facs_fimage resized = {0};
        facs_status s = facs_fimage_resize(&x, h, w, &resized);
        facs_fimage_free(&x);
        FACS_TRY(s);
        x = resized;
    }
    facs_fimage_normalize(&x, o->mean, o->std);
    *out = x;
    return FACS_OK;
}

/* Probabilities at the network's size (nh, nw) brought to the image's (h, w):
 * bilinear resize on the model's device. */
static facs_tensor *resize_back(facs_ctx *ctx, const float *probs, int K, int nh, int nw, int h, int w)
{
    facs_tensor *p = facs_ctx_tensor(ctx, FACS_F32, 1, K, nh, nw);
    if (!p || facs_tensor_upload(p, probs, facs_tensor_bytes(p)) != FACS_OK)
        return NULL;
    return facs_resize_bilinear(ctx, p, h, w, 0);
}

/* semseg's net_process: the model on one normalised HWC image x (h x w) in
 * evaluation mode without a tape; out (h * w * K) gets its logits, or with
 * probs its softmax. With flip the mirrored image goes in the same batch and
 * out is the mean of the two softmaxes, the mirrored one flipped back. */
static facs_status net_process(facs_ctx *ctx, facs_model *model, const float *x, int h, int w, int K, int flip,
                               int probs, float *out)
{
    int n = flip ? 2 : 1;
    size_t px = (size_t)h * w;
    float *in = flip ? malloc(2 * px * 3 * sizeof *in) : NULL, *all = flip ? malloc(2 * px * K * sizeof *all) : out;
    if (flip && (!in || !all)) {
        free(in);
        free(all);
        return facs_fail(FACS_ERR_MEMORY, "out of memory for a flipped %dx%d window", w, h);
    }
    if (flip) {
        memcpy(in, x, px * 3 * sizeof *in);
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
                memcpy(in + (px + (size_t)r * w + c) * 3, x + ((size_t)r * w + (w - 1 - c)) * 3, 3 * sizeof *in);
    }
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 0, 0);
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_F32, n, 3, h, w);
    facs_tensor *y = t && facs_tensor_upload(t, flip ? in : x, facs_tensor_bytes(t)) == FACS_OK
                         ? facs_model_forward(ctx, model, t)
                         : NULL;
    facs_status s;
    if (!y)
        s = facs_last_status();
    else if (y->n != n || y->c != K || y->h != h || y->w != w)
        s = facs_fail(FACS_ERR_ARG, "the model gives (%d, %d, %d, %d) for a %dx%d input and %d classes", y->n, y->c,
                      y->h, y->w, w, h, K);
    else
        s = facs_tensor_download(y, all, n * px * (size_t)K * sizeof *all);
    if (s == FACS_OK && (probs || flip))
        softmax_pixels(all, n * px, K);
    if (s == FACS_OK && flip)
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) {
                const float *a = all + ((size_t)r * w + c) * K, *b = all + (px + (size_t)r * w + (w - 1 - c)) * K;
                for (int k = 0; k < K; k++)
                    out[((size_t)r * w + c) * K + k] = (a[k] + b[k]) / 2;
            }
    free(in);
    if (flip)
        free(all);
    return s;
}

int facs_seg_default_stride(int crop) { return (int)ceil(crop * (2.0 / 3.0)); }

/* semseg's scale_process: x (normalised, nh x nw) padded with zeros (the mean
 * before normalising) around to at least the crop, windows of the crop every
 * stride (the last one flush with the edge), each window's probabilities
 * (net_process) summed and divided by the number of windows over each pixel;
 * probs (nh * nw * K) the part without the padding. */
static facs_status predict_slide(facs_ctx *ctx, facs_model *model, const facs_fimage *x,
                                 const facs_seg_infer_opts *o, int K, float *probs)
{
    int nh = x->height, nw = x->width, ch = o->crop_h, cw = o->crop_w;
    int ph = nh > ch ? nh : ch, pw = nw > cw ? nw : cw, top = (ph - nh) / 2, left = (pw - nw) / 2;
    int sh = o->stride_h > 0 ? o->stride_h : facs_seg_default_stride(ch);
    int sw = o->stride_w > 0 ? o->stride_w : facs_seg_default_stride(cw);
    if (sh > ch || sw > cw)
        return facs_fail(FACS_ERR_ARG, "the stride %dx%d is larger than the crop %dx%d (HxW)", sh, sw, ch, cw);
    int gh = (ph - ch + sh - 1) / sh + 1, gw = (pw - cw + sw - 1) / sw + 1;
    size_t ppx = (size_t)ph * pw, cpx = (size_t)ch * cw;
    float *pad = calloc(ppx * 3, sizeof *pad), *sum = calloc(ppx * K, sizeof *sum);
    float *crop = malloc(cpx * 3 * sizeof *crop), *p = malloc(cpx * K * sizeof *p);
    int *count = calloc(ppx, sizeof *count);
    facs_status s = pad && sum && crop && p && count
                        ? FACS_OK
                        : facs_fail(FACS_ERR_MEMORY, "out of memory for sliding windows over a %dx%d image", pw, ph);
    for (int r = 0; s == FACS_OK && r < nh; r++)
        memcpy(pad + ((size_t)(r + top) * pw + left) * 3, x->data + (size_t)r * nw * 3, (size_t)nw * 3 * sizeof *pad);
    for (int i = 0; s == FACS_OK && i < gh; i++)
        for (int j = 0; s == FACS_OK && j < gw && (s = check_cancel(o)) == FACS_OK; j++) {
            int eh = i * sh + ch < ph ? i * sh + ch : ph, ew = j * sw + cw < pw ? j * sw + cw : pw;
            int y0 = eh - ch, x0 = ew - cw;
            for (int r = 0; r < ch; r++)
                memcpy(crop + (size_t)r * cw * 3, pad + ((size_t)(y0 + r) * pw + x0) * 3, (size_t)cw * 3 * sizeof *crop);
            s = net_process(ctx, model, crop, ch, cw, K, o->flip, 1, p);
            for (int r = 0; s == FACS_OK && r < ch; r++)
                for (int c = 0; c < cw; c++) {
                    size_t at = (size_t)(y0 + r) * pw + x0 + c;
                    count[at]++;
                    for (int k = 0; k < K; k++)
                        sum[at * K + k] += p[((size_t)r * cw + c) * K + k];
                }
        }
    for (int r = 0; s == FACS_OK && r < nh; r++)
        for (int c = 0; c < nw; c++) {
            size_t at = (size_t)(r + top) * pw + c + left;
            for (int k = 0; k < K; k++)
                probs[((size_t)r * nw + c) * K + k] = sum[at * K + k] / (float)count[at];
        }
    free(pad);
    free(sum);
    free(crop);
    free(p);
    free(count);
    return s;
}

/* The long side of scale s: semseg's round(scale * base_size), half to even as Python's round. */
static int scaled_long_side(const facs_seg_infer_opts *o, int h, int w, float scale)
{
    int base = o->base_size > 0 ? o->base_size : h > w ? h : w;
    int side = (int)nearbyint((double)scale * base);
    return side > 0 ? side : 1;
}

int facs_seg_windows_mostly_padding(const facs_seg_infer_opts *o, int h, int w, int *nh, int *nw)
{
    *nh = *nw = 0;
    if (o->crop_h <= 0 || o->crop_w <= 0)
        return 0;
    for (int i = 0; i < (o->n_scales > 0 ? o->n_scales : 1); i++) { /* both sides grow with the scale */
        int sh, sw;
        facs_long_side_size(h, w, scaled_long_side(o, h, w, o->n_scales ? o->scales[i] : 1.0f), &sh, &sw);
        *nh = sh > *nh ? sh : *nh;
        *nw = sw > *nw ? sw : *nw;
    }
    return o->crop_h > 2 * *nh || o->crop_w > 2 * *nw;
}

/* One scale: scores (at least h * w * K and nh * nw * K) gets the
 * probabilities at the image's size, or with logits_ok and the image at its
 * own size in whole mode without flip, the logits (their argmax is the same). */
static facs_status predict_scale(facs_ctx *ctx, facs_model *model, const facs_image *img,
                                 const facs_seg_infer_opts *o, int nh, int nw, int logits_ok, float *scores)
{
    int h = img->height, w = img->width, K = facs_model_get_options(model)->classes;
    int resized = nh != h || nw != w, slide = o->crop_h > 0 && o->crop_w > 0;
    facs_fimage x = {0};
    FACS_TRY(network_input(img, o, nh, nw, &x));
    facs_status s = slide ? predict_slide(ctx, model, &x, o, K, scores)
                          : net_process(ctx, model, x.data, nh, nw, K, o->flip, resized || !logits_ok, scores);
    facs_fimage_free(&x);
    if (s == FACS_OK && resized) {
        facs_tensor *back = resize_back(ctx, scores, K, nh, nw, h, w);
        s = back ? facs_tensor_download(back, scores, (size_t)h * w * K * sizeof *scores) : facs_last_status();
    }
    return s;
}

/* The scores of every pixel (h * w * K, NHWC) at every scale, averaged; with
 * logits_ok a single scale may leave logits (see predict_scale). */
static facs_status predict_scores(facs_ctx *ctx, facs_model *model, const facs_image *img,
                                  const facs_seg_infer_opts *o, int logits_ok, float *scores)
{
    if (!facs_model_is_segmentation(model))
        return facs_fail(FACS_ERR_ARG, "%s is not a segmentation model", facs_model_get_options(model)->arch);
    if (img->channels != 3)
        return facs_fail(FACS_ERR_ARG, "the image has %d channels, expected 3 (RGB)", img->channels);
    if (o->n_scales < 0 || o->n_scales > FACS_SEG_MAX_SCALES)
        return facs_fail(FACS_ERR_ARG, "%d scales: at most %d", o->n_scales, FACS_SEG_MAX_SCALES);
    int h = img->height, w = img->width, K = facs_model_get_options(model)->classes;
    int n_scales = o->n_scales > 0 ? o->n_scales : 1;
    size_t pixels = (size_t)h * w, largest = pixels;
    for (int i = 0; i < n_scales; i++) {
        int nh, nw;
        facs_long_side_size(h, w, scaled_long_side(o, h, w, o->n_scales ? o->scales[i] : 1.0f), &nh, &nw);
        largest = (size_t)nh * nw > largest ? (size_t)nh * nw : largest;
    }
    /* a scale's scores have their own buffer when they are averaged or larger than the image */
    int own_buffer = n_scales > 1 || largest > pixels;
    float *one = own_buffer ? malloc(largest * (size_t)K * sizeof *one) : scores;
    if (!one)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the scores of a %dx%d image", w, h);
    if (n_scales > 1)
        memset(scores, 0, pixels * (size_t)K * sizeof *scores);
    facs_status s = FACS_OK;
    for (int i = 0; s == FACS_OK && i < n_scales && (s = check_cancel(o)) == FACS_OK; i++) {
        int nh, nw;
        facs_long_side_size(h, w, scaled_long_side(o, h, w, o->n_scales ? o->scales[i] : 1.0f), &nh, &nw);
        s = predict_scale(ctx, model, img, o, nh, nw, logits_ok && n_scales == 1, one);
        if (s == FACS_OK && n_scales > 1)
            for (size_t k = 0; k < pixels * (size_t)K; k++)
                scores[k] += one[k];
    }
    if (s == FACS_OK && n_scales > 1) /* semseg sums the scales, then divides */
        for (size_t k = 0; k < pixels * (size_t)K; k++)
            scores[k] /= (float)n_scales;
    if (s == FACS_OK && n_scales == 1 && own_buffer)
        memcpy(scores, one, pixels * (size_t)K * sizeof *scores);
    if (own_buffer)
        free(one);
    return s;
}

facs_status facs_seg_predict(facs_ctx *ctx, facs_model *model, const facs_image *img, const facs_seg_infer_opts *o,
                             int32_t *predicted, float *probs)
{
    int K = facs_model_is_segmentation(model) ? facs_model_get_options(model)->classes : 1;
    size_t pixels = (size_t)img->height * img->width;
    float *scores = probs ? probs : malloc(pixels * (size_t)K * sizeof *scores);
    if (!scores)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the scores of a %dx%d image", img->width, img->height);
    facs_status s = predict_scores(ctx, model, img, o, !probs, scores);
    if (s == FACS_OK)
        s = argmax_pixels(scores, pixels, K, img->width, predicted);
    if (!probs)
        free(scores);
    return s;
}
