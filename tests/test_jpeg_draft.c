/* JPEG draft decoding in the classification pipeline (datasets/augment.h)
 * against PIL (tests/ref/ref_jpeg_draft.py):
 *   - facs_image_resize_pil_box equals PIL's resize(box=) with fractional
 *     boxes byte for byte (the taps past the box's edges, the image's edges);
 *   - facs_image_resize_draft equals PIL's Image.draft + resize(box=) byte for
 *     byte on a photo-sized, a large and a gray JPEG, with boxes that draft at
 *     1/8, 1/4, 1/2 and not at all (the scale must be PIL's rule's); how far
 *     the drafted crops are from the full decode's is printed;
 *   - facs_cls_augment_file is its parts: the box drawn from the sample's
 *     stream, facs_image_resize_draft, flip, normalize; without jpeg_draft it
 *     is facs_cls_augment of the decoded file bit for bit; evaluation's resize
 *     + centre crop drafts too; a file that does not decode is the file's
 *     fault (bad_file), named in the message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "loader.h"
#include "test_util.h"

static void box_parity(h5_file *f)
{
    char g[64];
    int k;
    for (k = 0; snprintf(g, sizeof g, "box/case%d", k), h5_exists(f, g); k++) {
        facs_image x, want;
        int loaded = test_image_pair_from_ref(f, g, &x, &want);
        const double b[4] = {h5_attr_double(f, g, "x0", -1), h5_attr_double(f, g, "y0", -1),
                             h5_attr_double(f, g, "x1", -1), h5_attr_double(f, g, "y1", -1)};
        int oh = (int)h5_attr_int(f, g, "oh", 0), ow = (int)h5_attr_int(f, g, "ow", 0);
        char what[200];
        snprintf(what, sizeof what, "%s: box (%g, %g, %g, %g) -> %dx%d against PIL", g, b[0], b[1], b[2], b[3], oh,
                 ow);
        facs_image got;
        if (loaded && CHECK_OK(facs_image_resize_pil_box(&x, b, oh, ow, &got))) {
            test_same_image(what, &got, &want);
            facs_image_free(&got);
        }
        facs_image_free(&x);
        facs_image_free(&want);
    }
    CHECK(k >= 6, "only %d box cases", k);
}

/* The JPEG of /draft/photo<p> as bytes. */
static uint8_t *jpeg_from_ref(h5_file *f, const char *g, size_t *len)
{
    char name[96];
    snprintf(name, sizeof name, "%s/jpeg", g);
    int rank;
    size_t d[8];
    int *v = h5_read_i32(f, name, &rank, d);
    if (!CHECK(v != NULL && rank == 1, "%s: missing or not 1-D", name)) {
        free(v);
        return NULL;
    }
    uint8_t *buf = malloc(d[0]);
    for (size_t i = 0; i < d[0]; i++)
        buf[i] = (uint8_t)v[i];
    free(v);
    *len = d[0];
    return buf;
}

/* Mean absolute difference of two same-sized images. */
static double mean_abs_diff(const facs_image *a, const facs_image *b)
{
    size_t n = (size_t)a->height * a->width * a->channels;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += abs((int)a->pixels[i] - (int)b->pixels[i]);
    return s / (double)n;
}

