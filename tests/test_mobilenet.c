/* MobileNet-v2 / FACS-MobileNet-v2 against PyTorch (tests/ref/ref_mobilenet.py):
 * torchvision's mobilenet_v2 (width 0.5, random weights and BN statistics)
 * and the FACS twin with BN none, pre and post (threshold fusion; the
 * weighted one once), in eval and train mode (post-BN: eval only), plus
 * the full-3x3 variants (width 0.1, eval): the logits, the input gradient,
 * every parameter gradient and, in train mode, the updated BN running
 * statistics. Eval cases go through the facs_model API (FACS cases load the
 * mobilenet_v2 weights); train cases build the net with facs_mobilenet_create
 * and dropout 0, because PyTorch cannot draw our dropout mask. The dropout
 * itself is checked apart: through facs_model in train mode the logits must
 * equal the classifier applied to facs_dropout2d of the pooled features with
 * the same (seed, rng_calls).
 * Then the builder: parameter counts against torchvision's (3,504,872 at
 * width 1, the twin's at widths 0.35 to 1.4 and of the full variant at 0.35;
 * a FACS net has its plain net's count with any fusion BN), a
 * mobilenet_v2 checkpoint loading strictly into every FACS variant, the
 * output shapes at 224x224, and refused options.
 *
 * Tolerance, as test_resnet.c explains: 1e-4 normwise relative per tensor in
 * eval mode (8e-6 at most measured), 3e-4 in train mode (5e-5 measured):
 * batch statistics amplify rounding, even with the 4 images of 96x96 that
 * train mode runs (3x3 pixels at features.18); where PyTorch's own NCHW and
 * channels_last runs disagree by more, a tensor's tolerance is 8x that
 * spread. Two more measures of the reference (ref_mobilenet.py): ReLU6
 * inputs near either kink (0 and 6) are moved away by BN bias nudges, and a
 * train-mode BN bias gradient that is zero in exact arithmetic (rounding
 * noise in both runs) is measured against its layer's weight gradient
 * (attribute 'floor'; 2e-6 measured). Post-BN is compared in eval mode only
 * (ref_mobilenet.py says why). A wrong stride, padding, group count,
 * chunk size, BN placement or a missing gradient term moves tensors by 1e-2
 * or more. MOBILENET_VERBOSE=1 prints every comparison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mobilenet.h"
#include "model.h"
#include "model_parity.h"
#include "test_util.h"
#include "weights.h"

#define CLASSES 10

static const char *const CASES[] = {
    "mb_eval",   "facs_none_eval",  "facs_pre_eval",  "facs_post_eval", "facs_wtd_eval", "full_eval",
    "facs_full_post_eval", "mb_train", "facs_none_train", "facs_pre_train",
};

static parity_stats stats;

/* A case's net: through facs_model in eval mode, facs_mobilenet with dropout 0 in train mode. */
typedef struct {
    facs_model *model;
    facs_mobilenet net;
    int direct;
} case_net;

static facs_param_list *case_params(case_net *n) { return n->direct ? &n->net.params : facs_model_params(n->model); }

static int create_case_net(h5_file *ref, const char *group, int training, case_net *n)
{
    char arch[32];
    snprintf(arch, sizeof arch, "%s", strstr(group, "full") ? (strstr(group, "facs") ? "facs_mobilenet_v2_full"
                                                                                     : "mobilenet_v2_full")
                                      : (strstr(group, "facs") ? "facs_mobilenet_v2" : "mobilenet_v2"));
    double width = h5_attr_double(ref, group, "width", -1);
    facs_fusion_bn bn = (facs_fusion_bn)h5_attr_int(ref, group, "fusion_bn", 0);
    facs_fuse_params fusion = {(facs_fusion)h5_attr_int(ref, group, "fusion", 0),
                               (float)h5_attr_double(ref, group, "threshold", 0.5)};
    *n = (case_net){.direct = training}; /* a zeroed net is empty: free_case_net is safe */
    if (training) {
        facs_mobilenet_options o;
        if (!CHECK_OK(facs_mobilenet_options_for_arch(arch, &o)))
            return 0;
        o.classes = CLASSES, o.width = width, o.dropout = 0, o.fusion_bn = bn, o.fusion = fusion;
        return CHECK_OK(facs_mobilenet_create(&n->net, &o, FACS_DEVICE_CPU, 7));
    }
    facs_model_options o;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return 0;
    o.classes = CLASSES, o.width = width, o.fusion_bn = bn, o.fusion = fusion;
    return CHECK_OK(facs_model_create(&n->model, &o, FACS_DEVICE_CPU, 7));
}

