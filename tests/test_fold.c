/* Inference with BatchNorm folded into the convolutions (model.h
 * facs_model_fold_bn, layers.h facs_conv_bn, ops.h facs_conv2d_fused):
 *   - facs_conv2d_fused equals conv2d + add + relu or relu6 (every
 *     combination; the outputs cross 6) to float rounding, refuses an
 *     unknown activation and to run where a gradient would be recorded;
 *     facs_conv2d refuses post-ops;
 *   - folded inference gives the unfolded eval logits to 1e-5 relative (the
 *     issue's bound: folding rounds each weight once more, ~1e-7 relative, and
 *     that spreads through the depth) on every ResNet shape that folds:
 *     7x7, CIFAR and deep-base stems, FACS (its squeeze keeps its BN, post-BN
 *     too), depth-wise pooling, squeeze-excitation, dilation (output stride 8),
 *     PSPNet (backbone, pyramid and heads), VGG-16 (1x1 squeezes plain and
 *     FACS) and MobileNet-v2 (ReLU6 and the residual add fused; depthwise
 *     3x3 convolutions, full ones in FACS-MobileNet-v2-full; FACS with its
 *     BN placed none, pre and post; plain MobileNet-v2-full is left out: its
 *     dense 3x3 convolutions of 6x expanded channels amplify the rounding
 *     of folding to 1e-5 on some seeds); BN statistics and affine terms are
 *     random, so a fold that dropped the mean, the bias or the variance's
 *     epsilon would be off by far more than the bound;
 *   - with a tape and parameters that take gradients, the folded model runs
 *     the folded convolutions as recorded ops and gives the same logits. Its input
 *     gradient is not compared: with random BN it moved by 2e-3 to 2e-2 on
 *     some seeds while the logits stayed within 1e-5 (ReLU and max-pool
 *     decisions near ties, which folding's rounding can flip, each move the
 *     gradient by a whole activation's share);
 *   - GradCAM's forward (tape on, parameters frozen) runs the folded
 *     convolutions below the tap fused and records the ones above it; map and
 *     logits as unfolded; unfrozen, every convolution is recorded;
 *   - facs_conv2d_fused_over (the result written over the residual) gives
 *     facs_conv2d_fused's bits, refuses no residual and its own input; a
 *     tapped map that the next block would write over survives;
 *   - training never uses folded weights: a folded model refuses training
 *     mode, and facs_model_save refuses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_file.h"
#include "test_util.h"

/* The logits (copied out) of one forward; NULL when it fails. */
static float *run(facs_ctx *ctx, facs_model *m, const float *x_nchw, int n, int side, int training, int record,
                  size_t *count)
{
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, training, record);
    facs_tensor *x = test_tensor(ctx, n, 3, side, side, x_nchw);
    facs_tensor *y = facs_model_forward(ctx, m, x);
    if (!y)
        return NULL;
    *count = facs_tensor_numel(y);
    return test_nchw(y);
}

static void check_arch(facs_ctx *ctx, const char *arch, int cifar_stem, int deep_stem, int output_stride, int side,
                       facs_fusion_bn fusion_bn)
{
    facs_model_options o;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return;
    o.width = 0.25;
    o.classes = 10;
    o.cifar_stem = cifar_stem;
    o.deep_stem = deep_stem;
    if (output_stride)
        o.output_stride = output_stride;
    o.fusion_bn = fusion_bn;
    facs_model *m;
    if (!CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, 5)))
        return;
    test_randomize_bn(facs_model_params(m));
    int n = 2;
    size_t xs = (size_t)n * 3 * side * side, count = 0, count2 = 0;
    float *x = test_alloc(xs);
    test_fill(x, xs, -1, 1);
    char what[160];
    snprintf(what, sizeof what, "%s (cifar stem %d, deep stem %d, OS %d, fusion BN %d) folded", arch, cifar_stem,
             deep_stem, output_stride, (int)fusion_bn);
    float *plain = run(ctx, m, x, n, side, 0, 0, &count);
    float *plain_taped = run(ctx, m, x, n, side, 0, 1, &count2);
    float *folded = NULL, *taped = NULL;
    if (CHECK(plain && plain_taped, "%s: unfolded forward failed: %s", what, facs_last_error()) &&
        CHECK_OK(facs_model_fold_bn(m))) {
        folded = run(ctx, m, x, n, side, 0, 0, &count2);
        if (CHECK(folded && count2 == count, "%s: forward failed: %s", what, facs_last_error()))
            test_close_f(what, folded, plain, count, 1e-5);
        taped = run(ctx, m, x, n, side, 0, 1, &count2);
        char taped_what[200];
        snprintf(taped_what, sizeof taped_what, "%s, with a tape", what);
        if (CHECK(taped != NULL, "%s: %s", taped_what, facs_last_error()))
            test_close_f(taped_what, taped, plain, count, 1e-5);
        float *trained = run(ctx, m, x, n, side, 1, 1, &count2);
        CHECK(!trained && strstr(facs_last_error(), "folded"), "%s: training mode ran (or said \"%s\")", what,
              facs_last_error());
        free(trained);
        CHECK(facs_model_save("/nonexistent/never.h5", m, NULL, NULL, NULL, 0) != FACS_OK &&
                  strstr(facs_last_error(), "folded"),
              "%s: facs_model_save did not refuse: %s", what, facs_last_error());
        CHECK(facs_weights_save("/nonexistent/never.h5", facs_model_params(m), NULL) != FACS_OK &&
                  strstr(facs_last_error(), "folded in"),
              "%s: facs_weights_save of the folded list did not refuse: %s", what, facs_last_error());
    }
    free(plain);
    free(plain_taped);
    free(folded);
    free(taped);
    free(x);
    facs_model_free(m);
}