static void draft_parity(h5_file *f)
{
    char g[64], gb[96], name[128];
    int p, boxes = 0, scales_seen = 0;
    for (p = 0; snprintf(g, sizeof g, "draft/photo%d", p), h5_exists(f, g); p++) {
        size_t len = 0;
        uint8_t *jpeg = jpeg_from_ref(f, g, &len);
        for (int k = 0; jpeg && (snprintf(gb, sizeof gb, "%s/box%d", g, k), h5_exists(f, gb)); k++, boxes++) {
            facs_window box = {(int)h5_attr_int(f, gb, "top", 0), (int)h5_attr_int(f, gb, "left", 0),
                               (int)h5_attr_int(f, gb, "h", 0), (int)h5_attr_int(f, gb, "w", 0)};
            int want_scale = (int)h5_attr_int(f, gb, "scale", 0), scale = 0;
            snprintf(name, sizeof name, "%s/y", gb);
            facs_image want = test_image_from_ref(f, name);
            snprintf(name, sizeof name, "%s/full", gb);
            facs_image full = test_image_from_ref(f, name);
            char what[200];
            snprintf(what, sizeof what, "%s: box %dx%d at (%d, %d), 1/%d, against PIL's draft", gb, box.height,
                     box.width, box.top, box.left, want_scale);
            facs_image got;
            if (want.pixels && full.pixels &&
                CHECK_OK(facs_image_resize_draft(jpeg, len, g, 3, box, 224, 224, &got, &scale))) {
                CHECK(scale == want_scale, "%s: drafted at 1/%d", what, scale);
                if (test_same_image(what, &got, &want))
                    printf("%s: equal; %.3f levels from the full decode on average\n", what,
                           mean_abs_diff(&got, &full));
                facs_image_free(&got);
            }
            scales_seen |= want_scale;
            facs_image_free(&want);
            facs_image_free(&full);
        }
        free(jpeg);
    }
    CHECK(boxes >= 10 && scales_seen == (1 | 2 | 4 | 8), "%d draft boxes, scales seen %#x", boxes, scales_seen);
}

/* want = the image normalized (and flipped) as the recipe does; frees img. */
static facs_fimage finish(facs_image *img, int flip)
{
    static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
    facs_fimage y = {0};
    CHECK_OK(facs_fimage_from_u8(img, &y));
    facs_image_free(img);
    if (flip)
        facs_fimage_hflip(&y);
    facs_fimage_normalize(&y, mean, std);
    return y;
}

/* Training samples of the large photo: box and flip from the sample's stream,
 * the drafted crop; the same without draft equals facs_cls_augment. */
static void train_composition(const uint8_t *jpeg, size_t len, int height, int width)
{
    facs_cls_aug aug = facs_cls_aug_imagenet_train();
    aug.jpeg_draft = 1;
    facs_cls_aug plain = facs_cls_aug_imagenet_train();
    size_t n = 224 * 224 * 3;
    float *got = test_alloc(n), *got_plain = test_alloc(n), *want_plain = test_alloc(n);
    int samples = 24, same = 0, drafted = 0, plain_same = 0, differ = 0;
    facs_image decoded;
    if (!CHECK_OK(facs_image_decode(jpeg, len, "photo1", 3, &decoded)))
        return;
    for (int i = 0; i < samples; i++) {
        facs_aug_rng r = facs_aug_rng_init(9, 2, i);
        facs_window box;
        facs_random_resized_crop_params(&r, height, width, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &box.top, &box.left,
                                        &box.height, &box.width);
        int flip = facs_aug_uniform(&r) < 0.5f, scale = 0, bad = -1;
        facs_image crop;
        if (!CHECK_OK(facs_image_resize_draft(jpeg, len, "photo1", 3, box, 224, 224, &crop, &scale)))
            break;
        facs_fimage want = finish(&crop, flip);
        if (CHECK_OK(facs_cls_augment_file(&aug, jpeg, len, "photo1", 9, 2, i, got, &bad)) && want.data)
            same += memcmp(got, want.data, n * sizeof(float)) == 0;
        CHECK(bad == 0, "sample %d: bad_file %d after a good decode", i, bad);
        drafted += scale > 1;
        if (CHECK_OK(facs_cls_augment_file(&plain, jpeg, len, "photo1", 9, 2, i, got_plain, &bad)) &&
            CHECK_OK(facs_cls_augment(&plain, &decoded, 9, 2, i, want_plain))) {
            plain_same += memcmp(got_plain, want_plain, n * sizeof(float)) == 0;
            differ += scale > 1 && memcmp(got_plain, got, n * sizeof(float)) != 0;
        }
        facs_fimage_free(&want);
    }
    CHECK(same == samples, "draft training transform: %d of %d samples differ from box + drafted crop + flip",
          samples - same, samples);
    CHECK(plain_same == samples, "without draft: %d of %d samples differ from facs_cls_augment",
          samples - plain_same, samples);
    CHECK(drafted >= samples / 2 && differ == drafted, "%d of %d samples drafted, %d of them differ from full decodes",
          drafted, samples, differ);
    printf("training: %d of %d samples drafted, each equal to its parts\n", drafted, samples);
    facs_image_free(&decoded);
    free(got);
    free(got_plain);
    free(want_plain);
}

