/* PSPNet (backbone/pspnet.h) through the model interface (backbone/model.h):
 *
 * 1. Parity with the PyTorch twin of semseg's PSPNet (tests/ref/ref_pspnet.py,
 *    tests/ref/pspnet_torch.py) on 2 images of 45 x 61 (sides neither 8k nor
 *    8k + 1): PSPNet on torchvision's ResNet-50 (width 1, output stride 8;
 *    eval mode only: PyTorch's reference takes 20 s a case), on the FACS-ResNet-50
 *    twin at width 0.25 (output stride 8 and 16) and on the ResNet-26 twin at
 *    width 0.25 with the deep stem; each in eval mode (main logits) and in
 *    train mode with dropout 0 (main and aux logits,
 *    concatenated so that one grad_output drives both heads): outputs, input
 *    gradient, every parameter gradient, the BN running statistics after the
 *    step. Tolerances are test_resnet.c's (tests/model_parity.h): 1e-4 in eval
 *    mode, max(3e-4, 8 spread) in train mode. The parameter names and their
 *    order are the twin's state_dict keys, checked one by one.
 * 2. The builder: names, defaults, refused options, dropout, aux output.
 * 3. facs-summary's counting on the meta device at 713 x 713: the parameters of
 *    the twins of pspnet_resnet50 and pspnet_resnet101 (19 classes).
 * 4. Model files: output_stride and deep_stem recorded, the model rebuilt from
 *    the file alone, a contradicting --output-stride refused.
 * 5. facs_model_load_backbone: ResNet (and FACS-ResNet, deep stem) files
 *    initialise the PSPNet backbone, heads untouched; classification models
 *    load all but their head; a wrong depth is refused with context.
 * PSPNET_VERBOSE=1 prints every parity comparison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flops.h"
#include "model_family.h"
#include "model_file.h"
#include "model_parity.h"
#include "pspnet.h"
#include "test_util.h"

#define CLASSES 5

static char base[1024]; /* argv[1] without ".h5": scratch files sit beside it */
static parity_stats stats;

static const char *scratch(char *buf, size_t size, const char *suffix)
{
    snprintf(buf, size, "%s%s", base, suffix);
    return buf;
}

static facs_model *build(const char *arch, int classes, double width, int output_stride, int deep_stem,
                         double dropout, uint64_t seed)
{
    facs_model_options o;
    facs_model *m = NULL;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return NULL;
    o.classes = classes, o.width = width, o.output_stride = output_stride, o.deep_stem = deep_stem;
    o.dropout = dropout;
    CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, seed));
    return m;
}

/* ---- 1. parity ---- */

/* The main logits in eval mode; main and aux concatenated in train mode. */
static facs_tensor *forward(facs_ctx *ctx, void *user, facs_tensor *x)
{
    facs_model *m = user;
    facs_tensor *y = facs_model_forward(ctx, m, x), *aux = facs_model_aux_output(m);
    if (!ctx->training) {
        CHECK(!aux, "no aux output in eval mode");
        return y;
    }
    if (!y || !CHECK(aux && aux->n == y->n && aux->c == y->c && aux->h == y->h && aux->w == y->w,
                     "train mode: aux logits shaped like the main ones"))
        return NULL;
    return facs_concat(ctx, 2, (facs_tensor *const[]){y, aux});
}

/* The C parameter names, in order, against the twin's state_dict keys (stored
 * as the characters of one newline-separated string). */
static void check_names(h5_file *ref, const char *model, const facs_param_list *params)
{
    char key[96];
    snprintf(key, sizeof key, "/%s/keys", model);
    int rank;
    size_t dims[8];
    int *codes = h5_read_i32(ref, key, &rank, dims);
    if (!CHECK(codes && rank == 1, "%s missing", key)) {
        free(codes);
        return;
    }
    char *want = malloc(dims[0] + 1), *got = malloc(dims[0] + 1);
    for (size_t i = 0; i < dims[0]; i++)
        want[i] = (char)codes[i];
    want[dims[0]] = 0;
    size_t used = 0;
    int fits = 1;
    for (int i = 0; fits && i < params->count; i++) {
        size_t len = strlen(params->items[i]->name);
        fits = used + len + (i > 0) <= dims[0];
        if (fits)
            used += (size_t)sprintf(got + used, "%s%s", i ? "\n" : "", params->items[i]->name);
    }
    got[fits ? used : 0] = 0;
    CHECK(fits && strcmp(got, want) == 0, "%s: the parameter names and order differ from the twin's state_dict",
          model);
    free(codes), free(want), free(got);
}

