/* conv2d through ops.h and the tape: finite differences in double precision
 * against a naive direct convolution for the shapes tests/backend_ops lacks
 * (a depthwise convolution with two outputs per input channel, a 3x5 kernel
 * dilated along its width), argument errors, the oneDNN implementations of
 * hot ResNet-50 shapes, and parity with PyTorch's F.conv2d (forward, dx, dw,
 * db). The backend's write (dx) / accumulate (dw, db) rule, NULL gradients
 * and the finite differences of the other shapes live in tests/backend_ops. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv2d_impl.h"
#include "test_util.h"

/* Each output sums at most Ci/groups * KH * KW = 45 float products of values
 * in [-1, 1]; float accumulation errs by a few ulp of the largest output,
 * while a wrong index or stride errs by O(1). */
#define FORWARD_TOL 2e-6
/* The loss is linear in every input, so central differences in double are
 * exact to ~1e-10; the float gradients sum at most 42 products (dw over
 * N * OH * OW). */
#define GRAD_TOL 5e-6
/* PyTorch accumulates in another order (measured within 2.5e-6); both are
 * float32. */
#define TORCH_TOL 1e-4

typedef struct {
    int n, ci, h, w, co, kh, kw;
    facs_conv2d_params p;
    int bias;
} conv_case;

static int out_h(const conv_case *c)
{
    return (c->h + 2 * c->p.pad_h - c->p.dil_h * (c->kh - 1) - 1) / c->p.stride_h + 1;
}

static int out_w(const conv_case *c)
{
    return (c->w + 2 * c->p.pad_w - c->p.dil_w * (c->kw - 1) - 1) / c->p.stride_w + 1;
}

/* NCHW x, OIHW w (I = Ci / groups), optional b, into NCHW y. */
static void naive_conv(const conv_case *c, const double *x, const double *w, const double *b, double *y)
{
    int oh = out_h(c), ow = out_w(c), cig = c->ci / c->p.groups, cog = c->co / c->p.groups;
    for (int n = 0; n < c->n; n++)
        for (int o = 0; o < c->co; o++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    double s = b ? b[o] : 0.0;
                    int group = o / cog;
                    for (int ic = 0; ic < cig; ic++)
                        for (int ki = 0; ki < c->kh; ki++)
                            for (int kj = 0; kj < c->kw; kj++) {
                                int ih = i * c->p.stride_h - c->p.pad_h + ki * c->p.dil_h;
                                int iw = j * c->p.stride_w - c->p.pad_w + kj * c->p.dil_w;
                                if (ih < 0 || ih >= c->h || iw < 0 || iw >= c->w)
                                    continue;
                                s += x[(((size_t)n * c->ci + group * cig + ic) * c->h + ih) * c->w + iw] *
                                     w[(((size_t)o * cig + ic) * c->kh + ki) * c->kw + kj];
                            }
                    y[(((size_t)n * c->co + o) * oh + i) * ow + j] = s;
                }
}

typedef struct {
    const conv_case *c;
    size_t nx, nw;   /* the parameter vector is [x | w | b] */
    const double *r; /* weights of the loss sum_i r_i y_i */
    double *y;
    size_t ny;
} loss_args;

static double loss_of(const double *v, void *user)
{
    const loss_args *a = user;
    naive_conv(a->c, v, v + a->nx, a->c->bias ? v + a->nx + a->nw : NULL, a->y);
    return test_dot(a->r, a->y, a->ny);
}

