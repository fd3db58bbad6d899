/* scale_channels (squeeze-and-excitation's x * s) through ops.h and the
 * tape: finite differences in double precision for x and s against a naive
 * NCHW reference on 70 channels, which span two of the CPU's 64-channel ds
 * blocks (tests/backend_ops has at most 33), inputs that do not require a
 * gradient and an s used twice, refused shapes, the profiling hook and FLOP
 * counts, and parity with PyTorch's x * s. The backend's = contract for dx
 * and ds, NULL gradients and the finite differences of the other shapes live
 * in tests/backend_ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* One float multiplication per element: within one rounding (6e-8) of double. */
#define FORWARD_TOL 1e-6
/* The loss is bilinear in (x, s), so central differences in double are exact
 * up to roundoff (~1e-9); ds adds a float sum over H x W products (~1e-7). */
#define GRAD_TOL 1e-5
/* PyTorch multiplies in float too; ds sums in a different order. */
#define TORCH_TOL 1e-5

typedef struct {
    int n, c, hw;
    const double *r; /* weights of the loss sum_i r_i y_i */
    double *y;       /* scratch for the reference output */
} problem;

/* v holds x (N C H W values, NCHW) followed by s (N C values). */
static void naive_scale(const problem *p, const double *v, double *y)
{
    const double *s = v + (size_t)p->n * p->c * p->hw;
    for (int nc = 0; nc < p->n * p->c; nc++)
        for (int k = 0; k < p->hw; k++)
            y[(size_t)nc * p->hw + k] = v[(size_t)nc * p->hw + k] * s[nc];
}

static double loss_of(const double *v, void *user)
{
    problem *p = user;
    naive_scale(p, v, p->y);
    return test_dot(p->r, p->y, (size_t)p->n * p->c * p->hw);
}

/* Through facs_scale_channels and facs_backward, on a NaN-poisoned arena. */
static void gradcheck(facs_ctx *ctx, int n, int c, int h, int w)
{
    const size_t nx = (size_t)n * c * h * w, ns = (size_t)n * c;
    float *v = test_alloc(nx + ns), *r = test_alloc(nx);
    test_fill(v, nx, -2, 2);
    test_fill(v + nx, ns, 0, 1);
    test_fill(r, nx, -1, 1);
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, v), *ts = test_tensor(ctx, n, c, 1, 1, v + nx);
    tx->requires_grad = ts->requires_grad = 1;
    facs_tensor *y = facs_scale_channels(ctx, tx, ts);
    char what[128];
    if (CHECK_PTR(y) && CHECK(facs_tensor_same_shape(y, tx), "scale_channels: output shape") &&
        CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, r)))) {
        double *vd = test_to_double(v, nx + ns), *rd = test_to_double(r, nx);
        double *want_y = malloc(nx * sizeof *want_y), *want_grad = malloc((nx + ns) * sizeof *want_grad);
        problem p = {n, c, h * w, rd, want_y};
        test_fd_gradient(loss_of, vd, nx + ns, &p, 1e-6, want_grad);
        naive_scale(&p, vd, want_y);
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx), *got_ds = test_grad_nchw(ts);
        snprintf(what, sizeof what, "scale_channels (%d,%d,%d,%d) forward vs double", n, c, h, w);
        test_close_d(what, got_y, want_y, nx, FORWARD_TOL);
        snprintf(what, sizeof what, "scale_channels (%d,%d,%d,%d) dx vs finite differences", n, c, h, w);
        test_close_d(what, got_dx, want_grad, nx, GRAD_TOL);
        snprintf(what, sizeof what, "scale_channels (%d,%d,%d,%d) ds vs finite differences", n, c, h, w);
        test_close_d(what, got_ds, want_grad + nx, ns, GRAD_TOL);
        free(vd), free(rd), free(want_y), free(want_grad), free(got_y), free(got_dx), free(got_ds);
    }
    free(v), free(r);
}

/* Only the operand that requires a gradient gets one; a gradient that
 * already exists (s feeding two ops) is added to, not overwritten. */