/* act(conv(x) + b + residual) six ways against the separate ops. */
static void fused_op(facs_ctx *ctx)
{
    static const facs_post_act acts[] = {FACS_POST_NONE, FACS_POST_RELU, FACS_POST_RELU6};
    const int n = 2, ci = 8, co = 12, side = 9;
    float *xv = test_alloc((size_t)n * ci * side * side), *wv = test_alloc((size_t)co * ci * 9),
          *bv = test_alloc(co), *rv = test_alloc((size_t)n * co * side * side);
    /* Outputs of standard deviation about 5: ReLU6 clips about a tenth of them at 6. */
    test_fill(xv, (size_t)n * ci * side * side, -3, 3);
    test_fill(wv, (size_t)co * ci * 9, -0.6, 0.6);
    test_fill(bv, co, -0.5, 0.5);
    test_fill(rv, (size_t)n * co * side * side, -1, 1);
    facs_conv2d_params p = facs_conv2d_defaults();
    p.pad_h = p.pad_w = 1;
    for (int k = 0; k < 6; k++) {
        int with_residual = k & 1;
        facs_post_act act = acts[k >> 1];
        facs_ctx_begin_step(ctx);
        facs_ctx_set_mode(ctx, 0, 0);
        facs_tensor *x = test_tensor(ctx, n, ci, side, side, xv), *w = test_tensor(ctx, co, ci, 3, 3, wv),
                    *b = test_tensor(ctx, co, 1, 1, 1, bv), *r = test_tensor(ctx, n, co, side, side, rv);
        facs_tensor *want = facs_conv2d(ctx, x, w, b, &p);
        if (with_residual)
            want = facs_add(ctx, want, r);
        if (act == FACS_POST_RELU)
            want = facs_relu(ctx, want);
        if (act == FACS_POST_RELU6)
            want = facs_relu6(ctx, want);
        facs_tensor *got = facs_conv2d_fused(ctx, x, w, b, &p, with_residual ? r : NULL, act);
        char what[96];
        snprintf(what, sizeof what, "conv2d_fused (residual %d, activation %d)", with_residual, (int)act);
        if (CHECK(want && got, "%s: %s", what, facs_last_error())) {
            float *g = test_nchw(got), *e = test_nchw(want);
            size_t count = facs_tensor_numel(got), clipped = 0;
            for (size_t i = 0; i < count; i++)
                clipped += e[i] == 6.0f;
            CHECK(act != FACS_POST_RELU6 || clipped > count / 20, "%s: only %zu of %zu outputs reach 6", what, clipped,
                  count);
            test_close_f(what, g, e, count, 1e-6);
            free(e);
            /* Over the residual: the same primitive, so the same bits, in r itself. */
            facs_tensor *over = with_residual ? facs_conv2d_fused_over(ctx, x, w, b, &p, r, act) : NULL;
            if (with_residual && CHECK(over == r, "%s over the residual: %s", what, facs_last_error())) {
                float *o = test_nchw(over);
                CHECK(!memcmp(o, g, count * sizeof *o), "%s over the residual differs from the new tensor's", what);
                free(o);
            }
            free(g);
        }
    }
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 0, 0);
    facs_tensor *x = test_tensor(ctx, n, ci, side, side, xv), *w = test_tensor(ctx, co, ci, 3, 3, wv);
    CHECK(!facs_conv2d_fused(ctx, x, w, NULL, &p, NULL, FACS_POST_RELU6 + 1) &&
              strstr(facs_last_error(), "unknown activation"),
          "conv2d_fused accepted an unknown activation: %s", facs_last_error());
    CHECK(!facs_conv2d_fused_over(ctx, x, w, NULL, &p, NULL, FACS_POST_RELU) && strstr(facs_last_error(), "no residual"),
          "conv2d_fused_over without a residual: %s", facs_last_error());
    facs_tensor *square = test_tensor(ctx, n, co, side, side, NULL), *w1 = test_tensor(ctx, co, co, 3, 3, NULL);
    CHECK(!facs_conv2d_fused_over(ctx, square, w1, NULL, &p, square, FACS_POST_RELU) &&
              strstr(facs_last_error(), "input x"),
          "conv2d_fused_over over its own input: %s", facs_last_error());
    facs_ctx_set_mode(ctx, 0, 1);
    x->requires_grad = 1;
    CHECK(!facs_conv2d_fused(ctx, x, w, NULL, &p, NULL, FACS_POST_RELU) && strstr(facs_last_error(), "inference only"),
          "conv2d_fused ran where a gradient is recorded: %s", facs_last_error());
    p.post_act = FACS_POST_RELU6;
    CHECK(!facs_conv2d(ctx, x, w, NULL, &p) && strstr(facs_last_error(), "post-ops"),
          "conv2d accepted post-ops: %s", facs_last_error());
    free(xv);
    free(wv);
    free(bv);
    free(rv);
}

