/* The whole-network check of the CUDA backend: every architecture the
 * library builds (facs_model_arch_names: the ResNets and their FACS, SE and
 * DWP variants, VGG, MobileNet-v2, PSPNet) runs on CUDA against the CPU from
 * the same weights and the same batch:
 *   - eval mode: the logits;
 *   - train mode: the loss and the BN running statistics after one training
 *     forward and backward;
 *   - every parameter gradient of an eval-mode backward (GradCAM's mode)
 *     from a fixed projection of the logits, then the whole model state after
 *     one SGD step with momentum and weight decay;
 *   - folded inference (model.h facs_model_fold_bn, on the GPU's tensors)
 *     against the folded CPU model, both from the same weights.
 * Networks run at a quarter width on small images (64 px; 65 for PSPNet, an
 * odd size through every resize), batch 2.
 *
 * Tolerances, normwise over the whole state rather than per tensor: the two
 * devices sum in different orders (cuDNN's algorithms against oneDNN's), about
 * 1e-7 relative per op, and dozens of layers spread that. Training-mode
 * BatchNorm on these small maps normalises over as few as 8 values (2 images
 * of 2x2 in the last stage), which amplifies rounding: on an H200 the loss of
 * ResNet-152 differed by 1.2e-4 and training-mode gradients of the deep
 * networks by up to 6e-2 (printed, not checked), while eval-mode gradients,
 * whose BN is a fixed affine map, backpropagated from a fixed projection of
 * the logits (no softmax), agree to 1e-5 in most networks. In the deepest
 * (ResNet-152, PSPNet-101/152) rounding flips ReLU masks and max-pool
 * choices near ties, and each flip moves a gradient by a whole activation's
 * share: on the CPU alone, a twin whose weights are one rounding away has
 * eval-mode gradients 3.7e-2 (ResNet-152) and 1.6e-3 (PSPNet-101) away. So
 * training mode checks the forward quantities at 1e-3, and eval-mode
 * gradients are held to 1e-4 or ten times that twin distance, measured on
 * every run. A wrong index, a missing accumulation or a wrong statistic
 * moves a checked quantity by 1e-2 or more in every network, the shallow
 * ones included.
 *
 * Usage: test_cuda_networks [ARCH]   (FACS_TEST_SEED=n replays). Exits 77
 * (CTest's "skipped") when no CUDA device is present. CI also runs it on the
 * CPU emulation of CUDA for four architectures (tests/cuda_emu: every op but
 * the convolutions in our emulated kernels). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "optim.h"
#include "test_util.h"

#define EXIT_SKIP 77
#define LOGITS_TOL 1e-4 /* eval and folded logits */
#define TRAIN_TOL 1e-3  /* training-mode loss and running statistics */
#define STATE_TOL 1e-4  /* eval-mode gradients, parameters after a step */
#define TWIN_FACTOR 10  /* ... or this times the network's own rounding noise */

static double worst_logits, worst_train, worst_state;

/* sum (a - b)^2 and sum b^2 of two tensors, both read to the host. */
static void add_diff(const facs_tensor *a, const facs_tensor *b, double *diff2, double *norm2)
{
    size_t n = facs_tensor_numel(a);
    float *x = test_nchw(a), *y = test_nchw(b);
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)y[i];
        *diff2 += d * d;
        *norm2 += (double)y[i] * y[i];
    }
    free(x);
    free(y);
}

/* The normwise error of gpu's state against cpu's: values of the given kind,
 * or (grads) the trainable parameters' gradients. */
static double state_err(facs_model *gpu, facs_model *cpu, facs_param_kind kind, int grads)
{
    facs_param_list *g = facs_model_params(gpu), *c = facs_model_params(cpu);
    double diff2 = 0, norm2 = 0;
    for (int i = 0; i < c->count; i++) {
        facs_tensor *gv = g->items[i]->value, *cv = c->items[i]->value;
        if (c->items[i]->kind != kind)
            continue;
        if (grads && (!cv->grad || !gv->grad))
            continue;
        add_diff(grads ? gv->grad : gv, grads ? cv->grad : cv, &diff2, &norm2);
    }
    return norm2 > 0 ? sqrt(diff2 / norm2) : sqrt(diff2);
}

static int check_err(const char *arch, const char *what, double err, double tol, double *worst)
{
    if (err > *worst)
        *worst = err;
    printf("  %-28s %-34s %.2e\n", arch, what, err);
    return CHECK(err <= tol, "%s: %s differs by %.3e (tolerance %.0e)", arch, what, err, tol);
}

/* Moves every value of a CPU model by one float rounding (relative 1.2e-7,
 * alternating signs): a twin whose distance from the original measures how
 * much this network amplifies rounding. */
static void perturb(facs_model *m)
{
    facs_param_list *params = facs_model_params(m);
    for (int i = 0; i < params->count; i++) {
        facs_tensor *t = params->items[i]->value;
        float *v = facs_f32(t);
        for (size_t j = 0; j < facs_tensor_numel(t); j++)
            v[j] *= j % 2 ? 1.0f + 1.2e-7f : 1.0f - 1.2e-7f;
        facs_tensor_touch(t);
    }
}