static void gradcheck(facs_ctx *ctx, const conv_case *c)
{
    int oh = out_h(c), ow = out_w(c), cig = c->ci / c->p.groups;
    size_t nx = (size_t)c->n * c->ci * c->h * c->w, nw = (size_t)c->co * cig * c->kh * c->kw;
    size_t nb = c->bias ? (size_t)c->co : 0, ny = (size_t)c->n * c->co * oh * ow, nv = nx + nw + nb;
    float *v = test_alloc(nv), *r = test_alloc(ny);
    test_fill(v, nv, -1, 1);
    test_fill(r, ny, -1, 1);
    char label[128];
    snprintf(label, sizeof label,
             "x (%d,%d,%d,%d) w (%d,%d,%d,%d) stride (%d,%d) pad (%d,%d) dil (%d,%d) groups %d bias %d", c->n,
             c->ci, c->h, c->w, c->co, cig, c->kh, c->kw, c->p.stride_h, c->p.stride_w, c->p.pad_h, c->p.pad_w,
             c->p.dil_h, c->p.dil_w, c->p.groups, c->bias);

    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, c->n, c->ci, c->h, c->w, v);
    facs_tensor *w = test_param(c->co, cig, c->kh, c->kw, v + nx);
    facs_tensor *b = c->bias ? test_param(c->co, 1, 1, 1, v + nx + nw) : NULL;
    facs_tensor *dy = test_tensor(ctx, c->n, c->co, oh, ow, r);
    if (!CHECK_PTR(x) || !CHECK_PTR(w) || !CHECK_PTR(dy))
        goto done;
    x->requires_grad = 1;
    facs_tensor *y = facs_conv2d(ctx, x, w, b, &c->p);
    if (!CHECK_PTR(y) || !CHECK(y->n == c->n && y->c == c->co && y->h == oh && y->w == ow,
                                "%s: output (%d,%d,%d,%d), expected (%d,%d,%d,%d)", label, y->n, y->c, y->h, y->w,
                                c->n, c->co, oh, ow))
        goto done;
    if (!CHECK_OK(facs_backward(ctx, y, dy)))
        goto done;

    double *vd = test_to_double(v, nv), *rd = test_to_double(r, ny);
    double *want_y = malloc(ny * sizeof *want_y), *want = malloc(nv * sizeof *want);
    naive_conv(c, vd, vd + nx, c->bias ? vd + nx + nw : NULL, want_y);
    loss_args args = {c, nx, nw, rd, malloc(ny * sizeof(double)), ny};
    test_fd_gradient(loss_of, vd, nv, &args, 1e-6, want);

    char what[192];
    float *got = test_nchw(y);
    snprintf(what, sizeof what, "%s forward vs double", label);
    test_close_d(what, got, want_y, ny, FORWARD_TOL);
    free(got);
    got = test_grad_nchw(x);
    snprintf(what, sizeof what, "%s dx vs finite differences", label);
    test_close_d(what, got, want, nx, GRAD_TOL);
    free(got);
    got = test_grad_nchw(w);
    snprintf(what, sizeof what, "%s dw vs finite differences", label);
    test_close_d(what, got, want + nx, nw, GRAD_TOL);
    free(got);
    if (b) {
        got = test_grad_nchw(b);
        snprintf(what, sizeof what, "%s db vs finite differences", label);
        test_close_d(what, got, want + nx + nw, nb, GRAD_TOL);
        free(got);
    }
    free(vd), free(rd), free(want_y), free(want), free(args.y);
done:
    facs_tensor_free(w);
    facs_tensor_free(b);
    free(v), free(r);
}

static int error_mentions(const char *needle)
{
    return CHECK(strstr(facs_last_error(), "conv2d") && strstr(facs_last_error(), needle),
                 "expected a conv2d error mentioning \"%s\", got \"%s\"", needle, facs_last_error());
}

