/* Whole-image segmentation evaluation (see seg_eval.h). */
#include "seg_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

facs_seg_eval_opts facs_seg_eval_defaults(void)
{
    facs_seg_eval_opts o;
    memset(&o, 0, sizeof o);
    o.infer = facs_seg_infer_defaults();
    o.ignore_label = 255;
    return o;
}

/* The label map's pixels as int32, checked against the image's size. */
static facs_status truth_of(const facs_image *img, const facs_image *label, int32_t *truth)
{
    if (label->channels != 1 || label->width != img->width || label->height != img->height)
        return facs_fail(FACS_ERR_ARG, "the label map is %dx%dx%d but the image is %dx%d", label->width,
                         label->height, label->channels, img->width, img->height);
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        truth[i] = label->pixels[i];
    return FACS_OK;
}

/* The prediction as a 1-channel image for on_prediction. */
static facs_status report(const facs_seg_eval_opts *o, int index, const facs_image *img, const int32_t *predicted,
                          const float *probs, int classes)
{
    size_t n = (size_t)img->width * img->height;
    facs_image map = {img->width, img->height, 1, malloc(n)};
    if (!map.pixels)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for a %dx%d prediction", img->width, img->height);
    for (size_t i = 0; i < n; i++)
        map.pixels[i] = (uint8_t)predicted[i];
    facs_status s = o->on_prediction(o->prediction_user, &(facs_seg_prediction){index, img, &map, probs, classes});
    facs_image_free(&map);
    return s;
}

/* One image: predicted, counted, reported. */
static facs_status evaluate_image(facs_ctx *ctx, facs_model *model, const facs_seg_eval_opts *o, int index,
                                  const facs_image *img, const facs_image *label, facs_confusion *cm)
{
    size_t pixels = (size_t)img->height * img->width;
    int K = facs_model_get_options(model)->classes, keep = o->on_prediction && o->keep_probabilities;
    int32_t *truth = cm ? malloc(pixels * sizeof *truth) : NULL, *predicted = malloc(pixels * sizeof *predicted);
    float *probs = keep ? malloc(pixels * (size_t)K * sizeof *probs) : NULL;
    facs_status s = predicted && (truth || !cm) && (probs || !keep) ? FACS_OK
                                                                    : facs_fail(FACS_ERR_MEMORY, "out of memory");
    if (s == FACS_OK && cm)
        s = truth_of(img, label, truth);
    if (s == FACS_OK)
        s = facs_seg_predict(ctx, model, img, &o->infer, predicted, probs);
    if (s == FACS_OK && cm)
        s = facs_confusion_add_maps(cm, truth, predicted, pixels, o->ignore_label);
    if (s == FACS_OK && o->on_prediction)
        s = report(o, index, img, predicted, probs, K);
    free(truth);
    free(probs);
    free(predicted);
    return s;
}

/* Prefixes the last error with the image's name or index. */
static facs_status at_image(facs_status s, const facs_seg_eval_opts *o, int index, int count)
{
    char why[2048];
    snprintf(why, sizeof why, "%s", facs_last_error());
    if (o->names)
        return facs_fail(s, "%s: %s", o->names[index], why);
    return facs_fail(s, "image %d of %d: %s", index, count, why);
}

/* Dataset image i: loaded, evaluated, freed; a failure names the image. */
static facs_status evaluate_index(facs_ctx *ctx, facs_model *model, const facs_dataset *ds,
                                  const facs_seg_eval_opts *opts, int i, facs_confusion *cm)
{
    facs_image img = {0};
    facs_label label = {0};
    facs_status s = ds->load(ds, i, &img, &label); /* its message names the file */
    if (s == FACS_OK && (s = evaluate_image(ctx, model, opts, i, &img, &label.map, cm)) != FACS_OK &&
        s != FACS_ERR_CANCELLED)
        s = at_image(s, opts, i, ds->count);
    facs_image_free(&img);
    facs_image_free(&label.map);
    return s;
}

facs_status facs_seg_eval_whole(facs_ctx *ctx, facs_model *model, const facs_dataset *ds,
                                const facs_seg_eval_opts *opts, facs_confusion *cm)
{
    int K = facs_model_get_options(model)->classes;
    if (cm && cm->classes != K)
        return facs_fail(FACS_ERR_ARG, "the model has %d classes but the confusion matrix %d", K, cm->classes);
    if (opts->on_prediction && K > 256)
        return facs_fail(FACS_ERR_ARG, "%d classes do not fit the 8-bit prediction maps", K);
    int rank = opts->comm ? facs_comm_rank(opts->comm) : 0, ranks = opts->comm ? facs_comm_size(opts->comm) : 1;
    /* Rounds of one image per rank, so that every rank asks opts->stop as often as the others. An image the
     * infer options' cancel hook cut short counts for nothing: the stop asked after its round must end the
     * evaluation (the hooks answer from the same request), after the last round too. */
    int rounds = (ds->count + ranks - 1) / ranks, cancelled = 0;
    for (int round = 0; round < rounds; round++) {
        int i = round * ranks + rank, done = (round + 1) * ranks;
        facs_status s = i < ds->count ? evaluate_index(ctx, model, ds, opts, i, cm) : FACS_OK;
        if (s != FACS_OK && (s != FACS_ERR_CANCELLED || !opts->stop))
            return s;
        cancelled |= s == FACS_ERR_CANCELLED;
        if (opts->progress && !cancelled)
            opts->progress(opts->progress_user, done < ds->count ? done : ds->count, ds->count);
        if (opts->stop && opts->stop(opts->stop_user))
            break;
        if (cancelled)
            return facs_fail(FACS_ERR_CANCELLED, "an image was cancelled, but the evaluation was not stopped");
    }
    return cm && opts->comm ? facs_confusion_allreduce(cm, opts->comm) : FACS_OK;
}
