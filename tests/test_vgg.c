/* VGG-16-1x1 / FACS-VGG-16 through the facs_model API against the PyTorch
 * twin (tests/ref/ref_vgg.py, vgg_torch.py) at width 0.25 on a (2, 3, 32, 32)
 * batch: vgg16_1x1_r2, and facs_vgg16_r4 with vgg16_1x1_r4's weights
 * (threshold and weighted fusion; post-BN once, in eval mode), each in eval
 * and train mode: logits, input gradient, every parameter gradient (none or
 * zero where PyTorch has none: the unused squeeze BNs of a FACS net) and, in
 * train mode, the updated BN running statistics. Then the builder: the
 * twin's parameter counts at width 1, the checkpoint compatibility of
 * vgg16_1x1 and facs_vgg16, parameter names, refused options and inputs.
 *
 * Tolerance: 1e-4 normwise relative per tensor in eval mode, never widened
 * (worst measured 2.5e-5). Train mode follows test_resnet.c, whose header
 * explains the reference's precautions (BN biases nudged off the ReLU kinks;
 * batch statistics of a 2-image batch amplify rounding, so each tensor
 * carries PyTorch's own NCHW vs channels_last difference as attribute
 * 'spread' and gets max(3e-4, 8 spread)); block 5 normalises 8 values per
 * channel, as ResNet's layer4 does (worst measured 9.5e-5). A wrong squeeze
 * position, chunk size, pool, a missing ReLU or gradient term moves tensors
 * by 1e-2 or more. VGG_VERBOSE=1 prints every comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_parity.h"
#include "test_util.h"

typedef struct {
    const char *name, *model, *arch;
} ref_case;

static const ref_case CASES[] = {
    {"v2_eval", "v2", "vgg16_1x1_r2"},          {"v2_train", "v2", "vgg16_1x1_r2"},
    {"facs4_thr_eval", "v4", "facs_vgg16_r4"},  {"facs4_thr_train", "v4", "facs_vgg16_r4"},
    {"facs4_wtd_eval", "v4", "facs_vgg16_r4"},  {"facs4_wtd_train", "v4", "facs_vgg16_r4"},
    {"facs4_postbn_eval", "v4", "facs_vgg16_r4"},
};

static parity_stats stats;

static facs_model *create(const char *arch, double width, int classes)
{
    facs_model_options o;
    facs_model *m = NULL;
    if (CHECK_OK(facs_model_options_for_arch(arch, &o))) {
        o.width = width, o.classes = classes;
        CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 7));
    }
    return m;
}

static facs_tensor *forward(facs_ctx *ctx, void *model, facs_tensor *x) { return facs_model_forward(ctx, model, x); }

static void run_case(h5_file *ref, facs_ctx *ctx, const ref_case *c)
{
    char group[64];
    snprintf(group, sizeof group, "/%s", c->name);
    facs_model_options o;
    facs_model *m = NULL;
    if (!CHECK_OK(facs_model_options_for_arch(c->arch, &o)))
        return;
    o.classes = 10, o.width = 0.25;
    o.fusion_bn = h5_attr_int(ref, group, "post_bn", 0) ? FACS_FUSION_BN_POST : FACS_FUSION_BN_NONE;
    o.fusion.fusion = (facs_fusion)h5_attr_int(ref, group, "fusion", 0);
    o.fusion.threshold = (float)h5_attr_double(ref, group, "threshold", 0.5);
    if (CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 7)) &&
        parity_load_weights(ref, c->model, c->name, facs_model_params(m)))
        parity_run_case(&stats, ref, ctx, c->name, c->model, NULL, facs_model_params(m), forward, m);
    facs_model_free(m);
}

/* A vgg16_1x1 checkpoint loads strictly into the FACS net: same names,
 * shapes and kinds in the same order. */
static void check_checkpoint_compatible(const char *plain_arch, const char *facs_arch)
{
    facs_model *plain = create(plain_arch, 0.25, 10), *facs = create(facs_arch, 0.25, 10);
    if (plain && facs) {
        facs_param_list *a = facs_model_params(plain), *b = facs_model_params(facs);
        int same = a->count == b->count;
        for (int i = 0; same && i < a->count; i++) {
            const facs_tensor *u = a->items[i]->value, *v = b->items[i]->value;
            same = strcmp(a->items[i]->name, b->items[i]->name) == 0 && a->items[i]->kind == b->items[i]->kind &&
                   u->n == v->n && u->c == v->c && u->h == v->h && u->w == v->w;
        }
        CHECK(same, "%s and %s must have the same parameter names and shapes", plain_arch, facs_arch);
        CHECK(!facs_model_is_facs(plain) && facs_model_is_facs(facs), "is_facs of %s / %s", plain_arch, facs_arch);
    }
    facs_model_free(plain), facs_model_free(facs);
}

