/* The ImageNet recipe (datasets/augment.h) against torchvision on PIL images
 * (tests/ref/ref_cls_recipe.py):
 *   - facs_image_resize_pil equals PIL's crop + resize(BILINEAR) byte for byte
 *     (strong and mild downscales, upscales, one axis unchanged, gray);
 *   - the evaluation transform (Resize 256, CenterCrop 224, ToTensor,
 *     Normalize) equals torchvision's to float rounding;
 *   - the training transform is the RandomResizedCrop box drawn from
 *     (seed, epoch, index), resized as PIL, flipped on the next draw;
 *   - the boxes follow torchvision's distribution: the random streams differ,
 *     so 20000 of our boxes and 20000 of RandomResizedCrop.get_params' are
 *     compared per image size by two-sample Kolmogorov-Smirnov tests on the
 *     area fraction, the aspect ratio, top and left. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "test_util.h"

static void resize_parity(h5_file *f)
{
    char g[64];
    int k;
    for (k = 0; snprintf(g, sizeof g, "resize/case%d", k), h5_exists(f, g); k++) {
        facs_image x, want;
        int loaded = test_image_pair_from_ref(f, g, &x, &want);
        facs_window box = {(int)h5_attr_int(f, g, "top", 0), (int)h5_attr_int(f, g, "left", 0),
                           (int)h5_attr_int(f, g, "h", 0), (int)h5_attr_int(f, g, "w", 0)};
        int oh = (int)h5_attr_int(f, g, "oh", 0), ow = (int)h5_attr_int(f, g, "ow", 0);
        facs_image got;
        char what[160];
        snprintf(what, sizeof what, "%s: %dx%d -> %dx%d against PIL", g, box.height, box.width, oh, ow);
        if (loaded && CHECK_OK(facs_image_resize_pil(&x, box, oh, ow, &got))) {
            test_same_image(what, &got, &want);
            facs_image_free(&got);
        }
        facs_image_free(&x);
        facs_image_free(&want);
    }
    CHECK(k >= 9, "only %d resize cases", k);
    printf("PIL resize: %d cases byte for byte\n", k);
}

/* Normalize is (x / 255 - mean) / std in float, as torchvision: 1e-6 relative
 * leaves an ulp or two; a pixel off by one level would be 1.7e-2 / 2.6. */
static void eval_parity(h5_file *f)
{
    facs_cls_aug aug = facs_cls_aug_imagenet_eval();
    char g[64], name[96];
    int k;
    float *out = test_alloc(224 * 224 * 3);
    for (k = 0; snprintf(g, sizeof g, "eval/case%d", k), h5_exists(f, g); k++) {
        snprintf(name, sizeof name, "%s/x", g);
        facs_image x = test_image_from_ref(f, name);
        snprintf(name, sizeof name, "%s/y", g);
        size_t count;
        float *want = test_ref(f, name, &count);
        char what[160];
        snprintf(what, sizeof what, "eval transform of a %dx%d image", x.height, x.width);
        if (x.pixels && want && CHECK(count == 224 * 224 * 3, "%s: %zu values", name, count) &&
            CHECK_OK(facs_cls_augment(&aug, &x, 1, 0, k, out)))
            test_close_f(what, out, want, count, 1e-6);
        free(want);
        facs_image_free(&x);
    }
    free(out);
    CHECK(k >= 5, "only %d eval cases", k);
}

/* The training sample equals its parts: box from the sample's stream, PIL
 * resize, flip on the next draw, normalize. */
