/* NaN and +/-Inf through every CPU op, forward and backward, against
 * PyTorch 1.13 (tests/ref/ref_nan_propagation.py): NaN exactly where PyTorch
 * has NaN, the same infinity where it has one, finite values elsewhere within
 * TOL. Covers relu, relu6, sigmoid, add, concat, max/avg/adaptive/global
 * pooling, channel_pool, the FACS op (NaN and Inf in x, NaN in the squeeze
 * weight), batchnorm (train and eval, with its running statistics), conv2d,
 * linear, softmax cross-entropy, bilinear resize and scale_channels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* Normwise relative error of the finite values. */
#define TOL 1e-5

/* The reference script's op numbers. */
enum {
    OP_RELU, OP_RELU6, OP_SIGMOID, OP_ADD, OP_MAXPOOL, OP_AVGPOOL, OP_ADAPTIVE_AVGPOOL, OP_CHANNEL_POOL, OP_FACS,
    OP_BATCHNORM, OP_CONV2D, OP_LINEAR, OP_SOFTMAX_CE, OP_CONCAT, OP_RESIZE_BILINEAR, OP_SCALE_CHANNELS, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "relu",   "relu6",  "sigmoid", "add",        "maxpool", "avgpool",         "adaptive_avgpool", "channel_pool",
    "facs",   "batchnorm", "conv2d", "linear", "softmax_ce", "concat", "resize_bilinear", "scale_channels"};

/* 0 finite, 1 NaN, 2 +Inf, 3 -Inf. */
static int kind(float v) { return isnan(v) ? 1 : isinf(v) ? (v > 0 ? 2 : 3) : 0; }

/* got against want: the same kind (NaN, +Inf, -Inf, finite) at every
 * position, then test_close_f on the finite values (the others zeroed). */
static void nan_close(const char *group, const char *op, const char *what, const float *got, const float *want,
                      size_t n)
{
    float *g = test_alloc(n), *w = test_alloc(n);
    size_t wrong = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        int kg = kind(got[i]), kw = kind(want[i]);
        if (kg != kw && wrong++ == 0)
            first = i;
        g[i] = kg == 0 && kw == 0 ? got[i] : 0.0f;
        w[i] = kg == 0 && kw == 0 ? want[i] : 0.0f;
    }
    char label[200];
    snprintf(label, sizeof label, "%s %s %s vs torch", group, op, what);
    CHECK(wrong == 0, "%s: %zu of %zu values differ in kind (NaN/Inf/finite), first at %zu: %g, torch %g", label,
          wrong, n, first, wrong ? got[first] : 0.0, wrong ? want[first] : 0.0);
    test_close_f(label, g, w, n, TOL);
    free(g), free(w);
}

/* A reference dataset group/name as an arena tensor (activation) or a heap
 * parameter (param); NULL when it does not exist. */
static facs_tensor *load(facs_ctx *ctx, h5_file *ref, const char *group, const char *name, int param)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", group, name);
    if (!h5_exists(ref, path))
        return NULL;
    int rank;
    size_t d[8];
    float *v = h5_read_f32(ref, path, &rank, d);
    facs_tensor *t = NULL;
    if (CHECK(v && rank == 4, "%s must be a 4-D dataset", path)) {
        t = param ? test_param((int)d[0], (int)d[1], (int)d[2], (int)d[3], v)
                  : test_tensor(ctx, (int)d[0], (int)d[1], (int)d[2], (int)d[3], v);
        CHECK(t != NULL, "%s: %s", path, facs_last_error());
    }
    free(v);
    return t;
}

/* A persistent buffer (running statistics): a parameter without gradient. */
static facs_tensor *load_buffer(h5_file *ref, const char *group, const char *name)
{
    facs_tensor *t = load(NULL, ref, group, name, 1);
    if (t)
        t->is_param = t->requires_grad = 0;
    return t;
}

static long attr(h5_file *ref, const char *group, const char *name) { return h5_attr_int(ref, group, name, 0); }

/* Compares tensor t (or its gradient) with the reference group/name. */
static void compare(h5_file *ref, const char *group, const char *op, const char *name, const facs_tensor *t,
                    int grad)
{
    size_t count;
    float *want = test_ref_in(ref, group, name, &count);
    if (CHECK(t != NULL && (!grad || t->grad), "%s %s: no %s", group, op, name) &&
        CHECK(facs_tensor_numel(t) == count, "%s %s %s: %zu values, torch %zu", group, op, name,
              facs_tensor_numel(t), count)) {
        float *got = grad ? test_grad_nchw(t) : test_nchw(t);
        nan_close(group, op, name, got, want, count);
        free(got);
    }
    free(want);
}

static facs_tensor *run_softmax_ce(facs_ctx *ctx, h5_file *ref, const char *group, facs_tensor *x)
{
    char path[160];
    snprintf(path, sizeof path, "%s/labels", group);
    int rank;
    size_t d[8];
    int *labels = h5_read_i32(ref, path, &rank, d);
    facs_tensor *t = NULL;
    if (CHECK(labels && rank == 4, "%s must be a 4-D dataset", path)) {
        t = facs_ctx_tensor(ctx, FACS_I32, (int)d[0], 1, (int)d[2], (int)d[3]);
        if (t && facs_tensor_upload(t, labels, facs_tensor_bytes(t)) != FACS_OK)
            t = NULL;
    }
    free(labels);
    return facs_softmax_cross_entropy(ctx, x, t, (int)attr(ref, group, "ignore_index"));
}