/* arch at a quarter of its width with 10 classes and random BatchNorm
 * statistics and affine terms, or NULL (a failed check). */
static facs_model *small_model(const char *arch, int seed)
{
    facs_model_options o;
    facs_model *m;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return NULL;
    o.width = 0.25;
    o.classes = 10;
    if (!CHECK_OK(facs_model_create(&m, &o, FACS_DEVICE_CPU, seed)))
        return NULL;
    test_randomize_bn(facs_model_params(m));
    return m;
}

/* A tapped block output that the next block would write over (its identity
 * shortcut) must survive a folded forward without a tape: the same map as
 * unfolded, to the folding bound. resnet26's layer1.1 has an identity
 * shortcut and takes layer1.0's output; MobileNet-v2's features.3 adds its
 * input, features.2's output. */
static void tap_survives_fold(facs_ctx *ctx, const char *arch, const char *layer)
{
    facs_model *m = small_model(arch, 7);
    if (!m)
        return;
    const int n = 2, side = 64;
    const size_t xs = (size_t)n * 3 * side * side;
    float *x = test_alloc(xs), *maps[2] = {NULL, NULL};
    test_fill(x, xs, -1, 1);
    size_t count = 0;
    for (int folded = 0; folded < 2; folded++) {
        if ((folded && !CHECK_OK(facs_model_fold_bn(m))) || !CHECK_OK(facs_model_set_tap(m, layer)))
            break;
        size_t logits;
        float *y = run(ctx, m, x, n, side, 0, 0, &logits);
        const facs_tensor *tap = facs_model_tap(m);
        if (!CHECK(y && tap, "%s %s: forward or tap missing: %s", arch, layer, facs_last_error()))
            break;
        free(y);
        maps[folded] = test_nchw(tap);
        count = facs_tensor_numel(tap);
    }
    char what[96];
    snprintf(what, sizeof what, "%s %s tapped without a tape, folded", arch, layer);
    if (maps[0] && maps[1])
        test_close_f(what, maps[1], maps[0], count, 1e-5);
    free(maps[0]), free(maps[1]), free(x);
    facs_model_free(m);
}

/* Counts the convolutions of a forward, fused and recorded. */
typedef struct {
    int fused, plain;
} conv_calls;

static void count_convs(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                        const facs_tensor *out, const facs_tensor *weight)
{
    (void)inputs, (void)n_inputs, (void)out, (void)weight;
    conv_calls *c = user;
    c->fused += strcmp(op, "conv2d_fused") == 0;
    c->plain += strcmp(op, "conv2d") == 0;
}

static void freeze(facs_model *m, int frozen)
{
    facs_param_list *params = facs_model_params(m);
    for (int i = 0; i < params->count; i++)
        if (params->items[i]->kind == FACS_PARAM_TRAINABLE)
            facs_param_set_frozen(params->items[i], frozen);
}

/* GradCAM's forward (eval mode, tape on, parameters frozen: eval/cam.h) on a
 * folded model: below the tap no gradient flows, so the folded convolutions
 * there run fused while the tape records the layers above the tap. The
 * tapped map and the logits are the unfolded model's to the folding bound,
 * and the map receives a gradient. With the parameters not frozen, every
 * folded convolution is recorded unfused. */
