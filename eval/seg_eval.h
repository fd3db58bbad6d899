/* Whole-image evaluation of a segmentation model, single scale: each image of
 * a dataset (RGB image + trainId map, e.g. facs_cityscapes_dataset) is
 * normalised with the given mean/std, run through the model at its own size
 * (PSPNet upsamples its logits to the input), and every pixel's argmax is
 * counted against its label into a confusion matrix (confusion.h), the
 * ignore label skipped. mIoU comes from the summed matrix, never as a mean of
 * per-image IoUs. pspnet-train's validation and pspnet-eval's whole mode
 * share it.
 *
 *     facs_seg_eval_opts o = facs_seg_eval_defaults();   // ImageNet mean/std, ignore 255
 *     FACS_TRY(facs_seg_eval_whole(ctx, model, &ds, &o, &cm));
 *     printf("mIoU %.4f\n", facs_confusion_miou(&cm));
 */
#ifndef FACS_SEG_EVAL_H
#define FACS_SEG_EVAL_H

#include "confusion.h"
#include "loader.h"
#include "model.h"

typedef struct {
    float mean[3], std[3]; /* 0..1 units, as facs_seg_aug */
    int ignore_label;      /* 255 */
    /* Called after each image with (done, total), e.g. for a progress bar; may be NULL. */
    void (*progress)(void *user, int done, int total);
    void *progress_user;
} facs_seg_eval_opts;

facs_seg_eval_opts facs_seg_eval_defaults(void);

/* Adds every image of ds to cm (which keeps what it held: reset it first for
 * one split). The model runs in evaluation mode without a tape. Fails naming
 * the image: a load error, a label outside [0, cm->classes) other than the
 * ignore label, and logits that are not finite. */
facs_status facs_seg_eval_whole(facs_ctx *ctx, facs_model *model, const facs_dataset *ds,
                                const facs_seg_eval_opts *opts, facs_confusion *cm);

#endif
