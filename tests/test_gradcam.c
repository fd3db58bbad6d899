/* GradCAM, GradCAM++ and LayerCAM (eval/cam.h) and the model interface's
 * feature taps (backbone/model.h facs_model_set_tap):
 *
 * 1. Parity with a PyTorch GradCAM written from the formulas
 *    (tests/ref/ref_gradcam.py, torch autograd in float64 on the twins): the
 *    tapped activations and gradients, the class explained, its score and
 *    probability, and for each method /cam_raw (h, w) and /cam (H, W), each
 *    within 1e-4 normwise relative error: ResNet-26 (default tap, another
 *    class, layer3.1), FACS-ResNet-50 (default, layer3.5), VGG-16-1x1 (its
 *    last max-pool, the ReLU before it) and a PSPNet segmentation target (the
 *    predicted pixels of the top class, and a given mask for another class).
 * 2. Taps: each family's default, an unknown name refused with the valid
 *    ones listed, a tap without the tape (inference memory reuse must leave
 *    it intact, and the logits unchanged), no tap after set_tap(NULL).
 * 3. Refused targets: a class out of range, a mask on a classifier, no tap.
 * 4. The overlay picture, byte for byte against show_cam_on_image's numpy.
 * GRADCAM_VERBOSE=1 prints every comparison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cam.h"
#include "model_parity.h"
#include "pspnet.h"
#include "test_util.h"

#define TOL 1e-4

static double worst; /* of the model under test */
static char worst_what[200];

static void compare(h5_file *ref, const char *group, const char *name, const float *got, size_t count)
{
    size_t want_count;
    float *want = test_ref_in(ref, group, name, &want_count);
    double e = want_count == count ? test_rel_err_f(got, want, count) : INFINITY;
    if (getenv("GRADCAM_VERBOSE"))
        printf("%-40s %.3g\n", name, e);
    if (e > worst || isnan(e)) {
        worst = e;
        snprintf(worst_what, sizeof worst_what, "%s/%s", group, name);
    }
    CHECK(e <= TOL, "%s/%s: relative error %.3g > %g (%zu values, PyTorch %zu)", group, name, e, TOL, count,
          want_count);
    free(want);
}

static void compare_scalar(const char *what, double got, double want)
{
    CHECK(fabs(got - want) <= TOL * fmax(fabs(want), 1e-6), "%s: %.9g, PyTorch %.9g", what, got, want);
}

/* A string stored as int32 character codes. */
static void read_text(h5_file *ref, const char *key, char *out, size_t size)
{
    int rank;
    size_t dims[8], n = 0;
    int *codes = h5_read_i32(ref, key, &rank, dims);
    for (; codes && n < dims[0] && n + 1 < size; n++)
        out[n] = (char)codes[n];
    out[n] = 0;
    free(codes);
}

static facs_model *build(h5_file *ref, const char *name, const char *arch)
{
    char group[32];
    snprintf(group, sizeof group, "/%s", name);
    facs_model_options o;
    facs_model *m = NULL;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return NULL;
    o.width = h5_attr_double(ref, group, "width", 1);
    o.classes = (int)h5_attr_int(ref, group, "classes", 0);
    o.cifar_stem = (int)h5_attr_int(ref, group, "cifar_stem", 0);
    o.output_stride = (int)h5_attr_int(ref, group, "output_stride", 0);
    if (!CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 1)) ||
        !parity_load_weights(ref, name, NULL, facs_model_params(m))) {
        facs_model_free(m);
        return NULL;
    }
    return m;
}

/* The image /<model>/x as a host array (3, H, W). */
static float *image_of(h5_file *ref, const char *name, int *h, int *w)
{
    char key[32];
    snprintf(key, sizeof key, "/%s/x", name);
    int rank;
    size_t dims[8];
    float *x = h5_read_f32(ref, key, &rank, dims);
    *h = x ? (int)dims[2] : 0, *w = x ? (int)dims[3] : 0;
    return x;
}

/* ---- 1. parity ---- */

/* The case's mask (segmentation), or NULL. */
static uint8_t *read_mask(h5_file *ref, const char *group)
{
    char key[96];
    snprintf(key, sizeof key, "%s/mask", group);
    size_t count;
    float *v = h5_exists(ref, key) ? test_ref(ref, key, &count) : NULL;
    uint8_t *mask = v ? malloc(count) : NULL;
    for (size_t i = 0; mask && i < count; i++)
        mask[i] = v[i] != 0;
    free(v);
    return mask;
}

/* Each method's raw and normalised map of g against PyTorch's. */
static void compare_maps(h5_file *ref, const char *group, const facs_cam_grads *g, int h, int w)
{
    size_t plane = (size_t)g->height * g->width;
    float *raw = malloc(plane * sizeof *raw), *cam = malloc((size_t)h * w * sizeof *cam);
    for (int method = 0; facs_cam_method_names[method]; method++) {
        char name[64];
        CHECK_OK(facs_cam_raw((facs_cam_method)method, g->channels, g->height, g->width, g->activations, g->gradients,
                              raw));
        CHECK_OK(facs_cam_normalise(raw, g->height, g->width, h, w, cam));
        snprintf(name, sizeof name, "cam_raw/%s", facs_cam_method_names[method]);
        compare(ref, group, name, raw, plane);
        snprintf(name, sizeof name, "cam/%s", facs_cam_method_names[method]);
        compare(ref, group, name, cam, (size_t)h * w);
    }
    free(raw), free(cam);
}