static void parity(facs_ctx *ctx, h5_file *ref)
{
    static const struct {
        const char *model, *arch;
    } MODELS[] = {{"r50", "pspnet_resnet50"},
                  {"f50s", "pspnet_facs_resnet50"},
                  {"f50s16", "pspnet_facs_resnet50"},
                  {"r26d", "pspnet_resnet26"},
                  {"r26b", "pspnet_resnet26"}};
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) {
        for (int training = 0; training < (strcmp(MODELS[i].model, "r50") ? 2 : 1); training++) {
            const char *model = MODELS[i].model;
            char name[64], group[80];
            snprintf(name, sizeof name, "%s_%s", model, training ? "train" : "eval");
            snprintf(group, sizeof group, "/%s", name);
            facs_model *m = build(MODELS[i].arch, CLASSES, h5_attr_double(ref, group, "width", 1.0),
                                  (int)h5_attr_int(ref, group, "output_stride", 8),
                                  (int)h5_attr_int(ref, group, "deep_stem", 0), 0.0, 7);
            if (m && parity_load_weights(ref, model, name, facs_model_params(m))) {
                if (!training)
                    check_names(ref, model, facs_model_params(m));
                parity_run_case(&stats, ref, ctx, name, model, NULL, facs_model_params(m), forward, m);
            }
            facs_model_free(m);
        }
    }
}

/* ---- 2. the builder ---- */

static int has_name(const char *arch)
{
    for (const char *const *n = facs_model_arch_names(); *n; n++)
        if (strcmp(*n, arch) == 0)
            return 1;
    return 0;
}

static void expect_refused(const char *what, facs_model_options *o, const char *needle)
{
    facs_model *m = NULL;
    facs_status s = facs_model_create(&m, o, FACS_DEVICE_CPU, 1);
    CHECK(s == FACS_ERR_ARG && !m && strstr(facs_last_error(), needle), "%s: status %d, message '%s' (want '%s')",
          what, (int)s, facs_last_error(), needle);
    facs_model_free(m);
}

/* The main logits of one forward of m on the n images x in the given mode
 * (train mode needs 2 images: the 1x1 bin's BN takes batch statistics). */
static float *logits_of(facs_ctx *ctx, facs_model *m, const float *x, int n, int h, int w, int training,
                        uint64_t seed)
{
    facs_ctx_set_mode(ctx, training, 0);
    facs_ctx_begin_step(ctx);
    facs_ctx_seed_step(ctx, seed, 0);
    facs_tensor *y = facs_model_forward(ctx, m, test_tensor(ctx, n, 3, h, w, x));
    return CHECK_PTR(y) ? test_nchw(y) : NULL;
}