/* torchvision-style names: features.<i> in nn.Sequential order, classifier. */
static void check_names(void)
{
    facs_model *m = create("vgg16_1x1_r2", 1.0, 1000);
    if (!m)
        return;
    facs_param_list *p = facs_model_params(m);
    const facs_param *first = facs_param_list_find(p, "features.0.weight"),
                     *squeeze = facs_param_list_find(p, "features.3.weight"),
                     *expand = facs_param_list_find(p, "features.6.weight"),
                     *last = facs_param_list_find(p, "features.65.running_var"),
                     *fc = facs_param_list_find(p, "classifier.weight");
    CHECK(first && first->value->n == 64 && first->value->c == 3 && first->value->h == 3, "features.0: first conv");
    CHECK(squeeze && squeeze->value->n == 32 && squeeze->value->c == 64 && squeeze->value->h == 1,
          "features.3: the first squeeze, 64 -> 32 1x1");
    CHECK(expand && expand->value->n == 64 && expand->value->c == 32 && expand->value->h == 3,
          "features.6: 3x3 conv 32 -> 64");
    CHECK(last && last->kind == FACS_PARAM_BUFFER && last->value->n == 512, "features.65: the last BN");
    CHECK(fc && fc->torch_rank == 2 && fc->value->n == 1000 && fc->value->c == 512, "classifier: Linear(512, 1000)");
    CHECK(!facs_param_list_find(p, "features.0.bias"), "convs carry no bias (a BN follows each)");
    CHECK(strcmp(facs_model_head_prefix(m), "classifier.") == 0, "head prefix '%s'", facs_model_head_prefix(m));
    facs_model_free(m);
}

static void expect_refused(const char *arch, double width, int cifar_stem, facs_fusion_bn fusion_bn,
                           const char *message)
{
    facs_model_options o;
    facs_model *m = NULL;
    facs_model_options_for_arch(arch, &o);
    o.width = width, o.cifar_stem = cifar_stem, o.fusion_bn = fusion_bn;
    facs_status s = facs_model_create(&m, &o, FACS_DEVICE_CPU, 1);
    CHECK(s == FACS_ERR_ARG && !m && strstr(facs_last_error(), message),
          "%s width %g cifar_stem %d fusion_bn %d: status %d, message '%s' (want '%s')", arch, width, cifar_stem,
          (int)fusion_bn, (int)s, facs_last_error(), message);
}

static void expect_bad_input(facs_ctx *ctx, facs_model *m, int c, int size)
{
    facs_ctx_set_mode(ctx, 0, 0);
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 1, c, size, size, NULL);
    test_fill(facs_f32(x), facs_tensor_numel(x), -1, 1);
    CHECK(facs_model_forward(ctx, m, x) == NULL && strstr(facs_last_error(), "expected (N, 3, H, W)"),
          "input (1, %d, %d, %d) must be refused: '%s'", c, size, size, facs_last_error());
}

static void check_builder(h5_file *ref, facs_ctx *ctx)
{
    static const char *const ARCHS[] = {"vgg16_1x1_r2", "vgg16_1x1_r4", "facs_vgg16_r2", "facs_vgg16_r4"};
    for (int i = 0; i < 4; i++) {
        char attr[64];
        snprintf(attr, sizeof attr, "%s_params", ARCHS[i]);
        long want = h5_attr_int(ref, "/", attr, -1);
        facs_model *m = create(ARCHS[i], 1.0, 1000);
        size_t got = m ? facs_param_list_numel(facs_model_params(m), FACS_PARAM_TRAINABLE) : 0;
        CHECK((long)got == want, "%s: %zu parameters, the twin has %ld", ARCHS[i], got, want);
        facs_model_free(m);
        int listed = 0;
        for (const char *const *n = facs_model_arch_names(); *n; n++)
            listed |= strcmp(*n, ARCHS[i]) == 0;
        CHECK(listed, "%s missing from facs_model_arch_names", ARCHS[i]);
    }
    check_checkpoint_compatible("vgg16_1x1_r2", "facs_vgg16_r2");
    check_checkpoint_compatible("vgg16_1x1_r4", "facs_vgg16_r4");
    check_names();
    expect_refused("vgg16_1x1_r2", 1.0, 1, FACS_FUSION_BN_NONE, "no stem");
    expect_refused("facs_vgg16_r2", 1.0, 0, FACS_FUSION_BN_PRE, "MobileNet-v2");
    /* width 0.1: 6 channels in block 1, which R = 4 cannot split; the plain net squeezes them to 1. */
    expect_refused("facs_vgg16_r4", 0.1, 0, FACS_FUSION_BN_NONE, "equal chunks");
    facs_model *narrow = create("vgg16_1x1_r4", 0.1, 10);
    facs_model_free(narrow);
    /* width 0.03: 2 channels in block 1, none left after R = 4. */
    expect_refused("vgg16_1x1_r4", 0.03, 0, FACS_FUSION_BN_NONE, "leaves none");
    facs_model *m = create("facs_vgg16_r2", 0.25, 10);
    if (m) {
        expect_bad_input(ctx, m, 3, 16);
        expect_bad_input(ctx, m, 1, 32);
    }
    facs_model_free(m);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    stats = parity_stats_init("VGG_VERBOSE");
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        run_case(ref, ctx, &CASES[i]);
    parity_print(&stats);
    check_builder(ref, ctx);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
