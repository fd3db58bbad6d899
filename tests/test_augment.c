/* Augmentation: parity with torchvision for the transforms it defines the same
 * way (flip, normalize, center crop, resize, crop), and for the random ones:
 * determinism from (seed, epoch, index), statistics of the random choices,
 * nearest-neighbour label invariants, label/image alignment, rotation fills and
 * the blur kernel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "test_util.h"

/* Flip and crops move values: exact. Normalize is torchvision's two float
 * operations (x / 255, then (v - mean) / std) in the same order: exact up to a
 * compiler's choice of rounding, 1e-6 of max |y| leaves an ulp or two. Resize
 * repeats PyTorch's taps (float scale, double source coordinate) and sum order;
 * against torch 1.13 that measured 1-2 ulp of 255 (3e-5, 1.2e-7 relative), so
 * 1e-6 relative (2.6e-4 on 0..255) still catches a tap or weight off by 0.1%. */
#define MOVE_TOL 0.0
#define NORMALIZE_TOL 1e-6
#define RESIZE_TOL 1e-6

static void torchvision_parity(int argc, char **argv)
{
    h5_file *f = test_open_ref(argc, argv);
    if (!f)
        return;
    static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
    int k;
    for (k = 0;; k++) {
        char xname[64], yname[64], group[32];
        snprintf(group, sizeof group, "case%d", k);
        snprintf(xname, sizeof xname, "case%d/x", k);
        snprintf(yname, sizeof yname, "case%d/y", k);
        if (!h5_exists(f, xname))
            break;
        int rank;
        size_t xd[8], yd[8];
        float *x = h5_read_f32(f, xname, &rank, xd);
        float *y = h5_read_f32(f, yname, &rank, yd);
        int op = (int)h5_attr_int(f, group, "op", -1);
        int a = (int)h5_attr_int(f, group, "a", 0), b = (int)h5_attr_int(f, group, "b", 0);
        int c = (int)h5_attr_int(f, group, "c", 0), d = (int)h5_attr_int(f, group, "d", 0);
        facs_fimage in = {(int)xd[0], (int)xd[1], (int)xd[2], x}, out = {0};
        facs_status st = FACS_OK;
        double tol = MOVE_TOL;
        switch (op) {
        case 0:
            st = facs_fimage_crop(&in, 0, 0, in.height, in.width, NULL, &out);
            facs_fimage_hflip(&out);
            break;
        case 1:
            st = facs_fimage_crop(&in, 0, 0, in.height, in.width, NULL, &out);
            facs_fimage_normalize(&out, mean, std);
            tol = NORMALIZE_TOL;
            break;
        case 2:
            st = facs_fimage_center_crop(&in, a, b, &out);
            break;
        case 3:
            st = facs_fimage_resize(&in, a, b, &out);
            tol = RESIZE_TOL;
            break;
        case 4:
            st = facs_fimage_resize_shorter(&in, a, &out);
            tol = RESIZE_TOL;
            break;
        case 5:
            st = facs_fimage_crop(&in, a, b, c, d, NULL, &out);
            break;
        }
        char what[64];
        snprintf(what, sizeof what, "case%d (op %d)", k, op);
        if (CHECK(st == FACS_OK, "%s: %s", what, facs_last_error()) &&
            CHECK(out.height == (int)yd[0] && out.width == (int)yd[1] && out.channels == (int)yd[2],
                  "%s: shape %dx%dx%d, torchvision %zux%zux%zu", what, out.height, out.width, out.channels,
                  yd[0], yd[1], yd[2]))
            test_close_f(what, out.data, y, yd[0] * yd[1] * yd[2], tol);
        facs_fimage_free(&out);
        free(x);
        free(y);
    }
    CHECK(k >= 16, "only %d reference cases", k);
    h5_close(f);
}

static facs_image u8_image(int h, int w, int c)
{
    facs_image img = {w, h, c, malloc((size_t)h * w * c)};
    return img;
}

