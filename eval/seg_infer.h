/* Segmentation inference on one image: the predicted class of every pixel,
 * as hszhao/semseg's test computes it.
 *
 *     facs_seg_infer_opts o = facs_seg_infer_defaults();   // ImageNet mean/std, the image's own size
 *     o.base_size = 1024;                                  // or: the longer side resized to 1024
 *     o.crop_h = o.crop_w = 713;                           // sliding 713x713 windows (else whole)
 *     int32_t *pred = malloc(sizeof *pred * img.width * img.height);
 *     FACS_TRY(facs_seg_predict(ctx, model, &img, &o, pred, NULL));   // or probabilities too
 *
 * Whole mode (crop_h = 0): the image, normalised with mean/std, goes through
 * the network at once, in evaluation mode without a tape. At the image's own
 * size each pixel's class is the argmax of its logits. With a base size that
 * differs from the longer side, the image is resized (bilinear on float
 * pixels, the shorter side rounded as facs_long_side_size says), and the
 * softmax probabilities are resized back to the image's size (bilinear,
 * align_corners=False, i.e. cv2.resize INTER_LINEAR) before the argmax, as
 * semseg's scale_process does. Ties go to the lower class.
 *
 * Slide mode (crop_h, crop_w > 0), semseg's scale_process: the (resized)
 * image is padded around with the mean to at least the crop (the extra row or
 * column at the bottom/right), windows of the crop are taken every stride
 * (ceil(2/3 crop) by default; the last one flush with the edge), one window at
 * a time through the network, and each pixel's softmax is the mean over the
 * windows that cover it; then the padding is cut and the probabilities are
 * resized back as in whole mode.
 *
 * flip (both modes), semseg's net_process: the mirrored image (or window) goes
 * through in the same batch of 2, and the two softmaxes, the mirrored one
 * flipped back, are averaged. (semseg's test.py always flips; here it is an
 * option, off by default, as in mmsegmentation.)
 *
 * Multi-scale (scales, semseg's test with --scales): for each scale s the
 * longer side becomes round(s * base_size) (half to even, as Python's round;
 * base_size 0: the image's longer side), the image goes through whole or slide
 * mode at that size, its probabilities are resized back to the image's size,
 * and the probabilities of all scales are summed and divided by their number.
 *
 * Memory: one scale at a time and, in slide mode, one window (two with flip)
 * at a time through the network; besides the network, the image's
 * probabilities at most twice (h * w * classes floats). */
#ifndef FACS_SEG_INFER_H
#define FACS_SEG_INFER_H

#include <stdint.h>

#include "image.h"
#include "model.h"

#define FACS_SEG_MAX_SCALES 16
/* How the message of logits that are not finite begins: a caller tells a model
 * that diverged from bad input by it (pspnet-train's validation). */
#define FACS_SEG_NOT_FINITE "the model's output is not finite"

typedef struct {
    float mean[3], std[3]; /* 0..1 units, as facs_seg_aug */
    int base_size;         /* the longer side the network sees; 0: each image at its own size */
    int crop_h, crop_w;    /* slide mode's window; 0: whole mode */
    int stride_h, stride_w; /* slide mode's step, at most the crop; 0: facs_seg_default_stride */
    int flip;              /* also the mirrored image, softmax averaged */
    int n_scales;          /* 0: one scale, 1.0 */
    float scales[FACS_SEG_MAX_SCALES]; /* multi-scale: the longer side is scale * base_size */
    /* Asked before each scale and each window (a 2048x1024 frame at six
     * scales with flip takes minutes on a CPU); nonzero ends the prediction
     * with FACS_ERR_CANCELLED. May be NULL. */
    int (*cancel)(void *user);
    void *cancel_user;
} facs_seg_infer_opts;

facs_seg_infer_opts facs_seg_infer_defaults(void);

/* predicted: img->height x img->width class ids in [0, classes) of the model,
 * row-major. probs, when not NULL: img->height x img->width x classes (the
 * classes of a pixel contiguous), each pixel's class probabilities as the
 * mode, flip and scales of opts average them; predicted is then their argmax.
 * Without probs, one scale at the image's own size in whole mode without flip
 * takes the argmax of the logits (the same classes, no softmax). img is RGB. Fails on a model that is not a segmentation model,
 * an output of the wrong shape, and logits that are not finite (naming the
 * pixel) and a stride larger than the crop. */
facs_status facs_seg_predict(facs_ctx *ctx, facs_model *model, const facs_image *img,
                             const facs_seg_infer_opts *opts, int32_t *predicted, float *probs);

/* semseg's stride for a crop side: ceil(crop * 2/3), 476 for 713. */
int facs_seg_default_stride(int crop);

/* Slide mode on an h x w image: whether every window is mostly padding, the
 * crop more than twice the image on a side at every scale (a 713 crop on
 * small frames: the network sees mostly the mean, unlike in training).
 * *nh, *nw get the image's largest size at the network (0 in whole mode). */
int facs_seg_windows_mostly_padding(const facs_seg_infer_opts *opts, int h, int w, int *nh, int *nw);

#endif
