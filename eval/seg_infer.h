/* Segmentation inference on one image: the predicted class of every pixel,
 * as hszhao/semseg's test computes it.
 *
 *     facs_seg_infer_opts o = facs_seg_infer_defaults();   // ImageNet mean/std, the image's own size
 *     o.base_size = 1024;                                  // or: the longer side resized to 1024
 *     int32_t *pred = malloc(sizeof *pred * img.width * img.height);
 *     FACS_TRY(facs_seg_predict_whole(ctx, model, &img, &o, pred));
 *
 * Whole mode (the one mode so far; slide, flip and multi-scale are the next
 * step of docs/pspnet.md): the image, normalised with mean/std, goes through
 * the network at once, in evaluation mode without a tape. At the image's own
 * size each pixel's class is the argmax of its logits. With a base size that
 * differs from the longer side, the image is resized (bilinear on float
 * pixels, the shorter side rounded as facs_long_side_size says), and the
 * softmax probabilities are resized back to the image's size (bilinear,
 * align_corners=False, i.e. cv2.resize INTER_LINEAR) before the argmax, as
 * semseg's scale_process does. Ties go to the lower class. */
#ifndef FACS_SEG_INFER_H
#define FACS_SEG_INFER_H

#include <stdint.h>

#include "image.h"
#include "model.h"

typedef struct {
    float mean[3], std[3]; /* 0..1 units, as facs_seg_aug */
    int base_size;         /* the longer side the network sees; 0: each image at its own size */
} facs_seg_infer_opts;

facs_seg_infer_opts facs_seg_infer_defaults(void);

/* predicted: img->height x img->width class ids in [0, classes) of the model,
 * row-major. img is RGB. Fails on a model that is not a segmentation model,
 * an output of the wrong shape, and logits that are not finite (naming the
 * pixel). */
facs_status facs_seg_predict_whole(facs_ctx *ctx, facs_model *model, const facs_image *img,
                                   const facs_seg_infer_opts *opts, int32_t *predicted);

#endif