static void free_case_net(case_net *n)
{
    facs_model_free(n->model);
    facs_mobilenet_free(&n->net);
}

static facs_tensor *forward(facs_ctx *ctx, void *user, facs_tensor *x)
{
    case_net *n = user;
    return n->direct ? facs_mobilenet_forward(ctx, &n->net, x) : facs_model_forward(ctx, n->model, x);
}

static void run_case(h5_file *ref, facs_ctx *ctx, const char *name)
{
    char group[64], model[16], x_key[32];
    snprintf(group, sizeof group, "/%s", name);
    int training = (int)h5_attr_int(ref, group, "training", -1);
    snprintf(model, sizeof model, "%s", strstr(name, "full") ? "full" : "mb");
    snprintf(x_key, sizeof x_key, "/%s/%s", model, training ? "x_train" : "x");
    case_net n;
    if (create_case_net(ref, group, training, &n) && parity_load_weights(ref, model, name, case_params(&n)))
        parity_run_case(&stats, ref, ctx, name, model, x_key, case_params(&n), forward, &n);
    free_case_net(&n);
}

/* classifier.0 in train mode: facs_model's logits are the linear layer of
 * facs_dropout2d(p = 0.2) of the pooled features, drawn from the same (seed,
 * rng_calls), and that dropout drops about a fifth of the values. */
static void check_dropout(h5_file *ref, facs_ctx *ctx)
{
    facs_model_options mo;
    facs_mobilenet_options no;
    facs_model *m = NULL;
    facs_mobilenet net = {0};
    facs_model_options_for_arch("mobilenet_v2", &mo);
    facs_mobilenet_options_for_arch("mobilenet_v2", &no);
    mo.classes = no.classes = CLASSES, mo.width = no.width = 0.5, no.dropout = 0;
    int rank;
    size_t dims[8];
    float *x = h5_read_f32(ref, "/mb/x", &rank, dims);
    if (CHECK_PTR(x) && CHECK_OK(facs_model_create(&m, &mo, FACS_DEVICE_CPU, 3)) &&
        CHECK_OK(facs_mobilenet_create(&net, &no, FACS_DEVICE_CPU, 3)) &&
        parity_load_weights(ref, "mb", NULL, facs_model_params(m)) && parity_load_weights(ref, "mb", NULL, &net.params)) {
        facs_ctx_set_mode(ctx, 1, 0);
        facs_ctx_begin_step(ctx);
        facs_tensor *tx = test_tensor(ctx, (int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3], x);
        ctx->seed = 1234, ctx->rng_calls = 0;
        facs_tensor *got = facs_model_forward(ctx, m, tx);
        facs_tensor *pooled = facs_global_avgpool(ctx, facs_mobilenet_features(ctx, &net, tx));
        ctx->seed = 1234, ctx->rng_calls = 0;
        facs_tensor *dropped = facs_dropout2d(ctx, pooled, 0.2f);
        facs_tensor *want = facs_linear(ctx, dropped, net.fc_weight->value, net.fc_bias->value);
        facs_tensor *plain = facs_linear(ctx, pooled, net.fc_weight->value, net.fc_bias->value);
        if (CHECK_PTR(got) && CHECK_PTR(want) && CHECK_PTR(plain)) {
            float *g = test_nchw(got), *w = test_nchw(want), *p = test_nchw(plain), *d = test_nchw(dropped);
            size_t count = facs_tensor_numel(dropped), zeros = 0;
            for (size_t i = 0; i < count; i++)
                zeros += d[i] == 0;
            test_close_f("train-mode logits vs dropout2d(0.2) of the pooled features", g, w, facs_tensor_numel(got),
                         1e-6);
            CHECK(test_rel_err_f(g, p, facs_tensor_numel(got)) > 1e-3, "dropout left the logits unchanged");
            CHECK(zeros > count / 10 && zeros < 3 * count / 10, "dropout 0.2 zeroed %zu of %zu features", zeros,
                  count);
            free(g), free(w), free(p), free(d);
        }
    }
    free(x);
    facs_model_free(m);
    facs_mobilenet_free(&net);
}