static int bytes_equal(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

static void cls_determinism(void)
{
    facs_image img = u8_image(40, 50, 3);
    for (size_t i = 0; i < 40 * 50 * 3; i++)
        img.pixels[i] = (uint8_t)(i * 37 + i / 7);
    facs_cls_aug aug = facs_cls_aug_imagenet_train();
    aug.out_height = aug.out_width = 24;
    size_t n = 24 * 24 * 3;
    float *a = test_alloc(n), *b = test_alloc(n), *c = test_alloc(n), *d = test_alloc(n);
    CHECK_OK(facs_cls_augment(&aug, &img, 7, 3, 11, a));
    CHECK_OK(facs_cls_augment(&aug, &img, 7, 3, 11, b));
    CHECK_OK(facs_cls_augment(&aug, &img, 7, 4, 11, c));
    CHECK_OK(facs_cls_augment(&aug, &img, 7, 3, 12, d));
    CHECK(bytes_equal(a, b, n * sizeof(float)), "same (seed, epoch, index) gave different samples");
    CHECK(!bytes_equal(a, c, n * sizeof(float)), "another epoch gave the same sample");
    CHECK(!bytes_equal(a, d, n * sizeof(float)), "another index gave the same sample");
    free(a);
    free(b);
    free(c);
    free(d);
    facs_image_free(&img);
}

/* An image whose red and green channels encode the source row and column
 * (1 + 7 y, 1 + 7 x), so the crop window can be read off the output. */
static facs_image coordinate_image(int h, int w)
{
    facs_image img = u8_image(h, w, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.pixels + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(1 + 7 * y);
            p[1] = (uint8_t)(1 + 7 * x);
            p[2] = 0;
        }
    return img;
}

/* CIFAR's pad-and-crop: the window offset lies in [-4, 4] on both axes, every
 * offset occurs, the padding is zero, and flips happen at the configured rate. */
static void cifar_crop_and_flip(void)
{
    facs_image img = coordinate_image(32, 32);
    facs_cls_aug aug = facs_cls_aug_cifar_train();
    for (int c = 0; c < 3; c++) {
        aug.mean[c] = 0; /* normalize then returns the 0..255 value: x / 255 / (1 / 255) */
        aug.std[c] = 1.0f / 255.0f;
    }
    float *out = test_alloc(32 * 32 * 3);
    int seen[9][9] = {{0}}, bad = 0, flips = 0, samples = 2000;
    for (int i = 0; i < samples; i++) {
        CHECK_OK(facs_cls_augment(&aug, &img, 99, 0, i, out));
        /* Read the offset and the flip from the pixels inside the source image. */
        int top = 99, left = 99, flipped = -1;
        for (int y = 0; y < 32 && top == 99; y++)
            for (int x = 0; x < 31; x++) {
                float r = out[(y * 32 + x) * 3], g = out[(y * 32 + x) * 3 + 1], g2 = out[(y * 32 + x + 1) * 3 + 1];
                if (r > 0.5f && g > 0.5f && g2 > 0.5f) {
                    flipped = g2 < g;
                    top = (int)lroundf((r - 1) / 7) - y;
                    int sx = (int)lroundf((g - 1) / 7);
                    left = flipped ? sx - (31 - x) : sx - x;
                    break;
                }
            }
        if (top < -4 || top > 4 || left < -4 || left > 4) {
            bad++;
            continue;
        }
        seen[top + 4][left + 4]++;
        flips += flipped;
        /* Every pixel agrees with the window: source value inside, 0 outside. */
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                int sy = top + y, sx = left + (flipped ? 31 - x : x);
                int inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
                float want_r = inside ? 1 + 7 * sy : 0, want_g = inside ? 1 + 7 * sx : 0;
                if (fabsf(out[(y * 32 + x) * 3] - want_r) > 1e-3f ||
                    fabsf(out[(y * 32 + x) * 3 + 1] - want_g) > 1e-3f)
                    bad++;
            }
    }
    CHECK(bad == 0, "pad-and-crop: %d samples or pixels outside the [-4, 4] windows", bad);
    int missing = 0;
    for (int a = 0; a < 9; a++)
        for (int b = 0; b < 9; b++)
            missing += seen[a][b] == 0;
    /* 81 offsets, 2000 samples: each expected ~25 times, so a missing one means
     * the offsets are not uniform over [-4, 4]^2. */
    CHECK(missing == 0, "pad-and-crop: %d of the 81 offsets never drawn", missing);
    /* Binomial(2000, 0.5): sd 0.011; 4.5 sd. */
    double rate = (double)flips / samples;
    CHECK(fabs(rate - 0.5) < 0.05, "flip rate %.3f, expected 0.5", rate);
    printf("pad-and-crop: flip rate %.3f over %d samples\n", rate, samples);
    free(out);
    facs_image_free(&img);
}

