/* Model files (backbone/model_file.h): every model option recorded in the
 * weights file, the model rebuilt from the file alone bit for bit, and a
 * command line that contradicts the file or gives an option that does not
 * apply refused, naming both values. tests/ref/ref_model_file.py writes, beside
 * argv[1], a bare h5py dump of torchvision's ResNet-18 (no attributes): a file
 * that does not say its architecture. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_file.h"
#include "test_util.h"

#define PATH_MAX_LEN 4200

static char base[PATH_MAX_LEN]; /* argv[1] without ".h5": the other files sit beside it */

static const char *beside(char *out, const char *suffix)
{
    if (snprintf(out, PATH_MAX_LEN, "%s%s", base, suffix) >= PATH_MAX_LEN)
        out[0] = '\0';
    return out;
}

static int contains(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

static facs_model *make_model(const char *arch, int classes, double width, int cifar_stem, facs_fusion_bn bn,
                              facs_fusion fusion, float threshold, uint64_t seed)
{
    facs_model_options o;
    if (facs_model_options_for_arch(arch, &o) != FACS_OK)
        return NULL;
    o.classes = classes;
    o.width = width;
    o.cifar_stem = cifar_stem;
    o.fusion_bn = bn;
    o.fusion = (facs_fuse_params){fusion, threshold};
    facs_model *m = NULL;
    CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, seed));
    return m;
}

static int same_options(const facs_model_options *a, const facs_model_options *b)
{
    return strcmp(a->arch, b->arch) == 0 && a->classes == b->classes && a->width == b->width &&
           a->cifar_stem == b->cifar_stem && a->fusion_bn == b->fusion_bn && a->fusion.fusion == b->fusion.fusion &&
           a->fusion.threshold == b->fusion.threshold;
}

static void options_str(const facs_model_options *o, char *buf, size_t size)
{
    snprintf(buf, size, "%s classes %d width %g cifar_stem %d fusion_bn %d fusion %d threshold %g", o->arch, o->classes,
             o->width, o->cifar_stem, (int)o->fusion_bn, (int)o->fusion.fusion, (double)o->fusion.threshold);
}

/* Every option comes back from the file alone, and the model rebuilt from it
 * holds the saved tensors bit for bit. */
static void test_model_round_trip(void)
{
    struct {
        const char *arch;
        int classes;
        double width;
        int cifar_stem;
        facs_fusion_bn bn;
        facs_fusion fusion;
        float threshold;
    } cases[] = {
        {"resnet26", 10, 0.25, 1, FACS_FUSION_BN_NONE, FACS_FUSION_THRESHOLD, 0.5f},
        {"facs_resnet26", 7, 0.375, 1, FACS_FUSION_BN_POST, FACS_FUSION_WEIGHTED, 0.3f},
        {"facs_resnet50_r8", 5, 0.25, 0, FACS_FUSION_BN_NONE, FACS_FUSION_THRESHOLD, 0.7f},
        {"facs_mobilenet_v2", 3, 0.5, 0, FACS_FUSION_BN_PRE, FACS_FUSION_THRESHOLD, 0.25f},
        {"facs_vgg16_r2", 4, 0.25, 0, FACS_FUSION_BN_POST, FACS_FUSION_WEIGHTED, 0.5f},
    };
    char path[PATH_MAX_LEN];
    beside(path, "_model.h5");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        facs_model *a = make_model(cases[c].arch, cases[c].classes, cases[c].width, cases[c].cifar_stem, cases[c].bn,
                                   cases[c].fusion, cases[c].threshold, 1);
        if (!a)
            continue;
        CHECK_OK(facs_model_save(path, a, NULL, NULL, NULL, 0));
        facs_model_options back, want = *facs_model_get_options(a);
        char got_s[256], want_s[256];
        CHECK_OK(facs_model_options_from_file(path, &back));
        options_str(&back, got_s, sizeof got_s);
        options_str(&want, want_s, sizeof want_s);
        CHECK(same_options(&back, &want), "%s: options read back as\n    %s\n  saved\n    %s", cases[c].arch, got_s,
              want_s);
        /* The classic reader sees the same file. */
        facs_weights_meta meta;
        CHECK_OK(facs_weights_read_meta(path, &meta));
        int facs = facs_model_is_facs(a);
        CHECK(strcmp(meta.arch, cases[c].arch) == 0 && meta.classes == cases[c].classes &&
                  meta.width == cases[c].width && meta.cifar_stem == cases[c].cifar_stem &&
                  meta.fusion == (facs ? (int)cases[c].fusion : -1) &&
                  meta.fusion_bn == (facs ? (int)cases[c].bn : -1) &&
                  (facs ? meta.threshold == cases[c].threshold : isnan(meta.threshold)),
              "%s: facs_weights_read_meta: arch '%s' classes %d width %g cifar_stem %d fusion %d fusion_bn %d "
              "threshold %g", cases[c].arch, meta.arch, meta.classes, meta.width, meta.cifar_stem, meta.fusion,
              meta.fusion_bn, (double)meta.threshold);

        facs_model *b = NULL;
        CHECK_OK(facs_model_create(&b, &back, FACS_DEVICE_CPU, 2));
        if (b) {
            CHECK_OK(facs_model_load(path, b, NULL));
            const facs_param_list *pa = facs_model_params(a), *pb = facs_model_params(b);
            int differ = pa->count != pb->count;
            for (int i = 0; !differ && i < pa->count; i++) {
                float *x = test_nchw(pa->items[i]->value), *y = test_nchw(pb->items[i]->value);
                differ = strcmp(pa->items[i]->name, pb->items[i]->name) != 0 ||
                         facs_tensor_numel(pa->items[i]->value) != facs_tensor_numel(pb->items[i]->value) ||
                         memcmp(x, y, facs_tensor_bytes(pa->items[i]->value)) != 0;
                free(x);
                free(y);
            }
            CHECK(!differ, "%s: the model rebuilt from the file must equal the saved one", cases[c].arch);
            facs_model_free(b);
        }
        facs_model_free(a);
    }
    remove(path);
}