static void check_builder(facs_ctx *ctx)
{
    CHECK_OK(facs_model_register_family(&facs_pspnet_family));
    int count = 0, psp = 0;
    for (const char *const *n = facs_model_arch_names(); *n; n++, count++)
        psp += strncmp(*n, "pspnet_", 7) == 0;
    int resnets = 0;
    for (const char *const *n = facs_resnet_arch_names(); *n; n++)
        resnets++;
    CHECK(psp == resnets && has_name("pspnet_facs_resnet101") && has_name("resnet50"),
          "%d pspnet names among %d, want one per ResNet (%d)", psp, count, resnets);
    CHECK(facs_model_register_family(&facs_resnet_family) == FACS_OK, "a built-in family registers as a no-op");
    facs_model_family clash = facs_pspnet_family; /* another family with the same names */
    CHECK(facs_model_register_family(&clash) == FACS_ERR_ARG && strstr(facs_last_error(), "pspnet_resnet26"),
          "a clash of names must be refused: '%s'", facs_last_error());

    facs_model_options o;
    if (!CHECK_OK(facs_model_options_for_arch("pspnet_resnet50", &o)))
        return;
    CHECK(o.classes == 19 && o.output_stride == 8 && o.dropout < 0 && !o.deep_stem && o.width == 1.0,
          "pspnet defaults: classes %d, output stride %d, dropout %g", o.classes, o.output_stride, o.dropout);
    CHECK_OK(facs_model_options_for_arch("resnet50", &o));
    CHECK(o.classes == 1000 && o.output_stride == 32, "resnet50 defaults: classes %d, output stride %d", o.classes,
          o.output_stride);

    facs_model *m = build("pspnet_facs_resnet26", 3, 0.25, 0, 0, -1, 1);
    if (m) {
        const facs_model_options *r = facs_model_get_options(m);
        CHECK(r->output_stride == 8 && fabs(r->dropout - 0.1) < 1e-12 && facs_model_is_facs(m),
              "resolved: output stride %d, dropout %g", r->output_stride, r->dropout);
        CHECK(strcmp(facs_model_head_prefix(m), "cls.") == 0, "head prefix '%s'", facs_model_head_prefix(m));
        facs_param_list *p = facs_model_params(m);
        CHECK(strcmp(p->items[0]->name, "layer0.0.weight") == 0 && strcmp(p->items[1]->name, "layer0.1.weight") == 0 &&
                  strcmp(p->items[p->count - 1]->name, "aux.4.bias") == 0 && !facs_param_list_find(p, "fc.weight") &&
                  facs_param_list_find(p, "ppm.features.3.2.running_var") &&
                  facs_param_list_find(p, "cls.4.weight")->value->n == 3,
              "names: first %s, last %s", p->items[0]->name, p->items[p->count - 1]->name);
        /* Dropout: stochastic in train mode, absent in eval mode; aux only in train mode. */
        enum { S = 33 };
        float *x = test_alloc(2 * 3 * S * S);
        test_fill(x, 2 * 3 * S * S, -1, 1);
        float *e1 = logits_of(ctx, m, x, 2, S, S, 0, 1), *e2 = logits_of(ctx, m, x, 2, S, S, 0, 2);
        CHECK(!facs_model_aux_output(m), "no aux output after an eval forward");
        float *t1 = logits_of(ctx, m, x, 2, S, S, 1, 1);
        CHECK(facs_model_aux_output(m) != NULL, "an aux output after a train forward");
        float *t2 = logits_of(ctx, m, x, 2, S, S, 1, 1), *t3 = logits_of(ctx, m, x, 2, S, S, 1, 2);
        size_t n = 2 * 3 * S * S;
        if (e1 && e2 && t1 && t2 && t3)
            CHECK(memcmp(e1, e2, n * sizeof *e1) == 0 && memcmp(t1, t2, n * sizeof *t1) == 0 &&
                      memcmp(t1, t3, n * sizeof *t1) != 0,
                  "dropout: eval ignores the seed, train draws masks from it");
        free(x), free(e1), free(e2), free(t1), free(t2), free(t3);
    }
    facs_model_free(m);

    CHECK_OK(facs_model_options_for_arch("pspnet_resnet26", &o));
    o.width = 0.25;
    o.output_stride = 32;
    expect_refused("output stride 32", &o, "output stride 8 or 16");
    o.output_stride = 8, o.cifar_stem = 1;
    expect_refused("cifar stem", &o, "CIFAR stem");
    o.cifar_stem = 0, o.fusion_bn = FACS_FUSION_BN_PRE;
    expect_refused("pre-BN", &o, "post-BN");
    o.fusion_bn = FACS_FUSION_BN_NONE, o.dropout = 1.0;
    expect_refused("dropout 1", &o, "dropout");

    /* The classification families: ResNet honours output stride and deep
     * stem, refuses dropout; VGG and MobileNet-v2 refuse both with a reason. */
    m = build("resnet26", 10, 0.25, 8, 1, 0.0, 1);
    if (m) {
        facs_ctx_set_mode(ctx, 0, 0);
        facs_ctx_begin_step(ctx);
        facs_tensor *x = facs_ctx_zeros(ctx, FACS_F32, 1, 3, 40, 40);
        facs_tensor *y = facs_model_forward(ctx, m, x);
        CHECK(y && y->c == 10 && y->h == 1 && facs_param_list_find(facs_model_params(m), "conv1.6.weight"),
              "resnet26 at output stride 8 with the deep stem: %s", facs_last_error());
    }
    facs_model_free(m);
    CHECK_OK(facs_model_options_for_arch("resnet26", &o));
    o.dropout = 0.5;
    expect_refused("dropout on resnet26", &o, "no dropout");
    CHECK_OK(facs_model_options_for_arch("vgg16_1x1_r2", &o));
    o.width = 0.25, o.output_stride = 16;
    expect_refused("output stride on VGG", &o, "output stride 32 only");
    CHECK(facs_model_options_check_applicable(&o, FACS_MODEL_GIVEN(OUTPUT_STRIDE)) == FACS_ERR_ARG &&
              strstr(facs_last_error(), "--output-stride 16 does not apply to vgg16_1x1_r2"),
          "--output-stride on VGG: '%s'", facs_last_error());
    CHECK_OK(facs_model_options_for_arch("mobilenet_v2", &o));
    o.deep_stem = 1;
    CHECK(facs_model_options_check_applicable(&o, FACS_MODEL_GIVEN(DEEP_STEM)) == FACS_ERR_ARG &&
              strstr(facs_last_error(), "--deep-stem 1 does not apply to mobilenet_v2"),
          "--deep-stem on MobileNet-v2: '%s'", facs_last_error());
    m = build("mobilenet_v2", 10, 0.5, 0, 0, -1, 1);
    CHECK(m && fabs(facs_model_get_options(m)->dropout - 0.2) < 1e-12, "mobilenet_v2's default dropout 0.2");
    facs_model_free(m);
}