static void partial_gradients(facs_ctx *ctx)
{
    const int n = 2, c = 5, h = 3, w = 4;
    const size_t nx = (size_t)n * c * h * w, ns = (size_t)n * c;
    float *x = test_alloc(nx), *s = test_alloc(ns), *r = test_alloc(nx);
    test_fill(x, nx, -2, 2);
    test_fill(s, ns, 0, 1);
    test_fill(r, nx, -1, 1);
    for (int which = 0; which < 2; which++) {
        test_poison_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *ts = test_tensor(ctx, n, c, 1, 1, s);
        tx->requires_grad = which == 0;
        ts->requires_grad = which == 1;
        facs_tensor *y = facs_scale_channels(ctx, tx, ts);
        if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, r))))
            CHECK(which == 0 ? tx->grad && !ts->grad : ts->grad && !tx->grad,
                  "scale_channels: only %s gets a gradient", which == 0 ? "x" : "s");
    }
    /* y = scale(x, s) + scale(x, s): every gradient doubles. */
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *ts = test_tensor(ctx, n, c, 1, 1, s);
    tx->requires_grad = ts->requires_grad = 1;
    facs_tensor *y = facs_add(ctx, facs_scale_channels(ctx, tx, ts), facs_scale_channels(ctx, tx, ts));
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, r)))) {
        float *want_dx = test_alloc(nx), *got_dx = test_grad_nchw(tx);
        for (size_t i = 0; i < nx; i++)
            want_dx[i] = 2.0f * r[i] * s[i / (h * w)];
        test_close_f("scale_channels used twice: dx accumulates", got_dx, want_dx, nx, FORWARD_TOL);
        free(want_dx), free(got_dx);
    }
    free(x), free(s), free(r);
}

static void bad_arguments(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 2, 3, 5, 5, NULL);
    const int shapes[][4] = {{2, 3, 5, 5}, {2, 3, 1, 2}, {1, 3, 1, 1}, {2, 4, 1, 1}, {3, 3, 1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        facs_tensor *s = test_tensor(ctx, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], NULL);
        CHECK(facs_scale_channels(ctx, x, s) == NULL && strstr(facs_last_error(), "scale_channels") &&
                  strstr(facs_last_error(), "expected (2, 3, 1, 1)"),
              "scale (%d,%d,%d,%d) for x (2,3,5,5) is refused naming the op and the expected shape (got \"%s\")",
              shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], facs_last_error());
    }
    facs_tensor *labels = facs_ctx_tensor(ctx, FACS_I32, 2, 3, 1, 1);
    CHECK(facs_scale_channels(ctx, x, labels) == NULL && strstr(facs_last_error(), "float32"),
          "an int32 scale is refused (got \"%s\")", facs_last_error());
    CHECK(facs_scale_channels(ctx, x, NULL) == NULL && facs_scale_channels(ctx, NULL, x) == NULL,
          "a NULL operand gives NULL");
}

/* The op reports itself to facs-summary's hook; ptflops counts 0 and
 * appendix-a one multiplication per output element (flops.h). */
static void profiled_flops(facs_ctx *ctx)
{
    const int n = 2, c = 3, h = 5, w = 7;
    test_profile rec;
    test_profile_begin(ctx, &rec, "scale_channels");
    facs_tensor *y = facs_scale_channels(ctx, test_tensor(ctx, n, c, h, w, NULL), test_tensor(ctx, n, c, 1, 1, NULL));
    test_profile_check(ctx, &rec, y, 0, (int64_t)n * c * h * w);
}

static void torch_parity(facs_ctx *ctx, h5_file *ref)
{
    int cases = 0;
    for (;; cases++) {
        char g[32], path[64];
        snprintf(g, sizeof g, "/case%d", cases);
        if (!h5_exists(ref, g))
            break;
        int rank;
        size_t dims[8];
        snprintf(path, sizeof path, "%s/x", g);
        float *x = h5_read_f32(ref, path, &rank, dims);
        if (!CHECK(x && rank == 4, "%s/x is missing or not 4-D", g)) {
            free(x);
            continue;
        }
        int n = (int)dims[0], c = (int)dims[1], h = (int)dims[2], w = (int)dims[3];
        float *s = test_ref_in(ref, g, "s", NULL), *dy = test_ref_in(ref, g, "dy", NULL);
        test_poison_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, c, h, w, x), *ts = test_tensor(ctx, n, c, 1, 1, s);
        tx->requires_grad = ts->requires_grad = 1;
        facs_tensor *y = facs_scale_channels(ctx, tx, ts);
        if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, h, w, dy)))) {
            float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx), *got_ds = test_grad_nchw(ts);
            test_close_ref(ref, g, "y", "forward", got_y, TORCH_TOL);
            test_close_ref(ref, g, "dx", "dx", got_dx, TORCH_TOL);
            test_close_ref(ref, g, "ds", "ds", got_ds, TORCH_TOL);
            free(got_y), free(got_dx), free(got_ds);
        }
        free(x), free(s), free(dy);
    }
    CHECK(cases >= 5, "expected at least 5 reference cases, found %d", cases);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    gradcheck(ctx, 2, 70, 3, 5);
    partial_gradients(ctx);
    bad_arguments(ctx);
    profiled_flops(ctx);
    torch_parity(ctx, ref);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
