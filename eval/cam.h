/* Class activation maps: GradCAM, GradCAM++ and LayerCAM as
 * jacobgil/pytorch-grad-cam computes them, for any network of backbone/model.h
 * (classifiers and PSPNet) at any tapped layer (model.h facs_model_set_tap).
 *
 *     facs_model_set_tap(m, facs_model_default_tap(m));   // or "layer3.5", "features.40", ...
 *     facs_cam_freeze(m);                                  // backward stops at the tap
 *     facs_cam_grads g;
 *     FACS_TRY(facs_cam_gradients(ctx, m, image, H, W, &(facs_cam_target){.cls = -1}, &g));  // top-1
 *     float *raw = malloc(g.height * g.width * sizeof *raw), *cam = malloc(H * W * sizeof *cam);
 *     FACS_TRY(facs_cam_raw(FACS_CAM_GRADCAM_PP, g.channels, g.height, g.width, g.activations, g.gradients, raw));
 *     FACS_TRY(facs_cam_normalise(raw, g.height, g.width, H, W, cam));  // in [0, 1] at the input's size
 *     facs_cam_grads_free(&g);
 *
 * For the tapped activations A (K maps of h x w) and the gradient G of the
 * target score with respect to them (cam_gradients.c):
 *   GradCAM    w_k = mean_ij G_kij,                 raw = sum_k w_k A_k;
 *   GradCAM++  alpha = G^2 / (2 G^2 + (sum_ij A_k) G^3 + 1e-6) where G != 0,
 *              else 0; w_k = sum_ij ReLU(G) alpha,  raw = sum_k w_k A_k;
 *   LayerCAM   raw = sum_k ReLU(G_k) A_k.
 * The raw map is what pytorch-grad-cam's get_cam_image returns (before its
 * ReLU). Normalised as its compute_cam_per_layer and aggregate_multi_layers
 * do: ReLU, subtract the minimum, divide by 1e-7 + the maximum, resize
 * bilinearly to the input's size with half-pixel centres (cv2.resize
 * INTER_LINEAR, torch's align_corners = False), then subtract the minimum and
 * divide by 1e-7 + the maximum once more. Sums are taken in double.
 *
 * Targets (pytorch-grad-cam's ClassifierOutputTarget and
 * SemanticSegmentationTarget): a classifier's logit of the class; for a
 * segmentation model, the sum of the class's logits over a mask, by default
 * the pixels predicted (argmax) as that class. */
#ifndef FACS_CAM_H
#define FACS_CAM_H

#include <stdint.h>

#include "image.h"
#include "model.h"

typedef enum { FACS_CAM_GRADCAM = 0, FACS_CAM_GRADCAM_PP = 1, FACS_CAM_LAYERCAM = 2 } facs_cam_method;

/* "gradcam", "gradcam++", "layercam", NULL: indexed by facs_cam_method (for facs_cli_choice). */
extern const char *const facs_cam_method_names[];

/* What to explain. */
typedef struct {
    int cls;             /* the class; -1: the top-1 (facs_cam_grads.ranking[0]) */
    const uint8_t *mask; /* segmentation: H x W, nonzero = in the target; NULL: the pixels predicted as cls */
} facs_cam_target;

/* One image's pass: the tapped activations and the target's gradient. */
typedef struct {
    int channels, height, width;    /* K, h, w of the tapped map */
    float *activations, *gradients; /* (K, h, w) each, NCHW order; malloc'd */
    int cls;                        /* the class explained */
    double score;                   /* the target score (a logit, or a sum of logits over the mask) */
    /* The class's softmax probability: of the image (classification), or
     * its mean over the mask's pixels (segmentation; 0 for an empty mask). */
    double probability;
    long pixels;                    /* segmentation: pixels in the mask; 0 for a classifier */
    int classes;                    /* the model's */
    /* Every class, best first: by logit (classification), by the number of
     * pixels predicted as it (segmentation); ties to the lower index. */
    int *ranking;
} facs_cam_grads;

/* Freezes every parameter of model (kernels/param.h), so that backward
 * computes only the activation gradients from the output down to the tap:
 * one map costs one forward and one partial backward. The model is then
 * fit for explaining, not for training. */
void facs_cam_freeze(facs_model *model);

/* Runs model on one image (3, H, W float, NCHW, normalised as the model
 * expects) in eval mode with the tape on, then backward from the target
 * score to the model's tap (facs_model_set_tap must have set one). Refuses a
 * class outside [0, classes) and a mask on a classifier, naming the model.
 * Begins a new step of ctx (every earlier arena tensor is gone). On failure
 * *out is left empty. */
facs_status facs_cam_gradients(facs_ctx *ctx, facs_model *model, const float *image, int height, int width,
                               const facs_cam_target *target, facs_cam_grads *out);
void facs_cam_grads_free(facs_cam_grads *g);

/* The raw map (h x w) of method from activations and gradients (K, h, w). */
facs_status facs_cam_raw(facs_cam_method method, int channels, int height, int width, const float *activations,
                         const float *gradients, float *raw);

/* The normalised map (out_h x out_w, values in [0, 1]) of a raw map (h x w). */
facs_status facs_cam_normalise(const float *raw, int height, int width, int out_h, int out_w, float *cam);

/* pytorch-grad-cam's show_cam_on_image(rgb / 255, cam, use_rgb=True): 0.5 JET
 * heat map (colormap.h facs_jet_rgb) + 0.5 image, divided by its maximum,
 * times 255 truncated to bytes, in float32 as numpy computes it. rgb is a
 * 3-channel image of cam's size (cam: rgb->height x rgb->width); *out a new
 * RGB image. */
facs_status facs_cam_overlay(const facs_image *rgb, const float *cam, facs_image *out);

#endif