/* ---- 3. counting on the meta device ---- */

static void check_summary(h5_file *ref)
{
    static const char *const ARCHS[] = {"pspnet_resnet50", "pspnet_resnet101"};
    for (int i = 0; i < 2; i++) {
        facs_model_options o;
        facs_model *m = NULL;
        if (!CHECK_OK(facs_model_options_for_arch(ARCHS[i], &o)) ||
            !CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_META, 1)))
            continue;
        facs_flops_count c;
        if (CHECK_OK(facs_flops_count_model(m, 713, 713, FACS_FLOPS_PTFLOPS, &c))) {
            char attr[64];
            snprintf(attr, sizeof attr, "%s_params", ARCHS[i]);
            long want = h5_attr_int(ref, "/", attr, -1);
            const facs_flops_layer *last = &c.layers[c.count - 1];
            CHECK(c.params == want, "%s: %lld parameters, the twin has %ld", ARCHS[i], (long long)c.params, want);
            CHECK(last->shape[1] == 19 && last->shape[2] == 713 && last->shape[3] == 713,
                  "%s at 713: logits (%d, %d, %d, %d)", ARCHS[i], last->shape[0], last->shape[1], last->shape[2],
                  last->shape[3]);
            /* The aux head runs in training only: eval mode counts it among the unused. */
            int64_t aux = 0;
            for (int k = 0; k < facs_model_params(m)->count; k++) {
                const facs_param *p = facs_model_params(m)->items[k];
                if (strncmp(p->name, "aux.", 4) == 0 && p->kind == FACS_PARAM_TRAINABLE)
                    aux += (int64_t)facs_tensor_numel(p->value);
            }
            CHECK(c.params - c.used_params == aux, "%s: %lld unused parameters, the aux head has %lld", ARCHS[i],
                  (long long)(c.params - c.used_params), (long long)aux);
            facs_flops_count_free(&c);
        }
        facs_model_free(m);
    }
}

/* ---- 4. model files ---- */