/* RandomResizedCrop's windows: inside the image, area and ratio in range (up to
 * rounding of w and h), and the central fallback when nothing can fit. */
static void random_resized_crop(void)
{
    int bad = 0, h_img = 100, w_img = 80, n = 5000;
    double min_frac = 1, max_frac = 0;
    for (int i = 0; i < n; i++) {
        facs_aug_rng r = facs_aug_rng_init(5, 1, i);
        int top, left, h, w;
        facs_random_resized_crop_params(&r, h_img, w_img, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &top, &left, &h,
                                        &w);
        if (top < 0 || left < 0 || h < 1 || w < 1 || top + h > h_img || left + w > w_img) {
            bad++;
            continue;
        }
        if (h == h_img && w == w_img)
            continue; /* the fallback for an in-range ratio */
        double frac = (double)h * w / (h_img * w_img);
        min_frac = frac < min_frac ? frac : min_frac;
        max_frac = frac > max_frac ? frac : max_frac;
        if ((w + 0.5) / (h - 0.5) < 0.75 || (w - 0.5) / (h + 0.5) > 4.0 / 3.0)
            bad++;
    }
    CHECK(bad == 0, "random resized crop: %d windows out of bounds or of the wrong ratio", bad);
    /* Rounding w and h to integers moves the area by under 2 (w + h) / area. */
    CHECK(min_frac > 0.06 && min_frac < 0.1, "smallest area fraction %.3f, expected near 0.08", min_frac);
    CHECK(max_frac > 0.85 && max_frac <= 1.0, "largest area fraction %.3f", max_frac);
    /* 10 x 200 fits no window of ratio <= 4/3 and area >= 8%: the fallback is the
     * central 10 x round(10 * 4/3) window. */
    facs_aug_rng r = facs_aug_rng_init(5, 1, 0);
    int top, left, h, w;
    facs_random_resized_crop_params(&r, 10, 200, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &top, &left, &h, &w);
    CHECK(top == 0 && left == 93 && h == 10 && w == 13, "fallback window (%d, %d, %d, %d), expected (0, 93, 10, 13)",
          top, left, h, w);
}

/* A label map of 8x8 blocks of values from {0, 3, 7, 18} (or only {0, 18} when
 * two_values), and an image whose red channel is 10 x label, so alignment can
 * be checked after augmentation. */
static void block_sample(int h, int w, int two_values, facs_image *img, facs_image *label)
{
    static const uint8_t four[] = {0, 3, 7, 18}, two[] = {0, 18, 18, 0};
    const uint8_t *values = two_values ? two : four;
    *img = u8_image(h, w, 3);
    *label = u8_image(h, w, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = values[((y / 8) * 5 + (x / 8) * 3 + (x / 8) * (y / 8)) % 4];
            label->pixels[y * w + x] = v;
            uint8_t *p = img->pixels + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(10 * v);
            p[1] = (uint8_t)(x & 0xff);
            p[2] = 90;
        }
}

