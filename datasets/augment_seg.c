/* The segmentation pipeline of hszhao/semseg: RandScale, RandRotate,
 * RandomGaussianBlur, RandomHorizontalFlip, Crop (rand / center) and Normalize,
 * with the label map carried along nearest-neighbour. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

static facs_seg_aug seg_base(int train, int crop_height, int crop_width)
{
    static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
    facs_seg_aug a;
    memset(&a, 0, sizeof a);
    a.train = train;
    a.crop_height = crop_height;
    a.crop_width = crop_width;
    a.scale_min = 0.5f;
    a.scale_max = 2.0f;
    a.rotate_deg = 10.0f;
    a.rotate_p = 0.5f;
    a.blur_p = 0.5f;
    a.flip_p = 0.5f;
    a.ignore_label = FACS_IGNORE_LABEL;
    for (int c = 0; c < 3; c++) {
        a.mean[c] = mean[c];
        a.std[c] = std[c];
    }
    return a;
}

facs_seg_aug facs_seg_aug_train(int crop_height, int crop_width)
{
    return seg_base(1, crop_height, crop_width);
}

facs_seg_aug facs_seg_aug_eval(int crop_height, int crop_width)
{
    return seg_base(0, crop_height, crop_width);
}

/* The pair being transformed; each step replaces both or fails leaving them valid. */
typedef struct {
    facs_fimage img;
    facs_image label;
} pair;

static void pair_free(pair *p)
{
    facs_fimage_free(&p->img);
    facs_image_free(&p->label);
}

/* Installs the results of a step (or frees them on failure). */
static facs_status pair_replace(pair *p, facs_status st, facs_fimage *img, facs_image *label)
{
    if (st != FACS_OK) {
        facs_fimage_free(img);
        facs_image_free(label);
        return st;
    }
    pair_free(p);
    p->img = *img;
    p->label = *label;
    return FACS_OK;
}

static facs_status pair_resize(pair *p, int oh, int ow)
{
    facs_fimage img = {0};
    facs_image label = {0};
    facs_status st = facs_fimage_resize(&p->img, oh, ow, &img);
    if (st == FACS_OK)
        st = facs_label_resize(&p->label, oh, ow, &label);
    return pair_replace(p, st, &img, &label);
}

/* semseg's centre Crop: pad to at least (ch, cw), pad / 2 before and the rest
 * after, then the centred window of the padded image. */
static facs_status pair_center_crop(pair *p, int ch, int cw, const float *fill, uint8_t ignore)
{
    int pad_h = ch > p->img.height ? ch - p->img.height : 0;
    int pad_w = cw > p->img.width ? cw - p->img.width : 0;
    int top = (p->img.height + pad_h - ch) / 2 - pad_h / 2;
    int left = (p->img.width + pad_w - cw) / 2 - pad_w / 2;
    facs_fimage img = {0};
    facs_image label = {0};
    facs_status st = facs_fimage_crop(&p->img, top, left, ch, cw, fill, &img);
    if (st == FACS_OK)
        st = facs_label_crop(&p->label, top, left, ch, cw, ignore, &label);
    return pair_replace(p, st, &img, &label);
}

/* The window of the frame that the crop keeps: crop coordinates (top, left)
 * of a ch x cw crop, clipped to the frame. */
static facs_window clip_window(int top, int left, int ch, int cw, int frame_h, int frame_w)
{
    int y0 = top > 0 ? top : 0, x0 = left > 0 ? left : 0;
    int y1 = top + ch < frame_h ? top + ch : frame_h, x1 = left + cw < frame_w ? left + cw : frame_w;
    facs_window w = {y0, x0, y1 - y0, x1 - x0};
    return w;
}

static facs_window grow_window(facs_window w, int by, int frame_h, int frame_w)
{
    return clip_window(w.top - by, w.left - by, w.height + 2 * by, w.width + 2 * by, frame_h, frame_w);
}

/* The train recipe: scale, rotate, blur, flip, crop. Each step before the crop
 * computes a pixel from a small neighbourhood, and the crop position depends
 * only on the scaled size, so it is known before any pixel is computed; each
 * step then computes just the window the next one needs (at scale 2 a 713
 * crop keeps ~6% of a 2048x1024 frame), bit for bit what full-image steps
 * followed by the crop give. */
