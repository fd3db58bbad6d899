/* Data augmentation for classification and segmentation.
 *
 *     facs_cls_aug aug = facs_cls_aug_cifar_train();          // pad 4, random 32x32 crop, flip, normalize
 *     float *out = malloc(sizeof(float) * 32 * 32 * 3);        // one sample of an NHWC batch
 *     if (facs_cls_augment(&aug, &img, seed, epoch, index, out) != FACS_OK)
 *         ... facs_last_error() ...
 *
 * Conventions:
 *   - Inputs are 8-bit HWC images (facs_image). Work happens on float HWC images
 *     (facs_fimage) whose values stay in 0..255 until the last step, normalize,
 *     which computes (x / 255 - mean) / std per channel exactly as torchvision's
 *     ToTensor + Normalize do in float32. mean and std are given in 0..1 units
 *     (FACS_IMAGENET_MEAN ...); fills of the segmentation recipe are mean * 255.
 *   - Output is float HWC: one sample of an NHWC batch.
 *   - Label maps are 1-channel 8-bit facs_images (facs_image_read_label) and are
 *     ALWAYS resampled nearest-neighbour, so every output label is a value of the
 *     input or the ignore label (255).
 *   - Every random choice of sample `index` in `epoch` comes from a counter-based
 *     stream keyed by (seed, epoch, index) (facs_aug_rng), so the result never
 *     depends on thread count or order.
 *
 * Geometry follows torchvision (classification) and hszhao/semseg (segmentation);
 * each function says where it differs. */
#ifndef FACS_AUGMENT_H
#define FACS_AUGMENT_H

#include <stdint.h>

#include "image.h"
#include "status.h"

/* Normalization presets (0..1 units, RGB). CIFAR's are the per-channel mean and
 * standard deviation of CIFAR-10's training pixels. */
#define FACS_IMAGENET_MEAN {0.485f, 0.456f, 0.406f}
#define FACS_IMAGENET_STD {0.229f, 0.224f, 0.225f}
#define FACS_CIFAR_MEAN {0.4914f, 0.4822f, 0.4465f}
#define FACS_CIFAR_STD {0.2470f, 0.2435f, 0.2616f}

#define FACS_AUG_MAX_CHANNELS 4
#define FACS_IGNORE_LABEL 255

/* A float HWC image; owns data (malloc'd height * width * channels floats). */
typedef struct {
    int height, width, channels;
    float *data;
} facs_fimage;

void facs_fimage_free(facs_fimage *img);
/* A new image of the given size, uninitialised. */
facs_status facs_fimage_alloc(int height, int width, int channels, facs_fimage *out);
/* Converts 8-bit pixels to floats 0..255. */
facs_status facs_fimage_from_u8(const facs_image *in, facs_fimage *out);

/* ---- Random streams ---- */

/* The stream of one sample: draw k is a hash of (key, k). */
typedef struct {
    uint64_t key;
    uint64_t counter;
} facs_aug_rng;

facs_aug_rng facs_aug_rng_init(uint64_t seed, int epoch, int index);
/* Uniform in [0, 1) (24 bits, facs_rng_uniform). */
float facs_aug_uniform(facs_aug_rng *r);
/* Uniform in [lo, hi). */
float facs_aug_uniform_range(facs_aug_rng *r, float lo, float hi);
/* Uniform integer in [0, n) from 64 hashed bits (bias below n / 2^64); n >= 1. */
uint64_t facs_aug_rand_below(facs_aug_rng *r, uint64_t n);

/* Fisher-Yates permutation of 0..n-1 keyed by (seed, epoch), into perm. */
void facs_aug_permutation(uint64_t seed, int epoch, int *perm, int n);

/* A rectangle of an image (it may reach outside where a function says so). */
typedef struct {
    int top, left, height, width;
} facs_window;

/* ---- Deterministic image operations (float HWC, values unchanged in range) ---- */

/* Bilinear resize to (oh, ow) as torch.nn.functional.interpolate(mode="bilinear",
 * align_corners=False) without antialiasing, i.e. torchvision's resize on a tensor
 * with antialias=False: float scale in / out, half-pixel source coordinates
 * clamped at 0, computed in float. */
