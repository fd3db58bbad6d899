/* linear: finite differences in double precision against a naive reference,
 * the backend's =/+= contract, argument checks, and parity with F.linear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Float dot products of up to 100 terms of size ~1: <= 4e-7 relative to the
 * largest output, measured over several seeds (AVX-512 and AVX2 kernels). */
#define FORWARD_TOL 2e-6
/* y is linear in x, w and b, so central differences of the double reference
 * are exact up to roundoff (~1e-10); the float backward sums N or OUT terms:
 * <= 2e-7 measured. (Against PyTorch, 2048-term sums in another order differ
 * by <= 3e-6, well inside TORCH_TOL.) */
#define GRAD_TOL 2e-6
#define TORCH_TOL 1e-4

typedef struct {
    int n, in, out, bias;
    const double *r; /* weights of the loss sum_i r_i y_i */
} linear_problem;

/* y = x w^T + b with v = [x (N x IN) | w (OUT x IN) | b (OUT)]. */
static void naive_linear(const linear_problem *p, const double *v, double *y)
{
    const double *x = v, *w = v + (size_t)p->n * p->in, *b = w + (size_t)p->out * p->in;
    for (int i = 0; i < p->n; i++)
        for (int o = 0; o < p->out; o++) {
            double s = p->bias ? b[o] : 0.0;
            for (int k = 0; k < p->in; k++)
                s += x[(size_t)i * p->in + k] * w[(size_t)o * p->in + k];
            y[(size_t)i * p->out + o] = s;
        }
}

static double loss_of(const double *v, void *user)
{
    const linear_problem *p = user;
    size_t count = (size_t)p->n * p->out;
    double *y = malloc(count * sizeof *y);
    naive_linear(p, v, y);
    double s = test_dot(y, p->r, count);
    free(y);
    return s;
}

static void gradcheck(facs_ctx *ctx, int n, int in, int out, int bias)
{
    const size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out, total = nx + nw + out;
    float *v = test_alloc(total), *r = test_alloc(ny);
    test_fill(v, total, -1, 1);
    /* Positive loss weights: db = sum_n r cannot cancel to a tiny value whose
     * relative error would be meaningless (x and w keep their signs). */
    test_fill(r, ny, 0.5, 1.5);
    facs_tensor *w = test_param(out, in, 1, 1, v + nx), *b = bias ? test_param(out, 1, 1, 1, v + nx + nw) : NULL;
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, n, in, 1, 1, v);
    x->requires_grad = 1;
    facs_tensor *y = facs_linear(ctx, x, w, b);
    char what[128];
    if (CHECK_PTR(y) && CHECK(y->n == n && y->c == out && y->h == 1 && y->w == 1, "linear: output shape") &&
        CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, out, 1, 1, r)))) {
        double *vd = test_to_double(v, total), *rd = test_to_double(r, ny);
        linear_problem prob = {n, in, out, bias, rd};
        double *want_y = malloc(ny * sizeof *want_y), *want_g = malloc(total * sizeof *want_g);
        naive_linear(&prob, vd, want_y);
        test_fd_gradient(loss_of, vd, total, &prob, 1e-6, want_g);
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(x);
        snprintf(what, sizeof what, "linear %dx%d->%d bias %d forward vs double", n, in, out, bias);
        test_close_d(what, got_y, want_y, ny, FORWARD_TOL);
        snprintf(what, sizeof what, "linear %dx%d->%d bias %d dx vs finite differences", n, in, out, bias);
        test_close_d(what, got_dx, want_g, nx, GRAD_TOL);
        float *got_dw = test_grad_nchw(w);
        snprintf(what, sizeof what, "linear %dx%d->%d bias %d dw vs finite differences", n, in, out, bias);
        test_close_d(what, got_dw, want_g + nx, nw, GRAD_TOL);
        free(got_dw);
        if (bias) {
            float *got_db = test_grad_nchw(b);
            snprintf(what, sizeof what, "linear %dx%d->%d db vs finite differences", n, in, out);
            test_close_d(what, got_db, want_g + nx + nw, out, GRAD_TOL);
            free(got_db);
        }
        free(vd), free(rd), free(want_y), free(want_g), free(got_y), free(got_dx);
    }
    facs_tensor_free(w), facs_tensor_free(b);
    free(v), free(r);
}

