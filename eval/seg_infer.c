/* Whole-image segmentation inference (see seg_infer.h). */
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

/* The argmax over the K scores of each of the n pixels (NHWC: K contiguous per pixel). */
static facs_status argmax_pixels(const float *scores, size_t n, int K, int width, int32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *z = scores + i * (size_t)K;
        int best = 0;
        for (int k = 0; k < K; k++) {
            if (!isfinite(z[k]))
                return facs_fail(FACS_ERR_ARG, "the model's output is %f at x=%zu, y=%zu (class %d)", (double)z[k],
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

/* The model's scores at the network's size (nh, nw) brought to the image's (h, w):
 * softmax, then bilinear resize on the model's device. */
static facs_tensor *resize_back(facs_ctx *ctx, float *scores, int K, int nh, int nw, int h, int w)
{
    softmax_pixels(scores, (size_t)nh * nw, K);
    facs_tensor *p = facs_ctx_tensor(ctx, FACS_F32, 1, K, nh, nw);
    if (!p || facs_tensor_upload(p, scores, facs_tensor_bytes(p)) != FACS_OK)
        return NULL;
    return facs_resize_bilinear(ctx, p, h, w, 0);
}

facs_status facs_seg_predict_whole(facs_ctx *ctx, facs_model *model, const facs_image *img,
                                   const facs_seg_infer_opts *o, int32_t *predicted)
{
    if (!facs_model_is_segmentation(model))
        return facs_fail(FACS_ERR_ARG, "%s is not a segmentation model", facs_model_get_options(model)->arch);
    if (img->channels != 3)
        return facs_fail(FACS_ERR_ARG, "the image has %d channels, expected 3 (RGB)", img->channels);
    int h = img->height, w = img->width, K = facs_model_get_options(model)->classes, nh = h, nw = w;
    if (o->base_size > 0)
        facs_long_side_size(h, w, o->base_size, &nh, &nw);
    int resized = nh != h || nw != w;
    size_t net_pixels = (size_t)nh * nw, pixels = (size_t)h * w;
    facs_fimage x = {0};
    FACS_TRY(network_input(img, o, nh, nw, &x));
    float *scores = malloc((resized && pixels > net_pixels ? pixels : net_pixels) * (size_t)K * sizeof *scores);
    facs_status s = scores ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory for the scores of a %dx%d image", w, h);
    if (s == FACS_OK) {
        facs_ctx_begin_step(ctx);
        facs_ctx_set_mode(ctx, 0, 0);
        facs_tensor *in = facs_ctx_tensor(ctx, FACS_F32, 1, 3, nh, nw);
        facs_tensor *y = in && facs_tensor_upload(in, x.data, facs_tensor_bytes(in)) == FACS_OK
                             ? facs_model_forward(ctx, model, in)
                             : NULL;
        if (!y)
            s = facs_last_status();
        else if (y->n != 1 || y->c != K || y->h != nh || y->w != nw)
            s = facs_fail(FACS_ERR_ARG, "the model gives (%d, %d, %d, %d) for a %dx%d input and %d classes", y->n,
                          y->c, y->h, y->w, nw, nh, K);
        else
            s = facs_tensor_download(y, scores, net_pixels * (size_t)K * sizeof *scores);
        if (s == FACS_OK && resized) {
            facs_tensor *back = resize_back(ctx, scores, K, nh, nw, h, w);
            s = back ? facs_tensor_download(back, scores, pixels * (size_t)K * sizeof *scores) : facs_last_status();
        }
    }
    if (s == FACS_OK)
        s = argmax_pixels(scores, pixels, K, w, predicted);
    facs_fimage_free(&x);
    free(scores);
    return s;
}