static size_t trainable_count(const char *arch, double width, facs_fusion_bn bn)
{
    facs_model_options o;
    facs_model *m;
    size_t count = 0;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return 0;
    o.width = width, o.fusion_bn = bn;
    if (CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 5)))
        count = facs_param_list_numel(facs_model_params(m), FACS_PARAM_TRAINABLE);
    facs_model_free(m);
    return count;
}

static void check_counts(h5_file *ref)
{
    /* The full variants only at width 0.35: initialising 44M parameters at width 1 takes seconds. */
    static const struct {
        const char *arch;
        double width;
    } NETS[] = {{"mobilenet_v2", 0.35}, {"mobilenet_v2", 0.75},      {"mobilenet_v2", 1.0},
                {"mobilenet_v2", 1.4},  {"mobilenet_v2_full", 0.35}};
    for (size_t i = 0; i < sizeof NETS / sizeof NETS[0]; i++) {
        char attr[64];
        snprintf(attr, sizeof attr, "%s_w%g_params", NETS[i].arch, NETS[i].width);
        long want = h5_attr_int(ref, "/", attr, -1);
        size_t got = trainable_count(NETS[i].arch, NETS[i].width, FACS_FUSION_BN_NONE);
        CHECK((long)got == want, "%s width %g: %zu parameters, torchvision's %ld", NETS[i].arch, NETS[i].width, got,
              want);
    }
    size_t plain = trainable_count("mobilenet_v2", 1.0, FACS_FUSION_BN_NONE);
    CHECK(plain == 3504872, "mobilenet_v2: %zu parameters, torchvision's 3504872", plain);
    for (int bn = FACS_FUSION_BN_NONE; bn <= FACS_FUSION_BN_POST; bn++) {
        size_t f = trainable_count("facs_mobilenet_v2", 1.0, (facs_fusion_bn)bn);
        CHECK(f == plain, "facs_mobilenet_v2 with fusion BN %d: %zu parameters, want %zu", bn, f, plain);
    }
    size_t full = trainable_count("facs_mobilenet_v2_full", 0.35, FACS_FUSION_BN_PRE);
    long want_full = h5_attr_int(ref, "/", "mobilenet_v2_full_w0.35_params", -1);
    CHECK((long)full == want_full, "facs_mobilenet_v2_full: %zu parameters, want %ld", full, want_full);
}

/* A mobilenet_v2 checkpoint loads strictly into every facs_mobilenet_v2, not into the full variant. */
static void check_checkpoint(const char *path)
{
    facs_model_options o;
    facs_model *plain, *m;
    facs_model_options_for_arch("mobilenet_v2", &o);
    o.width = 0.5, o.classes = CLASSES;
    if (!CHECK_OK(facs_model_create(&plain, &o, FACS_DEVICE_CPU, 11)))
        return;
    if (CHECK_OK(facs_weights_save(path, facs_model_params(plain), NULL))) {
        for (int bn = FACS_FUSION_BN_NONE; bn <= FACS_FUSION_BN_POST; bn++) {
            facs_model_options_for_arch("facs_mobilenet_v2", &o);
            o.width = 0.5, o.classes = CLASSES, o.fusion_bn = (facs_fusion_bn)bn;
            if (CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 12))) {
                CHECK(facs_weights_load(path, facs_model_params(m), NULL, NULL) == FACS_OK,
                      "mobilenet_v2 checkpoint into facs_mobilenet_v2 (fusion BN %d): %s", bn, facs_last_error());
                facs_model_free(m);
            }
        }
        facs_model_options_for_arch("facs_mobilenet_v2_full", &o);
        o.width = 0.5, o.classes = CLASSES;
        if (CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 12))) {
            CHECK(facs_weights_load(path, facs_model_params(m), NULL, NULL) != FACS_OK &&
                      strstr(facs_last_error(), "features.1.conv.0.0.weight"),
                  "a depthwise checkpoint must not load into the full variant: '%s'", facs_last_error());
            facs_model_free(m);
        }
    }
    remove(path);
    facs_model_free(plain);
}

