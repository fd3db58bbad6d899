/* Bilinear resize through ops.h and the tape: finite differences in double
 * precision against a naive per-element reference for what tests/backend_ops
 * lacks (see main), and parity with PyTorch's F.interpolate(mode="bilinear"),
 * up and down, odd sizes, both align_corners. The backend contract and the
 * finite differences of the other sizes live in tests/backend_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* The reference uses PyTorch's float scale and double source coordinate; the
 * kernel differs only by rounding its weights and sums of four products to
 * float: a few ulp of max |x|. */
#define FORWARD_TOL 1e-6
/* The op is linear, so central differences in double are exact to ~1e-9; the
 * float backward adds rounding of at most ~100 accumulated terms (6x6 ->
 * 60x60). */
#define GRAD_TOL 1e-5
#define TORCH_TOL 1e-4

typedef struct {
    int n, c, h, w, oh, ow, align_corners;
    const double *r; /* weights of the loss sum_i r_i y_i */
    double *y;       /* scratch for the reference output */
} problem;

/* Source taps and the weight of i1 for output index d along one axis. */
static double source_taps(int in, int out, int d, int align_corners, int *i0, int *i1)
{
    float scale;
    if (align_corners)
        scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else
        scale = (float)in / (float)out;
    double src = align_corners ? (double)scale * d : (double)scale * (d + 0.5) - 0.5;
    if (src < 0)
        src = 0;
    *i0 = (int)floor(src);
    if (*i0 > in - 1)
        *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    return src - *i0;
}

/* NCHW in and out, one output element at a time. */
static void naive_resize(const problem *p, const double *x, double *y)
{
    for (int n = 0; n < p->n; n++)
        for (int c = 0; c < p->c; c++) {
            const double *img = x + ((size_t)n * p->c + c) * p->h * p->w;
            for (int oh = 0; oh < p->oh; oh++)
                for (int ow = 0; ow < p->ow; ow++) {
                    int h0, h1, w0, w1;
                    double lh = source_taps(p->h, p->oh, oh, p->align_corners, &h0, &h1);
                    double lw = source_taps(p->w, p->ow, ow, p->align_corners, &w0, &w1);
                    double top = (1 - lw) * img[h0 * p->w + w0] + lw * img[h0 * p->w + w1];
                    double bottom = (1 - lw) * img[h1 * p->w + w0] + lw * img[h1 * p->w + w1];
                    y[(((size_t)n * p->c + c) * p->oh + oh) * p->ow + ow] = (1 - lh) * top + lh * bottom;
                }
        }
}

static double loss_of(const double *x, void *user)
{
    problem *p = user;
    naive_resize(p, x, p->y);
    return test_dot(p->r, p->y, (size_t)p->n * p->c * p->oh * p->ow);
}

static void gradcheck(facs_ctx *ctx, int n, int c, int h, int w, int oh, int ow, int align_corners)
{
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * oh * ow;
    float *x = test_alloc(nx), *r = test_alloc(ny);
    test_fill(x, nx, -2, 2);
    test_fill(r, ny, -1, 1);
    test_poison_step(ctx);
    facs_tensor *tx = test_tensor(ctx, n, c, h, w, x);
    tx->requires_grad = 1;
    facs_tensor *y = facs_resize_bilinear(ctx, tx, oh, ow, align_corners);
    char what[128];
    snprintf(what, sizeof what, "(%d,%d,%d,%d) -> %dx%d align_corners %d", n, c, h, w, oh, ow, align_corners);
    if (CHECK_PTR(y) && CHECK(y->n == n && y->c == c && y->h == oh && y->w == ow, "%s: output shape", what) &&
        CHECK_OK(facs_backward(ctx, y, test_tensor(ctx, n, c, oh, ow, r)))) {
        double *xd = test_to_double(x, nx), *rd = test_to_double(r, ny);
        double *want_y = malloc(ny * sizeof *want_y), *want_dx = malloc(nx * sizeof *want_dx);
        problem p = {n, c, h, w, oh, ow, align_corners, rd, want_y};
        test_fd_gradient(loss_of, xd, nx, &p, 1e-6, want_dx);
        naive_resize(&p, xd, want_y);
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

static void bad_arguments(facs_ctx *ctx)
{
    facs_ctx_begin_step(ctx);
    facs_tensor *x = test_tensor(ctx, 1, 3, 4, 4, NULL);
    CHECK(facs_resize_bilinear(ctx, x, 0, 5, 0) == NULL && strstr(facs_last_error(), "resize_bilinear"),
          "a zero output size is refused with a message naming the op (got \"%s\")", facs_last_error());
    CHECK(facs_resize_bilinear(ctx, NULL, 5, 5, 0) == NULL, "a NULL input gives NULL");
}

static facs_tensor *resize_case(facs_ctx *ctx, facs_tensor *x, h5_file *ref, const char *group, int oh, int ow)
{
    return facs_resize_bilinear(ctx, x, oh, ow, (int)h5_attr_int(ref, group, "align_corners", -1));
}

int main(int argc, char **argv)
{
    h5_file *ref = test_open_ref(argc, argv);
    test_seed_from_env();
    facs_ctx *ctx = facs_ctx_create(FACS_DEVICE_CPU);
    /* (n, c, h, w, oh, ow, align_corners) that tests/backend_ops lacks: a
     * 10x upsampling (a bin to 60x60) with align_corners (its largest
     * factor, 8x, is without), a 1-row output without align_corners (its
     * 1x1 output is with), and more than 16 channels (the backward's
     * channel blocks; it has at most 6). */
    const int cases[][7] = {{1, 2, 6, 6, 60, 60, 1}, {1, 3, 7, 7, 1, 5, 0}, {1, 17, 5, 6, 8, 7, 0},
                            {1, 17, 5, 6, 8, 7, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        gradcheck(ctx, cases[k][0], cases[k][1], cases[k][2], cases[k][3], cases[k][4], cases[k][5], cases[k][6]);
    bad_arguments(ctx);
    CHECK(test_unary_torch_parity(ctx, ref, resize_case, TORCH_TOL) >= 20, "expected at least 20 reference cases");
    facs_ctx_free(ctx);
    h5_close(ref);
    return test_finish();
}
