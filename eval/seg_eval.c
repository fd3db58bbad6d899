/* Whole-image segmentation evaluation (see seg_eval.h). */
#include "seg_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

facs_seg_eval_opts facs_seg_eval_defaults(void)
{
    facs_seg_aug aug = facs_seg_aug_eval(1, 1);
    facs_seg_eval_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.mean, aug.mean, sizeof o.mean);
    memcpy(o.std, aug.std, sizeof o.std);
    o.ignore_label = aug.ignore_label;
    return o;
}

/* The argmax over the K logits of each of the n pixels (NHWC: K contiguous per pixel). */
static facs_status argmax_pixels(const float *logits, size_t n, int K, int32_t *out, int index)
{
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * (size_t)K;
        int best = 0;
        for (int k = 0; k < K; k++) {
            if (!isfinite(z[k]))
                return facs_fail(FACS_ERR_ARG, "image %d: the model's output is %f at pixel %zu", index,
                                 (double)z[k], i);
            if (z[k] > z[best])
                best = k;
        }
        out[i] = best;
    }
    return FACS_OK;
}

/* One image: normalised, through the model, its argmax counted. */
static facs_status evaluate_image(facs_ctx *ctx, facs_model *model, const facs_seg_eval_opts *o, int index,
                                  const facs_image *img, const facs_image *label, facs_confusion *cm)
{
    int h = img->height, w = img->width, K = cm->classes;
    size_t pixels = (size_t)h * w;
    facs_seg_aug aug = facs_seg_aug_eval(h, w);
    memcpy(aug.mean, o->mean, sizeof aug.mean);
    memcpy(aug.std, o->std, sizeof aug.std);
    aug.ignore_label = o->ignore_label;
    float *input = malloc(pixels * 3 * sizeof *input);
    int32_t *truth = malloc(pixels * sizeof *truth), *predicted = malloc(pixels * sizeof *predicted);
    float *logits = malloc(pixels * (size_t)K * sizeof *logits);
    facs_status s = input && truth && predicted && logits ? FACS_OK
                                                          : facs_fail(FACS_ERR_MEMORY, "image %d: out of memory", index);
    if (s == FACS_OK)
        s = facs_seg_augment(&aug, img, label, 0, 0, index, input, truth);
    if (s == FACS_OK) {
        facs_ctx_begin_step(ctx);
        facs_ctx_set_mode(ctx, 0, 0);
        facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, 1, 3, h, w);
        facs_tensor *y = x && facs_tensor_upload(x, input, facs_tensor_bytes(x)) == FACS_OK
                             ? facs_model_forward(ctx, model, x)
                             : NULL;
        if (!y)
            s = facs_last_status();
        else if (y->n != 1 || y->c != K || y->h != h || y->w != w)
            s = facs_fail(FACS_ERR_ARG, "image %d: the model gives (%d, %d, %d, %d) for a %dx%d image and %d classes",
                          index, y->n, y->c, y->h, y->w, w, h, K);
        else
            s = facs_tensor_download(y, logits, pixels * (size_t)K * sizeof *logits);
    }
    if (s == FACS_OK)
        s = argmax_pixels(logits, pixels, K, predicted, index);
    if (s == FACS_OK)
        s = facs_confusion_add_maps(cm, truth, predicted, pixels, o->ignore_label);
    free(input);
    free(truth);
    free(predicted);
    free(logits);
    return s;
}

facs_status facs_seg_eval_whole(facs_ctx *ctx, facs_model *model, const facs_dataset *ds,
                                const facs_seg_eval_opts *opts, facs_confusion *cm)
{
    for (int i = 0; i < ds->count; i++) {
        facs_image img = {0};
        facs_label label = {0};
        facs_status s = ds->load(ds, i, &img, &label);
        if (s == FACS_OK)
            s = evaluate_image(ctx, model, opts, i, &img, &label.map, cm);
        facs_image_free(&img);
        facs_image_free(&label.map);
        if (s != FACS_OK)
            return s;
        if (opts->progress)
            opts->progress(opts->progress_user, i + 1, ds->count);
    }
    return FACS_OK;
}