static void check_model_file(facs_ctx *ctx)
{
    char path[1100];
    scratch(path, sizeof path, "_model.h5");
    facs_model *a = build("pspnet_facs_resnet26", 4, 0.25, 16, 1, -1, 3), *b = NULL;
    if (!a || !CHECK_OK(facs_model_save(path, a, NULL, NULL, NULL, 0))) {
        facs_model_free(a);
        return;
    }
    facs_weights_meta meta;
    if (CHECK_OK(facs_weights_read_meta(path, &meta)))
        CHECK(meta.output_stride == 16 && meta.deep_stem == 1 && meta.classes == 4 &&
                  strcmp(meta.arch, "pspnet_facs_resnet26") == 0,
              "meta: output_stride %d, deep_stem %d, classes %d, arch %s", meta.output_stride, meta.deep_stem,
              meta.classes, meta.arch);
    facs_model_options o;
    if (CHECK_OK(facs_model_options_from_file(path, &o)) && CHECK_OK(facs_model_create(&b, &o, FACS_DEVICE_CPU, 9)) &&
        CHECK_OK(facs_model_load(path, b, NULL))) {
        CHECK(o.output_stride == 16 && o.deep_stem == 1 && o.width == 0.25, "rebuilt: output stride %d, deep stem %d",
              o.output_stride, o.deep_stem);
        enum { S = 41 };
        float *x = test_alloc(3 * S * S);
        test_fill(x, 3 * S * S, -1, 1);
        float *ya = logits_of(ctx, a, x, 1, S, S, 0, 0), *yb = logits_of(ctx, b, x, 1, S, S, 0, 0);
        CHECK(ya && yb && memcmp(ya, yb, 4 * S * S * sizeof *ya) == 0, "the rebuilt model gives the same logits");
        free(x), free(ya), free(yb);
    }
    facs_model_free(b);
    /* A command line against the file. */
    facs_model_options cli, out;
    facs_model_options_for_arch("pspnet_facs_resnet26", &cli);
    cli.output_stride = 8;
    facs_status s = facs_model_options_resolve(path, &cli, FACS_MODEL_GIVEN(OUTPUT_STRIDE), &out);
    CHECK(s == FACS_ERR_ARG && strstr(facs_last_error(), "--output-stride 8, but") &&
              strstr(facs_last_error(), "output_stride 16"),
          "a contradicting --output-stride: status %d, '%s'", (int)s, facs_last_error());
    cli.output_stride = 16;
    CHECK_OK(facs_model_options_resolve(path, &cli, FACS_MODEL_GIVEN(OUTPUT_STRIDE), &out));
    cli.deep_stem = 0;
    s = facs_model_options_resolve(path, &cli, FACS_MODEL_GIVEN(DEEP_STEM), &out);
    CHECK(s == FACS_ERR_ARG && strstr(facs_last_error(), "deep_stem 1"), "a contradicting deep stem: '%s'",
          facs_last_error());
    cli.cifar_stem = 1;
    s = facs_model_options_resolve(path, &cli, FACS_MODEL_GIVEN(CIFAR_STEM), &out);
    CHECK(s == FACS_ERR_ARG && strstr(facs_last_error(), "CIFAR stem"), "--cifar-stem on PSPNet: '%s'",
          facs_last_error());
    facs_model_free(a);
    unlink(path);
}

/* ---- 5. initialising the backbone ---- */

/* 1 when the tensor named a in m equals the one named b in n, value for value. */
static int same_tensor(facs_model *m, const char *a, facs_model *n, const char *b)
{
    facs_param *p = facs_param_list_find(facs_model_params(m), a), *q = facs_param_list_find(facs_model_params(n), b);
    if (!CHECK(p && q, "%s / %s missing", a, b))
        return 0;
    float *x = test_nchw(p->value), *y = test_nchw(q->value);
    size_t count = facs_tensor_numel(p->value);
    int same = count == facs_tensor_numel(q->value) && memcmp(x, y, count * sizeof *x) == 0;
    free(x), free(y);
    return same;
}