static void run_case(facs_ctx *ctx, h5_file *ref, facs_model *m, const char *group, const float *x, int h, int w)
{
    char key[96], layer[64];
    snprintf(key, sizeof key, "%s/layer", group);
    read_text(ref, key, layer, sizeof layer);
    if (!CHECK_OK(facs_model_set_tap(m, layer)))
        return;
    uint8_t *mask = read_mask(ref, group);
    facs_cam_grads g;
    if (CHECK_OK(facs_cam_gradients(ctx, m, x, h, w, &(facs_cam_target){(int)h5_attr_int(ref, group, "cls", -1), mask},
                                    &g))) {
        long want_cls = h5_attr_int(ref, group, "want_cls", -2), want_pixels = h5_attr_int(ref, group, "pixels", -1);
        CHECK(g.cls == want_cls, "%s: class %d explained, PyTorch %ld", group, g.cls, want_cls);
        CHECK(g.pixels == want_pixels, "%s: %ld target pixels, PyTorch %ld", group, g.pixels, want_pixels);
        compare_scalar(group, g.score, h5_attr_double(ref, group, "score", NAN));
        compare_scalar(group, g.probability, h5_attr_double(ref, group, "probability", NAN));
        size_t count = (size_t)g.channels * g.height * g.width;
        compare(ref, group, "activations", g.activations, count);
        compare(ref, group, "gradients", g.gradients, count);
        compare_maps(ref, group, &g, h, w);
        facs_cam_grads_free(&g);
    }
    free(mask);
}

static const struct {
    const char *name, *arch, *default_tap;
} MODELS[] = {{"r26", "resnet26", "layer4.1"},
              {"f50", "facs_resnet50", "layer4.2"},
              {"vgg", "vgg16_1x1_r2", "features.67"},
              {"psp", "pspnet_resnet26", "layer4.1"}};

static void parity(facs_ctx *ctx, h5_file *ref)
{
    double overall = 0;
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) {
        facs_model *m = build(ref, MODELS[i].name, MODELS[i].arch);
        int h, w;
        float *x = image_of(ref, MODELS[i].name, &h, &w);
        if (!m || !CHECK(x != NULL, "/%s/x missing", MODELS[i].name)) {
            free(x), facs_model_free(m);
            continue;
        }
        const char *def = facs_model_default_tap(m);
        CHECK(def && strcmp(def, MODELS[i].default_tap) == 0, "%s: default tap %s, want %s", MODELS[i].arch,
              def ? def : "(none)", MODELS[i].default_tap);
        facs_cam_freeze(m);
        char group[64];
        int cases = 0;
        for (; snprintf(group, sizeof group, "/%s/case%d", MODELS[i].name, cases), h5_exists(ref, group); cases++)
            run_case(ctx, ref, m, group, x, h, w);
        CHECK(cases > 0, "/%s has no cases", MODELS[i].name);
        printf("%s (%s): %d cases, worst relative error %.3g (%s)\n", MODELS[i].name, MODELS[i].arch, cases, worst,
               worst_what);
        overall = worst > overall ? worst : overall;
        worst = 0;
        free(x);
        facs_model_free(m);
    }
    printf("parity: worst relative error %.3g (tolerance %g)\n", overall, TOL);
}

/* ---- 2. taps ---- */

/* Without the tape, a forward reuses memory at every block boundary: the
 * tapped map must survive that, equal to the one the tape run recorded, and
 * the logits must not change. */
static void tap_without_tape(facs_ctx *ctx, h5_file *ref, int model, const char *layer, const char *group)
{
    facs_model *m = build(ref, MODELS[model].name, MODELS[model].arch);
    int h, w;
    float *x = image_of(ref, MODELS[model].name, &h, &w);
    float *logits[2] = {NULL, NULL};
    size_t n = 0;
    for (int tapped = 0; m && x && tapped < 2; tapped++) {
        CHECK_OK(facs_model_set_tap(m, tapped ? layer : NULL));
        facs_ctx_begin_step(ctx);
        facs_ctx_set_mode(ctx, 0, 0);
        facs_tensor *y = facs_model_forward(ctx, m, test_tensor(ctx, 1, 3, h, w, x)), *a = facs_model_tap(m);
        if (!CHECK_PTR(y))
            break;
        logits[tapped] = test_nchw(y), n = facs_tensor_numel(y);
        if (!tapped) {
            CHECK(!a, "%s: a tap after set_tap(NULL)", MODELS[model].arch);
        } else if (CHECK(a != NULL, "%s: no %s tapped without the tape", MODELS[model].arch, layer)) {
            float *got = test_nchw(a);
            compare(ref, group, "activations", got, facs_tensor_numel(a));
            free(got);
        }
    }
    if (logits[0] && logits[1])
        CHECK(memcmp(logits[0], logits[1], n * sizeof(float)) == 0, "%s: tapping %s changed the logits",
              MODELS[model].arch, layer);
    free(logits[0]), free(logits[1]), free(x);
    facs_model_free(m);
}

