/* Adaptive and global average pooling through ops.h and the tape: finite
 * differences in double precision on 300 channels, which the CPU forward
 * splits into channel chunks when bins are few (tests/backend_ops has at most
 * 7 channels), refused output sizes, and parity with F.adaptive_avg_pool2d for
 * PSPNet's bins (1, 2, 3, 6), odd sizes and inputs smaller than the output.
 * The backend contract and finite differences of the other shapes live in
 * tests/backend_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* A bin averages at most the 3 x 3 input's 9 floats here: a few roundings of
 * ~6e-8, measured against outputs of order 0.1 to 1. */
#define FORWARD_TOL 1e-5
/* The loss is linear in x: central differences in double are exact up to
 * rounding (~1e-10); the float backward divides once per bin (~1e-7). */
#define GRAD_TOL 1e-5
#define TORCH_TOL 1e-4

typedef struct {
    int n, c, h, w, oh, ow;
    const double *r; /* loss = sum_o r_o y_o */
} adaptive_problem;

/* PyTorch's bins from their definition: bin i of out over in rows starts at
 * floor(i in / out) and ends at ceil((i + 1) in / out). */
static void naive_adaptive(const adaptive_problem *a, const double *x, double *y)
{
    for (int nc = 0; nc < a->n * a->c; nc++)
        for (int oh = 0; oh < a->oh; oh++)
            for (int ow = 0; ow < a->ow; ow++) {
                int h0 = (int)floor((double)oh * a->h / a->oh), h1 = (int)ceil((double)(oh + 1) * a->h / a->oh);
                int w0 = (int)floor((double)ow * a->w / a->ow), w1 = (int)ceil((double)(ow + 1) * a->w / a->ow);
                double sum = 0.0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++)
                        sum += x[((size_t)nc * a->h + h) * a->w + w];
                y[((size_t)nc * a->oh + oh) * a->ow + ow] = sum / ((h1 - h0) * (w1 - w0));
            }
}

static double loss_of(const double *x, void *user)
{
    const adaptive_problem *a = user;
    size_t count = (size_t)a->n * a->c * a->oh * a->ow;
    double *y = malloc(count * sizeof *y);
    naive_adaptive(a, x, y);
    double s = test_dot(a->r, y, count);
    free(y);
    return s;
}

static facs_tensor *run_adaptive(facs_ctx *ctx, facs_tensor *x, int oh, int ow, int global)
{
    return global ? facs_global_avgpool(ctx, x) : facs_adaptive_avgpool2d(ctx, x, oh, ow);
}

/* Through ops.h and the tape, on a NaN-poisoned arena. */
static void gradcheck(facs_ctx *ctx, const int shape[4], int oh, int ow, int global)
{
    adaptive_problem a = {shape[0], shape[1], shape[2], shape[3], oh, ow, NULL};
    size_t count = (size_t)a.n * a.c * a.h * a.w, ocount = (size_t)a.n * a.c * oh * ow;
    float *x = test_alloc(count), *r = test_alloc(ocount);
    test_fill(x, count, -1, 1);
    test_fill(r, ocount, -1, 1);
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, a.n, a.c, a.h, a.w, x);
    tx->requires_grad = 1;
    facs_tensor *y = run_adaptive(ctx, tx, oh, ow, global);
    facs_tensor *dy = test_tensor(ctx, a.n, a.c, oh, ow, r);
    char what[128];
    if (CHECK_PTR(y) && CHECK(y->h == oh && y->w == ow, "output %dx%d, expected %dx%d", y->h, y->w, oh, ow) &&
        CHECK_OK(facs_backward(ctx, y, dy))) {
        double *xd = test_to_double(x, count), *rd = test_to_double(r, ocount);
        double *want_y = malloc(ocount * sizeof *want_y), *want_dx = malloc(count * sizeof *want_dx);
        a.r = rd;
        naive_adaptive(&a, xd, want_y);
        test_fd_gradient(loss_of, xd, count, &a, 1e-6, want_dx);
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx);
        const char *op = global ? "global_avgpool" : "adaptive_avgpool2d";
        snprintf(what, sizeof what, "%s (%d,%d,%d,%d) -> %dx%d forward vs double", op, a.n, a.c, a.h, a.w, oh, ow);
        test_close_d(what, got_y, want_y, ocount, FORWARD_TOL);
        snprintf(what, sizeof what, "%s (%d,%d,%d,%d) -> %dx%d dx vs finite differences", op, a.n, a.c, a.h, a.w, oh,
                 ow);
        test_close_d(what, got_dx, want_dx, count, GRAD_TOL);
        free(xd), free(rd), free(want_y), free(want_dx), free(got_y), free(got_dx);
    }
    free(x), free(r);
}

/* 300 channels, which the forward splits into chunks of 256 and 44 when
 * there are few bins, with overlapping bins and outputs larger than the input
 * (repeated rows). */
static void gradchecks(facs_ctx *ctx)
{
    const int shape[4] = {1, 300, 3, 3};
    const int outs[][2] = {{1, 1}, {2, 2}, {3, 3}, {6, 6}, {2, 5}};
    for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++)
        gradcheck(ctx, shape, outs[o][0], outs[o][1], 0);
    gradcheck(ctx, shape, 1, 1, 1);
}

static void bad_arguments(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 1, 2, 5, 5, NULL);
    CHECK(!facs_adaptive_avgpool2d(ctx, x, 0, 3), "adaptive_avgpool2d accepted an output height of 0");
    CHECK(!facs_adaptive_avgpool2d(ctx, x, 3, -1), "adaptive_avgpool2d accepted an output width of -1");
}

static facs_tensor *adaptive_case(facs_ctx *ctx, facs_tensor *x, h5_file *ref, const char *group, int oh, int ow)
{
    return run_adaptive(ctx, x, oh, ow, (int)h5_attr_int(ref, group, "global", 0));
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    bad_arguments(ctx);
    gradchecks(ctx);
    test_unary_torch_parity(ctx, ref, adaptive_case, TORCH_TOL);
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
