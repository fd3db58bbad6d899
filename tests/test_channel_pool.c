/* channel_pool (depth-wise pooling) through ops.h and the tape: finite
 * differences in double precision against a naive NCHW reference for chunk
 * sizes R = 3 and R = C (tests/backend_ops has R = 1, 2, 4, 8), the
 * first-maximum rule on exact ties, equality with the FACS op's Max and Avg
 * branches, refused arguments, the profiling hook and FLOP counts, and parity
 * with PyTorch (max_pool3d over channels, view + mean). The backend contract
 * and the finite differences of the other chunk sizes live in
 * tests/backend_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Max copies a float; avg sums R floats and divides: a few roundings. */
#define FORWARD_TOL 1e-6
/* Max's loss is linear between ties and avg's everywhere: central differences
 * in double are exact to ~1e-9; dy / R adds one float rounding. */
#define GRAD_TOL 1e-5
/* Max is exact; avg may sum in another order than torch's mean. */
#define TORCH_TOL 1e-5

static const char *const mode_names[] = {"max", "avg"};

typedef struct {
    int n, c, co, hw;
    facs_channel_pool_mode mode;
    const double *r; /* weights of the loss sum_i r_i y_i */
    double *y;       /* scratch for the reference output */
} problem;

/* NCHW: output channel i of image b pools input channels [R i, R i + R). */
static void naive_pool(const problem *p, const double *x, double *y)
{
    const int r = p->c / p->co;
    for (int b = 0; b < p->n; b++)
        for (int i = 0; i < p->co; i++)
            for (int k = 0; k < p->hw; k++) {
                const double *first = x + ((size_t)b * p->c + (size_t)i * r) * p->hw + k;
                double acc = first[0];
                for (int j = 1; j < r; j++)
                    acc = p->mode == FACS_CHANNEL_POOL_MAX ? fmax(acc, first[(size_t)j * p->hw])
                                                           : acc + first[(size_t)j * p->hw];
                y[((size_t)b * p->co + i) * p->hw + k] = p->mode == FACS_CHANNEL_POOL_MAX ? acc : acc / r;
            }
}

static double loss_of(const double *x, void *user)
{
    problem *p = user;
    naive_pool(p, x, p->y);
    return test_dot(p->r, p->y, (size_t)p->n * p->co * p->hw);
}

/* x's values are a shuffle of an evenly spaced grid: distinct, at least
 * 2 / count apart, far more than the differences' step of 1e-6. */
static void fill_distinct(float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)(-1.0 + 2.0 * (double)i / (double)count);
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)test_uniform(0, (double)i);
        j = j < i ? j : i - 1;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

static void gradcheck(facs_ctx *ctx, facs_channel_pool_mode mode, int n, int c, int co, int h, int w)
{
    const size_t nx = (size_t)n * c * h * w, ny = (size_t)n * co * h * w;
    float *x = test_alloc(nx), *r = test_alloc(ny);
    fill_distinct(x, nx);
    test_fill(r, ny, -1, 1);
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
    tx->requires_grad = 1;
    facs_tensor *y = facs_channel_pool(ctx, tx, co, mode);
    char what[128];
    snprintf(what, sizeof what, "channel_pool %s (%d,%d,%d,%d) -> %d", mode_names[mode], n, c, h, w, co);
    if (CHECK_PTR(y) && CHECK(y->n == n && y->c == co && y->h == h && y->w == w, "%s: output shape", what) &&
        CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, co, h, w, r)))) {
        double *xd = test_to_double(x, nx), *rd = test_to_double(r, ny);
        double *want_y = malloc(ny * sizeof *want_y), *want_dx = malloc(nx * sizeof *want_dx);
        problem p = {n, c, co, h * w, mode, rd, want_y};
        test_fd_gradient(loss_of, xd, nx, &p, 1e-6, want_dx);
        naive_pool(&p, xd, want_y);
        float *got_y = test_nchw(y), *got_dx = test_grad_nchw(tx);
        char label[192];
        snprintf(label, sizeof label, "%s forward vs double", what);
        test_close_d(label, got_y, want_y, ny, FORWARD_TOL);
        snprintf(label, sizeof label, "%s backward vs finite differences", what);
        test_close_d(label, got_dx, want_dx, nx, GRAD_TOL);
        free(xd), free(rd), free(want_y), free(want_dx), free(got_y), free(got_dx);
    }
    free(x), free(r);
}

/* Exact ties: one pixel, two groups of 4. The gradient goes to the first
 * maximal channel of each group only. */
static void max_ties(facs_ctx *ctx)
{
    const float x[8] = {1, 3, 2, 3, 5, 5, 5, 5};
    const float want_dx[8] = {0, 7, 0, 0, -2, 0, 0, 0};
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, 1, 8, 1, 1, x);
    tx->requires_grad = 1;
    facs_tensor *y = facs_channel_pool(ctx, tx, 2, FACS_CHANNEL_POOL_MAX);
    if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, 1, 2, 1, 1, (const float[]){7, -2})))) {
        CHECK(facs_f32(y)[0] == 3 && facs_f32(y)[1] == 5, "channel_pool max ties: forward %g %g, expected 3 5",
              facs_f32(y)[0], facs_f32(y)[1]);
        test_close_f("channel_pool max ties: the gradient goes to the first maximum", facs_f32(tx->grad), want_dx,
                     8, 0.0);
    }
}