/* Copies every parameter and buffer of src into dst (same architecture). */
static int copy_state(facs_model *dst, facs_model *src)
{
    facs_param_list *d = facs_model_params(dst), *s = facs_model_params(src);
    for (int i = 0; i < s->count; i++) {
        size_t n = facs_tensor_numel(s->items[i]->value);
        float *v = test_nchw(s->items[i]->value);
        int ok = CHECK_OK(facs_tensor_from_nchw(d->items[i]->value, v, n));
        free(v);
        if (!ok)
            return 0;
    }
    return 1;
}

typedef struct {
    float *x;      /* NCHW input */
    int32_t *labels;
    int n, side, classes, segmentation;
} batch;

/* One forward in the given mode; the logits copied to the host (NULL on failure). */
static float *forward(facs_ctx *ctx, facs_model *m, const batch *b, size_t *count)
{
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 0, 0);
    facs_tensor *x = test_tensor(ctx, b->n, 3, b->side, b->side, b->x);
    facs_tensor *y = x ? facs_model_forward(ctx, m, x) : NULL;
    if (!y)
        return NULL;
    *count = facs_tensor_numel(y);
    return test_nchw(y);
}

/* The same fixed weights r on both devices, for the projection loss sum r y. */
static float projection_weight(size_t i) { return (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f; }

/* Backward of the projection sum r y from the logits y: its gradient is r on
 * both devices exactly, so the parameter gradients compare the backward
 * passes themselves (cross-entropy's softmax would amplify the logits'
 * rounding where the deep networks' logits are large). */
static facs_status project_backward(facs_ctx *ctx, facs_tensor *y)
{
    size_t count = facs_tensor_numel(y);
    float *r = test_alloc(count);
    for (size_t i = 0; i < count; i++)
        r[i] = projection_weight(i);
    facs_tensor *g = facs_ctx_like(ctx, y);
    facs_status s = g ? facs_tensor_from_nchw(g, r, count) : FACS_ERR_MEMORY;
    free(r);
    return s == FACS_OK ? facs_backward(ctx, y, g) : s;
}

/* A forward in the given mode into fresh gradients, then backward: from the
 * cross-entropy loss when training (its value returned), from the projection
 * in eval mode (0 returned). NaN on failure. */
static float backward_step(facs_ctx *ctx, facs_model *m, const batch *b, int training)
{
    if (facs_param_list_zero_grad(facs_model_params(m)) != FACS_OK)
        return NAN;
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, training, 1);
    facs_tensor *x = test_tensor(ctx, b->n, 3, b->side, b->side, b->x);
    facs_tensor *y = x ? facs_model_forward(ctx, m, x) : NULL;
    if (!y)
        return NAN;
    if (!training)
        return project_backward(ctx, y) == FACS_OK ? 0.0f : NAN;
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_I32, b->n, 1, y->h, y->w);
    if (!t || facs_tensor_upload(t, b->labels, facs_tensor_bytes(t)) != FACS_OK)
        return NAN;
    facs_tensor *loss = facs_softmax_cross_entropy(ctx, y, t, 255);
    float value = NAN;
    if (!loss || facs_backward(ctx, loss, NULL) != FACS_OK || facs_tensor_download(loss, &value, sizeof value))
        return NAN;
    return value;
}

static facs_status sgd_step(facs_model *m)
{
    facs_sgd_options o = facs_sgd_defaults();
    o.lr = 0.05;
    o.momentum = 0.9;
    o.weight_decay = 1e-4;
    facs_sgd sgd;
    FACS_TRY(facs_sgd_init(&sgd, facs_model_params(m), &o));
    facs_status s = facs_sgd_step(&sgd);
    facs_sgd_free(&sgd);
    return s;
}

static void compare_logits(const char *arch, const char *what, facs_ctx *gctx, facs_model *gpu, facs_ctx *cctx,
                           facs_model *cpu, const batch *b)
{
    size_t gn = 0, cn = 0;
    float *g = forward(gctx, gpu, b, &gn), *c = forward(cctx, cpu, b, &cn);
    if (CHECK(g && c && gn == cn, "%s: %s forward failed: %s", arch, what, facs_last_error()))
        check_err(arch, what, test_rel_err_f(g, c, gn), LOGITS_TOL, &worst_logits);
    free(g);
    free(c);
}