static facs_pool2d_params pool_params(h5_file *ref, const char *g)
{
    return (facs_pool2d_params){(int)attr(ref, g, "kh"), (int)attr(ref, g, "kw"), (int)attr(ref, g, "sh"),
                                (int)attr(ref, g, "sw"), (int)attr(ref, g, "ph"), (int)attr(ref, g, "pw"),
                                (int)attr(ref, g, "ceil"), (int)attr(ref, g, "cip")};
}

/* Parameters and buffers a case created, freed after it. */
typedef struct {
    facs_tensor *w, *b, *gamma, *beta, *rm, *rv;
} case_params;

static facs_tensor *run_op(facs_ctx *ctx, h5_file *ref, const char *g, int op, facs_tensor *x, facs_tensor *x2,
                           case_params *p, int oh, int ow)
{
    const facs_pool2d_params pool = pool_params(ref, g);
    switch (op) {
    case OP_RELU:
        return facs_relu(ctx, x);
    case OP_RELU6:
        return facs_relu6(ctx, x);
    case OP_SIGMOID:
        return facs_sigmoid(ctx, x);
    case OP_ADD:
        return facs_add(ctx, x, x2);
    case OP_CONCAT:
        return facs_concat(ctx, 2, (facs_tensor *const[]){x, x2});
    case OP_SCALE_CHANNELS:
        return facs_scale_channels(ctx, x, x2);
    case OP_MAXPOOL:
        return facs_maxpool2d(ctx, x, &pool);
    case OP_AVGPOOL:
        return facs_avgpool2d(ctx, x, &pool);
    case OP_ADAPTIVE_AVGPOOL:
        return oh == 1 && ow == 1 ? facs_global_avgpool(ctx, x) : facs_adaptive_avgpool2d(ctx, x, oh, ow);
    case OP_CHANNEL_POOL:
        return facs_channel_pool(ctx, x, (int)attr(ref, g, "out_channels"),
                                 (facs_channel_pool_mode)attr(ref, g, "mode"));
    case OP_RESIZE_BILINEAR:
        return facs_resize_bilinear(ctx, x, oh, ow, (int)attr(ref, g, "align_corners"));
    case OP_SOFTMAX_CE:
        return run_softmax_ce(ctx, ref, g, x);
    case OP_FACS:
        return facs_facs(ctx, x, p->w, p->b,
                         &(facs_fuse_params){(facs_fusion)attr(ref, g, "fusion"),
                                             (float)h5_attr_double(ref, g, "threshold", NAN)});
    case OP_LINEAR:
        return facs_linear(ctx, x, p->w, p->b);
    case OP_CONV2D: {
        facs_conv2d_params c = facs_conv2d_defaults();
        c.stride_h = c.stride_w = (int)attr(ref, g, "stride");
        c.pad_h = c.pad_w = (int)attr(ref, g, "pad");
        c.groups = (int)attr(ref, g, "groups");
        return facs_conv2d(ctx, x, p->w, p->b, &c);
    }
    case OP_BATCHNORM: {
        facs_batchnorm_params b = {1e-5f, 0.1f, (int)attr(ref, g, "training")};
        return facs_batchnorm2d(ctx, x, p->gamma, p->beta, p->rm, p->rv, &b);
    }
    }
    CHECK(0, "%s: unknown op %d", g, op);
    return NULL;
}

static void nan_case(facs_ctx *ctx, h5_file *ref, const char *g, void *user)
{
    (void)user;
    int op = (int)h5_attr_int(ref, g, "op", -1);
    if (!CHECK(op >= 0 && op < OP_COUNT, "%s: op %d", g, op))
        return;
    const char *name = op_names[op];
    char path[160];
    snprintf(path, sizeof path, "%s/y", g);
    int rank = 0;
    size_t yd[8];
    float *want_y = h5_read_f32(ref, path, &rank, yd);
    free(want_y);
    if (!CHECK(want_y && rank == 4, "%s must be a 4-D dataset", path))
        return;
    test_poison_step(ctx);
    facs_tensor *x = load(ctx, ref, g, "x", 0), *x2 = load(ctx, ref, g, "x2", 0);
    if (!CHECK(x != NULL, "%s: no input x", g))
        return;
    x->requires_grad = 1;
    if (x2)
        x2->requires_grad = 1;
    case_params p = {load(ctx, ref, g, "w", 1),    load(ctx, ref, g, "b", 1),  load(ctx, ref, g, "gamma", 1),
                     load(ctx, ref, g, "beta", 1), load_buffer(ref, g, "rm"), load_buffer(ref, g, "rv")};
    facs_tensor *y = run_op(ctx, ref, g, op, x, x2, &p, (int)yd[2], (int)yd[3]);
    facs_tensor *dy = load(ctx, ref, g, "dy", 0);
    if (CHECK(y != NULL, "%s %s: %s", g, name, facs_last_error()) &&
        CHECK(facs_backward(ctx, y, dy) == FACS_OK, "%s %s backward: %s", g, name, facs_last_error())) {
        compare(ref, g, name, "y", y, 0);
        compare(ref, g, name, "dx", x, 1);
        const struct {
            const char *ref_name;
            facs_tensor *t;
            int grad;
        } more[] = {{"dx2", x2, 1},        {"dw", p.w, 1},   {"db", p.b, 1},  {"dgamma", p.gamma, 1},
                    {"dbeta", p.beta, 1}, {"rm1", p.rm, 0}, {"rv1", p.rv, 0}};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            if (more[i].t)
                compare(ref, g, name, more[i].ref_name, more[i].t, more[i].grad);
    }
    facs_tensor_free(p.w), facs_tensor_free(p.b), facs_tensor_free(p.gamma), facs_tensor_free(p.beta);
    facs_tensor_free(p.rm), facs_tensor_free(p.rv);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    test_each_case(ctx, ref, nan_case, NULL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