/* Evaluation drafts the whole image to the resize, then crops the centre. */
static void eval_composition(const uint8_t *jpeg, size_t len, int height, int width)
{
    facs_cls_aug aug = facs_cls_aug_imagenet_eval();
    aug.jpeg_draft = 1;
    int oh, ow, scale = 0, bad = -1;
    facs_resize_shorter_size(height, width, aug.resize_shorter, &oh, &ow);
    facs_image resized;
    facs_window whole = {0, 0, height, width};
    size_t n = 224 * 224 * 3;
    float *got = test_alloc(n);
    if (CHECK_OK(facs_image_resize_draft(jpeg, len, "photo1", 3, whole, oh, ow, &resized, &scale)) &&
        CHECK_OK(facs_cls_augment_file(&aug, jpeg, len, "photo1", 1, 0, 0, got, &bad))) {
        facs_fimage y = finish(&resized, 0), want = {0};
        if (CHECK_OK(facs_fimage_center_crop(&y, 224, 224, &want)))
            CHECK(memcmp(got, want.data, n * sizeof(float)) == 0 && scale == 4,
                  "evaluation: the drafted (1/%d) resize + centre crop differs", scale);
        facs_fimage_free(&y);
        facs_fimage_free(&want);
    }
    free(got);
}

/* A truncated JPEG is the file's fault and named; a negative class is not. */
static void bad_input(const uint8_t *jpeg, size_t len)
{
    facs_cls_aug aug = facs_cls_aug_imagenet_train();
    aug.jpeg_draft = 1;
    float *out = test_alloc(224 * 224 * 3);
    int bad = 0;
    facs_status s = facs_cls_augment_file(&aug, jpeg, len / 2, "half.jpg", 1, 0, 0, out, &bad);
    CHECK(s != FACS_OK && bad == 1 && strstr(facs_last_error(), "half.jpg"),
          "truncated JPEG: status %d, bad_file %d, \"%s\"", (int)s, bad, facs_last_error());
    s = facs_cls_augment_file(&aug, jpeg, 20, "header.jpg", 1, 0, 0, out, &bad);
    CHECK(s != FACS_OK && bad == 1 && strstr(facs_last_error(), "header.jpg"),
          "JPEG cut in its header: status %d, bad_file %d, \"%s\"", (int)s, bad, facs_last_error());
    facs_encoded file = {.data = (uint8_t *)jpeg, .size = len, .name = "photo1"};
    facs_label label = {-3, {0}};
    int32_t cls;
    s = facs_cls_transform_file(&aug, &file, &label, 1, 0, 0, out, &cls, &bad);
    CHECK(s != FACS_OK && bad == 0 && strstr(facs_last_error(), "negative class"),
          "negative class: status %d, bad_file %d, \"%s\"", (int)s, bad, facs_last_error());
    free(out);
}

int main(int argc, char **argv)
{
    h5_file *f = test_open_ref(argc, argv);
    if (!f)
        return test_finish();
    box_parity(f);
    draft_parity(f);
    size_t len = 0;
    uint8_t *jpeg = jpeg_from_ref(f, "draft/photo1", &len);
    if (jpeg) {
        train_composition(jpeg, len, 1900, 2000);
        eval_composition(jpeg, len, 1900, 2000);
        bad_input(jpeg, len);
    }
    free(jpeg);
    h5_close(f);
    return test_finish();
}
