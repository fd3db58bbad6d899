/* The classification pipeline: CIFAR's pad-and-crop, torchvision's
 * RandomResizedCrop, resize + center crop (in floats, or on the 8-bit image as
 * PIL resizes it), flip and normalize. */
#include <math.h>
#include <string.h>

#include "augment.h"

static facs_cls_aug cls_base(int size, const float *mean, const float *std)
{
    facs_cls_aug a;
    memset(&a, 0, sizeof a);
    a.out_height = a.out_width = size;
    a.channels = 3;
    a.scale_min = 0.08f;
    a.scale_max = 1.0f;
    a.ratio_min = 3.0f / 4.0f;
    a.ratio_max = 4.0f / 3.0f;
    for (int c = 0; c < 3; c++) {
        a.mean[c] = mean[c];
        a.std[c] = std[c];
    }
    return a;
}

facs_cls_aug facs_cls_aug_cifar_train(void)
{
    static const float mean[] = FACS_CIFAR_MEAN, std[] = FACS_CIFAR_STD;
    facs_cls_aug a = cls_base(32, mean, std);
    a.crop = FACS_CROP_PAD_RANDOM;
    a.pad = 4;
    a.flip_p = 0.5f;
    return a;
}

facs_cls_aug facs_cls_aug_cifar_eval(void)
{
    static const float mean[] = FACS_CIFAR_MEAN, std[] = FACS_CIFAR_STD;
    return cls_base(32, mean, std);
}

facs_cls_aug facs_cls_aug_imagenet_train(void)
{
    static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
    facs_cls_aug a = cls_base(224, mean, std);
    a.crop = FACS_CROP_RESIZED_RANDOM;
    a.flip_p = 0.5f;
    a.pil_resize = 1;
    return a;
}

facs_cls_aug facs_cls_aug_imagenet_eval(void)
{
    static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
    facs_cls_aug a = cls_base(224, mean, std);
    a.crop = FACS_CROP_CENTER;
    a.resize_shorter = 256;
    a.pil_resize = 1;
    return a;
}

void facs_random_resized_crop_params(facs_aug_rng *r, int height, int width, float scale_min,
                                     float scale_max, float ratio_min, float ratio_max, int *top, int *left,
                                     int *h, int *w)
{
    double area = (double)height * width;
    double log_lo = log(ratio_min), log_hi = log(ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * facs_aug_uniform_range(r, scale_min, scale_max);
        double ratio = exp(log_lo + (log_hi - log_lo) * facs_aug_uniform(r));
        /* Python's round (ties to even), as torchvision. */
        int cw = (int)nearbyint(sqrt(target * ratio));
        int ch = (int)nearbyint(sqrt(target / ratio));
        if (cw > 0 && cw <= width && ch > 0 && ch <= height) {
            *top = (int)facs_aug_rand_below(r, (uint64_t)(height - ch + 1));
            *left = (int)facs_aug_rand_below(r, (uint64_t)(width - cw + 1));
            *h = ch;
            *w = cw;
            return;
        }
    }
    double in_ratio = (double)width / height;
    if (in_ratio < ratio_min) {
        *w = width;
        *h = (int)nearbyint(*w / (double)ratio_min);
    } else if (in_ratio > ratio_max) {
        *h = height;
        *w = (int)nearbyint(*h * (double)ratio_max);
    } else {
        *w = width;
        *h = height;
    }
    *top = (height - *h) / 2;
    *left = (width - *w) / 2;
}

/* The crop stage: from the float image to out_height x out_width. */
static facs_status cls_crop(const facs_cls_aug *o, const facs_fimage *x, facs_aug_rng *r, facs_fimage *y)
{
    int oh = o->out_height, ow = o->out_width;
    switch (o->crop) {
    case FACS_CROP_NONE:
        if (x->height != oh || x->width != ow)
            return facs_fail(FACS_ERR_ARG, "augment: image is %dx%d, expected %dx%d (no crop configured)",
                             x->height, x->width, oh, ow);
        return facs_fimage_crop(x, 0, 0, oh, ow, NULL, y);
    case FACS_CROP_PAD_RANDOM: {
        /* torchvision RandomCrop(size, padding=pad): zero-pad all sides, then a
         * uniform window of the padded image. */
        int ph = x->height + 2 * o->pad, pw = x->width + 2 * o->pad;
        if (ph < oh || pw < ow)
            return facs_fail(FACS_ERR_ARG, "augment: padded image %dx%d is smaller than the crop %dx%d", ph,
                             pw, oh, ow);
        int top = (int)facs_aug_rand_below(r, (uint64_t)(ph - oh + 1)) - o->pad;
        int left = (int)facs_aug_rand_below(r, (uint64_t)(pw - ow + 1)) - o->pad;
        return facs_fimage_crop(x, top, left, oh, ow, NULL, y);
    }
    case FACS_CROP_RESIZED_RANDOM: {
        int top, left, h, w;
        facs_random_resized_crop_params(r, x->height, x->width, o->scale_min, o->scale_max, o->ratio_min,
                                        o->ratio_max, &top, &left, &h, &w);
        facs_fimage c;
        FACS_TRY(facs_fimage_crop(x, top, left, h, w, NULL, &c));
        facs_status st = facs_fimage_resize(&c, oh, ow, y);
        facs_fimage_free(&c);
        return st;
    }
    case FACS_CROP_CENTER: {
        if (o->resize_shorter <= 0)
            return facs_fimage_center_crop(x, oh, ow, y);
        facs_fimage s;
        FACS_TRY(facs_fimage_resize_shorter(x, o->resize_shorter, &s));
        facs_status st = facs_fimage_center_crop(&s, oh, ow, y);
        facs_fimage_free(&s);
        return st;
    }
    }
    return facs_fail(FACS_ERR_ARG, "augment: unknown crop kind %d", (int)o->crop);
}