static void seg_recipe(void)
{
    facs_image img, label;
    block_sample(48, 64, 0, &img, &label);
    int ch = 56, cw = 56, samples = 60;
    size_t n = (size_t)ch * cw;
    float *out = test_alloc(n * 3), *out2 = test_alloc(n * 3);
    int32_t *lab = malloc(sizeof(int32_t) * n), *lab2 = malloc(sizeof(int32_t) * n);

    /* The full recipe: every label is an input value or 255, never a blend. */
    facs_seg_aug aug = facs_seg_aug_train(ch, cw);
    int foreign = 0, with_ignore = 0;
    for (int i = 0; i < samples; i++) {
        CHECK_OK(facs_seg_augment(&aug, &img, &label, 3, 0, i, out, lab));
        int any_ignore = 0;
        for (size_t p = 0; p < n; p++) {
            int v = lab[p];
            foreign += !(v == 0 || v == 3 || v == 7 || v == 18 || v == 255);
            any_ignore |= v == 255;
        }
        with_ignore += any_ignore;
    }
    CHECK(foreign == 0, "segmentation: %d labels not in the input and not 255", foreign);
    /* Scales below 56/64 need padding and rotations leave corners: both occur. */
    CHECK(with_ignore > 0 && with_ignore < samples, "%d of %d samples had ignore labels", with_ignore, samples);

    CHECK_OK(facs_seg_augment(&aug, &img, &label, 3, 2, 17, out, lab));
    CHECK_OK(facs_seg_augment(&aug, &img, &label, 3, 2, 17, out2, lab2));
    CHECK(bytes_equal(out, out2, n * 3 * sizeof(float)) && bytes_equal(lab, lab2, n * sizeof(int32_t)),
          "segmentation: same (seed, epoch, index) gave different samples");
    CHECK_OK(facs_seg_augment(&aug, &img, &label, 3, 3, 17, out2, lab2));
    CHECK(!bytes_equal(out, out2, n * 3 * sizeof(float)), "segmentation: another epoch gave the same sample");

    /* Alignment: without blur, the image's red at a pixel is a bilinear mix of
     * 10 x the labels of its taps, and the label is the nearest tap's, which has
     * the largest weight. With two label values (0 and 18) red is then nearer to
     * 10 L than to the other value, except where blocks meet at a corner or the
     * rotation's fill mixes in. A label moved differently from the image agrees
     * about half the time. */
    facs_image img2, label2;
    block_sample(48, 64, 1, &img2, &label2);
    aug.blur_p = 0;
    aug.rotate_p = 1;
    long agree = 0, labelled = 0;
    for (int i = 0; i < samples; i++) {
        CHECK_OK(facs_seg_augment(&aug, &img2, &label2, 4, 0, i, out, lab));
        for (size_t p = 0; p < n; p++) {
            if (lab[p] == 255)
                continue;
            float red = (out[p * 3] * aug.std[0] + aug.mean[0]) * 255.0f;
            labelled++;
            agree += (red > 90.0f) == (lab[p] == 18);
        }
    }
    facs_image_free(&img2);
    facs_image_free(&label2);
    double share = (double)agree / labelled;
    printf("segmentation: image agrees with the label at %.4f of labelled pixels\n", share);
    CHECK(share > 0.97, "labels misaligned with the image: agreement %.4f", share);

    /* Scale range: without rotation, the labelled region of a 40x40 image
     * placed in a 100x100 crop is round(40 s) square, s in [0.5, 2]. */
    facs_image small, small_label;
    block_sample(40, 40, 0, &small, &small_label);
    facs_seg_aug sa = facs_seg_aug_train(100, 100);
    sa.rotate_p = 0;
    float *big = test_alloc(100 * 100 * 3);
    int32_t *big_lab = malloc(sizeof(int32_t) * 100 * 100);
    int smallest = 1000, largest = 0;
    for (int i = 0; i < 300; i++) {
        CHECK_OK(facs_seg_augment(&sa, &small, &small_label, 8, 0, i, big, big_lab));
        int rows = 0;
        for (int y = 0; y < 100; y++) {
            int any = 0;
            for (int x = 0; x < 100; x++)
                any |= big_lab[y * 100 + x] != 255;
            rows += any;
        }
        /* A side above 100 is cut by the crop; count only sides that fit. */
        if (rows < 100) {
            smallest = rows < smallest ? rows : smallest;
            largest = rows > largest ? rows : largest;
        }
    }
    CHECK(smallest >= 20 && smallest <= 23, "smallest scaled side %d, expected about 20 (scale 0.5)", smallest);
    CHECK(largest >= 76 && largest <= 80, "largest uncropped side %d, expected near 80 (scale 2)", largest);
    free(big);
    free(big_lab);
    facs_image_free(&small);
    facs_image_free(&small_label);

    /* Eval: a 48x64 sample centred in 56x72 with 4 rows and columns of padding
     * each side (semseg's pad / 2 first), mean-filled and 255-labelled. */
    facs_seg_aug ev = facs_seg_aug_eval(56, 72);
    float *eo = test_alloc(56 * 72 * 3);
    int32_t *el = malloc(sizeof(int32_t) * 56 * 72);
    CHECK_OK(facs_seg_augment(&ev, &img, &label, 0, 0, 0, eo, el));
    int wrong = 0;
    for (int y = 0; y < 56; y++)
        for (int x = 0; x < 72; x++) {
            int sy = y - 4, sx = x - 4, inside = sy >= 0 && sy < 48 && sx >= 0 && sx < 64;
            int want = inside ? label.pixels[sy * 64 + sx] : 255;
            /* The mean fill normalizes to (mean * 255 / 255 - mean) / std = 0. */
            float want_g = inside ? ((float)img.pixels[(sy * 64 + sx) * 3 + 1] / 255.0f - ev.mean[1]) / ev.std[1]
                                  : 0.0f;
            wrong += el[y * 72 + x] != want || fabsf(eo[(y * 72 + x) * 3 + 1] - want_g) > 1e-6f;
        }
    CHECK(wrong == 0, "eval pad + centre crop: %d wrong pixels", wrong);
    free(eo);
    free(el);

    facs_image other = u8_image(47, 64, 1);
    CHECK(facs_seg_augment(&aug, &img, &other, 3, 0, 0, out, lab) == FACS_ERR_ARG &&
              strstr(facs_last_error(), "47") != NULL,
          "a label map of another size is refused with its size: %s", facs_last_error());
    facs_image_free(&other);
    free(out);
    free(out2);
    free(lab);
    free(lab2);
    facs_image_free(&img);
    facs_image_free(&label);
}