static void check_load_backbone(void)
{
    char path[1100];
    scratch(path, sizeof path, "_backbone.h5");
    struct {
        const char *resnet, *pspnet;
        int deep_stem;
        const char *pairs[4][2]; /* PSPNet name, ResNet name */
    } cases[] = {
        {"resnet26", "pspnet_resnet26", 0,
         {{"layer0.0.weight", "conv1.weight"}, {"layer0.1.running_var", "bn1.running_var"},
          {"layer4.1.conv3.weight", "layer4.1.conv3.weight"}, {"layer2.0.downsample.1.bias", "layer2.0.downsample.1.bias"}}},
        {"facs_resnet26", "pspnet_resnet26", 1, /* a FACS-ResNet file loads into the plain net, deep stem (timm's names) */
         {{"layer0.0.weight", "conv1.0.weight"}, {"layer0.4.bias", "conv1.4.bias"},
          {"layer0.6.weight", "conv1.6.weight"}, {"layer0.7.weight", "bn1.weight"}}},
        {"resnet26", "pspnet_resnet26", 2, /* semseg's deep base: its ImageNet ResNets' names */
         {{"layer0.0.weight", "conv1.weight"}, {"layer0.4.running_mean", "bn2.running_mean"},
          {"layer0.6.weight", "conv3.weight"}, {"layer0.7.bias", "bn3.bias"}}},
    };
    for (int c = 0; c < 3; c++) {
        facs_model *r = build(cases[c].resnet, 1000, 0.25, 32, cases[c].deep_stem, -1, 11);
        facs_model *p = build(cases[c].pspnet, 19, 0.25, 8, cases[c].deep_stem, -1, 12);
        facs_model *fresh = build(cases[c].pspnet, 19, 0.25, 8, cases[c].deep_stem, -1, 12);
        facs_weights_report report;
        if (r && p && fresh && CHECK_OK(facs_model_save(path, r, NULL, NULL, NULL, 0)) &&
            CHECK_OK(facs_model_load_backbone(p, path, &report))) {
            int backbone = facs_model_params(r)->count - 2; /* all but fc.weight, fc.bias */
            CHECK(report.loaded == backbone && report.missing == 0 && report.unexpected == 0,
                  "%s into %s: %d loaded (want %d)", cases[c].resnet, cases[c].pspnet, report.loaded, backbone);
            for (int k = 0; k < 4; k++)
                CHECK(same_tensor(p, cases[c].pairs[k][0], r, cases[c].pairs[k][1]), "%s: %s must be the file's %s",
                      cases[c].pspnet, cases[c].pairs[k][0], cases[c].pairs[k][1]);
            static const char *const HEADS[] = {"ppm.features.0.1.weight", "cls.0.weight", "cls.4.bias",
                                                "aux.1.weight", "aux.4.weight"};
            for (int k = 0; k < 5; k++)
                CHECK(same_tensor(p, HEADS[k], fresh, HEADS[k]), "%s must keep its initial values", HEADS[k]);
        }
        facs_model_free(r), facs_model_free(p), facs_model_free(fresh);
    }
    /* A classification model: everything but the head, whatever its classes. */
    facs_model *r = build("resnet26", 1000, 0.25, 32, 0, -1, 11), *ft = build("facs_resnet26", 10, 0.25, 32, 0, -1, 13),
               *ft0 = build("facs_resnet26", 10, 0.25, 32, 0, -1, 13);
    facs_weights_report report;
    if (r && ft && ft0 && CHECK_OK(facs_model_save(path, r, NULL, NULL, NULL, 0)) &&
        CHECK_OK(facs_model_load_backbone(ft, path, &report)))
        CHECK(report.loaded == facs_model_params(r)->count - 2 && same_tensor(ft, "layer3.0.conv2.weight", r,
                                                                             "layer3.0.conv2.weight") &&
                  same_tensor(ft, "fc.weight", ft0, "fc.weight"),
              "classification: %d loaded, head kept", report.loaded);
    /* The wrong depth: refused, naming the file's and the built network. */
    facs_model *psp50 = build("pspnet_resnet50", 19, 0.25, 8, 0, -1, 1);
    facs_status s = psp50 ? facs_model_load_backbone(psp50, path, NULL) : FACS_OK;
    if (getenv("PSPNET_VERBOSE"))
        printf("a resnet26 file into pspnet_resnet50: %s\n", facs_last_error());
    CHECK(s == FACS_ERR_FORMAT && strstr(facs_last_error(), "saved as resnet26") &&
              strstr(facs_last_error(), "pspnet_resnet50"),
          "a resnet26 file into pspnet_resnet50: status %d, '%s'", (int)s, facs_last_error());
    facs_model_free(r), facs_model_free(ft), facs_model_free(ft0), facs_model_free(psp50);
    unlink(path);
}

int main(int argc, char **argv)
{
    facs_model_options o;
    CHECK(facs_model_options_for_arch("pspnet_resnet50", &o) == FACS_OK,
          "pspnet names are known from the start (a built-in family): %s", facs_last_error());
    h5_file *ref = test_open_ref(argc, argv);
    snprintf(base, sizeof base, "%s", argc > 1 ? argv[1] : "pspnet");
    char *dot = strrchr(base, '.');
    if (dot && strcmp(dot, ".h5") == 0)
        *dot = 0;
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    stats = parity_stats_init("PSPNET_VERBOSE");
    parity(ctx, ref);
    parity_print(&stats);
    check_builder(ctx);
    check_summary(ref);
    check_model_file(ctx);
    check_load_backbone();
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