static void check_errors(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_conv2d_params p = facs_conv2d_defaults();
    facs_tensor *x = test_tensor(ctx, 1, 6, 5, 5, NULL);
    facs_tensor *w = test_param(4, 3, 3, 3, NULL), *w_odd = test_param(5, 3, 3, 3, NULL);
    facs_tensor *b_bad = test_param(3, 1, 1, 1, NULL);
    facs_tensor *tiny = test_tensor(ctx, 1, 3, 2, 2, NULL);
    if (!CHECK_PTR(x) || !CHECK_PTR(w) || !CHECK_PTR(w_odd) || !CHECK_PTR(b_bad) || !CHECK_PTR(tiny))
        goto done;
    CHECK(!facs_conv2d(ctx, x, w, NULL, &p), "6-channel x with a 3-channel w must fail");
    error_mentions("input channels per group");
    p.groups = 4;
    CHECK(!facs_conv2d(ctx, x, w, NULL, &p), "6 channels in 4 groups must fail");
    error_mentions("not divisible by groups");
    p.groups = 2;
    CHECK(!facs_conv2d(ctx, x, w_odd, NULL, &p), "5 output channels in 2 groups must fail");
    error_mentions("output channels");
    CHECK(!facs_conv2d(ctx, x, w, b_bad, &p), "a (3,1,1,1) bias for 4 outputs must fail");
    error_mentions("bias");
    p = facs_conv2d_defaults();
    CHECK(!facs_conv2d(ctx, tiny, w, NULL, &p), "a 2x2 input under a 3x3 kernel must fail");
    error_mentions("smaller than");
    p.stride_h = 0;
    CHECK(!facs_conv2d(ctx, x, w, NULL, &p), "stride 0 must fail");
    error_mentions("stride");
    CHECK(!facs_conv2d(ctx, x, w, NULL, NULL), "missing parameters must fail");
    error_mentions("parameters");
    p = facs_conv2d_defaults(); /* 64-bit extents: these wrapped around in int (UBSan's run of this test) */
    p.dil_h = 1 << 30;
    p.stride_h = INT_MAX;
    CHECK(!facs_conv2d(ctx, tiny, w, NULL, &p), "dilation 2^30 must fail");
    error_mentions("smaller than");
    p = facs_conv2d_defaults();
    p.pad_w = INT_MAX / 2 + 1;
    CHECK(!facs_conv2d(ctx, tiny, w, NULL, &p), "padding near INT_MAX must fail");
    error_mentions("too large");
done:
    facs_tensor_free(w);
    facs_tensor_free(w_odd);
    facs_tensor_free(b_bad);
}

/* oneDNN's ref kernels run ~1000x slower; the hot ResNet-50 shapes must get
 * jit or gemm implementations in all three directions. */