/* semseg's train recipe on whole images, step after step, with the draws in
 * the order augment.h documents; facs_seg_augment computes only the windows
 * its crop keeps and must agree with this bit for bit. */
static void seg_full_image(const facs_seg_aug *o, const facs_image *img, const facs_image *label, uint64_t seed,
                           int index, float *out, int32_t *out_label)
{
    facs_aug_rng r = facs_aug_rng_init(seed, 0, index);
    float s = facs_aug_uniform_range(&r, o->scale_min, o->scale_max);
    int rotate = facs_aug_uniform(&r) < o->rotate_p;
    float deg = facs_aug_uniform_range(&r, -o->rotate_deg, o->rotate_deg);
    int blur = facs_aug_uniform(&r) < o->blur_p, flip = facs_aug_uniform(&r) < o->flip_p;
    int sh = (int)nearbyint(img->height * (double)s), sw = (int)nearbyint(img->width * (double)s);
    float fill[3];
    for (int c = 0; c < 3; c++)
        fill[c] = o->mean[c] * 255.0f;
    facs_fimage x, t;
    facs_image l, lt;
    CHECK_OK(facs_fimage_from_u8(img, &t));
    CHECK_OK(facs_fimage_resize(&t, sh, sw, &x));
    facs_fimage_free(&t);
    CHECK_OK(facs_label_resize(label, sh, sw, &l));
    if (rotate) {
        CHECK_OK(facs_fimage_rotate(&x, deg, fill, &t));
        facs_fimage_free(&x);
        x = t;
        CHECK_OK(facs_label_rotate(&l, deg, 255, &lt));
        facs_image_free(&l);
        l = lt;
    }
    if (blur) {
        CHECK_OK(facs_fimage_blur5(&x, &t));
        facs_fimage_free(&x);
        x = t;
    }
    if (flip) {
        facs_fimage_hflip(&x);
        facs_label_hflip(&l);
    }
    int ch = o->crop_height, cw = o->crop_width;
    int pad_h = ch > sh ? ch - sh : 0, pad_w = cw > sw ? cw - sw : 0;
    int top = (int)facs_aug_rand_below(&r, (uint64_t)(sh + pad_h - ch + 1)) - pad_h / 2;
    int left = (int)facs_aug_rand_below(&r, (uint64_t)(sw + pad_w - cw + 1)) - pad_w / 2;
    CHECK_OK(facs_fimage_crop(&x, top, left, ch, cw, fill, &t));
    CHECK_OK(facs_label_crop(&l, top, left, ch, cw, 255, &lt));
    facs_fimage_normalize(&t, o->mean, o->std);
    memcpy(out, t.data, sizeof(float) * ch * cw * 3);
    for (int i = 0; i < ch * cw; i++)
        out_label[i] = lt.pixels[i];
    facs_fimage_free(&x);
    facs_fimage_free(&t);
    facs_image_free(&l);
    facs_image_free(&lt);
}