/* resolve with the options in given set to cli's values; expects a refusal
 * whose message holds every needle (NULL-terminated). */
static void expect_resolve_refusal(const char *what, const char *path, const facs_model_options *cli,
                                   facs_model_given given, const char *const *needles)
{
    facs_model_options out;
    facs_clear_error();
    facs_status s = facs_model_options_resolve(path, cli, given, &out);
    int all = s != FACS_OK;
    for (int i = 0; all && needles[i]; i++)
        all = contains(facs_last_error(), needles[i]);
    CHECK(all, "%s: status %d, message '%s'", what, (int)s, facs_last_error());
}

/* A command line against a file: a contradiction names both values and the
 * file; an option that does not apply to the architecture is refused; what
 * the file leaves open is the command line's. */
static void test_model_options_check(void)
{
    char facs_path[PATH_MAX_LEN], plain[PATH_MAX_LEN], mobile[PATH_MAX_LEN], vgg[PATH_MAX_LEN], old[PATH_MAX_LEN];
    facs_model *m = make_model("facs_resnet26", 10, 0.25, 0, FACS_FUSION_BN_NONE, FACS_FUSION_THRESHOLD, 0.5f, 3);
    if (m)
        CHECK_OK(facs_model_save(beside(facs_path, "_facs.h5"), m, NULL, NULL, NULL, 0));
    /* An older save: the classic attributes only, no width. */
    facs_weights_meta classic = facs_weights_meta_unknown();
    snprintf(classic.arch, sizeof classic.arch, "facs_resnet26");
    classic.classes = 10;
    classic.fusion = FACS_FUSION_THRESHOLD;
    classic.threshold = 0.5f;
    if (m)
        CHECK_OK(facs_weights_save(beside(old, "_old.h5"), facs_model_params(m), &classic));
    facs_model_free(m);
    m = make_model("resnet26", 10, 0.25, 0, FACS_FUSION_BN_NONE, FACS_FUSION_THRESHOLD, 0.5f, 3);
    if (m)
        CHECK_OK(facs_model_save(beside(plain, "_plain.h5"), m, NULL, NULL, NULL, 0));
    facs_model_free(m);
    m = make_model("mobilenet_v2", 10, 0.25, 0, FACS_FUSION_BN_NONE, FACS_FUSION_THRESHOLD, 0.5f, 3);
    if (m)
        CHECK_OK(facs_model_save(beside(mobile, "_mobile.h5"), m, NULL, NULL, NULL, 0));
    facs_model_free(m);
    m = make_model("vgg16_1x1_r2", 10, 0.25, 0, FACS_FUSION_BN_NONE, FACS_FUSION_THRESHOLD, 0.5f, 3);
    if (m)
        CHECK_OK(facs_model_save(beside(vgg, "_vgg.h5"), m, NULL, NULL, NULL, 0));
    facs_model_free(m);

    facs_model_options cli, out;
    memset(&cli, 0, sizeof cli);
    cli.width = 0.5;
    expect_resolve_refusal("contradicting --width", facs_path, &cli, FACS_MODEL_GIVEN(WIDTH),
                           (const char *const[]){"--width 0.5, but ", facs_path, "was saved with width 0.25", NULL});
    snprintf(cli.arch, sizeof cli.arch, "resnet26");
    expect_resolve_refusal("contradicting --arch", facs_path, &cli, FACS_MODEL_GIVEN(ARCH),
                           (const char *const[]){"--arch resnet26, but", "architecture facs_resnet26", NULL});
    cli.classes = 100;
    expect_resolve_refusal("contradicting --classes", facs_path, &cli, FACS_MODEL_GIVEN(CLASSES),
                           (const char *const[]){"--classes 100, but", "classes 10", NULL});
    cli.fusion = (facs_fuse_params){FACS_FUSION_WEIGHTED, 0.25f};
    expect_resolve_refusal("contradicting --fusion", facs_path, &cli, FACS_MODEL_GIVEN(FUSION),
                           (const char *const[]){"--fusion weighted, but", "fusion threshold", NULL});
    expect_resolve_refusal("contradicting --threshold", facs_path, &cli, FACS_MODEL_GIVEN(THRESHOLD),
                           (const char *const[]){"--threshold 0.25, but", "threshold 0.5", NULL});
    cli.fusion_bn = FACS_FUSION_BN_POST;
    expect_resolve_refusal("contradicting --fusion-bn", facs_path, &cli, FACS_MODEL_GIVEN(FUSION_BN),
                           (const char *const[]){"--fusion-bn post, but", "fusion_bn none", NULL});
    cli.cifar_stem = 1;
    expect_resolve_refusal("contradicting --cifar-stem", facs_path, &cli, FACS_MODEL_GIVEN(CIFAR_STEM),
                           (const char *const[]){"--cifar-stem, but", "cifar_stem 0", NULL});

    /* Options that do not apply to the architecture, whatever their value. */
    expect_resolve_refusal("--fusion on resnet26", plain, &cli, FACS_MODEL_GIVEN(FUSION),
                           (const char *const[]){"--fusion weighted does not apply to resnet26", "no FACS op", NULL});
    expect_resolve_refusal("--threshold on resnet26", plain, &cli, FACS_MODEL_GIVEN(THRESHOLD),
                           (const char *const[]){"--threshold 0.25 does not apply to resnet26", NULL});
    expect_resolve_refusal("--fusion-bn on resnet26", plain, &cli, FACS_MODEL_GIVEN(FUSION_BN),
                           (const char *const[]){"--fusion-bn post does not apply to resnet26", NULL});
    expect_resolve_refusal("--cifar-stem on mobilenet_v2", mobile, &cli, FACS_MODEL_GIVEN(CIFAR_STEM),
                           (const char *const[]){"--cifar-stem does not apply to mobilenet_v2", "CIFAR stem", NULL});
    expect_resolve_refusal("--cifar-stem on VGG", vgg, &cli, FACS_MODEL_GIVEN(CIFAR_STEM),
                           (const char *const[]){"--cifar-stem does not apply to vgg16_1x1_r2", NULL});
    /* Without a file, too; and the FACS options on every architecture. */
    int wrong = 0;
    for (const char *const *a = facs_model_arch_names(); *a; a++) {
        facs_model_options o;
        CHECK_OK(facs_model_options_for_arch(*a, &o));
        facs_status s = facs_model_options_check_applicable(&o, FACS_MODEL_GIVEN(FUSION) | FACS_MODEL_GIVEN(WIDTH));
        if ((s == FACS_OK) != (strstr(*a, "facs") != NULL) && !wrong++)
            fprintf(stderr, "%s: --fusion %s (%s)\n", *a, s == FACS_OK ? "accepted" : "refused", facs_last_error());
    }
    CHECK(wrong == 0, "--fusion must apply exactly to the FACS architectures (%d wrong)", wrong);

    /* Agreeing options are fine; the file's options win where it speaks. */
    facs_model_options same;
    CHECK_OK(facs_model_options_from_file(facs_path, &same));
    CHECK_OK(facs_model_options_resolve(facs_path, &same, FACS_MODEL_GIVEN_ALL, &out));
    CHECK(same_options(&out, &same), "every option given as the file says");
    /* An older file leaves the width to the command line. */
    memset(&cli, 0, sizeof cli);
    cli.width = 0.25;
    CHECK_OK(facs_model_options_resolve(old, &cli, FACS_MODEL_GIVEN(WIDTH), &out));
    CHECK(strcmp(out.arch, "facs_resnet26") == 0 && out.width == 0.25 && out.classes == 10,
          "older file + --width: %s width %g classes %d", out.arch, out.width, out.classes);
    CHECK_OK(facs_model_options_resolve(old, &cli, 0, &out));
    CHECK(out.width == 1.0, "older file without --width: the architecture's default width, got %g", out.width);
    /* A file that does not say its architecture needs --arch. */
    char bare[PATH_MAX_LEN];
    expect_resolve_refusal("bare file without --arch", beside(bare, "_bare.h5"), &cli, 0,
                           (const char *const[]){bare, "does not say its architecture", "--arch", NULL});
    snprintf(cli.arch, sizeof cli.arch, "facs_mobilenet_v2");
    cli.cifar_stem = 1;
    expect_resolve_refusal("bare file, --arch facs_mobilenet_v2 --cifar-stem", bare, &cli,
                           FACS_MODEL_GIVEN(ARCH) | FACS_MODEL_GIVEN(CIFAR_STEM),
                           (const char *const[]){"--cifar-stem does not apply to facs_mobilenet_v2", NULL});
    snprintf(cli.arch, sizeof cli.arch, "facs_resnet26");
    cli.fusion = (facs_fuse_params){FACS_FUSION_WEIGHTED, 0.5f};
    cli.cifar_stem = 0;
    CHECK_OK(facs_model_options_resolve(bare, &cli, FACS_MODEL_GIVEN(ARCH) | FACS_MODEL_GIVEN(FUSION), &out));
    CHECK(strcmp(out.arch, "facs_resnet26") == 0 && out.classes == 1000 && out.fusion.fusion == FACS_FUSION_WEIGHTED,
          "bare file + --arch: %s classes %d (from fc.weight)", out.arch, out.classes);

    /* A shape mismatch names what the file was saved as and what is being built. */
    m = make_model("resnet26", 10, 0.5, 0, FACS_FUSION_BN_NONE, FACS_FUSION_THRESHOLD, 0.5f, 3);
    if (m) {
        facs_clear_error();
        CHECK(facs_model_load(plain, m, NULL) == FACS_ERR_FORMAT && contains(facs_last_error(), "in the model") &&
                  contains(facs_last_error(), "was saved as resnet26, classes 10, width 0.25") &&
                  contains(facs_last_error(), "the network built is resnet26, classes 10, width 0.5"),
              "shape mismatch: '%s'", facs_last_error());
    }
    facs_model_free(m);

    /* A threshold the FACS op would refuse at every forward is refused at create (model.h's promise). */
    facs_model_options nan_threshold;
    if (CHECK_OK(facs_model_options_for_arch("facs_resnet26", &nan_threshold))) {
        nan_threshold.fusion.threshold = NAN;
        facs_model *never = NULL;
        CHECK(facs_model_create(&never, &nan_threshold, FACS_DEVICE_CPU, 1) == FACS_ERR_ARG &&
                  contains(facs_last_error(), "threshold"),
              "a NaN fusion threshold at create: '%s'", facs_last_error());
    }
    remove(facs_path);
    remove(plain);
    remove(mobile);
    remove(vgg);
    remove(old);
}

int main(int argc, char **argv)
{
    test_seed_from_env();
    if (!CHECK(argc > 1, "usage: test_model_file REF.h5"))
        return test_finish();
    size_t len = strlen(argv[1]);
    snprintf(base, sizeof base, "%.*s", (int)(len > 3 && strcmp(argv[1] + len - 3, ".h5") == 0 ? len - 3 : len),
             argv[1]);
    test_model_round_trip();
    test_model_options_check();
    return test_finish();
}