facs_status facs_fimage_resize(const facs_fimage *in, int oh, int ow, facs_fimage *out);
/* torchvision resize(size=S): the shorter side becomes S, the longer
 * int(S * long / short); an image whose shorter side is already S is copied. */
facs_status facs_fimage_resize_shorter(const facs_fimage *in, int s, facs_fimage *out);
/* The size torchvision's resize(size=S) gives an h x w image (as above). */
void facs_resize_shorter_size(int h, int w, int s, int *oh, int *ow);
/* The size (*oh, *ow) of an h x w image resized so that its longer side is
 * long_side, as semseg's test does: the shorter side scaled and rounded to
 * nearest (ties to even, as Python's round), at least 1. */
void facs_long_side_size(int h, int w, int long_side, int *oh, int *ow);
/* The window (top, left, h, w), which may reach outside the image: outside pixels
 * are fill[c] (NULL: 0, as torchvision's crop pads). */
facs_status facs_fimage_crop(const facs_fimage *in, int top, int left, int h, int w, const float *fill,
                             facs_fimage *out);
/* torchvision center_crop: top = round((H - h) / 2) (ties to even, as Python's
 * round), zero padding when the crop is larger than the image. */
facs_status facs_fimage_center_crop(const facs_fimage *in, int h, int w, facs_fimage *out);
void facs_fimage_hflip(facs_fimage *img);
/* In place: x = (x / 255 - mean[c]) / std[c], each step rounded to float. */
void facs_fimage_normalize(facs_fimage *img, const float *mean, const float *std);
/* Rotation by deg degrees counter-clockwise about (W / 2, H / 2), as OpenCV's
 * getRotationMatrix2D + warpAffine(INTER_LINEAR, BORDER_CONSTANT): bilinear, taps
 * outside the image read fill[c]. Output size = input size. */
facs_status facs_fimage_rotate(const facs_fimage *in, float deg, const float *fill, facs_fimage *out);
/* OpenCV's GaussianBlur(ksize 5x5, sigma 0), whose kernel is the fixed binomial
 * [1 4 6 4 1] / 16, separable, border reflect-101 (dcb|abcd|cba). */
facs_status facs_fimage_blur5(const facs_fimage *in, facs_fimage *out);

/* ---- 8-bit resampling as PIL (torchvision's transforms on PIL images) ---- */

/* PIL's img.crop(box).resize((ow, oh), Image.BILINEAR), byte for byte (Pillow
 * 9.4; resample_pil.c): the triangle filter stretched by the scale when
 * downscaling (antialiased), 22-bit integer weights, a horizontal then a
 * vertical pass, each rounded to 8 bits. box must lie inside the image; any
 * channel count. */
facs_status facs_image_resize_pil(const facs_image *in, facs_window box, int oh, int ow, facs_image *out);
/* PIL's img.resize((ow, oh), Image.BILINEAR, box=(x0, y0, x1, y1)) with a
 * fractional box {x0, y0, x1, y1} inside the image: unlike crop + resize, the
 * taps at the box's edges read the pixels beyond it (up to the image's edge). */
facs_status facs_image_resize_pil_box(const facs_image *in, const double box[4], int oh, int ow, facs_image *out);
/* The box of an encoded PNG or JPEG (decoded to `channels`) resized to oh x ow
 * as PIL does, the JPEG decoded at the largest draft scale s of 8, 4, 2 that
 * leaves the box s * oh x s * ow pixels: PIL's Image.open, draft(mode,
 * (W // s, H // s)), resize((ow, oh), BILINEAR, box=box / s), byte for byte.
 * Without such an s (or for a PNG), the full decode's crop + resize
 * (facs_image_resize_pil). *scale_used (may be NULL): s, or 1. */
facs_status facs_image_resize_draft(const uint8_t *buf, size_t len, const char *name, int channels,
                                    facs_window box, int oh, int ow, facs_image *out, int *scale_used);

/* ---- Label maps (1-channel facs_image, nearest-neighbour only) ---- */

/* Nearest-neighbour resize: source index floor((d + 0.5) * in / out), the pixel
 * whose centre is nearest, which keeps labels aligned with the bilinear image. */
facs_status facs_label_resize(const facs_image *in, int oh, int ow, facs_image *out);
/* Same geometry as facs_fimage_rotate; the nearest source pixel, or fill when it
 * lies outside the image. */