static void seg_windows_match_full_images(void)
{
    facs_image img, label;
    block_sample(37, 52, 0, &img, &label);
    for (size_t i = 0; i < 37 * 52 * 3; i++)
        img.pixels[i] = (uint8_t)(img.pixels[i] + i * 13);
    int sizes[3][2] = {{24, 30}, {45, 45}, {80, 33}}, differ = 0;
    for (int k = 0; k < 3; k++) {
        int ch = sizes[k][0], cw = sizes[k][1];
        facs_seg_aug aug = facs_seg_aug_train(ch, cw);
        float *a = test_alloc((size_t)ch * cw * 3), *b = test_alloc((size_t)ch * cw * 3);
        int32_t *la = malloc(sizeof(int32_t) * ch * cw), *lb = malloc(sizeof(int32_t) * ch * cw);
        for (int i = 0; i < 40; i++) {
            CHECK_OK(facs_seg_augment(&aug, &img, &label, 21, 0, i, a, la));
            seg_full_image(&aug, &img, &label, 21, i, b, lb);
            differ += memcmp(a, b, sizeof(float) * ch * cw * 3) != 0 || memcmp(la, lb, sizeof(int32_t) * ch * cw) != 0;
        }
        free(a);
        free(b);
        free(la);
        free(lb);
    }
    CHECK(differ == 0, "segmentation: %d of 120 samples differ from the full-image recipe", differ);
    facs_image_free(&img);
    facs_image_free(&label);
}

/* Rotation: exact fills outside, exact identity at 0 degrees, the direction of
 * OpenCV's angle (positive turns counter-clockwise, so a point right of the
 * centre moves up), and the label's fill. */
