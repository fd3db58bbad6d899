/* Evaluation of a segmentation model over a dataset, whole images or sliding
 * windows (seg_infer.h),
 * single scale: each image of a dataset (RGB image + trainId map, e.g.
 * facs_cityscapes_dataset) is predicted and every pixel is counted against its
 * label into a confusion matrix (confusion.h), the ignore label skipped. mIoU
 * comes from the summed matrix, never as a mean of per-image IoUs.
 * pspnet-train's validation and pspnet-eval share it.
 *
 *     facs_seg_eval_opts o = facs_seg_eval_defaults();   // ImageNet mean/std, own size, ignore 255
 *     FACS_TRY(facs_seg_eval_whole(ctx, model, &ds, &o, &cm));
 *     printf("mIoU %.4f\n", facs_confusion_miou(&cm));
 *
 * A caller that wants the predictions (to save them) sets on_prediction; with
 * cm NULL nothing is counted and the dataset's labels are not read, which
 * predicts on images that have none. */
#ifndef FACS_SEG_EVAL_H
#define FACS_SEG_EVAL_H

#include "confusion.h"
#include "loader.h"
#include "model.h"
#include "seg_infer.h"

/* One image's prediction, as on_prediction sees it (valid during the call). */
typedef struct {
    int index;                /* the dataset index */
    const facs_image *image;  /* the RGB image as loaded */
    const facs_image *labels; /* the predicted class of each pixel: 1 channel, the image's size */
    const float *probs;       /* with keep_probabilities: height x width x classes (seg_infer.h), else NULL */
    int classes;
} facs_seg_prediction;

typedef struct {
    facs_seg_infer_opts infer; /* normalisation, size, mode, flip, scales (seg_infer.h) */
    int ignore_label;      /* 255 */
    /* Called after each image with (done, total), e.g. for a progress bar; may
     * be NULL. With comm, done counts the images of every rank, the ranks
     * taken to keep pace with this one. */
    void (*progress)(void *user, int done, int total);
    void *progress_user;
    /* Asked after each image (with comm: after each round of one image per
     * rank, the same number of times on every rank, so it may be a
     * collective such as train/parallel.h's stop agreement), the last too;
     * nonzero ends the evaluation there, with FACS_OK and cm holding the
     * images done so far (an image infer.cancel cut short is not among them:
     * stop must then answer nonzero too). May be NULL. */
    int (*stop)(void *user);
    void *stop_user;
    /* Called with each image's prediction (classes must then be at most 256);
     * a failure stops the evaluation with its status. May be NULL. */
    facs_status (*on_prediction)(void *user, const facs_seg_prediction *p);
    void *prediction_user;
    int keep_probabilities; /* on_prediction also gets each pixel's class probabilities */
    /* The images' names for messages (ds->count entries, e.g. their files); NULL: "image 3 of 500". */
    const char *const *names;
    /* Data parallel (comm.h), or NULL: rank r of N evaluates images r, r + N,
     * ... and cm ends as the sum over the ranks (the whole dataset's). */
    facs_comm *comm;
} facs_seg_eval_opts;

facs_seg_eval_opts facs_seg_eval_defaults(void);

/* Adds every image of ds to cm (which keeps what it held: reset it first for
 * one split), or only predicts when cm is NULL. The model runs in evaluation
 * mode without a tape. Fails with a load error as the dataset words it (naming
 * the file), and naming the image (opts->names or its index): a label outside
 * [0, cm->classes) other than the ignore label, a label map of another size,
 * logits that are not finite, and the failure of on_prediction; before any
 * image, a model whose classes are not cm's. With opts->comm every rank must
 * call it (the matrix is summed at the end). */
facs_status facs_seg_eval_whole(facs_ctx *ctx, facs_model *model, const facs_dataset *ds,
                                const facs_seg_eval_opts *opts, facs_confusion *cm);

#endif