facs_status facs_label_rotate(const facs_image *in, float deg, uint8_t fill, facs_image *out);
facs_status facs_label_crop(const facs_image *in, int top, int left, int h, int w, uint8_t fill,
                            facs_image *out);
void facs_label_hflip(facs_image *img);

/* ---- Windows of a larger image ----
 * The segmentation recipe keeps only its crop, so it computes only the pixels
 * the crop needs: each function below produces the window out_win (or win) of
 * what its full-image counterpart would produce for a frame_h x frame_w image,
 * bit for bit, reading its input from the window in_win of that frame. */

/* Window of facs_fimage_resize(in, oh, ow) / facs_label_resize(in, oh, ow). */
facs_status facs_fimage_resize_window(const facs_fimage *in, int oh, int ow, facs_window win, facs_fimage *out);
facs_status facs_label_resize_window(const facs_image *in, int oh, int ow, facs_window win, facs_image *out);
/* The part of the frame that the rotation's taps for out_win can touch (clipped
 * to the frame): the in_win the rotate functions need. */
facs_window facs_rotate_source_window(int frame_h, int frame_w, float deg, facs_window out_win);
facs_status facs_fimage_rotate_window(const facs_fimage *in, facs_window in_win, int frame_h, int frame_w,
                                      float deg, const float *fill, facs_window out_win, facs_fimage *out);
facs_status facs_label_rotate_window(const facs_image *in, facs_window in_win, int frame_h, int frame_w,
                                     float deg, uint8_t fill, facs_window out_win, facs_image *out);
/* in_win must hold out_win grown by 2 on each side, clipped to the frame. */
facs_status facs_fimage_blur5_window(const facs_fimage *in, facs_window in_win, int frame_h, int frame_w,
                                     facs_window out_win, facs_fimage *out);

/* ---- Classification pipeline ---- */

typedef enum {
    FACS_CROP_NONE = 0,       /* the image must already be out_height x out_width */
    FACS_CROP_PAD_RANDOM,     /* CIFAR: zero-pad by `pad`, random out_height x out_width window */
    FACS_CROP_RESIZED_RANDOM, /* torchvision RandomResizedCrop, then bilinear resize */
    FACS_CROP_CENTER          /* resize the shorter side to resize_shorter (0: keep), center crop */
} facs_crop_kind;

typedef struct {
    facs_crop_kind crop;
    int out_height, out_width;
    int pad;                            /* FACS_CROP_PAD_RANDOM */
    float scale_min, scale_max;         /* FACS_CROP_RESIZED_RANDOM: area fraction */
    float ratio_min, ratio_max;         /* FACS_CROP_RESIZED_RANDOM: aspect ratio w / h */
    int resize_shorter;                 /* FACS_CROP_CENTER */
    int pil_resize;                     /* 1: crop and resize the 8-bit image as PIL (facs_image_resize_pil),
                                           torchvision's transforms on the PIL images ImageFolder loads;
                                           0: float resize without antialiasing, as on tensors */
    int jpeg_draft;                     /* facs_cls_augment_file with pil_resize: a JPEG whose crop allows it
                                           decodes at 1/2, 1/4 or 1/8 of its size (PIL's draft) */
    float flip_p;                       /* horizontal flip probability */
    int channels;                       /* 1 or 3 (4 allowed); must match the images */
    float mean[FACS_AUG_MAX_CHANNELS];  /* 0..1 units */
    float std[FACS_AUG_MAX_CHANNELS];
} facs_cls_aug;

facs_cls_aug facs_cls_aug_cifar_train(void);    /* pad 4, crop 32, flip 0.5, CIFAR normalize */
facs_cls_aug facs_cls_aug_cifar_eval(void);     /* 32x32 as is, CIFAR normalize */
/* torchvision's ImageNet recipe on PIL images (pil_resize = 1), bit for bit up to the
 * random draws: RandomResizedCrop(224) + RandomHorizontalFlip() / Resize(256) +
 * CenterCrop(224), then ToTensor + Normalize(ImageNet mean, std). */
facs_cls_aug facs_cls_aug_imagenet_train(void); /* RandomResizedCrop 224, flip 0.5, ImageNet normalize */
facs_cls_aug facs_cls_aug_imagenet_eval(void);  /* resize 256, center crop 224, ImageNet normalize */