static void fill_tensor(facs_tensor *t, float value)
{
    for (size_t i = 0; i < facs_tensor_numel(t); i++)
        facs_f32(t)[i] = value;
}

/* Calls the backend entry directly: dx must be written whatever it held, dw
 * and db must be added to, and NULL gradients must be skipped. */
static void backend_contract(facs_ctx *ctx)
{
    const int n = 3, in = 11, out = 6;
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, n, in, 1, 1, NULL), *w = test_tensor(ctx, out, in, 1, 1, NULL);
    facs_tensor *dy = test_tensor(ctx, n, out, 1, 1, NULL);
    facs_tensor *dx1 = facs_ctx_like(ctx, x), *dx2 = facs_ctx_like(ctx, x);
    facs_tensor *dw = facs_ctx_like(ctx, w), *db = test_tensor(ctx, out, 1, 1, 1, NULL);
    test_fill(facs_f32(x), facs_tensor_numel(x), -1, 1);
    test_fill(facs_f32(w), facs_tensor_numel(w), -1, 1);
    test_fill(facs_f32(dy), facs_tensor_numel(dy), -1, 1);
    const facs_backend *be = ctx->backend;
    fill_tensor(dx1, 0.0f), fill_tensor(dw, 0.0f), fill_tensor(db, 0.0f);
    CHECK_OK(be->linear_backward(ctx, x, w, dy, dx1, dw, db));
    float *w1 = test_nchw(dw), *b1 = test_nchw(db);
    fill_tensor(dx2, 1e3f);
    CHECK_OK(be->linear_backward(ctx, x, w, dy, dx2, dw, db));
    CHECK_OK(be->linear_backward(ctx, x, w, dy, NULL, dw, NULL));
    CHECK_OK(be->linear_backward(ctx, x, w, dy, NULL, NULL, db));
    test_close_f("linear backend: dx is written, not added", facs_f32(dx2), facs_f32(dx1), facs_tensor_numel(x), 0.0);
    for (size_t i = 0; i < facs_tensor_numel(w); i++)
        w1[i] *= 3;
    for (int i = 0; i < out; i++)
        b1[i] *= 3;
    test_close_f("linear backend: dw accumulates over 3 calls", facs_f32(dw), w1, facs_tensor_numel(w), 1e-6);
    test_close_f("linear backend: db accumulates over 3 calls", facs_f32(db), b1, out, 1e-6);
    free(w1), free(b1);
}

static void argument_checks(facs_ctx *ctx)
{
    facs_tensor *w = test_param(5, 12, 1, 1, NULL), *b = test_param(4, 1, 1, 1, NULL);
    facs_ctx_begin_step(ctx);
    facs_tensor *spatial = test_tensor(ctx, 2, 12, 3, 3, NULL), *x = test_tensor(ctx, 2, 12, 1, 1, NULL);
    facs_tensor *x13 = test_tensor(ctx, 2, 13, 1, 1, NULL);
    CHECK(!facs_linear(ctx, spatial, w, NULL) && strstr(facs_last_error(), "H = W = 1"),
          "linear: a (2, 12, 3, 3) input is refused with a clear message (got \"%s\")", facs_last_error());
    CHECK(!facs_linear(ctx, x13, w, NULL) && strstr(facs_last_error(), "w is"),
          "linear: IN mismatch is refused (got \"%s\")", facs_last_error());
    CHECK(!facs_linear(ctx, x, w, b) && strstr(facs_last_error(), "b is"),
          "linear: a 4-value bias for 5 outputs is refused (got \"%s\")", facs_last_error());
    facs_tensor_free(w), facs_tensor_free(b);
}