static void train_composition(void)
{
    facs_image img = {500, 375, 3, malloc(500 * 375 * 3)};
    for (size_t i = 0; i < 500 * 375 * 3; i++)
        img.pixels[i] = (uint8_t)(i * 31 + i / 501);
    facs_cls_aug aug = facs_cls_aug_imagenet_train();
    static const float mean[] = FACS_IMAGENET_MEAN, std[] = FACS_IMAGENET_STD;
    size_t n = 224 * 224 * 3;
    float *got = test_alloc(n);
    int flips = 0, same = 0, samples = 40;
    for (int i = 0; i < samples; i++) {
        facs_aug_rng r = facs_aug_rng_init(9, 2, i);
        facs_window box;
        facs_random_resized_crop_params(&r, img.height, img.width, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &box.top,
                                        &box.left, &box.height, &box.width);
        int flip = facs_aug_uniform(&r) < 0.5f;
        facs_image resized;
        facs_fimage want = {0};
        if (!CHECK_OK(facs_image_resize_pil(&img, box, 224, 224, &resized)))
            break;
        CHECK_OK(facs_fimage_from_u8(&resized, &want));
        facs_image_free(&resized);
        if (flip)
            facs_fimage_hflip(&want);
        facs_fimage_normalize(&want, mean, std);
        if (CHECK_OK(facs_cls_augment(&aug, &img, 9, 2, i, got)))
            same += memcmp(got, want.data, n * sizeof(float)) == 0;
        flips += flip;
        facs_fimage_free(&want);
    }
    CHECK(same == samples, "training transform: %d of %d samples differ from box + PIL resize + flip", samples - same,
          samples);
    CHECK(flips > 5 && flips < 35, "%d flips in %d samples", flips, samples);
    free(got);
    facs_image_free(&img);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| (sorts both). */
static double ks_statistic(double *a, int n, double *b, int m)
{
    qsort(a, (size_t)n, sizeof *a, cmp_double);
    qsort(b, (size_t)m, sizeof *b, cmp_double);
    double d = 0;
    int i = 0, j = 0;
    while (i < n && j < m) {
        double v = a[i] < b[j] ? a[i] : b[j];
        while (i < n && a[i] <= v)
            i++;
        while (j < m && b[j] <= v)
            j++;
        double gap = fabs((double)i / n - (double)j / m);
        d = gap > d ? gap : d;
    }
    return d;
}

static double mean_of(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s / n;
}

/* Statistic s of box (top, left, h, w) on an H x W image. */
static double box_stat(int s, const int *b, int height, int width)
{
    switch (s) {
    case 0: return (double)b[2] * b[3] / ((double)height * width); /* area fraction */
    case 1: return log((double)b[3] / b[2]);                       /* log aspect ratio w / h */
    case 2: return b[0];                                           /* top */
    default: return b[1];                                          /* left */
    }
}

/* For n = m = 20000 the KS statistic exceeds sqrt(-ln(a / 2) / 2) sqrt(2 / n)
 * with probability a when both samples come from one distribution (at most
 * a: the statistics are discrete, which makes the test conservative). a = 1e-5
 * gives 0.0247, so 16 tests per run raise a false alarm about once in 6000
 * runs, while the mistakes that matter move it further (simulated with 20000
 * draws each): a uniform instead of log-uniform ratio to ~0.07 (log(w / h)),
 * a position range one short on the 32x32 image to ~0.04 (top, left), scale
 * (0.25, 1) instead of (0.08, 1) to ~0.2 (area). */
static void box_distribution(h5_file *f)
{
    static const char *const names[] = {"area fraction", "log(w / h)", "top", "left"};
    char g[64], name[96];
    int k;
    for (k = 0; snprintf(g, sizeof g, "rrc/case%d", k), h5_exists(f, g); k++) {
        int height = (int)h5_attr_int(f, g, "height", 0), width = (int)h5_attr_int(f, g, "width", 0), rank;
        size_t d[8];
        snprintf(name, sizeof name, "%s/boxes", g);
        int *theirs = h5_read_i32(f, name, &rank, d);
        if (!CHECK(theirs && rank == 2 && d[1] == 4, "%s: missing or not (N, 4)", name)) {
            free(theirs);
            continue;
        }
        int n = (int)d[0];
        int *ours = malloc(sizeof(int) * 4 * (size_t)n);
        for (int i = 0; i < n; i++) {
            facs_aug_rng r = facs_aug_rng_init(77, k, i);
            int *b = ours + 4 * i;
            facs_random_resized_crop_params(&r, height, width, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &b[0], &b[1], &b[2],
                                            &b[3]);
        }
        double crit = sqrt(-log(1e-5 / 2) / 2) * sqrt(2.0 / n);
        double *a = malloc(sizeof(double) * (size_t)n), *b = malloc(sizeof(double) * (size_t)n);
        for (int s = 0; s < 4; s++) {
            for (int i = 0; i < n; i++) {
                a[i] = box_stat(s, ours + 4 * i, height, width);
                b[i] = box_stat(s, theirs + 4 * i, height, width);
            }
            double ma = mean_of(a, n), mb = mean_of(b, n), ks = ks_statistic(a, n, b, n);
            printf("%3dx%-3d %-13s mean ours %8.4f torchvision %8.4f  median %8.4f %8.4f  KS %.4f (limit %.4f)\n",
                   height, width, names[s], ma, mb, a[n / 2], b[n / 2], ks, crit);
            CHECK(ks < crit, "%dx%d: the %s of our boxes differs from torchvision's: KS %.4f >= %.4f", height, width,
                  names[s], ks, crit);
        }
        free(a);
        free(b);
        free(ours);
        free(theirs);
    }
    CHECK(k >= 4, "only %d box cases", k);
}

int main(int argc, char **argv)
{
    h5_file *f = test_open_ref(argc, argv);
    if (f) {
        resize_parity(f);
        eval_parity(f);
        box_distribution(f);
        h5_close(f);
    }
    train_composition();
    return test_finish();
}