static void taps(facs_ctx *ctx, h5_file *ref)
{
    tap_without_tape(ctx, ref, 0, "layer3.1", "/r26/case2");
    tap_without_tape(ctx, ref, 2, "features.66", "/vgg/case1");
    facs_model_options o;
    facs_model *m = NULL;
    CHECK_OK(facs_model_options_for_arch("mobilenet_v2", &o));
    o.width = 0.5;
    if (CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 1))) {
        const char *def = facs_model_default_tap(m);
        char buf[64];
        CHECK(def && strcmp(def, "features.18") == 0, "mobilenet_v2: default tap %s", def ? def : "(none)");
        CHECK(facs_model_tap_name(m, 19, buf, sizeof buf) == NULL, "mobilenet_v2: a tap point past features.18");
        CHECK(facs_model_set_tap(m, "features.19") == FACS_ERR_ARG && strstr(facs_last_error(), "features.0, "),
              "mobilenet_v2: features.19 refused listing the names: %s", facs_last_error());
    }
    facs_model_free(m);
    m = build(ref, "r26", "resnet26");
    if (m) {
        CHECK(facs_model_set_tap(m, "layer4.2") == FACS_ERR_ARG && strstr(facs_last_error(), "'layer4.2'") &&
                  strstr(facs_last_error(), "layer1.0, layer1.1, layer2.0") && strstr(facs_last_error(), "layer4.1"),
              "resnet26: layer4.2 refused listing the names: %s", facs_last_error());
        CHECK(facs_model_set_tap(m, "layer4") == FACS_ERR_ARG, "resnet26: a stage name is no tap");
    }
    facs_model_free(m);
}

/* ---- 3. refused targets ---- */

static void refused(facs_ctx *ctx, h5_file *ref)
{
    facs_model *m = build(ref, "r26", "resnet26");
    int h, w;
    float *x = image_of(ref, "r26", &h, &w);
    facs_cam_grads g;
    uint8_t *mask = calloc((size_t)h * w, 1);
    if (m && x && mask) {
        facs_cam_freeze(m);
        CHECK(facs_cam_gradients(ctx, m, x, h, w, &(facs_cam_target){-1, NULL}, &g) == FACS_ERR_ARG &&
                  strstr(facs_last_error(), "no tapped layer"),
              "no tap: %s", facs_last_error());
        CHECK_OK(facs_model_set_tap(m, facs_model_default_tap(m)));
        CHECK(facs_cam_gradients(ctx, m, x, h, w, &(facs_cam_target){7, NULL}, &g) == FACS_ERR_ARG &&
                  strstr(facs_last_error(), "class 7 is out of range: resnet26 has 7 classes"),
              "class 7 of 7: %s", facs_last_error());
        CHECK(facs_cam_gradients(ctx, m, x, h, w, &(facs_cam_target){-2, NULL}, &g) == FACS_ERR_ARG,
              "class -2 accepted");
        CHECK(facs_cam_gradients(ctx, m, x, h, w, &(facs_cam_target){1, mask}, &g) == FACS_ERR_ARG &&
                  strstr(facs_last_error(), "segmentation"),
              "a mask on a classifier: %s", facs_last_error());
        CHECK(g.activations == NULL && g.ranking == NULL, "a refused target leaves the result empty");
    }
    free(mask), free(x);
    facs_model_free(m);
}

/* ---- 4. overlay ---- */

static void overlay(h5_file *ref)
{
    int rank;
    size_t dims[8], cam_dims[8];
    int *rgb = h5_read_i32(ref, "/overlay/rgb", &rank, dims), *want = h5_read_i32(ref, "/overlay/want", &rank, dims);
    float *cam = h5_read_f32(ref, "/overlay/cam", &rank, cam_dims);
    facs_image img = {(int)dims[1], (int)dims[0], 3, malloc(dims[0] * dims[1] * 3)}, out;
    if (CHECK(rgb && want && cam && img.pixels, "/overlay missing")) {
        for (size_t i = 0; i < dims[0] * dims[1] * 3; i++)
            img.pixels[i] = (uint8_t)rgb[i];
        if (CHECK_OK(facs_cam_overlay(&img, cam, &out))) {
            int same = 1;
            for (size_t i = 0; i < dims[0] * dims[1] * 3; i++)
                same &= out.pixels[i] == want[i];
            CHECK(same, "overlay differs from show_cam_on_image");
            facs_image_free(&out);
        }
    }
    free(rgb), free(want), free(cam), free(img.pixels);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    if (ref && ctx) {
        parity(ctx, ref);
        taps(ctx, ref);
        refused(ctx, ref);
        overlay(ref);
    }
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