static facs_status seg_train(const facs_seg_aug *o, const facs_fimage *img, const facs_image *label,
                             facs_aug_rng *r, const float *fill, uint8_t ignore, pair *p)
{
    /* Every draw happens whether or not its step applies, so each step's choice
     * sits at a fixed position in the sample's stream. */
    float s = facs_aug_uniform_range(r, o->scale_min, o->scale_max);
    int rotate = facs_aug_uniform(r) < o->rotate_p;
    float deg = facs_aug_uniform_range(r, -o->rotate_deg, o->rotate_deg);
    int blur = facs_aug_uniform(r) < o->blur_p;
    int flip = facs_aug_uniform(r) < o->flip_p;

    /* cv2.resize(fx=s) rounds the output size to nearest. */
    int sh = (int)nearbyint(img->height * (double)s), sw = (int)nearbyint(img->width * (double)s);
    sh = sh > 0 ? sh : 1;
    sw = sw > 0 ? sw : 1;
    /* semseg's Crop: pad to at least the crop (pad / 2 before), then a uniform
     * window of the padded image. */
    int ch = o->crop_height, cw = o->crop_width;
    int pad_h = ch > sh ? ch - sh : 0, pad_w = cw > sw ? cw - sw : 0;
    int top = (int)facs_aug_rand_below(r, (uint64_t)(sh + pad_h - ch + 1)) - pad_h / 2;
    int left = (int)facs_aug_rand_below(r, (uint64_t)(sw + pad_w - cw + 1)) - pad_w / 2;
    /* The flip mirrors columns of the frame: the crop's columns come from the
     * mirrored window of the unflipped image. */
    int src_left = flip ? sw - left - cw : left;
    facs_window keep = clip_window(top, src_left, ch, cw, sh, sw);
    facs_window blurred = blur ? grow_window(keep, 2, sh, sw) : keep;
    facs_window scaled = rotate ? facs_rotate_source_window(sh, sw, deg, blurred) : blurred;

    pair a = {{0}, {0}}, b = {{0}, {0}};
    facs_status st = facs_fimage_resize_window(img, sh, sw, scaled, &a.img);
    if (st == FACS_OK)
        st = facs_label_resize_window(label, sh, sw, rotate ? scaled : keep, &a.label);
    if (st == FACS_OK && rotate) {
        st = facs_fimage_rotate_window(&a.img, scaled, sh, sw, deg, fill, blurred, &b.img);
        if (st == FACS_OK)
            st = facs_label_rotate_window(&a.label, scaled, sh, sw, deg, ignore, keep, &b.label);
        pair_free(&a);
        a = b;
        memset(&b, 0, sizeof b);
    }
    if (st == FACS_OK && blur) {
        st = facs_fimage_blur5_window(&a.img, blurred, sh, sw, keep, &b.img);
        facs_fimage_free(&a.img);
        a.img = b.img;
    }
    if (st == FACS_OK) {
        /* Place the kept window, flipped when asked, in the padded crop. */
        st = facs_fimage_alloc(ch, cw, 3, &p->img);
        p->label = (facs_image){cw, ch, 1, malloc((size_t)ch * cw)};
        if (st == FACS_OK && !p->label.pixels)
            st = facs_fail(FACS_ERR_MEMORY, "augment: out of memory for a %dx%d label map", ch, cw);
    }
    if (st == FACS_OK)
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < cw; x++) {
                int fy = top + y, fx = flip ? sw - 1 - (left + x) : left + x;
                int inside = fy >= keep.top && fy < keep.top + keep.height && fx >= keep.left &&
                             fx < keep.left + keep.width;
                size_t src = (size_t)(fy - keep.top) * keep.width + (fx - keep.left), dst = (size_t)y * cw + x;
                for (int k = 0; k < 3; k++)
                    p->img.data[dst * 3 + k] = inside ? a.img.data[src * 3 + k] : fill[k];
                p->label.pixels[dst] = inside ? a.label.pixels[src] : ignore;
            }
    pair_free(&a);
    return st;
}

void facs_long_side_size(int h, int w, int long_side, int *oh, int *ow)
{
    *oh = h >= w ? long_side : (int)nearbyint((double)h * long_side / w);
    *ow = h >= w ? (int)nearbyint((double)w * long_side / h) : long_side;
    *oh = *oh > 0 ? *oh : 1;
    *ow = *ow > 0 ? *ow : 1;
}

static facs_status seg_eval(const facs_seg_aug *o, pair *p, const float *fill, uint8_t ignore)
{
    if (o->eval_long_side > 0) {
        int oh, ow;
        facs_long_side_size(p->img.height, p->img.width, o->eval_long_side, &oh, &ow);
        FACS_TRY(pair_resize(p, oh, ow));
    }
    return pair_center_crop(p, o->crop_height, o->crop_width, fill, ignore);
}

facs_status facs_seg_augment(const facs_seg_aug *opts, const facs_image *img, const facs_image *label,
                             uint64_t seed, int epoch, int index, float *out, int32_t *out_label)
{
    if (img->channels != 3)
        return facs_fail(FACS_ERR_ARG, "augment: sample %d: image has %d channels, expected 3", index,
                         img->channels);
    if (label->channels != 1)
        return facs_fail(FACS_ERR_ARG, "augment: sample %d: label map has %d channels, expected 1", index,
                         label->channels);
    if (label->height != img->height || label->width != img->width)
        return facs_fail(FACS_ERR_ARG, "augment: sample %d: label map is %dx%d but the image is %dx%d", index,
                         label->width, label->height, img->width, img->height);
    if (opts->crop_height <= 0 || opts->crop_width <= 0)
        return facs_fail(FACS_ERR_ARG, "augment: crop size %dx%d", opts->crop_height, opts->crop_width);
    if (opts->ignore_label < 0 || opts->ignore_label > 255)
        return facs_fail(FACS_ERR_ARG, "augment: ignore label %d is not 0..255", opts->ignore_label);
    float fill[3];
    for (int c = 0; c < 3; c++)
        fill[c] = opts->mean[c] * 255.0f;
    uint8_t ignore = (uint8_t)opts->ignore_label;

    facs_fimage x;
    FACS_TRY(facs_fimage_from_u8(img, &x));
    pair p = {{0}, {0}};
    facs_status st;
    if (opts->train) {
        facs_aug_rng r = facs_aug_rng_init(seed, epoch, index);
        st = seg_train(opts, &x, label, &r, fill, ignore, &p);
        facs_fimage_free(&x);
    } else {
        p.img = x;
        st = facs_label_crop(label, 0, 0, label->height, label->width, ignore, &p.label);
        if (st == FACS_OK)
            st = seg_eval(opts, &p, fill, ignore);
    }
    if (st == FACS_OK) {
        facs_fimage_normalize(&p.img, opts->mean, opts->std);
        size_t n = (size_t)opts->crop_height * opts->crop_width;
        memcpy(out, p.img.data, sizeof(float) * n * 3);
        for (size_t i = 0; i < n; i++)
            out_label[i] = p.label.pixels[i];
    }
    pair_free(&p);
    return st;
}