/* Where the PIL-resize crop reads from a height x width image and what size
 * it resizes that to: the random box (RandomResizedCrop, to the output size),
 * or the whole image (to the shorter-side size, or kept, before the centre crop). */
typedef struct {
    facs_window box;
    int oh, ow;
} pil_plan;

static pil_plan plan_pil(const facs_cls_aug *o, facs_aug_rng *r, int height, int width)
{
    pil_plan p = {{0, 0, height, width}, o->out_height, o->out_width};
    if (o->crop == FACS_CROP_RESIZED_RANDOM)
        facs_random_resized_crop_params(r, height, width, o->scale_min, o->scale_max, o->ratio_min, o->ratio_max,
                                        &p.box.top, &p.box.left, &p.box.height, &p.box.width);
    else if (o->resize_shorter > 0)
        facs_resize_shorter_size(height, width, o->resize_shorter, &p.oh, &p.ow);
    else
        p.oh = height, p.ow = width;
    return p;
}

/* The crop stage with PIL's resize (pil_resize), for the two crops that
 * resize, after the resize: the result in floats 0..255 like cls_crop's.
 * Frees resized. */
static facs_status crop_pil(const facs_cls_aug *o, facs_image *resized, facs_fimage *y)
{
    facs_fimage x;
    facs_status st = facs_fimage_from_u8(resized, &x);
    facs_image_free(resized);
    if (st != FACS_OK || o->crop == FACS_CROP_RESIZED_RANDOM) {
        *y = x;
        return st;
    }
    st = facs_fimage_center_crop(&x, o->out_height, o->out_width, y);
    facs_fimage_free(&x);
    return st;
}

static int uses_pil_crop(const facs_cls_aug *o)
{
    return o->pil_resize && (o->crop == FACS_CROP_RESIZED_RANDOM || o->crop == FACS_CROP_CENTER);
}

/* The steps after the crop: flip, normalize, out. Frees y. */
static void finish_sample(const facs_cls_aug *opts, facs_aug_rng *r, facs_fimage *y, float *out)
{
    /* Drawn even when flip_p is 0, so enabling the flip does not move other draws. */
    if (facs_aug_uniform(r) < opts->flip_p)
        facs_fimage_hflip(y);
    facs_fimage_normalize(y, opts->mean, opts->std);
    memcpy(out, y->data, sizeof(float) * (size_t)y->height * y->width * y->channels);
    facs_fimage_free(y);
}

facs_status facs_cls_augment(const facs_cls_aug *opts, const facs_image *img, uint64_t seed, int epoch,
                             int index, float *out)
{
    if (img->channels != opts->channels)
        return facs_fail(FACS_ERR_ARG, "augment: sample %d has %d channels, expected %d", index, img->channels,
                         opts->channels);
    facs_aug_rng r = facs_aug_rng_init(seed, epoch, index);
    facs_fimage y;
    if (uses_pil_crop(opts)) {
        pil_plan p = plan_pil(opts, &r, img->height, img->width);
        facs_image resized;
        FACS_TRY(facs_image_resize_pil(img, p.box, p.oh, p.ow, &resized));
        FACS_TRY(crop_pil(opts, &resized, &y));
    } else {
        facs_fimage x;
        FACS_TRY(facs_fimage_from_u8(img, &x));
        facs_status st = cls_crop(opts, &x, &r, &y);
        facs_fimage_free(&x);
        if (st != FACS_OK)
            return st;
    }
    finish_sample(opts, &r, &y, out);
    return FACS_OK;
}

facs_status facs_cls_augment_file(const facs_cls_aug *opts, const uint8_t *buf, size_t len, const char *name,
                                  uint64_t seed, int epoch, int index, float *out, int *bad_file)
{
    *bad_file = 1;
    facs_image img;
    if (!opts->jpeg_draft || !uses_pil_crop(opts)) {
        FACS_TRY(facs_image_decode(buf, len, name, opts->channels, &img));
        *bad_file = 0;
        facs_status st = facs_cls_augment(opts, &img, seed, epoch, index, out);
        facs_image_free(&img);
        return st;
    }
    int width, height, jpeg;
    FACS_TRY(facs_image_probe(buf, len, name, &width, &height, &jpeg));
    facs_aug_rng r = facs_aug_rng_init(seed, epoch, index);
    pil_plan p = plan_pil(opts, &r, height, width);
    FACS_TRY(facs_image_resize_draft(buf, len, name, opts->channels, p.box, p.oh, p.ow, &img, NULL));
    *bad_file = 0;
    facs_fimage y;
    FACS_TRY(crop_pil(opts, &img, &y));
    finish_sample(opts, &r, &y, out);
    return FACS_OK;
}