static void frozen_tape_fuses(facs_ctx *ctx, const char *arch, const char *layer)
{
    facs_model *m = small_model(arch, 11);
    if (!m)
        return;
    const int n = 2, side = 64;
    const size_t xs = (size_t)n * 3 * side * side;
    float *x = test_alloc(xs), *logits[2] = {NULL, NULL}, *maps[2] = {NULL, NULL};
    test_fill(x, xs, -1, 1);
    size_t count = 0, map_count = 0;
    conv_calls calls = {0, 0};
    freeze(m, 1);
    for (int folded = 0; folded < 2; folded++) {
        if ((folded && !CHECK_OK(facs_model_fold_bn(m))) || !CHECK_OK(facs_model_set_tap(m, layer)))
            break;
        calls = (conv_calls){0, 0};
        ctx->profile = count_convs;
        ctx->profile_user = &calls;
        facs_ctx_begin_step(ctx);
        facs_ctx_set_mode(ctx, 0, 1);
        facs_tensor *y = facs_model_forward(ctx, m, test_tensor(ctx, n, 3, side, side, x));
        ctx->profile = NULL;
        facs_tensor *tap = facs_model_tap(m);
        if (!CHECK(y && tap, "%s %s: forward or tap missing: %s", arch, layer, facs_last_error()))
            break;
        logits[folded] = test_nchw(y);
        count = facs_tensor_numel(y);
        maps[folded] = test_nchw(tap);
        map_count = facs_tensor_numel(tap);
        if (folded && CHECK_OK(facs_backward(ctx, y, NULL)))
            CHECK(tap->grad != NULL, "%s %s: the tapped map received no gradient", arch, layer);
    }
    char what[128];
    if (logits[1]) {
        snprintf(what, sizeof what, "%s %s, frozen, with a tape: fused convolutions below the tap", arch, layer);
        CHECK(calls.fused > 0 && calls.plain > 0, "%s (%d fused, %d recorded)", what, calls.fused, calls.plain);
        snprintf(what, sizeof what, "%s %s, frozen, with a tape: folded map", arch, layer);
        test_close_f(what, maps[1], maps[0], map_count, 1e-5);
        snprintf(what, sizeof what, "%s %s, frozen, with a tape: folded logits", arch, layer);
        test_close_f(what, logits[1], logits[0], count, 1e-5);
        freeze(m, 0);
        calls = (conv_calls){0, 0};
        ctx->profile = count_convs;
        float *again = run(ctx, m, x, n, side, 0, 1, &count);
        ctx->profile = NULL;
        CHECK(again && calls.fused == 0 && calls.plain > 0,
              "%s %s, not frozen, with a tape: every convolution recorded (%d fused, %d recorded)", arch, layer,
              calls.fused, calls.plain);
        free(again);
    }
    free(logits[0]), free(logits[1]), free(maps[0]), free(maps[1]), free(x);
    facs_model_free(m);
}

int main(void)
{
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    fused_op(ctx);
    tap_survives_fold(ctx, "resnet26", "layer1.0");
    tap_survives_fold(ctx, "mobilenet_v2", "features.2");
    frozen_tape_fuses(ctx, "resnet26", "layer3.0");
    const facs_fusion_bn none = FACS_FUSION_BN_NONE, pre = FACS_FUSION_BN_PRE, post = FACS_FUSION_BN_POST;
    check_arch(ctx, "resnet26", 0, 0, 0, 64, none);
    check_arch(ctx, "resnet26", 1, 0, 0, 32, none);
    check_arch(ctx, "resnet50", 0, 2, 8, 64, none);
    check_arch(ctx, "facs_resnet26", 0, 1, 0, 64, none);
    check_arch(ctx, "facs_resnet26", 1, 0, 0, 32, post);
    check_arch(ctx, "se_resnet50", 0, 0, 0, 64, none);
    check_arch(ctx, "dwp_resnet50", 0, 0, 0, 64, none);
    check_arch(ctx, "pspnet_resnet26", 0, 2, 8, 65, none);
    check_arch(ctx, "pspnet_facs_resnet26", 0, 0, 16, 64, none);
    check_arch(ctx, "vgg16_1x1_r2", 0, 0, 0, 32, none);
    check_arch(ctx, "facs_vgg16_r2", 0, 0, 0, 32, post);
    check_arch(ctx, "mobilenet_v2", 0, 0, 0, 64, none);
    check_arch(ctx, "facs_mobilenet_v2", 0, 0, 0, 32, none);
    check_arch(ctx, "facs_mobilenet_v2", 0, 0, 0, 32, pre);
    check_arch(ctx, "facs_mobilenet_v2_full", 0, 0, 0, 32, post);
    facs_ctx_free(ctx);
    return test_finish();
}