static void check_implementations(void)
{
    static const struct {
        const char *name;
        int ci, size, co, k, stride, pad;
    } hot[] = {
        {"1x1 256->64 @56", 256, 56, 64, 1, 1, 0},
        {"3x3 64->64 @56", 64, 56, 64, 3, 1, 1},
        {"7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3},
    };
    for (size_t i = 0; i < sizeof hot / sizeof hot[0]; i++) {
        facs_tensor x = {.n = 2, .c = hot[i].ci, .h = hot[i].size, .w = hot[i].size};
        facs_tensor w = {.n = hot[i].co, .c = hot[i].ci, .h = hot[i].k, .w = hot[i].k};
        facs_conv2d_params p = facs_conv2d_defaults();
        p.stride_h = p.stride_w = hot[i].stride;
        p.pad_h = p.pad_w = hot[i].pad;
        facs_conv2d_impl impl;
        if (!CHECK_OK(facs_cpu_conv2d_impl_names(&p, &x, &w, 0, &impl)))
            continue;
        printf("%s: forward %s, backward-data %s, backward-weights %s\n", hot[i].name, impl.forward,
               impl.backward_data, impl.backward_weights);
        CHECK(!strstr(impl.forward, "ref"), "%s forward runs %s", hot[i].name, impl.forward);
        CHECK(!strstr(impl.backward_data, "ref"), "%s backward-data runs %s", hot[i].name, impl.backward_data);
        CHECK(!strstr(impl.backward_weights, "ref"), "%s backward-weights runs %s", hot[i].name,
              impl.backward_weights);
    }
}

static void torch_parity(facs_ctx *ctx, h5_file *ref)
{
    char name[64], path[96];
    for (int k = 0;; k++) {
        snprintf(name, sizeof name, "/case%d", k);
        if (!h5_exists(ref, name))
            break;
        facs_conv2d_params p = {
            .stride_h = (int)h5_attr_int(ref, name, "stride_h", 0),
            .stride_w = (int)h5_attr_int(ref, name, "stride_w", 0),
            .pad_h = (int)h5_attr_int(ref, name, "pad_h", -1),
            .pad_w = (int)h5_attr_int(ref, name, "pad_w", -1),
            .dil_h = (int)h5_attr_int(ref, name, "dil_h", 0),
            .dil_w = (int)h5_attr_int(ref, name, "dil_w", 0),
            .groups = (int)h5_attr_int(ref, name, "groups", 0),
        };
        int with_bias = (int)h5_attr_int(ref, name, "bias", 0);
        int rank_x, rank_w, rank_y;
        size_t dx_dims[8], dw_dims[8], dy_dims[8], nx, nw, ny, nb = 0;
        snprintf(path, sizeof path, "%s/x", name);
        free(h5_read_f32(ref, path, &rank_x, dx_dims));
        snprintf(path, sizeof path, "%s/w", name);
        free(h5_read_f32(ref, path, &rank_w, dw_dims));
        snprintf(path, sizeof path, "%s/y", name);
        free(h5_read_f32(ref, path, &rank_y, dy_dims));
        if (!CHECK(rank_x == 4 && rank_w == 4 && rank_y == 4, "%s: x, w, y must have rank 4", name))
            continue;
        float *x, *w, *y, *dy, *dx, *dw, *b = NULL, *db = NULL;
#define LOAD(var, count)                           \
    snprintf(path, sizeof path, "%s/" #var, name); \
    var = test_ref(ref, path, &count);
        LOAD(x, nx) LOAD(w, nw) LOAD(y, ny) LOAD(dy, ny) LOAD(dx, nx) LOAD(dw, nw)
        if (with_bias) {
            LOAD(b, nb) LOAD(db, nb)
        }
#undef LOAD
        facs_ctx_begin_step(ctx);
        facs_tensor *tx = test_tensor(ctx, (int)dx_dims[0], (int)dx_dims[1], (int)dx_dims[2], (int)dx_dims[3], x);
        facs_tensor *tw = test_param((int)dw_dims[0], (int)dw_dims[1], (int)dw_dims[2], (int)dw_dims[3], w);
        facs_tensor *tb = with_bias ? test_param((int)nb, 1, 1, 1, b) : NULL;
        facs_tensor *tdy = test_tensor(ctx, (int)dy_dims[0], (int)dy_dims[1], (int)dy_dims[2], (int)dy_dims[3], dy);
        if (CHECK_PTR(tx) && CHECK_PTR(tw) && CHECK_PTR(tdy)) {
            tx->requires_grad = 1;
            facs_tensor *ty = facs_conv2d(ctx, tx, tw, tb, &p);
            if (CHECK_PTR(ty) && CHECK(facs_tensor_same_shape(ty, tdy), "%s: output shape differs from torch", name) &&
                CHECK_OK(facs_backward(ctx, ty, tdy))) {
                char what[128];
                float *got = test_nchw(ty);
                snprintf(what, sizeof what, "%s forward vs torch", name);
                test_close_f(what, got, y, ny, TORCH_TOL);
                free(got);
                got = test_grad_nchw(tx);
                snprintf(what, sizeof what, "%s dx vs torch", name);
                test_close_f(what, got, dx, nx, TORCH_TOL);
                free(got);
                got = test_grad_nchw(tw);
                snprintf(what, sizeof what, "%s dw vs torch", name);
                test_close_f(what, got, dw, nw, TORCH_TOL);
                free(got);
                if (tb) {
                    got = test_grad_nchw(tb);
                    snprintf(what, sizeof what, "%s db vs torch", name);
                    test_close_f(what, got, db, nb, TORCH_TOL);
                    free(got);
                }
            }
        }
        facs_tensor_free(tw);
        facs_tensor_free(tb);
        free(x), free(w), free(y), free(dy), free(dx), free(dw), free(b), free(db);
    }
    CHECK(h5_exists(ref, "/case0"), "the reference file holds no cases");
}

#define P(sh, sw, ph, pw, dh, dw, g)                                                                         \
    {                                                                                                        \
        .stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = dh, .dil_w = dw, .groups = g \
    }

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    static const conv_case cases[] = {
        {1, 4, 6, 7, 8, 3, 3, P(1, 1, 1, 1, 1, 1, 4), 1}, /* depthwise, channel multiplier 2 */
        {1, 3, 9, 11, 4, 3, 5, P(2, 1, 1, 2, 1, 2, 1), 1}, /* 3x5 kernel, dilation (1, 2) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        gradcheck(ctx, &cases[i]);
    check_errors(ctx);
    check_implementations();
    torch_parity(ctx, ref);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