/* torchvision RandomResizedCrop.get_params: 10 attempts at an area fraction in
 * [scale_min, scale_max) and a log-uniform ratio, w = round(sqrt(area * ratio)),
 * h = round(sqrt(area / ratio)); the first that fits is placed uniformly; else the
 * central crop with the ratio clamped to [ratio_min, ratio_max]. */
void facs_random_resized_crop_params(facs_aug_rng *r, int height, int width, float scale_min,
                                     float scale_max, float ratio_min, float ratio_max, int *top, int *left,
                                     int *h, int *w);

/* One training or evaluation sample: crop (per opts->crop), flip, normalize, into
 * out (out_height * out_width * channels floats, HWC). Randomness from
 * (seed, epoch, index). */
facs_status facs_cls_augment(const facs_cls_aug *opts, const facs_image *img, uint64_t seed, int epoch,
                             int index, float *out);

/* facs_cls_augment of an encoded PNG or JPEG (len bytes at buf; name for
 * messages), decoded to opts->channels. With jpeg_draft (and pil_resize), a
 * JPEG whose crop still has s times the output's pixels on both sides, s = 2, 4
 * or 8 (the largest), is decoded at 1/s of its size by libjpeg's scaled IDCT
 * (facs_image_decode_draft) and resized from there with the box divided by s,
 * as PIL's img.draft() + resize(box=) do: the same box and draws as the full
 * decode, with up to 64 times fewer pixels through the IDCT, colour conversion
 * and resize (the Huffman decoding of every coefficient remains: a 12 MP photo
 * decodes in 116 ms whole, 19, 14 or 12 ms at 1/2, 1/4, 1/8), and pixels a
 * fraction of a level from the full decode's on photographs (0.1-0.35 on
 * average, measured on skimage's photos enlarged 4x; 3-5 on per-pixel noise,
 * tests/test_jpeg_draft.c). Otherwise the same sample as facs_cls_augment of
 * the decoded file. *bad_file is 1 when the failure is the file's (it does not
 * decode), 0 when it came after decoding. */
facs_status facs_cls_augment_file(const facs_cls_aug *opts, const uint8_t *buf, size_t len, const char *name,
                                  uint64_t seed, int epoch, int index, float *out, int *bad_file);

/* ---- Segmentation pipeline (hszhao/semseg) ---- */

typedef struct {
    int train;                   /* 1: the random recipe below; 0: evaluation */
    int crop_height, crop_width; /* output size */
    float scale_min, scale_max;  /* train: RandScale, [0.5, 2.0] */
    float rotate_deg;            /* train: RandRotate in [-rotate_deg, rotate_deg] */
    float rotate_p;              /* train: probability of rotating (semseg: 0.5) */
    float blur_p;                /* train: probability of the 5x5 Gaussian blur */
    float flip_p;                /* train: probability of the horizontal flip */
    int eval_long_side;          /* eval: resize so the longer side is this (0: keep) */
    float mean[3], std[3];       /* 0..1 units; image fills are mean * 255 */
    int ignore_label;            /* label fill (255) */
} facs_seg_aug;

facs_seg_aug facs_seg_aug_train(int crop_height, int crop_width); /* semseg's train recipe, ImageNet stats */
facs_seg_aug facs_seg_aug_eval(int crop_height, int crop_width);  /* center crop/pad + normalize */

/* Train: random scale (image bilinear, label nearest; size round(side * s)),
 * rotation (p rotate_p; image fill = mean, label fill = ignore), blur (p blur_p),
 * flip (p flip_p), crop_height x crop_width at a random position after padding
 * (image with the mean, label with ignore; semseg's Crop: padding split top/bottom
 * as pad / 2 and the rest), normalize. Eval: optional resize of the longer side,
 * the same pad + centre crop, normalize. img is 3-channel, label 1-channel of the
 * same size. out: crop_height * crop_width * 3 floats; out_label: crop_height *
 * crop_width labels. Train draws, in order: scale, rotate?, angle, blur?, flip?,
 * crop top, crop left. Only the pixels the crop keeps are computed (see the
 * window functions), with the same result as whole-image steps. */
facs_status facs_seg_augment(const facs_seg_aug *opts, const facs_image *img, const facs_image *label,
                             uint64_t seed, int epoch, int index, float *out, int32_t *out_label);

#endif