static void check_arch(facs_ctx *gctx, facs_ctx *cctx, const char *arch)
{
    facs_model_options o;
    if (!CHECK_OK(facs_model_options_for_arch(arch, &o)))
        return;
    o.width = 0.25;
    o.classes = 5;
    facs_model *cpu = NULL, *gpu = NULL, *start = NULL, *twin = NULL;
    if (!CHECK_OK(facs_model_create(&cpu, &o, FACS_DEVICE_CPU, 5)) ||
        !CHECK_OK(facs_model_create(&gpu, &o, FACS_DEVICE_CPU, 5)) ||
        !CHECK_OK(facs_model_create(&start, &o, FACS_DEVICE_CPU, 5)) ||
        !CHECK_OK(facs_model_create(&twin, &o, FACS_DEVICE_CPU, 5)))
        goto done;
    test_randomize_bn(facs_model_params(cpu));
    if (!copy_state(gpu, cpu) || !copy_state(start, cpu) || !CHECK_OK(facs_model_to_device(gpu, FACS_DEVICE_CUDA)))
        goto done;
    batch b = {.n = 2, .side = facs_model_is_segmentation(cpu) ? 65 : 64, .classes = o.classes,
               .segmentation = facs_model_is_segmentation(cpu)};
    size_t pixels = b.segmentation ? (size_t)b.side * b.side : 1, xs = (size_t)b.n * 3 * b.side * b.side;
    b.x = test_alloc(xs);
    b.labels = malloc((size_t)b.n * pixels * sizeof *b.labels);
    test_fill(b.x, xs, -1, 1);
    for (size_t i = 0; i < (size_t)b.n * pixels; i++)
        b.labels[i] = i % 7 == 3 ? 255 : (int32_t)(test_uniform(0, b.classes) * 0.999);

    compare_logits(arch, "eval logits", gctx, gpu, cctx, cpu, &b);
    float gl = backward_step(gctx, gpu, &b, 1), cl = backward_step(cctx, cpu, &b, 1);
    if (CHECK(isfinite(gl) && isfinite(cl), "%s: training step failed: %s", arch, facs_last_error())) {
        check_err(arch, "train loss", fabs((double)gl - cl) / fabs((double)cl), TRAIN_TOL, &worst_train);
        check_err(arch, "BN running statistics", state_err(gpu, cpu, FACS_PARAM_BUFFER, 0), TRAIN_TOL,
                  &worst_train);
        printf("  %-28s %-34s %.2e (not checked)\n", arch, "train-mode gradients",
               state_err(gpu, cpu, FACS_PARAM_TRAINABLE, 1));
    }
    /* The bound: STATE_TOL, or TWIN_FACTOR times the CPU's own distance to a
     * twin one rounding away, whichever is larger. */
    copy_state(twin, cpu);
    perturb(twin);
    gl = backward_step(gctx, gpu, &b, 0), cl = backward_step(cctx, cpu, &b, 0);
    float tl = backward_step(cctx, twin, &b, 0);
    if (CHECK(isfinite(gl) && isfinite(cl) && isfinite(tl), "%s: eval-mode backward failed: %s", arch,
              facs_last_error())) {
        double noise = state_err(twin, cpu, FACS_PARAM_TRAINABLE, 1);
        double tol = fmax(STATE_TOL, TWIN_FACTOR * noise);
        printf("  %-28s %-34s %.2e\n", arch, "twin one rounding away (CPU)", noise);
        check_err(arch, "eval-mode gradients", state_err(gpu, cpu, FACS_PARAM_TRAINABLE, 1), tol, &worst_state);
        if (CHECK_OK(sgd_step(gpu)) && CHECK_OK(sgd_step(cpu)))
            check_err(arch, "parameters after an SGD step", state_err(gpu, cpu, FACS_PARAM_TRAINABLE, 0), tol,
                      &worst_state);
    }
    /* Folding starts again from the first state: the SGD step's rounding does
     * not count, and that step can blow the deep networks' logits up. */
    if (copy_state(gpu, start) && copy_state(cpu, start) && CHECK_OK(facs_model_fold_bn(gpu)) &&
        CHECK_OK(facs_model_fold_bn(cpu)))
        compare_logits(arch, "folded logits", gctx, gpu, cctx, cpu, &b);
    free(b.x);
    free(b.labels);
done:
    facs_model_free(cpu);
    facs_model_free(gpu);
    facs_model_free(start);
    facs_model_free(twin);
}

int main(int argc, char **argv)
{
    if (!facs_cuda_available()) {
        printf("test_cuda_networks: no CUDA device, skipped\n");
        return EXIT_SKIP;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a run stopped by a timeout keeps what it printed */
    test_seed_from_env();
    facs_ctx *gctx = facs_ctx_create(FACS_DEVICE_CUDA), *cctx = facs_ctx_create(FACS_DEVICE_CPU);
    if (!CHECK(gctx && cctx, "contexts: %s", facs_last_error()))
        return test_finish();
    for (const char *const *arch = facs_model_arch_names(); *arch; arch++)
        if (argc < 2 || !strcmp(argv[1], *arch))
            check_arch(gctx, cctx, *arch);
    printf("worst: logits %.2e, training forward %.2e, gradients and state %.2e\n", worst_logits, worst_train,
           worst_state);
    facs_ctx_free(gctx);
    facs_ctx_free(cctx);
    return test_finish();
}