static void check_shapes(facs_ctx *ctx)
{
    facs_mobilenet_options o;
    facs_mobilenet net;
    facs_mobilenet_options_for_arch("facs_mobilenet_v2", &o);
    if (!CHECK_OK(facs_mobilenet_create(&net, &o, FACS_DEVICE_CPU, 2)))
        return;
    facs_ctx_set_mode(ctx, 0, 0);
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 1, 3, 224, 224, NULL);
    test_fill(facs_f32(x), facs_tensor_numel(x), -1, 1);
    facs_tensor *f = facs_mobilenet_features(ctx, &net, x), *y = facs_mobilenet_forward(ctx, &net, x);
    if (CHECK_PTR(f) && CHECK_PTR(y))
        CHECK(f->c == 1280 && f->h == 7 && f->w == 7 && y->c == 1000 && y->h == 1 && y->w == 1,
              "224x224: features (%d, %d, %d), logits (%d, %d, %d)", f->c, f->h, f->w, y->c, y->h, y->w);
    facs_tensor *gray = test_tensor(ctx, 1, 1, 32, 32, NULL);
    CHECK(facs_mobilenet_forward(ctx, &net, gray) == NULL && strstr(facs_last_error(), "3 channels"),
          "a 1-channel input must be refused: '%s'", facs_last_error());
    facs_mobilenet_free(&net);
}

static void check_refusals(void)
{
    facs_model_options o;
    facs_model *m;
    facs_model_options_for_arch("facs_mobilenet_v2", &o);
    o.cifar_stem = 1;
    CHECK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 1) == FACS_ERR_ARG && !m &&
              strstr(facs_last_error(), "CIFAR"),
          "cifar_stem must be refused: '%s'", facs_last_error());
    facs_model_options_for_arch("mobilenet_v2", &o);
    o.width = 0;
    CHECK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 1) == FACS_ERR_ARG && !m, "width 0 must be refused");
    facs_mobilenet_options no;
    facs_mobilenet net;
    facs_status s = facs_mobilenet_options_for_arch("mobilenet_v3", &no);
    CHECK(s == FACS_ERR_ARG && strstr(facs_last_error(), "mobilenet_v3") &&
              strstr(facs_last_error(), "facs_mobilenet_v2_full"),
          "unknown arch: status %d, message '%s'", (int)s, facs_last_error());
    facs_mobilenet_options_for_arch("mobilenet_v2", &no);
    no.dropout = 1.0f;
    CHECK(facs_mobilenet_create(&net, &no, FACS_DEVICE_CPU, 1) == FACS_ERR_ARG && net.params.count == 0 &&
              strstr(facs_last_error(), "dropout"),
          "dropout 1 must be refused: '%s'", facs_last_error());
    facs_mobilenet_options_for_arch("facs_mobilenet_v2", &no);
    no.fusion_bn = (facs_fusion_bn)3;
    CHECK(facs_mobilenet_create(&net, &no, FACS_DEVICE_CPU, 1) == FACS_ERR_ARG, "fusion BN 3 must be refused");
    facs_mobilenet_options_for_arch("mobilenet_v2", &no);
    no.classes = 0;
    CHECK(facs_mobilenet_create(&net, &no, FACS_DEVICE_CPU, 1) == FACS_ERR_ARG, "0 classes must be refused");
    int found = 0;
    for (const char *const *n = facs_model_arch_names(); *n; n++)
        found += strstr(*n, "mobilenet_v2") != NULL;
    CHECK(found == 4, "facs_model knows %d MobileNet-v2 architectures, want 4", found);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    stats = parity_stats_init("MOBILENET_VERBOSE");
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        run_case(ref, ctx, CASES[i]);
    parity_print(&stats);
    check_dropout(ref, ctx);
    check_counts(ref);
    char path[1024];
    snprintf(path, sizeof path, "%s.checkpoint.h5", argv[1]);
    check_checkpoint(path);
    check_shapes(ctx);
    check_refusals();
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