/* w and b may be activations (requires_grad, not parameters): their gradients
 * must equal those that parameters receive, also when they feed two ops (the
 * second gradient is added by the tape, so sums are ordered differently: a
 * few float roundings). */
static void activation_weights(facs_ctx *ctx)
{
    const int n = 3, in = 9, out = 4;
    float x[27], wv[36], bv[4], dy[12];
    test_fill(x, 27, -1, 1), test_fill(wv, 36, -1, 1), test_fill(bv, 4, -1, 1), test_fill(dy, 12, -1, 1);
    facs_tensor *pw = test_param(out, in, 1, 1, wv), *pb = test_param(out, 1, 1, 1, bv);
    float *want[2] = {NULL, NULL};
    for (int as_param = 1; as_param >= 0; as_param--) {
        facs_ctx_begin_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, in, 1, 1, x);
        facs_tensor *w = as_param ? pw : test_tensor(ctx, out, in, 1, 1, wv);
        facs_tensor *b = as_param ? pb : test_tensor(ctx, out, 1, 1, 1, bv);
        w->requires_grad = b->requires_grad = 1;
        facs_tensor *y = facs_add(ctx, facs_linear(ctx, tx, w, b), facs_linear(ctx, tx, w, b));
        if (!CHECK_PTR(y) || !CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, out, 1, 1, dy))))
            break;
        float *got_w = test_grad_nchw(w), *got_b = test_grad_nchw(b);
        if (as_param) {
            want[0] = got_w, want[1] = got_b;
            continue;
        }
        test_close_f("linear: dw of an activation w", got_w, want[0], (size_t)out * in, 1e-6);
        test_close_f("linear: db of an activation b", got_b, want[1], out, 1e-6);
        free(got_w), free(got_b);
    }
    free(want[0]), free(want[1]);
    facs_tensor_free(pw), facs_tensor_free(pb);
}

static void torch_case(facs_ctx *ctx, h5_file *ref, const char *g, void *user)
{
    (void)user;
    int n = (int)h5_attr_int(ref, g, "n", 0), in = (int)h5_attr_int(ref, g, "in", 0);
    int out = (int)h5_attr_int(ref, g, "out", 0), bias = (int)h5_attr_int(ref, g, "bias", 0);
    float *x = test_ref_in(ref, g, "x", NULL), *wv = test_ref_in(ref, g, "w", NULL), *dy = test_ref_in(ref, g, "dy", NULL);
    float *bv = bias ? test_ref_in(ref, g, "b", NULL) : NULL;
    facs_tensor *w = test_param(out, in, 1, 1, wv), *b = bias ? test_param(out, 1, 1, 1, bv) : NULL;
    facs_ctx_begin_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, in, 1, 1, x);
    tx->requires_grad = 1;
    facs_tensor *y = facs_linear(ctx, tx, w, b);
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, out, 1, 1, dy)))) {
        float *got = test_nchw(y);
        test_close_ref(ref, g, "y", "y", got, TORCH_TOL);
        free(got);
        got = test_grad_nchw(tx);
        test_close_ref(ref, g, "dx", "dx", got, TORCH_TOL);
        free(got);
        got = test_grad_nchw(w);
        test_close_ref(ref, g, "dw", "dw", got, TORCH_TOL);
        free(got);
        if (bias) {
            got = test_grad_nchw(b);
            test_close_ref(ref, g, "db", "db", got, TORCH_TOL);
            free(got);
        }
    }
    facs_tensor_free(w), facs_tensor_free(b);
    free(x), free(wv), free(dy), free(bv);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    const int sizes[][3] = {{1, 7, 5}, {4, 100, 10}, {3, 37, 19}, {5, 16, 1}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int bias = 0; bias <= 1; bias++)
            gradcheck(ctx, sizes[s][0], sizes[s][1], sizes[s][2], bias);
    backend_contract(ctx);
    argument_checks(ctx);
    activation_weights(ctx);
    test_each_case(ctx, ref, torch_case, NULL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