/* DWP is FACS's branch without the blend: with w = 0 and no bias, p is
 * sigmoid(0) = 0.5 exactly, and the threshold fusion gives 0.5 M (T = 1) or
 * 0.5 A (T = 0), so channel_pool must equal twice FACS's output and gradient
 * (dz = W^T ds vanishes), bit for bit, ties included. */
static void matches_facs(facs_ctx *ctx, facs_channel_pool_mode mode)
{
    const int n = 2, c = 24, co = 6, h = 5, w = 7;
    const size_t nx = (size_t)n * c * h * w, ny = (size_t)n * co * h * w;
    float *x = test_alloc(nx), *r = test_alloc(ny), *zeros = calloc((size_t)co * c, sizeof(float));
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)(int)test_uniform(0, 3); /* many ties */
    test_fill(r, ny, -1, 1);
    facs_tensor *weight = test_param(co, c, 1, 1, zeros);
    facs_fuse_params fp = {FACS_FUSION_THRESHOLD, mode == FACS_CHANNEL_POOL_MAX ? 1.0f : 0.0f};
    float *outs[2][2];
    for (int k = 0; k < 2; k++) {
        test_poison_step(ctx);
        facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
        tx->requires_grad = 1;
        facs_tensor *y = k == 0 ? facs_channel_pool(ctx, tx, co, mode) : facs_facs(ctx, tx, weight, NULL, &fp);
        outs[k][0] = outs[k][1] = NULL;
        if (CHECK_PTR(y) && CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, co, h, w, r)))) {
            outs[k][0] = test_nchw(y);
            outs[k][1] = test_grad_nchw(tx);
        }
    }
    if (outs[0][0] && outs[1][0]) {
        for (size_t i = 0; i < ny; i++)
            outs[1][0][i] *= 2.0f;
        for (size_t i = 0; i < nx; i++)
            outs[1][1][i] *= 2.0f;
        char what[96];
        snprintf(what, sizeof what, "channel_pool %s equals the FACS %s branch: forward", mode_names[mode],
                 mode_names[mode]);
        test_close_f(what, outs[0][0], outs[1][0], ny, 0.0);
        snprintf(what, sizeof what, "channel_pool %s equals the FACS %s branch: dx", mode_names[mode],
                 mode_names[mode]);
        test_close_f(what, outs[0][1], outs[1][1], nx, 0.0);
    }
    for (int k = 0; k < 2; k++)
        free(outs[k][0]), free(outs[k][1]);
    facs_tensor_free(weight);
    free(x), free(r), free(zeros);
}

static void bad_arguments(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 2, 12, 5, 5, NULL);
    const int bad_out[] = {0, -3, 5, 24};
    for (size_t i = 0; i < sizeof bad_out / sizeof bad_out[0]; i++)
        CHECK(facs_channel_pool(ctx, x, bad_out[i], FACS_CHANNEL_POOL_MAX) == NULL &&
                  strstr(facs_last_error(), "channel_pool") && strstr(facs_last_error(), "not divisible"),
              "channel_pool of 12 channels to %d is refused (got \"%s\")", bad_out[i], facs_last_error());
    CHECK(facs_channel_pool(ctx, x, 4, (facs_channel_pool_mode)7) == NULL &&
              strstr(facs_last_error(), "unknown mode 7"),
          "channel_pool mode 7 is refused (got \"%s\")", facs_last_error());
    facs_tensor *labels = facs_ctx_tensor(ctx, FACS_I32, 2, 12, 1, 1);
    CHECK(facs_channel_pool(ctx, labels, 4, FACS_CHANNEL_POOL_MAX) == NULL && strstr(facs_last_error(), "float32"),
          "an int32 input is refused (got \"%s\")", facs_last_error());
    CHECK(facs_channel_pool(ctx, NULL, 4, FACS_CHANNEL_POOL_MAX) == NULL, "a NULL input gives NULL");
}

/* The op reports itself to facs-summary's hook; ptflops counts 0 and
 * appendix-a R - 1 comparisons per output element (flops.h). */
static void profiled_flops(facs_ctx *ctx)
{
    const int n = 2, c = 12, co = 3, h = 5, w = 7;
    test_profile rec;
    test_profile_begin(ctx, &rec, "channel_pool");
    facs_tensor *y = facs_channel_pool(ctx, test_tensor(ctx, n, c, h, w, NULL), co, FACS_CHANNEL_POOL_MAX);
    test_profile_check(ctx, &rec, y, 0, (int64_t)(c / co - 1) * n * co * h * w);
}

static facs_tensor *run_case(facs_ctx *ctx, facs_tensor *x, h5_file *ref, const char *group, int out_h,
                             int out_w)
{
    (void)out_h, (void)out_w;
    int out_channels = (int)h5_attr_int(ref, group, "out_channels", 0);
    facs_channel_pool_mode mode = (facs_channel_pool_mode)h5_attr_int(ref, group, "mode", -1);
    return facs_channel_pool(ctx, x, out_channels, mode);
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    for (int mode = FACS_CHANNEL_POOL_MAX; mode <= FACS_CHANNEL_POOL_AVG; mode++) {
        gradcheck(ctx, mode, 3, 21, 7, 5, 3); /* R = 3 */
        gradcheck(ctx, mode, 1, 5, 1, 4, 3);  /* R = C = 5: one output channel */
        matches_facs(ctx, mode);
    }
    max_ties(ctx);
    bad_arguments(ctx);
    profiled_flops(ctx);
    CHECK(test_unary_torch_parity(ctx, ref, run_case, TORCH_TOL) >= 10, "expected at least 10 reference cases");
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