static void rotation(void)
{
    facs_fimage in, out;
    CHECK_OK(facs_fimage_alloc(20, 30, 3, &in));
    for (int i = 0; i < 20 * 30 * 3; i++)
        in.data[i] = 100;
    const float fill[3] = {50, 60, 70};
    CHECK_OK(facs_fimage_rotate(&in, 10, fill, &out));
    CHECK(out.data[0] == 50 && out.data[1] == 60 && out.data[2] == 70, "rotation corner %g %g %g, fill 50 60 70",
          out.data[0], out.data[1], out.data[2]);
    CHECK(out.data[(10 * 30 + 15) * 3] == 100, "rotation centre %g, expected 100", out.data[(10 * 30 + 15) * 3]);
    facs_fimage_free(&out);

    for (int i = 0; i < 20 * 30 * 3; i++)
        in.data[i] = (float)(i % 251);
    CHECK_OK(facs_fimage_rotate(&in, 0, fill, &out));
    CHECK(bytes_equal(in.data, out.data, sizeof(float) * 20 * 30 * 3), "rotation by 0 is not the identity");
    facs_fimage_free(&out);

    for (int i = 0; i < 20 * 30 * 3; i++)
        in.data[i] = 0;
    in.data[(10 * 30 + 25) * 3] = 255; /* 10 pixels right of the centre (15, 10) */
    CHECK_OK(facs_fimage_rotate(&in, 10, fill, &out));
    int best = 0;
    for (int p = 0; p < 20 * 30; p++)
        if (out.data[p * 3] > out.data[best * 3])
            best = p;
    CHECK(best / 30 < 10, "a point right of the centre went to row %d, expected above row 10", best / 30);
    facs_fimage_free(&out);
    facs_fimage_free(&in);

    facs_image lab = u8_image(20, 30, 1), lout;
    memset(lab.pixels, 4, 20 * 30);
    CHECK_OK(facs_label_rotate(&lab, -10, 255, &lout));
    CHECK(lout.pixels[0] == 255 && lout.pixels[10 * 30 + 15] == 4, "label rotation corner %d centre %d",
          lout.pixels[0], lout.pixels[10 * 30 + 15]);
    facs_image_free(&lout);
    facs_image_free(&lab);
}

/* The 5x5 blur: [1 4 6 4 1] / 16 in each direction, reflect-101 at borders. */
static void blur(void)
{
    facs_fimage in, out;
    CHECK_OK(facs_fimage_alloc(9, 9, 1, &in));
    memset(in.data, 0, sizeof(float) * 81);
    in.data[4 * 9 + 4] = 256;
    CHECK_OK(facs_fimage_blur5(&in, &out));
    static const float k[5] = {1, 4, 6, 4, 1};
    int wrong = 0;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 9; x++) {
            int dy = y - 4, dx = x - 4;
            float want = abs(dy) <= 2 && abs(dx) <= 2 ? k[dy + 2] * k[dx + 2] : 0;
            wrong += out.data[y * 9 + x] != want;
        }
    CHECK(wrong == 0, "blur impulse response: %d wrong taps", wrong);
    facs_fimage_free(&out);
    /* An impulse in the corner: reflect-101 gives (0, 0) the weight 6 x 6 and
     * (0, 1) 6 x 4, while reflecting with the edge repeated would give more. */
    memset(in.data, 0, sizeof(float) * 81);
    in.data[0] = 256;
    CHECK_OK(facs_fimage_blur5(&in, &out));
    CHECK(out.data[0] == 36 && out.data[1] == 24 && out.data[2] == 6,
          "blur corner taps %g %g %g, expected 36 24 6", out.data[0], out.data[1], out.data[2]);
    facs_fimage_free(&out);
    facs_fimage_free(&in);
}

/* Nearest label resize never invents a value and centres its samples. */
static void label_resize(void)
{
    facs_image lab = u8_image(3, 3, 1), out;
    for (int i = 0; i < 9; i++)
        lab.pixels[i] = (uint8_t)(i * 20);
    CHECK_OK(facs_label_resize(&lab, 9, 9, &out));
    int wrong = 0;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 9; x++)
            wrong += out.pixels[y * 9 + x] != lab.pixels[(y / 3) * 3 + x / 3];
    CHECK(wrong == 0, "nearest 3x3 -> 9x9: %d wrong labels", wrong);
    facs_image_free(&out);
    CHECK_OK(facs_label_resize(&lab, 1, 1, &out));
    CHECK(out.pixels[0] == lab.pixels[4], "nearest 3x3 -> 1x1 took %d, expected the centre %d", out.pixels[0],
          lab.pixels[4]);
    facs_image_free(&out);
    facs_image_free(&lab);
}

int main(int argc, char **argv)
{
    torchvision_parity(argc, argv);
    cls_determinism();
    cifar_crop_and_flip();
    random_resized_crop();
    seg_recipe();
    seg_windows_match_full_images();
    rotation();
    blur();
    label_resize();
    return test_finish();
}
